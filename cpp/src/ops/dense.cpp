// dense(x, kernel[, bias]): y = act(x @ kernel + bias) over the last axis of x, one BLAS product
// (onto the bias) plus one in-place activation pass. Only activations whose derivative reads the
// output alone are fused, so backward needs no pre-activation kept; the others are recorded by
// the Python layer as a separate op after a linear dense.
#include "core/blas.h"
#include "ember/kernel_registry.h"
#include "ember/op.h"
#include "kernels/dense.h"
#include "kernels/elementwise.h"

namespace ember {
namespace {

// The activations this op fuses: backward reads only y and passes no pre-activation, so each
// must have act_backward_reads_x false.
constexpr Act kFusable[] = {Act::linear, Act::relu, Act::sigmoid, Act::tanh};

Act activation(const Attrs& a) {
  const std::string name = a.get_str("activation", "linear");
  if (name.empty()) return Act::linear;
  for (Act act : kFusable)
    if (name == act_name(act)) return act;
  throw ValueError("op 'dense': activation '" + name +
                   "' cannot be fused; expected linear, relu, sigmoid or tanh");
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
  const Act act = activation(*c.attrs);
  T* y = c.output->data<T>();
  // The bias is the product's starting value (beta = 1): BLAS would clear y for beta = 0
  // anyway, so adding the bias costs no pass over y of its own.
  const bool has_bias = c.inputs.size() == 3;
  if (has_bias) kernels<DenseKernels>().bias_rows<T>()(y, c.in(2).data<T>(), m, n);
  gemm<T>(false, false, m, n, k, T(1), x.data<T>(), k, w.data<T>(), n, has_bias ? T(1) : T(0),
          y, n);
  if (act != Act::linear) act_forward<T>(act, y, y, m * n, act_default_alpha(act));
}

template <class T>
void backward(GradContext& c) {
  const Tensor &x = c.in(0), &w = c.in(1);
  const int64_t k = w.dim(0), n = w.dim(1), m = x.size() / k;
  const Act act = activation(*c.attrs);
  // gz, the gradient at the pre-activation: gy * act'(y), read from the output y alone.
  const T* gz = c.grad_out->data<T>();
  if (act != Act::linear) {
    T* scratch = c.scratch->data<T>();
    act_backward<T>(act, nullptr, c.output->data<T>(), gz, scratch, m * n,
                    act_default_alpha(act), false);
    gz = scratch;
  }
  if (c.inputs.size() == 3 && c.wants(2))
    kernels<DenseKernels>().bias_grad<T>()(gz, c.grad_in[2]->data<T>(), c.accumulate[2], m, n);
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
  d.scratch_bytes = [](const std::vector<TensorMeta>& in, const Attrs& a,
                       const std::vector<bool>&) -> size_t {
    if (activation(a) == Act::linear) return 0;  // gz is gy itself
    Shape out = in[0].shape;
    out.back() = in[1].shape[1];
    return numel(out) * dtype_size(in[0].dtype);
  };
  return d;
}

EMBER_REGISTER_OP(make_dense);

}  // namespace
}  // namespace ember
