"""ember.utils: image_dataset_from_directory, text_dataset_from_directory,
timeseries_dataset_from_array and split_dataset, against Keras's documented behaviour and, where
Keras runs without TensorFlow, against Keras's own code."""
import os
import random
import types

import numpy as np
import pytest

from ember.data import Dataset
from ember.utils.dataset_utils import _rescale_split_sizes, split_dataset
from ember.utils.image_dataset_utils import (
    ALLOWLIST_FORMATS,
    _ImageLoader,
    _pad_box,
    _resize_with_kernel,
    image_dataset_from_directory,
)
from ember.utils.text_dataset_utils import text_dataset_from_directory
from ember.utils.timeseries_dataset_utils import timeseries_dataset_from_array

Image = pytest.importorskip("PIL.Image")


def _keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return pytest.importorskip("keras")


# -- a directory of images: 3 classes (one file nested), PNG/JPEG/BMP, RGB/L/RGBA, sizes vary --

# relative path -> (PIL mode, (height, width), pixel value)
IMAGES = {
    "birds/b0.png": ("RGB", (10, 12), (10, 20, 30)),
    "birds/b1.png": ("L", (7, 5), 40),
    "birds/sub/b2.jpg": ("RGB", (16, 16), (200, 100, 50)),
    "cats/c0.png": ("RGBA", (9, 9), (60, 70, 80, 128)),
    "cats/c1.png": ("RGB", (20, 10), (90, 100, 110)),
    "cats/c2.bmp": ("RGB", (6, 6), (120, 130, 140)),
    "dogs/d0.png": ("L", (8, 8), 150),
    "dogs/d1.PNG": ("RGB", (5, 9), (160, 170, 180)),
    "dogs/d2.png": ("RGB", (12, 4), (190, 200, 210)),
    "dogs/d3.png": ("RGB", (3, 3), (220, 230, 240)),
}
CLASSES = ["birds", "cats", "dogs"]
SORTED = sorted(IMAGES, key=lambda p: (p.split("/")[0], os.path.dirname(p), p))


def _write_image(path, mode, size, value):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.new(mode, (size[1], size[0]), value).save(path)


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    for rel, (mode, size, value) in IMAGES.items():
        _write_image(str(root / rel), mode, size, value)
    (root / "cats" / "readme.txt").write_text("not an image")
    _write_image(str(root / ".hidden" / "h.png"), "RGB", (4, 4), (1, 2, 3))  # not a class
    return str(root)


def _rgb(rel):
    mode, _, value = IMAGES[rel]
    return (value,) * 3 if mode == "L" else value[:3]


def _gray(rel):
    r, g, b = _rgb(rel)
    return (299 * r + 587 * g + 114 * b) / 1000  # ITU-R 601 luma, as TF and Pillow


def _rel(path, root):
    return os.path.relpath(path, root).replace(os.sep, "/")


def _check_pixels(images, paths, root, expected, tol):
    for image, path in zip(images, paths):
        want = np.broadcast_to(np.asarray(expected(_rel(path, root)), np.float32), image.shape)
        np.testing.assert_allclose(image, want, atol=tol, err_msg=path)


def test_images_classes_labels_order_and_pixels(image_dir, capsys):
    ds = image_dataset_from_directory(image_dir, image_size=(6, 5), batch_size=4, shuffle=False)
    assert capsys.readouterr().out == "Found 10 files belonging to 3 classes.\n"
    assert ds.class_names == CLASSES  # alphanumeric, the hidden folder left out
    assert [_rel(p, image_dir) for p in ds.file_paths] == SORTED  # .txt ignored, sub-folder in
    batches = list(ds)
    assert [len(x) for x, _ in batches] == [4, 4, 2]
    images = np.concatenate([x for x, _ in batches])
    labels = np.concatenate([y for _, y in batches])
    assert images.dtype == np.float32 and images.shape == (10, 6, 5, 3)
    assert labels.dtype == np.int32
    assert labels.tolist() == [CLASSES.index(rel.split("/")[0]) for rel in SORTED]
    # Solid images stay solid through resizing; the JPEG is lossy by a few levels.
    _check_pixels(images, ds.file_paths, image_dir, _rgb, tol=3)
    assert len(ds) == 3  # cardinality known: the file list is built up front


@pytest.mark.parametrize("color_mode, channels", [("grayscale", 1), ("rgb", 3), ("rgba", 4)])
def test_images_color_modes(image_dir, color_mode, channels):
    ds = image_dataset_from_directory(image_dir, color_mode=color_mode, image_size=(4, 4),
                                      shuffle=False, batch_size=None, verbose=False)
    images = np.stack([x for x, _ in ds])
    assert images.shape == (10, 4, 4, channels)
    if color_mode == "grayscale":
        _check_pixels(images, ds.file_paths, image_dir, _gray, tol=3)
    if color_mode == "rgba":
        alpha = {rel: (IMAGES[rel][2][3] if IMAGES[rel][0] == "RGBA" else 255) for rel in IMAGES}
        _check_pixels(images[..., 3:], ds.file_paths, image_dir, lambda r: alpha[r], tol=0)
        _check_pixels(images[..., :3], ds.file_paths, image_dir, _rgb, tol=3)


def test_images_label_modes(image_dir):
    cat = image_dataset_from_directory(image_dir, label_mode="categorical", image_size=(3, 3),
                                       shuffle=False, verbose=False)
    (_, y), = list(cat)
    assert y.dtype == np.float32 and y.shape == (10, 3)
    np.testing.assert_array_equal(y.argmax(1), [CLASSES.index(r.split("/")[0]) for r in SORTED])
    assert y.sum() == 10

    with pytest.raises(ValueError, match="exactly 2 class_names"):
        image_dataset_from_directory(image_dir, label_mode="binary", verbose=False)
    binary = image_dataset_from_directory(image_dir, label_mode="binary", image_size=(3, 3),
                                          class_names=["dogs", "cats"], shuffle=False,
                                          verbose=False)
    assert binary.class_names == ["dogs", "cats"]  # the order given is the label order
    (_, y), = list(binary)
    assert y.dtype == np.float32 and y.shape == (7, 1)
    assert y[:, 0].tolist() == [0.0] * 4 + [1.0] * 3  # dogs first, as class_names says

    # Without labels the folders mean nothing: the whole tree is indexed, hidden folder too.
    none = image_dataset_from_directory(image_dir, labels=None, image_size=(3, 3), verbose=False)
    batch = next(iter(none))
    assert isinstance(batch, np.ndarray) and batch.shape == (11, 3, 3, 3)
    assert none.class_names is None


def test_images_explicit_labels_and_their_errors(image_dir, capsys):
    labels = [i % 2 for i in range(11)]  # 11: the hidden folder counts when labels are given
    ds = image_dataset_from_directory(image_dir, labels=labels, image_size=(3, 3),
                                      shuffle=False)
    assert capsys.readouterr().out == "Found 11 files belonging to 2 classes.\n"
    assert ds.class_names == ["0", "1"]
    (_, y), = list(ds)
    assert y.tolist() == labels  # in the sorted order of the paths
    with pytest.raises(ValueError, match=r"len\(labels\) is 10 while we found 11 files"):
        image_dataset_from_directory(image_dir, labels=labels[:10], verbose=False)
    assert capsys.readouterr().out == ""  # raised before anything was reported
    with pytest.raises(ValueError, match="only pass `class_names` if `labels=\"inferred\"`"):
        image_dataset_from_directory(image_dir, labels=labels, class_names=["0", "1"])
    with pytest.raises(ValueError, match="list/tuple of integer labels"):
        image_dataset_from_directory(image_dir, labels=np.float32(3))


def test_images_shapes_formats_and_batching(image_dir):
    ds = image_dataset_from_directory(image_dir, image_size=7, batch_size=3, verbose=False,
                                      data_format="channels_first", seed=1)
    shapes = [x.shape for x, _ in ds]
    assert shapes == [(3, 3, 7, 7)] * 3 + [(1, 3, 7, 7)]
    single = image_dataset_from_directory(image_dir, image_size=(2, 9), batch_size=None,
                                          verbose=False, seed=1)
    x, y = next(iter(single))
    assert x.shape == (2, 9, 3) and y.shape == () and y.dtype == np.int32


def test_images_shuffle_reproducible_and_reshuffled_every_epoch(image_dir):
    def paths_of(ds):
        return ds.file_paths

    a = image_dataset_from_directory(image_dir, seed=3, image_size=(2, 2), batch_size=2,
                                     label_mode=None, verbose=False)
    b = image_dataset_from_directory(image_dir, seed=3, image_size=(2, 2), batch_size=2,
                                     label_mode=None, verbose=False)
    assert paths_of(a) == paths_of(b) and sorted(paths_of(a)) != paths_of(a)
    epochs = [np.concatenate(list(a))[:, 0, 0, 0] for _ in range(4)]
    assert all(sorted(e) == sorted(epochs[0]) for e in epochs)  # the same images...
    assert len({tuple(e) for e in epochs}) > 1  # ...in a new order most epochs


def test_images_validation_split_is_disjoint_complete_and_keras_s(image_dir, capsys):
    common = dict(validation_split=0.3, seed=1337, image_size=(2, 2), verbose=False)
    train = image_dataset_from_directory(image_dir, subset="training", **common)
    val = image_dataset_from_directory(image_dir, subset="validation", **common)
    both = image_dataset_from_directory(image_dir, subset="both", **common)
    assert isinstance(both, list) and len(both) == 2
    assert len(train.file_paths) == 7 and len(val.file_paths) == 3  # int(0.3 * 10) validation
    assert not set(train.file_paths) & set(val.file_paths)
    assert sorted(train.file_paths + val.file_paths) == sorted(both[0].file_paths
                                                               + both[1].file_paths)
    assert sorted(_rel(p, image_dir) for p in train.file_paths + val.file_paths) == sorted(SORTED)
    assert both[0].file_paths == train.file_paths and both[1].file_paths == val.file_paths
    # The labels follow their files through the shuffle and the split (red channels are
    # distinct multiples of 10; the JPEG's is off by a few levels).
    for ds in (train, val):
        got = {}
        for x, y in ds:
            got.update(zip((np.round(x[:, 0, 0, 0] / 10) * 10).tolist(), y.tolist()))
        want = {float(_rgb(_rel(p, image_dir))[0]): CLASSES.index(_rel(p, image_dir).split("/")[0])
                for p in ds.file_paths}
        assert got == want

    # Keras orders the files with np.random.RandomState(seed) and cuts the last
    # int(split * n) for validation: its own code gives the same two subsets.
    _keras()
    from keras.src.utils import dataset_utils as keras_utils

    paths, _, names = keras_utils.index_directory(
        image_dir, "inferred", formats=ALLOWLIST_FORMATS, shuffle=True, seed=1337,
        verbose=False)
    for subset, ours in (("training", train), ("validation", val)):
        theirs, _ = keras_utils.get_training_or_validation_split(paths, None, 0.3, subset)
        assert ours.file_paths == theirs
    assert names == train.class_names
    capsys.readouterr()


def test_images_same_datasets_as_keras_when_tensorflow_is_installed(image_dir):
    keras = _keras()
    kwargs = dict(validation_split=0.2, subset="training", seed=5, image_size=(4, 4),
                  verbose=False)
    try:
        theirs = keras.utils.image_dataset_from_directory(image_dir, **kwargs)
    except ImportError:
        pytest.skip("Keras's image_dataset_from_directory needs TensorFlow")
    ours = image_dataset_from_directory(image_dir, **kwargs)
    assert [os.fspath(p) for p in theirs.file_paths] == ours.file_paths
    assert theirs.class_names == ours.class_names


def test_images_crop_and_pad_to_aspect_ratio(tmp_path):
    _write_image(str(tmp_path / "a" / "wide.png"), "RGB", (4, 8), (100, 100, 100))
    padded = image_dataset_from_directory(str(tmp_path), image_size=(8, 8), verbose=False,
                                          pad_to_aspect_ratio=True, label_mode=None)
    image = next(iter(padded))[0, :, :, 0]
    # Resized to fit (4 x 8 -> 4 x 8), centred, zeros above and below.
    assert (image[:2] == 0).all() and (image[6:] == 0).all() and (image[2:6] == 100).all()
    assert _pad_box(4, 8, 8, 8) == (4, 8, 2, 0)
    assert _pad_box(10, 5, 4, 4) == (4, 2, 0, 1)
    with pytest.raises(ValueError, match="(?i)only one of `pad_to_aspect_ratio`"):
        image_dataset_from_directory(str(tmp_path), pad_to_aspect_ratio=True,
                                     crop_to_aspect_ratio=True)


@pytest.mark.parametrize("size", [(11, 16), (5, 7), (9, 9)])
@pytest.mark.parametrize("crop", [False, True])
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_resize_matches_keras_when_enlarging(interpolation, crop, size):
    # Enlarging, Pillow's bilinear and nearest sample as tf.image.resize (half-pixel centres);
    # Keras's torch backend resizes the same way, so its ops.image.resize is the reference.
    keras = _keras()
    pixels = np.random.default_rng(0).uniform(0, 255, (5, 7, 3)).astype(np.float32)
    loader = _ImageLoader(Image, size, 3, interpolation, crop, False, "channels_last")
    want = keras.ops.image.resize(pixels, size, interpolation=interpolation,
                                  crop_to_aspect_ratio=crop)
    np.testing.assert_allclose(loader._resize(pixels), np.asarray(want), atol=1e-3)


def _keys_cubic(x):  # Pillow's bicubic (a = -0.5)
    x = np.abs(x)
    return np.where(x < 1, 1.5 * x**3 - 2.5 * x**2 + 1,
                    np.where(x < 2, -0.5 * x**3 + 2.5 * x**2 - 4 * x + 2, 0.0))


@pytest.mark.parametrize("size", [(13, 4), (3, 17), (2, 2)])
def test_kernel_resampler_follows_pillow_rules(size):
    # lanczos5, gaussian and mitchellcubic, which Pillow lacks, go through our own separable
    # resampler: given Pillow's own kernels it must reproduce Pillow, enlarging and shrinking.
    pixels = np.random.default_rng(1).uniform(0, 255, (6, 9, 1)).astype(np.float32)
    for name, kernel, support in (("BICUBIC", _keys_cubic, 2.0),
                                  ("BILINEAR", lambda x: np.maximum(0, 1 - np.abs(x)), 1.0)):
        pil = Image.fromarray(pixels[:, :, 0]).resize(size[::-1], getattr(Image.Resampling, name))
        ours = _resize_with_kernel(pixels, *size, kernel, support)[:, :, 0]
        np.testing.assert_allclose(ours, np.asarray(pil), atol=1e-3, err_msg=name)


@pytest.mark.parametrize("interpolation",
                         ["bicubic", "area", "lanczos3", "lanczos5", "gaussian", "mitchellcubic"])
def test_every_interpolation_keeps_a_solid_image_solid(tmp_path, interpolation):
    _write_image(str(tmp_path / "a" / "x.png"), "RGB", (9, 5), (30, 60, 90))
    for size in ((3, 4), (20, 11)):
        ds = image_dataset_from_directory(str(tmp_path), image_size=size, verbose=False,
                                          interpolation=interpolation.upper(), label_mode=None)
        image = next(iter(ds))[0]
        np.testing.assert_allclose(image, np.broadcast_to([30, 60, 90], image.shape), atol=1e-3)


def test_images_corrupt_file_fails_when_its_batch_is_decoded(tmp_path):
    for i in range(5):
        _write_image(str(tmp_path / "a" / f"{i}.png"), "RGB", (4, 4), (i, i, i))
    bad = tmp_path / "a" / "3.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    ds = image_dataset_from_directory(str(tmp_path), image_size=(4, 4), batch_size=2,
                                      shuffle=False, verbose=False)  # indexing reads no pixels
    got = []
    with pytest.raises(ValueError, match=r"cannot decode the image file .*3\.png"):
        for x, _ in ds:
            got.append(x)
    assert len(got) == 1 and got[0].shape == (2, 4, 4, 3)  # the good batch, no partial one
    np.testing.assert_array_equal(got[0][:, 0, 0, 0], [0, 1])


def test_images_bad_arguments(tmp_path, image_dir, capsys):
    empty = tmp_path / "empty"
    (empty / "a").mkdir(parents=True)
    (empty / "a" / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match=r"No images found in directory .*Allowed formats: "
                                         r"\('.bmp', '.gif', '.jpeg', '.jpg', '.png'\)"):
        image_dataset_from_directory(str(empty))
    assert capsys.readouterr().out == "Found 0 files belonging to 1 classes.\n"
    with pytest.raises(FileNotFoundError, match="does not exist"):
        image_dataset_from_directory(str(tmp_path / "missing"))
    bad = [
        (dict(color_mode="cmyk"), "`color_mode` must be one of"),
        (dict(interpolation="cubic"), "`interpolation` should be one of"),
        (dict(image_size=(3,)), "Expected a tuple of 2 positive integers"),
        (dict(label_mode="sparse"), "`label_mode` argument must be one of"),
        (dict(class_names=["cats", "lions"]), "did not match the names of the subdirectories"),
        (dict(validation_split=0.2, subset="training"), "you must provide a `seed`"),
        (dict(subset="training"), "`validation_split` must be set"),
        (dict(validation_split=1.5, subset="training", seed=1), "between 0 and 1"),
        (dict(validation_split=0.2, subset="test", seed=1), "`subset` must be either"),
        (dict(batch_size=0), "`batch_size` >= 1"),
        (dict(data_format="nhwc"), "`data_format` must be"),
    ]
    for kwargs, message in bad:
        with pytest.raises(ValueError, match=message):
            image_dataset_from_directory(image_dir, verbose=False, **kwargs)


# -- text ------------------------------------------------------------------------------------

TEXTS = {"neg/1.txt": "awful\r\nfilm", "neg/2.txt": "dull", "pos/a.txt": "grand ✓",
         "pos/b.txt": "fine", "pos/c.txt": "good fun"}


@pytest.fixture(scope="module")
def text_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("texts")
    for rel, text in TEXTS.items():
        os.makedirs(root / os.path.dirname(rel), exist_ok=True)
        (root / rel).write_bytes(text.encode("utf-8"))
    (root / "pos" / "skip.md").write_text("not .txt")
    return str(root)


def test_texts_contents_labels_and_modes(text_dir, capsys):
    ds = text_dataset_from_directory(text_dir, shuffle=False, batch_size=2)
    assert capsys.readouterr().out == "Found 5 files belonging to 2 classes.\n"
    assert ds.class_names == ["neg", "pos"]
    batches = list(ds)
    texts = np.concatenate([x for x, _ in batches])
    assert texts.dtype == object and all(isinstance(t, str) for t in texts)
    assert texts.tolist() == [TEXTS[k] for k in sorted(TEXTS)]  # bytes kept: \r\n unchanged
    assert np.concatenate([y for _, y in batches]).tolist() == [0, 0, 1, 1, 1]

    short = text_dataset_from_directory(text_dir, shuffle=False, max_length=4,
                                        label_mode="binary", verbose=False)
    (x, y), = list(short)
    assert x.tolist() == [TEXTS[k][:4] for k in sorted(TEXTS)]
    assert y.dtype == np.float32 and y.shape == (5, 1)
    single = text_dataset_from_directory(text_dir, batch_size=None, label_mode=None, seed=2,
                                         verbose=False)
    assert sorted(str(t) for t in single) == sorted(TEXTS.values())


def test_texts_split_and_errors(text_dir, tmp_path):
    train, val = text_dataset_from_directory(text_dir, validation_split=0.4, subset="both",
                                             seed=9, verbose=False,
                                             label_mode="categorical")
    got = [(t, tuple(y)) for ds in (train, val) for x, ys in ds for t, y in zip(x, ys)]
    assert len(got) == 5 and sum(len(x) for x, _ in val) == 2
    assert sorted(t for t, _ in got) == sorted(TEXTS.values())
    for text, label in got:
        folder = next(k for k, v in TEXTS.items() if v == text).split("/")[0]
        assert label == ((1.0, 0.0) if folder == "neg" else (0.0, 1.0))

    with pytest.raises(ValueError, match="No text files found in directory .*Allowed format: "
                                         r"\.txt"):
        text_dataset_from_directory(str(tmp_path), verbose=False)
    latin = tmp_path / "a"
    latin.mkdir()
    (latin / "x.txt").write_bytes("café".encode("latin-1"))
    ds = text_dataset_from_directory(str(tmp_path), verbose=False)
    with pytest.raises(ValueError, match=r"cannot read the text file .*x\.txt"):
        list(ds)
    with pytest.raises(ValueError, match="`max_length`"):
        text_dataset_from_directory(text_dir, max_length=-1)


# -- timeseries ------------------------------------------------------------------------------


def test_timeseries_keras_example_1_windows():
    ds = timeseries_dataset_from_array(np.arange(99), None, sequence_length=10, sampling_rate=2,
                                       sequence_stride=3, shuffle=False)
    (windows,) = list(ds)
    np.testing.assert_array_equal(windows[0], np.arange(0, 20, 2))
    np.testing.assert_array_equal(windows[1], np.arange(3, 23, 2))
    np.testing.assert_array_equal(windows[2], np.arange(6, 26, 2))
    np.testing.assert_array_equal(windows[-1], np.arange(78, 98, 2))
    assert len(windows) == 27


def test_timeseries_keras_examples_2_and_3():
    data = np.random.default_rng(0).normal(size=200).astype(np.float32)
    ds = timeseries_dataset_from_array(data[:-10], data[10:], sequence_length=10)
    inputs, targets = next(iter(ds))
    np.testing.assert_array_equal(inputs[0], data[:10])
    assert targets[0] == data[10] and inputs.dtype == np.float32 and inputs.shape == (128, 10)

    x = np.arange(100)
    y = x * 2
    xs = timeseries_dataset_from_array(x, None, sequence_length=20, sequence_stride=20)
    ys = timeseries_dataset_from_array(y, None, sequence_length=20, sequence_stride=20)
    inputs, targets = next(zip(xs, ys))
    np.testing.assert_array_equal(inputs[0], x[:20])
    np.testing.assert_array_equal(targets[1], y[20:40])


def _reference_windows(data, targets, length, stride, rate, start, end):
    end = len(data) if end is None else end
    out = []
    p = 0
    while start + p + (length - 1) * rate < end and (targets is None or p < len(targets)):
        out.append((data[start + p:start + p + length * rate:rate],
                    None if targets is None else targets[start + p]))
        p += stride
    return out


@pytest.mark.parametrize("stride, rate, start, end, batch", [
    (1, 1, None, None, 4), (2, 3, 5, None, 3), (4, 1, 2, 30, None), (1, 2, None, 33, 100)])
def test_timeseries_against_a_loop(stride, rate, start, end, batch):
    data = np.random.default_rng(2).normal(size=(40, 2, 3))
    targets = np.arange(40) * 10
    ds = timeseries_dataset_from_array(data, targets, 5, sequence_stride=stride,
                                       sampling_rate=rate, batch_size=batch,
                                       start_index=start, end_index=end)
    want = _reference_windows(data, targets, 5, stride, rate, start or 0, end)
    if batch is None:
        got = list(ds)
    else:
        got = [(w, t) for ws, ts in ds for w, t in zip(ws, ts)]
        assert all(len(ws) <= batch for ws, _ in ds)
    assert len(got) == len(want) > 0
    for (w, t), (w_ref, t_ref) in zip(got, want):
        np.testing.assert_array_equal(w, w_ref)
        assert t == t_ref and w.dtype == data.dtype


def test_timeseries_shuffle_is_seeded_and_keeps_window_with_target():
    data = np.arange(300)

    def make():
        return timeseries_dataset_from_array(data, data, 7, batch_size=16, shuffle=True, seed=4)

    first = [(w.tolist(), t.tolist()) for w, t in make()]
    assert first == [(w.tolist(), t.tolist()) for w, t in make()]
    windows = np.concatenate([np.asarray(w) for w, _ in first])
    targets = np.concatenate([np.asarray(t) for _, t in first])
    np.testing.assert_array_equal(windows[:, 0], targets)  # target = data at the window start
    assert sorted(targets) == list(range(294)) and list(targets) != sorted(targets)


def test_timeseries_matches_keras_when_tensorflow_is_installed():
    keras = _keras()
    data = np.arange(60, dtype="float32").reshape(30, 2)
    kwargs = dict(sequence_length=4, sequence_stride=2, sampling_rate=3, batch_size=5,
                  start_index=1, end_index=25)
    try:
        theirs = list(keras.utils.timeseries_dataset_from_array(data, data[:, 0], **kwargs)
                      .as_numpy_iterator())
    except ImportError:
        pytest.skip("Keras's timeseries_dataset_from_array needs TensorFlow")
    ours = list(timeseries_dataset_from_array(data, data[:, 0], **kwargs))
    assert len(ours) == len(theirs)
    for (x, y), (kx, ky) in zip(ours, theirs):
        np.testing.assert_array_equal(x, kx)
        np.testing.assert_array_equal(y, ky)


@pytest.mark.parametrize("kwargs, message", [
    (dict(start_index=50), "`start_index` must be lower than the length"),
    (dict(start_index=-1), "`start_index` must be 0 or greater"),
    (dict(start_index=10, end_index=5), "`end_index` must be higher than `start_index`"),
    (dict(end_index=50), "`end_index` must be lower than the length"),
    (dict(sampling_rate=0), "`sampling_rate` must be higher than 0"),
    (dict(sequence_stride=40), "`sequence_stride` must be lower than the length"),
    (dict(sequence_length=41), "no window fits"),
    (dict(sequence_length=0), "`sequence_length` must be higher than 0"),
    (dict(batch_size=0), "`batch_size` >= 1"),
])
def test_timeseries_bad_arguments(kwargs, message):
    kwargs = {"sequence_length": 5, **kwargs}
    with pytest.raises(ValueError, match=message):
        timeseries_dataset_from_array(np.arange(40), None, **kwargs)


# -- split_dataset ---------------------------------------------------------------------------


def _rows(ds):
    return [tuple(np.atleast_1d(a).tolist() for a in (e if isinstance(e, tuple) else (e,)))
            for e in ds]


@pytest.mark.parametrize("left, right, sizes", [
    (0.8, None, (8, 2)), (3, None, (3, 7)), (None, 4, (6, 4)), (0.25, 0.5, (2, 5)),
    (2, 0.3, (2, 3)), (np.int64(5), None, (5, 5))])
def test_split_sizes_and_disjointness(left, right, sizes):
    x = np.arange(20).reshape(10, 2)
    for shuffle in (False, True):
        a, b = split_dataset(x, left_size=left, right_size=right, shuffle=shuffle, seed=0)
        rows_a, rows_b = np.stack(list(a)), np.stack(list(b))
        assert (len(rows_a), len(rows_b)) == sizes
        assert not set(rows_a[:, 0]) & set(rows_b[:, 0])
        if not shuffle:  # the first left_size and the last right_size rows
            np.testing.assert_array_equal(rows_a, x[:sizes[0]])
            np.testing.assert_array_equal(rows_b, x[10 - sizes[1]:])


def test_split_tuples_and_datasets():
    x, y = np.arange(30).reshape(10, 3).astype(np.float32), np.arange(10)
    a, b = split_dataset((x, y), left_size=0.6, shuffle=True, seed=1)
    pairs = [(xi, yi) for ds in (a, b) for xi, yi in ds]
    assert len(pairs) == 10 and sorted(int(yi) for _, yi in pairs) == list(range(10))
    for xi, yi in pairs:  # rows stay together
        np.testing.assert_array_equal(xi, x[yi])

    batched = Dataset.from_tensor_slices((x, y)).batch(4).prefetch(2)
    a, b = split_dataset(batched, right_size=3)
    assert [len(yb) for _, yb in a] == [4, 3] and [yb.tolist() for _, yb in b] == [[7, 8, 9]]
    plain = Dataset.from_tensor_slices({"v": y})
    a, b = split_dataset(plain, left_size=1, shuffle=True, seed=3)
    assert sorted([e["v"] for e in a] + [e["v"] for e in b]) == list(range(10))


def test_split_matches_keras(monkeypatch):
    # Keras's split (tf.data path) shuffles a list of the elements with random.seed(seed). Run
    # its code with a stand-in for the two tf.data calls it ends with.
    _keras()
    from keras.src.utils import dataset_utils as keras_utils
    from keras.src.utils import module_utils

    class FakeTFDataset:
        def __init__(self, data):
            self.data = data

        def prefetch(self, _):
            return self

    tf = types.SimpleNamespace(data=types.SimpleNamespace(
        Dataset=types.SimpleNamespace(from_tensor_slices=FakeTFDataset), AUTOTUNE=-1))
    monkeypatch.setattr(module_utils, "tensorflow", tf)
    state = random.getstate()
    x, y = np.arange(40).reshape(20, 2), np.arange(20) * 3
    for data, kwargs in ((x, dict(left_size=0.7)), ((x, y), dict(left_size=5, right_size=9)),
                         (x, dict(right_size=0.45))):
        for seed in (0, 11):
            ka, kb = keras_utils._split_dataset_tf(data, shuffle=True, seed=seed, **kwargs)
            a, b = split_dataset(data, shuffle=True, seed=seed, **kwargs)
            for ours, theirs in ((a, ka), (b, kb)):
                if isinstance(data, tuple):
                    theirs = list(zip(*[np.asarray(t) for t in theirs.data]))
                assert _rows(ours) == _rows(theirs.data if not isinstance(data, tuple)
                                            else theirs)
    random.setstate(state)
    # Size arithmetic and its checks, case by case.
    for left, right in [(0.5, None), (0.33, 0.33), (3, 0.5), (None, 0.99), (0.6, 0.6), (20, None),
                        (0, None), (None, 7), (1.0, None), (10, 11), (0.01, None)]:
        try:
            theirs = keras_utils._rescale_dataset_split_sizes(left, right, 20)
        except (ValueError, TypeError) as error:
            with pytest.raises(type(error)):
                _rescale_split_sizes(left, right, 20)
        else:
            assert _rescale_split_sizes(left, right, 20) == theirs


def test_split_bad_input():
    x = np.arange(10)
    cases = [
        (dict(dataset=x), ValueError, "at least one of `left_size` or `right_size`"),
        (dict(dataset=x, left_size="half"), TypeError, "`left_size` to be an int, a float"),
        (dict(dataset=x, left_size=10), ValueError, "positive integer smaller than 10"),
        (dict(dataset=x, left_size=1.5), ValueError, r"float in \(0, 1\)"),
        (dict(dataset=x, left_size=0.6, right_size=0.6), ValueError, "greater than 1"),
        (dict(dataset=x, left_size=6, right_size=6), ValueError, "more than the 10"),
        (dict(dataset=x, left_size=0.01), ValueError, "left part would be empty"),
        (dict(dataset=[x, x[:5]], left_size=2), ValueError, "different lengths"),
        (dict(dataset=[x, [1, 2]], left_size=2), ValueError, "NumPy arrays"),
        (dict(dataset=np.zeros((0, 3)), left_size=2), ValueError, "empty"),
        (dict(dataset={"x": x}, left_size=2), TypeError, "expected `dataset`"),
        (dict(dataset=Dataset.range(3).repeat(), left_size=2), ValueError, "infinite"),
        (dict(dataset=Dataset.from_generator(lambda: iter([np.zeros(2), np.zeros(3)])),
              left_size=1), ValueError, "the elements of `dataset` must agree"),
    ]
    for kwargs, error, message in cases:
        with pytest.raises(error, match=message):
            split_dataset(**kwargs)
