// CPU kernels of layer normalization (kernels/layer_norm.h): rows in parallel, each row's
// statistics in two passes over the row while it is in cache (mean, then the centred sum of
// squares: no cancellation when the mean is large), the output in a third.
#include <cmath>

#include "ember/threads.h"
#include "kernels/layer_norm.h"

namespace ember {
namespace {

inline int64_t block_lo(int64_t rows, int64_t nb, int64_t b) { return rows * b / nb; }

template <class T>
void row_stats(const T* x, int64_t n, double epsilon, T* mean_out, T* rstd_out) {
  double s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t c = 0; c < n; ++c) s += x[c];
  const double mean = n ? s / n : 0.0;
  double q = 0;
#pragma omp simd reduction(+ : q)
  for (int64_t c = 0; c < n; ++c) q += (x[c] - mean) * (x[c] - mean);
  const double var = n ? q / n : 0.0;
  *mean_out = static_cast<T>(mean);
  *rstd_out = static_cast<T>(1.0 / std::sqrt(var + epsilon));
}

template <class T>
void forward(const T* x, T* y, int64_t rows, int64_t n, const T* gamma, const T* beta,
             double epsilon, bool rms, T* mean, T* rstd) {
#pragma omp parallel for if (rows * n > kParallelGrain) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * n;
    T* yr = y + r * n;
    row_stats(xr, n, epsilon, mean + r, rstd + r);
    const T s = rstd[r], shift = rms ? T(0) : mean[r];
    if (gamma && beta) {
#pragma omp simd
      for (int64_t c = 0; c < n; ++c) yr[c] = (xr[c] - shift) * s * gamma[c] + beta[c];
    } else if (gamma) {
#pragma omp simd
      for (int64_t c = 0; c < n; ++c) yr[c] = (xr[c] - shift) * s * gamma[c];
    } else if (beta) {
#pragma omp simd
      for (int64_t c = 0; c < n; ++c) yr[c] = (xr[c] - shift) * s + beta[c];
    } else {
#pragma omp simd
      for (int64_t c = 0; c < n; ++c) yr[c] = (xr[c] - shift) * s;
    }
  }
}

// dx of one row. g = dy * gamma. plain: xhat = (x - mean) rstd,
// dx = rstd (g - mean(g) - xhat mean(g xhat)). rms (y = x rstd gamma, rstd of the centred
// variance): dx = rstd g - rstd^3 (x - mean) / n * sum(g x).
template <class T>
void row_dx(const T* x, const T* dy, int64_t n, const T* gamma, bool rms, T mean, T rstd, T* dx,
            bool acc) {
  auto g = [&](int64_t c) { return gamma ? dy[c] * gamma[c] : dy[c]; };
  double a = 0, b = 0;
  if (rms) {
#pragma omp simd reduction(+ : a)
    for (int64_t c = 0; c < n; ++c) a += g(c) * x[c];
    const T k = static_cast<T>(double(rstd) * rstd * rstd * a / n);
    for (int64_t c = 0; c < n; ++c) {
      const T v = rstd * g(c) - k * (x[c] - mean);
      dx[c] = acc ? dx[c] + v : v;
    }
    return;
  }
#pragma omp simd reduction(+ : a, b)
  for (int64_t c = 0; c < n; ++c) {
    a += g(c);
    b += g(c) * (x[c] - mean) * rstd;
  }
  const T ma = static_cast<T>(a / n), mb = static_cast<T>(b / n);
  for (int64_t c = 0; c < n; ++c) {
    const T v = rstd * (g(c) - ma - (x[c] - mean) * rstd * mb);
    dx[c] = acc ? dx[c] + v : v;
  }
}

template <class T>
void backward(const T* x, const T* dy, int64_t rows, int64_t n, const T* gamma, bool rms,
              const T* mean, const T* rstd, T* dx, bool acc_x, T* dgamma, bool acc_gamma,
              T* dbeta, bool acc_beta, double* work) {
  const int64_t nb = ln_blocks(rows);
  const bool params = dgamma || dbeta;
  double* pg = work;           // nb x n partial dgamma
  double* pb = work + nb * n;  // nb x n partial dbeta
#pragma omp parallel for if (rows * n > kParallelGrain) schedule(static)
  for (int64_t blk = 0; blk < nb; ++blk) {
    double* ag = pg + blk * n;
    double* ab = pb + blk * n;
    if (params)
      for (int64_t c = 0; c < n; ++c) ag[c] = ab[c] = 0;
    for (int64_t r = block_lo(rows, nb, blk), e = block_lo(rows, nb, blk + 1); r < e; ++r) {
      const T* xr = x + r * n;
      const T* gr = dy + r * n;
      if (dx) row_dx(xr, gr, n, gamma, rms, mean[r], rstd[r], dx + r * n, acc_x);
      if (params) {
        const T shift = rms ? T(0) : mean[r], s = rstd[r];
#pragma omp simd
        for (int64_t c = 0; c < n; ++c) {
          ag[c] += gr[c] * (xr[c] - shift) * s;
          ab[c] += gr[c];
        }
      }
    }
  }
  if (!params) return;
#pragma omp parallel for if (nb * n > kParallelGrain) schedule(static)
  for (int64_t c = 0; c < n; ++c) {
    double sg = 0, sb = 0;
    for (int64_t blk = 0; blk < nb; ++blk) {
      sg += pg[blk * n + c];
      sb += pb[blk * n + c];
    }
    if (dgamma) dgamma[c] = static_cast<T>(acc_gamma ? dgamma[c] + sg : sg);
    if (dbeta) dbeta[c] = static_cast<T>(acc_beta ? dbeta[c] + sb : sb);
  }
}

template <class T>
constexpr LayerNormKernels<T> table() {
  return {forward<T>, backward<T>};
}

const LayerNormKernels<float> cpu_ln_f32 = table<float>();
const LayerNormKernels<double> cpu_ln_f64 = table<double>();

}  // namespace

EMBER_REGISTER_KERNELS(LayerNormKernels<float>, Device::cpu, cpu_ln_f32);
EMBER_REGISTER_KERNELS(LayerNormKernels<double>, Device::cpu, cpu_ln_f64);

}  // namespace ember
