// CPU kernels of the tensor-op family (see kernels/tensor_ops.h). Inner loops run over contiguous
// memory. Those with compares (max/min, ties, exp's clamps) use GCC vector extensions, because
// under the default -ftrapping-math the auto-vectoriser turns such selects into branches; plain
// arithmetic loops are left to the auto-vectoriser. OpenMP only engages above kParallelGrain
// elements; nothing here throws.
#include "kernels/tensor_ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/blas.h"
#include "ember/kernel_registry.h"
#include "kernels/cpu/simd.h"
#include "ember/threads.h"

namespace ember {
namespace {

constexpr int64_t kColBlock = 256;      // columns per task when reducing down a column block
constexpr int64_t kChunk = 16384;       // elements per partial result of a whole-tensor reduce
constexpr int64_t kTile = 32;           // transpose tile edge

template <bool Acc, class T>
inline void put(T& dst, T v) {
  if constexpr (Acc) dst += v; else dst = v;
}

// ---------------------------------------------------------------- vectors
// Vec, Mask, kLanes: kernels/cpu/simd.h

template <class T> inline Vec<T> load(const T* p) {
  Vec<T> v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <class T> inline void store(T* p, Vec<T> v) { std::memcpy(p, &v, sizeof v); }
template <class T> inline Vec<T> splat(T v) { return Vec<T>{} + v; }

// a == b, or both NaN: how backward finds the element a max/min came from.
template <class V> inline auto same_or_both_nan(V a, V b) {
  return (a == b) | ((a != a) & (b != b));
}

// ---------------------------------------------------------------- reductions

template <class T>
struct SumOp {
  static constexpr T init() { return T(0); }
  static T f(T acc, T v) { return acc + v; }
  static Vec<T> f(Vec<T> acc, Vec<T> v) { return acc + v; }
};
// A NaN operand wins and then stays (v > NaN and NaN != NaN test false), as in NumPy.
template <class T>
struct MaxOp {
  static constexpr T init() { return -std::numeric_limits<T>::infinity(); }
  static T f(T acc, T v) { return (v > acc || v != v) ? v : acc; }
  static Vec<T> f(Vec<T> acc, Vec<T> v) { return ((v > acc) | (v != v)) ? v : acc; }
};
template <class T>
struct MinOp {
  static constexpr T init() { return std::numeric_limits<T>::infinity(); }
  static T f(T acc, T v) { return (v < acc || v != v) ? v : acc; }
  static Vec<T> f(Vec<T> acc, Vec<T> v) { return ((v < acc) | (v != v)) ? v : acc; }
};

// Reduction of a contiguous run over four vector accumulators.
template <class Op, class T>
T reduce_run(const T* x, int64_t n) {
  constexpr int L = kLanes<T>;
  int64_t i = 0;
  T r = Op::init();
  if (n >= 4 * L) {
    Vec<T> a0 = splat(Op::init()), a1 = a0, a2 = a0, a3 = a0;
    for (; i + 4 * L <= n; i += 4 * L) {
      a0 = Op::f(a0, load(x + i));
      a1 = Op::f(a1, load(x + i + L));
      a2 = Op::f(a2, load(x + i + 2 * L));
      a3 = Op::f(a3, load(x + i + 3 * L));
    }
    a0 = Op::f(Op::f(a0, a1), Op::f(a2, a3));
    for (int k = 0; k < L; ++k) r = Op::f(r, a0[k]);
  }
  for (; i < n; ++i) r = Op::f(r, x[i]);
  return r;
}

// acc[j] = f(acc[j], x[j]) for j < w: folds one more row into a block of partial results.
template <class Op, class T>
void fold_row(T* acc, const T* x, int64_t w) {
  constexpr int L = kLanes<T>;
  int64_t j = 0;
  for (; j + L <= w; j += L) store(acc + j, Op::f(load(acc + j), load(x + j)));
  for (; j < w; ++j) acc[j] = Op::f(acc[j], x[j]);
}

// (outer, n, inner) split of merged extents; false when the layout needs the general path.
bool split3(int rank, const int64_t* dims, const uint8_t* red, int64_t& outer, int64_t& n,
            int64_t& inner) {
  int p = 0;
  outer = n = inner = 1;
  if (p < rank && !red[p]) outer = dims[p++];
  if (p < rank && red[p]) n = dims[p++];
  if (p < rank && !red[p]) inner = dims[p++];
  return p == rank;
}

// Odometer over all merged extents but the last: calls row(x_offset, y_offset) once per
// contiguous run of the last extent, y_offset skipping reduced extents (stride 0).
template <class F>
void for_each_run(int rank, const int64_t* dims, const uint8_t* red, F&& row) {
  std::vector<int64_t> ystride(rank), idx(rank, 0);
  int64_t s = 1, total = 1;
  for (int d = rank - 1; d >= 0; --d) {
    ystride[d] = red[d] ? 0 : s;
    if (!red[d]) s *= dims[d];
    total *= dims[d];
  }
  const int64_t last = dims[rank - 1];
  if (total == 0) return;
  const int64_t runs = total / last;
  int64_t yoff = 0;
  for (int64_t r = 0; r < runs; ++r) {
    row(r * last, yoff);
    for (int d = rank - 2; d >= 0; --d) {
      yoff += ystride[d];
      if (++idx[d] < dims[d]) break;
      yoff -= ystride[d] * dims[d];
      idx[d] = 0;
    }
  }
}

template <class T, class Op>
void reduce_op(const T* x, T* y, int rank, const int64_t* dims, const uint8_t* red, T scale) {
  int64_t outer, n, inner;
  if (split3(rank, dims, red, outer, n, inner)) {
    if (inner == 1 && outer == 1 && n > kParallelGrain) {
      // Whole tensor: fixed chunks reduced in parallel, partials combined in order, so the
      // result does not depend on the thread count.
      const int64_t chunks = (n + kChunk - 1) / kChunk;
      std::vector<T> part(chunks);
#pragma omp parallel for
      for (int64_t c = 0; c < chunks; ++c)
        part[c] = reduce_run<Op>(x + c * kChunk, std::min(kChunk, n - c * kChunk));
      T r = Op::init();
      for (int64_t c = 0; c < chunks; ++c) r = Op::f(r, part[c]);
      y[0] = scale * r;
    } else if (inner == 1) {  // last axis: one contiguous run per output
#pragma omp parallel for if (outer * n > kParallelGrain)
      for (int64_t o = 0; o < outer; ++o) y[o] = scale * reduce_run<Op>(x + o * n, n);
    } else {  // leading (or middle) axis: fold whole rows into a block of outputs
      const int64_t nb = (inner + kColBlock - 1) / kColBlock;
#pragma omp parallel for if (outer * n * inner > kParallelGrain)
      for (int64_t t = 0; t < outer * nb; ++t) {
        const int64_t o = t / nb, j0 = (t % nb) * kColBlock, w = std::min(kColBlock, inner - j0);
        const T* xo = x + o * n * inner + j0;
        T acc[kColBlock];
        std::fill(acc, acc + w, Op::init());
        for (int64_t i = 0; i < n; ++i) fold_row<Op>(acc, xo + i * inner, w);
        T* yo = y + o * inner + j0;
        for (int64_t j = 0; j < w; ++j) yo[j] = scale * acc[j];
      }
    }
    return;
  }
  // General layout (e.g. axes 0 and 2 of 3): strided, one thread.
  int64_t ny = 1;
  for (int d = 0; d < rank; ++d)
    if (!red[d]) ny *= dims[d];
  std::fill(y, y + ny, Op::init());
  const int64_t last = dims[rank - 1];
  const bool last_reduced = red[rank - 1];
  for_each_run(rank, dims, red, [&](int64_t xoff, int64_t yoff) {
    if (last_reduced) y[yoff] = Op::f(y[yoff], reduce_run<Op>(x + xoff, last));
    else fold_row<Op>(y + yoff, x + xoff, last);
  });
  for (int64_t j = 0; j < ny; ++j) y[j] *= scale;
}

template <class T>
void reduce(ReduceKind kind, const T* x, T* y, int rank, const int64_t* dims,
            const uint8_t* red, T scale) {
  switch (kind) {
    case ReduceKind::sum: return reduce_op<T, SumOp<T>>(x, y, rank, dims, red, scale);
    case ReduceKind::max: return reduce_op<T, MaxOp<T>>(x, y, rank, dims, red, scale);
    case ReduceKind::min: return reduce_op<T, MinOp<T>>(x, y, rank, dims, red, scale);
  }
}

template <bool Acc, class T>
void reduce_sum_backward_impl(const T* gy, T* gx, int rank, const int64_t* dims,
                              const uint8_t* red, T scale) {
  int64_t outer, n, inner;
  if (split3(rank, dims, red, outer, n, inner)) {
    if (inner == 1) {  // last axis: fill each row with its scaled gradient
#pragma omp parallel for if (outer * n > kParallelGrain)
      for (int64_t o = 0; o < outer; ++o) {
        const T g = scale * gy[o];
        T* gr = gx + o * n;
        for (int64_t i = 0; i < n; ++i) put<Acc>(gr[i], g);
      }
      return;
    }
#pragma omp parallel for if (outer * n * inner > kParallelGrain)
    for (int64_t r = 0; r < outer * n; ++r) {  // one row of `inner` per (o, i)
      const int64_t o = r / n;
      T* gr = gx + r * inner;
      const T* g = gy + o * inner;
      for (int64_t j = 0; j < inner; ++j) put<Acc>(gr[j], scale * g[j]);
    }
    return;
  }
  const int64_t last = dims[rank - 1];
  const bool last_reduced = red[rank - 1];
  for_each_run(rank, dims, red, [&](int64_t xoff, int64_t yoff) {
    T* gr = gx + xoff;
    if (last_reduced) {
      const T g = scale * gy[yoff];
      for (int64_t j = 0; j < last; ++j) put<Acc>(gr[j], g);
    } else {
      const T* g = gy + yoff;
      for (int64_t j = 0; j < last; ++j) put<Acc>(gr[j], scale * g[j]);
    }
  });
}

template <class T>
void reduce_sum_backward(const T* gy, T* gx, int rank, const int64_t* dims, const uint8_t* red,
                         T scale, bool accumulate) {
  if (accumulate) reduce_sum_backward_impl<true>(gy, gx, rank, dims, red, scale);
  else reduce_sum_backward_impl<false>(gy, gx, rank, dims, red, scale);
}

// Tie rule: the whole gradient goes to the first element of the slice (in row-major order)
// that equals the forward result; `found` marks slices already served.
// Index of the first x[i] equal to v (or NaN when v is); n when none. Vector compares, then the
// exact lane from the scalar loop.
template <class T>
int64_t first_match(const T* x, T v, int64_t n) {
  constexpr int L = kLanes<T>;
  const Vec<T> vv = splat(v);
  int64_t i = 0;
  for (; i + L <= n; i += L) {
    const Mask<T> m = same_or_both_nan(load(x + i), vv);
    uint64_t bits[sizeof m / 8];
    std::memcpy(bits, &m, sizeof m);
    uint64_t any = 0;
    for (uint64_t w : bits) any |= w;
    if (any) break;
  }
  for (; i < n; ++i)
    if (same_or_both_nan(x[i], v)) return i;
  return n;
}

template <bool Acc, class T>
void reduce_extreme_backward_impl(const T* x, const T* y, const T* gy, T* gx, int rank,
                                  const int64_t* dims, const uint8_t* red) {
  int64_t outer, n, inner;
  if (split3(rank, dims, red, outer, n, inner)) {
    if (inner == 1) {
#pragma omp parallel for if (outer * n > kParallelGrain)
      for (int64_t o = 0; o < outer; ++o) {
        const T* xr = x + o * n;
        T* gr = gx + o * n;
        const int64_t hit = first_match(xr, y[o], n);
        if (!Acc) std::fill(gr, gr + n, T(0));
        if (hit < n) gr[hit] += gy[o];
      }
    } else {
      const int64_t nb = (inner + kColBlock - 1) / kColBlock;
#pragma omp parallel for if (outer * n * inner > kParallelGrain)
      for (int64_t t = 0; t < outer * nb; ++t) {
        const int64_t o = t / nb, j0 = (t % nb) * kColBlock, w = std::min(kColBlock, inner - j0);
        const T* yo = y + o * inner + j0;
        const T* go = gy + o * inner + j0;
        constexpr int L = kLanes<T>;
        Mask<T> found[kColBlock / L] = {};  // per column: its slice already got the gradient
        uint8_t found_tail[L] = {};
        for (int64_t i = 0; i < n; ++i) {
          const T* xr = x + (o * n + i) * inner + j0;
          T* gr = gx + (o * n + i) * inner + j0;
          int64_t j = 0;
          for (; j + L <= w; j += L) {
            const Mask<T> hit = ~found[j / L] & same_or_both_nan(load(xr + j), load(yo + j));
            found[j / L] |= hit;
            const Vec<T> g = hit ? load(go + j) : Vec<T>{};
            store(gr + j, Acc ? load(gr + j) + g : g);
          }
          for (; j < w; ++j) {
            const bool hit = !found_tail[j % L] && same_or_both_nan(xr[j], yo[j]);
            found_tail[j % L] |= hit;
            put<Acc>(gr[j], hit ? go[j] : T(0));
          }
        }
      }
    }
    return;
  }
  int64_t ny = 1;
  for (int d = 0; d < rank; ++d)
    if (!red[d]) ny *= dims[d];
  std::vector<uint8_t> found(ny, 0);
  const int64_t last = dims[rank - 1];
  const bool last_reduced = red[rank - 1];
  for_each_run(rank, dims, red, [&](int64_t xoff, int64_t yoff) {
    const T* xr = x + xoff;
    T* gr = gx + xoff;
    for (int64_t j = 0; j < last; ++j) {
      const int64_t k = last_reduced ? yoff : yoff + j;
      const bool hit = !found[k] && same_or_both_nan(xr[j], y[k]);
      found[k] |= hit;
      put<Acc>(gr[j], hit ? gy[k] : T(0));
    }
  });
}

template <class T>
void reduce_extreme_backward(const T* x, const T* y, const T* gy, T* gx, int rank,
                             const int64_t* dims, const uint8_t* red, bool accumulate) {
  if (accumulate) reduce_extreme_backward_impl<true>(x, y, gy, gx, rank, dims, red);
  else reduce_extreme_backward_impl<false>(x, y, gy, gx, rank, dims, red);
}

// ---------------------------------------------------------------- softmax

// exp for softmax arguments (x - max <= 0, also log-probabilities): Cephes' expf polynomial
// (about 1 ulp) on vector lanes with GCC vector extensions. Written out because the scalar form
// is not auto-vectorised (see the top of this file).
// Below -87.3 (and for -inf) it returns 0; NaN stays NaN; valid for x <= 88.3.
using vf = Vec<float>;
using vi = Mask<float>;

inline vf exp_vec(vf x) {
  const vf lo = splat(-87.3f), hi = splat(88.3f);
  const vi below = x < lo;  // exp underflows to 0 there (also for -inf)
  vf xr = below ? lo : x;   // NaN stays NaN through both clamps
  xr = xr > hi ? hi : xr;
  // The integer part comes from a copy with NaN zeroed (converting NaN to int is undefined);
  // the fraction keeps the NaN so it reaches the result. Vector casts reinterpret the bits.
  const vf xn = (vf)((vi)xr & (xr == xr));
  // floor(v) as truncation of v + 128 (positive here).
  const vi n = __builtin_convertvector(xn * 1.44269504088896341f + 128.5f, vi) - 128;
  const vf fx = __builtin_convertvector(n, vf);
  vf r = xr - fx * 0.693359375f;
  r = r - fx * -2.12194440e-4f;
  const vf z = r * r;
  vf p = splat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * z + r + 1.0f;
  const vf scale = (vf)((n + 127) << 23);
  return (vf)((vi)(p * scale) & ~below);
}

// out[j] = exp(x[j] - m[j]), or exp(x[j] - s) when m is null. out may alias x.
inline void exp_sub(const float* x, const float* m, float s, float* out, int64_t n) {
  int64_t j = 0;
  vf a, b = splat(s), e;
  for (; j + kLanes<float> <= n; j += kLanes<float>) {
    std::memcpy(&a, x + j, sizeof a);
    if (m) std::memcpy(&b, m + j, sizeof b);
    e = a - b;
    e = exp_vec(e);
    std::memcpy(out + j, &e, sizeof e);
  }
  if (j < n) {  // tail: through a zero-padded vector
    constexpr int L = kLanes<float>;
    float ta[L], tb[L], te[L];
    std::fill(ta, ta + L, 0.0f);
    std::fill(tb, tb + L, s);
    for (int64_t k = 0; k < n - j; ++k) {
      ta[k] = x[j + k];
      if (m) tb[k] = m[j + k];
    }
    std::memcpy(&a, ta, sizeof a);
    std::memcpy(&b, tb, sizeof b);
    e = exp_vec(a - b);
    std::memcpy(te, &e, sizeof e);
    for (int64_t k = 0; k < n - j; ++k) out[j + k] = te[k];
  }
}
inline void exp_sub(const double* x, const double* m, double s, double* out, int64_t n) {
  if (m) for (int64_t j = 0; j < n; ++j) out[j] = std::exp(x[j] - m[j]);
  else for (int64_t j = 0; j < n; ++j) out[j] = std::exp(x[j] - s);
}

// Sum of exp(x - s) over a run, through a stack buffer so x is never overwritten.
template <class T>
T sum_exp_sub(const T* x, T s, int64_t n) {
  T buf[kColBlock];
  T total = 0;
  for (int64_t c = 0; c < n; c += kColBlock) {
    const int64_t len = std::min(kColBlock, n - c);
    exp_sub(x + c, static_cast<const T*>(nullptr), s, buf, len);
    total += reduce_run<SumOp<T>>(buf, len);
  }
  return total;
}

template <class T>
void softmax_rows(const T* x, T* y, int64_t n, bool log) {
  const T m = reduce_run<MaxOp<T>>(x, n);
  if (log) {
    const T shift = m + std::log(sum_exp_sub(x, m, n));
    for (int64_t j = 0; j < n; ++j) y[j] = x[j] - shift;
  } else {
    exp_sub(x, static_cast<const T*>(nullptr), m, y, n);
    const T inv = T(1) / reduce_run<SumOp<T>>(y, n);
    for (int64_t j = 0; j < n; ++j) y[j] *= inv;
  }
}

template <class T>
void softmax(const T* x, T* y, int64_t outer, int64_t n, int64_t inner, bool log) {
  if (inner == 1) {
#pragma omp parallel for if (outer * n > kParallelGrain)
    for (int64_t o = 0; o < outer; ++o) softmax_rows(x + o * n, y + o * n, n, log);
    return;
  }
  const int64_t nb = (inner + kColBlock - 1) / kColBlock;
#pragma omp parallel for if (outer * n * inner > kParallelGrain)
  for (int64_t t = 0; t < outer * nb; ++t) {
    const int64_t o = t / nb, j0 = (t % nb) * kColBlock, w = std::min(kColBlock, inner - j0);
    const T* xo = x + o * n * inner + j0;
    T* yo = y + o * n * inner + j0;
    T m[kColBlock], s[kColBlock], e[kColBlock];
    for (int64_t j = 0; j < w; ++j) { m[j] = MaxOp<T>::init(); s[j] = 0; }
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < w; ++j) m[j] = MaxOp<T>::f(m[j], xo[i * inner + j]);
    for (int64_t i = 0; i < n; ++i) {
      T* ei = log ? e : yo + i * inner;  // softmax keeps the exps in y, log_softmax does not
      exp_sub(xo + i * inner, m, T(0), ei, w);
      for (int64_t j = 0; j < w; ++j) s[j] += ei[j];
    }
    if (log) {
      for (int64_t j = 0; j < w; ++j) m[j] += std::log(s[j]);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < w; ++j) yo[i * inner + j] = xo[i * inner + j] - m[j];
    } else {
      for (int64_t j = 0; j < w; ++j) s[j] = T(1) / s[j];
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < w; ++j) yo[i * inner + j] *= s[j];
    }
  }
}

// One run of n elements: softmax gx = y * (gy - d), d = sum(gy * y); log_softmax
// gx = gy - exp(y) * d, d = sum(gy). Reads a chunk fully before writing it: safe in place.
template <bool Acc, class T>
void softmax_backward_run(const T* y, const T* gy, T* gx, int64_t n, bool log) {
  constexpr int L = 32 / sizeof(T);
  T acc[L] = {};
  int64_t i = 0;
  T d = 0;
  if (log) {
    d = reduce_run<SumOp<T>>(gy, n);
  } else {
    for (; i + L <= n; i += L)
      for (int k = 0; k < L; ++k) acc[k] += gy[i + k] * y[i + k];
    for (int k = 0; k < L; ++k) d += acc[k];
    for (; i < n; ++i) d += gy[i] * y[i];
  }
  if (log) {
    T e[kColBlock];
    for (int64_t c = 0; c < n; c += kColBlock) {
      const int64_t len = std::min(kColBlock, n - c);
      exp_sub(y + c, static_cast<const T*>(nullptr), T(0), e, len);
      for (int64_t j = 0; j < len; ++j) put<Acc>(gx[c + j], gy[c + j] - e[j] * d);
    }
  } else {
    for (int64_t j = 0; j < n; ++j) put<Acc>(gx[j], y[j] * (gy[j] - d));
  }
}

template <bool Acc, class T>
void softmax_backward_impl(const T* y, const T* gy, T* gx, int64_t outer, int64_t n,
                           int64_t inner, bool log) {
  if (inner == 1) {
#pragma omp parallel for if (outer * n > kParallelGrain)
    for (int64_t o = 0; o < outer; ++o)
      softmax_backward_run<Acc>(y + o * n, gy + o * n, gx + o * n, n, log);
    return;
  }
  const int64_t nb = (inner + kColBlock - 1) / kColBlock;
#pragma omp parallel for if (outer * n * inner > kParallelGrain)
  for (int64_t t = 0; t < outer * nb; ++t) {
    const int64_t o = t / nb, j0 = (t % nb) * kColBlock, w = std::min(kColBlock, inner - j0);
    const int64_t base = o * n * inner + j0;
    T d[kColBlock], e[kColBlock];
    for (int64_t j = 0; j < w; ++j) d[j] = 0;
    for (int64_t i = 0; i < n; ++i) {
      const T* yr = y + base + i * inner;
      const T* gr = gy + base + i * inner;
      if (log) for (int64_t j = 0; j < w; ++j) d[j] += gr[j];
      else for (int64_t j = 0; j < w; ++j) d[j] += gr[j] * yr[j];
    }
    for (int64_t i = 0; i < n; ++i) {
      const T* yr = y + base + i * inner;
      const T* gr = gy + base + i * inner;
      T* xr = gx + base + i * inner;
      if (log) {
        exp_sub(yr, static_cast<const T*>(nullptr), T(0), e, w);
        for (int64_t j = 0; j < w; ++j) put<Acc>(xr[j], gr[j] - e[j] * d[j]);
      } else {
        for (int64_t j = 0; j < w; ++j) put<Acc>(xr[j], yr[j] * (gr[j] - d[j]));
      }
    }
  }
}

template <class T>
void softmax_backward(const T* y, const T* gy, T* gx, int64_t outer, int64_t n, int64_t inner,
                      bool log, bool accumulate) {
  if (accumulate) softmax_backward_impl<true>(y, gy, gx, outer, n, inner, log);
  else softmax_backward_impl<false>(y, gy, gx, outer, n, inner, log);
}

// ---------------------------------------------------------------- gemm

template <class T>
void gemm_cpu(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
              int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {  // BLAS rejects zero leading dimensions; the product is empty anyway
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == T(0) ? T(0) : beta * c[i * ldc + j];
    return;
  }
  gemm<T>(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

// Products big enough to be split by ember::gemm run one after another; many small ones run
// one per thread instead (ember::gemm calls BLAS single-threaded inside a parallel region).
constexpr double kGemmParallelFlops = 4e6;

template <class T>
void gemm_batch(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                const int64_t* a_off, int64_t lda, const T* b, const int64_t* b_off, int64_t ldb,
                T beta, T* c, const int64_t* c_off, int64_t ldc, int64_t count) {
  const double flops = 2.0 * m * n * k;
  if (flops >= kGemmParallelFlops) {
    for (int64_t i = 0; i < count; ++i)
      gemm_cpu(ta, tb, m, n, k, alpha, a + a_off[i], lda, b + b_off[i], ldb, beta, c + c_off[i],
               ldc);
    return;
  }
#pragma omp parallel for if (flops * count >= kGemmParallelFlops)
  for (int64_t i = 0; i < count; ++i)
    gemm_cpu(ta, tb, m, n, k, alpha, a + a_off[i], lda, b + b_off[i], ldb, beta, c + c_off[i],
             ldc);
}

// ---------------------------------------------------------------- movers

// y = x permuted (y's axis i is x's axis perm[i]). Output axes of extent 1 are dropped and
// output axes that stay adjacent in x merged first, so e.g. (B, T, H, D) -> (B, H, T, D) becomes
// rows of D contiguous elements, and a true transpose of the innermost axis runs in tiles.
template <bool Acc, class T>
void permute_impl(const T* x, T* y, int rank, const int64_t* dims, const int* perm) {
  std::vector<int64_t> in_stride(rank);
  int64_t total = 1;
  for (int d = rank - 1; d >= 0; --d) {
    in_stride[d] = total;
    total *= dims[d];
  }
  if (total == 0) return;
  std::vector<int64_t> od, st;  // merged output extents and their input strides
  for (int i = 0; i < rank; ++i) {
    const int64_t e = dims[perm[i]], s = in_stride[perm[i]];
    if (e == 1) continue;
    if (!od.empty() && st.back() == s * e) {
      od.back() *= e;
      st.back() = s;
    } else {
      od.push_back(e);
      st.push_back(s);
    }
  }
  const int r = static_cast<int>(od.size());
  if (r == 0) {
    put<Acc>(y[0], x[0]);
    return;
  }
  std::vector<int64_t> ost(r);
  for (int64_t d = r - 1, s = 1; d >= 0; --d) {
    ost[d] = s;
    s *= od[d];
  }
  if (r == 1) {  // plain copy
#pragma omp parallel for if (total > kParallelGrain)
    for (int64_t c = 0; c < (total + kChunk - 1) / kChunk; ++c) {
      const int64_t j1 = std::min(total, (c + 1) * kChunk);
      for (int64_t j = c * kChunk; j < j1; ++j) put<Acc>(y[j], x[j]);
    }
    return;
  }
  int p = -1;  // output axis that is contiguous in x
  for (int d = 0; d < r; ++d)
    if (st[d] == 1) p = d;
  const int q = r - 1;
  if (p == q || p < 0) {  // rows of the last output axis, read with stride st[q]
    const int64_t len = od[q], rows = total / len, sq = st[q];
#pragma omp parallel for if (total > kParallelGrain)
    for (int64_t row = 0; row < rows; ++row) {
      int64_t rem = row, off = 0;
      for (int d = q - 1; d >= 0; --d) {
        off += (rem % od[d]) * st[d];
        rem /= od[d];
      }
      T* yr = y + row * len;
      const T* xr = x + off;
      if (sq == 1) for (int64_t j = 0; j < len; ++j) put<Acc>(yr[j], xr[j]);
      else for (int64_t j = 0; j < len; ++j) put<Acc>(yr[j], xr[j * sq]);
    }
    return;
  }
  // Tiles over (p, q): reads run along p, writes along q, both inside a kTile^2 block.
  const int64_t tp = (od[p] + kTile - 1) / kTile, tq = (od[q] + kTile - 1) / kTile;
  const int64_t others = total / (od[p] * od[q]);
#pragma omp parallel for if (total > kParallelGrain)
  for (int64_t t = 0; t < others * tp * tq; ++t) {
    const int64_t bq = t % tq, bp = (t / tq) % tp;
    int64_t rem = t / (tq * tp), xo = 0, yo = 0;
    for (int d = q - 1; d >= 0; --d) {
      if (d == p) continue;
      const int64_t i = rem % od[d];
      rem /= od[d];
      xo += i * st[d];
      yo += i * ost[d];
    }
    const int64_t a1 = std::min(od[p], (bp + 1) * kTile), b1 = std::min(od[q], (bq + 1) * kTile);
    for (int64_t a = bp * kTile; a < a1; ++a) {
      T* yr = y + yo + a * ost[p];
      const T* xr = x + xo + a;
      for (int64_t b = bq * kTile; b < b1; ++b) put<Acc>(yr[b], xr[b * st[q]]);
    }
  }
}

template <bool Acc, class T>
void copy2d_impl(const T* src, int64_t ss, T* dst, int64_t ds, int64_t rows, int64_t cols) {
  if (rows <= 0 || cols <= 0) return;
  if (ss == cols && ds == cols) {  // one contiguous run: split it into chunks
    const int64_t total = rows * cols;
#pragma omp parallel for if (total > kParallelGrain)
    for (int64_t c = 0; c < (total + kChunk - 1) / kChunk; ++c) {
      const int64_t j1 = std::min(total, (c + 1) * kChunk);
      for (int64_t j = c * kChunk; j < j1; ++j) put<Acc>(dst[j], src[j]);
    }
    return;
  }
#pragma omp parallel for if (rows * cols > kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    const T* s = src + r * ss;
    T* d = dst + r * ds;
    for (int64_t j = 0; j < cols; ++j) put<Acc>(d[j], s[j]);
  }
}

template <class T>
void permute_t(const T* x, T* y, int rank, const int64_t* dims, const int* perm, bool acc) {
  if (acc) permute_impl<true>(x, y, rank, dims, perm);
  else permute_impl<false>(x, y, rank, dims, perm);
}

template <class T>
void copy2d_t(const T* src, int64_t ss, T* dst, int64_t ds, int64_t rows, int64_t cols,
              bool acc) {
  if (acc) copy2d_impl<true>(src, ss, dst, ds, rows, cols);
  else if (src != dst || ss != ds) copy2d_impl<false>(src, ss, dst, ds, rows, cols);
}

template <class T>
void fill(T* dst, int64_t n, T value) {
#pragma omp parallel for if (n > kParallelGrain)
  for (int64_t c = 0; c < (n + kChunk - 1) / kChunk; ++c) {
    const int64_t j1 = std::min(n, (c + 1) * kChunk);
    for (int64_t j = c * kChunk; j < j1; ++j) dst[j] = value;
  }
}

// Byte movers: the element width picks an unsigned integer type of that size.
template <class F>
void by_width(size_t elem, F&& f) {
  switch (elem) {
    case 1: f(uint8_t{}); break;
    case 2: f(uint16_t{}); break;
    case 4: f(uint32_t{}); break;
    default: f(uint64_t{}); break;
  }
}

void permute_bytes(const void* x, void* y, size_t elem, int rank, const int64_t* dims,
                   const int* perm) {
  by_width(elem, [&](auto u) {
    using U = decltype(u);
    permute_impl<false>(static_cast<const U*>(x), static_cast<U*>(y), rank, dims, perm);
  });
}

void copy2d_bytes(const void* src, int64_t ss, void* dst, int64_t ds, int64_t rows, int64_t cols,
                  size_t elem) {
  if (src == dst && ss == ds) return;  // in place: nothing to move
  by_width(elem, [&](auto u) {
    using U = decltype(u);
    copy2d_impl<false>(static_cast<const U*>(src), ss, static_cast<U*>(dst), ds, rows, cols);
  });
}

template <class F>
void by_dtype(DType t, F&& f) {
  switch (t) {
    case DType::f32: f(float{}); break;
    case DType::f64: f(double{}); break;
    case DType::i32: f(int32_t{}); break;
    default: f(int64_t{}); break;
  }
}

void convert(const void* x, DType from, void* y, DType to, int64_t n, bool accumulate) {
  by_dtype(from, [&](auto a) {
    by_dtype(to, [&](auto b) {
      using A = decltype(a);
      using B = decltype(b);
      const A* src = static_cast<const A*>(x);
      B* dst = static_cast<B*>(y);
#pragma omp parallel for if (n > kParallelGrain)
      for (int64_t c = 0; c < (n + kChunk - 1) / kChunk; ++c) {
        const int64_t j1 = std::min(n, (c + 1) * kChunk);
        if (accumulate)
          for (int64_t j = c * kChunk; j < j1; ++j) dst[j] += static_cast<B>(src[j]);
        else
          for (int64_t j = c * kChunk; j < j1; ++j) dst[j] = static_cast<B>(src[j]);
      }
    });
  });
}

template <class T>
constexpr TensorOpsKernels<T> make_table() {
  return TensorOpsKernels<T>{reduce<T>,  reduce_sum_backward<T>, reduce_extreme_backward<T>,
                             softmax<T>, softmax_backward<T>,    gemm_cpu<T>, gemm_batch<T>,
                             permute_t<T>, copy2d_t<T>,          fill<T>};
}

const TensorOpsKernels<float> cpu_f32 = make_table<float>();
const TensorOpsKernels<double> cpu_f64 = make_table<double>();
const ShapeKernels cpu_shape{permute_bytes, copy2d_bytes, convert};

}  // namespace

EMBER_REGISTER_KERNELS(TensorOpsKernels<float>, Device::cpu, cpu_f32);
EMBER_REGISTER_KERNELS(TensorOpsKernels<double>, Device::cpu, cpu_f64);
EMBER_REGISTER_KERNELS(ShapeKernels, Device::cpu, cpu_shape);

}  // namespace ember
