// CPU kernels of the conv family around its BLAS products: im2col, col2im (as a gather, so each
// image pixel is written by one thread and summed in a fixed order), the fused bias +
// activation epilogue and the bias gradient. See kernels/conv.h for the two sides' geometry.
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

// Taps kw of the innermost axis whose image position o * s + kw * d - p falls inside [0, n):
// [lo, hi), possibly empty.
inline void valid_taps(int64_t o, const ConvGeom& g, int64_t& lo, int64_t& hi) {
  const int64_t i0 = o * g.stride[2] - g.pad[2], d = g.dil[2], n = g.img[2];
  lo = std::min(g.k[2], std::max<int64_t>(0, ceil_div(-i0, d)));
  hi = std::max(lo, std::min(g.k[2], ceil_div(n - i0, d)));
}

template <class T>
void im2col(const T* img, T* col, const ConvGeom& g, int64_t row0, int64_t row1) {
  const int64_t C = g.channels, G = g.groups, Cg = C / G, taps = g.taps(), cw = taps * C;
  const int64_t O0 = g.out[0], O1 = g.out[1], O2 = g.out[2], K2 = g.k[2];
  const int64_t work = (row1 - row0) * O2 * cw;
#pragma omp parallel for schedule(static) if (work > kParallelGrain && !omp_in_parallel())
  for (int64_t r = row0; r < row1; ++r) {
    const int64_t oh = r % O1, od = (r / O1) % O0, n = r / (O1 * O0);
    T* crow = col + (r - row0) * O2 * cw;
    for (int64_t ow = 0; ow < O2; ++ow) {
      T* dst = crow + ow * cw;
      int64_t lo, hi;
      valid_taps(ow, g, lo, hi);
      const int64_t iw0 = ow * g.stride[2] - g.pad[2];
      for (int64_t kd = 0; kd < g.k[0]; ++kd) {
        const int64_t id = od * g.stride[0] + kd * g.dil[0] - g.pad[0];
        for (int64_t kh = 0; kh < g.k[1]; ++kh) {
          const int64_t ih = oh * g.stride[1] + kh * g.dil[1] - g.pad[1];
          const int64_t tap0 = (kd * g.k[1] + kh) * K2;
          const bool inside = id >= 0 && id < g.img[0] && ih >= 0 && ih < g.img[1];
          const T* src =
              inside ? img + ((n * g.img[0] + id) * g.img[1] + ih) * g.img[2] * C : nullptr;
          if (G == 1) {
            // The taps of one kernel row are adjacent in the column row: zeros, one copy of
            // the valid run (contiguous in the image too when the dilation is 1), zeros.
            T* d = dst + tap0 * C;
            if (!inside) {
              std::memset(d, 0, sizeof(T) * K2 * C);
              continue;
            }
            std::memset(d, 0, sizeof(T) * lo * C);
            if (hi == lo) {
              // no tap of this kernel row inside the image
            } else if (g.dil[2] == 1) {
              std::memcpy(d + lo * C, src + (iw0 + lo) * C, sizeof(T) * (hi - lo) * C);
            } else {
              for (int64_t kw = lo; kw < hi; ++kw)
                std::memcpy(d + kw * C, src + (iw0 + kw * g.dil[2]) * C, sizeof(T) * C);
            }
            std::memset(d + hi * C, 0, sizeof(T) * (K2 - hi) * C);
          } else {
            for (int64_t kw = 0; kw < K2; ++kw) {
              const bool ok = inside && kw >= lo && kw < hi;
              for (int64_t grp = 0; grp < G; ++grp) {
                T* d = dst + grp * taps * Cg + (tap0 + kw) * Cg;
                if (ok)
                  std::memcpy(d, src + (iw0 + kw * g.dil[2]) * C + grp * Cg, sizeof(T) * Cg);
                else
                  std::memset(d, 0, sizeof(T) * Cg);
              }
            }
          }
        }
      }
    }
  }
}

template <class T>
void col2im(const T* col, T* img, const ConvGeom& g, int64_t row0, int64_t row1, const T* init,
            bool assign) {
  if (row1 <= row0) return;
  const int64_t C = g.channels, G = g.groups, Cg = C / G, taps = g.taps(), cw = taps * C;
  const int64_t I0 = g.img[0], I1 = g.img[1], I2 = g.img[2];
  const int64_t O0 = g.out[0], O1 = g.out[1], O2 = g.out[2];
  const int64_t rpi = O0 * O1;
  const int64_t n_first = row0 / rpi, n_end = (row1 - 1) / rpi + 1;
  const int64_t img_rows = (n_end - n_first) * I0 * I1;
  const int64_t work = (row1 - row0) * O2 * cw;
  // Each image row gathers what every column row of the range put there: one writer per
  // image pixel, contributions summed in tap order.
#pragma omp parallel for schedule(static) if (work > kParallelGrain)
  for (int64_t q = 0; q < img_rows; ++q) {
    const int64_t ih = q % I1, id = (q / I1) % I0, n = n_first + q / (I1 * I0);
    T* dst = img + ((n * I0 + id) * I1 + ih) * I2 * C;
    if (assign) {
      if (init) {
        for (int64_t iw = 0; iw < I2; ++iw) std::memcpy(dst + iw * C, init, sizeof(T) * C);
      } else {
        std::memset(dst, 0, sizeof(T) * I2 * C);
      }
    }
    for (int64_t kd = 0; kd < g.k[0]; ++kd) {
      const int64_t od_num = id + g.pad[0] - kd * g.dil[0];
      if (od_num < 0 || od_num % g.stride[0] != 0) continue;
      const int64_t od = od_num / g.stride[0];
      if (od >= O0) continue;
      for (int64_t kh = 0; kh < g.k[1]; ++kh) {
        const int64_t oh_num = ih + g.pad[1] - kh * g.dil[1];
        if (oh_num < 0 || oh_num % g.stride[1] != 0) continue;
        const int64_t oh = oh_num / g.stride[1];
        if (oh >= O1) continue;
        const int64_t r = (n * O0 + od) * O1 + oh;
        if (r < row0 || r >= row1) continue;
        const T* crow = col + (r - row0) * O2 * cw;
        for (int64_t kw = 0; kw < g.k[2]; ++kw) {
          const int64_t tap = (kd * g.k[1] + kh) * g.k[2] + kw;
          // column pixels ow with 0 <= ow * s + kw * d - p < I2
          const int64_t shift = kw * g.dil[2] - g.pad[2];
          const int64_t ow_lo = std::max<int64_t>(0, ceil_div(-shift, g.stride[2]));
          const int64_t ow_hi = std::min(O2, floor_div(I2 - 1 - shift, g.stride[2]) + 1);
          for (int64_t ow = ow_lo; ow < ow_hi; ++ow) {
            T* d = dst + (ow * g.stride[2] + shift) * C;
            const T* s = crow + ow * cw;
            if (G == 1) {
              s += tap * C;
              for (int64_t c = 0; c < C; ++c) d[c] += s[c];
            } else {
              for (int64_t grp = 0; grp < G; ++grp) {
                const T* sg = s + grp * taps * Cg + tap * Cg;
                T* dg = d + grp * Cg;
                for (int64_t c = 0; c < Cg; ++c) dg[c] += sg[c];
              }
            }
          }
        }
      }
    }
  }
}

template <class T>
void bias_act(T* y, const T* bias, int64_t rows, int64_t cols, Act act) {
  if (!bias && act == Act::linear) return;
  // Blocks of rows small enough to stay in L1 between the bias add and the activation.
  const int64_t block = std::max<int64_t>(1, 4096 / std::max<int64_t>(cols, 1));
  const int64_t blocks = (rows + block - 1) / block;
  const ElementwiseFns<T>* ew = act == Act::linear ? nullptr : &elementwise_fns<T>();
  const double alpha = act_default_alpha(act);
#pragma omp parallel for schedule(static) if (rows * cols > kParallelGrain && !omp_in_parallel())
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t r0 = b * block, r1 = std::min(rows, r0 + block);
    T* p = y + r0 * cols;
    if (bias)
      for (int64_t r = r0; r < r1; ++r) {
        T* row = y + r * cols;
        for (int64_t c = 0; c < cols; ++c) row[c] += bias[c];
      }
    if (ew) ew->act_forward(act, p, p, (r1 - r0) * cols, alpha);
  }
}

template <class T>
void fill_rows(T* y, const T* value, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    if (value) std::memcpy(y + r * cols, value, sizeof(T) * cols);
    else std::memset(y + r * cols, 0, sizeof(T) * cols);
  }
}

template <class T>
void bias_grad(const T* gz, T* db, bool accumulate, int64_t rows, int64_t cols) {
  // Per-thread partial sums over a static split of the rows, added in thread order: the result
  // does not depend on scheduling.
  const int nth = (rows * cols > kParallelGrain && !omp_in_parallel())
                      ? static_cast<int>(std::min<int64_t>(omp_get_max_threads(), rows))
                      : 1;
  std::vector<T> part(static_cast<size_t>(nth) * cols, T(0));
#pragma omp parallel num_threads(nth) if (nth > 1)
  {
    const int t = omp_get_thread_num();
    const int64_t r0 = rows * t / nth, r1 = rows * (t + 1) / nth;
    T* acc = part.data() + static_cast<size_t>(t) * cols;
    for (int64_t r = r0; r < r1; ++r) {
      const T* row = gz + r * cols;
      for (int64_t c = 0; c < cols; ++c) acc[c] += row[c];
    }
  }
  if (!accumulate) std::memset(db, 0, sizeof(T) * cols);
  for (int t = 0; t < nth; ++t)
    for (int64_t c = 0; c < cols; ++c) db[c] += part[static_cast<size_t>(t) * cols + c];
}

template <class T>
void flip_kernel(const T* w, T* out, int64_t taps, int64_t a, int64_t b, int64_t groups) {
  const int64_t bg = b / groups, ag = a * groups;
  for (int64_t t = 0; t < taps; ++t) {
    const T* src = w + t * a * b;
    T* dst = out + (taps - 1 - t) * bg * ag;
    for (int64_t grp = 0; grp < groups; ++grp)
      for (int64_t i = 0; i < a; ++i)
        for (int64_t j = 0; j < bg; ++j) dst[j * ag + grp * a + i] = src[i * b + grp * bg + j];
  }
}

template <class T>
ConvFns<T> table() {
  return {im2col<T>, col2im<T>, bias_act<T>, fill_rows<T>, bias_grad<T>, flip_kernel<T>};
}

const ConvKernels cpu_conv = {table<float>(), table<double>()};

}  // namespace

EMBER_REGISTER_KERNELS(ConvKernels, Device::cpu, cpu_conv);

}  // namespace ember
