"""clone_model: the same architecture with new layers (fresh weights), as Keras's."""
from ember.layers.input_layer import InputLayer


def _default_clone(layer):
    return type(layer).from_config(layer.get_config())


def clone_model(model, input_tensors=None, clone_function=None, **kwargs):
    """A new model of the same structure. Each layer is rebuilt by `clone_function(layer)`
    (default: from its config, so with freshly initialised weights); weights are not copied."""
    from ember.models.model import Model
    from ember.models.sequential import Sequential
    if kwargs:
        raise NotImplementedError(f"clone_model: arguments {sorted(kwargs)} are not supported")
    clone = clone_function or _default_clone
    if isinstance(model, Sequential):
        layers = [clone(layer) for layer in model._stack]
        if input_tensors is not None:
            return Sequential([input_tensors] + layers, name=model.name)
        first = [model._input_layer] if model._input_layer is not None else []
        first = [InputLayer(batch_shape=l.batch_shape, dtype=l.dtype) for l in first]
        return Sequential(first + layers, name=model.name)
    if not (type(model) is Model and model._functional):
        raise ValueError(f"clone_model: model '{model.name}' is a subclassed model; only "
                         "Sequential and functional models can be cloned (rebuild it with its "
                         "class instead)")
    if input_tensors is not None:
        raise NotImplementedError("clone_model: input_tensors for functional models is not "
                                  "supported yet")
    from ember.models.functional_config import functional_from_config
    by_name = {layer.name: layer for layer in model.layers}

    def make_layer(entry):
        original = by_name[entry["name"]]
        if isinstance(original, InputLayer):
            return InputLayer(batch_shape=original.batch_shape, dtype=original.dtype,
                              name=original.name)
        return clone(original)

    return functional_from_config(Model, model.get_config(), make_layer=make_layer)
