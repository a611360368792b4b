// conv(x, kernel[, bias]): y = act(conv(x, kernel) + bias), channels_last, 1-D/2-D/3-D, with
// strides, 'valid'/'same'/'causal' padding, dilation and groups. Kernel (*k, in/groups, out)
// as Keras. The convolution is im2col + one BLAS product per group (kernels/cpu/conv_gemm.cpp
// builds the column matrix piecewise; a 1x1 stride-1 unpadded convolution multiplies x
// itself), with bias and activation applied to each piece while it is in cache; or, when the
// reduction (taps x channels) is small, direct kernels (kernels/cpu/conv_direct.cpp, see
// conv_direct()). Backward (gz = gy * act'(y)): db (+)= the sums of gz, dW (+)= im2col(x)^T @
// gz, and dx either the convolution of gz with the flipped kernel (unit strides) or
// col2im(gz @ W^T). When dx is not wanted (the first layer) the direct kernels form gz tile by
// tile with dW and db in one pass.
#include <algorithm>

#include "ember/kernel_registry.h"
#include "ember/op.h"
#include "ember/threads.h"
#include "kernels/conv.h"
#include "kernels/elementwise.h"

namespace ember {
namespace {

constexpr const char* kOp = "conv";

TensorMeta infer(const std::vector<TensorMeta>& in, const Attrs& a) {
  const TensorMeta &x = in[0], &w = in[1];
  const int nsp = check_conv_operands(kOp, x.shape, x.dtype, w.shape, w.dtype,
                                      "*kernel_size, in_channels / groups, out_channels");
  conv_activation(kOp, a);
  const int64_t groups = a.get_int("groups", 1);
  EMBER_CHECK(groups >= 1, ValueError, "op 'conv': expected groups >= 1, received ", groups);
  const int64_t cin = x.shape.back(), kin = w.shape[nsp], cout = w.shape[nsp + 1];
  if (cin != kUnknown)
    EMBER_CHECK(cin % groups == 0, ValueError, "op 'conv': the input channels (", cin,
                ") must be divisible by groups (", groups, ")");
  if (cout != kUnknown)
    EMBER_CHECK(cout % groups == 0, ValueError, "op 'conv': the output channels (", cout,
                ") must be divisible by groups (", groups, ")");
  if (cin != kUnknown && kin != kUnknown)
    EMBER_CHECK(cin == kin * groups, ValueError, "op 'conv': expected an input with ",
                kin * groups, " channels (kernel in_channels ", kin, " x groups ", groups,
                "), received shape ", shape_str(x.shape));
  if (in.size() == 3)
    EMBER_CHECK(in[2].shape.size() == 1 && dims_match(in[2].shape[0], cout), ValueError,
                "op 'conv': expected a bias of shape (", cout, ",), received ",
                shape_str(in[2].shape));
  Shape out = {x.shape[0]};
  for (int64_t e : conv_output_spatial(kOp, x.shape, w.shape, a, nsp)) out.push_back(e);
  out.push_back(cout);
  return {out, x.dtype};
}

// Concrete geometry: image side = x, column side = y.
struct Setup {
  ConvGeom g;
  int64_t cout = 0;
  Act act = Act::linear;
};

Setup setup(const Shape& x, const Shape& w, const Attrs& a) {
  Setup s;
  s.act = conv_activation(kOp, a);
  s.cout = w.back();
  s.g = conv_forward_geom(kOp, x, w, a);
  s.g.groups = a.get_int("groups", 1);
  return s;
}

// Backward's temporary memory, in this order: gz for all of y (unless the activation is linear
// and gz is gy itself, or the direct kernels form it tile by tile), the flipped kernel (dx as a
// convolution), and what the products need (one after the other, so they share it). Only what
// the wanted gradients' paths use.
struct BackwardLayout {
  bool fused = false;  // the direct kernels' one pass for dW and db (no dx)
  size_t gz = 0, flipped = 0, products = 0;  // bytes; the first two multiples of 64
  size_t total() const { return gz + flipped + products; }
};

// With unit strides dx is itself a convolution of gz (flipped kernel, adjoint padding), run
// like forward in per-thread tiles: as fast as col2im(gz @ W^T) on a quiet machine (ResNet
// 3x3x64, one thread: 224 vs 222 ms fwd+bwd), but one parallel region instead of two per chunk,
// which kept its median at 130 ms against 357 ms with two threads on a loaded machine.
// Strided convolutions take col2im (the adjoint would multiply the holes of the dilated gz).
// A pointwise conv multiplies gz by W^T directly.
bool dx_by_convolution(const ConvGeom& g) { return unit_strides(g) && !g.pointwise(); }

BackwardLayout backward_layout(const Setup& s, size_t elem, const std::vector<bool>& wants) {
  const ConvGeom& g = s.g;
  const auto& fg = kernels<ConvGemmKernels>().fns<float>();  // the size queries take elem
  const int threads = get_num_threads();
  const bool direct = conv_direct(g), want_dx = wants[0], want_dw = wants[1];
  BackwardLayout l;
  l.fused = direct && want_dw && !want_dx;
  if (s.act != Act::linear && !l.fused) l.gz = round64(g.rows() * g.out[2] * s.cout * elem);
  if (want_dw)
    l.products = direct
                     ? kernels<ConvDirectKernels>().fns<float>().scratch(g, s.cout, elem, threads)
                     : fg.filter_grad_scratch(g, s.cout, elem, threads);
  if (want_dx && dx_by_convolution(g)) {
    l.flipped = round64(g.taps() * g.channels / g.groups * s.cout * elem);
    l.products = std::max(l.products,
                          fg.im2col_gemm_scratch(adjoint_geom(g, s.cout), elem, threads));
  } else if (want_dx) {
    l.products = std::max(l.products, fg.gemm_col2im_scratch(g, elem, threads));
  }
  return l;
}

template <class T>
void forward(OpContext& c) {
  const Setup s = setup(c.in(0).shape(), c.in(1).shape(), *c.attrs);
  const T* bias = c.inputs.size() == 3 ? c.in(2).data<T>() : nullptr;
  if (conv_direct(s.g)) {
    kernels<ConvDirectKernels>().fns<T>().forward(c.in(0).data<T>(), c.in(1).data<T>(), bias,
                                                  c.output->data<T>(), s.g, s.cout, s.act,
                                                  c.scratch->data<T>(), c.scratch->nbytes());
    return;
  }
  kernels<ConvGemmKernels>().fns<T>().im2col_gemm(
      c.in(0).data<T>(), c.in(1).data<T>(), c.output->data<T>(), s.g, s.cout, false, bias,
      s.act, c.scratch->data<T>(), c.scratch->nbytes());
}

template <class T>
void backward(GradContext& c) {
  const Setup s = setup(c.in(0).shape(), c.in(1).shape(), *c.attrs);
  const ConvGeom& g = s.g;
  const auto& k = kernels<ConvKernels>().fns<T>();
  const auto& fg = kernels<ConvGemmKernels>().fns<T>();
  const T* x = c.in(0).data<T>();
  const T* w = c.in(1).data<T>();
  const int64_t cout = s.cout, pixels = g.rows() * g.out[2];
  const BackwardLayout l = backward_layout(s, sizeof(T), c.wanted());
  EMBER_CHECK(c.scratch->nbytes() >= l.total(), Error,
              "op 'conv': backward scratch smaller than planned");
  char* scratch = static_cast<char*>(c.scratch->raw());
  T* flipped = reinterpret_cast<T*>(scratch + l.gz);
  T* products = reinterpret_cast<T*>(scratch + l.gz + l.flipped);
  const bool direct = conv_direct(g);
  const auto& dk = kernels<ConvDirectKernels>().fns<T>();
  const bool has_bias = c.inputs.size() == 3;

  if (l.fused) {  // gz, dW and db in one pass, gz never whole
    T* db = has_bias && c.wants(2) ? c.grad_in[2]->data<T>() : nullptr;
    dk.param_grads(x, c.grad_out->data<T>(), c.output->data<T>(), s.act,
                   c.grad_in[1]->data<T>(), c.accumulate[1], db, has_bias && c.accumulate[2],
                   g, cout, products, l.products);
    return;
  }
  const T* gz = c.grad_out->data<T>();
  if (s.act != Act::linear) {
    T* buf = reinterpret_cast<T*>(scratch);
    act_backward<T>(s.act, nullptr, c.output->data<T>(), gz, buf, pixels * cout,
                    act_default_alpha(s.act), false);
    gz = buf;
  }
  if (has_bias && c.wants(2))
    k.bias_grad(gz, c.grad_in[2]->data<T>(), c.accumulate[2], pixels, cout);
  if (c.wants(1) && direct)
    dk.param_grads(x, gz, nullptr, Act::linear, c.grad_in[1]->data<T>(), c.accumulate[1],
                   nullptr, false, g, cout, products, l.products);
  else if (c.wants(1))  // dW (+)= im2col(x)^T @ gz
    fg.filter_grad(x, gz, c.grad_in[1]->data<T>(), g, cout, c.accumulate[1], products,
                   l.products);
  if (!c.wants(0)) return;
  T* dx = c.grad_in[0]->data<T>();
  if (dx_by_convolution(g)) {
    k.flip_kernel(w, flipped, g.taps(), g.channels / g.groups, cout, g.groups);
    fg.im2col_gemm(gz, flipped, dx, adjoint_geom(g, cout), g.channels, c.accumulate[0],
                   nullptr, Act::linear, products, l.products);
  } else {
    fg.gemm_col2im(gz, w, dx, g, cout, c.accumulate[0], nullptr, products, l.products);
  }
}

OpDef make_conv() {
  OpDef d;
  d.name = kOp;
  d.min_inputs = 2;
  d.max_inputs = 3;
  d.infer = infer;
  d.forward = [](OpContext& c) {
    dispatch_float(c.output->dtype(), "op 'conv'", [&](auto t) { forward<decltype(t)>(c); });
  };
  d.backward = [](GradContext& c) {
    dispatch_float(c.output->dtype(), "op 'conv'", [&](auto t) { backward<decltype(t)>(c); });
  };
  d.forward_scratch_bytes = [](const std::vector<TensorMeta>& in, const Attrs& a) -> size_t {
    const Setup s = setup(in[0].shape, in[1].shape, a);
    const size_t elem = dtype_size(in[0].dtype);
    if (conv_direct(s.g))
      return kernels<ConvDirectKernels>().fns<float>().scratch(s.g, s.cout, elem,
                                                                get_num_threads());
    return kernels<ConvGemmKernels>().fns<float>().im2col_gemm_scratch(s.g, elem,
                                                                       get_num_threads());
  };
  d.scratch_bytes = [](const std::vector<TensorMeta>& in, const Attrs& a,
                       const std::vector<bool>& wants) -> size_t {
    return backward_layout(setup(in[0].shape, in[1].shape, a), dtype_size(in[0].dtype), wants)
        .total();
  };
  return d;
}

EMBER_REGISTER_OP(make_conv);

}  // namespace
}  // namespace ember
