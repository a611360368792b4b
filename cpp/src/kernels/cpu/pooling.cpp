// CPU kernels of the pooling family (see kernels/pooling.h). Work is split over output rows
// (image, depth, row) and vectorised over the contiguous channels of channels_last data. The
// max compares use GCC vector extensions: under the default -ftrapping-math the
// auto-vectoriser turns NaN-aware selects into branches. Nothing here throws.
#include "kernels/pooling.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "ember/kernel_registry.h"
#include "kernels/cpu/simd.h"
#include "ember/threads.h"

namespace ember {
namespace {

// ---------------------------------------------------------------- vectors
// Vec, Mask, kLanes: kernels/cpu/simd.h
constexpr int kBlockVecs = 4;  // vectors of channels in flight per window walk (hides latency)

template <class T> inline Vec<T> load(const T* p) {
  Vec<T> v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <class T> inline void store(T* p, Vec<T> v) { std::memcpy(p, &v, sizeof v); }
template <class T> inline Vec<T> splat(T v) { return Vec<T>{} + v; }

// a == b, or both NaN: how backward finds the element a max came from.
template <class V> inline auto same_or_both_nan(V a, V b) {
  return (a == b) | ((a != a) & (b != b));
}

// ---------------------------------------------------------------- reductions of one window
// A NaN operand wins and then stays (v > NaN and NaN != NaN test false), as in NumPy/torch.
template <class T>
struct MaxOp {
  static constexpr T init() { return -std::numeric_limits<T>::infinity(); }
  static T f(T acc, T v) { return (v > acc || v != v) ? v : acc; }
  static Vec<T> f(Vec<T> acc, Vec<T> v) { return ((v > acc) | (v != v)) ? v : acc; }
  static T out(T acc, T) { return acc; }
  static Vec<T> out(Vec<T> acc, T) { return acc; }
};
template <class T>
struct MeanOp {
  static constexpr T init() { return T(0); }
  static T f(T acc, T v) { return acc + v; }
  static Vec<T> f(Vec<T> acc, Vec<T> v) { return acc + v; }
  static T out(T acc, T scale) { return acc * scale; }
  static Vec<T> out(Vec<T> acc, T scale) { return acc * scale; }
};

// The input range [lo, hi) of window o along spatial axis a, padding clipped away.
struct Span {
  int64_t lo, hi;
  int64_t size() const { return hi - lo; }
};
inline Span span(const PoolGeom& g, int a, int64_t o) {
  const int64_t start = o * g.stride[a] - g.pad[a];
  return {std::max<int64_t>(start, 0), std::min(start + g.window[a], g.in[a])};
}

// One output cell: its window as spans plus the element offset of its image in x.
struct Window {
  int64_t image;  // offset of image n in x
  Span d, h, w;
  int64_t count() const { return d.size() * h.size() * w.size(); }
  // Calls visit(offset of the window element's channel 0 in x), in row-major window order.
  template <class F>
  void walk(const PoolGeom& g, F&& visit) const {
    for (int64_t z = d.lo; z < d.hi; ++z)
      for (int64_t y = h.lo; y < h.hi; ++y) {
        const int64_t row = image + ((z * g.in[1] + y) * g.in[2]) * g.c;
        for (int64_t x = w.lo; x < w.hi; ++x) visit(row + x * g.c);
      }
  }
};

inline int64_t image_size(const PoolGeom& g) { return g.in[0] * g.in[1] * g.in[2] * g.c; }
inline int64_t window_volume(const PoolGeom& g) {
  return g.window[0] * g.window[1] * g.window[2];
}

// Channels [c0, c0 + NV * lanes) of one output cell: NV vector accumulators over the window.
template <int NV, class Op, class T>
inline void reduce_block(const T* x, T* y, const PoolGeom& g, const Window& win, int64_t c0,
                         T scale) {
  constexpr int L = kLanes<T>;
  Vec<T> acc[NV];
  for (int i = 0; i < NV; ++i) acc[i] = splat(Op::init());
  win.walk(g, [&](int64_t off) {
    for (int i = 0; i < NV; ++i) acc[i] = Op::f(acc[i], load(x + off + c0 + i * L));
  });
  for (int i = 0; i < NV; ++i) store(y + c0 + i * L, Op::out(acc[i], scale));
}

template <class Op, class T>
void reduce_cell(const T* x, T* y, const PoolGeom& g, const Window& win) {
  constexpr int L = kLanes<T>;
  const T scale = T(1) / static_cast<T>(win.count());
  int64_t c0 = 0;
  for (; c0 + kBlockVecs * L <= g.c; c0 += kBlockVecs * L)
    reduce_block<kBlockVecs, Op>(x, y, g, win, c0, scale);
  for (; c0 + L <= g.c; c0 += L) reduce_block<1, Op>(x, y, g, win, c0, scale);
  for (; c0 < g.c; ++c0) {
    T acc = Op::init();
    win.walk(g, [&](int64_t off) { acc = Op::f(acc, x[off + c0]); });
    y[c0] = Op::out(acc, scale);
  }
}

// Output row r (image, depth, row): the window of each of its cells, in order.
template <class F>
void for_row_cells(const PoolGeom& g, int64_t n, int64_t od, int64_t oh, F&& cell) {
  Window win;
  win.image = n * image_size(g);
  win.d = span(g, 0, od);
  win.h = span(g, 1, oh);
  const int64_t first = ((n * g.out[0] + od) * g.out[1] + oh) * g.out[2];
  for (int64_t ow = 0; ow < g.out[2]; ++ow) {
    win.w = span(g, 2, ow);
    cell(win, (first + ow) * g.c);
  }
}

template <class Op, class T>
void pool_forward(const T* x, T* y, const PoolGeom& g) {
  const int64_t rows = g.n * g.out[0] * g.out[1];
  const int64_t work = rows * g.out[2] * g.c * window_volume(g);
#pragma omp parallel for if (work > kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t oh = r % g.out[1], od = (r / g.out[1]) % g.out[0], n = r / (g.out[1] * g.out[0]);
    for_row_cells(g, n, od, oh, [&](const Window& win, int64_t yo) {
      reduce_cell<Op>(x, y + yo, g, win);
    });
  }
}

template <class T>
void max_pool(const T* x, T* y, const PoolGeom& g) { pool_forward<MaxOp<T>>(x, y, g); }
template <class T>
void avg_pool(const T* x, T* y, const PoolGeom& g) { pool_forward<MeanOp<T>>(x, y, g); }

// ---------------------------------------------------------------- backward
// Backward scatters into gx, and with stride < window the windows of neighbouring rows overlap.
// Rows are therefore visited in phases: a phase holds the rows whose depth index is
// pd (mod md) and row index ph (mod mh), md = ceil(window / stride) along depth (mh along
// height); two rows of one phase are at least a window apart, so their writes never meet and
// each phase runs in parallel. The cells of one row (overlapping along width) stay on one thread.
template <class F>
void for_rows_in_phases(const PoolGeom& g, F&& row) {
  auto phases = [&](int a) {
    return std::min((g.window[a] + g.stride[a] - 1) / g.stride[a], g.out[a]);
  };
  const int64_t md = phases(0), mh = phases(1);
  const int64_t work_per_row = g.out[2] * g.c * window_volume(g);
  for (int64_t pd = 0; pd < md; ++pd)
    for (int64_t ph = 0; ph < mh; ++ph) {
      const int64_t cd = (g.out[0] - pd + md - 1) / md, ch = (g.out[1] - ph + mh - 1) / mh;
      const int64_t rows = g.n * cd * ch;
#pragma omp parallel for if (rows * work_per_row > kParallelGrain)
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t ih = r % ch, id = (r / ch) % cd, n = r / (ch * cd);
        row(n, pd + id * md, ph + ih * mh);
      }
    }
}

template <class T>
void zero_if_assigning(T* gx, const PoolGeom& g, bool accumulate) {
  if (accumulate) return;
  const int64_t total = g.n * image_size(g);
#pragma omp parallel for if (total > kParallelGrain)
  for (int64_t i = 0; i < total; ++i) gx[i] = T(0);
}

// Channels [c0, c0 + NV * lanes) of one cell: each channel's gradient goes to the first window
// element equal to the forward max (`found` marks channels already served).
template <int NV, class T>
inline void route_block(const T* x, const T* y, const T* gy, T* gx, const PoolGeom& g,
                        const Window& win, int64_t c0) {
  constexpr int L = kLanes<T>;
  Vec<T> yv[NV], gv[NV];
  Mask<T> found[NV];
  for (int i = 0; i < NV; ++i) {
    yv[i] = load(y + c0 + i * L);
    gv[i] = load(gy + c0 + i * L);
    found[i] = Mask<T>{};
  }
  const Vec<T> zero{};
  win.walk(g, [&](int64_t off) {
    for (int i = 0; i < NV; ++i) {
      const int64_t at = off + c0 + i * L;
      const Mask<T> hit = same_or_both_nan(load(x + at), yv[i]) & ~found[i];
      store(gx + at, load(gx + at) + (hit ? gv[i] : zero));
      found[i] |= hit;
    }
  });
}

template <class T>
void max_route_cell(const T* x, const T* y, const T* gy, T* gx, const PoolGeom& g,
                    const Window& win) {
  constexpr int L = kLanes<T>;
  int64_t c0 = 0;
  for (; c0 + kBlockVecs * L <= g.c; c0 += kBlockVecs * L)
    route_block<kBlockVecs>(x, y, gy, gx, g, win, c0);
  for (; c0 + L <= g.c; c0 += L) route_block<1>(x, y, gy, gx, g, win, c0);
  for (; c0 < g.c; ++c0) {
    bool found = false;
    win.walk(g, [&](int64_t off) {
      if (!found && same_or_both_nan(x[off + c0], y[c0])) {
        gx[off + c0] += gy[c0];
        found = true;
      }
    });
  }
}

template <class T>
void max_pool_backward(const T* x, const T* y, const T* gy, T* gx, const PoolGeom& g,
                       bool accumulate) {
  zero_if_assigning(gx, g, accumulate);
  for_rows_in_phases(g, [&](int64_t n, int64_t od, int64_t oh) {
    for_row_cells(g, n, od, oh, [&](const Window& win, int64_t yo) {
      max_route_cell(x, y + yo, gy + yo, gx, g, win);
    });
  });
}

template <class T>
void avg_pool_backward(const T* gy, T* gx, const PoolGeom& g, bool accumulate) {
  zero_if_assigning(gx, g, accumulate);
  const int64_t c = g.c;
  for_rows_in_phases(g, [&](int64_t n, int64_t od, int64_t oh) {
    for_row_cells(g, n, od, oh, [&](const Window& win, int64_t yo) {
      const T scale = T(1) / static_cast<T>(win.count());
      const T* go = gy + yo;
      win.walk(g, [&](int64_t off) {
        T* gi = gx + off;
        for (int64_t k = 0; k < c; ++k) gi[k] += go[k] * scale;
      });
    });
  });
}

template <class T>
PoolingKernels<T> make_table() {
  return PoolingKernels<T>{max_pool<T>, avg_pool<T>, max_pool_backward<T>, avg_pool_backward<T>};
}

const PoolingKernels<float> cpu_f32 = make_table<float>();
const PoolingKernels<double> cpu_f64 = make_table<double>();

}  // namespace

EMBER_REGISTER_KERNELS(PoolingKernels<float>, Device::cpu, cpu_f32);
EMBER_REGISTER_KERNELS(PoolingKernels<double>, Device::cpu, cpu_f64);

}  // namespace ember
