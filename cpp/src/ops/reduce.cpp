// Reductions: sum, mean, max, min.
// Attributes: "axis" (list of ints, negatives allowed; absent = every axis; an empty list reduces
// nothing) and "keepdims" (bool, default false).
// max/min backward: the whole gradient of a slice goes to the first element (in row-major order
// over the reduced axes) equal to the result; tied elements after it get 0. (NumPy/Keras-style
// frameworks differ on ties; "first" matches argmax and keeps gradients sparse.)
#include <string>
#include <vector>

#include "ember/op.h"
#include "kernels/tensor_ops.h"

namespace ember {
namespace {

// Which input axes the attributes reduce. IndexError for an axis out of range, ValueError for a
// repeated one.
std::vector<bool> reduced_axes(const std::string& who, int rank, const Attrs& attrs) {
  if (!attrs.has("axis")) return std::vector<bool>(rank, true);
  std::vector<bool> red(rank, false);
  for (int64_t a : attrs.get_ints("axis", {})) {
    const int ax = normalize_axis(a, rank, who.c_str());
    EMBER_CHECK(!red[ax], ValueError, who, ": axis ", a, " is repeated in the axis list");
    red[ax] = true;
  }
  return red;
}

// The input seen by the kernels: size-1 extents dropped, runs of reduced / kept axes merged.
struct Layout {
  std::vector<int64_t> dims;
  std::vector<uint8_t> reduced;
  int64_t count = 1;  // elements per reduced slice (mean divides by it)
  int rank() const { return static_cast<int>(dims.size()); }
};

Layout layout_of(const Shape& s, const std::vector<bool>& red) {
  Layout l;
  for (size_t d = 0; d < s.size(); ++d) {
    if (red[d]) l.count *= s[d];
    if (s[d] == 1) continue;
    const uint8_t r = red[d] ? 1 : 0;
    if (!l.dims.empty() && l.reduced.back() == r) {
      l.dims.back() *= s[d];
    } else {
      l.dims.push_back(s[d]);
      l.reduced.push_back(r);
    }
  }
  return l;
}

OpDef make_reduce(const std::string& name, ReduceKind kind, bool mean) {
  OpDef d;
  d.name = name;
  const std::string who = "op '" + name + "'";
  d.infer = [who, kind](const std::vector<TensorMeta>& in, const Attrs& attrs) {
    const TensorMeta& x = in[0];
    EMBER_CHECK(is_floating(x.dtype), TypeError, who,
                ": expected a float32 or float64 tensor, received ", dtype_name(x.dtype));
    const int rank = static_cast<int>(x.shape.size());
    const std::vector<bool> red = reduced_axes(who, rank, attrs);
    const bool keepdims = attrs.get_bool("keepdims", false);
    TensorMeta out{{}, x.dtype};
    for (int a = 0; a < rank; ++a) {
      // max/min of nothing has no value (NumPy refuses too).
      EMBER_CHECK(!(red[a] && x.shape[a] == 0 && kind != ReduceKind::sum), ValueError, who,
                  ": cannot reduce over axis ", a, " of shape ", shape_str(x.shape),
                  " because it is empty (the result has no identity)");
      if (!red[a]) out.shape.push_back(x.shape[a]);
      else if (keepdims) out.shape.push_back(1);
    }
    return out;
  };
  d.forward = [who, kind, mean](OpContext& ctx) {
    const Tensor& x = ctx.in(0);
    const Layout l = layout_of(x.shape(), reduced_axes(who, x.rank(), *ctx.attrs));
    dispatch_float(x.dtype(), who.c_str(), [&](auto t) {
      using T = decltype(t);
      const T scale = mean ? T(1) / static_cast<T>(l.count) : T(1);
      kernels<TensorOpsKernels<T>>(Device::cpu)
          .reduce(kind, x.data<T>(), ctx.output->data<T>(), l.rank(), l.dims.data(),
                  l.reduced.data(), scale);
    });
  };
  d.backward = [who, kind, mean](GradContext& ctx) {
    if (!ctx.wants(0)) return;
    const Tensor& x = ctx.in(0);
    const Layout l = layout_of(x.shape(), reduced_axes(who, x.rank(), *ctx.attrs));
    dispatch_float(x.dtype(), who.c_str(), [&](auto t) {
      using T = decltype(t);
      const auto& k = kernels<TensorOpsKernels<T>>(Device::cpu);
      T* gx = ctx.grad_in[0]->data<T>();
      const T* gy = ctx.grad_out->data<T>();
      if (kind == ReduceKind::sum) {
        const T scale = mean ? T(1) / static_cast<T>(l.count) : T(1);
        k.reduce_sum_backward(gy, gx, l.rank(), l.dims.data(), l.reduced.data(), scale,
                              ctx.accumulate[0]);
      } else {
        k.reduce_extreme_backward(x.data<T>(), ctx.output->data<T>(), gy, gx, l.rank(),
                                  l.dims.data(), l.reduced.data(), ctx.accumulate[0]);
      }
    });
  };
  return d;
}

OpDef make_sum() { return make_reduce("sum", ReduceKind::sum, false); }
OpDef make_mean() { return make_reduce("mean", ReduceKind::sum, true); }
OpDef make_max() { return make_reduce("max", ReduceKind::max, false); }
OpDef make_min() { return make_reduce("min", ReduceKind::min, false); }

}  // namespace

EMBER_REGISTER_OP(make_sum);
EMBER_REGISTER_OP(make_mean);
EMBER_REGISTER_OP(make_max);
EMBER_REGISTER_OP(make_min);

}  // namespace ember
