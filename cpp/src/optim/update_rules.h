// Element loops of the optimizer update rules, one per rule, over a contiguous range of the
// arena (the caller offsets every pointer). Each loop fuses the whole Keras step for an element:
// gradient clipping, decoupled weight decay, then the rule. Arithmetic follows the order of
// Keras's torch backend (keras/src/backend/torch/optimizers/torch_*.py). Options that change
// the loop body are template parameters so that each loop stays branch-free and vectorises.
#pragma once
#include <cmath>
#include <cstdint>

// sqrt may set errno, and that keeps GCC from vectorising the loops below (about 3.5x slower
// for adam). Nothing reads errno here, so these functions are compiled without it.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("no-math-errno")
#define EMBER_OPTIM_POP_OPTIONS
// Kept out of line: inlined into a caller they would be compiled with the caller's options.
#define EMBER_RULE __attribute__((noinline))
#else
#define EMBER_RULE
#endif

namespace ember {
namespace optim {

// Helpers defined inside the region above, so they inline into the loops (GCC does not inline
// functions compiled with different options, such as std::sqrt, std::min).
inline float root(float x) { return __builtin_sqrtf(x); }
inline double root(double x) { return __builtin_sqrt(x); }
template <class T> inline T larger(T a, T b) { return a < b ? b : a; }
template <class T> inline T smaller(T a, T b) { return b < a ? b : a; }

// What every rule does first: the clipped gradient and the weight-decay factor.
template <class T>
struct Common {
  T scale = 1;       // clipnorm / global_clipnorm factor of this parameter (1: no clipping)
  T clip = INFINITY;  // clipvalue bound (+inf: none); a NaN gradient stays NaN
  T decay = 1;       // w *= 1 - weight_decay * lr, as Keras's torch backend applies it
  T lr = 0;

  T grad(const T* g, int64_t i) const { return smaller(larger(g[i] * scale, -clip), clip); }
};

// SGD: m = momentum * m - lr * g;  w += m  (nesterov: w += momentum * m - lr * g).
template <class T, bool kMomentum, bool kNesterov>
EMBER_RULE void sgd(T* w, const T* g, T* m, int64_t n, const Common<T>& c, T momentum) {
  for (int64_t i = 0; i < n; ++i) {
    const T gi = c.grad(g, i);
    T wi = w[i] * c.decay;
    if constexpr (kMomentum) {
      const T mi = m[i] * momentum - gi * c.lr;
      m[i] = mi;
      if constexpr (kNesterov) wi += -gi * c.lr + mi * momentum;
      else wi += mi;
    } else {
      wi -= gi * c.lr;
    }
    w[i] = wi;
  }
}

// Adam: m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  (amsgrad: vh = max(vh, v), v = vh);
// w -= alpha m / (sqrt(v) + eps) with alpha = lr sqrt(1 - b2^t) / (1 - b1^t).
template <class T, bool kAmsgrad>
EMBER_RULE void adam(T* w, const T* g, T* m, T* v, T* vhat, int64_t n, const Common<T>& c, T beta_1,
          T beta_2, T epsilon, T alpha) {
  const T one_b1 = 1 - beta_1, one_b2 = 1 - beta_2;
  for (int64_t i = 0; i < n; ++i) {
    const T gi = c.grad(g, i);
    const T mi = m[i] * beta_1 + gi * one_b1;
    T vi = v[i] * beta_2 + gi * gi * one_b2;
    m[i] = mi;
    v[i] = vi;
    if constexpr (kAmsgrad) {
      vi = larger(vhat[i], vi);
      vhat[i] = vi;
    }
    w[i] = w[i] * c.decay - mi * alpha / (root(vi) + epsilon);
  }
}

// RMSprop: v = rho v + (1 - rho) g^2;  d = v + eps  (centered: a = rho a + (1 - rho) g,
// d -= a^2);  inc = lr g / sqrt(d);  w -= inc  (momentum: mom = momentum mom + inc, w -= mom).
template <class T, bool kCentered, bool kMomentum>
EMBER_RULE void rmsprop(T* w, const T* g, T* vel, T* mom, T* avg, int64_t n, const Common<T>& c, T rho,
             T momentum, T epsilon) {
  const T one_rho = 1 - rho;
  for (int64_t i = 0; i < n; ++i) {
    const T gi = c.grad(g, i);
    const T vi = vel[i] * rho + gi * gi * one_rho;
    vel[i] = vi;
    T d = vi + epsilon;
    if constexpr (kCentered) {
      const T ai = avg[i] * rho + gi * one_rho;
      avg[i] = ai;
      d -= ai * ai;
    }
    const T inc = gi * c.lr / root(d);
    T wi = w[i] * c.decay;
    if constexpr (kMomentum) {
      const T mi = mom[i] * momentum + inc;
      mom[i] = mi;
      wi -= mi;
    } else {
      wi -= inc;
    }
    w[i] = wi;
  }
}

// Adagrad: acc += g^2;  w -= lr g / sqrt(acc + eps).
template <class T>
EMBER_RULE void adagrad(T* w, const T* g, T* acc, int64_t n, const Common<T>& c, T epsilon) {
  for (int64_t i = 0; i < n; ++i) {
    const T gi = c.grad(g, i);
    const T ai = acc[i] + gi * gi;
    acc[i] = ai;
    w[i] = w[i] * c.decay - gi * c.lr / root(ai + epsilon);
  }
}

}  // namespace optim
}  // namespace ember

#ifdef EMBER_OPTIM_POP_OPTIONS
#pragma GCC pop_options
#undef EMBER_OPTIM_POP_OPTIONS
#endif
#undef EMBER_RULE
