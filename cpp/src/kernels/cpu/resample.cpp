// CPU kernels of the resampling family (see kernels/resample.h). Every kernel walks rows of
// channels_last data (image, depth, row), in parallel over rows, and its inner loops run over
// contiguous memory so the compiler vectorises them. Backward kernels gather: each thread
// writes only its own rows of the input gradient, so no two threads ever touch one element.
// The index tables of bilinear resizing are built before the parallel region; nothing here
// throws inside one.
#include "kernels/resample.h"

#include <algorithm>
#include <vector>

#include "ember/kernel_registry.h"
#include "ember/threads.h"

namespace ember {
namespace {

template <class T>
inline void fill(T* dst, int64_t n, T v) {
  for (int64_t i = 0; i < n; ++i) dst[i] = v;
}
template <class T>
inline void copy_or_add(const T* src, T* dst, int64_t n, bool accumulate) {
  if (accumulate) {
    for (int64_t i = 0; i < n; ++i) dst[i] += src[i];
  } else {
    for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
  }
}

// ---------------------------------------------------------------- pad / crop
// Offset (in elements) of row (n, z, y) of a (n, d, h, w, c) tensor.
inline int64_t row_at(int64_t n, int64_t z, int64_t y, const int64_t* dims, int64_t c) {
  return (((n * dims[0] + z) * dims[1] + y) * dims[2]) * c;
}

template <class T>
void pad(const T* x, T* y, const BoxGeom& g, T value, bool accumulate) {
  const int64_t c = g.c, inner_row = g.inner[2] * c, outer_row = g.outer[2] * c;
  const int64_t before = g.offset[2] * c, after = outer_row - before - inner_row;
  if (accumulate) {  // only the box: the border's gradient is zero
    const int64_t rows = g.n * g.inner[0] * g.inner[1];
#pragma omp parallel for if (rows * inner_row > kParallelGrain)
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t iy = r % g.inner[1], iz = (r / g.inner[1]) % g.inner[0];
      const int64_t n = r / (g.inner[1] * g.inner[0]);
      T* yr = y + row_at(n, iz + g.offset[0], iy + g.offset[1], g.outer, c) + before;
      copy_or_add(x + r * inner_row, yr, inner_row, true);
    }
    return;
  }
  const int64_t rows = g.n * g.outer[0] * g.outer[1];
#pragma omp parallel for if (rows * outer_row > kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t oy = r % g.outer[1], oz = (r / g.outer[1]) % g.outer[0];
    const int64_t n = r / (g.outer[1] * g.outer[0]);
    const int64_t iz = oz - g.offset[0], iy = oy - g.offset[1];
    T* yr = y + r * outer_row;
    if (iz < 0 || iz >= g.inner[0] || iy < 0 || iy >= g.inner[1]) {
      fill(yr, outer_row, value);
      continue;
    }
    fill(yr, before, value);
    copy_or_add(x + row_at(n, iz, iy, g.inner, c), yr + before, inner_row, false);
    fill(yr + before + inner_row, after, value);
  }
}

template <class T>
void crop(const T* x, T* y, const BoxGeom& g, bool accumulate) {
  const int64_t c = g.c, inner_row = g.inner[2] * c;
  const int64_t rows = g.n * g.inner[0] * g.inner[1];
#pragma omp parallel for if (rows * inner_row > kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t iy = r % g.inner[1], iz = (r / g.inner[1]) % g.inner[0];
    const int64_t n = r / (g.inner[1] * g.inner[0]);
    const T* xr = x + row_at(n, iz + g.offset[0], iy + g.offset[1], g.outer, c) + g.offset[2] * c;
    copy_or_add(xr, y + r * inner_row, inner_row, accumulate);
  }
}

// ---------------------------------------------------------------- nearest upsampling

template <class T>
void upsample_nearest(const T* x, T* y, const UpsampleGeom& g) {
  const int64_t c = g.c, f2 = g.factor[2];
  const int64_t out[3] = {g.in[0] * g.factor[0], g.in[1] * g.factor[1], g.in[2] * f2};
  const int64_t rows = g.n * out[0] * out[1], out_row = out[2] * c;
#pragma omp parallel for if (rows * out_row > kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t oy = r % out[1], oz = (r / out[1]) % out[0], n = r / (out[1] * out[0]);
    const T* xr = x + row_at(n, oz / g.factor[0], oy / g.factor[1], g.in, c);
    T* yr = y + r * out_row;
    for (int64_t ix = 0; ix < g.in[2]; ++ix)
      for (int64_t k = 0; k < f2; ++k) copy_or_add(xr + ix * c, yr + (ix * f2 + k) * c, c, false);
  }
}

template <class T>
void upsample_nearest_backward(const T* gy, T* gx, const UpsampleGeom& g, bool accumulate) {
  const int64_t c = g.c, f2 = g.factor[2];
  const int64_t out[3] = {g.in[0] * g.factor[0], g.in[1] * g.factor[1], g.in[2] * f2};
  const int64_t rows = g.n * g.in[0] * g.in[1], in_row = g.in[2] * c;
  const int64_t block = g.factor[0] * g.factor[1] * f2;
#pragma omp parallel for if (rows * in_row * block > kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t iy = r % g.in[1], iz = (r / g.in[1]) % g.in[0], n = r / (g.in[1] * g.in[0]);
    T* gr = gx + r * in_row;
    if (!accumulate) fill(gr, in_row, T(0));
    for (int64_t i = 0; i < g.factor[0]; ++i)
      for (int64_t j = 0; j < g.factor[1]; ++j) {
        const T* yr = gy + row_at(n, iz * g.factor[0] + i, iy * g.factor[1] + j, out, c);
        for (int64_t ix = 0; ix < g.in[2]; ++ix)
          for (int64_t k = 0; k < f2; ++k)
            copy_or_add(yr + (ix * f2 + k) * c, gr + ix * c, c, true);
      }
  }
}

// ---------------------------------------------------------------- bilinear resizing
// The two sources of one output index and their weights, computed in T as torch does.
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

// The transpose of a tap table: for each input index, the (output index, weight) pairs that
// read it, in CSR form (pairs of input i at [start[i], start[i + 1])).
template <class T>
struct Gather {
  std::vector<int64_t> start, out;
  std::vector<T> weight;
};

template <class T>
Gather<T> transpose_taps(const std::vector<Taps<T>>& taps, int64_t in) {
  Gather<T> g;
  g.start.assign(in + 1, 0);
  auto each = [&](auto&& f) {
    for (size_t o = 0; o < taps.size(); ++o) {
      const Taps<T>& t = taps[o];
      if (t.i0 == t.i1) {
        f(t.i0, static_cast<int64_t>(o), t.w0 + t.w1);
      } else {
        f(t.i0, static_cast<int64_t>(o), t.w0);
        f(t.i1, static_cast<int64_t>(o), t.w1);
      }
    }
  };
  each([&](int64_t i, int64_t, T) { ++g.start[i + 1]; });
  for (int64_t i = 0; i < in; ++i) g.start[i + 1] += g.start[i];
  g.out.resize(g.start[in]);
  g.weight.resize(g.start[in]);
  std::vector<int64_t> next(g.start.begin(), g.start.end() - 1);
  each([&](int64_t i, int64_t o, T w) {
    g.out[next[i]] = o;
    g.weight[next[i]++] = w;
  });
  return g;
}

template <class T>
void resize_bilinear(const T* x, T* y, int64_t n, int64_t h, int64_t w, int64_t c, int64_t oh,
                     int64_t ow) {
  if (n * oh * ow * c == 0) return;
  const std::vector<Taps<T>> th = linear_taps<T>(h, oh), tw = linear_taps<T>(w, ow);
  const int64_t rows = n * oh;
#pragma omp parallel for if (rows * ow * c * 4 > kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t b = r / oh;
    const Taps<T>& ty = th[r % oh];
    const T* r0 = x + (b * h + ty.i0) * w * c;
    const T* r1 = x + (b * h + ty.i1) * w * c;
    T* yr = y + r * ow * c;
    for (int64_t ox = 0; ox < ow; ++ox) {
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
void resize_bilinear_backward(const T* gy, T* gx, int64_t n, int64_t h, int64_t w, int64_t c,
                              int64_t oh, int64_t ow, bool accumulate) {
  if (n * h * w * c == 0) return;
  const Gather<T> gh = transpose_taps(linear_taps<T>(h, oh), h);
  const Gather<T> gw = transpose_taps(linear_taps<T>(w, ow), w);
  const int64_t rows = n * h;
  const int64_t work = n * oh * ow * c * 4;
#pragma omp parallel for if (work > kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t b = r / h, iy = r % h;
    T* gr = gx + r * w * c;
    if (!accumulate) fill(gr, w * c, T(0));
    for (int64_t p = gh.start[iy]; p < gh.start[iy + 1]; ++p) {
      const T* yr = gy + (b * oh + gh.out[p]) * ow * c;
      const T wy = gh.weight[p];
      for (int64_t ix = 0; ix < w; ++ix) {
        T* gi = gr + ix * c;
        for (int64_t q = gw.start[ix]; q < gw.start[ix + 1]; ++q) {
          const T wgt = wy * gw.weight[q];
          const T* yo = yr + gw.out[q] * c;
          for (int64_t k = 0; k < c; ++k) gi[k] += wgt * yo[k];
        }
      }
    }
  }
}

template <class T>
ResampleKernels<T> make_table() {
  return ResampleKernels<T>{pad<T>,           crop<T>,
                            upsample_nearest<T>, upsample_nearest_backward<T>,
                            resize_bilinear<T>,  resize_bilinear_backward<T>};
}

const ResampleKernels<float> cpu_f32 = make_table<float>();
const ResampleKernels<double> cpu_f64 = make_table<double>();

}  // namespace

EMBER_REGISTER_KERNELS(ResampleKernels<float>, Device::cpu, cpu_f32);
EMBER_REGISTER_KERNELS(ResampleKernels<double>, Device::cpu, cpu_f64);

}  // namespace ember
