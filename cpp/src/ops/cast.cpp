// cast: a tensor converted to another dtype (Keras ops.cast). Float to int truncates toward zero
// (NumPy's astype). The gradient flows back only between floating dtypes; from an integer
// input (token ids, labels) nothing flows, so such inputs need no gradient.
#include "ember/op.h"
#include "kernels/tensor_ops.h"

namespace ember {
namespace {

OpDef make_cast() {
  OpDef d;
  d.name = "cast";
  d.infer = [](const std::vector<TensorMeta>& in, const Attrs& attrs) {
    EMBER_CHECK(attrs.has("dtype"), ValueError, "op 'cast': missing the attribute 'dtype'");
    return TensorMeta{in[0].shape, dtype_from_name(attrs.get_str("dtype", ""))};
  };
  d.forward = [](OpContext& ctx) {
    const Tensor& x = ctx.in(0);
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
