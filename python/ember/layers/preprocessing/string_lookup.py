"""StringLookup: strings to vocabulary indices (Keras 3 semantics), eagerly in NumPy."""
import numpy as np

from ember.layers.preprocessing.index_lookup import IndexLookup
from ember.layers.preprocessing.numpy_layer import as_string_array


class StringLookup(IndexLookup):
    """Maps strings to integer indices through a vocabulary, set by `vocabulary` /
    `set_vocabulary` or learned by `adapt` (most frequent first, ties in reverse sort order).

    Indices: 0 is `mask_token` when set (int mode), then `num_oov_indices` OOV indices
    (`oov_token`, default "[UNK]"), then the vocabulary. `output_mode`: "int" (int64 indices),
    "one_hot", "multi_hot", "count" (int64 vectors, as Keras's eager outputs) or "tf_idf"
    (float32 count * idf, idf = log(1 + documents / (1 + documents with the term))). With
    `invert=True` it maps indices back to strings (an object array of str). Several OOV
    indices hash OOV strings with FarmHash (SipHash with `salt`), giving Keras's indices.

    Runs eagerly on NumPy arrays of strings (str or bytes, decoded with `encoding`): ember's
    compute graph has no string dtype, so use it on the data (e.g. `Dataset.map`), not inside a
    model; calling it on a symbolic tensor raises a TypeError.
    """

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token="[UNK]",
                 vocabulary=None, idf_weights=None, invert=False, output_mode="int",
                 pad_to_max_tokens=False, sparse=False, encoding="utf-8", name=None, salt=None,
                 **kwargs):
        self.encoding = encoding
        super().__init__(max_tokens=max_tokens, num_oov_indices=num_oov_indices,
                         mask_token=mask_token, oov_token=oov_token, vocabulary=vocabulary,
                         idf_weights=idf_weights, invert=invert, output_mode=output_mode,
                         pad_to_max_tokens=pad_to_max_tokens, sparse=sparse, name=name,
                         salt=salt, **kwargs)

    def _to_tokens(self, values):
        return as_string_array(values, self.encoding, self._who())

    def _token_value(self, value):
        if isinstance(value, (bytes, np.bytes_)):
            return bytes(value).decode(self.encoding)
        if not isinstance(value, str):
            raise TypeError(f"{self._who()}: expected string vocabulary terms, received "
                            f"{value!r} of type {type(value).__name__}")
        return str(value)

    def get_config(self):
        config = super().get_config()
        config["encoding"] = self.encoding
        return config
