// dense(x, kernel[, bias]): y = act(x @ kernel + bias) over the last axis of x, one BLAS product
// plus a fused epilogue. Activations whose derivative needs the pre-activation are recorded by
// the Python layer as a separate op after a linear dense.
#include "core/blas.h"
#include "ember/kernel_registry.h"
#include "ember/op.h"
#include "kernels/dense.h"

namespace ember {
namespace {

DenseAct activation(const Attrs& a) {
  DenseAct act;
  std::string name = a.get_str("activation", "linear");
  EMBER_CHECK(dense_act_from_name(name, &act), ValueError, "op 'dense': activation '", name,
              "' cannot be fused; expected linear, relu, sigmoid or tanh");
  return act;
}

TensorMeta infer(const std::vector<TensorMeta>& in, const Attrs& a) {
  const TensorMeta &x = in[0], &w = in[1];
  activation(a);
  EMBER_CHECK(x.dtype == w.dtype, TypeError, "op 'dense': input is ", dtype_name(x.dtype),
              " but kernel is ", dtype_name(w.dtype));
  EMBER_CHECK(is_floating(x.dtype), TypeError, "op 'dense': expected a float input, received ",
              dtype_name(x.dtype));
  EMBER_CHECK(x.shape.size() >= 1, ValueError,
              "op 'dense': expected an input of rank >= 1, received a scalar");
  EMBER_CHECK(w.shape.size() == 2, ValueError, "op 'dense': expected a 2-D kernel, received ",
              shape_str(w.shape));
  EMBER_CHECK(dims_match(x.shape.back(), w.shape[0]), ValueError,
              "op 'dense': expected an input with last dimension ", w.shape[0],
              ", received shape ", shape_str(x.shape));
  if (in.size() == 3)
    EMBER_CHECK(in[2].shape == Shape{w.shape[1]}, ValueError, "op 'dense': expected a bias of shape (",
                w.shape[1], ",), received ", shape_str(in[2].shape));
  Shape out = x.shape;
  out.back() = w.shape[1];
  return {out, x.dtype};
}

template <class T>
void forward(OpContext& c) {
  const Tensor &x = c.in(0), &w = c.in(1);
  const int64_t k = w.dim(0), n = w.dim(1), m = x.size() / k;
  T* y = c.output->data<T>();
  gemm<T>(false, false, m, n, k, T(1), x.data<T>(), k, w.data<T>(), n, T(0), y, n);
  const T* bias = c.inputs.size() == 3 ? c.in(2).data<T>() : nullptr;
  DenseAct act = activation(*c.attrs);
  if (bias || act != DenseAct::linear)
    kernels<DenseKernels>().epilogue<T>()(y, bias, m, n, act);
}

template <class T>
void backward(GradContext& c) {
  const Tensor &x = c.in(0), &w = c.in(1);
  const int64_t k = w.dim(0), n = w.dim(1), m = x.size() / k;
  DenseAct act = activation(*c.attrs);
  const T* gy = c.grad_out->data<T>();
  T* gz = act == DenseAct::linear ? const_cast<T*>(gy) : c.scratch->data<T>();
  const bool has_bias = c.inputs.size() == 3;
  T* gb = has_bias && c.wants(2) ? c.grad_in[2]->data<T>() : nullptr;
  kernels<DenseKernels>().backward<T>()(c.output->data<T>(), gy, gz, gb,
                                        has_bias && c.accumulate[2], m, n, act);
  if (c.wants(1))  // dW (+)= x^T @ gz
    gemm<T>(true, false, k, n, m, T(1), x.data<T>(), k, gz, n, c.accumulate[1] ? T(1) : T(0),
            c.grad_in[1]->data<T>(), n);
  if (c.wants(0))  // dx (+)= gz @ W^T
    gemm<T>(false, true, m, k, n, T(1), gz, n, w.data<T>(), n, c.accumulate[0] ? T(1) : T(0),
            c.grad_in[0]->data<T>(), k);
}

OpDef make_dense() {
  OpDef d;
  d.name = "dense";
  d.min_inputs = 2;
  d.max_inputs = 3;
  d.infer = infer;
  d.forward = [](OpContext& c) {
    dispatch_float(c.output->dtype(), "op 'dense'", [&](auto t) { forward<decltype(t)>(c); });
  };
  d.backward = [](GradContext& c) {
    dispatch_float(c.output->dtype(), "op 'dense'", [&](auto t) { backward<decltype(t)>(c); });
  };
  d.scratch_bytes = [](const std::vector<TensorMeta>& in, const Attrs& a) -> size_t {
    if (activation(a) == DenseAct::linear) return 0;
    Shape out = in[0].shape;
    out.back() = in[1].shape[1];
    return numel(out) * dtype_size(in[0].dtype);
  };
  return d;
}

EMBER_REGISTER_OP(make_dense);

}  // namespace
}  // namespace ember
