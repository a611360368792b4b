"""The config of a functional model in Keras 3's format: its layers, each with the calls that
built the graph ("inbound_nodes": args and kwargs, tensors written as references
[layer name, node index, tensor index]), and the input/output references. `from_config` rebuilds
the layers and replays the calls in an order where every argument already exists."""
import numpy as np

from ember.backend.symbolic import SymbolicTensor
from ember.layers.input_layer import InputLayer
from ember.layers.layer import _flatten

_TENSOR = "__keras_tensor__"


def _graph_calls(model):
    """{id(layer): [CallRecord, ...]} of the calls between the model's inputs and outputs, each
    list in call order, and the layers in call order."""
    input_ids = {id(t) for t in model._input_tensors}
    calls, seen, stack = {}, set(), list(model._output_tensors)
    while stack:
        t = stack.pop()
        if id(t) in seen or id(t) in input_ids:
            continue
        seen.add(id(t))
        if t._call is None:
            raise NotImplementedError(
                f"model '{model.name}': its graph applies ember.ops outside any layer (tensor "
                f"{t!r}); such a model cannot be saved as a config — wrap the computation in a "
                "Lambda layer or a custom Layer")
        record = t._call[0]
        calls.setdefault(id(record.layer), {})[id(record)] = record
        stack.extend(x for x in _flatten(list(record.args) + list(record.kwargs.values()))
                     if isinstance(x, SymbolicTensor))
    first_uid = {id(r): min(o.node.uid for o in r.outputs if isinstance(o, SymbolicTensor))
                 for by_layer in calls.values() for r in by_layer.values()}
    ordered = {k: sorted(v.values(), key=lambda r: first_uid[id(r)]) for k, v in calls.items()}
    return ordered


def functional_config(model):
    from ember import layers as layers_module
    calls = _graph_calls(model)
    node_index = {}
    for records in calls.values():
        for i, r in enumerate(records):
            node_index[id(r)] = i
    names = {}

    def ref(t):
        if t._call is not None and id(t._call[0]) in node_index:
            record, index = t._call
            return [record.layer.name, node_index[id(record)], index]
        if t._layer is not None and isinstance(t._layer, InputLayer):
            return [t._layer.name, 0, 0]
        raise NotImplementedError(f"model '{model.name}': tensor {t!r} is not made by a layer "
                                  "of the model, so the model cannot be saved as a config")

    def encode(value, where):
        if isinstance(value, SymbolicTensor):
            return {"class_name": _TENSOR, "config": {
                "shape": list(value.shape), "dtype": value.dtype, "keras_history": ref(value)}}
        if isinstance(value, (list, tuple)):
            return [encode(v, where) for v in value]
        if isinstance(value, dict):
            return {str(k): encode(v, where) for k, v in value.items()}
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, (np.integer, np.floating, np.bool_)):
            return value.item()
        raise NotImplementedError(
            f"model '{model.name}': {where} was called with an argument of type "
            f"{type(value).__name__}, which a model config cannot hold")

    entries = []
    for layer in model.layers:
        if layer.name in names:
            raise ValueError(f"model '{model.name}': two layers are named '{layer.name}'; "
                             "layer names must be unique to save a model")
        names[layer.name] = layer
        entry = layers_module.serialize(layer)
        entry["name"] = layer.name
        nodes = []
        for record in calls.get(id(layer), []):
            where = f"layer '{layer.name}'"
            nodes.append({"args": encode(list(record.args), where),
                          "kwargs": encode(record.kwargs, where)})
        entry["inbound_nodes"] = nodes
        entries.append(entry)
    return {"name": model.name, "trainable": model.trainable, "layers": entries,
            "input_layers": _nest(model._inputs_struct, ref),
            "output_layers": _nest(model._outputs_struct, ref)}


def _nest(struct, fn):
    if isinstance(struct, (list, tuple)):
        return [_nest(s, fn) for s in struct]
    if isinstance(struct, dict):
        return {k: _nest(v, fn) for k, v in struct.items()}
    return fn(struct)


def functional_from_config(cls, config, custom_objects=None, make_layer=None):
    """The model a functional config describes; `make_layer(entry)` builds each layer (default:
    deserialize its config)."""
    from ember import layers as layers_module
    layers, pending = {}, []
    for entry in config["layers"]:
        layer = (make_layer(entry) if make_layer is not None
                 else layers_module.deserialize(entry, custom_objects))
        name = entry.get("name", layer.name)
        layers[name] = layer
        for index, node in enumerate(entry.get("inbound_nodes", [])):
            pending.append((name, index, node))
    produced = {}  # (layer name, node index) -> flat outputs
    for name, layer in layers.items():
        if isinstance(layer, InputLayer):
            produced[(name, 0)] = [layer.output]

    def resolve(value):
        if isinstance(value, dict) and value.get("class_name") == _TENSOR:
            name, node, index = value["config"]["keras_history"]
            return produced[(name, node)][index]
        if isinstance(value, list):
            return [resolve(v) for v in value]
        if isinstance(value, dict):
            return {k: resolve(v) for k, v in value.items()}
        return value

    def ready(value):
        if isinstance(value, dict) and value.get("class_name") == _TENSOR:
            name, node, _ = value["config"]["keras_history"]
            return (name, node) in produced
        if isinstance(value, list):
            return all(ready(v) for v in value)
        if isinstance(value, dict):
            return all(ready(v) for v in value.values())
        return True

    while pending:
        progress = False
        for item in list(pending):
            name, index, node = item
            if not ready(node.get("args", [])) or not ready(node.get("kwargs", {})):
                continue
            args = resolve(node.get("args", []))
            kwargs = resolve(node.get("kwargs", {}))
            outputs = layers[name](*args, **kwargs)
            produced[(name, index)] = _flatten(outputs)
            pending.remove(item)
            progress = True
        if not progress:
            missing = sorted({f"{n}[{i}]" for n, i, _ in pending})
            raise ValueError(f"model config '{config.get('name')}': the calls {missing} refer "
                             "to tensors no layer of the config produces")
    inputs = _restructure(config["input_layers"], produced)
    outputs = _restructure(config["output_layers"], produced)
    return cls(inputs=inputs, outputs=outputs, name=config.get("name"),
               trainable=config.get("trainable", True))


def _restructure(refs, produced):
    """Keras writes one reference as [name, node, index] and several as a list of them."""
    if isinstance(refs, list) and len(refs) == 3 and isinstance(refs[0], str):
        return produced[(refs[0], refs[1])][refs[2]]
    if isinstance(refs, dict):
        return {k: _restructure(v, produced) for k, v in refs.items()}
    return [_restructure(r, produced) for r in refs]
