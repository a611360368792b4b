// Pieces shared by the CPU LSTM, GRU and SimpleRNN kernels (recurrent_{lstm,gru,simple}.cpp).
//
// Threading: one `omp parallel` region spans the whole time loop. Each thread owns a slice of
// the units (all gates of those units), multiplies h_prev by its own repacked columns of the
// recurrent kernel with a single-threaded GEMM (ember::gemm does not split inside a parallel
// region), runs the gate math of its slice and meets the others at one barrier per step. A
// per-step fork/join or a shared GEMM would cost more than the 4-MFLOP product itself.
//
// The gate activations of the hot loops are inline (sigmoid and tanh vectorised in float32);
// other activations go through the elementwise table, which is correct but slower.
#pragma once
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cmath>
#include <cstring>

#include "core/blas.h"
#include "ember/rng.h"
#include "ember/threads.h"
#include "kernels/cpu/simd.h"
#include "kernels/recurrent.h"

namespace ember {
namespace rnn {

// ------------------------------------------------------------------ activations

// Cephes-style exp on one vector: |error| ~ 2 ulp, inputs clamped to the finite range.
inline Vec<float> vexp(Vec<float> x) {
  typedef int32_t VI __attribute__((vector_size(EMBER_VEC_BYTES)));
  const Vec<float> hi = Vec<float>{} + 88.3f, lo = Vec<float>{} - 87.3f;
  x = x > hi ? hi : x;
  x = x < lo ? lo : x;
  Vec<float> fx = x * 1.44269504088896341f;
  fx = (fx + 12582912.0f) - 12582912.0f;  // round to nearest (|fx| < 2^22)
  Vec<float> r = x - fx * 0.693359375f + fx * 2.12194440e-4f;
  Vec<float> y = 1.9875691500e-4f * r + 1.3981999507e-3f;
  y = y * r + 8.3334519073e-3f;
  y = y * r + 4.1665795894e-2f;
  y = y * r + 1.6666665459e-1f;
  y = y * r + 5.0000001201e-1f;
  y = y * r * r + r + 1.0f;
  VI e = (__builtin_convertvector(fx, VI) + 127) << 23;
  return y * (Vec<float>)e;  // a vector cast reinterprets the bits
}

inline Vec<float> vsigmoid(Vec<float> x) { return 1.0f / (1.0f + vexp(-x)); }

inline Vec<float> vtanh(Vec<float> x) {
  const Vec<float> zero = {};
  Vec<float> ax = x < zero ? -x : x;
  Vec<float> t = vexp(-2.0f * ax);
  Vec<float> big = (1.0f - t) / (1.0f + t);
  // Near 0, 1 - t cancels: Cephes' odd polynomial keeps the relative error small there.
  Vec<float> z = ax * ax;
  Vec<float> p = -5.70498872745e-3f * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  Vec<float> small = p * z * ax + ax;
  Vec<float> r = ax < 0.625f ? small : big;
  return x < zero ? -r : r;
}

// x[0, n) = f(x) with a vector function, the tail through one padded vector.
template <class F>
inline void map_vec(float* x, int64_t n, F f) {
  constexpr int L = kLanes<float>;
  int64_t i = 0;
  for (; i + L <= n; i += L) {
    Vec<float> v;
    std::memcpy(&v, x + i, sizeof v);
    v = f(v);
    std::memcpy(x + i, &v, sizeof v);
  }
  if (i < n) {
    Vec<float> v = {};
    std::memcpy(&v, x + i, sizeof(float) * (n - i));
    v = f(v);
    std::memcpy(x + i, &v, sizeof(float) * (n - i));
  }
}

// x = act(x) in place over n elements (no OpenMP: called inside the parallel region).
template <class T>
inline void act_fwd(Act a, T* x, int64_t n, const ElementwiseFns<T>& ew) {
  switch (a) {
    case Act::linear: return;
    case Act::relu:
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] < T(0) ? T(0) : x[i];
      return;
    case Act::sigmoid:
      if constexpr (sizeof(T) == 4) {
        map_vec(x, n, vsigmoid);
      } else {
        for (int64_t i = 0; i < n; ++i) x[i] = T(1) / (T(1) + std::exp(-x[i]));
      }
      return;
    case Act::tanh:
      if constexpr (sizeof(T) == 4) {
        map_vec(x, n, vtanh);
      } else {
        for (int64_t i = 0; i < n; ++i) x[i] = std::tanh(x[i]);
      }
      return;
    default:
      ew.act_forward(a, x, x, n, act_default_alpha(a));
  }
}

// g *= act'(.) in place, from y (= act(x)) or from x (the kept pre-activation) as the
// activation's derivative needs (act_backward_reads_x).
template <class T>
inline void act_bwd(Act a, const T* x, const T* y, T* g, int64_t n, const ElementwiseFns<T>& ew) {
  switch (a) {
    case Act::linear: return;
    case Act::relu:
      for (int64_t i = 0; i < n; ++i) g[i] = y[i] > T(0) ? g[i] : T(0);
      return;
    case Act::sigmoid:
      for (int64_t i = 0; i < n; ++i) g[i] *= y[i] * (T(1) - y[i]);
      return;
    case Act::tanh:
      for (int64_t i = 0; i < n; ++i) g[i] *= T(1) - y[i] * y[i];
      return;
    default:
      ew.act_backward(a, x, y, g, g, n, act_default_alpha(a), false);
  }
}

// ------------------------------------------------------------------ threads and slices

// Threads for the time loop: one unless the per-step product is worth a barrier, and no
// slice narrower than 16 units.
inline int threads_for(const RnnConfig& c) {
  if (c.B * c.U * c.NU() < 4096) return 1;
  const int64_t by_units = std::max<int64_t>(1, c.U / 16);
  return static_cast<int>(std::min<int64_t>(omp_get_max_threads(), by_units));
}

// This thread's units [u0, u0 + n): contiguous, multiples of 8 (vector width) but the last.
struct Slice {
  int64_t u0 = 0, n = 0;
};
inline Slice my_slice(int64_t U) {
  const int p = omp_get_thread_num(), nt = omp_get_num_threads();
  const int64_t chunk = ((U + 7) / 8 + nt - 1) / nt * 8;
  Slice s;
  s.u0 = std::min<int64_t>(U, p * chunk);
  s.n = std::min<int64_t>(U, s.u0 + chunk) - s.u0;
  return s;
}

// Leaving the team when the machine is oversubscribed. A barrier per step assumes every thread
// runs: when another process takes a core, each step waits for a descheduled thread (measured:
// an LSTM forward 60x slower). Thread 0 times the steps; after a few steps much slower than
// the fastest one it asks the team to stop, effective two barriers later so that every thread
// reads the same decision at the same step. Thread 0 then runs the remaining steps alone over
// all units (the unsliced recurrent kernel is the one-slice repacking) and the others leave.
//
// Tests set force_split_at to make every team split at that iteration, so the solo path runs
// deterministically; it is never set otherwise.
inline std::atomic<int64_t> force_split_at{INT64_MAX};

class TeamGuard {
 public:
  // Call right after each per-step barrier with the loop iteration k (0, 1, ...). Returns true
  // from that step on when the team has split: thread 0 goes on alone, the others must leave.
  bool split(int64_t k) {
    if (k >= split_at_.load(std::memory_order_relaxed)) return true;
    if (omp_get_thread_num() != 0) return false;
    const double now = omp_get_wtime();
    if (k > 0) {
      const double dt = now - last_;
      fastest_ = std::min(fastest_, dt);
      if (dt > 10 * fastest_ && dt > 2e-4 && ++strikes_ >= 3)
        split_at_.store(k + 2, std::memory_order_relaxed);
    }
    last_ = now;
    return false;
  }

 private:
  std::atomic<int64_t> split_at_{force_split_at.load()};
  double last_ = 0, fastest_ = 1e30;
  int strikes_ = 0;
};

// The columns of gates [0, G) of this slice, (U, G*n) row-major: rp[k, g*n + j] = R[k, g*U + u0 + j].
template <class T>
inline void repack(const T* R, int64_t U, int G, const Slice& s, T* rp) {
  const int64_t NU = G * U;
  for (int64_t k = 0; k < U; ++k)
    for (int g = 0; g < G; ++g)
      std::memcpy(rp + (k * G + g) * s.n, R + k * NU + g * U + s.u0, sizeof(T) * s.n);
}

// The step index t processed at position s of the loop (go_backwards runs t = T-1 .. 0).
inline int64_t step_t(const RnnConfig& c, int64_t s) { return c.go_backwards ? c.T - 1 - s : s; }

template <class T>
inline bool step_valid(const T* mask, int64_t T_, int64_t b, int64_t t) {
  return mask == nullptr || mask[b * T_ + t] != T(0);
}

// ------------------------------------------------------------------ products

// P[:, g*n:(g+1)*n] = h_g @ rp[:, g*n:(g+1)*n] for g in [g0, g1): h_g = h (row stride ldh)
// without dropout, else hm + g*B*U, the dropped h of gate g.
template <class T>
inline void rec_product(int64_t B, int64_t U, int G, const Slice& s, int g0, int g1, const T* h,
                        int64_t ldh, const T* hm, const T* rp, T* P) {
  if (s.n == 0) return;
  const int64_t ld = G * s.n;
  if (!hm) {
    gemm<T>(false, false, B, (g1 - g0) * s.n, U, T(1), h, ldh, rp + g0 * s.n, ld, T(0),
            P + g0 * s.n, ld);
    return;
  }
  for (int g = g0; g < g1; ++g)
    gemm<T>(false, false, B, s.n, U, T(1), hm + g * B * U, U, rp + g * s.n, ld, T(0),
            P + g * s.n, ld);
}

// dh[:, slice] += sum over gates g in [g0, g1) of (dg_g @ R[slice, g cols]^T) (* mask_g): the
// gradient reaching h_prev through the recurrent product. dg points at gate g0's columns of
// the step's rows (row stride lddg); tmp holds B*n elements.
template <class T>
inline void rec_grad_product(int64_t B, int64_t U, int G, const Slice& s, int g0, int g1,
                             const T* dg, int64_t lddg, const T* R, const T* mask, T* dh,
                             T* tmp) {
  if (s.n == 0) return;
  const int64_t NU = G * U;
  if (!mask) {
    gemm<T>(false, true, B, s.n, (g1 - g0) * U, T(1), dg, lddg, R + s.u0 * NU + g0 * U, NU,
            T(1), dh + s.u0, U);
    return;
  }
  for (int g = g0; g < g1; ++g) {
    gemm<T>(false, true, B, s.n, U, T(1), dg + (g - g0) * U, lddg, R + s.u0 * NU + g * U, NU,
            T(0), tmp, s.n);
    for (int64_t b = 0; b < B; ++b) {
      const T* m = mask + (g * B + b) * U + s.u0;
      T* d = dh + b * U + s.u0;
      const T* p = tmp + b * s.n;
      for (int64_t j = 0; j < s.n; ++j) d[j] += p[j] * m[j];
    }
  }
}

// ------------------------------------------------------------------ outside the time loop

// dst (B*T, NU) = x @ kernel + bias_in (bias_in may be null): the input side of every step.
template <class T>
inline void project_inputs(const RnnConfig& c, const RnnTensors<T>& io, const T* bias_in,
                           T* dst) {
  const int64_t rows = c.B * c.T, NU = c.NU();
  if (bias_in) {
#pragma omp parallel for if (rows * NU > kParallelGrain) schedule(static)
    for (int64_t r = 0; r < rows; ++r) std::memcpy(dst + r * NU, bias_in, sizeof(T) * NU);
  }
  gemm<T>(false, false, rows, NU, c.D, T(1), io.x, c.D, io.kernel, NU, bias_in ? T(1) : T(0),
          dst, NU);
}

// The recurrent dropout masks (G, B, U), scaled by 1/(1-rate): one per gate as Keras'
// implementation 1 draws them, the same at every step, redrawn identically in backward.
template <class T>
inline void draw_masks(const RnnConfig& c, T* m) {
  const int64_t n = c.G() * c.B * c.U;
  const float r = static_cast<float>(c.dropout);
  const T scale = T(1) / (T(1) - T(c.dropout));
  for (int64_t i = 0; i < n; ++i) m[i] = uniform01(c.seed, static_cast<uint64_t>(i)) >= r ? scale : T(0);
}

// dst[c] (=, or += when acc) sum over rows of g[r, c] (row stride ld).
template <class T>
inline void col_sums(const T* g, int64_t rows, int64_t cols, int64_t ld, T* dst, bool acc) {
  const int64_t blocks = (cols + 63) / 64;
#pragma omp parallel for if (rows * cols > kParallelGrain) schedule(static)
  for (int64_t k = 0; k < blocks; ++k) {
    const int64_t c0 = k * 64, c1 = std::min(cols, c0 + 64);
    T sum[64] = {};
    for (int64_t r = 0; r < rows; ++r) {
      const T* row = g + r * ld;
      for (int64_t c = c0; c < c1; ++c) sum[c - c0] += row[c];
    }
    for (int64_t c = c0; c < c1; ++c) dst[c] = acc ? dst[c] + sum[c - c0] : sum[c - c0];
  }
}

// dkernel and dx from the input-side gate gradients dg (B*T, NU): one GEMM each.
template <class T>
inline void input_grads(const RnnConfig& c, const RnnTensors<T>& io, const RnnGrads<T>& gr,
                        const T* dg) {
  const int64_t rows = c.B * c.T, NU = c.NU();
  if (gr.dkernel)
    gemm<T>(true, false, c.D, NU, rows, T(1), io.x, c.D, dg, NU, gr.acc_kernel ? T(1) : T(0),
            gr.dkernel, NU);
  if (gr.dx)
    gemm<T>(false, true, rows, c.D, NU, T(1), dg, NU, io.kernel, NU, gr.acc_x ? T(1) : T(0),
            gr.dx, c.D);
}

// drkernel[:, gate cols g0..g1) from H (B*T, U, the GEMM inputs of those gates) and their
// gradients dg (row stride lddg). With dropout (mask, per gate) H is Hp dropped by each gate's
// mask, built in hm (B*T*U) one gate at a time.
template <class T>
inline void rec_weight_grad(const RnnConfig& c, const T* H, const T* dg, int64_t lddg, int g0,
                            int g1, const T* mask, T* hm, T* drk, bool acc) {
  const int64_t rows = c.B * c.T, U = c.U, NU = c.NU();
  if (!mask) {
    gemm<T>(true, false, U, (g1 - g0) * U, rows, T(1), H, U, dg, lddg, acc ? T(1) : T(0),
            drk + g0 * U, NU);
    return;
  }
  for (int g = g0; g < g1; ++g) {
#pragma omp parallel for if (rows * U > kParallelGrain) schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const T* m = mask + (g * c.B + r / c.T) * U;
      for (int64_t u = 0; u < U; ++u) hm[r * U + u] = H[r * U + u] * m[u];
    }
    gemm<T>(true, false, U, U, rows, T(1), hm, U, dg + (g - g0) * U, lddg, acc ? T(1) : T(0),
            drk + g * U, NU);
  }
}

// ------------------------------------------------------------------ outputs and states

// Output of step s for row b of this slice: h where the step is valid, else the previous output
// (or 0 with zero_output_for_mask), remembered in oprev; written to out when it is emitted.
template <class T>
inline void emit(const RnnConfig& c, const RnnTensors<T>& io, int64_t s, int64_t b, bool ok,
                 const T* h, T* oprev, const Slice& sl) {
  T* o = nullptr;
  if (c.return_sequences) o = io.out + (b * c.S() + s) * c.U + sl.u0;
  else if (s == c.T - 1) o = io.out + b * c.S() * c.U + sl.u0;
  if (ok) {
    if (c.has_mask) std::memcpy(oprev, h, sizeof(T) * sl.n);
    if (o) std::memcpy(o, h, sizeof(T) * sl.n);
  } else {
    if (c.zero_output_for_mask) std::fill(oprev, oprev + sl.n, T(0));
    if (o) std::memcpy(o, oprev, sizeof(T) * sl.n);
  }
}

// Gradient reaching the output of step s (row b, this slice) into go: the output's own
// gradient plus what a later masked step passed back through "previous output".
template <class T>
inline void output_grad(const RnnConfig& c, const RnnGrads<T>& gr, int64_t s, int64_t b,
                        const T* dout, T* go, const Slice& sl) {
  const T* g = nullptr;
  if (c.return_sequences) g = gr.gout + (b * c.S() + s) * c.U + sl.u0;
  else if (s == c.T - 1) g = gr.gout + b * c.S() * c.U + sl.u0;
  for (int64_t j = 0; j < sl.n; ++j) go[j] = (g ? g[j] : T(0)) + dout[j];
}

// Backward of the masking for row b at step s: where the step is valid the output gradient
// joins dh and nothing passes further back to the previous output; where it is masked, it all
// passes to the previous output (unless that output was replaced by zeros).
template <class T>
inline void masked_output_backward(const RnnConfig& c, bool ok, const T* go, T* dh, T* dout,
                                   const Slice& sl) {
  if (ok) {
    for (int64_t j = 0; j < sl.n; ++j) dh[j] += go[j];
    std::fill(dout, dout + sl.n, T(0));
  } else if (c.zero_output_for_mask) {
    std::fill(dout, dout + sl.n, T(0));
  } else {
    std::memcpy(dout, go, sizeof(T) * sl.n);
  }
}

// Final states (n_states, B, U) copied to rows [S_out, S) of the output when return_state.
template <class T>
inline void write_states(const RnnConfig& c, const RnnTensors<T>& io, const T* states) {
  if (!c.return_state) return;
  const int n = rnn_states(c.cell);
  for (int k = 0; k < n; ++k)
    for (int64_t b = 0; b < c.B; ++b)
      std::memcpy(io.out + (b * c.S() + c.S_out() + k) * c.U, states + (k * c.B + b) * c.U,
                  sizeof(T) * c.U);
}

// Gradient of the final states (rows [S_out, S) of gout) into d (B, U) per state, this slice.
template <class T>
inline void state_grad_init(const RnnConfig& c, const RnnGrads<T>& gr, int k, T* d,
                            const Slice& sl) {
  for (int64_t b = 0; b < c.B; ++b) {
    T* row = d + b * c.U + sl.u0;
    if (c.return_state) {
      std::memcpy(row, gr.gout + (b * c.S() + c.S_out() + k) * c.U + sl.u0, sizeof(T) * sl.n);
    } else {
      std::fill(row, row + sl.n, T(0));
    }
  }
}

template <class T>
inline void store_state_grad(const RnnConfig& c, const T* d, T* dst, bool acc) {
  if (!dst) return;
  const int64_t n = c.B * c.U;
  for (int64_t i = 0; i < n; ++i) dst[i] = acc ? dst[i] + d[i] : d[i];
}

}  // namespace rnn

// The three cells' kernels (recurrent_{lstm,gru,simple}.cpp), registered in recurrent.cpp.
template <class T> void lstm_forward(const RnnConfig&, const RnnTensors<T>&);
template <class T> void lstm_backward(const RnnConfig&, const RnnTensors<T>&, const RnnGrads<T>&);
template <class T> void gru_forward(const RnnConfig&, const RnnTensors<T>&);
template <class T> void gru_backward(const RnnConfig&, const RnnTensors<T>&, const RnnGrads<T>&);
template <class T> void simple_rnn_forward(const RnnConfig&, const RnnTensors<T>&);
template <class T> void simple_rnn_backward(const RnnConfig&, const RnnTensors<T>&,
                                            const RnnGrads<T>&);

}  // namespace ember
