// depthwise_conv(x, kernel[, bias]): y = act(depthwise(x, kernel) + bias), channels_last,
// 1-D/2-D/3-D, kernel (*k, in_channels, depth_multiplier) as Keras DepthwiseConv*D; output
// channel c * depth_multiplier + m is input channel c through kernel[..., c, m]. Direct kernels
// forward and backward (kernels/cpu/conv_depthwise.cpp).
#include "ember/kernel_registry.h"
#include "ember/op.h"
#include "kernels/conv.h"
#include "kernels/elementwise.h"

namespace ember {
namespace {

constexpr const char* kOp = "depthwise_conv";

TensorMeta infer(const std::vector<TensorMeta>& in, const Attrs& a) {
  const TensorMeta &x = in[0], &w = in[1];
  const int nsp = check_conv_operands(kOp, x.shape, x.dtype, w.shape, w.dtype,
                                      "*kernel_size, in_channels, depth_multiplier");
  conv_activation(kOp, a);
  const int64_t cin = x.shape.back(), kin = w.shape[nsp], dm = w.shape[nsp + 1];
  EMBER_CHECK(dims_match(cin, kin), ValueError, "op 'depthwise_conv': expected an input with ",
              kin, " channels (the kernel's in_channels), received shape ", shape_str(x.shape),
              " for a kernel of shape ", shape_str(w.shape));
  const int64_t c = cin != kUnknown ? cin : kin;
  const int64_t cout = (c == kUnknown || dm == kUnknown) ? kUnknown : c * dm;
  if (in.size() == 3)
    EMBER_CHECK(in[2].shape.size() == 1 && dims_match(in[2].shape[0], cout), ValueError,
                "op 'depthwise_conv': expected a bias of shape (", cout, ",), received ",
                shape_str(in[2].shape));
  Shape out = {x.shape[0]};
  for (int64_t e : conv_output_spatial(kOp, x.shape, w.shape, a, nsp)) out.push_back(e);
  out.push_back(cout);
  return {out, x.dtype};
}

struct Setup {
  ConvGeom g;  // image side = x, column side = y
  int64_t dm = 1;
  Act act = Act::linear;
};

Setup setup(const Shape& x, const Shape& w, const Attrs& a) {
  Setup s;
  s.act = conv_activation(kOp, a);
  s.dm = w.back();
  s.g = conv_forward_geom(kOp, x, w, a);
  return s;
}

template <class T>
void forward(OpContext& c) {
  const Setup s = setup(c.in(0).shape(), c.in(1).shape(), *c.attrs);
  const T* bias = c.inputs.size() == 3 ? c.in(2).data<T>() : nullptr;
  kernels<DepthwiseConvKernels>().fns<T>().forward(c.in(0).data<T>(), c.in(1).data<T>(), bias,
                                                   c.output->data<T>(), s.g, s.dm, s.act);
}

template <class T>
void backward(GradContext& c) {
  const Setup s = setup(c.in(0).shape(), c.in(1).shape(), *c.attrs);
  const auto& k = kernels<DepthwiseConvKernels>().fns<T>();
  const int64_t n = c.output->size();
  const T* gz = c.grad_out->data<T>();
  if (s.act != Act::linear) {  // gz = gy * act'(y), read by both passes below
    T* buf = c.scratch->data<T>();
    act_backward<T>(s.act, nullptr, c.output->data<T>(), gz, buf, n, act_default_alpha(s.act),
                    false);
    gz = buf;
  }
  if (c.inputs.size() == 3 && c.wants(2))
    kernels<ConvKernels>().fns<T>().bias_grad(gz, c.grad_in[2]->data<T>(), c.accumulate[2],
                                              s.g.batch * s.g.out_pixels(),
                                              s.g.channels * s.dm);
  if (c.wants(1))
    k.filter_grad(c.in(0).data<T>(), gz, c.grad_in[1]->data<T>(), c.accumulate[1], s.g, s.dm);
  if (c.wants(0))
    k.data_grad(gz, c.in(1).data<T>(), c.grad_in[0]->data<T>(), c.accumulate[0], s.g, s.dm);
}

OpDef make_depthwise_conv() {
  OpDef d;
  d.name = kOp;
  d.min_inputs = 2;
  d.max_inputs = 3;
  d.infer = infer;
  d.forward = [](OpContext& c) {
    dispatch_float(c.output->dtype(), "op 'depthwise_conv'",
                   [&](auto t) { forward<decltype(t)>(c); });
  };
  d.backward = [](GradContext& c) {
    dispatch_float(c.output->dtype(), "op 'depthwise_conv'",
                   [&](auto t) { backward<decltype(t)>(c); });
  };
  d.scratch_bytes = [](const std::vector<TensorMeta>& in, const Attrs& a,
                       const std::vector<bool>&) -> size_t {
    if (conv_activation(kOp, a) == Act::linear) return 0;  // gz is gy itself
    const Setup s = setup(in[0].shape, in[1].shape, a);
    return s.g.batch * s.g.out_pixels() * s.g.channels * s.dm * dtype_size(in[0].dtype);
  };
  return d;
}

EMBER_REGISTER_OP(make_depthwise_conv);

}  // namespace
}  // namespace ember
