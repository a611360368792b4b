#include "kernels/normalization.h"

#include <cmath>

#include "ember/kernel_registry.h"
#include "ember/threads.h"

namespace ember {
namespace {

// First row of row block b out of nb: an even split that depends on the shape only.
inline int64_t block_lo(int64_t outer, int64_t nb, int64_t b) { return outer * b / nb; }

template <class T>
inline void put(T* dst, T v, bool accumulate) { *dst = accumulate ? *dst + v : v; }

// Per-channel sums of f0(i, c) (and, with Two, of f1(i, c)) over every element i of channel c,
// x viewed as (outer, C, inner). Summed in norm_blocks(outer) row blocks into the partials
// p0/p1 (nb x C doubles each), then over the blocks in order into out0/out1, so the result
// does not depend on the thread count. out0/out1 may be p0/p1 themselves (block 0's row).
template <bool Two, class F0, class F1>
void blocked_channel_sums(int64_t outer, int64_t C, int64_t inner, double* p0, double* p1,
                          double* out0, double* out1, F0 f0, F1 f1) {
  const int64_t nb = norm_blocks(outer);
  const bool par = outer * C * inner > kParallelGrain;
  if (inner == 1) {  // channels last: rows of C contiguous channels, vectorised over c
#pragma omp parallel for if (par) schedule(static)
    for (int64_t b = 0; b < nb; ++b) {
      double* a0 = p0 + b * C;
      double* a1 = Two ? p1 + b * C : nullptr;
      for (int64_t c = 0; c < C; ++c) a0[c] = 0;
      if constexpr (Two) for (int64_t c = 0; c < C; ++c) a1[c] = 0;
      for (int64_t r = block_lo(outer, nb, b), e = block_lo(outer, nb, b + 1); r < e; ++r) {
        const int64_t base = r * C;
        for (int64_t c = 0; c < C; ++c) {
          a0[c] += f0(base + c, c);
          if constexpr (Two) a1[c] += f1(base + c, c);
        }
      }
    }
  } else {  // one task per (row block, channel), each summing contiguous runs of `inner`
#pragma omp parallel for if (par) schedule(static)
    for (int64_t it = 0; it < nb * C; ++it) {
      const int64_t b = it / C, c = it % C;
      double s0 = 0, s1 = 0;
      for (int64_t o = block_lo(outer, nb, b), e = block_lo(outer, nb, b + 1); o < e; ++o) {
        const int64_t base = (o * C + c) * inner;
        double t0 = 0, t1 = 0;
        if constexpr (Two) {
#pragma omp simd reduction(+ : t0, t1)
          for (int64_t i = 0; i < inner; ++i) {
            t0 += f0(base + i, c);
            t1 += f1(base + i, c);
          }
        } else {
#pragma omp simd reduction(+ : t0)
          for (int64_t i = 0; i < inner; ++i) t0 += f0(base + i, c);
        }
        s0 += t0;
        s1 += t1;
      }
      p0[it] = s0;
      if constexpr (Two) p1[it] = s1;
    }
  }
  // Block 0 first (a no-op when out aliases it), then the others in order.
  for (int64_t c = 0; c < C; ++c) out0[c] = p0[c];
  if constexpr (Two) for (int64_t c = 0; c < C; ++c) out1[c] = p1[c];
  for (int64_t b = 1; b < nb; ++b) {
    for (int64_t c = 0; c < C; ++c) out0[c] += p0[b * C + c];
    if constexpr (Two) for (int64_t c = 0; c < C; ++c) out1[c] += p1[b * C + c];
  }
}

// out[i] (= or +=) f(i, c) for every element i of x viewed as (outer, C, inner).
template <bool Acc, class T, class F>
void channel_map(T* out, int64_t outer, int64_t C, int64_t inner, F f) {
  const bool par = outer * C * inner > kParallelGrain;
  if (inner == 1) {
#pragma omp parallel for if (par) schedule(static)
    for (int64_t r = 0; r < outer; ++r) {
      const int64_t base = r * C;
      for (int64_t c = 0; c < C; ++c) put(out + base + c, f(base + c, c), Acc);
    }
  } else {
#pragma omp parallel for if (par) schedule(static)
    for (int64_t p = 0; p < outer * C; ++p) {
      const int64_t c = p % C, base = p * inner;
      for (int64_t i = 0; i < inner; ++i) put(out + base + i, f(base + i, c), Acc);
    }
  }
}

// One pass over x: sums of d = x - k[c] and of d * d, shifted by a value k[c] of the channel
// itself (its first element) so that, in double, the cancellation in var = E[d^2] - E[d]^2 stays
// negligible even for data far from 0.
template <class T>
void channel_moments(const T* x, int64_t outer, int64_t C, int64_t inner, T* mean, T* var,
                     double* work) {
  const int64_t nb = norm_blocks(outer);
  const int64_t count = outer * inner;
  if (count == 0) {
    for (int64_t c = 0; c < C; ++c) mean[c] = var[c] = T(0);
    return;
  }
  T* shift = mean;  // holds the shifts until the means replace them
  for (int64_t c = 0; c < C; ++c) shift[c] = x[c * inner];
  double* s1 = work;       // block 0's rows hold the reduced sums
  double* s2 = work + nb * C;
  blocked_channel_sums<true>(
      outer, C, inner, work, work + nb * C, s1, s2,
      [x, shift](int64_t i, int64_t c) { return static_cast<double>(x[i]) - shift[c]; },
      [x, shift](int64_t i, int64_t c) {
        const double d = static_cast<double>(x[i]) - shift[c];
        return d * d;
      });
  const double inv_count = 1.0 / static_cast<double>(count);
  for (int64_t c = 0; c < C; ++c) {
    const double m = s1[c] * inv_count;
    const double v = s2[c] * inv_count - m * m;
    mean[c] = static_cast<T>(shift[c] + m);
    var[c] = static_cast<T>(v > 0 ? v : 0.0);
  }
}

template <class T>
void channel_affine(const T* x, T* y, int64_t outer, int64_t C, int64_t inner, const T* center,
                    const T* scale, const T* shift) {
  channel_map<false>(y, outer, C, inner, [=](int64_t i, int64_t c) {
    return (x[i] - center[c]) * scale[c] + shift[c];
  });
}

template <class T>
void channel_backward(const T* x, const T* gy, int64_t outer, int64_t C, int64_t inner,
                      const T* mean, const T* invstd, const T* gamma, bool batch_stats, T* gx,
                      bool acc_x, T* dgamma, bool acc_gamma, T* dbeta, bool acc_beta,
                      double* work) {
  const int64_t nb = norm_blocks(outer);
  const int64_t count = outer * inner;
  double* p0 = work;
  double* p1 = work + nb * C;
  double* sum_gy = p0;    // sum of gy per channel, after the reduction
  double* sum_gyxc = p1;  // sum of gy * (x - mean) per channel
  T* A = reinterpret_cast<T*>(work + 2 * nb * C);
  T* B = A + C;
  T* D = B + C;
  if ((gx && batch_stats) || dgamma || dbeta) {
    blocked_channel_sums<true>(
        outer, C, inner, p0, p1, sum_gy, sum_gyxc,
        [gy](int64_t i, int64_t) { return static_cast<double>(gy[i]); },
        [gy, x, mean](int64_t i, int64_t c) {
          return static_cast<double>(gy[i]) * (static_cast<double>(x[i]) - mean[c]);
        });
    for (int64_t c = 0; c < C; ++c) {  // y = gamma * xhat + beta, xhat = (x - mean) * invstd
      if (dgamma) put(dgamma + c, static_cast<T>(sum_gyxc[c] * invstd[c]), acc_gamma);
      if (dbeta) put(dbeta + c, static_cast<T>(sum_gy[c]), acc_beta);
    }
  }
  if (!gx) return;
  if (!batch_stats) {  // constant statistics: the affine map's own derivative
    for (int64_t c = 0; c < C; ++c) A[c] = (gamma ? gamma[c] : T(1)) * invstd[c];
    if (acc_x) channel_map<true>(gx, outer, C, inner, [=](int64_t i, int64_t c) { return A[c] * gy[i]; });
    else channel_map<false>(gx, outer, C, inner, [=](int64_t i, int64_t c) { return A[c] * gy[i]; });
    return;
  }
  // gx = a * (gy - mean(gy) - xhat * mean(gy * xhat)), a = gamma * invstd, written as
  // A * gy + B * (x - mean) + D per channel.
  const double inv_count = count > 0 ? 1.0 / static_cast<double>(count) : 0.0;
  for (int64_t c = 0; c < C; ++c) {
    const double is = invstd[c];
    const double a = (gamma ? gamma[c] : 1.0) * is;
    A[c] = static_cast<T>(a);
    B[c] = static_cast<T>(-a * is * is * sum_gyxc[c] * inv_count);
    D[c] = static_cast<T>(-a * sum_gy[c] * inv_count);
  }
  auto f = [=](int64_t i, int64_t c) { return A[c] * gy[i] + B[c] * (x[i] - mean[c]) + D[c]; };
  if (acc_x) channel_map<true>(gx, outer, C, inner, f);
  else channel_map<false>(gx, outer, C, inner, f);
}

// ---------------------------------------------------------------- group normalization
// Item (s, g) of a sample s and group g covers, in each of the `outer` rows of sample s, one
// contiguous run of Cg * inner elements (the group's channels and what follows them).

struct GroupGeom {
  int64_t n, outer, C, inner, groups, Cg, run, count;
  GroupGeom(int64_t n_, int64_t outer_, int64_t C_, int64_t inner_, int64_t groups_)
      : n(n_), outer(outer_), C(C_), inner(inner_), groups(groups_), Cg(C_ / groups_),
        run(C_ / groups_ * inner_), count(outer_ * (C_ / groups_) * inner_) {}
  // Offset of item it's run in row o.
  int64_t at(int64_t it, int64_t o) const {
    const int64_t s = it / groups, g = it % groups;
    return (s * outer + o) * C * inner + g * run;
  }
  bool parallel() const { return n * outer * C * inner > kParallelGrain; }
};

template <class T>
void group_moments(const T* x, int64_t n, int64_t outer, int64_t C, int64_t inner,
                   int64_t groups, double epsilon, T* mean, T* invstd) {
  const GroupGeom G(n, outer, C, inner, groups);
  const double inv_count = G.count > 0 ? 1.0 / static_cast<double>(G.count) : 0.0;
#pragma omp parallel for if (G.parallel()) schedule(static)
  for (int64_t it = 0; it < n * groups; ++it) {
    double sum = 0;
    for (int64_t o = 0; o < outer; ++o) {
      const T* r = x + G.at(it, o);
#pragma omp simd reduction(+ : sum)
      for (int64_t j = 0; j < G.run; ++j) sum += r[j];
    }
    const double m = sum * inv_count;
    double sq = 0;
    for (int64_t o = 0; o < outer; ++o) {
      const T* r = x + G.at(it, o);
#pragma omp simd reduction(+ : sq)
      for (int64_t j = 0; j < G.run; ++j) {
        const double d = r[j] - m;
        sq += d * d;
      }
    }
    mean[it] = static_cast<T>(m);
    invstd[it] = static_cast<T>(1.0 / std::sqrt(sq * inv_count + epsilon));
  }
}

template <class T>
void group_affine(const T* x, T* y, int64_t n, int64_t outer, int64_t C, int64_t inner,
                  int64_t groups, const T* mean, const T* invstd, const T* gamma,
                  const T* beta) {
  const GroupGeom G(n, outer, C, inner, groups);
#pragma omp parallel for if (G.parallel()) schedule(static)
  for (int64_t it = 0; it < n * groups; ++it) {
    const T m = mean[it], is = invstd[it];
    const int64_t c0 = (it % groups) * G.Cg;
    for (int64_t o = 0; o < outer; ++o) {
      const T* xr = x + G.at(it, o);
      T* yr = y + G.at(it, o);
      if (inner == 1) {
        for (int64_t j = 0; j < G.Cg; ++j) {
          const T a = gamma ? is * gamma[c0 + j] : is;
          yr[j] = (xr[j] - m) * a + (beta ? beta[c0 + j] : T(0));
        }
      } else {
        for (int64_t j = 0; j < G.Cg; ++j) {
          const T a = gamma ? is * gamma[c0 + j] : is;
          const T b = beta ? beta[c0 + j] : T(0);
          const T* xc = xr + j * inner;
          T* yc = yr + j * inner;
          for (int64_t i = 0; i < inner; ++i) yc[i] = (xc[i] - m) * a + b;
        }
      }
    }
  }
}

template <bool Acc, class T>
void group_grad_x(const GroupGeom& G, int64_t it, const T* x, const T* gy, T* gx, const T* gamma,
                  T m, T is, T B, T D) {
  const int64_t c0 = (it % G.groups) * G.Cg;
  for (int64_t o = 0; o < G.outer; ++o) {
    const int64_t off = G.at(it, o);
    const T* xr = x + off;
    const T* gr = gy + off;
    T* dr = gx + off;
    if (G.inner == 1) {  // channels last: vectorised over the group's channels
      for (int64_t j = 0; j < G.Cg; ++j) {
        const T A = gamma ? is * gamma[c0 + j] : is;
        put(dr + j, A * gr[j] + B * (xr[j] - m) + D, Acc);
      }
      continue;
    }
    for (int64_t j = 0; j < G.Cg; ++j) {
      const T A = gamma ? is * gamma[c0 + j] : is;
      for (int64_t i = j * G.inner, e = (j + 1) * G.inner; i < e; ++i)
        put(dr + i, A * gr[i] + B * (xr[i] - m) + D, Acc);
    }
  }
}

template <class T>
void group_backward(const T* x, const T* gy, int64_t n, int64_t outer, int64_t C, int64_t inner,
                    int64_t groups, const T* mean, const T* invstd, const T* gamma, T* gx,
                    bool acc_x, T* dgamma, bool acc_gamma, T* dbeta, bool acc_beta,
                    double* work) {
  const GroupGeom G(n, outer, C, inner, groups);
  const double inv_count = G.count > 0 ? 1.0 / static_cast<double>(G.count) : 0.0;
  double* sgy = work;       // [s, c]: sum of gy over sample s, channel c
  double* sgxh = work + n * C;  // [s, c]: sum of gy * xhat
#pragma omp parallel for if (G.parallel()) schedule(static)
  for (int64_t it = 0; it < n * groups; ++it) {
    const int64_t s = it / groups, c0 = (it % groups) * G.Cg;
    const double m = mean[it], is = invstd[it];
    double* a0 = sgy + s * C + c0;
    double* a1 = sgxh + s * C + c0;
    for (int64_t j = 0; j < G.Cg; ++j) a0[j] = a1[j] = 0;
    for (int64_t o = 0; o < outer; ++o) {
      const T* xr = x + G.at(it, o);
      const T* gr = gy + G.at(it, o);
      if (inner == 1) {
        for (int64_t j = 0; j < G.Cg; ++j) {
          a0[j] += gr[j];
          a1[j] += static_cast<double>(gr[j]) * (xr[j] - m);
        }
      } else {
        for (int64_t j = 0; j < G.Cg; ++j) {
          double t0 = 0, t1 = 0;
#pragma omp simd reduction(+ : t0, t1)
          for (int64_t i = j * inner; i < (j + 1) * inner; ++i) {
            t0 += gr[i];
            t1 += static_cast<double>(gr[i]) * (xr[i] - m);
          }
          a0[j] += t0;
          a1[j] += t1;
        }
      }
    }
    double s1 = 0, s2 = 0;  // sums over the group of dxhat = gy * gamma, and of dxhat * xhat
    for (int64_t j = 0; j < G.Cg; ++j) {
      a1[j] *= is;
      const double g = gamma ? gamma[c0 + j] : 1.0;
      s1 += g * a0[j];
      s2 += g * a1[j];
    }
    if (!gx) continue;
    // gx = is * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), per channel
    // A * gy + B * (x - mean) + D with A = is * gamma[c].
    const T B = static_cast<T>(-is * is * s2 * inv_count);
    const T D = static_cast<T>(-is * s1 * inv_count);
    if (acc_x) group_grad_x<true>(G, it, x, gy, gx, gamma, T(m), T(is), B, D);
    else group_grad_x<false>(G, it, x, gy, gx, gamma, T(m), T(is), B, D);
  }
  // Parameter gradients: the per-sample sums added over samples, in order, into sample 0's row.
  for (int64_t s = 1; s < n; ++s) {
    for (int64_t c = 0; c < C; ++c) sgy[c] += sgy[s * C + c];
    for (int64_t c = 0; c < C; ++c) sgxh[c] += sgxh[s * C + c];
  }
  for (int64_t c = 0; c < C; ++c) {
    const bool empty = n == 0;
    if (dgamma) put(dgamma + c, empty ? T(0) : static_cast<T>(sgxh[c]), acc_gamma);
    if (dbeta) put(dbeta + c, empty ? T(0) : static_cast<T>(sgy[c]), acc_beta);
  }
}

template <class T>
constexpr NormalizationKernels<T> make_table() {
  return NormalizationKernels<T>{channel_moments<T>, channel_affine<T>, channel_backward<T>,
                                 group_moments<T>,   group_affine<T>,   group_backward<T>};
}

const NormalizationKernels<float> cpu_f32 = make_table<float>();
const NormalizationKernels<double> cpu_f64 = make_table<double>();

}  // namespace

EMBER_REGISTER_KERNELS(NormalizationKernels<float>, Device::cpu, cpu_f32);
EMBER_REGISTER_KERNELS(NormalizationKernels<double>, Device::cpu, cpu_f64);

}  // namespace ember
