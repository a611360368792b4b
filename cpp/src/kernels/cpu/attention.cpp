// CPU kernels of the attention family (kernels/attention.h): FlashAttention-style tiles.
//
// Forward: one task per (b, h, query tile). For each key tile the task forms the score tile
// S = scale * Q K^T (BLAS), hides masked entries, folds the tile into running row maxima m and
// sums l (the online softmax: earlier partial results are rescaled by exp(m_old - m_new)) and
// adds P V into an accumulator; at the end out = acc / l. Causal key tiles wholly above the
// diagonal are skipped once every row of the query tile has seen a visible key: their weights
// exp(masked - m) are exactly 0. A row with no visible key yet keeps going, because a fully
// masked row attends to every key.
//
// Backward (dS = P * (dP - rowsum(dO * O)), dP = dO V^T) recomputes P per tile from the saved
// m and 1 / l. With enough (b, h) pairs for the threads each task owns one (b, h) and walks
// key tiles x query tiles, adding into dq, dk, dv directly (it is their only writer). With few
// pairs (long sequences, small batch) the work splits by key tiles for dk/dv and then by query
// tiles for dq, recomputing the scores once more but keeping every thread busy.
//
// Work memory: one slice per thread (score tile, a second tile, visibility bytes, and forward's
// accumulator), 64-byte aligned, plus backward's rowsum(dO * O) per row: all linear in T.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/blas.h"
#include "ember/error.h"
#include "ember/rng.h"
#include "ember/threads.h"
#include "kernels/attention.h"
#include "kernels/cpu/simd.h"

namespace ember {
namespace {

constexpr int64_t kTileQ = 64;  // query rows per tile
constexpr int64_t kTileK = 64;  // keys per tile

size_t round64(size_t b) { return (b + 63) / 64 * 64; }
int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// ---------------------------------------------------------------- exp over rows
// x[c] = exp(x[c] - shift) for c < n, returning the sum. float uses a vectorised Cephes-style
// exp (relative error ~1e-7, exactly 0 below -100, where float's exp underflows anyway); double
// uses std::exp (it serves gradient checks, not speed).
inline Vec<float> vexp(Vec<float> x) {
  using V = Vec<float>;
  using M = Mask<float>;
  x = x < -100.0f ? V{} - 100.0f : x;
  x = x > 88.0f ? V{} + 88.0f : x;
  // n = round(x / ln 2) by the 1.5 * 2^23 trick: the float's low bits then hold n.
  const V magic = V{} + 12582912.0f;
  const V t = x * 1.44269504088896341f + magic;
  const V n = t - magic;
  const M ni = (M)t - (M)magic;
  V r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  V p = V{} + 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  M e = ni + 127;
  e = e < 0 ? M{} : e;  // 2^n with n < -126 flushed to 0
  return p * (V)(e << 23);
}

float exp_shift_sum(float* x, int64_t n, float shift) {
  using V = Vec<float>;
  constexpr int L = kLanes<float>;
  V acc{};
  int64_t c = 0;
  for (; c + L <= n; c += L) {
    V v;
    std::memcpy(&v, x + c, sizeof(V));
    v = vexp(v - shift);
    std::memcpy(x + c, &v, sizeof(V));
    acc += v;
  }
  float s = 0;
  for (int l = 0; l < L; ++l) s += acc[l];
  if (c < n) {  // the tail through the same exp, padded lanes giving exp(-100 - ...) = 0
    V v = V{} - 200.0f;
    std::memcpy(&v, x + c, (n - c) * sizeof(float));
    v = vexp(v - shift);
    std::memcpy(x + c, &v, (n - c) * sizeof(float));
    for (int64_t l = 0; l < n - c; ++l) s += v[l];
  }
  return s;
}

double exp_shift_sum(double* x, int64_t n, double shift) {
  double s = 0;
  for (int64_t c = 0; c < n; ++c) {
    x[c] = std::exp(x[c] - shift);
    s += x[c];
  }
  return s;
}

// x[c] = exp(x[c] - shift) * mul.
void exp_shift_scale(float* x, int64_t n, float shift, float mul) {
  exp_shift_sum(x, n, shift);
#pragma omp simd
  for (int64_t c = 0; c < n; ++c) x[c] *= mul;
}
void exp_shift_scale(double* x, int64_t n, double shift, double mul) {
  for (int64_t c = 0; c < n; ++c) x[c] = std::exp(x[c] - shift) * mul;
}

template <class T>
T row_max(const T* x, int64_t n) {
  T m = -std::numeric_limits<T>::infinity();
#pragma omp simd reduction(max : m)
  for (int64_t c = 0; c < n; ++c) m = std::max(m, x[c]);
  return m;
}

// ---------------------------------------------------------------- masks

// vis[c] = 1 when key j0 + c is visible to query i of (b, h), for c < n. Returns true when
// the problem hides anything at all (otherwise vis is left alone and everything is visible).
template <class T>
bool row_visibility(const AttnProblem<T>& p, int64_t b, int64_t h, int64_t i, int64_t j0,
                    int64_t n, uint8_t* vis) {
  if (!p.mask && !p.causal) return false;
  const int64_t limit = p.causal ? std::clamp<int64_t>(i - j0 + 1, 0, n) : n;
  if (p.mask) {
    const int64_t* s = p.mask_stride;
    const T* mr = p.mask + b * s[0] + h * s[1] + i * s[2] + j0 * s[3];
    const int64_t sj = s[3];
    for (int64_t c = 0; c < n; ++c) vis[c] = (c < limit) & (mr[c * sj] != T(0));
  } else {
    for (int64_t c = 0; c < n; ++c) vis[c] = c < limit;
  }
  return true;
}

template <class T>
void hide(T* s, const uint8_t* vis, int64_t n) {
  const T masked = static_cast<T>(kAttnMaskedLogit);
  for (int64_t c = 0; c < n; ++c) s[c] = vis[c] ? s[c] : masked;
}

// True when every row in [i0, i0 + nq) has a visible key among those seen so far (its max is
// above the masked logit): hidden keys then weigh exactly 0 and causal tiles can be skipped.
template <class T>
bool rows_settled(const T* m, int64_t nq) {
  const T masked = static_cast<T>(kAttnMaskedLogit);
  for (int64_t r = 0; r < nq; ++r)
    if (!(m[r] > masked)) return false;
  return true;
}

// Tile (i0.., j0..) lies wholly above the causal diagonal.
inline bool above_diagonal(bool causal, int64_t i0, int64_t nq, int64_t j0) {
  return causal && j0 > i0 + nq - 1;
}

struct DropoutBits {
  bool on = false;
  float rate = 0;
  uint64_t key = 0;
  int64_t Tk = 0;
  bool keep(int64_t i, int64_t j) const {
    return uniform01(key, static_cast<uint64_t>(i * Tk + j)) >= rate;
  }
};

template <class T>
DropoutBits dropout_bits(const AttnProblem<T>& p, int64_t b, int64_t h) {
  DropoutBits d;
  d.on = p.dropout > 0.0;
  d.rate = static_cast<float>(p.dropout);
  d.key = rng_key(p.seed, static_cast<uint64_t>(b * p.H + h));
  d.Tk = p.Tk;
  return d;
}

template <class T>
T keep_scale(const AttnProblem<T>& p) {
  return p.dropout < 1.0 ? T(1) / (T(1) - T(p.dropout)) : T(0);
}

// ---------------------------------------------------------------- forward

template <class T>
size_t forward_slice(const AttnProblem<T>& p) {
  return round64(kTileQ * kTileK * sizeof(T)) + round64(kTileQ * p.Dv * sizeof(T)) +
         round64(2 * kTileQ * sizeof(T)) + round64(kTileK);
}

template <class T>
size_t forward_work(const AttnProblem<T>& p, int threads) {
  return forward_slice(p) * static_cast<size_t>(std::max(threads, 1));
}

// One (b, h, query tile): the online softmax over all key tiles.
template <class T>
void forward_tile(const AttnProblem<T>& p, const T* q, const T* k, const T* v, T* out,
                  T* row_max_out, T* row_inv_out, int64_t b, int64_t h, int64_t qt, char* slice) {
  const int64_t i0 = qt * kTileQ, nq = std::min(kTileQ, p.Tq - i0);
  const int64_t ldq = p.H * p.D, ldv = p.H * p.Dv;
  T* S = reinterpret_cast<T*>(slice);
  T* acc = reinterpret_cast<T*>(slice + round64(kTileQ * kTileK * sizeof(T)));
  T* m = reinterpret_cast<T*>(reinterpret_cast<char*>(acc) + round64(kTileQ * p.Dv * sizeof(T)));
  T* l = m + kTileQ;
  uint8_t* vis = reinterpret_cast<uint8_t*>(slice + forward_slice(p) - round64(kTileK));
  std::fill(m, m + nq, -std::numeric_limits<T>::infinity());
  std::fill(l, l + nq, T(0));
  std::fill(acc, acc + nq * p.Dv, T(0));
  const DropoutBits drop = dropout_bits(p, b, h);
  const T kscale = keep_scale(p);
  const T* Q = q + (b * p.Tq + i0) * ldq + h * p.D;
  const int64_t tiles = ceil_div(p.Tk, kTileK);
  for (int64_t kt = 0; kt < tiles; ++kt) {
    const int64_t j0 = kt * kTileK, nk = std::min(kTileK, p.Tk - j0);
    if (above_diagonal(p.causal, i0, nq, j0) && rows_settled(m, nq)) break;
    const T* K = k + (b * p.Tk + j0) * ldq + h * p.D;
    const T* V = v + (b * p.Tk + j0) * ldv + h * p.Dv;
    gemm<T>(false, true, nq, nk, p.D, p.scale, Q, ldq, K, ldq, T(0), S, kTileK);
    for (int64_t r = 0; r < nq; ++r) {
      T* s = S + r * kTileK;
      if (row_visibility(p, b, h, i0 + r, j0, nk, vis)) hide(s, vis, nk);
      const T m_new = std::max(m[r], row_max(s, nk));
      const T alpha = std::exp(m[r] - m_new);  // 0 on the first tile (m = -inf)
      const T sum = exp_shift_sum(s, nk, m_new);
      l[r] = l[r] * alpha + sum;
      m[r] = m_new;
      if (alpha != T(1)) {
        T* a = acc + r * p.Dv;
#pragma omp simd
        for (int64_t d = 0; d < p.Dv; ++d) a[d] *= alpha;
      }
      if (drop.on)  // the normaliser l sums the undropped weights
        for (int64_t c = 0; c < nk; ++c) s[c] = drop.keep(i0 + r, j0 + c) ? s[c] * kscale : T(0);
    }
    gemm<T>(false, false, nq, p.Dv, nk, T(1), S, kTileK, V, ldv, T(1), acc, p.Dv);
  }
  const int64_t stat = (b * p.H + h) * p.Tq + i0;
  for (int64_t r = 0; r < nq; ++r) {
    // l = 0 only without keys (Tk = 0). A zero inverse sum makes the row's weights 0 in
    // backward too, so an emptied row passes no gradient.
    const bool empty = p.zero_empty_rows && !(m[r] > static_cast<T>(kAttnMaskedLogit));
    const T inv = l[r] > T(0) && !empty ? T(1) / l[r] : T(0);
    T* o = out + ((b * p.Tq + i0 + r) * p.H + h) * p.Dv;
    const T* a = acc + r * p.Dv;
#pragma omp simd
    for (int64_t d = 0; d < p.Dv; ++d) o[d] = a[d] * inv;
    row_max_out[stat + r] = m[r];
    row_inv_out[stat + r] = inv;
  }
}

// Threads the work memory allows (at least 1, else the plan under-sized it).
int threads_for(size_t work_bytes, size_t fixed, size_t slice, int64_t tasks) {
  EMBER_CHECK(work_bytes >= fixed + slice, Error,
              "op 'dot_product_attention': work memory of ", work_bytes,
              " bytes is smaller than the ", fixed + slice, " bytes one thread needs");
  const int64_t fit = static_cast<int64_t>((work_bytes - fixed) / slice);
  return static_cast<int>(
      std::max<int64_t>(1, std::min<int64_t>({fit, omp_get_max_threads(), tasks})));
}

template <class T>
void forward(const AttnProblem<T>& p, const T* q, const T* k, const T* v, T* out, T* row_max,
             T* row_inv_sum, void* work, size_t work_bytes) {
  const size_t slice = forward_slice(p);
  const int64_t qtiles = ceil_div(p.Tq, kTileQ);
  const int64_t tasks = p.B * p.H * qtiles;
  if (tasks == 0) return;
  const int nth = threads_for(work_bytes, 0, slice, tasks);
  const double flops = 4.0 * p.B * p.H * p.Tq * p.Tk * (p.D + p.Dv) / 2;
  char* base = static_cast<char*>(work);
#pragma omp parallel num_threads(nth) if (nth > 1 && flops > 4 * kParallelGrain)
  {
    char* mine = base + omp_get_thread_num() * slice;
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < tasks; ++t) {
      const int64_t qt = t % qtiles, bh = t / qtiles;
      forward_tile(p, q, k, v, out, row_max, row_inv_sum, bh / p.H, bh % p.H, qt, mine);
    }
  }
}

// ---------------------------------------------------------------- backward

template <class T>
size_t backward_slice(const AttnProblem<T>& p) {
  return 2 * round64(kTileQ * kTileK * sizeof(T)) + round64(kTileK);
}

template <class T>
size_t backward_fixed(const AttnProblem<T>& p) {  // rowsum(dO * O) of every row
  return round64(static_cast<size_t>(p.B * p.H * p.Tq) * sizeof(T));
}

template <class T>
size_t backward_work(const AttnProblem<T>& p, int threads) {
  return backward_fixed(p) + backward_slice(p) * static_cast<size_t>(std::max(threads, 1));
}

struct BackwardArgs {
  const void *q, *k, *v, *dout, *row_max, *row_inv, *delta;
  void *dq, *dk, *dv;
};

// The contribution of tile (query tile qt, key tile kt) of (b, h) to the wanted gradients.
template <class T>
void backward_tile(const AttnProblem<T>& p, const BackwardArgs& a, int64_t b, int64_t h,
                   int64_t qt, int64_t kt, T* dq, T* dk, T* dv, char* slice) {
  const int64_t i0 = qt * kTileQ, nq = std::min(kTileQ, p.Tq - i0);
  const int64_t j0 = kt * kTileK, nk = std::min(kTileK, p.Tk - j0);
  const int64_t stat = (b * p.H + h) * p.Tq + i0;
  const T* m = static_cast<const T*>(a.row_max) + stat;
  const T* inv = static_cast<const T*>(a.row_inv) + stat;
  const T* delta = static_cast<const T*>(a.delta) + stat;
  if (above_diagonal(p.causal, i0, nq, j0) && rows_settled(m, nq)) return;  // all weights 0
  const int64_t ldq = p.H * p.D, ldv = p.H * p.Dv;
  const int64_t qoff = (b * p.Tq + i0) * ldq + h * p.D, koff = (b * p.Tk + j0) * ldq + h * p.D;
  const int64_t ooff = (b * p.Tq + i0) * ldv + h * p.Dv, voff = (b * p.Tk + j0) * ldv + h * p.Dv;
  const T* Q = static_cast<const T*>(a.q) + qoff;
  const T* K = static_cast<const T*>(a.k) + koff;
  const T* V = static_cast<const T*>(a.v) + voff;
  const T* dO = static_cast<const T*>(a.dout) + ooff;
  T* P = reinterpret_cast<T*>(slice);
  T* dS = reinterpret_cast<T*>(slice + round64(kTileQ * kTileK * sizeof(T)));
  uint8_t* vis = reinterpret_cast<uint8_t*>(slice + 2 * round64(kTileQ * kTileK * sizeof(T)));
  const DropoutBits drop = dropout_bits(p, b, h);
  const T kscale = keep_scale(p);

  gemm<T>(false, true, nq, nk, p.D, p.scale, Q, ldq, K, ldq, T(0), P, kTileK);
  gemm<T>(false, true, nq, nk, p.Dv, T(1), dO, ldv, V, ldv, T(0), dS, kTileK);  // dP
  for (int64_t r = 0; r < nq; ++r) {
    T* pr = P + r * kTileK;
    T* g = dS + r * kTileK;
    const bool hides = row_visibility(p, b, h, i0 + r, j0, nk, vis);
    if (hides) hide(pr, vis, nk);
    exp_shift_scale(pr, nk, m[r], inv[r]);
    const T dl = delta[r];
    if (drop.on) {
      for (int64_t c = 0; c < nk; ++c) {
        const T z = drop.keep(i0 + r, j0 + c) ? kscale : T(0);
        g[c] = pr[c] * (g[c] * z - dl);
        pr[c] *= z;  // the dropped weights that multiplied V
      }
    } else {
#pragma omp simd
      for (int64_t c = 0; c < nk; ++c) g[c] = pr[c] * (g[c] - dl);
    }
    if (hides)  // hidden logits are constants: no gradient reaches q or k through them
      for (int64_t c = 0; c < nk; ++c) g[c] = vis[c] ? g[c] : T(0);
  }
  if (dv) gemm<T>(true, false, nk, p.Dv, nq, T(1), P, kTileK, dO, ldv, T(1), dv + voff, ldv);
  if (dk) gemm<T>(true, false, nk, p.D, nq, p.scale, dS, kTileK, Q, ldq, T(1), dk + koff, ldq);
  if (dq) gemm<T>(false, false, nq, p.D, nk, p.scale, dS, kTileK, K, ldq, T(1), dq + qoff, ldq);
}

template <class T>
void zero_unless(T* x, int64_t n, bool accumulate) {
  if (x && !accumulate) std::memset(x, 0, static_cast<size_t>(n) * sizeof(T));
}

template <class T>
void backward(const AttnProblem<T>& p, const T* q, const T* k, const T* v, const T* out,
              const T* dout, const T* row_max, const T* row_inv_sum, T* dq, bool acc_q, T* dk,
              bool acc_k, T* dv, bool acc_v, void* work, size_t work_bytes) {
  if (!dq && !dk && !dv) return;
  const int64_t BH = p.B * p.H;
  zero_unless(dq, BH * p.Tq * p.D, acc_q);  // the tiles below add into the gradients
  zero_unless(dk, BH * p.Tk * p.D, acc_k);
  zero_unless(dv, BH * p.Tk * p.Dv, acc_v);
  if (BH == 0 || p.Tq == 0 || p.Tk == 0) return;
  const size_t fixed = backward_fixed(p), slice = backward_slice(p);
  const int64_t qtiles = ceil_div(p.Tq, kTileQ), ktiles = ceil_div(p.Tk, kTileK);
  const int nth = threads_for(work_bytes, fixed, slice, BH * std::max(qtiles, ktiles));
  char* base = static_cast<char*>(work);
  T* delta = reinterpret_cast<T*>(base);
  char* slices = base + fixed;
  const bool parallel = nth > 1 && 6.0 * BH * p.Tq * p.Tk * (p.D + p.Dv) > 4 * kParallelGrain;

  // delta[b, h, i] = rowsum(dO * O): the softmax backward's correction per row.
#pragma omp parallel for num_threads(nth) if (parallel) schedule(static)
  for (int64_t bh = 0; bh < BH; ++bh) {
    const int64_t b = bh / p.H, h = bh % p.H;
    for (int64_t i = 0; i < p.Tq; ++i) {
      const T* o = out + ((b * p.Tq + i) * p.H + h) * p.Dv;
      const T* g = dout + ((b * p.Tq + i) * p.H + h) * p.Dv;
      T s = 0;
#pragma omp simd reduction(+ : s)
      for (int64_t d = 0; d < p.Dv; ++d) s += o[d] * g[d];
      delta[bh * p.Tq + i] = s;
    }
  }
  const BackwardArgs a{q, k, v, dout, row_max, row_inv_sum, delta, dq, dk, dv};

  if (BH >= 2 * nth) {  // one (b, h) per task: the task is the only writer of its slices
#pragma omp parallel num_threads(nth) if (parallel)
    {
      char* mine = slices + omp_get_thread_num() * slice;
#pragma omp for schedule(dynamic, 1)
      for (int64_t bh = 0; bh < BH; ++bh)
        for (int64_t kt = 0; kt < ktiles; ++kt)
          for (int64_t qt = 0; qt < qtiles; ++qt)
            backward_tile(p, a, bh / p.H, bh % p.H, qt, kt, dq, dk, dv, mine);
    }
    return;
  }
  // Few (b, h): dk/dv by key tiles, then dq by query tiles.
#pragma omp parallel num_threads(nth) if (parallel)
  {
    char* mine = slices + omp_get_thread_num() * slice;
    if (dk || dv) {
#pragma omp for schedule(dynamic, 1)
      for (int64_t t = 0; t < BH * ktiles; ++t)
        for (int64_t qt = 0; qt < qtiles; ++qt)
          backward_tile<T>(p, a, (t / ktiles) / p.H, (t / ktiles) % p.H, qt, t % ktiles, nullptr,
                           dk, dv, mine);
    }
    if (dq) {
#pragma omp for schedule(dynamic, 1)
      for (int64_t t = 0; t < BH * qtiles; ++t)
        for (int64_t kt = 0; kt < ktiles; ++kt)
          backward_tile<T>(p, a, (t / qtiles) / p.H, (t / qtiles) % p.H, t % qtiles, kt, dq,
                           nullptr, nullptr, mine);
    }
  }
}

template <class T>
constexpr AttentionKernels<T> table() {
  return {forward_work<T>, backward_work<T>, forward<T>, backward<T>};
}

const AttentionKernels<float> cpu_attention_f32 = table<float>();
const AttentionKernels<double> cpu_attention_f64 = table<double>();

}  // namespace

EMBER_REGISTER_KERNELS(AttentionKernels<float>, Device::cpu, cpu_attention_f32);
EMBER_REGISTER_KERNELS(AttentionKernels<double>, Device::cpu, cpu_attention_f64);

}  // namespace ember
