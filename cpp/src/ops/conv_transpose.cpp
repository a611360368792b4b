// conv_transpose(x, kernel[, bias]): y = act(conv_transpose(x, kernel) + bias), channels_last,
// 1-D/2-D/3-D, kernel (*k, out_channels, in_channels) as Keras Conv*DTranspose, output extents
// as Keras (compute_conv_transpose_output_shape, output_padding optional). It is the data
// gradient of a conv from y to x, so the conv kernels serve with the two sides swapped (image
// side = y, column side = x): forward = col2im(x @ W^T), data gradient = im2col(gz) @ W,
// kernel gradient = im2col(gz)^T @ x.
#include <algorithm>

#include "ember/kernel_registry.h"
#include "ember/op.h"
#include "ember/threads.h"
#include "kernels/conv.h"
#include "kernels/elementwise.h"

namespace ember {
namespace {

constexpr const char* kOp = "conv_transpose";

struct Spatial {
  std::vector<int64_t> strides, dilation, output_padding;  // output_padding empty: None
  std::string padding;
};

Spatial spatial_attrs(const Attrs& a, int nsp) {
  Spatial s;
  s.strides = conv_axis_ints(kOp, a, "strides", nsp);
  s.dilation = conv_axis_ints(kOp, a, "dilation", nsp);
  s.padding = conv_padding(kOp, a, nsp, false);
  if (a.has("output_padding")) {
    s.output_padding = a.get_ints("output_padding", {});
    if (s.output_padding.size() == 1 && nsp > 1) s.output_padding.assign(nsp, s.output_padding[0]);
    EMBER_CHECK(static_cast<int>(s.output_padding.size()) == nsp, ValueError,
                "op 'conv_transpose': expected output_padding with one value per spatial axis (",
                nsp, "), received ", s.output_padding.size(), " values");
    for (int i = 0; i < nsp; ++i)
      EMBER_CHECK(s.output_padding[i] >= 0 && s.output_padding[i] < s.strides[i], ValueError,
                  "op 'conv_transpose': expected 0 <= output_padding < strides on every axis, "
                  "received output_padding ", s.output_padding[i], " and strides ",
                  s.strides[i], " on spatial axis ", i + 1);
  }
  return s;
}

// Keras's output extent along one axis (backend_utils._get_output_shape_given_tf_padding).
int64_t out_extent(int64_t in, int64_t k, const Spatial& s, int i) {
  if (in == kUnknown) return kUnknown;
  const int64_t keff = dilated(k, s.dilation[i]), st = s.strides[i];
  const bool has_op = !s.output_padding.empty();
  if (s.padding == "valid")
    return (in - 1) * st + keff + (has_op ? s.output_padding[i] : std::max(keff, st) - keff);
  return has_op ? (in - 1) * st + keff % 2 + s.output_padding[i] : in * st;
}

// Leading padding of y seen as the image of a conv from y to x: the effective kernel minus one
// minus the leading padding JAX applies to the dilated x (backend_utils.
// _convert_conv_transpose_padding_args_from_keras_to_jax).
int64_t image_pad(int64_t k, const Spatial& s, int i) {
  const int64_t keff = dilated(k, s.dilation[i]), st = s.strides[i];
  if (s.padding == "valid") return 0;
  const int64_t pad_len = s.output_padding.empty()
                              ? st + keff - 2
                              : keff + keff % 2 - 2 + s.output_padding[i];
  const int64_t left = std::min(pad_len / 2 + pad_len % 2, keff - 1);
  return keff - 1 - left;
}

TensorMeta infer(const std::vector<TensorMeta>& in, const Attrs& a) {
  const TensorMeta &x = in[0], &w = in[1];
  const int nsp = check_conv_operands(kOp, x.shape, x.dtype, w.shape, w.dtype,
                                      "*kernel_size, out_channels, in_channels");
  const Spatial s = spatial_attrs(a, nsp);
  conv_activation(kOp, a);
  const int64_t cin = x.shape.back(), kin = w.shape[nsp + 1], cout = w.shape[nsp];
  EMBER_CHECK(dims_match(cin, kin), ValueError, "op 'conv_transpose': expected an input with ",
              kin, " channels (the kernel's last axis), received shape ", shape_str(x.shape),
              " for a kernel of shape ", shape_str(w.shape));
  if (in.size() == 3)
    EMBER_CHECK(in[2].shape.size() == 1 && dims_match(in[2].shape[0], cout), ValueError,
                "op 'conv_transpose': expected a bias of shape (", cout, ",), received ",
                shape_str(in[2].shape));
  Shape out = {x.shape[0]};
  for (int i = 0; i < nsp; ++i) {
    const int64_t k = w.shape[i];
    EMBER_CHECK(k != kUnknown && k >= 1, ValueError,
                "op 'conv_transpose': expected kernel spatial extents >= 1, received a kernel "
                "of shape ", shape_str(w.shape));
    const int64_t o = out_extent(x.shape[1 + i], k, s, i);
    EMBER_CHECK(o == kUnknown || o >= 1, ValueError, "op 'conv_transpose': the output size ",
                "would be ", o, " on spatial axis ", i + 1, " for input shape ",
                shape_str(x.shape), " and kernel shape ", shape_str(w.shape));
    out.push_back(o);
  }
  out.push_back(cout);
  return {out, x.dtype};
}

struct Setup {
  ConvGeom g;  // image side = y (channels cout), column side = x
  int64_t cin = 0;
  Act act = Act::linear;
};

Setup setup(const Shape& x, const Shape& w, const Attrs& a) {
  const int nsp = static_cast<int>(x.size()) - 2;
  const Spatial sp = spatial_attrs(a, nsp);
  Setup s;
  s.act = conv_activation(kOp, a);
  s.cin = x.back();
  ConvGeom& g = s.g;
  g.batch = x[0];
  g.channels = w[nsp];
  for (int i = 0; i < nsp; ++i) {
    const int j = 3 - nsp + i;
    g.out[j] = x[1 + i];
    g.img[j] = out_extent(x[1 + i], w[i], sp, i);
    g.k[j] = w[i];
    g.stride[j] = sp.strides[i];
    g.dil[j] = sp.dilation[i];
    g.pad[j] = image_pad(w[i], sp, i);
  }
  return s;
}

template <class T>
void forward(OpContext& c) {
  const Setup s = setup(c.in(0).shape(), c.in(1).shape(), *c.attrs);
  const ConvGeom& g = s.g;
  const T* bias = c.inputs.size() == 3 ? c.in(2).data<T>() : nullptr;
  T* y = c.output->data<T>();
  // y = col2im(x @ W^T) starting from the bias; W = kernel as (taps * cout) x cin
  kernels<ConvGemmKernels>().fns<T>().gemm_col2im(c.in(0).data<T>(), c.in(1).data<T>(), y, g,
                                                  s.cin, false, bias, c.scratch->data<T>(),
                                                  c.scratch->nbytes());
  if (s.act != Act::linear)
    kernels<ConvKernels>().fns<T>().bias_act(y, nullptr, g.batch * g.img_pixels(), g.channels,
                                             s.act);
}

// Backward's temporary memory: gz for all of y (unless the activation is linear and gz is gy
// itself), then what the two products need (one after the other, so they share it).
struct BackwardLayout {
  size_t gz = 0, products = 0;
  size_t total() const { return gz + products; }
};

BackwardLayout backward_layout(const Setup& s, size_t elem) {
  const ConvGeom& g = s.g;
  const auto& fg = kernels<ConvGemmKernels>().fns<float>();  // the size queries take elem
  const int threads = get_num_threads();
  BackwardLayout l;
  if (s.act != Act::linear) l.gz = round64(g.batch * g.img_pixels() * g.channels * elem);
  l.products = std::max(fg.im2col_gemm_scratch(g, elem, threads),
                        fg.filter_grad_scratch(g, s.cin, elem, threads));
  return l;
}

template <class T>
void backward(GradContext& c) {
  const Setup s = setup(c.in(0).shape(), c.in(1).shape(), *c.attrs);
  const ConvGeom& g = s.g;
  const auto& fg = kernels<ConvGemmKernels>().fns<T>();
  const int64_t y_pixels = g.batch * g.img_pixels(), cout = g.channels;
  const BackwardLayout l = backward_layout(s, sizeof(T));
  EMBER_CHECK(c.scratch->nbytes() >= l.total(), Error,
              "op 'conv_transpose': backward scratch smaller than planned");
  char* scratch = static_cast<char*>(c.scratch->raw());
  T* products = reinterpret_cast<T*>(scratch + l.gz);
  const T* gz = c.grad_out->data<T>();
  if (s.act != Act::linear) {
    T* buf = reinterpret_cast<T*>(scratch);
    act_backward<T>(s.act, nullptr, c.output->data<T>(), gz, buf, y_pixels * cout,
                    act_default_alpha(s.act), false);
    gz = buf;
  }
  if (c.inputs.size() == 3 && c.wants(2))
    kernels<ConvKernels>().fns<T>().bias_grad(gz, c.grad_in[2]->data<T>(), c.accumulate[2],
                                              y_pixels, cout);
  if (c.wants(0))  // dx (+)= im2col(gz) @ W
    fg.im2col_gemm(gz, c.in(1).data<T>(), c.grad_in[0]->data<T>(), g, s.cin, c.accumulate[0],
                   nullptr, Act::linear, products, l.products);
  if (c.wants(1))  // dW (+)= im2col(gz)^T @ x
    fg.filter_grad(gz, c.in(0).data<T>(), c.grad_in[1]->data<T>(), g, s.cin, c.accumulate[1],
                   products, l.products);
}

OpDef make_conv_transpose() {
  OpDef d;
  d.name = kOp;
  d.min_inputs = 2;
  d.max_inputs = 3;
  d.infer = infer;
  d.forward = [](OpContext& c) {
    dispatch_float(c.output->dtype(), "op 'conv_transpose'",
                   [&](auto t) { forward<decltype(t)>(c); });
  };
  d.backward = [](GradContext& c) {
    dispatch_float(c.output->dtype(), "op 'conv_transpose'",
                   [&](auto t) { backward<decltype(t)>(c); });
  };
  d.forward_scratch_bytes = [](const std::vector<TensorMeta>& in, const Attrs& a) -> size_t {
    return kernels<ConvGemmKernels>().fns<float>().gemm_col2im_scratch(
        setup(in[0].shape, in[1].shape, a).g, dtype_size(in[0].dtype), get_num_threads());
  };
  d.scratch_bytes = [](const std::vector<TensorMeta>& in, const Attrs& a,
                       const std::vector<bool>&) -> size_t {
    return backward_layout(setup(in[0].shape, in[1].shape, a), dtype_size(in[0].dtype)).total();
  };
  return d;
}

EMBER_REGISTER_OP(make_conv_transpose);

}  // namespace
}  // namespace ember
