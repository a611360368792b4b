// dropout(x): in training, zero each element with probability `rate` and scale the rest by
// 1/(1-rate); at inference, identity. The mask is never stored: the counter-based generator
// redraws it in backward from the node's seed, so it costs no memory and no thread dependence.
// Attribute "training": -1 follows the plan (fit vs predict), 0/1 force it (Keras `training=`).
//
// Attribute "noise_shape" (Keras Dropout's noise_shape; SpatialDropout1D/2D/3D): one extent per
// input axis, 1 for an axis the mask is broadcast along and -1/0 or the input's extent for an
// axis with its own mask values; absent or empty: no broadcast. The value at an element is drawn
// at the counter of its coordinates in the noise shape (broadcast axes set to 0), so
// SpatialDropout2D's (N, 1, 1, C) draws one value per (sample, channel), still counter-based and
// redrawn in backward. Without broadcast axes the counter is the flat index, the plain path.
#include <cstring>
#include <vector>

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

// The input's axes merged into runs that are all broadcast or all kept (extent-1 axes dropped),
// with each run's stride in the mask counter (0 for a broadcast run).
struct NoiseLayout {
  std::vector<int64_t> dims, counter_stride;
  bool broadcast = false;  // true when some axis is broadcast; false: the plain path serves
};

NoiseLayout noise_layout(const Shape& x, const std::vector<int64_t>& noise) {
  NoiseLayout L;
  if (noise.empty()) return L;
  std::vector<bool> kept;
  for (size_t a = 0; a < x.size(); ++a) {
    if (x[a] == 1) continue;
    const bool k = noise[a] != 1;
    L.broadcast = L.broadcast || !k;
    if (!kept.empty() && kept.back() == k) {
      L.dims.back() *= x[a];
    } else {
      L.dims.push_back(x[a]);
      kept.push_back(k);
    }
  }
  L.counter_stride.assign(L.dims.size(), 0);
  int64_t running = 1;
  for (size_t j = L.dims.size(); j-- > 0;) {
    if (!kept[j]) continue;
    L.counter_stride[j] = running;
    running *= L.dims[j];
  }
  return L;
}

// apply_mask with a broadcast mask: rows of the last merged run share the counter arithmetic;
// a broadcast last run draws one value per row.
template <class T>
void apply_mask_broadcast(const T* src, T* dst, const NoiseLayout& L, uint64_t key, double rate,
                          bool accumulate) {
  const float r = static_cast<float>(rate);
  const T scale = rate < 1.0 ? T(1) / (T(1) - T(rate)) : T(0);
  const int k = static_cast<int>(L.dims.size());
  const int64_t inner = L.dims[k - 1], inner_stride = L.counter_stride[k - 1];
  int64_t rows = 1;
  for (int j = 0; j < k - 1; ++j) rows *= L.dims[j];
#pragma omp parallel for if (rows * inner > kParallelGrain) schedule(static)
  for (int64_t row = 0; row < rows; ++row) {
    uint64_t base = 0;
    for (int64_t j = k - 2, rem = row; j >= 0; --j) {
      base += static_cast<uint64_t>((rem % L.dims[j]) * L.counter_stride[j]);
      rem /= L.dims[j];
    }
    const T* s = src + row * inner;
    T* d = dst + row * inner;
    if (inner_stride == 0) {
      const bool keep = uniform01(key, base) >= r;
      for (int64_t i = 0; i < inner; ++i) {
        T v = keep ? s[i] * scale : T(0);
        if (accumulate) d[i] += v; else d[i] = v;
      }
    } else {
      for (int64_t i = 0; i < inner; ++i) {
        T v = uniform01(key, base + static_cast<uint64_t>(i)) >= r ? s[i] * scale : T(0);
        if (accumulate) d[i] += v; else d[i] = v;
      }
    }
  }
}

// The mask applied to src (x forward, the output gradient backward): the plain flat-index path
// unless noise_shape broadcasts some axis.
template <class T>
void apply_dropout(const OpContext& c, const Tensor& src, T* dst, bool accumulate) {
  const double rate = c.attrs->get_float("rate", 0.0);
  const NoiseLayout L = noise_layout(src.shape(), c.attrs->get_ints("noise_shape", {}));
  if (L.broadcast)
    apply_mask_broadcast<T>(src.data<T>(), dst, L, c.seed, rate, accumulate);
  else
    apply_mask<T>(src.data<T>(), dst, src.size(), c.seed, rate, accumulate);
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
    const std::vector<int64_t> noise = a.get_ints("noise_shape", {});
    const Shape& x = in[0].shape;
    if (!noise.empty()) {
      EMBER_CHECK(noise.size() == x.size(), ValueError, "op 'dropout': expected a noise_shape of ",
                  x.size(), " entries (one per axis of the input ", shape_str(x), "), received ",
                  noise.size());
      for (size_t i = 0; i < x.size(); ++i) {
        const int64_t e = noise[i];
        EMBER_CHECK(e == -1 || e == 0 || e == 1 || dims_match(e, x[i]), ValueError,
                    "op 'dropout': noise_shape entry ", i, " is ", e, "; expected 1 (broadcast), "
                    "-1/0 (as the input) or the input's extent ", x[i], " (input shape ",
                    shape_str(x), ")");
      }
    }
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
      apply_dropout<T>(c, x, c.output->data<T>(), false);
    });
  };
  d.backward = [](GradContext& c) {
    if (!c.wants(0)) return;
    const Tensor& g = *c.grad_out;
    dispatch_float(g.dtype(), "op 'dropout'", [&](auto t) {
      using T = decltype(t);
      if (active(c)) {
        apply_dropout<T>(c, g, c.grad_in[0]->data<T>(), c.accumulate[0]);
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
