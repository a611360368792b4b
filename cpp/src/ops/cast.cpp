// cast: a tensor converted to another dtype (Keras ops.cast). Float to int truncates toward zero
// (NumPy's astype). The gradient flows back only between floating dtypes; from an integer
// input (token ids, labels) nothing flows, so such inputs need no gradient. With
// `integral_only`, float inputs must hold whole numbers (token ids stored as floats, which Keras
// accepts): a fraction, NaN or infinity is a ValueError naming it, not a silent truncation.
#include <cmath>

#include "ember/op.h"
#include "kernels/tensor_ops.h"

namespace ember {
namespace {

template <class T>
void check_integral(const T* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    EMBER_CHECK(std::isfinite(x[i]) && std::floor(x[i]) == x[i], ValueError,
                "op 'cast': expected whole numbers (integer ids), received ", x[i],
                " at flat position ", i);
}

OpDef make_cast() {
  OpDef d;
  d.name = "cast";
  d.infer = [](const std::vector<TensorMeta>& in, const Attrs& attrs) {
    EMBER_CHECK(attrs.has("dtype"), ValueError, "op 'cast': missing the attribute 'dtype'");
    return TensorMeta{in[0].shape, dtype_from_name(attrs.get_str("dtype", ""))};
  };
  d.forward = [](OpContext& ctx) {
    const Tensor& x = ctx.in(0);
    if (ctx.attrs->get_bool("integral_only", false) && is_floating(x.dtype()))
      dispatch_float(x.dtype(), "op 'cast'", [&](auto t) { check_integral(x.data<decltype(t)>(), x.size()); });
    kernels<ShapeKernels>(Device::cpu)
        .convert(x.raw(), x.dtype(), ctx.output->raw(), ctx.output->dtype(), x.size(), false);
  };
  d.backward = [](GradContext& ctx) {
    if (!ctx.wants(0)) return;
    const DType from = ctx.grad_out->dtype(), to = ctx.grad_in[0]->dtype();
    EMBER_CHECK(is_floating(from) && is_floating(to), TypeError,
                "op 'cast': no gradient flows from ", dtype_name(from), " back to ",
                dtype_name(to));
    kernels<ShapeKernels>(Device::cpu)
        .convert(ctx.grad_out->raw(), from, ctx.grad_in[0]->raw(), to, ctx.grad_out->size(),
                 ctx.accumulate[0]);
  };
  return d;
}

EMBER_REGISTER_OP(make_cast);

}  // namespace
}  // namespace ember
