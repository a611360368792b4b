// batch_norm: Keras 3 BatchNormalization's computation.
//
// Inputs, in this order: x, moving_mean, moving_variance, then gamma when attr "scale" (default
// true) and beta when attr "center" (default true); gamma/beta/moving_* are 1-D of the channel
// count, in x's dtype. Attrs: "axis" (int, default -1: the channel axis; statistics run over
// every other axis), "momentum" (0.99), "epsilon" (1e-3), "training" (-1 follows the plan, fit
// vs predict; 0/1 force it, as Keras's `training=`), "scale", "center".
//
// Training: y = gamma * (x - mean) / sqrt(var + epsilon) + beta with the batch mean and the
// biased batch variance (Keras's ops.moments), and the moving statistics are updated IN PLACE
// in the moving_mean / moving_variance input tensors (views of non-trainable parameters in the
// model's arena): moving = moving * momentum + batch * (1 - momentum), with the same biased
// variance, as keras/src/layers/normalization/batch_normalization.py. Every training forward
// updates them, so a forward that runs twice (two calls of the layer, or a plan run twice on one
// batch) updates them twice, exactly as Keras assigns them on each training call. An empty batch
// leaves them unchanged. Inference: the moving statistics normalise, and nothing is written.
//
// The mean and inverse std used are kept in `aux` (2 * C values in x's dtype) for backward,
// which is fused (one pass for the per-channel sums, one for dx). moving_mean/moving_variance
// never receive gradients (nondiff_inputs); in inference the statistics are constants and the
// backward is that of the affine map.
#include <cmath>
#include <string>
#include <vector>

#include "ember/op.h"
#include "kernels/normalization.h"

namespace ember {
namespace {

const char* const kWho = "op 'batch_norm'";

struct Layout {
  int64_t outer = 1, channels = 1, inner = 1;
};

Layout layout_of(const Shape& s, int axis) {
  Layout g;
  for (int a = 0; a < axis; ++a) g.outer *= s[a];
  g.channels = s[axis];
  for (size_t a = axis + 1; a < s.size(); ++a) g.inner *= s[a];
  return g;
}

bool has_scale(const Attrs& a) { return a.get_bool("scale", true); }
bool has_center(const Attrs& a) { return a.get_bool("center", true); }

bool training_mode(const OpContext& c) {
  const int64_t forced = c.attrs->get_int("training", -1);
  return forced < 0 ? c.training : forced != 0;
}

int channel_axis(const Shape& x, const Attrs& a) {
  return normalize_axis(a.get_int("axis", -1), static_cast<int>(x.size()), kWho);
}

TensorMeta infer(const std::vector<TensorMeta>& in, const Attrs& a) {
  const bool scale = has_scale(a), center = has_center(a);
  std::vector<std::string> names = {"x", "moving_mean", "moving_variance"};
  if (scale) names.push_back("gamma");
  if (center) names.push_back("beta");
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  EMBER_CHECK(in.size() == names.size(), ValueError, kWho, ": expected ", names.size(),
              " inputs (", list, ") for scale=", scale ? "true" : "false",
              ", center=", center ? "true" : "false", ", received ", in.size());
  const TensorMeta& x = in[0];
  EMBER_CHECK(is_floating(x.dtype), TypeError, kWho,
              ": expected x to be float32 or float64, received ", dtype_name(x.dtype));
  EMBER_CHECK(!x.shape.empty(), ValueError, kWho,
              ": expected x of rank 1 or more, received a scalar");
  const int axis = channel_axis(x.shape, a);
  const int64_t C = x.shape[axis];
  for (size_t i = 1; i < in.size(); ++i) {
    EMBER_CHECK(in[i].dtype == x.dtype, TypeError, kWho, ": expected ", names[i], " to be ",
                dtype_name(x.dtype), " like x, received ", dtype_name(in[i].dtype));
    EMBER_CHECK(in[i].shape.size() == 1 && dims_match(in[i].shape[0], C), ValueError, kWho,
                ": expected ", names[i], " of shape ", shape_str({C}), " (the extent of axis ",
                a.get_int("axis", -1), " of x ", shape_str(x.shape), "), received ",
                shape_str(in[i].shape));
  }
  const double eps = a.get_float("epsilon", 1e-3);
  EMBER_CHECK(eps >= 0.0, ValueError, kWho, ": expected epsilon >= 0, received ", eps);
  const int64_t training = a.get_int("training", -1);
  EMBER_CHECK(training >= -1 && training <= 1, ValueError, kWho,
              ": expected training -1 (follow the plan), 0 or 1, received ", training);
  return x;
}

template <class T>
void forward_t(OpContext& c) {
  const Tensor& x = c.in(0);
  const Layout g = layout_of(x.shape(), channel_axis(x.shape(), *c.attrs));
  const int64_t C = g.channels;
  const bool scale_on = has_scale(*c.attrs), center_on = has_center(*c.attrs);
  const T* gamma = scale_on ? c.in(3).data<T>() : nullptr;
  const T* beta = center_on ? c.in(3 + scale_on).data<T>() : nullptr;
  T* moving_mean = c.in(1).data<T>();
  T* moving_var = c.in(2).data<T>();
  const double eps = c.attrs->get_float("epsilon", 1e-3);

  T* mean = reinterpret_cast<T*>(c.aux->raw());
  T* invstd = mean + C;
  double* work = reinterpret_cast<double*>(c.scratch->raw());
  T* scale = reinterpret_cast<T*>(work + bn_moments_work(g.outer, C));
  T* shift = scale + C;
  const auto& k = kernels<NormalizationKernels<T>>(Device::cpu);

  if (training_mode(c)) {
    T* var = scale;  // the batch variance passes through `scale` before it is overwritten
    k.channel_moments(x.data<T>(), g.outer, C, g.inner, mean, var, work);
    if (g.outer * g.inner > 0) {
      const double m = c.attrs->get_float("momentum", 0.99);
      for (int64_t i = 0; i < C; ++i) {
        moving_mean[i] = static_cast<T>(moving_mean[i] * m + mean[i] * (1.0 - m));
        moving_var[i] = static_cast<T>(moving_var[i] * m + var[i] * (1.0 - m));
      }
    }
    for (int64_t i = 0; i < C; ++i) invstd[i] = static_cast<T>(1.0 / std::sqrt(var[i] + eps));
  } else {
    for (int64_t i = 0; i < C; ++i) {
      mean[i] = moving_mean[i];
      invstd[i] = static_cast<T>(1.0 / std::sqrt(moving_var[i] + eps));
    }
  }
  for (int64_t i = 0; i < C; ++i) {
    scale[i] = gamma ? gamma[i] * invstd[i] : invstd[i];
    shift[i] = beta ? beta[i] : T(0);
  }
  k.channel_affine(x.data<T>(), c.output->data<T>(), g.outer, C, g.inner, mean, scale, shift);
}

template <class T>
void backward_t(GradContext& c) {
  const bool scale_on = has_scale(*c.attrs), center_on = has_center(*c.attrs);
  const int gi = 3, bi = 3 + scale_on;
  T* gx = c.wants(0) ? c.grad_in[0]->data<T>() : nullptr;
  T* dgamma = scale_on && c.wants(gi) ? c.grad_in[gi]->data<T>() : nullptr;
  T* dbeta = center_on && c.wants(bi) ? c.grad_in[bi]->data<T>() : nullptr;
  if (!gx && !dgamma && !dbeta) return;
  const Tensor& x = c.in(0);
  const Layout g = layout_of(x.shape(), channel_axis(x.shape(), *c.attrs));
  const T* mean = reinterpret_cast<const T*>(c.aux->raw());
  kernels<NormalizationKernels<T>>(Device::cpu)
      .channel_backward(x.data<T>(), c.grad_out->data<T>(), g.outer, g.channels, g.inner, mean,
                        mean + g.channels, scale_on ? c.in(gi).data<T>() : nullptr,
                        training_mode(c), gx, gx && c.accumulate[0], dgamma,
                        dgamma && c.accumulate[gi], dbeta, dbeta && c.accumulate[bi],
                        reinterpret_cast<double*>(c.scratch->raw()));
}

Layout concrete_layout(const std::vector<TensorMeta>& in, const Attrs& a) {
  return layout_of(in[0].shape, channel_axis(in[0].shape, a));
}

OpDef make_batch_norm() {
  OpDef d;
  d.name = "batch_norm";
  d.min_inputs = 3;
  d.max_inputs = 5;
  d.infer = infer;
  d.nondiff_inputs = {1, 2};
  d.aux_bytes = [](const std::vector<TensorMeta>& in, const Attrs& a, bool) {
    return static_cast<size_t>(2 * concrete_layout(in, a).channels) * dtype_size(in[0].dtype);
  };
  d.forward_scratch_bytes = [](const std::vector<TensorMeta>& in, const Attrs& a) {
    const Layout g = concrete_layout(in, a);
    return static_cast<size_t>(bn_moments_work(g.outer, g.channels)) * sizeof(double) +
           static_cast<size_t>(2 * g.channels) * dtype_size(in[0].dtype);
  };
  d.scratch_bytes = [](const std::vector<TensorMeta>& in, const Attrs& a,
                       const std::vector<bool>&) {
    const Layout g = concrete_layout(in, a);
    return static_cast<size_t>(bn_backward_work(g.outer, g.channels)) * sizeof(double);
  };
  d.forward = [](OpContext& c) {
    dispatch_float(c.in(0).dtype(), kWho, [&](auto t) { forward_t<decltype(t)>(c); });
  };
  d.backward = [](GradContext& c) {
    dispatch_float(c.in(0).dtype(), kWho, [&](auto t) { backward_t<decltype(t)>(c); });
  };
  return d;
}

}  // namespace

EMBER_REGISTER_OP(make_batch_norm);

}  // namespace ember
