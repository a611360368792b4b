"""Model: functional (`Model(inputs, outputs)`) or subclassed (`call` traced into a graph)."""
from ember.backend.symbolic import SymbolicTensor, input_tensor
from ember.layers.input_layer import InputLayer
from ember.layers.layer import Layer, _flatten, unique_name
from ember.models import graph_utils
from ember.models.trainer import Trainer


class Model(Trainer, Layer):
    def __init__(self, *args, **kwargs):
        inputs = kwargs.pop("inputs", args[0] if len(args) > 0 else None)
        outputs = kwargs.pop("outputs", args[1] if len(args) > 1 else None)
        name = kwargs.pop("name", None)
        trainable = kwargs.pop("trainable", True)
        if inputs is not None and outputs is not None:
            Layer.__init__(self, name=name or unique_name("functional"), trainable=trainable)
            self._init_trainer()
            self._init_functional(inputs, outputs)
        else:
            Layer.__init__(self, name=name, trainable=trainable, **kwargs)
            self._init_trainer()
            self._functional = False
            self._traces = {}

    # ---- functional -------------------------------------------------------------------------
    def _init_functional(self, inputs, outputs):
        self._functional = True
        self._inputs_struct = inputs
        self._outputs_struct = outputs
        self._input_tensors = _flatten(inputs)
        self._output_tensors = _flatten(outputs)
        graph_utils.check_inputs(self._input_tensors)
        for t in self._output_tensors:
            if not isinstance(t, SymbolicTensor):
                raise ValueError(f"Model outputs must be symbolic tensors, received {t!r}")
        for t in self._input_tensors:  # inputs made without a layer (rare) still get one
            if t._layer is None:
                InputLayer(input_tensor=t)
        self._layers = graph_utils.model_layers(self._input_tensors, self._output_tensors)
        self._output_names = [_output_name(t, i) for i, t in enumerate(self._output_tensors)]
        # add_loss terms of the calls that built this graph (activity penalties), kept with it
        self._graph_losses = [t for l in self._layers for t in l._collect_call_losses()]
        self.built = True

    @property
    def inputs(self):
        return list(self._input_tensors) if self.built else None

    @property
    def outputs(self):
        return list(self._output_tensors) if self.built else None

    @property
    def input_shape(self):
        shapes = [t.shape for t in self._trace(False)[0]]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self):
        shapes = [t.shape for t in self._trace(False)[1]]
        return shapes[0] if len(shapes) == 1 else shapes

    def _input_specs(self):
        return self._trace(False)[0]

    def _trace(self, training):
        """(input tensors, output tensors) of the graph the C++ programs run."""
        if self._functional:
            return self._input_tensors, self._output_tensors
        return self._traced(training)[:2]

    def _trace_losses(self, training):
        """Weight penalties plus the add_loss terms of the graph traced for `training`."""
        calls = self._graph_losses if self._functional else self._traced(training)[2]
        return self._weight_penalties() + list(calls)

    @property
    def losses(self):
        if self._functional and self.built:
            return self._weight_penalties() + list(self._graph_losses)
        return Layer.losses.fget(self)

    def _collect_call_losses(self):
        if self._functional:  # its layers' terms are in terms of its own inputs: only the
            return list(self.__dict__.get("_call_losses", ()))  # replayed ones apply here
        return Layer._collect_call_losses(self)

    def _traced(self, training):
        """(inputs, outputs, add_loss terms) of the subclassed model traced for `training`."""
        if training not in self._traces:
            if not self._traces:
                raise ValueError(
                    f"model '{self.name}' is not built yet: call it on data (fit, predict) or "
                    "build(input_shape) first"
                )
            inputs = [input_tensor(t.shape, t.dtype, name=t.name)
                      for t in next(iter(self._traces.values()))[0]]
            self._traces[training] = self._trace_call(inputs, training)
        return self._traces[training]

    def _trace_call(self, inputs, training):
        struct = inputs[0] if len(inputs) == 1 else list(inputs)
        kwargs = {"training": training} if self._call_has_training else {}
        outputs = _flatten(Layer._symbolic_call(self, struct, (), kwargs))
        self._output_names = [_output_name(t, i) for i, t in enumerate(outputs)]
        self.built = True
        return inputs, outputs, self._collect_call_losses()

    def _build_from_arrays(self, arrays):
        shapes = [(None,) + tuple(a.shape[1:]) for a in arrays]
        self.build(shapes[0] if len(shapes) == 1 else shapes)

    def build(self, input_shape):
        if self._functional:
            return
        shapes = [input_shape] if isinstance(input_shape, tuple) else list(input_shape)
        inputs = [input_tensor(tuple(s), self.dtype, name=f"input_{i}")
                  for i, s in enumerate(shapes)]
        self.built = True  # the trace below calls the model, which must not build again
        self._traces = {False: self._trace_call(inputs, False)}
        if hasattr(self, "_loss_arg") and self.compiled:
            self._resolve_compile_args()

    def call(self, inputs, training=None):
        if not self._functional:
            raise NotImplementedError(
                f"{type(self).__name__} subclasses ember.Model and must implement "
                "call(self, inputs)"
            )
        new = _flatten(inputs)
        if len(new) != len(self._input_tensors):
            raise ValueError(
                f"model '{self.name}' expects {len(self._input_tensors)} inputs, received "
                f"{len(new)}"
            )
        n = len(self._output_tensors)
        replayed = graph_utils.replay(self._input_tensors,
                                      self._output_tensors + self._graph_losses, new)
        outs = replayed[:n]
        for term in replayed[n:]:  # the inner graph's activity penalties, on the new inputs
            self.add_loss(term)
        return outs[0] if len(outs) == 1 else outs

    def __call__(self, *args, **kwargs):
        if not self._functional and not self.built:
            first = args[0] if args else kwargs.get("inputs")
            if not any(isinstance(t, SymbolicTensor) for t in _flatten(first)):
                import numpy as np
                self._build_from_arrays([np.asarray(a) for a in _flatten(first)])
        return Layer.__call__(self, *args, **kwargs)

    def _pack_outputs(self, outs):
        if self._functional and not isinstance(self._outputs_struct, (list, tuple)):
            return outs[0]
        return outs[0] if len(outs) == 1 else outs

    # ---- structure ------------------------------------------------------------------------
    @property
    def layers(self):
        return list(self._layers)

    def get_layer(self, name=None, index=None):
        if index is not None:
            if not -len(self._layers) <= index < len(self._layers):
                raise ValueError(
                    f"get_layer: index {index} is out of range for a model with "
                    f"{len(self._layers)} layers"
                )
            return self._layers[index]
        for layer in self._layers:
            if layer.name == name:
                return layer
        raise ValueError(
            f"No such layer: {name}. Existing layers are: {[l.name for l in self._layers]}."
        )

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None):
        from ember.utils.summary import print_summary
        print_summary(self, line_length=line_length, positions=positions, print_fn=print_fn,
                      expand_nested=expand_nested, show_trainable=show_trainable,
                      layer_range=layer_range)

    def get_config(self):
        if not self._functional:
            return Layer.get_config(self)
        from ember.models.functional_config import functional_config
        return functional_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        if "layers" in config and "input_layers" in config:
            from ember.models.functional_config import functional_from_config
            return functional_from_config(cls, config, custom_objects)
        return super().from_config(config)


def _output_name(tensor, index):
    layer = tensor._layer
    return layer.name if layer is not None else f"output_{index}"
