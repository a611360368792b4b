"""Hashing: strings or integers to a fixed number of bins, with Keras's hash functions."""
import numpy as np

from ember.layers.preprocessing.encoding import check_choice, encode_numpy, reject_sparse
from ember.layers.preprocessing.fingerprint import fingerprint64, siphash64
from ember.layers.preprocessing.numpy_layer import NumpyPreprocessingLayer


def normalize_salt(salt, who):
    """Keras's salt forms: None, one integer (used twice) or two integers."""
    if salt is None:
        return None
    if isinstance(salt, (tuple, list)) and len(salt) == 2 and all(
            isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in salt):
        return [int(s) for s in salt]
    if isinstance(salt, (int, np.integer)) and not isinstance(salt, bool):
        return [int(salt), int(salt)]
    raise ValueError(f"{who}: the `salt` argument can only be a tuple of size 2 integers, or a "
                     f"single integer. Received: salt={salt}.")


def value_bytes(value, encoding="utf-8"):
    """What TensorFlow hashes for one value: a string's bytes, or an integer's decimal text
    (floats are first truncated to int64, as Keras does)."""
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode(encoding)
    if isinstance(value, (float, np.floating)):
        value = int(value)
    return str(int(value)).encode("ascii")


def hash_buckets(values, num_buckets, salt=None, encoding="utf-8"):
    """Bucket of every value: fingerprint64 (FarmHash) or, with a salt, SipHash-2-4, modulo
    `num_buckets` (tf.strings.to_hash_bucket_fast / _strong)."""
    flat = values.reshape(-1)
    out = np.empty(flat.shape, dtype="int64")
    cache = {}
    for i, v in enumerate(flat.tolist()):
        bucket = cache.get(v)
        if bucket is None:
            data = value_bytes(v, encoding)
            h = fingerprint64(data) if salt is None else siphash64(data, salt[0], salt[1])
            bucket = cache[v] = h % num_buckets
        out[i] = bucket
    return out.reshape(values.shape)


class Hashing(NumpyPreprocessingLayer):
    """Hashes strings or integers into `num_bins` bins, as Keras: FarmHash Fingerprint64 by
    default, SipHash-2-4 keyed by `salt` when given; integers (and floats, truncated) are hashed
    as their decimal text. With `mask_value`, that value goes to bin 0 and the others to
    1..num_bins-1. `output_mode`: "int" (int64 bins), or "one_hot" / "multi_hot" / "count"
    (float32 vectors of `num_bins`). The bins equal Keras's (TensorFlow's) for the same input.

    Runs eagerly on NumPy arrays (strings have no dtype in ember's graph); apply it to the data,
    not inside a model.
    """

    def __init__(self, num_bins, mask_value=None, salt=None, output_mode="int", sparse=False,
                 **kwargs):
        dtype = kwargs.pop("dtype", None)
        super().__init__(**kwargs)
        who = f"Hashing '{self.name}'"
        if num_bins is None or not isinstance(num_bins, (int, np.integer)) or num_bins <= 0:
            raise ValueError(f"{who}: the `num_bins` for `Hashing` cannot be `None` or "
                             f"non-positive values. Received: num_bins={num_bins}.")
        check_choice(output_mode, ("int", "one_hot", "multi_hot", "count"), "output_mode", who)
        reject_sparse(sparse, who)
        if isinstance(dtype, dict):  # a serialized dtype policy
            dtype = dtype.get("config", {}).get("name")
        dtype = dtype or ("int64" if output_mode == "int" else "float32")
        if output_mode == "int" and dtype not in ("int32", "int64"):
            raise ValueError(f"{who}: when `output_mode=\"int\"`, `dtype` should be an integer "
                             f"type, 'int32' or 'int64'. Received: dtype={dtype}")
        self.dtype = str(np.dtype(dtype))
        self.num_bins = int(num_bins)
        self.mask_value = mask_value
        self.strong_hash = salt is not None
        self.salt = normalize_salt(salt, who)
        self.output_mode = output_mode
        self.sparse = False

    def call(self, inputs):
        values = np.asarray(inputs)
        if values.dtype.kind not in "OUSbiuf":
            raise TypeError(f"Hashing '{self.name}': expected strings or integers, received "
                            f"an array of dtype {values.dtype}")
        if self.output_mode == "one_hot" and values.ndim and values.shape[-1] == 1:
            values = values.reshape(values.shape[:-1])
        bins = self.num_bins
        mask = None
        if self.mask_value is not None and bins > 1:
            bins -= 1  # bin 0 is the mask's
            mask = np.asarray(values.astype(object) == self.mask_value, dtype=bool)
        if values.dtype.kind == "f":
            values = values.astype("int64")  # Keras: floats are first cast to int64
        if values.dtype.kind == "U":
            values = values.astype(object)
        indices = hash_buckets(values, bins, self.salt)
        if mask is not None:
            indices = np.where(mask, 0, indices + 1)
        return encode_numpy(indices, self.output_mode, self.num_bins, self.dtype)

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return tuple(input_shape)
        if len(input_shape) == 0:
            return (self.num_bins,)
        return tuple(input_shape[:-1]) + (self.num_bins,)

    def get_config(self):
        config = super().get_config()
        config.update({
            "num_bins": self.num_bins,
            "salt": self.salt,
            "mask_value": self.mask_value,
            "output_mode": self.output_mode,
            "sparse": self.sparse,
        })
        return config
