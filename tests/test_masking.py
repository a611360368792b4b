"""Keras masks: created by Masking (and Embedding(mask_zero=True)), passed on by the layers that
support masking, consumed by the layers whose call takes `mask`, dropped by the others."""
import numpy as np
import pytest

import ember
from ember import layers
from ember.backend.function import Function


def evaluate(inputs, outputs, *arrays):
    return Function(list(inputs), list(outputs))(*arrays)


def padded_batch():
    x = np.random.default_rng(0).normal(size=(3, 5, 4))
    x[0, 3:] = 0.0   # two padded steps at the end
    x[1, :2] = 0.0   # two at the start
    x[2, 2] = 0.0    # one in the middle
    keep = np.ones((3, 5))
    keep[0, 3:] = keep[1, :2] = keep[2, 2] = 0
    return x, keep


def test_masking_zeroes_padding_and_emits_the_mask():
    x, keep = padded_batch()
    x[1, 0] = 0.5 * 0  # exactly the mask value
    inp = layers.Input((5, 4))
    y = layers.Masking(0.0)(inp)
    assert y._keras_mask is not None and y._keras_mask.shape == (None, 5)
    out, mask = evaluate([inp], [y, y._keras_mask], x)
    np.testing.assert_array_equal(mask, keep)
    np.testing.assert_allclose(out, x * keep[..., None])


def test_masking_with_another_value_keeps_partially_matching_steps():
    x = np.array([[[-1.0, -1.0], [-1.0, 2.0], [3.0, 4.0]]])
    inp = layers.Input((3, 2))
    y = layers.Masking(-1.0)(inp)
    out, mask = evaluate([inp], [y, y._keras_mask], x)
    np.testing.assert_array_equal(mask, [[0, 1, 1]])
    np.testing.assert_array_equal(out, [[[0, 0], [-1, 2], [3, 4]]])


def test_layers_that_support_masking_pass_it_on_and_others_drop_it():
    inp = layers.Input((5, 4))
    m = layers.Masking()(inp)
    for layer in (layers.Dense(3), layers.Dropout(0.5), layers.Activation("relu"),
                  layers.ReLU(), layers.LayerNormalization() if hasattr(layers, "LayerNormalization")
                  else layers.Identity(), layers.Identity()):
        assert layer(m)._keras_mask is m._keras_mask, type(layer).__name__
    assert layers.Flatten()(m)._keras_mask is None
    assert layers.GlobalAveragePooling1D()(m)._keras_mask is None


def test_global_average_pooling_1d_averages_valid_steps_only():
    x, keep = padded_batch()
    inp = layers.Input((5, 4))
    y = layers.GlobalAveragePooling1D()(layers.Masking()(inp))
    expected = (x * keep[..., None]).sum(1) / keep.sum(1, keepdims=True)
    np.testing.assert_allclose(evaluate([inp], [y], x)[0], expected, rtol=1e-6)


def test_merge_masks_are_combined_as_keras_does():
    x, keep = padded_batch()
    x2 = x.copy()
    x2[:, 4] = 0.0
    keep2 = keep.copy()
    keep2[:, 4] = 0
    a, b = layers.Input((5, 4)), layers.Input((5, 4))
    ma, mb = layers.Masking()(a), layers.Masking()(b)
    added = layers.Add()([ma, mb])
    along_time = layers.Concatenate(axis=1)([ma, b])      # b has no mask: all valid
    features = layers.Concatenate(axis=-1)([ma, mb])
    got = evaluate([a, b], [added._keras_mask, along_time._keras_mask, features._keras_mask],
                   x, x2)
    np.testing.assert_array_equal(got[0], keep * keep2)
    np.testing.assert_array_equal(got[1], np.concatenate([keep, np.ones((3, 5))], axis=1))
    np.testing.assert_array_equal(got[2], np.maximum(keep, keep2))
    assert layers.Add()([a, b])._keras_mask is None


def test_lambda_mask_argument():
    inp = layers.Input((5, 4))
    m = layers.Masking()(inp)
    assert layers.Lambda(lambda t: t * 2.0)(m)._keras_mask is None  # Keras: mask=None drops it
    kept = layers.Lambda(lambda t: t * 2.0, mask=lambda t, mask: mask)(m)
    assert kept._keras_mask is m._keras_mask
    seen = {}

    def fn(t, mask=None):
        seen["mask"] = mask
        return t

    layers.Lambda(fn)(m)
    assert seen["mask"] is m._keras_mask


def test_a_layer_taking_mask_receives_it_and_an_explicit_one_wins():
    seen = []

    class Probe(layers.Layer):
        def call(self, inputs, mask=None):
            seen.append(mask)
            return inputs

    inp = layers.Input((5, 4))
    m = layers.Masking()(inp)
    Probe()(m)
    Probe()(inp)
    explicit = layers.Input((5,))
    Probe()(m, mask=explicit)
    assert seen[0] is m._keras_mask and seen[1] is None and seen[2] is explicit


def test_masked_model_trains():
    """Padding steps must not change the prediction of a masked average."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(256, 6, 3)).astype("float32")
    lengths = rng.integers(1, 7, size=256)
    for i, n in enumerate(lengths):
        x[i, n:] = 0.0
    y = np.array([x[i, :n, 0].mean() > 0 for i, n in enumerate(lengths)], dtype="float32")
    ember.utils.set_random_seed(0)
    model = ember.Sequential([layers.Input((6, 3)), layers.Masking(),
                              layers.GlobalAveragePooling1D(),
                              layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=ember.optimizers.Adam(0.05), loss="binary_crossentropy",
                  metrics=["accuracy"])
    hist = model.fit(x, y, epochs=30, batch_size=64, verbose=0)
    assert hist.history["accuracy"][-1] > 0.95
