// Kernel table of layer normalization: x viewed as (rows, n), each row normalised over its n
// trailing elements (Keras LayerNormalization over the axes from `begin_axis` to the end).
//
//   plain:       y = (x - mean) * rstd * gamma + beta
//   rms_scaling: y = x * rstd * gamma            (Keras 3.15's deprecated rms_scaling: the
//                                                 *centred* variance, x itself not centred, no beta)
// with mean and the biased variance of the row, rstd = 1 / sqrt(var + epsilon). Statistics are
// summed in double. dgamma/dbeta sum over rows in ln_blocks(rows) fixed row blocks added in
// order, so no result depends on the thread count.
#pragma once
#include <cstdint>

#include "ember/kernel_registry.h"

namespace ember {

constexpr int64_t kLnMaxBlocks = 64;
inline int64_t ln_blocks(int64_t rows) {
  return rows < 1 ? 1 : (rows < kLnMaxBlocks ? rows : kLnMaxBlocks);
}
// Doubles of work memory backward needs: per-block partial sums of dgamma and dbeta.
inline int64_t ln_backward_work(int64_t rows, int64_t n) { return 2 * ln_blocks(rows) * n; }

template <class T>
struct LayerNormKernels {
  static constexpr const char* family = "layer_norm";
  // gamma / beta null mean 1 / 0; mean and rstd receive the per-row statistics (rows each).
  void (*forward)(const T* x, T* y, int64_t rows, int64_t n, const T* gamma, const T* beta,
                  double epsilon, bool rms_scaling, T* mean, T* rstd);
  // From forward's mean/rstd. Each of dx, dgamma, dbeta may be null (not wanted); each is
  // assigned or, with its flag, added to. work: ln_backward_work(rows, n) doubles.
  void (*backward)(const T* x, const T* dy, int64_t rows, int64_t n, const T* gamma,
                   bool rms_scaling, const T* mean, const T* rstd, T* dx, bool acc_x,
                   T* dgamma, bool acc_gamma, T* dbeta, bool acc_beta, double* work);
};

}  // namespace ember
