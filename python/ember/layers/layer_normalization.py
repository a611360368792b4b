"""LayerNormalization (one fused C++ op over trailing axes) and UnitNormalization."""
from ember import initializers, ops, regularizers
from ember.layers.layer import Layer


class LayerNormalization(Layer):
    """Normalises each sample over `axis` (an int or a list of axes): (x - mean) / sqrt(var +
    epsilon) * gamma + beta. rms_scaling=True is Keras's: x / sqrt(var + epsilon) * gamma."""

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, rms_scaling=False,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None, **kwargs):
        super().__init__(**kwargs)
        who = f"LayerNormalization '{self.name}'"
        for arg, value in (("beta_constraint", beta_constraint),
                           ("gamma_constraint", gamma_constraint)):
            if value is not None:
                raise NotImplementedError(f"{who}: `{arg}` is not supported yet")
        if isinstance(axis, (list, tuple)):
            self.axis = list(axis)
        elif isinstance(axis, int) and not isinstance(axis, bool):
            self.axis = axis
        else:
            raise TypeError(f"{who}: expected an int or a list of ints for `axis`, received "
                            f"{axis!r}")
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.rms_scaling = bool(rms_scaling)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.supports_masking = True

    def _axes(self, rank):
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        for a in axes:
            if not -rank <= a < rank:
                raise ValueError(f"LayerNormalization '{self.name}': axis {a} is out of bounds "
                                 f"for an input of rank {rank}. Received: axis={self.axis}")
        return sorted(a % rank for a in axes)

    def build(self, input_shape):
        axes = self._axes(len(input_shape))
        shape = tuple(input_shape[a] for a in axes)
        if None in shape:
            raise ValueError(f"LayerNormalization '{self.name}': the normalised axes {axes} "
                             f"must have known extents, received input shape {input_shape}")
        self.gamma = (self.add_weight(shape=shape, name="gamma",
                                      initializer=self.gamma_initializer,
                                      regularizer=self.gamma_regularizer)
                      if self.scale or self.rms_scaling else None)
        self.beta = (self.add_weight(shape=shape, name="beta",
                                     initializer=self.beta_initializer,
                                     regularizer=self.beta_regularizer)
                     if self.center and not self.rms_scaling else None)
        self.built = True

    def call(self, inputs):
        rank = len(inputs.shape)
        axes = self._axes(rank)
        if axes == list(range(axes[0], rank)):  # trailing axes: the fused op
            tensors = [inputs] + [w for w in (self.gamma, self.beta) if w is not None]
            return ops.apply_op("layer_norm", tensors, {
                "begin_axis": axes[0], "epsilon": self.epsilon, "rms_scaling": self.rms_scaling,
                "has_gamma": self.gamma is not None, "has_beta": self.beta is not None})
        return self._composite(inputs, axes)

    def _composite(self, inputs, axes):
        """Other axis sets: the same formula from elementwise ops."""
        broadcast = [1] * len(inputs.shape)
        for a in axes:
            broadcast[a] = inputs.shape[a]
        mean = ops.mean(inputs, axis=axes, keepdims=True)
        centred = ops.subtract(inputs, mean)
        var = ops.mean(ops.square(centred), axis=axes, keepdims=True)
        inv = ops.divide(1.0, ops.sqrt(ops.add(var, self.epsilon)))
        out = ops.multiply(inputs if self.rms_scaling else centred, inv)
        if self.gamma is not None:
            out = ops.multiply(out, ops.reshape(self.gamma, broadcast))
        if self.beta is not None:
            out = ops.add(out, ops.reshape(self.beta, broadcast))
        return out

    def compute_output_shape(self, input_shape):
        self._axes(len(input_shape))
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({
            "axis": self.axis,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "rms_scaling": self.rms_scaling,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
            "beta_constraint": None,
            "gamma_constraint": None,
        })
        return config


class UnitNormalization(Layer):
    """Scales each sample to unit L2 norm over `axis` (Keras: x * min(1/||x||, 1e12))."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            self.axis = list(axis)
        elif isinstance(axis, int) and not isinstance(axis, bool):
            self.axis = axis
        else:
            raise TypeError(f"UnitNormalization '{self.name}': expected an int or a list of "
                            f"ints for `axis`, received {axis!r}")
        self.supports_masking = True

    def call(self, inputs):
        square_sum = ops.sum(ops.square(inputs), axis=self.axis, keepdims=True)
        inv_norm = ops.minimum(ops.divide(1.0, ops.sqrt(square_sum)), 1e12)
        return ops.multiply(inputs, inv_norm)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config["axis"] = self.axis
        return config
