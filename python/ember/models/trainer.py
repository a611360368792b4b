"""The Keras training API: compile, fit, evaluate, predict and the *_on_batch calls.

Per batch, Python slices the data, makes one C++ call (forward, loss, backward and optimizer
update all happen there) and updates the running means the progress bar shows.
"""
import numpy as np

from ember import losses as losses_module
from ember import metrics as metrics_module
from ember import optimizers as optimizers_module
from ember.callbacks import CallbackList, History
from ember.models import batch_sources, data
from ember.models.executable import Executable, label_array_dtype
from ember.utils import rng


class Trainer:
    def _init_trainer(self):
        self.compiled = False
        self.optimizer = None
        self.stop_training = False
        self.history = None
        self._executable = None
        self._loss_tracker = metrics_module.Mean(name="loss")

    # ---- saving ---------------------------------------------------------------------------
    def save(self, filepath, overwrite=True, include_optimizer=True, _extra_metadata=None,
             **kwargs):
        """One file with the architecture, the weights and the optimizer state (.ember)."""
        from ember.saving.model_io import save_model
        save_model(self, filepath, overwrite=overwrite, include_optimizer=include_optimizer,
                   extra_metadata=_extra_metadata)

    def save_weights(self, filepath, overwrite=True):
        from ember.saving.model_io import save_weights
        save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath, skip_mismatch=False, **kwargs):
        from ember.saving.model_io import load_weights
        load_weights(self, filepath, skip_mismatch=skip_mismatch)

    # ---- compile --------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1,
                jit_compile="auto", auto_scale_loss=True):
        if weighted_metrics:
            raise NotImplementedError("compile: weighted_metrics is not supported yet")
        self.optimizer = optimizers_module.get(optimizer)
        self._loss_arg, self._loss_weights_arg, self._metrics_arg = loss, loss_weights, metrics
        self.compiled = True
        self._steps_cache_reset()
        if self.built:
            self._resolve_compile_args()

    def _steps_cache_reset(self):
        if self._executable is not None:
            self._executable._steps.clear()

    def _resolve_compile_args(self):
        """Matches losses, loss weights and metrics to the model's outputs (Keras rules)."""
        names = self._output_names
        n = len(names)
        self._compiled_losses = [losses_module.get(l) for l in _per_output(
            self._loss_arg, names, "loss")]
        weights = self._loss_weights_arg
        self._loss_weights = [1.0 if w is None else float(w) for w in _per_output(
            weights if weights is not None else None, names, "loss_weights")]
        metrics = self._metrics_arg
        if metrics is None:
            self._metric_specs = [[] for _ in range(n)]
        elif isinstance(metrics, dict):
            self._metric_specs = [_as_list(metrics.get(k)) for k in names]
        elif n > 1 and isinstance(metrics, (list, tuple)) and all(
                isinstance(m, (list, tuple)) or m is None for m in metrics):
            if len(metrics) != n:
                raise ValueError(f"compile: expected {n} metric lists, received {len(metrics)}")
            self._metric_specs = [_as_list(m) for m in metrics]
        else:  # one list applied to every output, as Keras does
            self._metric_specs = [_as_list(metrics) for _ in range(n)]
        for specs in self._metric_specs:
            for spec in specs:
                if isinstance(spec, str) and spec not in ("accuracy", "acc"):
                    metrics_module.get(spec)  # fails now, naming the valid metrics

    def _assert_compiled(self, what):
        if not self.compiled:
            raise RuntimeError(
                f"You must call compile() on model '{self.name}' before calling {what}()"
            )

    # ---- plumbing -------------------------------------------------------------------------
    def _prepare(self, x, y, what):
        """Builds the model from x if needed; returns x (and y) as lists of typed arrays."""
        xs = self._split_inputs(x)
        if not self.built:
            self._build_from_arrays(xs)
        if not hasattr(self, "_compiled_losses") and self.compiled:
            self._resolve_compile_args()
        specs = self._trace(training=False)[0]
        xs = data.to_arrays(xs, "x", [t.dtype for t in specs])
        data.check_input_shapes(xs, specs, self.name)
        ys = None
        if y is not None:
            ys = _split(y, len(self._output_names), "y")
            float_dtype = self._executable_for().dtype
            ys = data.to_arrays(ys, "y", [
                label_array_dtype(l, a, float_dtype) for l, a in zip(self._compiled_losses, ys)])
        data.check_lengths(xs, ys)
        return xs, ys

    def _sample_weights(self, sample_weight, class_weight, ys, what):
        """One float array of per-sample weights per output (Keras's rules), or None."""
        if sample_weight is None and class_weight is None:
            return None
        dtype = self._executable_for().dtype
        n = len(ys[0])
        if class_weight is not None:
            if len(ys) > 1:
                raise ValueError(f"{what}: `class_weight` is only supported for models with a "
                                 f"single output; model '{self.name}' has {len(ys)}")
            if not isinstance(class_weight, dict):
                raise TypeError(f"{what}: `class_weight` must be a dict of class index to "
                                f"weight, received {type(class_weight).__name__}")
            if sample_weight is not None:
                raise ValueError(f"{what}: pass `sample_weight` or `class_weight`, not both")
            y = ys[0]
            if y.ndim > 1:
                y = np.argmax(y, axis=-1) if y.shape[-1] != 1 else np.squeeze(y, -1)
            labels = np.round(y).astype(np.int64).reshape(n, -1)[:, 0]
            return [np.array([class_weight.get(int(c), 1.0) for c in labels], dtype=dtype)]
        weights = sample_weight if isinstance(sample_weight, (list, tuple)) else [sample_weight]
        if len(weights) != len(ys):
            raise ValueError(f"{what}: expected {len(ys)} sample_weight arrays (one per output), "
                             f"received {len(weights)}")
        out = []
        for w in weights:
            w = np.ones(n, dtype=dtype) if w is None else np.asarray(w, dtype=dtype)
            if w.ndim == 0 or len(w) != n:
                raise ValueError(f"{what}: sample_weight must have one entry per sample ({n}), "
                                 f"received shape {w.shape}")
            out.append(np.ascontiguousarray(w))
        return out

    def _split_inputs(self, x):
        if x is None:
            raise ValueError("expected input data x, received None")
        if self.built:
            n = len(self._input_specs())
        else:  # as Keras, an unbuilt (subclassed) model takes a list of arrays as many inputs
            n = len(x) if isinstance(x, (list, tuple)) and len(x) > 1 and all(
                hasattr(a, "shape") for a in x) else 1
        return _split(x, n, "x")

    def _executable_for(self):
        weights = self.weights
        if self._executable is None or not self._executable.matches(weights):
            self._executable = Executable(self)
        self._executable.sync_trainable()
        return self._executable

    def _learning_rate(self):
        return self.optimizer.current_learning_rate()

    def _record(self, step, values, batch_size):
        self._loss_tracker.accumulate(values[0], batch_size)
        at = 1
        for m, size in zip(step.metrics, step.sizes):
            m.record(values[at:at + size], batch_size)
            at += size

    def _tracker_states(self, step):
        """The running means of the loss and metrics (for BackupAndRestore)."""
        return [m.get_state() for m in [self._loss_tracker] + list(step.metrics)]

    def _restore_trackers(self, step, states):
        for m, state in zip([self._loss_tracker] + list(step.metrics), states):
            m.set_state(state)

    def _reset_trackers(self, step):
        self._loss_tracker.reset_state()
        for m in step.metrics:
            m.reset_state()

    def _logs(self, step):
        logs = {m.name: m.result() for m in step.metrics}
        logs["loss"] = self._loss_tracker.result()
        return logs

    # ---- fit ------------------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        self._assert_compiled("fit")
        batch_size = _batch_size(batch_size)
        source = None
        if batch_sources.is_batch_source(x):
            _check_batch_source_args("fit", y, sample_weight, validation_split)
            source = batch_sources.BatchSource(x, steps_per_epoch, shuffle, "fit")
            bx, by, bw = batch_sources.unpack(source.peek())
            if by is None:
                raise ValueError("fit: the input yields batches without labels; expected "
                                 "(x, y) or (x, y, sample_weight)")
            xs, ys = self._prepare(bx, by, "fit")  # builds the model from the first batch
            ws = self._sample_weights(bw, class_weight, ys, "fit")
            steps = source.steps
        else:
            if y is None:
                raise ValueError("fit: expected labels y, received None")
            xs, ys = self._prepare(x, y, "fit")
            ws = self._sample_weights(sample_weight, class_weight, ys, "fit")
        if source is None and validation_split and validation_data is None:
            arrays = ys + (ws or [])
            (xs, arrays), (vx, vy) = data.split_validation(xs, arrays, validation_split)
            ys, ws = arrays[:len(ys)], (arrays[len(ys):] or None)
            validation_data = (vx, vy[:len(ys)]) + ((vy[len(ys):],) if ws else ())
        elif validation_data is not None and not batch_sources.is_batch_source(validation_data):
            if len(validation_data) not in (2, 3):
                raise ValueError(
                    "fit: validation_data must be a tuple (x_val, y_val) or (x_val, y_val, "
                    f"val_sample_weight), received {len(validation_data)} items"
                )
        exe = self._executable_for()
        step = exe.step(True, ys, ws)
        if source is None:
            steps = steps_per_epoch or data.num_batches(len(xs[0]), batch_size)
        verbose = _verbose(verbose)
        self.history = History()
        cbs = CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=self,
                           verbose=verbose, epochs=epochs, steps=steps)
        for cb in cbs.callbacks:
            if isinstance(cb, History):
                self.history = cb
        self.stop_training = False
        generator = rng.numpy_generator()
        self._fit_generator = generator  # its state is part of a BackupAndRestore backup
        cbs.on_train_begin()
        # BackupAndRestore may have restored an interrupted run: where it stopped.
        resume = self.__dict__.pop("_fit_resume", None)
        first_epoch, skip = initial_epoch, 0
        if resume is not None:
            first_epoch, skip = resume["epoch"], resume["batch"]
            generator.bit_generator.state = resume["generator"]
        logs = {}
        training_logs = None  # Keras hands on_train_end the last epoch's logs (with val_*)
        for epoch in range(first_epoch, epochs):
            if skip:  # the resumed epoch's running means go on from the saved ones
                self._restore_trackers(step, resume["trackers"])
            else:
                self._reset_trackers(step)
            # Where this epoch starts, for BackupAndRestore: its data order and its means.
            self._fit_position = {"epoch": epoch, "batch": skip,
                                  "generator": generator.bit_generator.state}
            cbs.on_epoch_begin(epoch)
            if source is None:
                batches = self._epoch_batches(xs, ys + (ws or []), batch_size, shuffle, steps,
                                              generator)
            else:
                batches = self._source_batches(source, generator, class_weight, "fit")
            for i, (bx, by) in enumerate(batches):
                if i < skip:  # done before the interruption: same order, not trained again
                    continue
                cbs.on_train_batch_begin(i)
                if source is not None:
                    step = exe.step(True, by[:len(ys)], by[len(ys):] or None)
                values = step.program.train_step(bx, by, self._learning_rate())
                self._record(step, values, len(bx[0]))
                self._fit_position["batch"] = i + 1
                logs = self._logs(step)
                cbs.on_train_batch_end(i, logs)
                if self.stop_training:
                    break
            skip = 0
            epoch_logs = dict(logs)
            if validation_data is not None and (epoch + 1) % validation_freq == 0:
                vdata = ((validation_data, None, None)
                         if batch_sources.is_batch_source(validation_data)
                         else tuple(validation_data) + (None,) * (3 - len(validation_data)))
                val = self.evaluate(vdata[0], vdata[1], sample_weight=vdata[2],
                                    batch_size=validation_batch_size or batch_size, verbose=0,
                                    steps=validation_steps, return_dict=True, _quiet=True,
                                    callbacks=cbs)  # as Keras: validation fires on_test_*
                epoch_logs.update({f"val_{k}": v for k, v in val.items()})
            cbs.on_epoch_end(epoch, epoch_logs)
            training_logs = epoch_logs
            if self.stop_training:
                break
        cbs.on_train_end(training_logs)
        return self.history

    def _source_batches(self, source, generator, class_weight, what):
        """One epoch of a batch source as (inputs, targets + sample weights) arrays."""
        for element in source.epoch(generator):
            bx, by, bw = batch_sources.unpack(element)
            if by is None:
                raise ValueError(f"{what}: the input yields batches without labels; expected "
                                 "(x, y) or (x, y, sample_weight)")
            xs, ys = self._prepare(bx, by, what)
            ws = self._sample_weights(bw, class_weight, ys, what)
            yield xs, ys + (ws or [])

    def _epoch_batches(self, xs, ys, batch_size, shuffle, steps, generator):
        """`steps` batches; with steps_per_epoch beyond one pass, the data is cycled."""
        n = len(xs[0])
        arrays = xs + ys
        done = 0
        while done < steps:
            order = generator.permutation(n) if shuffle else None
            for batch in data.batches(arrays, batch_size, order):
                yield batch[:len(xs)], batch[len(xs):]
                done += 1
                if done >= steps:
                    return

    # ---- evaluate / predict ---------------------------------------------------------------
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False, _quiet=False, **kwargs):
        self._assert_compiled("evaluate")
        batch_size = _batch_size(batch_size)
        source = None
        if batch_sources.is_batch_source(x):
            _check_batch_source_args("evaluate", y, sample_weight)
            source = batch_sources.BatchSource(x, steps, False, "evaluate")
            bx, by, bw = batch_sources.unpack(source.peek())
            if by is None:
                raise ValueError("evaluate: the input yields batches without labels; expected "
                                 "(x, y) or (x, y, sample_weight)")
            xs, ys = self._prepare(bx, by, "evaluate")
            ws = self._sample_weights(bw, None, ys, "evaluate")
            steps = source.steps
        else:
            if y is None:
                raise ValueError("evaluate: expected labels y, received None")
            xs, ys = self._prepare(x, y, "evaluate")
            ws = self._sample_weights(sample_weight, None, ys, "evaluate")
        exe = self._executable_for()
        step = exe.step(False, ys, ws)
        n_targets = len(ys)
        ys = ys + (ws or [])  # the weights travel with the labels, as the program's targets
        if source is None:
            total = data.num_batches(len(xs[0]), batch_size)
            steps = min(steps or total, total)
            batches = ((b[:len(xs)], b[len(xs):]) for b in data.batches(xs + ys, batch_size))
        else:
            batches = self._source_batches(source, None, None, "evaluate")
        verbose = _verbose(verbose)
        if isinstance(callbacks, CallbackList):  # fit's own list: keep its params and progbar
            cbs = callbacks
        else:
            cbs = CallbackList(callbacks, add_progbar=verbose != 0 and not _quiet, model=self,
                               verbose=verbose, epochs=1, steps=steps)
        self._reset_trackers(step)
        cbs.on_test_begin()
        logs = {}
        for i, (bx, by) in enumerate(batches):
            if steps is not None and i >= steps:
                break
            cbs.on_test_batch_begin(i)
            if source is not None:
                step = exe.step(False, by[:n_targets], by[n_targets:] or None)
            values = step.program.test_step(bx, by)
            self._record(step, values, len(bx[0]))
            logs = self._logs(step)
            cbs.on_test_batch_end(i, logs)
        cbs.on_test_end(logs)
        if return_dict:
            return logs
        ordered = [logs["loss"]] + [logs[m.name] for m in step.metrics]
        return ordered[0] if len(ordered) == 1 else ordered

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        batch_size = _batch_size(batch_size)
        if batch_sources.is_batch_source(x):
            source = batch_sources.BatchSource(x, steps, False, "predict")
            xs, _ = self._prepare(batch_sources.unpack(source.peek())[0], None, "predict")
            steps = source.steps
            batches = (self._prepare(batch_sources.unpack(e)[0], None, "predict")[0]
                       for e in source.epoch())
        else:
            xs, _ = self._prepare(x, None, "predict")
            total = data.num_batches(len(xs[0]), batch_size)
            steps = min(steps or total, total)
            batches = data.batches(xs, batch_size)
        program = self._executable_for().predict_program()
        verbose = _verbose(verbose)
        cbs = CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose,
                           epochs=1, steps=steps)
        cbs.on_predict_begin()
        chunks = []
        for i, batch in enumerate(batches):
            if steps is not None and i >= steps:
                break
            cbs.on_predict_batch_begin(i)
            chunks.append(program.predict_step(batch))
            cbs.on_predict_batch_end(i, {"outputs": chunks[-1]})
        cbs.on_predict_end()
        outs = [np.concatenate([c[k] for c in chunks]) for k in range(len(self._output_names))]
        return self._pack_outputs(outs)

    # ---- single batches -------------------------------------------------------------------
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        self._assert_compiled("train_on_batch")
        xs, ys = self._prepare(x, y, "train_on_batch")
        ws = self._sample_weights(sample_weight, class_weight, ys, "train_on_batch")
        step = self._executable_for().step(True, ys, ws)
        values = step.program.train_step(xs, ys + (ws or []), self._learning_rate())
        return _single_result(step, values, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        self._assert_compiled("test_on_batch")
        xs, ys = self._prepare(x, y, "test_on_batch")
        ws = self._sample_weights(sample_weight, None, ys, "test_on_batch")
        step = self._executable_for().step(False, ys, ws)
        values = step.program.test_step(xs, ys + (ws or []))
        return _single_result(step, values, return_dict)

    def predict_on_batch(self, x):
        xs, _ = self._prepare(x, None, "predict_on_batch")
        outs = self._executable_for().predict_program().predict_step(xs)
        return self._pack_outputs(outs)

    def reset_metrics(self):
        self._loss_tracker.reset_state()

    @property
    def metrics(self):
        """The loss tracker and the compiled metrics (Keras's `model.metrics`), once built."""
        if self._executable is None or not self._executable._steps:
            return []
        return [self._loss_tracker] + list(next(iter(self._executable._steps.values())).metrics)

    @property
    def metrics_names(self):
        return [m.name for m in self.metrics]


def _single_result(step, values, return_dict):
    """Keras's *_on_batch return this batch's values (loss first, then metrics)."""
    if return_dict:
        out = {name: float(v) for name, v in zip(step.names[1:], values[1:])}
        out["loss"] = float(values[0])
        return out
    values = [float(v) for v in values]
    return values[0] if len(values) == 1 else values


def _check_batch_source_args(what, y, sample_weight, validation_split=0.0):
    """Keras: a dataset, generator or PyDataset carries its own labels and weights."""
    for name, value in (("y", y), ("sample_weight", sample_weight)):
        if value is not None:
            raise ValueError(f"{what}: the `{name}` argument is not supported when the input is "
                             "a dataset, a generator or a PyDataset (its batches carry it)")
    if validation_split:
        raise ValueError(f"{what}: validation_split is not supported when the input is a "
                         "dataset, a generator or a PyDataset; pass validation_data")


def _batch_size(batch_size):
    if batch_size is None:
        return 32
    if not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer, received {batch_size!r}")
    return int(batch_size)


def _verbose(verbose):
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 'auto', 0, 1 or 2, received {verbose!r}")
    return verbose


def _as_list(m):
    if m is None:
        return []
    return list(m) if isinstance(m, (list, tuple)) else [m]


def _split(x, n, what):
    """x for an n-input (or n-output) model as a list of n arrays."""
    if isinstance(x, dict):
        raise NotImplementedError(f"{what}: dicts of arrays are not supported yet; pass a list")
    if n == 1:
        if isinstance(x, (list, tuple)) and len(x) == 1 and hasattr(x[0], "shape"):
            return [x[0]]
        return [x]
    if not isinstance(x, (list, tuple)) or len(x) != n:
        got = len(x) if isinstance(x, (list, tuple)) else 1
        raise ValueError(f"{what}: the model has {n} {'inputs' if what == 'x' else 'outputs'}, "
                         f"so {what} must be a list of {n} arrays, received {got}")
    return list(x)


def _per_output(arg, names, what):
    n = len(names)
    if isinstance(arg, dict):
        unknown = set(arg) - set(names)
        if unknown:
            raise ValueError(f"compile: {what} names unknown outputs {sorted(unknown)}; the "
                             f"outputs are {names}")
        return [arg.get(k) for k in names]
    if isinstance(arg, (list, tuple)):
        if len(arg) != n:
            raise ValueError(f"compile: expected {n} entries in {what}, received {len(arg)}")
        return list(arg)
    return [arg] * n
