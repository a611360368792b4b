// Regularisation noise, active in training only (Keras's GaussianNoise, GaussianDropout and
// AlphaDropout), drawn from the counter-based generator at each element's flat index, so the
// noise is never stored: backward redraws it from the node's seed.
//
//   gaussian_noise(x; stddev):   y = x + stddev * n                       dy/dx = 1
//   gaussian_dropout(x; rate):   y = x * (1 + sqrt(rate / (1 - rate)) n)   dy/dx = that factor
//   alpha_dropout(x; rate):      kept with probability 1 - rate; y = a (x k + alpha' (1 - k)) + b
//                                (SELU's alpha' = -alpha * scale; a, b keep mean and variance)
//
// n is standard normal (Box-Muller from two uniforms). Attribute "training": -1 follows the
// plan (fit vs predict), 0/1 force it (Keras `training=`).
#include <cmath>
#include <string>

#include "ember/op.h"
#include "ember/rng.h"
#include "ember/threads.h"

namespace ember {
namespace {

enum class Noise { additive, multiplicative, alpha };

constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
constexpr double kSeluScale = 1.0507009873554804934193349852946;

// A standard normal value at (key, i): Box-Muller on two 24-bit uniforms, u1 kept off 0.
inline double normal_at(uint64_t key, uint64_t i) {
  const double u1 = uniform01(key, 2 * i) + 0.5 / 16777216.0;
  const double u2 = uniform01(key, 2 * i + 1);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

bool active(const OpContext& c, double amount) {
  const int64_t forced = c.attrs->get_int("training", -1);
  const bool training = forced < 0 ? c.training : forced != 0;
  return training && amount > 0.0;
}

struct AlphaCoefficients {
  double alpha_p, a, b;
};

AlphaCoefficients alpha_coefficients(double rate) {
  AlphaCoefficients k;
  k.alpha_p = -kSeluAlpha * kSeluScale;
  k.a = std::pow((1.0 - rate) * (1.0 + rate * k.alpha_p * k.alpha_p), -0.5);
  k.b = -k.a * k.alpha_p * rate;
  return k;
}

// Forward (grad = false) writes y; backward (grad = true) writes gx (+)= gy * dy/dx.
template <class T>
void run(Noise kind, double amount, const T* src, T* dst, int64_t n, uint64_t key, bool grad,
         bool accumulate) {
  const double factor = kind == Noise::multiplicative ? std::sqrt(amount / (1.0 - amount)) : 0;
  const AlphaCoefficients k = alpha_coefficients(kind == Noise::alpha ? amount : 0.0);
  const float rate = static_cast<float>(amount);
#pragma omp parallel for if (n > kParallelGrain / 4) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t c = static_cast<uint64_t>(i);
    T v;
    switch (kind) {
      case Noise::additive:
        v = grad ? src[i] : static_cast<T>(src[i] + amount * normal_at(key, c));
        break;
      case Noise::multiplicative:
        v = static_cast<T>(src[i] * (1.0 + factor * normal_at(key, c)));
        break;
      default: {
        const bool kept = uniform01(key, c) >= rate;
        if (grad) v = kept ? static_cast<T>(k.a * src[i]) : T(0);
        else v = static_cast<T>(k.a * (kept ? src[i] : k.alpha_p) + k.b);
      }
    }
    if (accumulate) dst[i] += v; else dst[i] = v;
  }
}

OpDef make_noise_op(const std::string& name, Noise kind, const char* amount_attr) {
  const std::string who = "op '" + name + "'";
  OpDef d;
  d.name = name;
  d.infer = [who, amount_attr, kind](const std::vector<TensorMeta>& in, const Attrs& a) {
    EMBER_CHECK(is_floating(in[0].dtype), TypeError, who,
                ": expected a float32 or float64 input, received ", dtype_name(in[0].dtype));
    const double amount = a.get_float(amount_attr, 0.0);
    const bool rate = kind != Noise::additive;
    EMBER_CHECK(amount >= 0.0 && (!rate || amount < 1.0), ValueError, who, ": expected ",
                amount_attr, rate ? " in [0, 1)" : " >= 0", ", received ", amount);
    return in[0];
  };
  d.forward = [who, kind, amount_attr](OpContext& c) {
    const Tensor& x = c.in(0);
    const double amount = c.attrs->get_float(amount_attr, 0.0);
    const bool on = active(c, amount);
    dispatch_float(x.dtype(), who.c_str(), [&](auto t) {
      using T = decltype(t);
      if (on) {
        run<T>(kind, amount, x.data<T>(), c.output->data<T>(), x.size(), c.seed, false, false);
      } else {
        std::copy(x.data<T>(), x.data<T>() + x.size(), c.output->data<T>());
      }
    });
  };
  d.backward = [who, kind, amount_attr](GradContext& c) {
    if (!c.wants(0)) return;
    const double amount = c.attrs->get_float(amount_attr, 0.0);
    const bool on = active(c, amount);
    dispatch_float(c.grad_out->dtype(), who.c_str(), [&](auto t) {
      using T = decltype(t);
      const T* gy = c.grad_out->data<T>();
      T* gx = c.grad_in[0]->data<T>();
      const int64_t n = c.grad_out->size();
      if (on && kind != Noise::additive) {
        run<T>(kind, amount, gy, gx, n, c.seed, true, c.accumulate[0]);
      } else {
        for (int64_t i = 0; i < n; ++i) gx[i] = c.accumulate[0] ? gx[i] + gy[i] : gy[i];
      }
    });
  };
  return d;
}

OpDef make_gaussian_noise() {
  return make_noise_op("gaussian_noise", Noise::additive, "stddev");
}
OpDef make_gaussian_dropout() {
  return make_noise_op("gaussian_dropout", Noise::multiplicative, "rate");
}
OpDef make_alpha_dropout() { return make_noise_op("alpha_dropout", Noise::alpha, "rate"); }

EMBER_REGISTER_OP(make_gaussian_noise);
EMBER_REGISTER_OP(make_gaussian_dropout);
EMBER_REGISTER_OP(make_alpha_dropout);

}  // namespace
}  // namespace ember
