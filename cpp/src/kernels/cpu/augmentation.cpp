// CPU kernels of random_flip, random_crop and random_contrast (see kernels/augmentation.h).
// Forward kernels gather in parallel over output rows; kernels whose backward scatters or
// reduces over a whole image run in parallel over samples, so no two threads ever write one
// element. Index tables are built before the parallel regions; nothing here throws inside one.
#include <algorithm>
#include <vector>

#include "ember/kernel_registry.h"
#include "ember/threads.h"
#include "kernels/augmentation.h"

namespace ember {
namespace {

template <class T>
inline void copy_or_add(const T* src, T* dst, int64_t n, bool accumulate) {
  if (accumulate) {
    for (int64_t i = 0; i < n; ++i) dst[i] += src[i];
  } else {
    for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
  }
}

// ---------------------------------------------------------------- flip

template <class T>
void flip(const T* x, T* y, const uint8_t* flips, int64_t n, int64_t h, int64_t w, int64_t c,
          bool horizontal, bool vertical, bool accumulate) {
  const int64_t rows = n * h, row = w * c;
#pragma omp parallel for if (rows * row > kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t s = r / h, oy = r % h;
    const bool f = flips[s] != 0;
    const T* xr = x + (s * h + (f && vertical ? h - 1 - oy : oy)) * row;
    T* yr = y + r * row;
    if (!f || !horizontal) {
      copy_or_add(xr, yr, row, accumulate);
      continue;
    }
    for (int64_t ox = 0; ox < w; ++ox)
      copy_or_add(xr + (w - 1 - ox) * c, yr + ox * c, c, accumulate);
  }
}

// ---------------------------------------------------------------- crop + resize

// The two sources of one output index of a half-pixel bilinear resize and their weights,
// computed in T as torch's interpolate(align_corners=False) does.
template <class T>
struct Taps {
  int64_t i0, i1;
  T w0, w1;
};

template <class T>
std::vector<Taps<T>> linear_taps(int64_t in, int64_t out) {
  std::vector<Taps<T>> taps(out);
  const T scale = static_cast<T>(in) / static_cast<T>(out);
  for (int64_t o = 0; o < out; ++o) {
    T src = scale * (static_cast<T>(o) + T(0.5)) - T(0.5);
    if (src < T(0)) src = T(0);
    const int64_t i0 = std::min<int64_t>(static_cast<int64_t>(src), in - 1);
    const T w1 = std::min(std::max(src - static_cast<T>(i0), T(0)), T(1));
    taps[o] = {i0, i0 < in - 1 ? i0 + 1 : i0, T(1) - w1, w1};
  }
  return taps;
}

template <class T>
void crop_resize(const T* x, T* y, const int64_t* offsets, const CropGeom& g) {
  const int64_t c = g.c, rows = g.n * g.oh, out_row = g.ow * c;
  if (rows * out_row == 0) return;
  if (g.box_h == g.oh && g.box_w == g.ow) {  // a plain window
#pragma omp parallel for if (rows * out_row > kParallelGrain)
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t s = r / g.oh, oy = r % g.oh;
      const T* src = x + ((s * g.h + offsets[2 * s] + oy) * g.w + offsets[2 * s + 1]) * c;
      copy_or_add(src, y + r * out_row, out_row, false);
    }
    return;
  }
  const std::vector<Taps<T>> th = linear_taps<T>(g.box_h, g.oh), tw = linear_taps<T>(g.box_w, g.ow);
#pragma omp parallel for if (rows * out_row * 4 > kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t s = r / g.oh;
    const Taps<T>& ty = th[r % g.oh];
    const int64_t top = offsets[2 * s], left = offsets[2 * s + 1];
    const T* r0 = x + ((s * g.h + top + ty.i0) * g.w + left) * c;
    const T* r1 = x + ((s * g.h + top + ty.i1) * g.w + left) * c;
    T* yr = y + r * out_row;
    for (int64_t ox = 0; ox < g.ow; ++ox) {
      const Taps<T>& tx = tw[ox];
      const T *a0 = r0 + tx.i0 * c, *a1 = r0 + tx.i1 * c;
      const T *b0 = r1 + tx.i0 * c, *b1 = r1 + tx.i1 * c;
      T* yo = yr + ox * c;
      for (int64_t k = 0; k < c; ++k)
        yo[k] = ty.w0 * (tx.w0 * a0[k] + tx.w1 * a1[k]) + ty.w1 * (tx.w0 * b0[k] + tx.w1 * b1[k]);
    }
  }
}

template <class T>
void crop_resize_backward(const T* gy, T* gx, const int64_t* offsets, const CropGeom& g,
                          bool accumulate) {
  const int64_t c = g.c, plane = g.h * g.w * c, out_plane = g.oh * g.ow * c;
  const bool copy = g.box_h == g.oh && g.box_w == g.ow;
  std::vector<Taps<T>> th, tw;
  if (!copy) {
    th = linear_taps<T>(g.box_h, g.oh);
    tw = linear_taps<T>(g.box_w, g.ow);
  }
#pragma omp parallel for if (g.n * (plane + 4 * out_plane) > kParallelGrain)
  for (int64_t s = 0; s < g.n; ++s) {
    T* gs = gx + s * plane;
    if (!accumulate)  // the pixels outside the window get no gradient
      for (int64_t i = 0; i < plane; ++i) gs[i] = T(0);
    const T* go = gy + s * out_plane;
    T* win = gs + (offsets[2 * s] * g.w + offsets[2 * s + 1]) * c;
    for (int64_t oy = 0; oy < g.oh; ++oy) {
      if (copy) {
        copy_or_add(go + oy * g.ow * c, win + oy * g.w * c, g.ow * c, true);
        continue;
      }
      const Taps<T>& ty = th[oy];
      T* r0 = win + ty.i0 * g.w * c;
      T* r1 = win + ty.i1 * g.w * c;
      for (int64_t ox = 0; ox < g.ow; ++ox) {
        const Taps<T>& tx = tw[ox];
        const T* gv = go + (oy * g.ow + ox) * c;
        T *a0 = r0 + tx.i0 * c, *a1 = r0 + tx.i1 * c;
        T *b0 = r1 + tx.i0 * c, *b1 = r1 + tx.i1 * c;
        const T w00 = ty.w0 * tx.w0, w01 = ty.w0 * tx.w1, w10 = ty.w1 * tx.w0, w11 = ty.w1 * tx.w1;
        // One tap after the other: taps may coincide at the edges.
        for (int64_t k = 0; k < c; ++k) a0[k] += w00 * gv[k];
        for (int64_t k = 0; k < c; ++k) a1[k] += w01 * gv[k];
        for (int64_t k = 0; k < c; ++k) b0[k] += w10 * gv[k];
        for (int64_t k = 0; k < c; ++k) b1[k] += w11 * gv[k];
      }
    }
  }
}

// ---------------------------------------------------------------- contrast

// means[k] = the mean of channel k over the hw pixels of one sample xs.
template <class T>
void channel_means(const T* xs, int64_t hw, int64_t c, double* means) {
  for (int64_t k = 0; k < c; ++k) means[k] = 0.0;
  for (int64_t p = 0; p < hw; ++p)
    for (int64_t k = 0; k < c; ++k) means[k] += static_cast<double>(xs[p * c + k]);
  for (int64_t k = 0; k < c; ++k) means[k] /= static_cast<double>(hw);
}

template <class T>
void contrast(const T* x, T* y, const double* factors, int64_t n, int64_t hw, int64_t c,
              double lo, double hi, double* means) {
  const T tlo = static_cast<T>(lo), thi = static_cast<T>(hi);
#pragma omp parallel for if (n * hw * c * 2 > kParallelGrain)
  for (int64_t s = 0; s < n; ++s) {
    const T* xs = x + s * hw * c;
    T* ys = y + s * hw * c;
    double* m = means + s * c;
    channel_means(xs, hw, c, m);
    const T f = static_cast<T>(factors[s]);
    for (int64_t p = 0; p < hw; ++p)
      for (int64_t k = 0; k < c; ++k) {
        const T mk = static_cast<T>(m[k]);
        const T z = (xs[p * c + k] - mk) * f + mk;  // Keras's order of operations
        ys[p * c + k] = std::min(std::max(z, tlo), thi);
      }
  }
}

// z = f x + (1 - f) mean(x) per channel, y = clip(z): dx = f gz + (1 - f) sum(gz) / hw, where
// gz = gy on [lo, hi] and 0 outside.
template <class T>
void contrast_backward(const T* x, const T* gy, T* gx, const double* factors, int64_t n,
                       int64_t hw, int64_t c, double lo, double hi, bool accumulate,
                       double* scratch) {
  const T tlo = static_cast<T>(lo), thi = static_cast<T>(hi);
#pragma omp parallel for if (n * hw * c * 3 > kParallelGrain)
  for (int64_t s = 0; s < n; ++s) {
    const T* xs = x + s * hw * c;
    const T* gs = gy + s * hw * c;
    T* out = gx + s * hw * c;
    double* m = scratch + 2 * s * c;
    double* sum = m + c;
    channel_means(xs, hw, c, m);
    const T f = static_cast<T>(factors[s]);
    auto passes = [&](int64_t p, int64_t k) {
      const T mk = static_cast<T>(m[k]);
      const T z = (xs[p * c + k] - mk) * f + mk;
      return z >= tlo && z <= thi;
    };
    for (int64_t k = 0; k < c; ++k) sum[k] = 0.0;
    for (int64_t p = 0; p < hw; ++p)
      for (int64_t k = 0; k < c; ++k)
        if (passes(p, k)) sum[k] += static_cast<double>(gs[p * c + k]);
    const double spread = (1.0 - factors[s]) / static_cast<double>(hw);
    for (int64_t p = 0; p < hw; ++p)
      for (int64_t k = 0; k < c; ++k) {
        const T gz = passes(p, k) ? gs[p * c + k] : T(0);
        const T v = f * gz + static_cast<T>(spread * sum[k]);
        if (accumulate) out[p * c + k] += v; else out[p * c + k] = v;
      }
  }
}

template <class T>
AugmentKernels<T> make_table() {
  return AugmentKernels<T>{flip<T>, crop_resize<T>, crop_resize_backward<T>, contrast<T>,
                           contrast_backward<T>};
}

const AugmentKernels<float> cpu_f32 = make_table<float>();
const AugmentKernels<double> cpu_f64 = make_table<double>();

}  // namespace

EMBER_REGISTER_KERNELS(AugmentKernels<float>, Device::cpu, cpu_f32);
EMBER_REGISTER_KERNELS(AugmentKernels<double>, Device::cpu, cpu_f64);

}  // namespace ember
