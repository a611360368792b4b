// softmax and log_softmax along "axis" (default -1). Numerically stable (the slice maximum is
// subtracted before exp); backward uses only the output y, so x need not be kept. The last-axis
// case runs over contiguous rows; other axes over (outer, n, inner) column blocks.
#include <string>
#include <vector>

#include "ember/op.h"
#include "kernels/tensor_ops.h"

namespace ember {
namespace {

struct Split {
  int64_t outer = 1, n = 1, inner = 1;
};

Split split_at(const Shape& s, int axis) {
  Split g;
  for (int a = 0; a < axis; ++a) g.outer *= s[a];
  g.n = s[axis];
  for (size_t a = axis + 1; a < s.size(); ++a) g.inner *= s[a];
  return g;
}

OpDef make_softmax_like(const std::string& name, bool log) {
  OpDef d;
  d.name = name;
  const std::string who = "op '" + name + "'";
  d.infer = [who](const std::vector<TensorMeta>& in, const Attrs& attrs) {
    const TensorMeta& x = in[0];
    EMBER_CHECK(is_floating(x.dtype), TypeError, who,
                ": expected a float32 or float64 tensor, received ", dtype_name(x.dtype));
    normalize_axis(attrs.get_int("axis", -1), static_cast<int>(x.shape.size()), who.c_str());
    return x;
  };
  d.forward = [who, log](OpContext& ctx) {
    const Tensor& x = ctx.in(0);
    const int axis = normalize_axis(ctx.attrs->get_int("axis", -1), x.rank(), who.c_str());
    const Split g = split_at(x.shape(), axis);
    dispatch_float(x.dtype(), who.c_str(), [&](auto t) {
      using T = decltype(t);
      kernels<TensorOpsKernels<T>>(Device::cpu)
          .softmax(x.data<T>(), ctx.output->data<T>(), g.outer, g.n, g.inner, log);
    });
  };
  d.backward = [who, log](GradContext& ctx) {
    if (!ctx.wants(0)) return;
    const Tensor& y = *ctx.output;
    const int axis = normalize_axis(ctx.attrs->get_int("axis", -1), y.rank(), who.c_str());
    const Split g = split_at(y.shape(), axis);
    dispatch_float(y.dtype(), who.c_str(), [&](auto t) {
      using T = decltype(t);
      kernels<TensorOpsKernels<T>>(Device::cpu)
          .softmax_backward(y.data<T>(), ctx.grad_out->data<T>(), ctx.grad_in[0]->data<T>(),
                            g.outer, g.n, g.inner, log, ctx.accumulate[0]);
    });
  };
  return d;
}

OpDef make_softmax() { return make_softmax_like("softmax", false); }
OpDef make_log_softmax() { return make_softmax_like("log_softmax", true); }

}  // namespace

EMBER_REGISTER_OP(make_softmax);
EMBER_REGISTER_OP(make_log_softmax);

}  // namespace ember
