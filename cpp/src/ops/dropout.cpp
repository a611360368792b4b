// dropout(x): in training, zero each element with probability `rate` and scale the rest by
// 1/(1-rate); at inference, identity. The mask is never stored: the counter-based generator
// redraws it in backward from the node's seed, so it costs no memory and no thread dependence.
// Attribute "training": -1 follows the plan (fit vs predict), 0/1 force it (Keras `training=`).
#include <cstring>

#include "ember/op.h"
#include "ember/rng.h"
#include "ember/threads.h"

namespace ember {
namespace {

bool active(const OpContext& c) {
  int64_t forced = c.attrs->get_int("training", -1);
  bool training = forced < 0 ? c.training : forced != 0;
  return training && c.attrs->get_float("rate", 0.0) > 0.0;
}

template <class T>
void apply_mask(const T* src, T* dst, int64_t n, uint64_t key, double rate, bool accumulate) {
  const float r = static_cast<float>(rate);
  const T scale = rate < 1.0 ? T(1) / (T(1) - T(rate)) : T(0);  // rate 1 drops everything
#pragma omp parallel for if (n > kParallelGrain) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    T v = uniform01(key, static_cast<uint64_t>(i)) >= r ? src[i] * scale : T(0);
    if (accumulate) dst[i] += v; else dst[i] = v;
  }
}

OpDef make_dropout() {
  OpDef d;
  d.name = "dropout";
  d.infer = [](const std::vector<TensorMeta>& in, const Attrs& a) {
    double rate = a.get_float("rate", 0.0);
    EMBER_CHECK(rate >= 0.0 && rate <= 1.0, ValueError,
                "op 'dropout': expected a rate in [0, 1], received ", rate);
    EMBER_CHECK(is_floating(in[0].dtype), TypeError, "op 'dropout': expected a float input, received ",
                dtype_name(in[0].dtype));
    return in[0];
  };
  d.forward = [](OpContext& c) {
    const Tensor& x = c.in(0);
    if (!active(c)) {
      std::memcpy(c.output->raw(), x.raw(), x.nbytes());
      return;
    }
    dispatch_float(x.dtype(), "op 'dropout'", [&](auto t) {
      using T = decltype(t);
      apply_mask<T>(x.data<T>(), c.output->data<T>(), x.size(), c.seed,
                    c.attrs->get_float("rate", 0.0), false);
    });
  };
  d.backward = [](GradContext& c) {
    if (!c.wants(0)) return;
    const Tensor& g = *c.grad_out;
    dispatch_float(g.dtype(), "op 'dropout'", [&](auto t) {
      using T = decltype(t);
      if (active(c)) {
        apply_mask<T>(g.data<T>(), c.grad_in[0]->data<T>(), g.size(), c.seed,
                      c.attrs->get_float("rate", 0.0), c.accumulate[0]);
      } else {
        T* dst = c.grad_in[0]->data<T>();
        const T* src = g.data<T>();
        for (int64_t i = 0; i < g.size(); ++i) dst[i] = c.accumulate[0] ? dst[i] + src[i] : src[i];
      }
    });
  };
  return d;
}

EMBER_REGISTER_OP(make_dropout);

}  // namespace
}  // namespace ember
