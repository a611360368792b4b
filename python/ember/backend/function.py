"""Evaluates symbolic outputs from concrete inputs, and their gradients, through a C++ plan.

This is how ember.ops are gradient-checked and how a layer called on NumPy arrays runs.
"""
import numpy as np

from ember.backend.core import core
from ember.backend.lowering import GraphBuilder


class Function:
    def __init__(self, inputs, outputs, training=False):
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.training = training
        b = GraphBuilder()
        self._input_ids = []
        for t in self.inputs:
            gid = b.lower(t)
            self._input_ids.append(gid)
        self._output_ids = [b.lower(t) for t in self.outputs]
        self._graph = b.graph
        self._variables = b.variables
        self._plans = {}

    def _arena(self):
        if not self._variables:
            return None
        dtype = self._variables[0].dtype
        arena = core.ParamArena(dtype, [list(v.shape) for v in self._variables])
        for i, v in enumerate(self._variables):
            arena.value(i)[...] = v.value
            arena.set_trainable(i, v.trainable)
        return arena

    def _feeds(self, arrays):
        if len(arrays) != len(self.inputs):
            raise ValueError(f"expected {len(self.inputs)} input arrays, received {len(arrays)}")
        return [np.asarray(a, dtype=t.dtype, order="C") for a, t in zip(arrays, self.inputs)]

    def _plan(self, feeds, with_grads, arena):
        key = (tuple(f.shape for f in feeds), with_grads)
        plan = self._plans.get(key)
        if plan is None:
            seeds = self._output_ids if with_grads else []
            wrt = self._input_ids if with_grads else []
            plan = core.Plan(self._graph, self._input_ids, self._output_ids, seeds, wrt,
                             with_grads, self.training, [list(f.shape) for f in feeds], arena)
            self._plans[key] = plan
        return plan

    def __call__(self, *arrays, seed=0):
        feeds = self._feeds(arrays)
        arena = self._arena()
        plan = self._plan(feeds, False, arena)
        plan.run(feeds, arena, [], seed)
        if self.training and arena is not None:
            # State the ops updated in training (batch norm's moving statistics) goes back to
            # the variables, as a Keras layer called with training=True assigns it.
            for i, v in enumerate(self._variables):
                if not v.trainable:
                    v.assign(np.array(arena.value(i)))
        return [np.array(plan.value(i)) for i in self._output_ids]

    def gradients(self, arrays, output_grads, seed=0):
        """Values and gradients of sum(output_grads[k] * outputs[k]) w.r.t. inputs and variables.

        Returns (outputs, input_grads, variable_grads); variable_grads follows `variables`.
        """
        feeds = self._feeds(arrays)
        arena = self._arena()
        plan = self._plan(feeds, True, arena)
        grads = [np.asarray(g, dtype=t.dtype, order="C") for g, t in zip(output_grads, self.outputs)]
        plan.run(feeds, arena, grads, seed)
        outs = [np.array(plan.value(i)) for i in self._output_ids]
        in_grads = [self._grad_or_none(plan, i) for i in self._input_ids]
        var_grads = [np.array(arena.grad(k)) for k in range(len(self._variables))] if arena else []
        return outs, in_grads, var_grads

    @staticmethod
    def _grad_or_none(plan, node):
        try:
            return np.array(plan.grad(node))
        except IndexError:  # no gradient flows to this input (labels, disconnected inputs)
            return None

    @property
    def variables(self):
        return list(self._variables)
