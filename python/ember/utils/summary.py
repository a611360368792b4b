"""Model.summary(): the table Keras 3 prints (keras/src/utils/summary_utils.py).

The table is built and rendered with `rich` exactly as Keras builds it (same columns, widths,
markup and console settings), so the text is identical, terminal width rules included. What
Keras reads from its Node objects (which call of which layer produced which tensor) ember
recovers from the recorded symbolic graph: a tensor tagged `_layer` is the output of a call of
that layer, and the tagged tensors it depends on through untagged op results are that call's
inputs.
"""
import math
import re
import shutil

import numpy as np
import rich
import rich.console
import rich.markup
import rich.table

from ember.models.graph_utils import topological_tensors


# ---- rich markup, as Keras themes it (colours only show on a colour terminal) ----------------
def highlight_number(x):
    if x is None:
        return f"[color(45)]{x}[/]"
    return f"[color(34)]{x}[/]"


def highlight_symbol(x):
    return f"[color(33)]{x}[/]"


def bold_text(x, color=None):
    if color:
        return f"[bold][color({color})]{x}[/][/]"
    return f"[bold]{x}[/]"


# ---- parameter counts and sizes ---------------------------------------------------------------
def count_params(weights):
    return int(sum(math.prod(w.shape) for w in weights))


def weight_memory_size(weights):
    """Bytes held by the distinct weights, each at its dtype's size."""
    unique = {id(w): w for w in weights}.values()
    return sum(math.prod(w.shape) * np.dtype(w.dtype).itemsize for w in unique)


def readable_memory_size(size):
    units = ["B", "KB", "MB", "GB", "TB", "PB"]
    for unit in units:
        if size / 1024 < 1:
            return "{:.2f} {}".format(size, unit)
        size /= 1024
    return "{:.2f} {}".format(size, units[-1])


# Slot variables Keras's optimizers create per trainable variable (their `build()`); ember's C++
# optimizer keeps the same slots (cpp/src/optim/optimizer.cpp, slot_count).
def _slots_per_variable(optimizer):
    kind = optimizer.kind
    if kind == "sgd":
        return 1 if optimizer.momentum != 0 else 0
    if kind in ("adam", "adamw"):
        return 3 if optimizer.amsgrad else 2
    if kind == "rmsprop":
        return 1 + (optimizer.momentum > 0) + bool(optimizer.centered)
    if kind == "adagrad":
        return 1
    return None  # a rule this table does not know: no optimizer line rather than a wrong one


def optimizer_params(model):
    """(count, bytes) of the optimizer's variables as Keras counts them, or None while the
    optimizer has no state. Keras builds its optimizer in the first fit/evaluate/*_on_batch;
    ember creates its C++ optimizer at the same moment (when a train/test program is built)."""
    optimizer = getattr(model, "optimizer", None)
    if not getattr(model, "compiled", False) or optimizer is None:
        return None
    if getattr(optimizer, "_core", None) is None:
        return None
    slots = _slots_per_variable(optimizer)
    if slots is None:
        return None
    trainable = model.trainable_weights
    # + Keras's `iteration` counter: dtype "int", int32 on the torch and jax backends
    count = slots * count_params(trainable) + 1
    size = slots * weight_memory_size(trainable) + 4
    if optimizer._schedule is None:  # a float learning rate is a float32 variable in Keras
        count += 1
        size += 4
    return count, size


# ---- the layer calls of a model graph (Keras's Nodes) -----------------------------------------
class _Call:
    """One call of a layer inside a model graph: its input and output tensors."""

    __slots__ = ("layer", "inputs", "outputs")

    def __init__(self, layer, inputs):
        self.layer = layer
        self.inputs = inputs
        self.outputs = []


class _CallGraph:
    """The calls of `is_row_layer` layers found in the graph of `outputs` (and `inputs`).

    Tensors tagged by other layers (sublayers running inside a row layer's call) count as
    intermediate results, as in Keras, where nested calls record no nodes.
    """

    def __init__(self, outputs, inputs=(), is_row_layer=None):
        self.outputs = list(outputs)
        tensors = topological_tensors(self.outputs + list(inputs))
        if is_row_layer is None:
            is_row_layer = _outermost_layers(tensors)
        self._is_boundary = lambda t: t.node.kind == "input" or (
            t._layer is not None and is_row_layer(t._layer))
        self.calls = {}  # id(layer) -> its calls in call order
        self.where = {}  # tensor uid -> (call, index of the tensor among the call's outputs)
        self.sources = {}  # uid of an untagged tensor -> the boundary tensors it depends on
        by_inputs = {}
        for t in tensors:
            inbound = self._inbound(t)
            if not self._is_boundary(t):
                self.sources[t.node.uid] = inbound
                continue
            if t._layer is None:
                continue  # a graph input made without an InputLayer
            # The outputs of one call share its inputs; that is how they are grouped.
            key = (id(t._layer), tuple(s.node.uid for s in inbound))
            call = by_inputs.get(key)
            if call is None:
                call = by_inputs[key] = _Call(t._layer, inbound)
                self.calls.setdefault(id(t._layer), []).append(call)
            self.where[t.node.uid] = (call, len(call.outputs))
            call.outputs.append(t)

    def _inbound(self, t):
        found, seen = [], set()
        for i in t.node.inputs:
            for s in (i,) if self._is_boundary(i) else self.sources[i.node.uid]:
                if s.node.uid not in seen:
                    seen.add(s.node.uid)
                    found.append(s)
        return tuple(found)

    def call_of(self, tensor):
        found = self.where.get(tensor.node.uid)
        return found[0] if found else None

    def calls_of(self, layer):
        return self.calls.get(id(layer), [])

    def node_index(self, call):
        return next(i for i, c in enumerate(self.calls_of(call.layer)) if c is call)

    def parents(self, call):
        return [c for c in (self.call_of(t) for t in call.inputs) if c is not None]

    def start_tensors(self):
        """The outputs, an untagged output (an op outside any layer) replaced by its inputs."""
        out = []
        for t in self.outputs:
            out.extend([t] if t.node.uid in self.where else self.sources.get(t.node.uid, ()))
        return out


def _outermost_layers(tensors):
    """A predicate true for layers tagging tensors that are not sublayers of another such."""
    tagged = {}
    for t in tensors:
        if t._layer is not None:
            tagged[id(t._layer)] = t._layer
    nested = {id(sub) for layer in tagged.values() for sub in layer._all_layers()}
    return lambda layer: id(layer) in tagged and id(layer) not in nested


def _map_graph(graph, inputs):
    """Keras's ops.function.map_graph: (layers in Keras's order, nodes grouped by depth)."""
    order, op_indices = [], {}
    finished = set()
    for start in graph.start_tensors():
        # Iterative depth-first search, as Keras's recursive _build_map_helper (no recursion
        # limit on deep models): index layers on first visit, list calls inputs-first.
        call = graph.call_of(start)
        if call is None or id(call) in finished:
            continue
        op_indices.setdefault(id(call.layer), len(op_indices))
        stack = [(call, iter(call.inputs))]
        while stack:
            call, pending = stack[-1]
            for t in pending:
                child = graph.call_of(t)
                if child is not None and id(child) not in finished:
                    op_indices.setdefault(id(child.layer), len(op_indices))
                    stack.append((child, iter(child.inputs)))
                    break
            else:
                stack.pop()
                if id(call) not in finished:
                    finished.add(id(call))
                    order.append(call)

    node_depth, layer_depth, layers = {}, {}, {}
    for call in reversed(order):
        depth = node_depth.setdefault(id(call), 0)
        depth = max(depth, layer_depth.get(id(call.layer), 0))  # shared layers: deepest use
        layer_depth[id(call.layer)] = depth
        layers[id(call.layer)] = call.layer
        node_depth[id(call)] = depth
        for parent in graph.parents(call):
            node_depth[id(parent)] = max(depth + 1, node_depth.get(id(parent), 0))
    calls = {id(c): c for c in order}
    for t in inputs:  # inputs that no output depends on are listed too
        call = graph.call_of(t)
        if call is not None and id(call.layer) not in layer_depth:
            layer_depth[id(call.layer)] = 0
            layers[id(call.layer)] = call.layer
            op_indices[id(call.layer)] = -1
            node_depth[id(call)] = 0
            calls[id(call)] = call

    nodes_by_depth = {}
    for key, depth in node_depth.items():
        nodes_by_depth.setdefault(depth, []).append(calls[key])
    by_depth = {}
    for key, depth in layer_depth.items():
        by_depth.setdefault(depth, []).append(key)
    ordered = []
    for depth in sorted(by_depth, reverse=True):
        ordered.extend(layers[k] for k in sorted(by_depth[depth], key=op_indices.__getitem__))
    return ordered, nodes_by_depth


# ---- what the table shows for each layer ------------------------------------------------------
class _ModelStructure:
    """The rows of a model's summary and, for each row layer, its output shape and inputs."""

    def __init__(self, model):
        from ember.models.sequential import Sequential

        self.graph = None
        self.sequential_like = True
        if isinstance(model, Sequential) or not getattr(model, "_functional", False):
            # Sequential and subclassed models: their layers, in order (as Keras lists them).
            self.layers = list(model.layers)
            outputs = _built_outputs(model)
            if outputs is not None:
                row_ids = {id(l) for l in self.layers}
                self.graph = _CallGraph(outputs, is_row_layer=lambda l: id(l) in row_ids)
            self._chain = isinstance(model, Sequential)
            return
        self._chain = False
        inputs = list(model.inputs)
        self.graph = _CallGraph(model.outputs, inputs)
        self.layers, nodes_by_depth = _map_graph(self.graph, inputs)
        for nodes in nodes_by_depth.values():
            # Branches (several calls at one depth) or merges (a call with several inputs)
            # make Keras add the "Connected to" column.
            if len(nodes) > 1 or (len(nodes) == 1 and len(nodes[0].inputs) > 1):
                self.sequential_like = False
                break
        if self.sequential_like:
            self.sequential_like = all(len(self.graph.calls_of(l)) <= 1 for l in self.layers)

    def output_shape(self, layer):
        calls = self.graph.calls_of(layer) if self.graph is not None else []
        if calls:
            return _format_shapes(calls[-1].outputs)  # Keras shows the last call's outputs
        if self._chain and layer.built:
            # A layer that returned its input unchanged (Dropout(0)) records no tensor; in a
            # Sequential chain its output is then the previous layer's output.
            i = next(i for i, l in enumerate(self.layers) if l is layer)
            return self.output_shape(self.layers[i - 1]) if i > 0 else "?"
        return "?"

    def connections(self, layer):
        parts = []
        for call in self.graph.calls_of(layer):
            for t in call.inputs:
                source = self.graph.where.get(t.node.uid)
                if source is None:
                    continue
                inbound_call, tensor_index = source
                node_index = highlight_number(self.graph.node_index(inbound_call))
                parts.append(
                    f"{inbound_call.layer.name}[{node_index}][{highlight_number(tensor_index)}]")
        return ", ".join(parts) or "-"


def _built_outputs(model):
    if not model.built:
        return None
    if getattr(model, "_functional", False):
        return model.outputs
    if not getattr(model, "_traces", None):
        return None
    return model._trace(False)[1]


def _format_shapes(tensors):
    shapes = [f"({', '.join(highlight_number(d) for d in t.shape)})" for t in tensors]
    if len(shapes) == 1:
        return shapes[0]
    return str(shapes).replace("'", "")


def _class_name(layer):
    from ember.models.model import Model
    if type(layer) is Model and layer._functional:
        return "Functional"  # keras.Model(inputs, outputs) is a keras Functional
    return type(layer).__name__


# ---- the summary ------------------------------------------------------------------------------
def print_summary(model, line_length=None, positions=None, print_fn=None, expand_nested=False,
                  show_trainable=False, layer_range=None):
    """Prints a summary of a model, as `keras.Model.summary()` does.

    Args:
        model: an ember Model (Sequential, functional or subclassed).
        line_length: total width of the table (default 88, or 108 with "Connected to",
            capped at the terminal width minus 4).
        positions: relative right edges of the columns (default [0.45, 0.80, 1.0], or
            [0.3, 0.56, 0.74, 1.0] with "Connected to").
        print_fn: called once with the whole summary text; default: print to stdout.
        expand_nested: also list the layers of nested models.
        show_trainable: add a column saying whether each layer's weights are trainable.
        layer_range: [first, last] layer names (regexes, both inclusive) to list.
    """
    from ember.models.model import Model

    structure = _ModelStructure(model)
    layers = structure.layers
    sequential_like = structure.sequential_like
    if sequential_like:
        default_line_length = 88
        positions = positions or [0.45, 0.80, 1.0]
        header = ["Layer (type)", "Output Shape", "Param #"]
        alignment = ["left", "left", "right"]
    else:
        default_line_length = 108
        positions = positions or [0.3, 0.56, 0.74, 1.0]
        header = ["Layer (type)", "Output Shape", "Param #", "Connected to"]
        alignment = ["left", "left", "right", "left"]
    if show_trainable:
        default_line_length += 12
        positions = [p * 0.90 for p in positions] + [1.0]
        header.append("Trainable")
        alignment.append("center")

    default_line_length = min(default_line_length, shutil.get_terminal_size().columns - 4)
    line_length = line_length or default_line_length
    column_widths, current = [], 0
    for pos in positions:
        width = int(pos * line_length) - current
        if width < 4:
            raise ValueError("Insufficient console width to print summary.")
        column_widths.append(width)
        current += width
    columns = [rich.table.Column(name, justify=alignment[i], width=column_widths[i])
               for i, name in enumerate(header)]
    table = rich.table.Table(*columns, width=line_length, show_lines=True)

    def layer_fields(layer, owner, prefix):
        name = rich.markup.escape(f"{prefix}{layer.name}")
        name += f" ({highlight_symbol(rich.markup.escape(_class_name(layer)))})"
        if not layer.built:
            params = f"{highlight_number(0)} (unbuilt)"
        else:
            params = highlight_number(f"{layer.count_params():,}")
        fields = [name, owner.output_shape(layer), params]
        if not sequential_like:
            # Layers of a nested model have no call in this graph: "-", as in Keras.
            fields.append(structure.connections(layer))
        if show_trainable:
            if layer.weights:
                fields.append(bold_text("Y", color=34) if layer.trainable
                              else bold_text("N", color=9))
            else:
                fields.append(bold_text("-"))
        return fields

    def layer_rows(layer, owner, level=0):
        prefix = "   " * level + "└ " if level else ""
        rows = [layer_fields(layer, owner, prefix)]
        if expand_nested and isinstance(layer, Model) and layer.layers:
            inner = _ModelStructure(layer)
            for sub in inner.layers:
                rows.extend(layer_rows(sub, inner, level + 1))
        return rows

    first, last = _layer_index_bounds(layers, layer_range)
    for layer in layers[first:last]:
        for row in layer_rows(layer, structure):
            table.add_row(*row)

    trainable_count = count_params(model.trainable_weights)
    trainable_size = weight_memory_size(model.trainable_weights)
    non_trainable_count = count_params(model.non_trainable_weights)
    non_trainable_size = weight_memory_size(model.non_trainable_weights)
    optimizer = optimizer_params(model)
    optimizer_count, optimizer_size = optimizer or (0, 0)
    total_count = trainable_count + non_trainable_count + optimizer_count
    total_size = trainable_size + non_trainable_size + optimizer_size

    if print_fn:  # captured as plain text for the caller
        console = rich.console.Console(highlight=False, force_terminal=False, color_system=None)
        console.begin_capture()
    else:
        console = rich.console.Console(highlight=False)
    console.print(bold_text(f'Model: "{rich.markup.escape(model.name)}"'))
    console.print(table)
    lines = [(" Total params: ", total_count, total_size),
             (" Trainable params: ", trainable_count, trainable_size),
             (" Non-trainable params: ", non_trainable_count, non_trainable_size)]
    if optimizer is not None:
        lines.append((" Optimizer params: ", optimizer_count, optimizer_size))
    for label, count, size in lines:
        console.print(bold_text(label) + highlight_number(f"{count:,}")
                      + f" ({readable_memory_size(size)})")
    if print_fn:
        print_fn(console.end_capture())


def _layer_index_bounds(layers, layer_range):
    """[first, last + 1] indices of the layers `layer_range` (two name regexes) selects."""
    if layer_range is None:
        return 0, len(layers)
    if len(layer_range) != 2:
        raise ValueError(
            "layer_range must be a list or tuple of length 2. Received: "
            f"layer_range = {layer_range} of length {len(layer_range)}"
        )
    if not isinstance(layer_range[0], str) or not isinstance(layer_range[1], str):
        raise ValueError(f"layer_range should contain string type only. Received: {layer_range}")
    lower = [i for i, l in enumerate(layers) if re.match(layer_range[0], l.name)]
    upper = [i for i, l in enumerate(layers) if re.match(layer_range[1], l.name)]
    if not lower or not upper:
        raise ValueError(
            "Passed layer_names do not match the layer names in the model. "
            f"Received: {layer_range}"
        )
    if min(lower) > max(upper):
        return min(upper), max(lower) + 1
    return min(lower), max(upper) + 1
