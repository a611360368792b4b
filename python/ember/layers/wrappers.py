"""Layer wrappers: Bidirectional (a recurrent layer run both ways) and TimeDistributed (a layer
applied to every timestep)."""
import copy

from ember import ops
from ember.layers.layer import Layer

_MERGE_MODES = ("sum", "mul", "ave", "concat", None)


def _copy_layer(layer, **changes):
    from ember import layers
    config = layers.serialize(layer)
    config["config"].update(changes)
    return layers.deserialize(config)


def _strip(name, prefix):
    return name[len(prefix):] if name.startswith(prefix) else name


class Bidirectional(Layer):
    """Runs a copy of a recurrent layer forwards and another backwards over the sequence and
    merges their outputs (Keras semantics: weights are the forward layer's, then the backward
    layer's; states are [forward states, backward states])."""

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(f"Bidirectional: expected a layer instance, received {layer!r}")
        if backward_layer is not None and not isinstance(backward_layer, Layer):
            raise ValueError(f"Bidirectional: `backward_layer` must be a layer instance, "
                             f"received {backward_layer!r}")
        if merge_mode not in _MERGE_MODES:
            raise ValueError(f"Bidirectional: invalid merge_mode {merge_mode!r}: expected one of "
                             '"sum", "mul", "ave", "concat", None')
        super().__init__(**kwargs)
        self.forward_layer = _copy_layer(layer, name="forward_" + _strip(layer.name, "forward_"))
        if backward_layer is None:
            backward_layer = _copy_layer(
                layer, go_backwards=True, name="backward_" + _strip(layer.name, "backward_"))
        self.backward_layer = backward_layer
        self._verify()
        for l in (self.forward_layer, self.backward_layer):  # Keras: zeros at masked steps
            l.zero_output_for_mask = l.return_sequences
        self.merge_mode = merge_mode
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.stateful = False
        self.supports_masking = True
        self._initial_weights = list(weights) if weights is not None else None

    def _verify(self):
        f, b = self.forward_layer, self.backward_layer
        if f.go_backwards == b.go_backwards:
            raise ValueError(
                "Bidirectional: the forward and backward layers must have different "
                f"`go_backwards`, received {f.go_backwards} for both")
        for attr in ("return_sequences", "return_state"):
            if getattr(f, attr) != getattr(b, attr):
                raise ValueError(
                    f"Bidirectional: the forward and backward layers must have the same "
                    f"`{attr}`, received {getattr(f, attr)} and {getattr(b, attr)}")

    def build(self, input_shape):
        if isinstance(input_shape, list):
            input_shape = input_shape[0]
        for l in (self.forward_layer, self.backward_layer):
            if not l.built:
                l.build(input_shape)
                l.built = True
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None
        self.built = True

    def call(self, inputs, initial_state=None, mask=None, training=None):
        if isinstance(inputs, (list, tuple)):
            inputs, initial_state = inputs[0], list(inputs[1:]) or initial_state
        fw_state = bw_state = None
        if initial_state is not None:
            half = len(initial_state) // 2
            fw_state, bw_state = list(initial_state[:half]), list(initial_state[half:])
        y = self.forward_layer(inputs, initial_state=fw_state, mask=mask, training=training)
        y_rev = self.backward_layer(inputs, initial_state=bw_state, mask=mask, training=training)
        states = []
        if self.return_state:
            states = list(y[1:]) + list(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = ops.flip(y_rev, axis=1)
        if self.merge_mode == "concat":
            output = ops.concatenate([y, y_rev], axis=-1)
        elif self.merge_mode == "sum":
            output = ops.add(y, y_rev)
        elif self.merge_mode == "ave":
            output = ops.multiply(ops.add(y, y_rev), 0.5)
        elif self.merge_mode == "mul":
            output = ops.multiply(y, y_rev)
        else:
            output = [y, y_rev]
        if self.return_state:
            return (output if isinstance(output, list) else [output]) + states
        return output

    def compute_mask(self, inputs, previous_mask):
        mask = previous_mask[0] if isinstance(previous_mask, (list, tuple)) else previous_mask
        if self.return_sequences:
            output_mask = mask if self.merge_mode else [mask, mask]
        else:
            output_mask = None if self.merge_mode else [None, None]
        if self.return_state:
            n = 2 * self.forward_layer.states_count
            head = output_mask if isinstance(output_mask, list) else [output_mask]
            return head + [None] * n
        return output_mask

    def get_config(self):
        from ember import layers
        config = super().get_config()
        config.update({"merge_mode": self.merge_mode,
                       "layer": layers.serialize(self.forward_layer),
                       "backward_layer": layers.serialize(self.backward_layer)})
        return config

    @classmethod
    def from_config(cls, config):
        from ember import layers
        config = copy.deepcopy(config)
        config["layer"] = layers.deserialize(config["layer"])
        if config.get("backward_layer") is not None:
            config["backward_layer"] = layers.deserialize(config["backward_layer"])
        return super().from_config(config)


class TimeDistributed(Layer):
    """Applies `layer` to every timestep: (batch, time, ...) -> (batch, time, ...), by folding
    the time axis into the batch."""

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(f"TimeDistributed: expected a layer instance, received {layer!r}")
        super().__init__(**kwargs)
        self.layer = layer
        self.supports_masking = True

    def build(self, input_shape):
        who = f"TimeDistributed '{self.name}'"
        if len(input_shape) < 3:
            raise ValueError(f"{who}: expected an input of rank >= 3 (batch, time, ...), "
                             f"received shape {tuple(input_shape)}")
        if not self.layer.built:
            self.layer.build((None,) + tuple(input_shape[2:]))
            self.layer.built = True
        self.built = True

    def call(self, inputs, training=None, mask=None):
        who = f"TimeDistributed '{self.name}'"
        steps = inputs.shape[1]
        if steps is None:
            raise ValueError(f"{who}: the time axis must have a known extent, received shape "
                             f"{tuple(inputs.shape)}")
        folded = ops.reshape(inputs, (-1,) + tuple(inputs.shape[2:]))
        kwargs = {}
        if self.layer._call_has_training:
            kwargs["training"] = training
        if mask is not None and self.layer._call_has_mask:
            kwargs["mask"] = ops.reshape(mask, (-1,) + tuple(mask.shape[2:]))
        y = self.layer(folded, **kwargs)
        return ops.reshape(y, (-1, steps) + tuple(y.shape[1:]))

    def compute_mask(self, inputs, previous_mask):
        return previous_mask

    def get_config(self):
        from ember import layers
        config = super().get_config()
        config["layer"] = layers.serialize(self.layer)
        return config

    @classmethod
    def from_config(cls, config):
        from ember import layers
        config = dict(config)
        config["layer"] = layers.deserialize(config["layer"])
        return super().from_config(config)
