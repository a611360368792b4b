// Elementwise binary ops with NumPy broadcasting: add, subtract, multiply, divide, maximum,
// minimum, and the comparisons equal ... greater_equal (1 where true, 0 where false, in the
// inputs' dtype; not differentiable: no gradient flows through them). Both inputs must have the same floating dtype (no implicit promotion). Backward sums
// the output gradient over the axes along which an input was broadcast, back to its shape.
// maximum/minimum split the gradient 0.5/0.5 on ties, as torch does.
#include <string>

#include "ember/op.h"
#include "kernels/elementwise.h"

namespace ember {
namespace {

OpDef make_binary_op(const std::string& name, Binary op, bool differentiable = true) {
  const std::string who = "op '" + name + "'";
  OpDef d;
  d.name = name;
  d.min_inputs = d.max_inputs = 2;
  d.infer = [who](const std::vector<TensorMeta>& in, const Attrs&) {
    EMBER_CHECK(in.size() == 2, ValueError, who, ": expected 2 inputs, received ", in.size());
    EMBER_CHECK(in[0].dtype == in[1].dtype, TypeError, who,
                ": expected both inputs to have the same dtype, received ",
                dtype_name(in[0].dtype), " and ", dtype_name(in[1].dtype),
                " (cast one of them first)");
    EMBER_CHECK(is_floating(in[0].dtype), TypeError, who,
                ": expected float32 or float64 inputs, received ", dtype_name(in[0].dtype));
    return TensorMeta{broadcast_shapes(in[0].shape, in[1].shape, who.c_str()), in[0].dtype};
  };
  d.forward = [who, op](OpContext& ctx) {
    const Tensor& a = ctx.in(0);
    const Tensor& b = ctx.in(1);
    BroadcastLayout l = broadcast_layout(a.shape(), b.shape());
    dispatch_float(a.dtype(), who.c_str(), [&](auto t) {
      using T = decltype(t);
      elementwise_fns<T>().binary_forward(op, l, a.data<T>(), b.data<T>(), ctx.output->data<T>());
    });
  };
  if (!differentiable) return d;
  d.backward = [who, op](GradContext& ctx) {
    const Tensor& a = ctx.in(0);
    const Tensor& b = ctx.in(1);
    BroadcastLayout l = broadcast_layout(a.shape(), b.shape());
    dispatch_float(a.dtype(), who.c_str(), [&](auto t) {
      using T = decltype(t);
      const auto& k = elementwise_fns<T>();
      for (int i = 0; i < 2; ++i) {
        if (!ctx.wants(i)) continue;
        k.binary_backward(op, i, l, a.data<T>(), b.data<T>(), ctx.grad_out->data<T>(),
                          ctx.grad_in[i]->data<T>(), ctx.accumulate[i]);
      }
    });
  };
  return d;
}

OpDef make_add() { return make_binary_op("add", Binary::add); }
OpDef make_subtract() { return make_binary_op("subtract", Binary::subtract); }
OpDef make_multiply() { return make_binary_op("multiply", Binary::multiply); }
OpDef make_divide() { return make_binary_op("divide", Binary::divide); }
OpDef make_maximum() { return make_binary_op("maximum", Binary::maximum); }
OpDef make_minimum() { return make_binary_op("minimum", Binary::minimum); }

OpDef make_equal() { return make_binary_op("equal", Binary::equal, false); }
OpDef make_not_equal() { return make_binary_op("not_equal", Binary::not_equal, false); }
OpDef make_less() { return make_binary_op("less", Binary::less, false); }
OpDef make_less_equal() { return make_binary_op("less_equal", Binary::less_equal, false); }
OpDef make_greater() { return make_binary_op("greater", Binary::greater, false); }
OpDef make_greater_equal() { return make_binary_op("greater_equal", Binary::greater_equal, false); }

EMBER_REGISTER_OP(make_add);
EMBER_REGISTER_OP(make_subtract);
EMBER_REGISTER_OP(make_multiply);
EMBER_REGISTER_OP(make_divide);
EMBER_REGISTER_OP(make_maximum);
EMBER_REGISTER_OP(make_minimum);
EMBER_REGISTER_OP(make_equal);
EMBER_REGISTER_OP(make_not_equal);
EMBER_REGISTER_OP(make_less);
EMBER_REGISTER_OP(make_less_equal);
EMBER_REGISTER_OP(make_greater);
EMBER_REGISTER_OP(make_greater_equal);

}  // namespace
}  // namespace ember
