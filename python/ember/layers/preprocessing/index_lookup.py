"""IndexLookup: the vocabulary table behind StringLookup and IntegerLookup, in NumPy.

Keras's semantics (keras/src/layers/preprocessing/index_lookup.py), which keeps the table in
TensorFlow: index 0 is the mask token (int mode, when set), then `num_oov_indices` OOV indices,
then the vocabulary. `adapt` orders the vocabulary by count, ties broken by the tokens in
reverse sort order. Several OOV indices spread OOV tokens by FarmHash Fingerprint64 (strings;
SipHash with a salt) or floor-modulo (integers), giving Keras's indices.
"""
import collections
import os

import numpy as np

from ember.layers.preprocessing.adapt_data import batches, is_batch_iterable
from ember.layers.preprocessing.encoding import check_choice, encode_numpy, reject_sparse
from ember.layers.preprocessing.hashing import hash_buckets, normalize_salt
from ember.layers.preprocessing.numpy_layer import NumpyPreprocessingLayer

_INT64_MAX = np.iinfo(np.int64).max  # the index of a dropped mask token in non-int modes


class IndexLookup(NumpyPreprocessingLayer):
    """Maps tokens to indices (or back, with `invert`). Subclasses define the token kind:
    `_to_tokens(values)` (an array of tokens: object array of str, or int64) and
    `_token_value(v)` (one vocabulary entry as a Python value)."""

    def __init__(self, max_tokens, num_oov_indices, mask_token, oov_token, vocabulary=None,
                 idf_weights=None, invert=False, output_mode="int", sparse=False,
                 pad_to_max_tokens=False, oov_method="floormod", salt=None, name=None,
                 **kwargs):
        frozen_vocab_size = kwargs.pop("vocabulary_size", None)
        has_input_vocabulary = kwargs.pop("has_input_vocabulary", vocabulary is not None)
        kwargs.pop("trainable", None)
        kwargs.pop("vocabulary_dtype", None)
        super().__init__(name=name, **kwargs)
        who = self._who()
        if max_tokens is not None and max_tokens <= 1:
            raise ValueError(f"{who}: if set, `max_tokens` must be greater than 1. Received: "
                             f"max_tokens={max_tokens}")
        if pad_to_max_tokens and max_tokens is None:
            raise ValueError(f"{who}: if pad_to_max_tokens is True, must set `max_tokens`. "
                             f"Received: max_tokens={max_tokens}")
        if not isinstance(num_oov_indices, (int, np.integer)) or num_oov_indices < 0:
            raise ValueError(f"{who}: `num_oov_indices` must be greater than or equal to 0. "
                             f"Received: num_oov_indices={num_oov_indices}")
        check_choice(oov_method, ("floormod", "farmhash"), "oov_method", who)
        if salt is not None and self._integer_tokens and oov_method != "farmhash":
            raise ValueError(f"{who}: `salt` can only be used when `oov_method='farmhash'`. "
                             f"Received: oov_method={oov_method}")
        salt = normalize_salt(salt, who)
        if output_mode == "binary":
            output_mode = "multi_hot"
        if output_mode == "tf-idf":
            output_mode = "tf_idf"
        check_choice(output_mode, ("int", "one_hot", "multi_hot", "count", "tf_idf"),
                     "output_mode", who)
        if invert and output_mode != "int":
            raise ValueError(f"{who}: `output_mode` must be 'int' when `invert` is true. "
                             f"Received: output_mode={output_mode}")
        reject_sparse(sparse, who)
        if idf_weights is not None and output_mode != "tf_idf":
            raise ValueError(f"{who}: `idf_weights` should only be set if `output_mode` is "
                             f"'tf_idf'. Received: idf_weights={idf_weights} and "
                             f"output_mode={output_mode}")
        self.invert = bool(invert)
        self.max_tokens = max_tokens
        self.num_oov_indices = int(num_oov_indices)
        self.mask_token = mask_token
        self.oov_token = oov_token
        self.output_mode = output_mode
        self.sparse = False
        self.pad_to_max_tokens = bool(pad_to_max_tokens)
        self.oov_method = oov_method
        self.salt = salt
        self._frozen_vocab_size = frozen_vocab_size
        self._has_input_vocabulary = bool(has_input_vocabulary)
        self.input_vocabulary = vocabulary if not isinstance(vocabulary, str) else None
        self.input_idf_weights = idf_weights
        self._tokens = []  # the vocabulary after the special indices, in index order
        self._index = {}  # token -> index
        self._idf = None  # float32 idf weight per output index (tf_idf)
        self.reset_state()
        if output_mode == "tf_idf" and self._has_input_vocabulary and idf_weights is None:
            raise ValueError(f"{who}: when specifying the `vocabulary` argument, in TF-IDF "
                             "output mode, the `idf_weights` argument must also be provided.")
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)

    _integer_tokens = False

    def _who(self):
        return f"{type(self).__name__} '{self.name}'"

    # ---- indices -------------------------------------------------------------------------
    def _oov_start_index(self):
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    def _token_start_index(self):
        return self._oov_start_index() + self.num_oov_indices

    def vocabulary_size(self):
        """The size of the vocabulary, mask and OOV indices included."""
        return len(self._tokens) + self._token_start_index()

    def get_vocabulary(self, include_special_tokens=True):
        """The vocabulary in index order: with `include_special_tokens`, a token's position is
        its index (mask token, OOV tokens, then the terms); without, only the terms."""
        vocab = [self.oov_token] * self._token_start_index() + list(self._tokens)
        if self.mask_token is not None and self.output_mode == "int":
            vocab[0] = self.mask_token
        if not include_special_tokens:
            vocab = vocab[self._token_start_index():]
        return vocab

    # ---- vocabulary ----------------------------------------------------------------------
    def set_vocabulary(self, vocabulary, idf_weights=None):
        """Sets the vocabulary (and the idf weights in "tf_idf" mode), replacing any present.
        `vocabulary`: a list / 1-D array of terms, optionally led by the special tokens in
        index order, or the path of a text file with one term per line."""
        who = self._who()
        if self.output_mode == "tf_idf":
            if idf_weights is None:
                raise ValueError(f"{who}: `idf_weights` must be set if output_mode is "
                                 "'tf_idf'.")
        elif idf_weights is not None:
            raise ValueError(f"{who}: `idf_weights` should only be set if output_mode is "
                             f"'tf_idf'. Received: output_mode={self.output_mode} and "
                             f"idf_weights={idf_weights}")
        if isinstance(vocabulary, (str, os.PathLike)):
            vocabulary = self._read_vocabulary_file(vocabulary)
        if not isinstance(vocabulary, list):
            vocabulary = np.asarray(vocabulary, dtype=object).reshape(-1).tolist()
        vocabulary = [self._token_value(v) for v in vocabulary]
        if not vocabulary:
            raise ValueError(f"{who}: cannot set an empty vocabulary. Received: "
                             f"vocabulary={vocabulary}")
        token_start = self._token_start_index()
        special = ([self.mask_token] * self._oov_start_index()
                   + [self.oov_token] * self.num_oov_indices)
        found_special_tokens = vocabulary[:token_start] == special
        tokens = vocabulary[token_start:] if found_special_tokens else vocabulary
        repeated = [t for t, c in collections.Counter(tokens).items() if c > 1]
        if repeated:
            raise ValueError(f"{who}: the passed vocabulary has at least one repeated term. "
                             f"Please uniquify your dataset. The repeated terms are: "
                             f"{repeated}")
        if self.mask_token is not None and self.mask_token in tokens:
            raise ValueError(
                f"{who}: found reserved mask token at unexpected location in `vocabulary`. "
                "Note that passed `vocabulary` does not need to include the OOV and mask "
                "tokens. Either remove all mask and OOV tokens, or include them only at the "
                f"start of the vocabulary in precisely this order: {special}. Received: "
                f"mask_token={self.mask_token} at vocabulary index "
                f"{len(vocabulary) - 1 - vocabulary[::-1].index(self.mask_token)}")
        if self.oov_token is not None and self.invert and self.oov_token in tokens:
            raise ValueError(
                f"{who}: found reserved OOV token at unexpected location in `vocabulary`. "
                "Note that passed `vocabulary` does not need to include the OOV and mask "
                "tokens. Either remove all mask and OOV tokens, or include them only at the "
                f"start of the vocabulary in precisely this order: {special}. Received: "
                f"oov_token={self.oov_token} at vocabulary index "
                f"{len(vocabulary) - 1 - vocabulary[::-1].index(self.oov_token)}")
        new_size = token_start + len(tokens)
        if self.max_tokens is not None and new_size > self.max_tokens:
            raise ValueError(f"{who}: attempted to set a vocabulary larger than the maximum "
                             f"vocab size. Received vocabulary size is {new_size}; "
                             f"`max_tokens` is {self.max_tokens}.")
        idf = None
        if self.output_mode == "tf_idf":
            idf = np.asarray(idf_weights, dtype="float64")
            if idf.ndim != 1:
                raise ValueError(f"{who}: TF-IDF data must be a 1-index array. Received: "
                                 f"idf_weights of shape {idf.shape}")
            if len(vocabulary) != len(idf):
                raise ValueError(f"{who}: `idf_weights` must be the same length as vocabulary. "
                                 f"len(idf_weights) is {len(idf)}; len(vocabulary) is "
                                 f"{len(vocabulary)}")
            # Special tokens without weights get the average weight (no document counts).
            front = 0 if found_special_tokens else token_start
            front_value = 0 if found_special_tokens else np.average(idf)
            back = 0
            if self.pad_to_max_tokens and self.max_tokens is not None:
                back = self.max_tokens - front - len(idf)
            idf = np.pad(idf, (front, back), "constant",
                         constant_values=(front_value, 0)).astype("float32")
        self._set_tokens(tokens)
        self._idf = idf
        self._record_vocabulary_size()

    def _read_vocabulary_file(self, path):
        if not os.path.exists(path):
            raise ValueError(f"{self._who()}: vocabulary file {path} does not exist.")
        if self.output_mode == "tf_idf":
            raise ValueError(f"{self._who()}: output_mode 'tf_idf' does not support loading a "
                             "vocabulary from file.")
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        while lines and lines[-1] == "":
            lines.pop()
        return [int(line) for line in lines] if self._integer_tokens else lines

    def _set_tokens(self, tokens):
        start = self._token_start_index()
        self._tokens = list(tokens)
        self._index = {t: start + i for i, t in enumerate(self._tokens)}

    def _record_vocabulary_size(self):
        new_size = self.vocabulary_size()
        if (self.output_mode != "int" and not self.pad_to_max_tokens
                and self._frozen_vocab_size is not None and new_size != self._frozen_vocab_size):
            raise RuntimeError(
                f"{self._who()}: when using `output_mode={self.output_mode}` and "
                "`pad_to_max_tokens=False`, the vocabulary size cannot be changed after the "
                f"layer is called. Old vocab size is {self._frozen_vocab_size}, new vocab size "
                f"is {new_size}")
        self._frozen_vocab_size = new_size

    # ---- adapt ---------------------------------------------------------------------------
    def adapt(self, data, steps=None):
        """Builds the vocabulary from `data`: a list / array of tokens, or a dataset / iterable
        of batches (at most `steps`). In "tf_idf" mode every sample (row) is a document."""
        self.reset_state()
        if is_batch_iterable(data):
            for batch in batches(data, self._who(), steps):
                self.update_state(batch)
        else:
            tokens = self._to_tokens(data)
            if tokens.ndim == 1:
                tokens = tokens[:, None]
            self._update_tokens(tokens)
        if not self._token_counts and not self._has_input_vocabulary:
            raise ValueError(f"{self._who()}: adapt() received no tokens; it needs data to "
                             "build a vocabulary from")
        self.finalize_state()

    def update_state(self, data):
        """Counts the tokens of one batch of data."""
        self._update_tokens(self._to_tokens(data))

    def _update_tokens(self, tokens):
        """Counts a token array, or a list of 1-D token rows (ragged, from TextVectorization)."""
        if self._has_input_vocabulary:
            raise ValueError(f"Cannot adapt layer '{self.name}' after setting a static "
                             "vocabulary via `vocabulary` argument or `set_vocabulary()` "
                             "method.")
        if isinstance(tokens, list):
            rows = tokens
        else:
            if tokens.ndim == 0:
                tokens = tokens.reshape(1)
            if tokens.ndim == 1:  # a 1-D batch is one document
                tokens = tokens[None, :]
            rows = list(tokens.reshape(tokens.shape[0], int(np.prod(tokens.shape[1:]))))
        for row in rows:
            self._token_counts.update(row.tolist())
        if self.output_mode == "tf_idf":
            for row in rows:
                self._doc_counts.update(set(row.tolist()))
            self._num_documents += len(rows)

    def finalize_state(self):
        if self._has_input_vocabulary or not self._token_counts:
            self._record_vocabulary_size()
            return
        for special in (self.mask_token, self.oov_token):
            if special is not None:
                self._token_counts.pop(special, None)
        ranked = sorted(self._token_counts.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)
        if self.max_tokens:
            ranked = ranked[:self.max_tokens - self._token_start_index()]
        tokens = [t for t, _ in ranked]
        self._set_tokens(tokens)
        if self.output_mode == "tf_idf":
            doc_counts = np.array([self._doc_counts[t] for t in tokens], dtype="float64")
            idf = np.log(1 + self._num_documents / (1 + doc_counts)).astype("float32")
            # OOV indices get the average weight: their document counts are unknown.
            idf = np.pad(idf, (self._token_start_index(), 0),
                         constant_values=np.mean(idf) if idf.size else 0)
            if self.pad_to_max_tokens and self.max_tokens is not None:
                idf = np.pad(idf, (0, self.max_tokens - idf.size), constant_values=0)
            self._idf = idf.astype("float32")
        self.reset_state()
        self._record_vocabulary_size()

    def reset_state(self):
        self._token_counts = collections.Counter()
        self._doc_counts = collections.Counter()
        self._num_documents = 0

    # ---- call ----------------------------------------------------------------------------
    def call(self, inputs):
        if self.invert:
            return self._invert(np.asarray(inputs))
        return self._call_tokens(self._to_tokens(inputs))

    def _call_tokens(self, tokens):
        """Indices or encodings of a token array, or of a list of 1-D token rows."""
        if self.output_mode != "int" and not self.pad_to_max_tokens and (
                self._frozen_vocab_size is None):
            raise RuntimeError(
                f"{self._who()}: when using `output_mode={self.output_mode}` and "
                "`pad_to_max_tokens=False`, you must set the layer's vocabulary before calling "
                "it. Either pass a `vocabulary` argument to the layer, or call `adapt` with "
                "some sample data.")
        indices = self.lookup_indices(tokens)
        if self.output_mode == "int":
            return indices
        depth = self.max_tokens if self.pad_to_max_tokens else self._frozen_vocab_size
        if self.output_mode == "tf_idf":
            counts = encode_numpy(indices, "count", depth, "int64")
            return counts.astype("float32") * self._idf[:depth]
        return encode_numpy(indices, self.output_mode, depth, "int64")

    def lookup_indices(self, tokens):
        """int64 indices of a token array (or of a list of 1-D token rows)."""
        if isinstance(tokens, list):  # one lookup for all rows, split back into rows
            flat = self.lookup_indices(np.concatenate(tokens) if tokens else
                                       np.empty(0, dtype=object))
            return np.split(flat, np.cumsum([len(r) for r in tokens])[:-1]) if tokens else []
        flat = tokens.reshape(-1)
        if flat.size == 0:
            return np.zeros(tokens.shape, dtype="int64")
        uniques, inverse = np.unique(flat, return_inverse=True)
        default = (self._oov_start_index() if self.num_oov_indices == 1 else -1)
        ids = np.array([self._index.get(u, default) for u in uniques.tolist()], dtype="int64")
        if self.mask_token is not None:
            is_mask = np.array([u == self.mask_token for u in uniques.tolist()], dtype=bool)
            ids[is_mask] = 0 if self.output_mode == "int" else _INT64_MAX
        oov = ids == -1
        if self.num_oov_indices == 0 and oov.any():
            raise ValueError(
                f"{self._who()}: when `num_oov_indices=0` all inputs should be in vocabulary, "
                f"found OOV values {uniques[oov][:10].tolist()}, consider setting "
                "`num_oov_indices=1`.")
        if self.num_oov_indices > 1 and oov.any():
            ids[oov] = self._oov_buckets(uniques[oov]) + self._oov_start_index()
        return ids[inverse.reshape(-1)].reshape(tokens.shape)

    def _oov_buckets(self, values):
        if self._integer_tokens and self.oov_method != "farmhash":
            return np.mod(values.astype("int64"), self.num_oov_indices)
        return hash_buckets(np.asarray(values, dtype=object), self.num_oov_indices, self.salt)

    def _invert(self, indices):
        if indices.dtype.kind not in "iu":
            raise TypeError(f"{self._who()}: with `invert=True` the inputs are integer indices, "
                            f"received an array of dtype {indices.dtype}")
        start = self._token_start_index()
        flat = indices.reshape(-1)
        out = np.empty(flat.shape, dtype="int64" if self._integer_tokens else object)
        for i, k in enumerate(flat.tolist()):
            if start <= k < start + len(self._tokens):
                out[i] = self._tokens[k - start]
            elif self.mask_token is not None and k == 0:
                out[i] = self.mask_token
            else:
                out[i] = self.oov_token
        return out.reshape(indices.shape)

    def compute_mask(self, inputs, previous_mask=None):
        """Where the inputs are not the mask token (int mode with a `mask_token`), else None.
        Keras 3 attaches no mask to these layers' outputs; eager NumPy outputs cannot carry one,
        so models mask the padding index with `Embedding(mask_zero=True)`."""
        if self.mask_token is None or self.output_mode != "int" or self.invert:
            return None
        tokens = self._to_tokens(inputs)
        return np.array([t != self.mask_token for t in tokens.reshape(-1).tolist()],
                        dtype=bool).reshape(tokens.shape)

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return tuple(input_shape)
        depth = self.max_tokens if self.pad_to_max_tokens else self._frozen_vocab_size
        input_shape = tuple(input_shape)
        if self.output_mode == "one_hot":
            if len(input_shape) > 1 and input_shape[-1] == 1:
                return input_shape[:-1] + (depth,)
            return input_shape + (depth,)
        return input_shape[:-1] + (depth,)

    # ---- config --------------------------------------------------------------------------
    def get_config(self):
        """Keras's config. The vocabulary (and idf weights) learned by `adapt` are in it too,
        under `vocabulary` / `idf_weights`: ember saves no separate vocabulary asset."""
        vocabulary = _listify(self.input_vocabulary)
        idf_weights = _listify(self.input_idf_weights)
        if vocabulary is None and self._tokens:
            vocabulary = self.get_vocabulary(include_special_tokens=True)
            if self._idf is not None:
                idf_weights = self._idf[:len(vocabulary)].tolist()
        config = super().get_config()
        config.update({
            "invert": self.invert,
            "max_tokens": self.max_tokens,
            "num_oov_indices": self.num_oov_indices,
            "oov_token": self.oov_token,
            "mask_token": self.mask_token,
            "output_mode": self.output_mode,
            "sparse": self.sparse,
            "pad_to_max_tokens": self.pad_to_max_tokens,
            "idf_weights": idf_weights,
            "vocabulary": vocabulary,
            "vocabulary_size": self._frozen_vocab_size,
            "oov_method": self.oov_method,
            "salt": self.salt,
            "has_input_vocabulary": self._has_input_vocabulary,
        })
        return config


def _listify(x):
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, tuple):
        return list(x)
    return x
