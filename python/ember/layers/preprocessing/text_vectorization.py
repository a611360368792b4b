"""TextVectorization: text to token indices or term vectors (Keras 3 semantics), in NumPy.

The steps are Keras's (TensorFlow ops there, plain Python here, with the same results):
standardize (ASCII lowercasing as tf.strings.lower, and removal of the ASCII punctuation
characters Keras's regex lists), split (on runs of ASCII whitespace as tf.strings.split, or
into Unicode characters), n-grams (all n-grams of each requested width, widths in order, joined
by a space, as tf.strings.ngrams), then a StringLookup with mask token "" at index 0 and the
OOV token "[UNK]" at index 1.
"""
import re

import numpy as np

from ember.layers.preprocessing.adapt_data import batches, is_batch_iterable
from ember.layers.preprocessing.encoding import check_choice
from ember.layers.preprocessing.numpy_layer import NumpyPreprocessingLayer, as_string_array
from ember.layers.preprocessing.string_lookup import StringLookup

_PUNCTUATION = re.compile(r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']')
_ASCII_WHITESPACE = re.compile(r"[ \t\n\v\f\r]+")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation")


class TextVectorization(NumpyPreprocessingLayer):
    """Turns a batch of strings (shape (batch,) or (batch, 1)) into token indices or vectors.

    - `standardize`: None, "lower_and_strip_punctuation" (default), "lower",
      "strip_punctuation", or a callable taking and returning a NumPy array of str.
    - `split`: None, "whitespace" (default), "character", or a callable taking a 1-D NumPy
      array of str and returning one sequence of tokens per string.
    - `ngrams`: None, n (all widths 1..n) or a tuple of widths.
    - `output_mode`: "int" (int64 indices, 0 padding, 1 "[UNK]"; rows padded with 0 to the
      longest, or padded/truncated to `output_sequence_length`), "multi_hot" / "count" (int64
      vectors, as Keras's eager outputs) or "tf_idf" (float32; idf = log(1 + documents /
      (1 + documents with the term)), OOV gets the mean idf).
    - `max_tokens` caps the vocabulary (padding and OOV included); `pad_to_max_tokens` makes
      the vectors `max_tokens` wide.

    The vocabulary comes from `vocabulary` / `set_vocabulary`, or from `adapt(data)` (a list or
    array of strings, or a dataset / iterable of batches): most frequent first, ties in reverse
    sort order, as Keras.

    Runs eagerly on NumPy arrays of strings (ember's compute graph has no string dtype): apply
    it to the data, e.g. `dataset.map(lambda x, y: (vectorizer(x), y))`, and feed the int64
    indices to a model starting with an Embedding. Calling it on a symbolic tensor raises a
    TypeError. `ragged` and `sparse` outputs are not supported (Keras: TensorFlow backend only).
    """

    def __init__(self, max_tokens=None, standardize="lower_and_strip_punctuation",
                 split="whitespace", ngrams=None, output_mode="int",
                 output_sequence_length=None, pad_to_max_tokens=False, vocabulary=None,
                 idf_weights=None, sparse=False, ragged=False, encoding="utf-8", name=None,
                 **kwargs):
        has_input_vocabulary = kwargs.pop("has_input_vocabulary", vocabulary is not None)
        vocabulary_size = kwargs.pop("vocabulary_size", None)
        kwargs.pop("trainable", None)
        super().__init__(name=name, **kwargs)
        who = f"TextVectorization '{self.name}'"
        if sparse:
            raise ValueError(f"{who}: `sparse=True` is not supported: ember has no sparse "
                             "tensors (Keras: TensorFlow backend only)")
        if ragged:
            raise ValueError(f"{who}: `ragged=True` is not supported: ember has no ragged "
                             "tensors (Keras: TensorFlow backend only)")
        if standardize is not None and not callable(standardize):
            check_choice(standardize, _STANDARDIZE, "standardize", who)
        if split is not None and not callable(split):
            check_choice(split, ("whitespace", "character"), "split", who)
        if output_mode == "binary":
            output_mode = "multi_hot"
        if output_mode == "tf-idf":
            output_mode = "tf_idf"
        check_choice(output_mode, ("int", "one_hot", "multi_hot", "count", "tf_idf"),
                     "output_mode", who)
        if isinstance(ngrams, list):
            ngrams = tuple(ngrams)
        if not (ngrams is None or (isinstance(ngrams, int) and not isinstance(ngrams, bool))
                or (isinstance(ngrams, tuple) and all(isinstance(n, int) for n in ngrams))):
            raise ValueError(f"{who}: `ngrams` must be None, an integer, or a tuple of "
                             f"integers. Received: ngrams={ngrams}")
        if isinstance(ngrams, int) and ngrams < 1 or isinstance(ngrams, tuple) and any(
                n < 1 for n in ngrams):
            raise ValueError(f"{who}: `ngrams` must be positive, received ngrams={ngrams}")
        if output_mode == "int" and not (output_sequence_length is None or (
                isinstance(output_sequence_length, int) and output_sequence_length >= 0)):
            raise ValueError(f"{who}: `output_sequence_length` must be either None or an "
                             "integer when `output_mode` is 'int'. Received: "
                             f"output_sequence_length={output_sequence_length}")
        if output_mode != "int" and output_sequence_length is not None:
            raise ValueError(f"{who}: `output_sequence_length` must not be set if "
                             "`output_mode` is not 'int'. Received "
                             f"output_sequence_length={output_sequence_length}.")
        self._max_tokens = max_tokens
        self._standardize = standardize
        self._split = split
        self._ngrams_arg = ngrams
        self._ngrams = tuple(range(1, ngrams + 1)) if isinstance(ngrams, int) else ngrams
        self._output_mode = output_mode
        self._output_sequence_length = output_sequence_length
        self._encoding = encoding
        self._has_input_vocabulary = bool(has_input_vocabulary)
        self._lookup_layer = StringLookup(
            max_tokens=max_tokens, vocabulary=vocabulary, idf_weights=idf_weights,
            pad_to_max_tokens=pad_to_max_tokens, mask_token="", output_mode=output_mode,
            has_input_vocabulary=self._has_input_vocabulary, encoding=encoding,
            vocabulary_size=vocabulary_size, name=f"{self.name}_lookup")

    # ---- vocabulary ----------------------------------------------------------------------
    def get_vocabulary(self, include_special_tokens=True):
        """The vocabulary in index order ("" padding and "[UNK]" first, unless
        `include_special_tokens=False`)."""
        return self._lookup_layer.get_vocabulary(include_special_tokens)

    def vocabulary_size(self):
        return self._lookup_layer.vocabulary_size()

    def set_vocabulary(self, vocabulary, idf_weights=None):
        self._lookup_layer.set_vocabulary(vocabulary, idf_weights=idf_weights)

    def adapt(self, data, batch_size=None, steps=None):
        """Learns the vocabulary (and idf weights) from `data`: a list or array of strings, or a
        dataset / iterable of batches of strings (at most `steps` batches)."""
        self.reset_state()
        if is_batch_iterable(data):
            for batch in batches(data, f"TextVectorization '{self.name}'", steps):
                self.update_state(batch)
        else:
            texts = as_string_array(data, self._encoding, f"TextVectorization '{self.name}'")
            if texts.ndim == 1:
                texts = texts[:, None]
            self.update_state(texts)
        if not self._lookup_layer._token_counts and not self._has_input_vocabulary:
            raise ValueError(f"TextVectorization '{self.name}': adapt() received no tokens; it "
                             "needs text to build a vocabulary from")
        self.finalize_state()

    def update_state(self, data):
        self._lookup_layer._update_tokens(self._preprocess(data))

    def finalize_state(self):
        self._lookup_layer.finalize_state()

    def reset_state(self):
        self._lookup_layer.reset_state()

    # ---- text processing -----------------------------------------------------------------
    def _standardize_texts(self, texts):
        if callable(self._standardize):
            result = np.asarray(self._standardize(np.asarray(texts.astype(str))))
            return as_string_array(result, self._encoding, f"TextVectorization '{self.name}'")
        if self._standardize is None:
            return texts
        lower = self._standardize in ("lower", "lower_and_strip_punctuation")
        strip = self._standardize in ("strip_punctuation", "lower_and_strip_punctuation")
        out = np.empty(texts.size, dtype=object)
        for i, t in enumerate(texts.reshape(-1).tolist()):
            if lower:
                t = t.translate(_ASCII_LOWER)
            if strip:
                t = _PUNCTUATION.sub("", t)
            out[i] = t
        return out.reshape(texts.shape)

    def _split_texts(self, texts):
        """(batch,) texts -> a list of 1-D arrays of tokens, one per text."""
        if callable(self._split):
            pieces = self._split(np.asarray(texts.astype(str)))
            return [as_string_array(np.asarray(list(p), dtype=object), self._encoding,
                                    f"TextVectorization '{self.name}'") for p in pieces]
        if self._split == "whitespace":
            pieces = [[tok for tok in _ASCII_WHITESPACE.split(t) if tok]
                      for t in texts.tolist()]
        else:  # "character": one token per Unicode code point
            pieces = [list(t) for t in texts.tolist()]
        return [np.array(p, dtype=object) for p in pieces]

    def _make_ngrams(self, tokens):
        out = []
        for width in self._ngrams:
            out.extend(" ".join(tokens[i:i + width]) for i in range(len(tokens) - width + 1))
        return np.array(out, dtype=object)

    def _preprocess(self, inputs):
        """Standardized texts: an object array of str (no split), or a list of token rows."""
        texts = as_string_array(inputs, self._encoding, f"TextVectorization '{self.name}'")
        texts = self._standardize_texts(texts)
        if self._split is None:
            if self._ngrams is not None:
                raise ValueError(f"TextVectorization '{self.name}': `ngrams` needs the text to "
                                 "be split; set `split`")
            return texts
        if texts.ndim > 1:
            if texts.shape[-1] != 1:
                raise ValueError(
                    f"TextVectorization '{self.name}': when using TextVectorization to "
                    "tokenize strings, the input rank must be 1 or the last shape dimension "
                    f"must be 1. Received: inputs.shape={texts.shape} with rank={texts.ndim}")
            texts = texts.reshape(texts.shape[:-1])
        if texts.ndim != 1:
            raise ValueError(f"TextVectorization '{self.name}': expected a batch of strings of "
                             f"shape (batch,) or (batch, 1), received shape {texts.shape}")
        rows = self._split_texts(texts)
        if self._ngrams is not None:
            rows = [self._make_ngrams(r.tolist()) for r in rows]
        return rows

    # ---- call ----------------------------------------------------------------------------
    def call(self, inputs):
        processed = self._preprocess(inputs)
        lookups = self._lookup_layer._call_tokens(processed)
        if self._output_mode != "int":
            return lookups
        length = self._output_sequence_length
        if isinstance(lookups, list):  # rows of different lengths: pad with 0 (or trim)
            width = max((len(r) for r in lookups), default=0) if length is None else length
            out = np.zeros((len(lookups), width), dtype="int64")
            for i, r in enumerate(lookups):
                r = r[:width]
                out[i, :len(r)] = r
            return out
        if length is None:
            return lookups
        lookups = lookups[..., :length]
        pad = length - lookups.shape[-1]
        if pad > 0:
            lookups = np.pad(lookups, [(0, 0)] * (lookups.ndim - 1) + [(0, pad)])
        return lookups

    def compute_output_shape(self, input_shape):
        if self._output_mode == "int":
            return (input_shape[0], self._output_sequence_length)
        depth = (self._lookup_layer.max_tokens if self._lookup_layer.pad_to_max_tokens
                 else self._lookup_layer._frozen_vocab_size)
        return (input_shape[0], depth)

    def compute_mask(self, inputs, previous_mask=None):
        """Where the int output is not padding (index 0); None in the other modes. Keras 3
        attaches no mask here; models mask padding with `Embedding(mask_zero=True)`."""
        if self._output_mode != "int":
            return None
        return self(inputs) != 0

    # ---- config --------------------------------------------------------------------------
    def get_config(self):
        """Keras's config, the vocabulary learned by `adapt` included (ember saves no separate
        vocabulary asset). A callable `standardize` or `split` is kept as the Python object."""
        lookup_config = self._lookup_layer.get_config()
        config = super().get_config()
        config.update({
            "max_tokens": self._lookup_layer.max_tokens,
            "standardize": self._standardize,
            "split": self._split,
            "ngrams": self._ngrams_arg,
            "output_mode": self._output_mode,
            "output_sequence_length": self._output_sequence_length,
            "pad_to_max_tokens": self._lookup_layer.pad_to_max_tokens,
            "sparse": False,
            "ragged": False,
            "vocabulary": lookup_config["vocabulary"],
            "idf_weights": lookup_config["idf_weights"],
            "encoding": self._encoding,
            "vocabulary_size": self.vocabulary_size(),
            "has_input_vocabulary": self._has_input_vocabulary,
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("ngrams"), list):
            config["ngrams"] = tuple(config["ngrams"])
        return super().from_config(config)
