// Kernel tables of the image augmentation ops (RandomFlip, RandomRotation, RandomTranslation,
// RandomZoom, RandomCrop, RandomContrast) over channels_last batches (n, h, w, c). The ops draw
// the per-sample parameters; the kernels only apply them, so the same kernels serve the random
// path and the explicit-parameter path the tests use.
#pragma once
#include <cstdint>

#include "ember/kernel_registry.h"

namespace ember {

// How a sample reads outside the image (Keras's affine_transform on the torch/JAX backends,
// i.e. scipy.ndimage.map_coordinates): every interpolation tap is fixed on its own.
//   reflect  (d c b a | a b c d | d c b a)   wrap  (a b c d | a b c d | a b c d)
//   nearest  (a a a a | a b c d | d d d d)   constant  (k k k k | a b c d | k k k k)
enum class FillMode : int { reflect = 0, wrap = 1, constant = 2, nearest = 3 };
enum class Interpolation : int { bilinear = 0, nearest = 1 };

struct AffineGeom {
  int64_t n = 0, h = 0, w = 0, c = 0;
  FillMode fill = FillMode::reflect;
  Interpolation interp = Interpolation::bilinear;
  double fill_value = 0.0;
};

// Keras's 8-parameter image transform, one row per sample: output pixel (x, y) (column, row)
// reads the input at ((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k), k = c0 x + c1 y + 1.
constexpr int kTransformSize = 8;

template <class T>
struct AffineKernels {
  static constexpr const char* family = "augmentation_affine";
  // y = x resampled through transforms (n x 8); y has x's shape.
  void (*affine)(const T* x, T* y, const double* transforms, const AffineGeom& g);
  // The transpose: gx (=|+=) each gy element spread onto the taps it was read from.
  void (*affine_backward)(const T* gy, T* gx, const double* transforms, const AffineGeom& g,
                          bool accumulate);
};

// A window of box_h x box_w pixels at a per-sample (top, left) offset, resized to oh x ow with
// half-pixel bilinear interpolation (torch's interpolate(align_corners=False), Keras's resize)
// when the sizes differ, copied when they agree.
struct CropGeom {
  int64_t n = 0, h = 0, w = 0, c = 0;
  int64_t box_h = 0, box_w = 0;
  int64_t oh = 0, ow = 0;
};

template <class T>
struct AugmentKernels {
  static constexpr const char* family = "augmentation";
  // y (=|+=) x with the samples whose flips[i] != 0 mirrored left-right (horizontal) and/or
  // top-bottom (vertical). A flip is its own transpose: backward is the same call on gy.
  void (*flip)(const T* x, T* y, const uint8_t* flips, int64_t n, int64_t h, int64_t w,
               int64_t c, bool horizontal, bool vertical, bool accumulate);
  // offsets: n x 2 (top, left), each window inside the image.
  void (*crop_resize)(const T* x, T* y, const int64_t* offsets, const CropGeom& g);
  void (*crop_resize_backward)(const T* gy, T* gx, const int64_t* offsets, const CropGeom& g,
                               bool accumulate);
  // y = clip((x - m) * f + m, lo, hi) with m the mean over the hw pixels of each (sample,
  // channel) and f = factors[sample]. `means` is n x c scratch.
  void (*contrast)(const T* x, T* y, const double* factors, int64_t n, int64_t hw, int64_t c,
                   double lo, double hi, double* means);
  // gx (=|+=) the gradient of that map, the clip passing gradient on [lo, hi] (as clip).
  // `scratch` is 2 n c doubles.
  void (*contrast_backward)(const T* x, const T* gy, T* gx, const double* factors, int64_t n,
                            int64_t hw, int64_t c, double lo, double hi, bool accumulate,
                            double* scratch);
};

}  // namespace ember
