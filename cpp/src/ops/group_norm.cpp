// group_norm: Keras 3 GroupNormalization's computation.
//
// Inputs, in this order: x, then gamma when attr "scale" (default true) and beta when attr
// "center" (default true), both 1-D of the channel count in x's dtype. Attrs: "groups" (default
// 32 as Keras; -1 means one group per channel), "axis" (-1: the channel axis; not the batch axis
// 0), "epsilon" (1e-3), "scale", "center".
//
// The channels split into `groups` contiguous groups; each sample is normalised over its
// spatial axes and the channels of one group (biased variance, as Keras's ops.moments), then
// y = gamma[c] * xhat + beta[c] per channel. The per-(sample, group) mean and inverse std are
// kept in `aux` (2 * N * groups values in x's dtype) for the fused backward. There is no
// training/inference difference: the statistics always come from the sample itself.
#include <string>
#include <vector>

#include "ember/op.h"
#include "kernels/normalization.h"

namespace ember {
namespace {

const char* const kWho = "op 'group_norm'";

struct Layout {
  int64_t n = 1, outer = 1, channels = 1, inner = 1, groups = 1;
};

bool has_scale(const Attrs& a) { return a.get_bool("scale", true); }
bool has_center(const Attrs& a) { return a.get_bool("center", true); }

int channel_axis(const Shape& x, const Attrs& a) {
  return normalize_axis(a.get_int("axis", -1), static_cast<int>(x.size()), kWho);
}

// The group count for `channels` channels: "groups", with -1 meaning one per channel.
int64_t group_count(const Attrs& a, int64_t channels) {
  const int64_t g = a.get_int("groups", 32);
  return g == -1 ? channels : g;
}

Layout layout_of(const Shape& s, const Attrs& a) {
  const int axis = channel_axis(s, a);
  Layout g;
  g.n = s[0];
  for (int i = 1; i < axis; ++i) g.outer *= s[i];
  g.channels = s[axis];
  for (size_t i = axis + 1; i < s.size(); ++i) g.inner *= s[i];
  g.groups = group_count(a, g.channels);
  return g;
}

TensorMeta infer(const std::vector<TensorMeta>& in, const Attrs& a) {
  const bool scale = has_scale(a), center = has_center(a);
  std::vector<std::string> names = {"x"};
  if (scale) names.push_back("gamma");
  if (center) names.push_back("beta");
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  EMBER_CHECK(in.size() == names.size(), ValueError, kWho, ": expected ", names.size(),
              " input", names.size() == 1 ? "" : "s", " (", list, ") for scale=",
              scale ? "true" : "false", ", center=", center ? "true" : "false", ", received ",
              in.size());
  const TensorMeta& x = in[0];
  EMBER_CHECK(is_floating(x.dtype), TypeError, kWho,
              ": expected x to be float32 or float64, received ", dtype_name(x.dtype));
  EMBER_CHECK(x.shape.size() >= 2, ValueError, kWho,
              ": expected x of rank 2 or more (batch, ..., channels), received shape ",
              shape_str(x.shape));
  const int axis = channel_axis(x.shape, a);
  EMBER_CHECK(axis != 0, ValueError, kWho, ": axis ", a.get_int("axis", -1),
              " is the batch axis; expected the channel axis (1 to ", x.shape.size() - 1,
              ", or negative)");
  const int64_t C = x.shape[axis];
  const int64_t groups = a.get_int("groups", 32);
  EMBER_CHECK(groups > 0 || groups == -1, ValueError, kWho,
              ": expected groups > 0 (or -1 for one group per channel), received ", groups);
  if (C != kUnknown && groups != -1) {
    EMBER_CHECK(groups <= C, ValueError, kWho, ": number of groups (", groups,
                ") cannot be more than the number of channels (", C, ") of x ",
                shape_str(x.shape));
    EMBER_CHECK(C % groups == 0, ValueError, kWho, ": number of groups (", groups,
                ") must divide the number of channels (", C, ") of x ", shape_str(x.shape));
  }
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
  return x;
}

template <class T>
void forward_t(OpContext& c) {
  const Tensor& x = c.in(0);
  const Layout g = layout_of(x.shape(), *c.attrs);
  const bool scale_on = has_scale(*c.attrs), center_on = has_center(*c.attrs);
  T* mean = reinterpret_cast<T*>(c.aux->raw());
  T* invstd = mean + g.n * g.groups;
  const auto& k = kernels<NormalizationKernels<T>>(Device::cpu);
  k.group_moments(x.data<T>(), g.n, g.outer, g.channels, g.inner, g.groups,
                  c.attrs->get_float("epsilon", 1e-3), mean, invstd);
  k.group_affine(x.data<T>(), c.output->data<T>(), g.n, g.outer, g.channels, g.inner, g.groups,
                 mean, invstd, scale_on ? c.in(1).data<T>() : nullptr,
                 center_on ? c.in(1 + scale_on).data<T>() : nullptr);
}

template <class T>
void backward_t(GradContext& c) {
  const bool scale_on = has_scale(*c.attrs), center_on = has_center(*c.attrs);
  const int gi = 1, bi = 1 + scale_on;
  T* gx = c.wants(0) ? c.grad_in[0]->data<T>() : nullptr;
  T* dgamma = scale_on && c.wants(gi) ? c.grad_in[gi]->data<T>() : nullptr;
  T* dbeta = center_on && c.wants(bi) ? c.grad_in[bi]->data<T>() : nullptr;
  if (!gx && !dgamma && !dbeta) return;
  const Tensor& x = c.in(0);
  const Layout g = layout_of(x.shape(), *c.attrs);
  const T* mean = reinterpret_cast<const T*>(c.aux->raw());
  kernels<NormalizationKernels<T>>(Device::cpu)
      .group_backward(x.data<T>(), c.grad_out->data<T>(), g.n, g.outer, g.channels, g.inner,
                      g.groups, mean, mean + g.n * g.groups,
                      scale_on ? c.in(gi).data<T>() : nullptr, gx, gx && c.accumulate[0],
                      dgamma, dgamma && c.accumulate[gi], dbeta, dbeta && c.accumulate[bi],
                      reinterpret_cast<double*>(c.scratch->raw()));
}

OpDef make_group_norm() {
  OpDef d;
  d.name = "group_norm";
  d.min_inputs = 1;
  d.max_inputs = 3;
  d.infer = infer;
  d.aux_bytes = [](const std::vector<TensorMeta>& in, const Attrs& a, bool) {
    const Layout g = layout_of(in[0].shape, a);
    return static_cast<size_t>(2 * g.n * g.groups) * dtype_size(in[0].dtype);
  };
  d.scratch_bytes = [](const std::vector<TensorMeta>& in, const Attrs& a,
                       const std::vector<bool>&) {
    const Layout g = layout_of(in[0].shape, a);
    return static_cast<size_t>(gn_backward_work(g.n, g.channels)) * sizeof(double);
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

EMBER_REGISTER_OP(make_group_norm);

}  // namespace ember
