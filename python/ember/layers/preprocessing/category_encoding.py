"""CategoryEncoding: integer features to one-hot, multi-hot or count vectors (Keras 3)."""
import numpy as np

from ember.backend.symbolic import SymbolicTensor
from ember.layers.preprocessing.encoding import check_choice, encode_symbolic, reject_sparse
from ember.layers.preprocessing.numeric_layer import NumericPreprocessingLayer


class CategoryEncoding(NumericPreprocessingLayer):
    """Encodes integer inputs in [0, num_tokens) as float vectors of `num_tokens` entries:

    - "one_hot": one vector per element (a last axis of size 1 is replaced by the encoding);
    - "multi_hot" (default): one vector per sample, 1 where a token occurs;
    - "count": as multi_hot, with the number of occurrences, or the sum of `count_weights`
      (same shape as the inputs) when they are passed to the call.

    Built from ember.ops, so it runs inside a model. Eager calls on arrays check that every value
    is in [0, num_tokens); inside a model the values are not known when the graph is built, and
    a value out of range encodes as a zero vector.
    """

    def __init__(self, num_tokens=None, output_mode="multi_hot", sparse=False, **kwargs):
        super().__init__(**kwargs)
        who = f"CategoryEncoding '{self.name}'"
        if output_mode == "binary":  # Keras's deprecated name
            output_mode = "multi_hot"
        check_choice(output_mode, ("count", "one_hot", "multi_hot"), "output_mode", who)
        reject_sparse(sparse, who)
        if num_tokens is None:
            raise ValueError(f"{who}: num_tokens must be set to use this layer. If the number "
                             "of tokens is not known beforehand, use the IntegerLookup layer "
                             "instead.")
        if not isinstance(num_tokens, (int, np.integer)) or isinstance(num_tokens, bool) or (
                num_tokens < 1):
            raise ValueError(f"{who}: `num_tokens` must be an integer >= 1. Received: "
                             f"num_tokens={num_tokens}.")
        self.num_tokens = int(num_tokens)
        self.output_mode = output_mode
        self.sparse = False

    def __call__(self, inputs, *args, **kwargs):
        if not isinstance(inputs, SymbolicTensor):
            self._check_values(inputs)
        return super().__call__(inputs, *args, **kwargs)

    def _check_values(self, inputs):
        values = np.asarray(inputs)
        if values.dtype == object or values.dtype.kind not in "biuf":
            raise TypeError(f"CategoryEncoding '{self.name}': expected integer inputs, "
                            f"received an array of dtype {values.dtype}")
        bad = values[(values < 0) | (values >= self.num_tokens) | (values != np.floor(values))] \
            if values.dtype.kind == "f" else values[(values < 0) | (values >= self.num_tokens)]
        if bad.size:
            raise ValueError(
                f"CategoryEncoding '{self.name}': expected input values to be integers in the "
                f"range [0, num_tokens={self.num_tokens}), received values "
                f"{np.unique(bad)[:10].tolist()}; raise `num_tokens` or use IntegerLookup")

    def call(self, inputs, count_weights=None):
        if count_weights is not None:
            if self.output_mode != "count":
                raise ValueError(
                    f"CategoryEncoding '{self.name}': `count_weights` is not used when "
                    f"`output_mode` is not 'count'. Received `count_weights={count_weights}`.")
            if not isinstance(count_weights, SymbolicTensor):
                count_weights = np.asarray(count_weights, dtype=self.dtype)
            if tuple(count_weights.shape) != tuple(inputs.shape):
                raise ValueError(
                    f"CategoryEncoding '{self.name}': `count_weights` must have the shape of "
                    f"the inputs {tuple(inputs.shape)}, received {tuple(count_weights.shape)}")
        return encode_symbolic(inputs, self.output_mode, self.num_tokens, self.dtype,
                               count_weights)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) == 0:
            return (self.num_tokens,)
        if self.output_mode == "one_hot":
            if input_shape[-1] != 1 or len(input_shape) == 1:
                return input_shape + (self.num_tokens,)
            return input_shape[:-1] + (self.num_tokens,)
        if len(input_shape) == 1:
            return (self.num_tokens,)
        return (input_shape[0],) + input_shape[2:] + (self.num_tokens,)

    def get_config(self):
        config = super().get_config()
        config.update({"num_tokens": self.num_tokens, "output_mode": self.output_mode})
        return config
