// CPU kernels of the loss and metric family (see kernels/losses.h). Rows are independent, so
// loops run in parallel over rows (or elements) when the work is large; sums are taken over
// fixed blocks and added in order, so a loss value does not depend on the thread count.
#include "kernels/losses.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "ember/kernel_registry.h"
#include "ember/threads.h"

namespace ember {
namespace {

constexpr double kEpsilon = 1e-7;  // keras.backend.epsilon(), the probability clip bound

// Sums f(begin, end) over fixed blocks of `items`; blocks do not depend on the thread count.
template <class F>
double blocked_sum(int64_t items, int64_t cost_per_item, F&& f) {
  if (items <= 0) return 0.0;
  const int64_t cost = std::max<int64_t>(1, cost_per_item);
  const int64_t block = std::max<int64_t>(1, 4096 / cost);
  const int64_t nblocks = (items + block - 1) / block;
  std::vector<double> part(static_cast<size_t>(nblocks), 0.0);
#pragma omp parallel for schedule(static) if (items * cost > kParallelGrain)
  for (int64_t b = 0; b < nblocks; ++b)
    part[b] = f(b * block, std::min(items, (b + 1) * block));
  double s = 0.0;
  for (double v : part) s += v;
  return s;
}

template <class T>
inline void put(T* dst, T v, bool accumulate) {
  if (accumulate) *dst += v; else *dst = v;
}

template <class T>
inline T row_max(const T* x, int64_t c) {
  T m = x[0];
  for (int64_t j = 1; j < c; ++j) m = x[j] > m ? x[j] : m;
  return m;
}

// log(sum(exp(x))) of one row, shifted by its maximum so no exp overflows.
template <class T>
inline double row_logsumexp(const T* x, int64_t c) {
  const T m = row_max(x, c);
  double s = 0.0;
  for (int64_t j = 0; j < c; ++j) s += std::exp(static_cast<double>(x[j] - m));
  return static_cast<double>(m) + std::log(s);
}

template <class T>
inline double row_sum(const T* x, int64_t c) {
  double s = 0.0;
  for (int64_t j = 0; j < c; ++j) s += x[j];
  return s;
}

// First index of the maximum, as numpy/torch argmax.
template <class T>
inline int64_t row_argmax(const T* x, int64_t c) {
  int64_t best = 0;
  for (int64_t j = 1; j < c; ++j)
    if (x[j] > x[best]) best = j;
  return best;
}

// The probability clip of Keras, in the tensor's own type.
template <class T> struct Clip {
  static constexpr T lo = static_cast<T>(kEpsilon);
  static constexpr T hi = static_cast<T>(1.0 - kEpsilon);
  static T apply(T q) { return q < lo ? lo : (q > hi ? hi : q); }
  // torch.clamp passes the gradient where lo <= q <= hi (bounds included).
  static bool passes(T q) { return q >= lo && q <= hi; }
};

// ---------------------------------------------------------------- sparse categorical CE

template <class T>
double sparse_ce(const T* pred, const int64_t* labels, int64_t rows, int64_t classes,
                 bool from_logits) {
  return blocked_sum(rows, classes, [=](int64_t r0, int64_t r1) {
    double s = 0.0;
    for (int64_t r = r0; r < r1; ++r) {
      const T* x = pred + r * classes;
      const int64_t y = labels[r];
      if (from_logits) {
        s += row_logsumexp(x, classes) - static_cast<double>(x[y]);
      } else {
        const T q = static_cast<T>(x[y] / row_sum(x, classes));
        s -= std::log(static_cast<double>(Clip<T>::apply(q)));
      }
    }
    return s;
  });
}

template <class T>
void sparse_ce_grad(const T* pred, const int64_t* labels, int64_t rows, int64_t classes,
                    bool from_logits, T scale, T* dpred, bool accumulate) {
#pragma omp parallel for schedule(static) if (rows * classes > kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    const T* x = pred + r * classes;
    T* d = dpred + r * classes;
    const int64_t y = labels[r];
    if (from_logits) {
      // softmax - onehot
      const T lse = static_cast<T>(row_logsumexp(x, classes));
      for (int64_t j = 0; j < classes; ++j) put(d + j, scale * std::exp(x[j] - lse), accumulate);
      d[y] -= scale;
    } else {
      // loss = -log(clip(q_y)), q = p / s: dL/dp_k = a / s * (delta_ky - q_y), a = -1/c_y.
      const T s = static_cast<T>(row_sum(x, classes));
      const T q = x[y] / s;
      const T a = Clip<T>::passes(q) ? T(-1) / Clip<T>::apply(q) : T(0);
      const T base = -scale * a * q / s;
      for (int64_t j = 0; j < classes; ++j) put(d + j, base, accumulate);
      d[y] += scale * a / s;
    }
  }
}

// ---------------------------------------------------------------- categorical CE

template <class T>
struct Smooth {  // t * (1 - ls) + offset, in the tensor's type as Keras computes it
  T keep, offset;
  T operator()(T t) const { return t * keep + offset; }
};

template <class T>
double categorical_ce(const T* target, const T* pred, int64_t rows, int64_t classes,
                      bool from_logits, double ls) {
  const Smooth<T> sm{static_cast<T>(1.0 - ls), static_cast<T>(ls / static_cast<double>(classes))};
  return blocked_sum(rows, classes, [=](int64_t r0, int64_t r1) {
    double s = 0.0;
    for (int64_t r = r0; r < r1; ++r) {
      const T* x = pred + r * classes;
      const T* t = target + r * classes;
      if (from_logits) {
        const double lse = row_logsumexp(x, classes);
        for (int64_t j = 0; j < classes; ++j) s += sm(t[j]) * (lse - static_cast<double>(x[j]));
      } else {
        const double sum = row_sum(x, classes);
        for (int64_t j = 0; j < classes; ++j) {
          const T c = Clip<T>::apply(static_cast<T>(x[j] / sum));
          s -= sm(t[j]) * std::log(static_cast<double>(c));
        }
      }
    }
    return s;
  });
}

template <class T>
void categorical_ce_grad(const T* target, const T* pred, int64_t rows, int64_t classes,
                         bool from_logits, double ls, T scale, T* dpred, bool accumulate) {
  const Smooth<T> sm{static_cast<T>(1.0 - ls), static_cast<T>(ls / static_cast<double>(classes))};
#pragma omp parallel for schedule(static) if (rows * classes > kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    const T* x = pred + r * classes;
    const T* t = target + r * classes;
    T* d = dpred + r * classes;
    if (from_logits) {
      // softmax * sum(t) - t
      const T lse = static_cast<T>(row_logsumexp(x, classes));
      T tsum = 0;
      for (int64_t j = 0; j < classes; ++j) tsum += sm(t[j]);
      for (int64_t j = 0; j < classes; ++j)
        put(d + j, scale * (std::exp(x[j] - lse) * tsum - sm(t[j])), accumulate);
    } else {
      // loss = -sum t_j log clip(q_j), q = p / s: dL/dp_k = (a_k - sum_j a_j q_j) / s,
      // a_j = -t_j / c_j where the clip passes the gradient, 0 elsewhere.
      const T s = static_cast<T>(row_sum(x, classes));
      auto a_of = [&](int64_t j, T q) {
        return Clip<T>::passes(q) ? -sm(t[j]) / Clip<T>::apply(q) : T(0);
      };
      double dot = 0.0;
      for (int64_t j = 0; j < classes; ++j) {
        const T q = x[j] / s;
        dot += static_cast<double>(a_of(j, q)) * q;
      }
      const T dot_t = static_cast<T>(dot);
      for (int64_t j = 0; j < classes; ++j) {
        const T q = x[j] / s;
        put(d + j, scale * (a_of(j, q) - dot_t) / s, accumulate);
      }
    }
  }
}

// ---------------------------------------------------------------- binary CE

template <class T>
inline T sigmoid(T x) {
  if (x >= 0) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}

template <class T>
double binary_ce(const T* target, const T* pred, int64_t n, bool from_logits, double ls) {
  const Smooth<T> sm{static_cast<T>(1.0 - ls), static_cast<T>(0.5 * ls)};
  return blocked_sum(n, 1, [=](int64_t i0, int64_t i1) {
    double s = 0.0;
    for (int64_t i = i0; i < i1; ++i) {
      const double t = sm(target[i]);
      const double x = pred[i];
      if (from_logits) {
        // max(x, 0) - x t + log(1 + exp(-|x|)): never overflows
        s += std::max(x, 0.0) - x * t + std::log1p(std::exp(-std::fabs(x)));
      } else {
        const double c = Clip<T>::apply(pred[i]);
        s -= t * std::log(c) + (1.0 - t) * std::log1p(-c);
      }
    }
    return s;
  });
}

template <class T>
void binary_ce_grad(const T* target, const T* pred, int64_t n, bool from_logits, double ls,
                    T scale, T* dpred, bool accumulate) {
  const Smooth<T> sm{static_cast<T>(1.0 - ls), static_cast<T>(0.5 * ls)};
#pragma omp parallel for schedule(static) if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) {
    const T t = sm(target[i]);
    T g;
    if (from_logits) {
      g = sigmoid(pred[i]) - t;
    } else {
      const T p = pred[i];
      const T c = Clip<T>::apply(p);
      // torch's binary_cross_entropy backward: (c - t) / max(c (1 - c), 1e-12)
      g = Clip<T>::passes(p) ? (c - t) / std::max(c * (T(1) - c), static_cast<T>(1e-12)) : T(0);
    }
    put(dpred + i, scale * g, accumulate);
  }
}

// ---------------------------------------------------------------- squared / absolute error

template <class T>
double squared_error(const T* target, const T* pred, int64_t n) {
  return blocked_sum(n, 1, [=](int64_t i0, int64_t i1) {
    double s = 0.0;
    for (int64_t i = i0; i < i1; ++i) {
      const double e = static_cast<double>(target[i]) - pred[i];
      s += e * e;
    }
    return s;
  });
}

template <class T>
void squared_error_grad(const T* target, const T* pred, int64_t n, T scale, T* dpred,
                        bool accumulate) {
  const T two_scale = 2 * scale;
#pragma omp parallel for schedule(static) if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) put(dpred + i, two_scale * (pred[i] - target[i]), accumulate);
}

template <class T>
double absolute_error(const T* target, const T* pred, int64_t n) {
  return blocked_sum(n, 1, [=](int64_t i0, int64_t i1) {
    double s = 0.0;
    for (int64_t i = i0; i < i1; ++i) s += std::fabs(static_cast<double>(target[i]) - pred[i]);
    return s;
  });
}

template <class T>
void absolute_error_grad(const T* target, const T* pred, int64_t n, T scale, T* dpred,
                         bool accumulate) {
#pragma omp parallel for schedule(static) if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) {
    const T e = pred[i] - target[i];
    const T sign = e > 0 ? T(1) : (e < 0 ? T(-1) : T(0));  // |.|' at 0 is 0, as torch
    put(dpred + i, scale * sign, accumulate);
  }
}

// ---------------------------------------------------------------- metrics

template <class T>
int64_t sparse_matches(const T* pred, const int64_t* labels, int64_t rows, int64_t classes) {
  if (classes <= 0) return 0;
  return static_cast<int64_t>(blocked_sum(rows, classes, [=](int64_t r0, int64_t r1) {
    double s = 0;
    for (int64_t r = r0; r < r1; ++r) s += row_argmax(pred + r * classes, classes) == labels[r];
    return s;
  }));
}

template <class T>
int64_t argmax_matches(const T* target, const T* pred, int64_t rows, int64_t classes) {
  if (classes <= 0) return 0;
  return static_cast<int64_t>(blocked_sum(rows, classes, [=](int64_t r0, int64_t r1) {
    double s = 0;
    for (int64_t r = r0; r < r1; ++r)
      s += row_argmax(target + r * classes, classes) == row_argmax(pred + r * classes, classes);
    return s;
  }));
}

template <class T>
int64_t threshold_matches(const T* target, const T* pred, int64_t n, T threshold) {
  return static_cast<int64_t>(blocked_sum(n, 1, [=](int64_t i0, int64_t i1) {
    double s = 0;
    for (int64_t i = i0; i < i1; ++i) s += (pred[i] > threshold ? T(1) : T(0)) == target[i];
    return s;
  }));
}

template <class T>
LossFns<T> cpu_fns() {
  LossFns<T> f;
  f.sparse_ce = sparse_ce<T>;
  f.sparse_ce_grad = sparse_ce_grad<T>;
  f.categorical_ce = categorical_ce<T>;
  f.categorical_ce_grad = categorical_ce_grad<T>;
  f.binary_ce = binary_ce<T>;
  f.binary_ce_grad = binary_ce_grad<T>;
  f.squared_error = squared_error<T>;
  f.squared_error_grad = squared_error_grad<T>;
  f.absolute_error = absolute_error<T>;
  f.absolute_error_grad = absolute_error_grad<T>;
  f.sparse_matches = sparse_matches<T>;
  f.argmax_matches = argmax_matches<T>;
  f.threshold_matches = threshold_matches<T>;
  return f;
}

const LossKernels cpu_loss_kernels{cpu_fns<float>(), cpu_fns<double>()};

}  // namespace

EMBER_REGISTER_KERNELS(LossKernels, Device::cpu, cpu_loss_kernels);

}  // namespace ember
