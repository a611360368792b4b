// Elementwise unary ops: activations (relu, sigmoid, tanh, gelu, silu, elu, leaky_relu,
// softplus), plain math (negative, exp, log, sqrt, square, abs) and clip. Each is a thin
// wrapper over the elementwise kernel table, where the math lives once (and where fusing ops
// find the same activations).
//
// Conventions (as torch): relu'(0) = 0, abs'(0) = 0, leaky_relu'(0) = negative_slope,
// elu'(0) = alpha. clip passes the gradient where min <= x <= max, boundaries included
// (torch.clamp and tf.clip_by_value do the same).
#include <limits>
#include <string>

#include "ember/op.h"
#include "kernels/elementwise.h"

namespace ember {
namespace {

std::string who(const std::string& name) { return "op '" + name + "'"; }

// Output = input's shape and dtype; only floating dtypes.
TensorMeta same_as_input(const std::string& name, const std::vector<TensorMeta>& in) {
  EMBER_CHECK(in.size() == 1, ValueError, who(name), ": expected 1 input, received ", in.size());
  EMBER_CHECK(is_floating(in[0].dtype), TypeError, who(name),
              ": expected a float32 or float64 tensor, received ", dtype_name(in[0].dtype));
  return in[0];
}

// Reads the attributes once at build time so a wrongly typed one fails there, naming the op.
template <class F>
void checked_attrs(const std::string& name, F read) {
  try {
    read();
  } catch (const TypeError& e) {
    throw TypeError(who(name) + ": " + e.what());
  }
}

// The activation and its parameter an op node asks for, from its attributes.
using ActOf = std::pair<Act, double> (*)(const Attrs&);

OpDef make_act_op(const std::string& name, ActOf act_of) {
  OpDef d;
  d.name = name;
  d.infer = [name, act_of](const std::vector<TensorMeta>& in, const Attrs& attrs) {
    checked_attrs(name, [&] { act_of(attrs); });
    return same_as_input(name, in);
  };
  d.forward = [name, act_of](OpContext& ctx) {
    auto [act, alpha] = act_of(*ctx.attrs);
    const Tensor& x = ctx.in(0);
    dispatch_float(x.dtype(), who(name).c_str(), [&](auto t) {
      using T = decltype(t);
      elementwise_fns<T>().act_forward(act, x.data<T>(), ctx.output->data<T>(), x.size(), alpha);
    });
  };
  d.backward = [name, act_of](GradContext& ctx) {
    if (!ctx.wants(0)) return;
    auto [act, alpha] = act_of(*ctx.attrs);
    const Tensor& x = ctx.in(0);
    dispatch_float(x.dtype(), who(name).c_str(), [&](auto t) {
      using T = decltype(t);
      elementwise_fns<T>().act_backward(act, x.data<T>(), ctx.output->data<T>(),
                                        ctx.grad_out->data<T>(), ctx.grad_in[0]->data<T>(),
                                        x.size(), alpha, ctx.accumulate[0]);
    });
  };
  return d;
}

OpDef make_unary_op(const std::string& name, Unary op) {
  OpDef d;
  d.name = name;
  d.infer = [name](const std::vector<TensorMeta>& in, const Attrs&) {
    return same_as_input(name, in);
  };
  d.forward = [name, op](OpContext& ctx) {
    const Tensor& x = ctx.in(0);
    dispatch_float(x.dtype(), who(name).c_str(), [&](auto t) {
      using T = decltype(t);
      elementwise_fns<T>().unary_forward(op, x.data<T>(), ctx.output->data<T>(), x.size());
    });
  };
  d.backward = [name, op](GradContext& ctx) {
    if (!ctx.wants(0)) return;
    const Tensor& x = ctx.in(0);
    dispatch_float(x.dtype(), who(name).c_str(), [&](auto t) {
      using T = decltype(t);
      elementwise_fns<T>().unary_backward(op, x.data<T>(), ctx.output->data<T>(),
                                          ctx.grad_out->data<T>(), ctx.grad_in[0]->data<T>(),
                                          x.size(), ctx.accumulate[0]);
    });
  };
  return d;
}

// --- activations ------------------------------------------------------------------------------

OpDef make_relu() {
  return make_act_op("relu", [](const Attrs&) { return std::pair{Act::relu, 0.0}; });
}
OpDef make_sigmoid() {
  return make_act_op("sigmoid", [](const Attrs&) { return std::pair{Act::sigmoid, 0.0}; });
}
OpDef make_tanh() {
  return make_act_op("tanh", [](const Attrs&) { return std::pair{Act::tanh, 0.0}; });
}
OpDef make_gelu() {
  // approximate=false (default): the exact erf form; true: Keras' tanh approximation.
  return make_act_op("gelu", [](const Attrs& a) {
    return std::pair{a.get_bool("approximate", false) ? Act::gelu_tanh : Act::gelu, 0.0};
  });
}
OpDef make_silu() {
  return make_act_op("silu", [](const Attrs&) { return std::pair{Act::silu, 0.0}; });
}
OpDef make_elu() {
  return make_act_op("elu", [](const Attrs& a) {
    return std::pair{Act::elu, a.get_float("alpha", act_default_alpha(Act::elu))};
  });
}
OpDef make_leaky_relu() {
  return make_act_op("leaky_relu", [](const Attrs& a) {
    return std::pair{Act::leaky_relu,
                     a.get_float("negative_slope", act_default_alpha(Act::leaky_relu))};
  });
}
OpDef make_softplus() {
  return make_act_op("softplus", [](const Attrs&) { return std::pair{Act::softplus, 0.0}; });
}

EMBER_REGISTER_OP(make_relu);
EMBER_REGISTER_OP(make_sigmoid);
EMBER_REGISTER_OP(make_tanh);
EMBER_REGISTER_OP(make_gelu);
EMBER_REGISTER_OP(make_silu);
EMBER_REGISTER_OP(make_elu);
EMBER_REGISTER_OP(make_leaky_relu);
EMBER_REGISTER_OP(make_softplus);

// --- plain math -------------------------------------------------------------------------------

OpDef make_negative() { return make_unary_op("negative", Unary::negative); }
OpDef make_exp() { return make_unary_op("exp", Unary::exp); }
OpDef make_log() { return make_unary_op("log", Unary::log); }
OpDef make_sqrt() { return make_unary_op("sqrt", Unary::sqrt); }
OpDef make_square() { return make_unary_op("square", Unary::square); }
OpDef make_abs() { return make_unary_op("abs", Unary::abs); }

EMBER_REGISTER_OP(make_negative);
EMBER_REGISTER_OP(make_exp);
EMBER_REGISTER_OP(make_log);
EMBER_REGISTER_OP(make_sqrt);
EMBER_REGISTER_OP(make_square);
EMBER_REGISTER_OP(make_abs);

// --- clip -------------------------------------------------------------------------------------

// Bounds from attrs "min" and "max"; a missing one leaves that side open. min > max is allowed
// and gives max everywhere, as keras.ops.clip / np.clip.
std::pair<double, double> clip_bounds(const Attrs& a) {
  constexpr double inf = std::numeric_limits<double>::infinity();
  double lo = a.get_float("min", -inf), hi = a.get_float("max", inf);
  EMBER_CHECK(lo == lo && hi == hi, ValueError,
              "op 'clip': expected numeric bounds, received min=", lo, " and max=", hi);
  return {lo, hi};
}

OpDef make_clip() {
  OpDef d;
  d.name = "clip";
  d.infer = [](const std::vector<TensorMeta>& in, const Attrs& attrs) {
    checked_attrs("clip", [&] { clip_bounds(attrs); });
    return same_as_input("clip", in);
  };
  d.forward = [](OpContext& ctx) {
    auto [lo, hi] = clip_bounds(*ctx.attrs);
    const Tensor& x = ctx.in(0);
    dispatch_float(x.dtype(), "op 'clip'", [&](auto t) {
      using T = decltype(t);
      elementwise_fns<T>().clip_forward(x.data<T>(), ctx.output->data<T>(), x.size(),
                                        static_cast<T>(lo), static_cast<T>(hi));
    });
  };
  d.backward = [](GradContext& ctx) {
    if (!ctx.wants(0)) return;
    auto [lo, hi] = clip_bounds(*ctx.attrs);
    const Tensor& x = ctx.in(0);
    dispatch_float(x.dtype(), "op 'clip'", [&](auto t) {
      using T = decltype(t);
      elementwise_fns<T>().clip_backward(x.data<T>(), ctx.grad_out->data<T>(),
                                         ctx.grad_in[0]->data<T>(), x.size(),
                                         static_cast<T>(lo), static_cast<T>(hi),
                                         ctx.accumulate[0]);
    });
  };
  return d;
}

EMBER_REGISTER_OP(make_clip);

}  // namespace
}  // namespace ember
