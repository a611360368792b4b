"""model.save / load_model and save_weights / load_weights, in one file format.

A model file is a safetensors file (file_format.py): the weights as tensors named by their
paths ("dense/kernel"), the optimizer's state as tensors "optimizer/slot_<k>" (flat, in the
parameter arena's layout), and in the header's metadata the architecture, compile arguments and
optimizer iterations as JSON. The `safetensors` package reads the weights; the C++ core reads
the whole file without Python. Writing is atomic; reading validates every offset and size and
never executes code from the file.
"""
import json

import numpy as np

from ember.saving import file_format

FORMAT = "ember.model"
WEIGHTS_FORMAT = "ember.weights"
VERSION = "1"
_MODEL_SUFFIXES = (".ember", ".keras")
_WEIGHTS_SUFFIXES = (".weights.ember", ".weights.h5")


# ---------------------------------------------------------------- architecture
def serialize_model(model):
    from ember.models import Model, Sequential
    cls = type(model)
    if cls is Sequential:
        name = "Sequential"
    elif cls is Model and model._functional:
        name = "Functional"
    else:  # a subclass: rebuilt from custom_objects, built from its input shape
        name = None
    config = model.get_config()
    from ember.saving.serialization import get_registered_name
    entry = {"module": "ember.models" if name else cls.__module__,
             "class_name": name or cls.__name__, "config": config,
             "registered_name": None if name else get_registered_name(cls)}
    if name is None:
        specs = model._trace(False)[0]
        shapes = [list(t.shape) for t in specs]
        entry["build_config"] = {"input_shape": shapes[0] if len(shapes) == 1 else shapes}
    return entry


def deserialize_model(entry, custom_objects=None):
    from ember.models import Model, Sequential
    custom_objects = custom_objects or {}
    name = entry.get("class_name")
    config = entry.get("config") or {}
    if name == "Sequential":
        return Sequential.from_config(config, custom_objects)
    if name in ("Functional", "Model") and "input_layers" in config:
        return Model.from_config(config, custom_objects)
    from ember.saving.serialization import get_registered_object
    cls = (get_registered_object(entry.get("registered_name") or name, custom_objects)
           or custom_objects.get(name))
    if cls is None:
        raise ValueError(
            f"cannot rebuild model class '{name}': pass it in custom_objects "
            f"(load_model(path, custom_objects={{'{name}': {name}}}))")
    model = cls.from_config(config)
    shape = (entry.get("build_config") or {}).get("input_shape")
    if shape is not None and not model.built:
        model.build(tuple(shape) if shape and not isinstance(shape[0], list)
                    else [tuple(s) for s in shape])
    return model


def _compile_config(model):
    from ember import losses, metrics, optimizers

    def encode(value, family):
        if value is None or isinstance(value, (str, int, float, bool)):
            return value
        if isinstance(value, (list, tuple)):
            return [encode(v, family) for v in value]
        if isinstance(value, dict):
            return {k: encode(v, family) for k, v in value.items()}
        serialize = losses.serialize if family == "loss" else metrics.serialize
        if hasattr(value, "get_config"):
            return serialize(value)
        name = getattr(value, "__name__", None)
        if name is not None:
            return name  # a built-in loss or metric function, found again by name
        raise TypeError(f"cannot save the {family} {value!r} of model '{model.name}'")

    return {"optimizer": optimizers.serialize(model.optimizer),
            "loss": encode(model._loss_arg, "loss"),
            "loss_weights": model._loss_weights_arg,
            "metrics": encode(model._metrics_arg, "metric")}


def _compile_from_config(model, config, custom_objects):
    from ember import losses, optimizers

    def decode(value):
        if isinstance(value, dict) and "class_name" in value:
            return value  # losses.get / metrics.get take config dicts
        if isinstance(value, list):
            return [decode(v) for v in value]
        if isinstance(value, dict):
            return {k: decode(v) for k, v in value.items()}
        return value

    loss = config.get("loss")
    if isinstance(loss, dict) and "class_name" in loss:
        loss = losses.deserialize(loss, custom_objects)
    model.compile(optimizer=optimizers.deserialize(config["optimizer"], custom_objects),
                  loss=decode(loss), loss_weights=config.get("loss_weights"),
                  metrics=decode(config.get("metrics")))


# ---------------------------------------------------------------- weights
def _weight_names(model):
    names, seen = [], {}
    for v in model.weights:
        name = v.path
        if name in seen:  # two variables with one path (unnamed layers in nested models)
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        else:
            seen[name] = 0
        names.append(name)
    return names


def _weight_tensors(model):
    return {name: v.numpy() for name, v in zip(_weight_names(model), model.weights)}


def _set_weights_from(model, tensors, names, path):
    weights = model.weights
    if len(names) != len(weights):
        raise ValueError(f"{path}: the file holds {len(names)} weights, model '{model.name}' has "
                         f"{len(weights)}")
    values = []
    for name, var in zip(names, weights):
        if name not in tensors:
            raise ValueError(f"{path}: weight '{name}' is listed but not stored in the file")
        value = tensors[name]
        if tuple(value.shape) != tuple(var.shape):
            raise ValueError(f"{path}: weight '{name}' has shape {tuple(value.shape)} in the "
                             f"file, the model's '{var.path}' has shape {tuple(var.shape)}")
        values.append(value)
    for var, value in zip(weights, values):
        var.assign(value.astype(var.dtype, copy=False))


def _check_suffix(path, suffixes, what):
    path = str(path)
    if not path.endswith(suffixes):
        raise ValueError(f"{what}: the file name must end with one of {list(suffixes)}, "
                         f"received '{path}'")
    return path


def _check_overwrite(path, overwrite):
    import os
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"'{path}' exists and overwrite=False")


# ---------------------------------------------------------------- public API
def save_model(model, filepath, overwrite=True, include_optimizer=True, extra_metadata=None):
    path = _check_suffix(filepath, _MODEL_SUFFIXES, "save")
    _check_overwrite(path, overwrite)
    if not model.built:
        raise ValueError(f"model '{model.name}' is not built yet: call it on data or build() "
                         "it before saving")
    tensors = _weight_tensors(model)
    metadata = {"format": FORMAT, "version": VERSION,
                "model_config": json.dumps(serialize_model(model)),
                "weight_names": json.dumps(list(tensors))}
    if model.compiled:
        metadata["compile_config"] = json.dumps(_compile_config(model))
        if include_optimizer and model.optimizer is not None:
            core = model.optimizer._core
            metadata["optimizer_iterations"] = str(int(model.optimizer.iterations))
            slots = core.slots() if core is not None else []
            for k, slot in enumerate(slots):
                tensors[f"optimizer/slot_{k}"] = np.asarray(slot)
            train = [s for s in (model._executable._steps.values() if model._executable else ())
                     if s.training]
            if train:  # the dropout stream, so training resumes with the same masks
                metadata["train_rng"] = json.dumps([train[0].program.seed,
                                                    train[0].program.steps])
    metadata.update(extra_metadata or {})
    file_format.write_file(path, tensors, metadata)


def _read(path, expected_format):
    metadata, tensors = file_format.read_file(str(path))
    fmt = metadata.get("format")
    if fmt not in (FORMAT, WEIGHTS_FORMAT) or (expected_format == FORMAT and fmt != FORMAT):
        raise ValueError(f"{path}: not an ember {'model' if expected_format == FORMAT else ''} "
                         f"file (format {fmt!r})")
    try:
        names = json.loads(metadata["weight_names"])
    except (KeyError, ValueError) as e:
        raise file_format.FileFormatError(f"{path}: missing or malformed weight list ({e})")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise file_format.FileFormatError(f"{path}: malformed weight list")
    return metadata, tensors, names


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    path = str(filepath)
    metadata, tensors, names = _read(path, FORMAT)
    try:
        entry = json.loads(metadata["model_config"])
    except (KeyError, ValueError) as e:
        raise file_format.FileFormatError(f"{path}: missing or malformed model config ({e})")
    model = deserialize_model(entry, custom_objects)
    _set_weights_from(model, tensors, names, path)
    if compile and "compile_config" in metadata:
        _compile_from_config(model, json.loads(metadata["compile_config"]), custom_objects)
        slots = [tensors[k] for k in sorted(
            (k for k in tensors if k.startswith("optimizer/slot_")),
            key=lambda k: int(k.rsplit("_", 1)[1]))]
        if "optimizer_iterations" in metadata:
            model.optimizer.iterations = int(metadata["optimizer_iterations"])
        if slots:
            model.optimizer._pending_slots = slots
        if "train_rng" in metadata:
            seed, steps = json.loads(metadata["train_rng"])
            model._restored_train_rng = (int(seed), int(steps))
    return model


def restore_training_state(model, filepath):
    """Loads into `model` (built and compiled as when the file was saved) its weights, its
    optimizer's slots and iterations and its dropout stream; returns the file's metadata. How
    BackupAndRestore resumes an interrupted fit."""
    path = str(filepath)
    metadata, tensors, names = _read(path, FORMAT)
    _set_weights_from(model, tensors, names, path)
    slots = [tensors[k] for k in sorted((k for k in tensors if k.startswith("optimizer/slot_")),
                                        key=lambda k: int(k.rsplit("_", 1)[1]))]
    optimizer = model.optimizer
    if "optimizer_iterations" in metadata:
        optimizer.iterations = int(metadata["optimizer_iterations"])
    if slots:
        if optimizer._core is not None:
            optimizer._core.set_slots(slots)
        else:
            optimizer._pending_slots = slots
    if "train_rng" in metadata:
        seed, steps = (int(v) for v in json.loads(metadata["train_rng"]))
        trained = [s for s in (model._executable._steps.values() if model._executable else ())
                   if s.training]
        for step in trained:
            step.program.set_seed(seed)
            step.program.steps = steps
        if not trained:
            model._restored_train_rng = (seed, steps)
    return metadata


def save_weights(model, filepath, overwrite=True):
    path = _check_suffix(filepath, _WEIGHTS_SUFFIXES, "save_weights")
    _check_overwrite(path, overwrite)
    tensors = _weight_tensors(model)
    file_format.write_file(path, tensors, {"format": WEIGHTS_FORMAT, "version": VERSION,
                                           "weight_names": json.dumps(list(tensors))})


def load_weights(model, filepath, skip_mismatch=False):
    path = str(filepath)
    _, tensors, names = _read(path, WEIGHTS_FORMAT)
    if skip_mismatch:
        raise NotImplementedError("load_weights: skip_mismatch=True is not supported yet")
    _set_weights_from(model, tensors, names, path)
