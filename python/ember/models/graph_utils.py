"""Walking and replaying recorded symbolic graphs (functional models)."""
from ember.backend.symbolic import SymbolicTensor
from ember.ops.core import apply_op


def topological_tensors(outputs):
    """Every symbolic tensor the outputs depend on, inputs first (by creation order)."""
    seen, order, stack = set(), [], list(outputs)
    while stack:
        t = stack.pop()
        if t.node.uid in seen:
            continue
        seen.add(t.node.uid)
        order.append(t)
        stack.extend(t.node.inputs)
    order.sort(key=lambda t: t.node.uid)
    return order


def model_layers(inputs, outputs):
    """The layers called between `inputs` and `outputs`, in call order, InputLayers first (as
    keras.Model.layers lists them). Layers called inside another layer's call are that layer's
    business, not the model's: the walk jumps over each call it meets."""
    input_ids = {t.node.uid for t in inputs}
    found = {}  # id(layer) -> [first output uid, layer]
    seen, stack = set(), list(outputs)
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        if t._history is not None:
            layer, layer_inputs = t._history
            entry = found.setdefault(id(layer), [t.node.uid, layer])
            entry[0] = min(entry[0], t.node.uid)
            stack.extend(layer_inputs)
        elif t.node.uid in input_ids or t.node.kind == "input":
            if t._layer is not None:
                found.setdefault(id(t._layer), [t.node.uid, t._layer])
        else:
            stack.extend(t.node.inputs)
    return [layer for _, layer in sorted(found.values(), key=lambda e: e[0])]


def replay(inputs, outputs, new_inputs):
    """Recomputes `outputs` with each tensor of `inputs` replaced by the matching entry of
    `new_inputs` (symbolic or concrete): how a functional model is called as a layer."""
    values = {t.node.uid: v for t, v in zip(inputs, new_inputs)}
    for t in topological_tensors(outputs):
        n = t.node
        if n.uid in values:
            continue
        if n.kind == "input":
            raise ValueError(
                f"the model's output depends on input '{n.name}', which is not one of the "
                "model's inputs"
            )
        if n.kind == "op":
            args = [values.get(i.node.uid, i) for i in n.inputs]
            values[n.uid] = apply_op(n.op, args, n.attrs, cast=False)
        elif n.kind == "param":
            values[n.uid] = n.variable
        else:
            values[n.uid] = n.value
    return [values[t.node.uid] for t in outputs]


def check_inputs(inputs):
    for t in inputs:
        if not isinstance(t, SymbolicTensor) or t.node.kind != "input":
            raise ValueError(
                "Model inputs must come from `ember.Input()`, received "
                f"{t!r}"
            )
