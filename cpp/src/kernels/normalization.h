// Kernel tables of the normalization family: batch normalization (statistics per channel over
// every other axis) and group normalization (statistics per sample and channel group).
//
// Geometry. The ops view x as (outer, C, inner): C the channel axis, outer the product of the
// extents before it, inner of those after it; channels_last (axis -1) is inner == 1, which the
// kernels treat as the fast path (rows of C contiguous channels). Group normalization adds the
// sample axis in front: (N, outer, C, inner), outer then covering the axes between the batch
// and the channels. The C channels split into `groups` contiguous groups of C / groups.
//
// Precision and determinism. Sums are accumulated in double. Batch statistics are summed in a
// fixed number of row blocks (norm_blocks(outer), a function of the shape only) whose partial
// sums are added in block order, and each (sample, group) of group normalization is summed by
// one task, so results do not depend on the thread count. The variance is biased, as Keras's
// ops.moments.
#pragma once
#include <cstdint>

#include "ember/kernel_registry.h"

namespace ember {

// Row blocks of the per-channel sums: enough for the threads to share, few enough that the
// partial sums (blocks x C doubles) stay small.
constexpr int64_t kNormMaxBlocks = 64;
inline int64_t norm_blocks(int64_t outer) {
  return outer < 1 ? 1 : (outer < kNormMaxBlocks ? outer : kNormMaxBlocks);
}
// Doubles of work memory the batch-norm kernels need.
inline int64_t bn_moments_work(int64_t outer, int64_t channels) {
  return 2 * norm_blocks(outer) * channels;
}
inline int64_t bn_backward_work(int64_t outer, int64_t channels) {
  return 2 * norm_blocks(outer) * channels + 3 * channels;
}
// Doubles of work memory group_backward needs: per-sample, per-channel sums.
inline int64_t gn_backward_work(int64_t n, int64_t channels) { return 2 * n * channels; }

template <class T>
struct NormalizationKernels {
  static constexpr const char* family = "normalization";

  // ---- batch normalization: x is (outer, C, inner), statistics per channel c.
  // mean[c] and biased var[c] over the outer * inner elements of channel c (0 when there are
  // none). work: bn_moments_work(outer, C) doubles.
  void (*channel_moments)(const T* x, int64_t outer, int64_t channels, int64_t inner, T* mean,
                          T* var, double* work);
  // y = (x - center[c]) * scale[c] + shift[c].
  void (*channel_affine)(const T* x, T* y, int64_t outer, int64_t channels, int64_t inner,
                         const T* center, const T* scale, const T* shift);
  // Backward of y = gamma[c] * (x - mean[c]) * invstd[c] + beta[c]. batch_stats: mean and
  // invstd were computed from this x (training), so their dependence on x is differentiated;
  // otherwise they are constants (the moving statistics). gamma null means 1. Each of gx,
  // dgamma, dbeta may be null (not wanted); each is assigned or, with its flag, added to.
  // work: bn_backward_work(outer, C) doubles.
  void (*channel_backward)(const T* x, const T* gy, int64_t outer, int64_t channels,
                           int64_t inner, const T* mean, const T* invstd, const T* gamma,
                           bool batch_stats, T* gx, bool acc_x, T* dgamma, bool acc_gamma,
                           T* dbeta, bool acc_beta, double* work);

  // ---- group normalization: x is (n, outer, C, inner), statistics per (sample, group).
  // mean and invstd = 1 / sqrt(biased var + epsilon), each n * groups, indexed [s * groups + g].
  void (*group_moments)(const T* x, int64_t n, int64_t outer, int64_t channels, int64_t inner,
                        int64_t groups, double epsilon, T* mean, T* invstd);
  // y = (x - mean) * invstd * gamma[c] + beta[c]; gamma null means 1, beta null means 0.
  void (*group_affine)(const T* x, T* y, int64_t n, int64_t outer, int64_t channels,
                       int64_t inner, int64_t groups, const T* mean, const T* invstd,
                       const T* gamma, const T* beta);
  // Backward of group_affine with mean/invstd the statistics of x (always batch statistics).
  // Same conventions as channel_backward; work: gn_backward_work(n, C) doubles.
  void (*group_backward)(const T* x, const T* gy, int64_t n, int64_t outer, int64_t channels,
                         int64_t inner, int64_t groups, const T* mean, const T* invstd,
                         const T* gamma, T* gx, bool acc_x, T* dgamma, bool acc_gamma,
                         T* dbeta, bool acc_beta, double* work);
};

}  // namespace ember
