// Kernel table of the spatial resampling family over channels_last tensors: constant padding and
// cropping (ZeroPadding*D, Cropping*D), nearest upsampling (UpSampling*D) and bilinear resizing
// (UpSampling2D(interpolation='bilinear')). Like pooling, the ops describe 1-D and 2-D inputs
// as 3-D ones with leading spatial extents of 1.
#pragma once
#include <cstdint>

#include "ember/kernel_registry.h"

namespace ember {

// A box of `inner` spatial extents lying at `offset` inside `outer` extents, for n images of c
// channels: padding writes the inner tensor into the outer one, cropping reads it back out.
struct BoxGeom {
  int64_t n = 0, c = 0;
  int64_t outer[3] = {1, 1, 1};
  int64_t inner[3] = {1, 1, 1};
  int64_t offset[3] = {0, 0, 0};
};

// Nearest upsampling: x is (n, in[0], in[1], in[2], c), y repeats each element factor[a] times
// along spatial axis a.
struct UpsampleGeom {
  int64_t n = 0, c = 0;
  int64_t in[3] = {1, 1, 1};
  int64_t factor[3] = {1, 1, 1};
};

template <class T>
struct ResampleKernels {
  static constexpr const char* family = "resample";
  // y (outer) = x inside the box and `value` outside. With `accumulate` the box gets y += x and
  // the border is left alone (the use is crop's backward, whose border gradient is 0).
  void (*pad)(const T* x, T* y, const BoxGeom& g, T value, bool accumulate);
  // y (inner) (=|+=) the box of x (outer).
  void (*crop)(const T* x, T* y, const BoxGeom& g, bool accumulate);
  void (*upsample_nearest)(const T* x, T* y, const UpsampleGeom& g);
  // gx (=|+=) the sum of gy over each element's block of copies.
  void (*upsample_nearest_backward)(const T* gy, T* gx, const UpsampleGeom& g, bool accumulate);
  // Bilinear resize of x (n, h, w, c) to y (n, oh, ow, c) with half-pixel centers and no
  // antialiasing (torch's F.interpolate(mode='bilinear', align_corners=False), TF's
  // half_pixel_centers=True): the source of output index o is (o + 0.5) * in / out - 0.5,
  // clamped below at 0; its two neighbours are clamped to the edge.
  void (*resize_bilinear)(const T* x, T* y, int64_t n, int64_t h, int64_t w, int64_t c,
                          int64_t oh, int64_t ow);
  // The transpose of resize_bilinear: gx (=|+=) each gy element spread onto its four sources.
  void (*resize_bilinear_backward)(const T* gy, T* gx, int64_t n, int64_t h, int64_t w,
                                   int64_t c, int64_t oh, int64_t ow, bool accumulate);
};

}  // namespace ember
