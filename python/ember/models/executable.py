"""Compiles a model into C++ programs: one parameter arena shared by a predict program and a
train/test program per label signature. Built once; each batch is then one C++ call."""
import numpy as np

from ember import losses as losses_module
from ember import metrics as metrics_module
from ember import ops
from ember.backend.core import core
from ember.backend.lowering import GraphBuilder
from ember.backend.symbolic import input_tensor
from ember.utils import rng

_FUSABLE_WITH_SOFTMAX = ("categorical_crossentropy", "sparse_categorical_crossentropy")


class CompiledStep:
    """One C++ program with the Python objects that read its results."""

    def __init__(self, program, metric_objects, names, training, sizes):
        self.program = program
        self.training = training
        self.sizes = sizes  # values each metric's output contributes to the step's results
        self.metrics = metric_objects  # parallel to the values after the loss
        self.names = names


class Executable:
    def __init__(self, model):
        self.model = model
        self.weights = model.weights
        dtypes = {v.dtype for v in self.weights} or {"float32"}
        if len(dtypes) > 1:
            raise TypeError(f"model '{model.name}': all weights must share one dtype, found {dtypes}")
        self.dtype = dtypes.pop()
        self.arena = core.ParamArena(self.dtype, [list(v.shape) for v in self.weights])
        for i, v in enumerate(self.weights):
            v.bind(self.arena, i)
        self._steps = {}
        self._predict = None

    def matches(self, weights):
        return len(weights) == len(self.weights) and all(
            a is b for a, b in zip(weights, self.weights))

    def sync_trainable(self):
        for i, v in enumerate(self.weights):
            self.arena.set_trainable(i, v.trainable)

    def _builder(self, inputs):
        b = GraphBuilder()
        b.add_variables(self.weights)
        ids = [b.lower(t) for t in inputs]
        return b, ids

    def predict_program(self):
        if self._predict is None:
            inputs, outputs = self.model._trace(training=False)
            b, in_ids = self._builder(inputs)
            out_ids = [b.lower(t) for t in outputs]
            self._predict = core.Program(b.graph, self.arena, in_ids, [], out_ids, -1, [])
        return self._predict

    def step(self, training, ys, ws=None):
        """The train (training=True) or test program for labels shaped like `ys`; with sample
        weights `ws` (one array per output), the program takes them as further targets."""
        inputs, outputs = self.model._trace(training=training)
        key = (training, id(outputs[0]), tuple((a.shape[1:], str(a.dtype)) for a in ys),
               None if ws is None else tuple(w.shape[1:] for w in ws))
        found = self._steps.get(key)
        if found is None:
            found = self._build_step(inputs, outputs, ys, training, ws)
            self._steps[key] = found
        return found

    def _build_step(self, inputs, outputs, ys, training, ws=None):
        model = self.model
        b, in_ids = self._builder(inputs)
        out_ids = [b.lower(t) for t in outputs]
        targets, loss_terms, metric_terms, metric_objects, names = [], [], [], [], []
        weight_targets = []
        multi = len(outputs) > 1
        for k, (out, y) in enumerate(zip(outputs, ys)):
            loss = model._compiled_losses[k]
            prefix = f"{model._output_names[k]}_" if multi else ""
            y_sym = input_tensor((None,) + y.shape[1:], str(y.dtype), name=f"{prefix}target")
            targets.append(y_sym)
            w_sym = None
            if ws is not None:
                w_sym = input_tensor((None,) + ws[k].shape[1:], self.dtype,
                                     name=f"{prefix}sample_weight")
                weight_targets.append(w_sym)
            if loss is not None:
                mask = getattr(out, "_keras_mask", None)
                if getattr(loss, "reduction", None) in ("none", None) and isinstance(
                        loss, losses_module.Loss):
                    raise ValueError(f"loss '{loss.name}' has reduction 'none': its per-sample "
                                     "values cannot train a model (use 'sum_over_batch_size')")
                default = getattr(loss, "reduction", "sum_over_batch_size") in (
                    "sum_over_batch_size", "mean")
                if w_sym is None and mask is None and default:
                    loss_fn, prediction = _fuse_softmax(loss, out)
                    term = loss_fn(y_sym, prediction)
                else:  # per-sample losses, weighted and masked as Keras reduces them
                    term = loss(y_sym, out, sample_weight=w_sym, mask=mask)
                if multi:
                    metric_terms.append(term)
                    metric_objects.append(metrics_module.Mean(name=f"{prefix}loss"))
                weight = model._loss_weights[k]
                loss_terms.append(term if weight == 1.0 else ops.multiply(term, float(weight)))
            for spec in model._metric_specs[k]:
                metric = _metric_object(spec, loss, y, out)
                metric.name = prefix + metric.name
                metric_terms.append(metric.symbolic(y_sym, out))
                metric_objects.append(metric)
        if not loss_terms:
            raise ValueError(
                f"model '{model.name}': compile() was given no loss, so it cannot be trained or "
                "evaluated"
            )
        total = loss_terms[0]
        for term in loss_terms[1:] + model._trace_losses(training):
            total = ops.add(total, term)
        target_ids = [b.lower(t) for t in targets + weight_targets]
        loss_id = b.lower(total)
        metric_ids = [b.lower(t) for t in metric_terms]
        program = core.Program(b.graph, self.arena, in_ids, target_ids, out_ids, loss_id,
                               metric_ids)
        program.set_optimizer(model.optimizer.core_optimizer())
        restored = model.__dict__.pop("_restored_train_rng", None) if training else None
        if restored is not None:  # a loaded model resumes its random stream
            program.set_seed(restored[0])
            program.steps = restored[1]
        else:
            program.set_seed(rng.next_seed())
        names = ["loss"] + [m.name for m in metric_objects]
        sizes = [int(np.prod(t.shape)) for t in metric_terms]
        return CompiledStep(program, metric_objects, names, training, sizes)


def _fuse_softmax(loss, out):
    """softmax followed by cross-entropy on probabilities becomes cross-entropy on the logits:
    one fused, numerically stable op and no softmax backward. Returns (loss, prediction)."""
    node = out.node
    if (isinstance(loss, losses_module.LossFunctionWrapper)
            and loss.op in _FUSABLE_WITH_SOFTMAX and not loss.attrs.get("from_logits")
            and node.kind == "op" and node.op == "softmax"
            and node.attrs.get("axis", -1) in (-1, len(out.shape) - 1)):
        return type(loss)(**{**loss.get_config(), "from_logits": True}), node.inputs[0]
    return loss, out


def _metric_object(spec, loss, y, out):
    if isinstance(spec, str) and spec in ("accuracy", "acc"):
        loss_op = getattr(loss, "op", None)
        return metrics_module.resolve_accuracy(loss_op, y.shape, out.shape, name=spec)
    metric = metrics_module.get(spec)
    if not hasattr(metric, "symbolic"):
        raise ValueError(f"metric {spec!r} cannot be compiled into the model: it has no "
                         "symbolic form (Mean and Sum take values through update_state)")
    return metric


def label_array_dtype(loss, y, float_dtype):
    """Sparse cross-entropy keeps integer labels; every other loss compares floats."""
    y = np.asarray(y)
    if getattr(loss, "op", None) == "sparse_categorical_crossentropy" and y.dtype.kind in "biu":
        return "int64" if y.dtype == np.int64 else "int32"
    return float_dtype
