"""Embedding (token ids -> vectors, a gather whose backward touches only the rows used) and
Masking (marks timesteps whose features all equal `mask_value` as padding)."""
from ember import initializers, ops, regularizers
from ember.layers.layer import Layer


class Embedding(Layer):
    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform",
                 embeddings_regularizer=None, embeddings_constraint=None, mask_zero=False,
                 weights=None, lora_rank=None, **kwargs):
        kwargs.pop("input_length", None)  # deprecated in Keras 3: ignored there too
        activity_regularizer = kwargs.pop("activity_regularizer", None)
        super().__init__(**kwargs)
        for arg, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"Embedding '{self.name}': expected a positive integer for "
                                 f"`{arg}`, received {value!r}")
        for arg, value in (("embeddings_constraint", embeddings_constraint),
                           ("activity_regularizer", activity_regularizer),
                           ("lora_rank", lora_rank)):
            if value is not None:
                raise NotImplementedError(f"Embedding '{self.name}': `{arg}` is not supported "
                                          "yet")
        self.input_dim = input_dim
        self.output_dim = output_dim
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero
        if weights is not None:
            self.build()
            self.set_weights(weights if isinstance(weights, list) and len(weights) == 1
                             else [weights])

    def build(self, input_shape=None):
        if self.built:
            return
        self.embeddings = self.add_weight(
            shape=(self.input_dim, self.output_dim), initializer=self.embeddings_initializer,
            regularizer=self.embeddings_regularizer, name="embeddings")
        self.built = True

    def call(self, inputs):
        if not str(inputs.dtype).startswith("int"):
            # Keras casts float ids to int32; ember insists they be whole numbers.
            inputs = ops.apply_op("cast", [inputs], {"dtype": "int32", "integral_only": True},
                                  cast=False)
        return ops.embedding(self.embeddings, inputs)

    def compute_mask(self, inputs, previous_mask):
        if not self.mask_zero:
            return None
        return ops.not_equal(inputs, 0)

    def get_config(self):
        config = super().get_config()
        config.update({
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
            "embeddings_regularizer": regularizers.serialize(self.embeddings_regularizer),
            "activity_regularizer": None,
            "embeddings_constraint": None,
            "mask_zero": self.mask_zero,
        })
        return config


class Masking(Layer):
    """Timesteps whose features all equal `mask_value` are padding: their output is zero and
    the mask it passes on is 0 there, so recurrent layers skip them."""

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = float(mask_value)
        self.supports_masking = True

    def compute_mask(self, inputs, previous_mask):
        return ops.any(ops.not_equal(inputs, self.mask_value), axis=-1)

    def call(self, inputs):
        keep = ops.any(ops.not_equal(inputs, self.mask_value), axis=-1, keepdims=True)
        outputs = ops.multiply(inputs, keep)
        outputs._keras_mask = ops.squeeze(keep, -1)  # computed once, with the outputs
        return outputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config["mask_value"] = self.mask_value
        return config
