"""Sequential: a linear stack of layers, traced into a graph once its input shape is known."""
from ember.backend.symbolic import SymbolicTensor
from ember.layers.input_layer import InputLayer
from ember.layers.layer import Layer, unique_name
from ember.models.model import Model


class Sequential(Model):
    def __init__(self, layers=None, trainable=True, name=None):
        Model.__init__(self, name=name or unique_name("sequential"), trainable=trainable)
        self._functional = True
        self._input_layer = None
        self._stack = []
        self.built = False
        for layer in layers or []:
            self.add(layer, rebuild=False)
        self._maybe_build()

    def add(self, layer, rebuild=True):
        if isinstance(layer, SymbolicTensor) and layer._layer is not None:
            layer = layer._layer  # Sequential([Input(...), ...])
        if not isinstance(layer, Layer):
            raise TypeError(
                f"Sequential '{self.name}': only layers can be added, received {layer!r}"
            )
        if isinstance(layer, InputLayer):
            if self._input_layer is not None or self._stack:
                raise ValueError(
                    f"Sequential '{self.name}': an InputLayer must come first, and only once"
                )
            self._input_layer = layer
        else:
            self._stack.append(layer)
        self.built = False
        if rebuild:
            self._maybe_build()

    def pop(self, rebuild=True):
        if not self._stack:
            raise TypeError(f"Sequential '{self.name}' has no layers to pop")
        layer = self._stack.pop()
        self.built = False
        if rebuild:
            self._maybe_build()
        return layer

    def _maybe_build(self):
        if self._input_layer is not None:
            self._build_graph(self._input_layer)
        elif self._stack and self._stack[0]._input_shape_arg is not None:
            self.build(self._stack[0]._input_shape_arg)
        else:
            self._layers = list(self._stack)

    def build(self, input_shape=None):
        if input_shape is None:
            raise ValueError(f"Sequential '{self.name}': build() needs an input shape")
        shape = tuple(input_shape)
        self._build_graph(InputLayer(batch_shape=shape, dtype=self.dtype))

    def _build_graph(self, input_layer):
        x = input_layer.output
        for layer in self._stack:
            x = layer(x)
        self._init_functional(input_layer.output, x)
        self._layers = list(self._stack)  # Keras lists no InputLayer for Sequential
        if self.compiled:
            self._resolve_compile_args()

    def _build_from_arrays(self, arrays):
        if len(arrays) != 1:
            raise ValueError(f"Sequential '{self.name}' takes one input, received {len(arrays)}")
        self.build((None,) + tuple(arrays[0].shape[1:]))

    def _input_specs(self):
        return self._input_tensors

    def call(self, inputs, training=None):
        if not self.built:
            self.build(tuple(inputs.shape))
        return Model.call(self, inputs, training=training)

    @property
    def layers(self):
        return list(self._stack)

    def get_config(self):
        layers = []
        from ember.layers import serialize
        if self._input_layer is not None or self.built:
            layers.append(serialize(self._input_layer or self._input_tensors[0]._layer))
        layers.extend(serialize(l) for l in self._stack)
        return {"name": self.name, "trainable": self.trainable, "dtype": self.dtype,
                "layers": layers}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from ember.layers import deserialize
        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for layer_config in config["layers"]:
            model.add(deserialize(layer_config, custom_objects), rebuild=False)
        model._maybe_build()
        return model
