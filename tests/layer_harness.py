"""One harness for layers, as Keras's `run_layer_test`: every layer test is one call.

`run_layer_test` checks, for one layer class and its constructor arguments:
  - symbolic call on `ember.Input` (None batch): output shape and dtype, `compute_output_shape`;
  - eager call on a NumPy array: output shape, dtype, and values against an optional NumPy
    reference `reference(x, weights)`;
  - the number of trainable / non-trainable weights once built;
  - get_weights / set_weights round trip (new values are read back, change the output, and
    the output still matches the reference);
  - get_config / from_config round trip: the config is JSON-serializable, the rebuilt layer
    has the same config and, after set_weights, gives the same outputs;
  - one training step of a model made of the layer: every trainable weight moves, every
    non-trainable one stays (layers without weights: the step runs and gives a finite loss).
"""
import json

import numpy as np

import ember


def _json_roundtrip(config):
    """Configs must survive JSON (how models are saved); tuples come back as lists."""
    return json.loads(json.dumps(config))


def _random_input(shape, dtype, rng):
    if np.dtype(dtype).kind in "iu":
        return rng.integers(0, 5, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def run_layer_test(layer_cls, init_kwargs, input_shape, expected_output_shape,
                   expected_num_trainable_weights=0, expected_num_non_trainable_weights=0,
                   expected_output_dtype=None, reference=None, input_dtype="float32",
                   run_training_check=True, rtol=1e-5, atol=1e-6, seed=0):
    """Runs every check; returns the eagerly built layer for extra assertions."""
    rng = np.random.default_rng(seed)
    input_shape = tuple(input_shape)
    expected_output_shape = tuple(expected_output_shape)
    out_dtype = expected_output_dtype or input_dtype
    x = _random_input(input_shape, input_dtype, rng)

    # Symbolic: a None batch flows through, the other extents are inferred.
    sym_layer = layer_cls(**init_kwargs)
    inp = ember.Input(shape=input_shape[1:], dtype=input_dtype)
    sym_out = sym_layer(inp)
    assert tuple(sym_out.shape) == (None,) + expected_output_shape[1:], (
        f"{layer_cls.__name__}: symbolic output shape {sym_out.shape}, expected "
        f"{(None,) + expected_output_shape[1:]}")
    assert sym_out.dtype == out_dtype
    assert sym_layer.built
    assert tuple(sym_layer.compute_output_shape((None,) + input_shape[1:])) == (
        (None,) + expected_output_shape[1:])

    # Eager: the layer builds itself from the array and runs at once.
    layer = layer_cls(**init_kwargs)
    y = layer(x)
    assert isinstance(y, np.ndarray), f"eager call returned {type(y).__name__}"
    assert y.shape == expected_output_shape, (
        f"{layer_cls.__name__}: eager output shape {y.shape}, expected {expected_output_shape}")
    assert str(y.dtype) == out_dtype
    assert layer.built
    assert len(layer.trainable_weights) == expected_num_trainable_weights
    assert len(layer.non_trainable_weights) == expected_num_non_trainable_weights
    assert len(layer.weights) == (expected_num_trainable_weights
                                  + expected_num_non_trainable_weights)
    assert layer.count_params() == sum(int(np.prod(w.shape)) for w in layer.get_weights())
    if reference is not None:
        np.testing.assert_allclose(y, reference(x, layer.get_weights()), rtol=rtol, atol=atol)
    # A second eager call reuses the built weights: same input, same output.
    np.testing.assert_array_equal(layer(x), y)

    _check_weights_roundtrip(layer, x, y, rng, reference, rtol, atol)
    _check_config_roundtrip(layer_cls, layer, x)
    if run_training_check:
        _check_training_step(layer_cls, init_kwargs, x, expected_output_shape, out_dtype, rng)
    return layer


def _check_weights_roundtrip(layer, x, y, rng, reference, rtol, atol):
    weights = layer.get_weights()
    if not weights:
        assert layer.get_weights() == []
        layer.set_weights([])
        return
    # get_weights returns copies: mutating them must not touch the layer.
    for w in weights:
        w[...] = 123.0
    assert not any(np.all(w == 123.0) for w in layer.get_weights())
    new = [rng.standard_normal(w.shape).astype(w.dtype) for w in weights]
    layer.set_weights(new)
    for got, want in zip(layer.get_weights(), new):
        np.testing.assert_array_equal(got, want)
    y_new = layer(x)
    assert not np.allclose(y_new, y), "set_weights did not change the layer's output"
    if reference is not None:  # random weights: a zero bias can no longer hide a mistake
        np.testing.assert_allclose(y_new, reference(x, new), rtol=rtol, atol=atol)


def _check_config_roundtrip(layer_cls, layer, x):
    config = layer.get_config()
    assert isinstance(config, dict) and config["name"] == layer.name
    reloaded = _json_roundtrip(config)
    clone = layer_cls.from_config(reloaded)
    assert type(clone) is layer_cls
    assert _json_roundtrip(clone.get_config()) == reloaded
    clone(x)  # build
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(clone(x), layer(x))


def _check_training_step(layer_cls, init_kwargs, x, expected_output_shape, out_dtype, rng):
    layer = layer_cls(**init_kwargs)
    inp = ember.Input(shape=x.shape[1:], dtype=str(x.dtype))
    model = ember.Model(inp, layer(inp))
    model.compile(optimizer=ember.optimizers.SGD(learning_rate=0.1), loss="mse")
    target = rng.standard_normal(expected_output_shape).astype(out_dtype)
    before = [w.numpy() for w in layer.trainable_weights]
    frozen_before = [w.numpy() for w in layer.non_trainable_weights]
    loss = model.train_on_batch(x, target)
    assert np.isfinite(loss), f"{layer_cls.__name__}: training loss {loss}"
    for var, old in zip(layer.trainable_weights, before):
        assert not np.array_equal(var.numpy(), old), (
            f"{layer_cls.__name__}: trainable weight '{var.name}' did not change in a "
            "training step")
    for var, old in zip(layer.non_trainable_weights, frozen_before):
        np.testing.assert_array_equal(var.numpy(), old)
