"""BatchNormalization and GroupNormalization: fused C++ ops; batch norm's moving statistics are
non-trainable weights the op updates in place during training, as Keras assigns them."""
from ember import initializers, regularizers
from ember import ops
from ember.layers import conv_utils as cu
from ember.layers.layer import Layer


def _axis(axis, rank, layer):
    a = axis + rank if axis < 0 else axis
    if not 0 < a < rank:
        raise ValueError(f"{layer}: `axis` {axis} is out of range for an input of rank {rank}")
    return a


class BatchNormalization(Layer):
    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, renorm=False, renorm_clipping=None, renorm_momentum=0.99,
                 synchronized=False, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        who = f"BatchNormalization '{self.name}'"
        if beta_constraint is not None or gamma_constraint is not None or synchronized:
            raise NotImplementedError(f"{who}: constraints and `synchronized` are not supported")
        if renorm:  # the arguments exist so that Keras configs (renorm=False) load
            raise NotImplementedError(f"{who}: `renorm` is not supported yet")
        if not isinstance(axis, int):
            raise ValueError(f"{who}: `axis` must be an int, received {axis!r}")
        if not 0 <= momentum <= 1 or epsilon <= 0:
            raise ValueError(f"{who}: expected 0 <= momentum <= 1 and epsilon > 0, received "
                             f"momentum={momentum}, epsilon={epsilon}")
        self.axis, self.momentum, self.epsilon = axis, float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)

    def build(self, input_shape):
        axis = _axis(self.axis, len(input_shape), f"BatchNormalization '{self.name}'")
        channels = input_shape[axis]
        if channels is None:
            raise ValueError(f"BatchNormalization '{self.name}': the normalized axis must be "
                             f"known, received shape {tuple(input_shape)}")
        shape = (channels,)
        self.gamma = (self.add_weight(shape=shape, initializer=self.gamma_initializer,
                                      regularizer=self.gamma_regularizer, name="gamma")
                      if self.scale else None)
        self.beta = (self.add_weight(shape=shape, initializer=self.beta_initializer,
                                     regularizer=self.beta_regularizer, name="beta")
                     if self.center else None)
        self.moving_mean = self.add_weight(shape=shape, initializer=self.moving_mean_initializer,
                                           trainable=False, name="moving_mean")
        self.moving_variance = self.add_weight(
            shape=shape, initializer=self.moving_variance_initializer, trainable=False,
            name="moving_variance")
        self.built = True

    def call(self, inputs, training=None, mask=None):
        if mask is not None:
            raise NotImplementedError(f"BatchNormalization '{self.name}': masks not supported")
        axis = _axis(self.axis, len(inputs.shape), f"BatchNormalization '{self.name}'")
        cu.check_channels(self, inputs.shape, axis, self.moving_mean.shape[0])
        if not self.trainable:
            training = False  # Keras: a frozen batch norm runs in inference mode
        inputs_list = [inputs, self.moving_mean, self.moving_variance]
        inputs_list += [w for w in (self.gamma, self.beta) if w is not None]
        return ops.apply_op("batch_norm", inputs_list, {
            "axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon,
            "center": self.center, "scale": self.scale,
            "training": -1 if training is None else int(bool(training))}, cast=False)

    def get_config(self):
        config = super().get_config()
        config.update({
            "axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon,
            "center": self.center, "scale": self.scale,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
            "moving_variance_initializer": initializers.serialize(
                self.moving_variance_initializer),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
            "beta_constraint": None, "gamma_constraint": None, "renorm": False,
            "renorm_clipping": None, "renorm_momentum": 0.99, "synchronized": False,
        })
        return config


class GroupNormalization(Layer):
    def __init__(self, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        who = f"GroupNormalization '{self.name}'"
        if beta_constraint is not None or gamma_constraint is not None:
            raise NotImplementedError(f"{who}: constraints are not supported yet")
        if not isinstance(groups, int) or groups == 0 or groups < -1:
            raise ValueError(f"{who}: `groups` must be a positive integer or -1, received "
                             f"{groups!r}")
        self.groups, self.axis, self.epsilon = groups, axis, float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)

    def build(self, input_shape):
        who = f"GroupNormalization '{self.name}'"
        axis = _axis(self.axis, len(input_shape), who)
        channels = input_shape[axis]
        groups = channels if self.groups == -1 else self.groups
        if channels is None or channels % groups:
            raise ValueError(f"{who}: groups={self.groups} must divide the number of channels, "
                             f"received {channels} channels")
        shape = (channels,)
        self.gamma = (self.add_weight(shape=shape, initializer=self.gamma_initializer,
                                      regularizer=self.gamma_regularizer, name="gamma")
                      if self.scale else None)
        self.beta = (self.add_weight(shape=shape, initializer=self.beta_initializer,
                                     regularizer=self.beta_regularizer, name="beta")
                     if self.center else None)
        self.built = True

    def call(self, inputs):
        weights = [w for w in (self.gamma, self.beta) if w is not None]
        axis = _axis(self.axis, len(inputs.shape), f"GroupNormalization '{self.name}'")
        if weights:
            cu.check_channels(self, inputs.shape, axis, weights[0].shape[0])
        inputs_list = [inputs] + weights
        return ops.apply_op("group_norm", inputs_list, {
            "groups": self.groups, "axis": self.axis, "epsilon": self.epsilon,
            "center": self.center, "scale": self.scale}, cast=False)

    def get_config(self):
        config = super().get_config()
        config.update({
            "groups": self.groups, "axis": self.axis, "epsilon": self.epsilon,
            "center": self.center, "scale": self.scale,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
            "beta_constraint": None, "gamma_constraint": None,
        })
        return config
