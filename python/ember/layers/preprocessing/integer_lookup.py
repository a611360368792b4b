"""IntegerLookup: integers to vocabulary indices (Keras 3 semantics), eagerly in NumPy."""
import numbers

import numpy as np

from ember.layers.preprocessing.index_lookup import IndexLookup


class IntegerLookup(IndexLookup):
    """Maps integer tokens to contiguous indices through a vocabulary, set by `vocabulary` /
    `set_vocabulary` or learned by `adapt` (most frequent first, ties by decreasing value).

    Indices: 0 is `mask_token` when set (int mode), then `num_oov_indices` OOV indices
    (`oov_token`, default -1), then the vocabulary. With several OOV indices, OOV tokens go to
    `token % num_oov_indices` ("floormod") or by FarmHash of their decimal text ("farmhash";
    SipHash with `salt`), as in Keras. `output_mode` and `invert` as StringLookup (int64 outputs
    except "tf_idf", float32).

    Runs eagerly on NumPy arrays: like the other vocabulary layers it needs a hash table that
    ember's compute graph does not have, so use it on the data, not inside a model.
    """

    _integer_tokens = True

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=-1,
                 vocabulary=None, vocabulary_dtype="int64", idf_weights=None, invert=False,
                 output_mode="int", sparse=False, pad_to_max_tokens=False,
                 oov_method="floormod", salt=None, name=None, **kwargs):
        if vocabulary_dtype != "int64":
            raise ValueError(f"IntegerLookup: only `vocabulary_dtype='int64'` is supported at "
                             f"this time. Received: vocabulary_dtype={vocabulary_dtype}")
        super().__init__(max_tokens=max_tokens, num_oov_indices=num_oov_indices,
                         mask_token=None if mask_token is None else int(mask_token),
                         oov_token=None if oov_token is None else int(oov_token),
                         vocabulary=vocabulary, idf_weights=idf_weights, invert=invert,
                         output_mode=output_mode, sparse=sparse,
                         pad_to_max_tokens=pad_to_max_tokens, oov_method=oov_method, salt=salt,
                         name=name, **kwargs)
        self.vocabulary_dtype = "int64"

    def _to_tokens(self, values):
        array = np.asarray(values)
        if array.dtype.kind == "f" and np.all(array == np.floor(array)):
            array = array.astype("int64")
        if array.dtype.kind not in "iu":
            raise TypeError(f"{self._who()}: expected integer inputs, received an array of "
                            f"dtype {array.dtype}")
        return array.astype("int64")

    def _token_value(self, value):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{self._who()}: expected integer vocabulary terms, received "
                            f"{value!r} of type {type(value).__name__}")
        return int(value)

    def get_config(self):
        config = super().get_config()
        config["vocabulary_dtype"] = "int64"
        return config
