// Element loops of the optimizer update rules, one per rule, over a contiguous range of the
// arena (the caller offsets every pointer). Each loop fuses the whole Keras step for an element:
// gradient clipping, decoupled weight decay, then the rule. Arithmetic follows the order of
// Keras's torch backend (keras/src/backend/torch/optimizers/torch_*.py). Options that change
// the loop body are template parameters so that each loop stays branch-free and vectorises
// (the loops that call sqrt vectorise only when compiled with -fno-math-errno).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

namespace ember {
namespace optim {

// What every rule does first: the clipped gradient and the weight-decay factor.
template <class T>
struct Common {
  T scale = 1;       // clipnorm / global_clipnorm factor of this parameter (1: no clipping)
  T clip = INFINITY;  // clipvalue bound (+inf: none); a NaN gradient stays NaN
  T decay = 1;       // w *= 1 - weight_decay * lr, as Keras's torch backend applies it
  T lr = 0;

  T grad(const T* g, int64_t i) const { return std::min(std::max(g[i] * scale, -clip), clip); }
};

// SGD: m = momentum * m - lr * g;  w += m  (nesterov: w += momentum * m - lr * g).
template <class T, bool kMomentum, bool kNesterov>
void sgd(T* w, const T* g, T* m, int64_t n, const Common<T>& c, T momentum) {
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
void adam(T* w, const T* g, T* m, T* v, T* vhat, int64_t n, const Common<T>& c, T beta_1,
          T beta_2, T epsilon, T alpha) {
  const T one_b1 = 1 - beta_1, one_b2 = 1 - beta_2;
  for (int64_t i = 0; i < n; ++i) {
    const T gi = c.grad(g, i);
    const T mi = m[i] * beta_1 + gi * one_b1;
    T vi = v[i] * beta_2 + gi * gi * one_b2;
    m[i] = mi;
    v[i] = vi;
    if constexpr (kAmsgrad) {
      vi = std::max(vhat[i], vi);
      vhat[i] = vi;
    }
    w[i] = w[i] * c.decay - mi * alpha / (std::sqrt(vi) + epsilon);
  }
}

// RMSprop: v = rho v + (1 - rho) g^2;  d = v + eps  (centered: a = rho a + (1 - rho) g,
// d -= a^2);  inc = lr g / sqrt(d);  w -= inc  (momentum: mom = momentum mom + inc, w -= mom).
template <class T, bool kCentered, bool kMomentum>
void rmsprop(T* w, const T* g, T* vel, T* mom, T* avg, int64_t n, const Common<T>& c, T rho,
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
    const T inc = gi * c.lr / std::sqrt(d);
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
void adagrad(T* w, const T* g, T* acc, int64_t n, const Common<T>& c, T epsilon) {
  for (int64_t i = 0; i < n; ++i) {
    const T gi = c.grad(g, i);
    const T ai = acc[i] + gi * gi;
    acc[i] = ai;
    w[i] = w[i] * c.decay - gi * c.lr / std::sqrt(ai + epsilon);
  }
}

}  // namespace optim
}  // namespace ember
