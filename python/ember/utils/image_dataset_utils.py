"""`image_dataset_from_directory`: a Dataset of image batches read from class sub-folders.

Images are decoded with Pillow and resized in float32 (no rounding to 8 bits) when their batch
is produced; only the file list is built up front.
"""

import numpy as np

from ember.utils import dataset_utils

ALLOWLIST_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
INTERPOLATIONS = (
    "bilinear", "nearest", "bicubic", "area", "lanczos3", "lanczos5", "gaussian",
    "mitchellcubic",
)
_CHANNELS = {"grayscale": 1, "rgb": 3, "rgba": 4}
_PIL_MODES = {1: "L", 3: "RGB", 4: "RGBA"}
_WHO = "image_dataset_from_directory"


def image_dataset_from_directory(
    directory,
    labels="inferred",
    label_mode="int",
    class_names=None,
    color_mode="rgb",
    batch_size=32,
    image_size=(256, 256),
    shuffle=True,
    seed=None,
    validation_split=None,
    subset=None,
    interpolation="bilinear",
    follow_links=False,
    crop_to_aspect_ratio=False,
    pad_to_aspect_ratio=False,
    data_format=None,
    verbose=True,
):
    """Generates a dataset of images from a directory (Keras's function, with ember's Dataset).

    With `main_directory/class_a/*.jpg` and `main_directory/class_b/*.jpg`, the dataset yields
    `(images, labels)` batches, label 0 for class_a and 1 for class_b. Supported formats: .bmp,
    .gif (first frame), .jpeg, .jpg, .png.

    Args:
        directory: the data directory; with labels="inferred", one sub-folder per class.
        labels: "inferred" (from the sub-folder names), None (no labels), or a list/tuple of
            integer labels, one per image file in the alphanumeric order of their paths.
        label_mode: "int" (int32, shape (batch,)), "categorical" (one-hot float32, shape
            (batch, num_classes)), "binary" (float32 0/1, shape (batch, 1); 2 classes), or None.
        class_names: with labels="inferred", the sub-folders to use, in label order
            (default: all, alphanumerically).
        color_mode: "grayscale", "rgb" or "rgba": 1, 3 or 4 channels.
        batch_size: images per batch (default 32); None yields single images.
        image_size: (height, width) the images are resized to (default (256, 256)).
        shuffle: shuffle the files (and reshuffle the training data every epoch); False keeps
            the alphanumeric order.
        seed: int seed of the shuffle; required with validation_split and shuffle.
        validation_split: float in (0, 1): the fraction of files kept for validation.
        subset: "training", "validation" or "both" (returns [training, validation]); only
            with validation_split.
        interpolation: the resize filter: "bilinear", "nearest", "bicubic", "area",
            "lanczos3", "lanczos5", "gaussian" or "mitchellcubic".
        follow_links: visit sub-folders that are symbolic links.
        crop_to_aspect_ratio: crop the largest centred window of the target aspect ratio
            before resizing, instead of distorting the image.
        pad_to_aspect_ratio: resize to fit inside image_size keeping the aspect ratio and pad
            the rest with zeros, instead of distorting the image.
        data_format: "channels_last" (batch, height, width, channels) or "channels_first";
            None: `ember.config.image_data_format()`.
        verbose: print how many files and classes were found.

    Returns:
        An `ember.data.Dataset` yielding float32 image batches (and labels, unless
        label_mode/labels is None), with attributes `class_names` and `file_paths`; for
        subset="both", a list [training, validation] of two such datasets.
    """
    num_channels = _CHANNELS.get(color_mode)
    if num_channels is None:
        raise ValueError(
            f'{_WHO}: `color_mode` must be one of {{"rgb", "rgba", "grayscale"}}. Received: '
            f"color_mode={color_mode!r}"
        )
    image_size = _check_image_size(image_size)
    if not isinstance(interpolation, str) or interpolation.lower() not in INTERPOLATIONS:
        raise ValueError(
            f"{_WHO}: argument `interpolation` should be one of {INTERPOLATIONS}. Received: "
            f"interpolation={interpolation!r}"
        )
    interpolation = interpolation.lower()
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError(
            f"{_WHO}: only one of `pad_to_aspect_ratio`, `crop_to_aspect_ratio` can be set "
            f"to `True`."
        )
    from ember import config  # here, not at import: ember.utils loads while ember does

    data_format = data_format or config.image_data_format()
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(
            f'{_WHO}: `data_format` must be "channels_last", "channels_first" or None. '
            f"Received: data_format={data_format!r}"
        )
    pil = _import_pillow()
    loader = _ImageLoader(
        pil, image_size, num_channels, interpolation, crop_to_aspect_ratio,
        pad_to_aspect_ratio, data_format,
    )
    return dataset_utils.datasets_from_directory(
        directory, labels, label_mode, class_names, ALLOWLIST_FORMATS, loader.load_files,
        batch_size, shuffle, seed, validation_split, subset, follow_links, verbose,
        who=_WHO, files="images", file_paths_attribute=True,
    )


def _check_image_size(image_size):
    if isinstance(image_size, (int, np.integer)) and not isinstance(image_size, bool):
        image_size = (image_size, image_size)
    if (
        not isinstance(image_size, (list, tuple))
        or len(image_size) != 2
        or not all(
            isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n > 0
            for n in image_size
        )
    ):
        raise ValueError(
            f"{_WHO}: invalid `image_size` value. Expected a tuple of 2 positive integers "
            f"(height, width). Received: image_size={image_size!r}"
        )
    return int(image_size[0]), int(image_size[1])


def _import_pillow():
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(
            f"{_WHO} decodes images with Pillow, which is not installed: pip install pillow"
        ) from None
    return Image


class _ImageLoader:
    """Reads, converts and resizes the images of one batch of paths."""

    def __init__(self, pil, image_size, num_channels, interpolation, crop, pad, data_format):
        self._pil = pil
        self._height, self._width = image_size
        self._num_channels = num_channels
        self._interpolation = interpolation
        self._crop = crop
        self._pad = pad
        self._channels_first = data_format == "channels_first"

    def load_files(self, paths):
        """float32 images for an array of paths: (n, h, w, c), or (h, w, c) for a 0-d path.
        The batch is filled completely or an error is raised: nothing partial comes out."""
        paths = np.asarray(paths)
        images = np.stack([self._load(str(path)) for path in paths.reshape(-1)])
        if self._channels_first:
            images = images.transpose(0, 3, 1, 2)
        return images[0] if paths.ndim == 0 else images

    def _load(self, path):
        try:
            with self._pil.open(path) as image:
                image.load()
                pixels = self._pixels(image)
            return self._resize(pixels)
        except Exception as error:  # Pillow raises OSError, SyntaxError, ValueError, ...
            raise ValueError(f"{_WHO}: cannot decode the image file {path}: {error}") from error

    def _pixels(self, image):
        """float32 (h, w, channels) pixel values in [0, 255] in the requested color mode."""
        if image.mode.startswith("I;16"):
            # 16-bit grayscale PNG: keep the high byte, as tf.image.decode_image does for uint8.
            high = (np.asarray(image).astype(np.uint32) >> 8).astype(np.uint8)
            image = self._pil.fromarray(high)
        target = _PIL_MODES[self._num_channels]
        if image.mode != target:
            image = image.convert(target)
        pixels = np.asarray(image, dtype=np.float32)
        return pixels[:, :, None] if pixels.ndim == 2 else pixels

    def _resize(self, pixels):
        height, width = pixels.shape[:2]
        if self._crop:
            top, left, crop_h, crop_w = _crop_box(height, width, self._height, self._width)
            pixels = pixels[top:top + crop_h, left:left + crop_w]
        if not self._pad:
            return self._resize_to(pixels, self._height, self._width)
        inner_h, inner_w, top, left = _pad_box(height, width, self._height, self._width)
        padded = np.zeros((self._height, self._width, pixels.shape[2]), np.float32)
        padded[top:top + inner_h, left:left + inner_w] = self._resize_to(pixels, inner_h, inner_w)
        return padded

    def _resize_to(self, pixels, height, width):
        if pixels.shape[:2] == (height, width):
            return pixels
        if self._interpolation in _KERNELS:
            return _resize_with_kernel(pixels, height, width, *_KERNELS[self._interpolation])
        resample = getattr(self._pil.Resampling, _PILLOW_FILTERS[self._interpolation])
        # Pillow resizes one float ("F") channel at a time: resizing the 8-bit image would round
        # the results to integers, where Keras keeps them as floats.
        channels = [
            np.asarray(self._pil.fromarray(np.ascontiguousarray(pixels[:, :, k]))
                       .resize((width, height), resample))
            for k in range(pixels.shape[2])
        ]
        return np.stack(channels, axis=-1)


def _crop_box(height, width, target_height, target_width):
    """(top, left, height, width) of the largest centred window with the target aspect ratio,
    computed as Keras's smart_resize does."""
    crop_h = max(min(height, int(float(width * target_height) / target_width)), 1)
    crop_w = max(min(width, int(float(height * target_width) / target_height)), 1)
    return int(float(height - crop_h) / 2), int(float(width - crop_w) / 2), crop_h, crop_w


def _pad_box(height, width, target_height, target_width):
    """(inner height, inner width, top, left): the image's size once resized to fit inside the
    target keeping its aspect ratio, and its offset in the zero padding, as
    tf.image.resize_with_pad computes them."""
    ratio = max(width / target_width, height / target_height)
    inner_h = max(1, min(target_height, int(np.floor(height / ratio))))
    inner_w = max(1, min(target_width, int(np.floor(width / ratio))))
    top = max(0, int(np.floor((target_height - height / ratio) / 2)))
    left = max(0, int(np.floor((target_width - width / ratio) / 2)))
    return inner_h, inner_w, top, left


# Keras's names -> Pillow's filters. "area" (averaging over each output pixel's footprint) is
# Pillow's box filter.
_PILLOW_FILTERS = {
    "bilinear": "BILINEAR",
    "nearest": "NEAREST",
    "bicubic": "BICUBIC",
    "area": "BOX",
    "lanczos3": "LANCZOS",
}


def _lanczos5(x):
    return np.where(np.abs(x) < 5, np.sinc(x) * np.sinc(x / 5), 0.0)


def _gaussian(x):
    # TensorFlow's kernel: radius 1.5, sigma 0.5.
    return np.where(np.abs(x) < 1.5, np.exp(-x * x / (2 * 0.5**2)), 0.0)


def _mitchell(x):
    # Mitchell-Netravali cubic, B = C = 1/3.
    x = np.abs(x)
    near = (7 * x**3 - 12 * x**2 + 16 / 3) / 6
    far = (-7 / 3 * x**3 + 12 * x**2 - 20 * x + 32 / 3) / 6
    return np.where(x < 1, near, np.where(x < 2, far, 0.0))


# Filters Pillow lacks: (kernel, support radius), applied by _resize_with_kernel.
_KERNELS = {
    "lanczos5": (_lanczos5, 5.0),
    "gaussian": (_gaussian, 1.5),
    "mitchellcubic": (_mitchell, 2.0),
}


def _resize_with_kernel(pixels, height, width, kernel, support):
    """Separable resampling with `kernel`, by Pillow's rules (pixel centres at i + 0.5; the
    kernel is stretched by the scale when shrinking, which averages instead of aliasing)."""
    rows = _resample_matrix(pixels.shape[0], height, kernel, support)
    cols = _resample_matrix(pixels.shape[1], width, kernel, support)
    return np.einsum("oh,hwc,pw->opc", rows, pixels, cols, optimize=True).astype(np.float32)


def _resample_matrix(in_size, out_size, kernel, support):
    """(out_size, in_size) weights: output pixel i takes the input pixels around its centre
    (i + 0.5) * in_size / out_size, weighted by the kernel and normalised to sum to 1."""
    scale = in_size / out_size
    stretch = max(scale, 1.0)
    centres = (np.arange(out_size) + 0.5) * scale
    distance = (np.arange(in_size) + 0.5)[None, :] - centres[:, None]
    weights = kernel(distance / stretch) * (np.abs(distance) < support * stretch)
    totals = weights.sum(axis=1, keepdims=True)
    return weights / np.where(totals == 0, 1.0, totals)
