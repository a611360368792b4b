"""Lowers recorded symbolic nodes into a C++ graph."""
import numpy as np

from ember.backend.core import core


class GraphBuilder:
    """Adds symbolic tensors (and everything they depend on) to one C++ graph.

    Variables become parameter nodes numbered in the order they are first met, or in the order
    given to `add_variables`, which is how a model makes arena order equal to `model.weights`.
    """

    def __init__(self):
        self.graph = core.Graph()
        self._ids = {}  # node uid -> graph node id
        self.variables = []
        self._var_index = {}

    def add_variables(self, variables):
        for v in variables:
            if id(v) not in self._var_index:
                self._var_index[id(v)] = len(self.variables)
                self.variables.append(v)

    def add_input(self, shape, dtype, name):
        return self.graph.add_input(list(shape), dtype, name)

    def lower(self, tensor):
        """Graph node id of a symbolic tensor, adding what is missing in topological order."""
        node = tensor.node
        if node.uid in self._ids:
            return self._ids[node.uid]
        # Iterative post-order walk: deep models must not hit Python's recursion limit.
        stack = [(tensor, False)]
        while stack:
            t, expanded = stack.pop()
            n = t.node
            if n.uid in self._ids:
                continue
            if n.kind == "op" and not expanded:
                stack.append((t, True))
                stack.extend((i, False) for i in n.inputs if i.node.uid not in self._ids)
                continue
            self._ids[n.uid] = self._add(t)
        return self._ids[node.uid]

    def _add(self, t):
        n = t.node
        if n.kind == "input":
            return self.graph.add_input(list(t.shape), t.dtype, n.name)
        if n.kind == "const":
            return self.graph.add_constant(np.asarray(n.value, order="C"), n.name)
        if n.kind == "param":
            self.add_variables([n.variable])
            index = self._var_index[id(n.variable)]
            return self.graph.add_param(index, list(t.shape), t.dtype, n.name)
        inputs = [self._ids[i.node.uid] for i in n.inputs]
        return self.graph.add_op(n.op, n.attrs, inputs, n.name)

    def bind_input(self, tensor, graph_id):
        """Declares that `tensor` is fed through the existing graph input `graph_id`."""
        self._ids[tensor.node.uid] = graph_id

    def producer(self, tensor):
        return tensor.node
