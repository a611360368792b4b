"""Image augmentation: the ops (image_affine, random_flip, random_crop, random_contrast) and the
Keras layers on them (RandomFlip, RandomRotation, RandomTranslation, RandomZoom, RandomCrop,
RandomContrast).

- CASES (op harness): NumPy references of each transform written from Keras's formulas, fed the
  same explicit per-sample parameters as the op (its optional second input), float64 gradient
  checks with explicit and with drawn parameters, shape inference with a None batch;
- the drawn parameters, recovered from the outputs, cover the documented ranges per sample;
  set_random_seed reproduces them;
- the layers through the layer harness (identity at inference; RandomCrop's centred
  crop/resize), inside models (gradients flow through them), configs and bad input;
- parity with Keras 3 (torch backend) on fixed parameters when keras imports.
"""
import json
import os

import numpy as np
import pytest

import ember
from ember import layers
from ember.backend.function import Function
from ember.backend.symbolic import input_tensor
from ember.ops import apply_op
from layer_harness import run_layer_test
from op_harness import (
    OpCase, check_forward, check_gradients, check_shape_inference, const, uniform,
)

# ---------------------------------------------------------------- NumPy references


def keras_fix(index, size, mode):
    """Keras's torch-backend index fixers (map_coordinates), transcribed."""
    if mode == "wrap":
        return np.mod(index, size)
    if mode == "reflect":
        def mirror(i, s_):
            s = s_ - 1
            return np.abs(np.mod(i + s, 2 * s) - s)
        return (mirror(2 * index + 1, 2 * size + 1) - 1) // 2
    return np.clip(index, 0, size - 1)  # nearest; constant masks the outside taps afterwards


def affine_reference(x, transforms, fill_mode="reflect", interpolation="bilinear",
                     fill_value=0.0):
    """Keras's affine_transform: output (x, y) reads ((a0 x + a1 y + a2) / k, (b0 x + ...) / k)
    through map_coordinates (taps fixed one by one)."""
    n, h, w, _ = x.shape
    ys, xs = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64),
                         indexing="ij")
    out = np.zeros(x.shape)
    for s in range(n):
        a0, a1, a2, b0, b1, b2, c0, c1 = np.asarray(transforms[s], np.float64)
        k = c0 * xs + c1 * ys + 1
        sx, sy = (a0 * xs + a1 * ys + a2) / k, (b0 * xs + b1 * ys + b2) / k
        if interpolation == "nearest":
            ty = [(np.round(sy).astype(np.int64), 1.0)]
            tx = [(np.round(sx).astype(np.int64), 1.0)]
        else:
            fy, fx = np.floor(sy), np.floor(sx)
            ty = [(fy.astype(np.int64), 1 - (sy - fy)), (fy.astype(np.int64) + 1, sy - fy)]
            tx = [(fx.astype(np.int64), 1 - (sx - fx)), (fx.astype(np.int64) + 1, sx - fx)]
        for iy, wy in ty:
            for ix, wx in tx:
                valid = np.ones(iy.shape, bool) if fill_mode != "constant" else (
                    (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w))
                v = x[s, keras_fix(iy, h, fill_mode), keras_fix(ix, w, fill_mode)]
                v = np.where(valid[..., None], v, fill_value)
                out[s] += np.asarray(wy * wx)[..., None] * v
    return out


def flip_reference(x, flips, mode):
    out = np.array(x, np.float64)
    for s, f in enumerate(np.asarray(flips).reshape(-1)):
        if f:
            if mode in ("horizontal", "horizontal_and_vertical"):
                out[s] = out[s, :, ::-1]
            if mode in ("vertical", "horizontal_and_vertical"):
                out[s] = out[s, ::-1]
    return out


def resize_reference(images, height, width):
    """Half-pixel bilinear resize (torch's interpolate, align_corners=False), no antialias."""
    def taps(n_in, n_out):
        src = np.maximum((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0)
        i0 = np.minimum(src.astype(np.int64), n_in - 1)
        return i0, np.minimum(i0 + 1, n_in - 1), src - i0
    y0, y1, ly = taps(images.shape[1], height)
    x0, x1, lx = taps(images.shape[2], width)
    ly, lx = ly[None, :, None, None], lx[None, None, :, None]
    top = images[:, y0][:, :, x0] * (1 - lx) + images[:, y0][:, :, x1] * lx
    bottom = images[:, y1][:, :, x0] * (1 - lx) + images[:, y1][:, :, x1] * lx
    return top * (1 - ly) + bottom * ly


def crop_reference(x, offsets, height, width):
    return np.stack([x[s, int(t):int(t) + height, int(l):int(l) + width]
                     for s, (t, l) in enumerate(np.asarray(offsets))]).astype(np.float64)


def center_crop_resize_reference(x, height, width):
    """RandomCrop away from the random path: the largest centred window of the target aspect
    ratio (Keras's integer arithmetic), resized bilinearly; for an image smaller than the
    target, Keras's slice of height x width from that window's corner, cut at the edge."""
    h, w = x.shape[1:3]
    ch = max(min(h, int(float(w * height) / width)), 1)
    cw = max(min(w, int(float(h * width) / height)), 1)
    top, left = int(float(h - ch) / 2), int(float(w - cw) / 2)
    if h < height or w < width:
        ch, cw = height, width
    window = np.asarray(x, np.float64)[:, top:top + ch, left:left + cw]
    return window if window.shape[1:3] == (height, width) else resize_reference(
        window, height, width)


def contrast_reference(x, factors, low, high):
    x = np.asarray(x, np.float64)
    mean = x.mean(axis=(1, 2), keepdims=True)
    f = np.asarray(factors, np.float64).reshape(-1, 1, 1, 1)
    return np.clip((x - mean) * f + mean, low, high)


# ---------------------------------------------------------------- op cases

def rotation_matrix(theta, h, w):
    cx, cy = 0.5 * (w - 1), 0.5 * (h - 1)
    a0, a1, b0, b1 = np.cos(theta), -np.sin(theta), np.sin(theta), np.cos(theta)
    return [a0, a1, cx - cx * a0 - cy * a1, b0, b1, cy - cx * b0 - cy * b1, 0, 0]


# Generic transforms (no source point falls on a rounding tie): a rotation, and a zoom with a
# shift past the edge and a projective term.
TRANSFORMS = np.array([rotation_matrix(0.7, 5, 6),
                       [1.37, 0.11, -1.23, -0.07, 0.81, 2.93, 0.013, -0.021]])
FILLS = ("reflect", "wrap", "constant", "nearest")
INTERPOLATIONS = ("bilinear", "nearest")


def _affine_case(fill, interp):
    attrs = {"fill_mode": fill, "interpolation": interp, "fill_value": 0.37}
    return OpCase(f"image_affine_{fill}_{interp}",
                  lambda x, t: apply_op("image_affine", [x, t], attrs),
                  [uniform((2, 5, 6, 3)), const(TRANSFORMS)],
                  lambda x, t: affine_reference(x, t, fill, interp, 0.37),
                  wrt=[0], nondiff=[1], batch=(0, 1))


def _flip_case(mode):
    return OpCase(f"random_flip_{mode}",
                  lambda x, f: apply_op("random_flip", [x, f], {"mode": mode}),
                  [uniform((3, 4, 5, 2)), const([[1.0], [0.0], [1.0]])],
                  lambda x, f: flip_reference(x, f, mode), wrt=[0], nondiff=[1], batch=(0, 1))


def _contrast_near_clip(x, f):
    z = (x - x.mean(axis=(1, 2), keepdims=True)) * f.reshape(-1, 1, 1, 1) + x.mean(
        axis=(1, 2), keepdims=True)
    return np.any(np.abs(z - 0.5) < 1e-3) or np.any(np.abs(z - 1.6) < 1e-3)


DRAWN_AFFINE = {"rotation_lower": -0.3, "rotation_upper": 0.3, "height_translation_lower": -0.2,
                "height_translation_upper": 0.1, "width_zoom_lower": -0.2, "width_zoom_upper": 0.3,
                "height_zoom_lower": 0.1, "height_zoom_upper": 0.4, "training": 1}

CASES = [_affine_case(f, i) for f in FILLS for i in INTERPOLATIONS] + [
    OpCase("image_affine_drawn", lambda x: apply_op("image_affine", [x], DRAWN_AFFINE),
           [uniform((3, 5, 4, 2))], None, training=True),
    *[_flip_case(m) for m in ("horizontal", "vertical", "horizontal_and_vertical")],
    OpCase("random_flip_drawn", lambda x: apply_op("random_flip", [x], {"training": 1}),
           [uniform((6, 3, 4, 2))], None, training=True),
    OpCase("random_crop_windows",
           lambda x, o: apply_op("random_crop", [x, o], {"height": 3, "width": 2}),
           [uniform((2, 5, 6, 3)), const([[2.0, 4.0], [0.0, 1.0]])],
           lambda x, o: crop_reference(x, o, 3, 2), wrt=[0], nondiff=[1], batch=(0, 1)),
    OpCase("random_crop_inference_resize",
           lambda x: apply_op("random_crop", [x], {"height": 4, "width": 3, "training": 0}),
           [uniform((2, 5, 7, 2))], lambda x: center_crop_resize_reference(x, 4, 3)),
    OpCase("random_crop_drawn",
           lambda x: apply_op("random_crop", [x], {"height": 3, "width": 4, "training": 1}),
           [uniform((2, 6, 7, 2))], None, training=True),
    OpCase("random_contrast_factors",
           lambda x, f: apply_op("random_contrast", [x, f], {
               "lower": 0.5, "upper": 0.5, "value_min": 0.5, "value_max": 1.6}),
           [uniform((3, 4, 3, 2), 0.0, 2.0), const([[0.6], [1.0], [1.4]])],
           lambda x, f: contrast_reference(x, f, 0.5, 1.6), wrt=[0], nondiff=[1],
           batch=(0, 1), avoid=_contrast_near_clip),
    OpCase("random_contrast_drawn",
           lambda x: apply_op("random_contrast", [x], {
               "lower": 0.3, "upper": 0.6, "value_min": -100.0, "value_max": 100.0,
               "training": 1}),
           [uniform((3, 4, 3, 2))], None, training=True),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("c", [c for c in CASES if c.reference is not None], ids=repr)
def test_forward(c, dtype):
    check_forward(c, dtype)


@pytest.mark.parametrize("c", CASES, ids=repr)
def test_gradients(c):
    check_gradients(c)


@pytest.mark.parametrize("c", CASES, ids=repr)
def test_shape_inference(c):
    check_shape_inference(c)


# ---------------------------------------------------------------- drawn parameters


def coordinate_images(n, h, w):
    """Channel 0 holds each pixel's column, channel 1 its row: resampled bilinearly inside the
    image, the output holds the source point of every pixel."""
    ys, xs = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    return np.broadcast_to(np.stack([xs, ys], -1), (n, h, w, 2)).astype("float64")


def augment(layer, x):
    return np.asarray(layer(x, training=True), np.float64)


def assert_covers(values, low, high, slack=0.02):
    """Inside [low, high], reaching both ends, and spread evenly over 4 bins."""
    span = high - low
    assert values.min() >= low - 1e-6 and values.max() <= high + 1e-6, (values.min(), values.max())
    assert values.min() < low + slack * span and values.max() > high - slack * span
    counts = np.histogram(values, bins=4, range=(low, high))[0]
    assert counts.min() > 0.7 * len(values) / 4, counts


def test_rotation_angles_cover_the_factor_range_per_sample():
    img = coordinate_images(600, 21, 21)
    y = augment(layers.RandomRotation((-0.05, 0.1), fill_mode="nearest", dtype="float64"), img)
    dx = y[:, 10, 11] - y[:, 10, 9]  # d(source)/dx = (cos, sin) of the angle, times 2
    turns = np.arctan2(dx[:, 1], dx[:, 0]) / (2 * np.pi)
    assert_covers(turns, -0.05, 0.1)
    np.testing.assert_allclose(y[:, 10, 10], np.full((600, 2), 10.0), atol=1e-9)  # the centre


def test_translations_cover_both_ranges_independently():
    img = coordinate_images(600, 20, 30)
    y = augment(layers.RandomTranslation((-0.2, 0.1), 0.25, dtype="float64"), img)
    shift_x = (15 - y[:, 10, 15, 0]) / 30
    shift_y = (10 - y[:, 10, 15, 1]) / 20
    assert_covers(shift_y, -0.2, 0.1)
    assert_covers(shift_x, -0.25, 0.25)
    assert abs(np.corrcoef(shift_x, shift_y)[0, 1]) < 0.15


def test_zooms_cover_the_ranges_and_keep_the_aspect_without_width_factor():
    img = coordinate_images(600, 21, 21)
    y = augment(layers.RandomZoom(0.3, (-0.2, 0.1), dtype="float64"), img)
    zx = (y[:, 10, 12, 0] - y[:, 10, 8, 0]) / 4
    zy = (y[:, 12, 10, 1] - y[:, 8, 10, 1]) / 4
    assert_covers(zy, 0.7, 1.3)
    assert_covers(zx, 0.8, 1.1)
    y = augment(layers.RandomZoom((-0.4, 0.2), dtype="float64"), img)
    zx = (y[:, 10, 12, 0] - y[:, 10, 8, 0]) / 4
    zy = (y[:, 12, 10, 1] - y[:, 8, 10, 1]) / 4
    np.testing.assert_allclose(zx, zy, atol=1e-9)
    assert_covers(zy, 0.6, 1.2)


def test_flips_half_of_the_samples_by_both_axes_at_once():
    x = np.random.default_rng(0).normal(size=(2000, 3, 4, 1))
    y = augment(layers.RandomFlip(dtype="float64"), x)
    flipped = np.all(y == x[:, ::-1, ::-1], axis=(1, 2, 3))
    same = np.all(y == x, axis=(1, 2, 3))
    assert np.all(flipped | same)
    assert 0.45 < flipped.mean() < 0.55
    y = augment(layers.RandomFlip("vertical", dtype="float64"), x)
    assert np.all(np.all(y == x[:, ::-1], axis=(1, 2, 3)) | np.all(y == x, axis=(1, 2, 3)))


@pytest.mark.parametrize("factor, low, high", [(0.5, 1.0, 1.5), ((0.2, 0.5), 0.8, 1.5)])
def test_contrast_factors_follow_keras_ranges(factor, low, high):
    x = np.random.default_rng(1).uniform(0, 10, size=(800, 2, 2, 1))
    layer = layers.RandomContrast(factor, value_range=(-1e4, 1e4), dtype="float64")
    y = augment(layer, x)
    mean = x.mean(axis=(1, 2), keepdims=True)
    f = ((y - mean) / (x - mean))[:, 0, 0, 0]
    assert_covers(f, low, high)


def test_random_crop_windows_are_uniform_and_shared_by_the_batch():
    ramp = np.arange(6 * 9, dtype=np.float64).reshape(1, 6, 9, 1)
    x = np.concatenate([ramp, ramp + 1000])
    layer = layers.RandomCrop(3, 5, dtype="float64")
    corners = np.array([augment(layer, x)[:, 0, 0, 0] for _ in range(400)])
    np.testing.assert_array_equal(corners[:, 1], corners[:, 0] + 1000)  # one window per batch
    top, left = corners[:, 0] // 9, corners[:, 0] % 9
    assert set(top) == {0, 1, 2, 3} and set(left) == {0, 1, 2, 3, 4}
    assert np.bincount(top.astype(int)).min() > 60


def test_set_random_seed_reproduces_the_draws():
    x = np.random.default_rng(2).uniform(0, 255, size=(4, 8, 8, 3)).astype("float32")
    for layer in (layers.RandomFlip(), layers.RandomRotation(0.3), layers.RandomZoom(0.2),
                  layers.RandomTranslation(0.2, 0.2), layers.RandomCrop(5, 6),
                  layers.RandomContrast(0.5)):
        ember.utils.set_random_seed(7)
        a = layer(x, training=True)
        b = layer(x, training=True)
        ember.utils.set_random_seed(7)
        np.testing.assert_array_equal(layer(x, training=True), a)
        assert not np.array_equal(a, b), type(layer).__name__


def test_backward_redraws_the_forward_parameters():
    """The gradient of sum(g * y) w.r.t. x under a drawn transform is the transpose of the very
    transform forward applied: <g, A x> == <A^T g, x>."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, 6, 5, 2))
    g = rng.normal(size=(3, 6, 5, 2))
    sym = input_tensor(x.shape, "float64")
    fn = Function([sym], [apply_op("image_affine", [sym], DRAWN_AFFINE)], training=True)
    outs, grads, _ = fn.gradients([x], [g], seed=11)
    np.testing.assert_allclose(np.sum(g * outs[0]), np.sum(grads[0] * x), rtol=1e-12)
    np.testing.assert_array_equal(fn(x, seed=11)[0], outs[0])


# ---------------------------------------------------------------- layers

LAYERS = [
    (layers.RandomFlip, {"mode": "horizontal"}),
    (layers.RandomFlip, {}),
    (layers.RandomRotation, {"factor": 0.2, "fill_mode": "constant", "fill_value": 1.0}),
    (layers.RandomTranslation, {"height_factor": (-0.2, 0.3), "width_factor": 0.1,
                                "interpolation": "nearest"}),
    (layers.RandomZoom, {"height_factor": 0.2, "width_factor": (-0.1, 0.3), "fill_mode": "wrap"}),
    (layers.RandomZoom, {"height_factor": -0.3}),
    (layers.RandomContrast, {"factor": (0.2, 0.4), "value_range": (0, 1)}),
]


@pytest.mark.parametrize("cls, kwargs", LAYERS, ids=lambda v: getattr(v, "__name__", ""))
def test_layers_are_identity_at_inference(cls, kwargs):
    run_layer_test(cls, kwargs, (2, 6, 5, 3), (2, 6, 5, 3), reference=lambda x, w: x)
    layer = cls(**kwargs)
    x = np.random.default_rng(4).uniform(0, 1, (8, 6, 5, 3)).astype("float32")
    assert not np.allclose(layer(x, training=True), x)
    np.testing.assert_array_equal(layer(x, training=False), x)
    one = layer(x[0], training=True)  # one image of rank 3
    assert one.shape == (6, 5, 3) and one.dtype == np.float32


def test_random_crop_layer_crops_at_inference_and_in_training():
    run_layer_test(layers.RandomCrop, {"height": 3, "width": 4}, (2, 5, 7, 2), (2, 3, 4, 2),
                   reference=lambda x, w: center_crop_resize_reference(x, 3, 4), atol=1e-5)
    x = np.random.default_rng(5).normal(size=(2, 5, 7, 2))
    layer = layers.RandomCrop(3, 4, dtype="float64")
    y = layer(x, training=True)
    windows = [crop_reference(x, [[t, l]] * 2, 3, 4) for t in range(3) for l in range(4)]
    assert any(np.array_equal(y, w) for w in windows)
    # Not larger than the target in one axis: Keras's centred crop and resize, in training too.
    wide = layers.RandomCrop(5, 3, dtype="float64")
    np.testing.assert_allclose(wide(x, training=True), center_crop_resize_reference(x, 5, 3))
    np.testing.assert_allclose(layers.RandomCrop(8, 9, dtype="float64")(x),
                               center_crop_resize_reference(x, 8, 9))


def test_integer_images_and_channels_first():
    x = np.random.default_rng(6).integers(0, 255, size=(2, 6, 6, 3)).astype("uint8")
    y = layers.RandomRotation((0.1, 0.1))(x, training=True)
    assert y.dtype == np.float32
    cf = layers.RandomRotation((0.1, 0.1), data_format="channels_first")(
        x.transpose(0, 3, 1, 2), training=True)
    np.testing.assert_allclose(cf, y.transpose(0, 3, 1, 2), atol=1e-4)
    crop_cf = layers.RandomCrop(4, 3, data_format="channels_first")(x.transpose(0, 3, 1, 2))
    np.testing.assert_allclose(crop_cf, layers.RandomCrop(4, 3)(x).transpose(0, 3, 1, 2),
                               atol=1e-4)
    assert layers.RandomCrop(4, 3, data_format="channels_first").compute_output_shape(
        (None, 3, 6, 6)) == (None, 3, 4, 3)


def test_augmentation_inside_a_model_trains_and_is_identity_in_predict():
    rng = np.random.default_rng(7)
    x = rng.uniform(0, 1, (16, 8, 8, 3)).astype("float32")
    y = rng.integers(0, 2, (16,))
    inp = ember.Input((8, 8, 3))
    first = layers.Dense(4)  # before the augmentation: its gradient flows through every op
    h = first(inp)
    for aug in (layers.RandomFlip(), layers.RandomRotation(0.1), layers.RandomTranslation(0.1, 0.1),
                layers.RandomZoom(0.1), layers.RandomContrast(0.3, value_range=(-5, 5)),
                layers.RandomCrop(6, 6)):
        h = aug(h)
    out = layers.Dense(2, activation="softmax")(layers.Flatten()(h))
    model = ember.Model(inp, out)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    before = first.kernel.numpy()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert not np.allclose(first.kernel.numpy(), before)
    # predict: the augmentations are the identity and RandomCrop is the centred crop.
    inner = layers.Dense(2, activation="softmax")
    plain_in = ember.Input((8, 8, 3))
    plain = ember.Model(plain_in, inner(layers.Flatten()(
        layers.RandomCrop(6, 6)(first(plain_in)))))
    inner.set_weights(model.layers[-1].get_weights())
    np.testing.assert_allclose(model.predict(x, verbose=0), plain.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_model_with_augmentation_saves_and_loads(tmp_path):
    model = ember.Sequential([
        ember.Input((6, 6, 2)), layers.RandomFlip("horizontal", seed=3),
        layers.RandomRotation((-0.1, 0.2), fill_mode="constant", fill_value=0.5),
        layers.RandomTranslation(0.1, 0.2), layers.RandomZoom(0.2, (-0.1, 0.1)),
        layers.RandomContrast((0.1, 0.3), value_range=(0, 1)), layers.RandomCrop(4, 5),
        layers.Flatten(), layers.Dense(3)])
    model.save(tmp_path / "aug.ember")
    loaded = ember.models.load_model(tmp_path / "aug.ember")
    for a, b in zip(model.layers, loaded.layers):
        assert type(a) is type(b)
        assert json.loads(json.dumps(a.get_config())) == json.loads(json.dumps(b.get_config()))
    x = np.random.default_rng(9).uniform(0, 1, (4, 6, 6, 2)).astype("float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_training_true_forces_the_augmentation_in_predict():
    inp = ember.Input((4, 4, 1))
    model = ember.Model(inp, layers.RandomFlip("horizontal")(inp, training=True))
    x = np.random.default_rng(8).normal(size=(64, 4, 4, 1)).astype("float32")
    y = model.predict(x, verbose=0)
    flipped = np.all(y == x[:, :, ::-1], axis=(1, 2, 3))
    assert np.all(flipped | np.all(y == x, axis=(1, 2, 3))) and 0 < flipped.sum() < 64


def test_configs_hold_keras_keys():
    expected = [
        (layers.RandomFlip(seed=1), {"mode": "horizontal_and_vertical", "seed": 1,
                                     "data_format": "channels_last"}),
        (layers.RandomRotation(0.2), {"factor": (-0.2, 0.2), "fill_mode": "reflect",
                                      "fill_value": 0.0, "interpolation": "bilinear",
                                      "seed": None, "data_format": "channels_last"}),
        (layers.RandomTranslation(0.1, (-0.2, 0.3)), {"height_factor": 0.1,
                                                      "width_factor": (-0.2, 0.3)}),
        (layers.RandomZoom(0.1), {"height_factor": 0.1, "width_factor": None,
                                  "fill_mode": "reflect"}),
        (layers.RandomCrop(3, 4, seed=2), {"height": 3, "width": 4, "seed": 2}),
        (layers.RandomContrast(0.5), {"factor": (0, 0.5), "value_range": (0, 255), "seed": None}),
    ]
    for layer, want in expected:
        config = layer.get_config()
        assert {k: config[k] for k in want} == want
        clone = type(layer).from_config(config)
        assert clone.get_config() == config


@pytest.mark.parametrize("make, error, words", [
    (lambda: layers.RandomRotation(1.5), ValueError, "factor"),
    (lambda: layers.RandomRotation((0.1, 0.2, 0.3)), ValueError, "factor"),
    (lambda: layers.RandomRotation("big"), ValueError, "factor"),
    (lambda: layers.RandomTranslation(1.2, 0.1), ValueError, "height_factor"),
    (lambda: layers.RandomTranslation(0.1, (-2, 0)), ValueError, "width_factor"),
    (lambda: layers.RandomZoom(-1.0), ValueError, "height_factor"),
    (lambda: layers.RandomZoom(0.2, 1.5), ValueError, "width_factor"),
    (lambda: layers.RandomContrast(1.5), ValueError, "factor"),
    (lambda: layers.RandomContrast(-0.1), ValueError, "factor"),
    (lambda: layers.RandomContrast((0.1, 1.2)), ValueError, "factor"),
    (lambda: layers.RandomContrast(0.2, value_range=(1, 0)), ValueError, "value_range"),
    (lambda: layers.RandomFlip("diagonal"), ValueError, "mode"),
    (lambda: layers.RandomCrop(0, 3), ValueError, "height"),
    (lambda: layers.RandomCrop(3, 2.5), ValueError, "width"),
    (lambda: layers.RandomRotation(0.1, fill_mode="mirror"), NotImplementedError, "fill_mode"),
    (lambda: layers.RandomZoom(0.1, fill_mode="mirror"), ValueError, "fill_mode"),
    (lambda: layers.RandomTranslation(0.1, 0.1, interpolation="bicubic"), NotImplementedError,
     "interpolation"),
    (lambda: layers.RandomFlip(seed=-3), ValueError, "seed"),
    (lambda: layers.RandomFlip(data_format="nhwc"), ValueError, "data_format"),
])
def test_bad_arguments(make, error, words):
    with pytest.raises(error, match=words):
        make()


@pytest.mark.parametrize("layer", [layers.RandomFlip(), layers.RandomRotation(0.1),
                                   layers.RandomCrop(2, 2), layers.RandomContrast(0.1)],
                         ids=lambda l: type(l).__name__)
def test_wrong_rank_names_the_layer(layer):
    for shape in ((4, 5), (1, 2, 3, 4, 5)):
        with pytest.raises(ValueError, match=f"{type(layer).__name__}.*rank 3.*or 4"):
            layer(np.zeros(shape, "float32"), training=True)
    with pytest.raises(ValueError, match=type(layer).__name__):
        layer(ember.Input((6,)))


def test_explicit_crop_offsets_outside_the_image_are_rejected():
    x = np.zeros((1, 4, 4, 1))
    with pytest.raises(ValueError, match="random_crop.*offset"):
        apply_op("random_crop", [x, np.array([[2.0, 0.0]])], {"height": 3, "width": 3})


# ---------------------------------------------------------------- Keras parity


def _import_keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    try:
        import keras
    except ImportError:
        return None
    return keras if keras.backend.backend() == "torch" else None


keras = _import_keras()
needs_keras = pytest.mark.skipif(keras is None, reason="keras (torch backend) is not installed")
PARITY = {"rtol": 1e-5, "atol": 1e-4}  # float32 images in [0, 255]


def _images(shape, seed=9):
    return np.random.default_rng(seed).uniform(0, 255, shape).astype("float32")


@needs_keras
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("fill", FILLS)
@pytest.mark.parametrize("interp", INTERPOLATIONS)
def test_affine_transform_keras_parity(fill, interp):
    x = _images((2, 7, 9, 3))
    t = np.array([rotation_matrix(0.61, 7, 9),
                  [1.237, 0.071, -1.613, -0.043, 0.871, 2.389, 0.0, 0.0]], "float32")
    want = keras.ops.convert_to_numpy(keras.ops.image.affine_transform(
        x, t, interpolation=interp, fill_mode=fill, fill_value=11.0))
    got = apply_op("image_affine", [x, t], {"fill_mode": fill, "interpolation": interp,
                                            "fill_value": 11.0})
    np.testing.assert_allclose(got, want, **PARITY)


@needs_keras
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("name, kwargs", [
    ("RandomRotation", {"factor": (0.1, 0.1)}),
    ("RandomRotation", {"factor": (-0.3, -0.3), "fill_mode": "constant", "fill_value": 3.0}),
    ("RandomTranslation", {"height_factor": (0.25, 0.25), "width_factor": (-0.37, -0.37),
                           "fill_mode": "wrap"}),
    ("RandomZoom", {"height_factor": (0.3, 0.3), "width_factor": (-0.2, -0.2)}),
    ("RandomZoom", {"height_factor": (-0.45, -0.45), "fill_mode": "nearest"}),
])
def test_geometric_layers_keras_parity_on_degenerate_ranges(name, kwargs):
    """A range of one value makes the draw deterministic in both frameworks: the layers then
    map their factors to the same transforms."""
    x = _images((2, 8, 10, 3))
    want = keras.ops.convert_to_numpy(getattr(keras.layers, name)(**kwargs)(x, training=True))
    got = getattr(layers, name)(**kwargs)(x, training=True)
    np.testing.assert_allclose(got, want, **PARITY)
    assert _own_config(getattr(layers, name)(**kwargs)) == _own_config(
        getattr(keras.layers, name)(**kwargs))


def _own_config(layer):
    """The layer's config without the base Layer's entries."""
    return {k: v for k, v in layer.get_config().items() if k not in ("name", "trainable", "dtype")}


@needs_keras
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("mode", ["horizontal", "vertical", "horizontal_and_vertical"])
def test_flip_keras_parity(mode):
    x = _images((3, 4, 5, 2))
    flips = np.array([True, False, True])
    want = keras.ops.convert_to_numpy(keras.layers.RandomFlip(mode).transform_images(
        x, {"flips": flips.reshape(3, 1, 1, 1)}, training=True))
    got = apply_op("random_flip", [x, flips.reshape(3, 1).astype("float32")], {"mode": mode})
    np.testing.assert_array_equal(got, want)


@needs_keras
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_crop_keras_parity():
    x = _images((2, 7, 9, 3))
    want = keras.ops.convert_to_numpy(keras.layers.RandomCrop(4, 5).transform_images(
        x, (2, 3), training=True))
    got = apply_op("random_crop", [x, np.array([[2.0, 3.0]] * 2, "float32")],
                   {"height": 4, "width": 5})
    np.testing.assert_array_equal(got, want)
    # Keras's non-random path (training, image not larger than the target): centred window of
    # the target's aspect ratio, resized. ember takes it at inference too.
    for height, width in ((8, 5), (7, 4), (3, 9)):  # 7 x 9 images: never larger in both axes
        want = keras.ops.convert_to_numpy(keras.layers.RandomCrop(height, width)(x, training=True))
        np.testing.assert_allclose(layers.RandomCrop(height, width)(x), want, **PARITY)
        np.testing.assert_allclose(layers.RandomCrop(height, width)(x, training=True), want,
                                   **PARITY)


@needs_keras
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_contrast_keras_parity():
    x = _images((3, 5, 6, 3))
    factors = np.array([0.55, 1.0, 1.8], "float32")
    layer = keras.layers.RandomContrast(0.5, value_range=(10, 240))
    want = keras.ops.convert_to_numpy(layer.transform_images(
        keras.ops.convert_to_tensor(x),
        {"contrast_factor": keras.ops.convert_to_tensor(factors.reshape(3, 1, 1, 1))},
        training=True))
    got = apply_op("random_contrast", [x, factors.reshape(3, 1)],
                   {"value_min": 10.0, "value_max": 240.0})
    np.testing.assert_allclose(got, want, **PARITY)
    for factor in (0.5, (0.2, 0.7), 0.0):
        assert layers.RandomContrast(factor).factor == keras.layers.RandomContrast(factor).factor
