// CPU kernels of depthwise_conv: direct loops (one kernel per channel leaves nothing for a
// matrix product to share), parallel over output or input rows, vectorised over channels.
// Output channel c * dm + m reads input channel c, so with dm = 1 every inner loop is a plain
// channel-wise multiply-add.
#include <omp.h>

#include <cstring>
#include <vector>

#include "ember/kernel_registry.h"
#include "ember/threads.h"
#include "kernels/conv.h"
#include "kernels/elementwise.h"

namespace ember {
namespace {

inline int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
inline int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }

// Output pixels ow of the innermost axis whose tap kw lands inside the input: [lo, hi).
inline void valid_outputs(const ConvGeom& g, int64_t kw, int64_t& lo, int64_t& hi) {
  const int64_t shift = kw * g.dil[2] - g.pad[2];
  lo = std::max<int64_t>(0, ceil_div(-shift, g.stride[2]));
  hi = std::max(lo, std::min(g.out[2], floor_div(g.img[2] - 1 - shift, g.stride[2]) + 1));
}

// yp[j] += xp[j] * wp[j]
template <class T>
inline void madd(T* __restrict yp, const T* __restrict xp, const T* __restrict wp, int64_t n) {
  for (int64_t j = 0; j < n; ++j) yp[j] += xp[j] * wp[j];
}

// A row of x (width pixels of C channels) with each channel repeated dm times, so that every
// inner loop runs over the C * dm output channels as one vector: x itself when dm == 1,
// else expanded into `rep`.
template <class T>
inline const T* input_row(const T* xrow, T* rep, int64_t width, int64_t C, int64_t dm) {
  if (dm == 1) return xrow;
  for (int64_t i = 0; i < width * C; ++i)
    for (int64_t m = 0; m < dm; ++m) rep[i * dm + m] = xrow[i];
  return rep;
}

template <class T>
void forward(const T* x, const T* w, const T* bias, T* y, const ConvGeom& g, int64_t dm,
             Act act) {
  const int64_t C = g.channels, CM = C * dm, O0 = g.out[0], O1 = g.out[1], O2 = g.out[2];
  const int64_t rows = g.rows();
  const ElementwiseFns<T>* ew = act == Act::linear ? nullptr : &elementwise_fns<T>();
  const double alpha = act_default_alpha(act);
  const bool parallel = rows * O2 * CM * g.taps() > kParallelGrain;
  std::vector<T> rep(dm > 1 ? size_t(parallel ? omp_get_max_threads() : 1) * g.img[2] * CM : 0);
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t r = 0; r < rows; ++r) {
    T* xrep = dm > 1 ? rep.data() + size_t(omp_get_thread_num()) * g.img[2] * CM : nullptr;
    const int64_t oh = r % O1, od = (r / O1) % O0, n = r / (O1 * O0);
    T* yrow = y + r * O2 * CM;
    for (int64_t ow = 0; ow < O2; ++ow) {
      if (bias) std::memcpy(yrow + ow * CM, bias, sizeof(T) * CM);
      else std::memset(yrow + ow * CM, 0, sizeof(T) * CM);
    }
    for (int64_t kd = 0; kd < g.k[0]; ++kd) {
      const int64_t id = od * g.stride[0] + kd * g.dil[0] - g.pad[0];
      if (id < 0 || id >= g.img[0]) continue;
      for (int64_t kh = 0; kh < g.k[1]; ++kh) {
        const int64_t ih = oh * g.stride[1] + kh * g.dil[1] - g.pad[1];
        if (ih < 0 || ih >= g.img[1]) continue;
        const T* xrow = input_row(x + ((n * g.img[0] + id) * g.img[1] + ih) * g.img[2] * C,
                                  xrep, g.img[2], C, dm);
        for (int64_t kw = 0; kw < g.k[2]; ++kw) {
          const T* wk = w + ((kd * g.k[1] + kh) * g.k[2] + kw) * CM;
          int64_t lo, hi;
          valid_outputs(g, kw, lo, hi);
          const int64_t shift = kw * g.dil[2] - g.pad[2];
          for (int64_t ow = lo; ow < hi; ++ow)
            madd(yrow + ow * CM, xrow + (ow * g.stride[2] + shift) * CM, wk, CM);
        }
      }
    }
    if (ew) ew->act_forward(act, yrow, yrow, O2 * CM, alpha);
  }
}

template <class T>
void filter_grad(const T* x, const T* gz, T* dw, bool accumulate, const ConvGeom& g,
                 int64_t dm) {
  const int64_t C = g.channels, CM = C * dm, O0 = g.out[0], O1 = g.out[1], O2 = g.out[2];
  const int64_t rows = g.rows(), wsize = g.taps() * CM;
  // Per-thread partial kernels over a static split of the output rows, added in thread order.
  const int nth = (rows * O2 * wsize > kParallelGrain && !omp_in_parallel())
                      ? static_cast<int>(std::min<int64_t>(omp_get_max_threads(), rows))
                      : 1;
  std::vector<T> part(static_cast<size_t>(nth) * wsize, T(0));
  std::vector<T> rep(dm > 1 ? size_t(nth) * g.img[2] * CM : 0);
#pragma omp parallel num_threads(nth) if (nth > 1)
  {
    const int t = omp_get_thread_num();
    T* acc = part.data() + static_cast<size_t>(t) * wsize;
    T* xrep = dm > 1 ? rep.data() + size_t(t) * g.img[2] * CM : nullptr;
    for (int64_t r = rows * t / nth; r < rows * (t + 1) / nth; ++r) {
      const int64_t oh = r % O1, od = (r / O1) % O0, n = r / (O1 * O0);
      const T* grow = gz + r * O2 * CM;
      for (int64_t kd = 0; kd < g.k[0]; ++kd) {
        const int64_t id = od * g.stride[0] + kd * g.dil[0] - g.pad[0];
        if (id < 0 || id >= g.img[0]) continue;
        for (int64_t kh = 0; kh < g.k[1]; ++kh) {
          const int64_t ih = oh * g.stride[1] + kh * g.dil[1] - g.pad[1];
          if (ih < 0 || ih >= g.img[1]) continue;
          const T* xrow = input_row(x + ((n * g.img[0] + id) * g.img[1] + ih) * g.img[2] * C,
                                    xrep, g.img[2], C, dm);
          for (int64_t kw = 0; kw < g.k[2]; ++kw) {
            T* ak = acc + ((kd * g.k[1] + kh) * g.k[2] + kw) * CM;
            int64_t lo, hi;
            valid_outputs(g, kw, lo, hi);
            const int64_t shift = kw * g.dil[2] - g.pad[2];
            for (int64_t ow = lo; ow < hi; ++ow)  // dw[c * dm + m] += x[c] * gz[c * dm + m]
              madd(ak, xrow + (ow * g.stride[2] + shift) * CM, grow + ow * CM, CM);
          }
        }
      }
    }
  }
  if (!accumulate) std::memset(dw, 0, sizeof(T) * wsize);
  for (int t = 0; t < nth; ++t)
    for (int64_t i = 0; i < wsize; ++i) dw[i] += part[static_cast<size_t>(t) * wsize + i];
}

template <class T>
void data_grad(const T* gz, const T* w, T* dx, bool accumulate, const ConvGeom& g, int64_t dm) {
  const int64_t C = g.channels, CM = C * dm, I0 = g.img[0], I1 = g.img[1], I2 = g.img[2];
  const int64_t O0 = g.out[0], O1 = g.out[1], O2 = g.out[2];
  const int64_t img_rows = g.batch * I0 * I1;
  if (img_rows * I2 == 0) return;  // an empty dx
  const bool parallel = g.rows() * O2 * CM * g.taps() > kParallelGrain;
  // With dm > 1 a row's contributions gather per output channel (vectorised) and are summed
  // over the multiplier at the end of the row.
  std::vector<T> rep(dm > 1 ? size_t(parallel ? omp_get_max_threads() : 1) * I2 * CM : 0);
  // Gathered per input row: each dx pixel has one writer, contributions in a fixed order.
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t q = 0; q < img_rows; ++q) {
    const int64_t ih = q % I1, id = (q / I1) % I0, n = q / (I1 * I0);
    T* drow = dx + q * I2 * C;
    T* acc = drow;  // I2 x CM when dm > 1
    if (dm > 1) {
      acc = rep.data() + size_t(omp_get_thread_num()) * I2 * CM;
      std::memset(acc, 0, sizeof(T) * I2 * CM);
    } else if (!accumulate) {
      std::memset(drow, 0, sizeof(T) * I2 * C);
    }
    for (int64_t kd = 0; kd < g.k[0]; ++kd) {
      const int64_t od_num = id + g.pad[0] - kd * g.dil[0];
      if (od_num < 0 || od_num % g.stride[0] != 0 || od_num / g.stride[0] >= O0) continue;
      const int64_t od = od_num / g.stride[0];
      for (int64_t kh = 0; kh < g.k[1]; ++kh) {
        const int64_t oh_num = ih + g.pad[1] - kh * g.dil[1];
        if (oh_num < 0 || oh_num % g.stride[1] != 0 || oh_num / g.stride[1] >= O1) continue;
        const int64_t oh = oh_num / g.stride[1];
        const T* grow = gz + ((n * O0 + od) * O1 + oh) * O2 * CM;
        for (int64_t kw = 0; kw < g.k[2]; ++kw) {
          const T* wk = w + ((kd * g.k[1] + kh) * g.k[2] + kw) * CM;
          int64_t lo, hi;
          valid_outputs(g, kw, lo, hi);
          const int64_t shift = kw * g.dil[2] - g.pad[2];
          for (int64_t ow = lo; ow < hi; ++ow)
            madd(acc + (ow * g.stride[2] + shift) * CM, grow + ow * CM, wk, CM);
        }
      }
    }
    if (dm > 1) {
      for (int64_t i = 0; i < I2 * C; ++i) {
        T s = 0;
        for (int64_t m = 0; m < dm; ++m) s += acc[i * dm + m];
        drow[i] = accumulate ? drow[i] + s : s;
      }
    }
  }
}

template <class T>
DepthwiseFns<T> table() {
  return {forward<T>, filter_grad<T>, data_grad<T>};
}

const DepthwiseConvKernels cpu_depthwise = {table<float>(), table<double>()};

}  // namespace

EMBER_REGISTER_KERNELS(DepthwiseConvKernels, Device::cpu, cpu_depthwise);

}  // namespace ember
