// Kernel table of the pooling family: max and average pooling over channels_last tensors with
// 1, 2 or 3 spatial dimensions. The op describes every case as 3-D (a 1-D or 2-D input gets
// leading spatial extents of 1, with window 1, stride 1, no padding), so one kernel serves all.
#pragma once
#include <cstdint>

#include "ember/kernel_registry.h"

namespace ember {

// Geometry of one pooling: x is (n, in[0], in[1], in[2], c), y is (n, out[0], out[1], out[2], c).
// Window o along axis a covers input [o * stride[a] - pad[a], ... + window[a]) clipped to the
// input: padded positions take no part in a max nor in the count of an average (Keras/TF).
struct PoolGeom {
  int64_t n = 0, c = 0;
  int64_t in[3] = {1, 1, 1};
  int64_t out[3] = {1, 1, 1};
  int64_t window[3] = {1, 1, 1};
  int64_t stride[3] = {1, 1, 1};
  int64_t pad[3] = {0, 0, 0};  // padding before the input (the 'same' left pad)
};

template <class T>
struct PoolingKernels {
  static constexpr const char* family = "pooling";
  // y = max over each window; NaN propagates. Every window holds at least one input element.
  void (*max_pool)(const T* x, T* y, const PoolGeom& g);
  // y = mean over the input elements of each window (padding not counted).
  void (*avg_pool)(const T* x, T* y, const PoolGeom& g);
  // gx (=|+=) gy routed to the first element of each window (row-major window order) equal to
  // y, the forward result; recomputed from x and y, nothing kept from forward. Overlapping
  // windows add up.
  void (*max_pool_backward)(const T* x, const T* y, const T* gy, T* gx, const PoolGeom& g,
                            bool accumulate);
  // gx (=|+=) gy / count spread over each window's input elements.
  void (*avg_pool_backward)(const T* gy, T* gx, const PoolGeom& g, bool accumulate);
};

}  // namespace ember
