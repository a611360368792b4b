// Slicing along one axis: slice_axis (a contiguous range, Keras ops.slice one axis at a time) and
// flip (the axis reversed, Keras ops.flip). Both view the tensor as (outer, extent, inner) and
// move rows of `inner` elements, so forward serves every dtype; backward (float32/float64) moves
// the gradient back, assigning or accumulating.
#include <algorithm>
#include <string>
#include <vector>

#include "ember/op.h"
#include "kernels/tensor_ops.h"

namespace ember {
namespace {

struct AxisView {
  int axis = 0;
  int64_t outer = 1, extent = 1, inner = 1;
};

AxisView axis_view(const Shape& s, const Attrs& attrs, const char* who) {
  AxisView v;
  v.axis = normalize_axis(attrs.get_int("axis", 0), static_cast<int>(s.size()), who);
  for (int a = 0; a < v.axis; ++a) v.outer *= s[a];
  v.extent = s[v.axis];
  for (size_t a = v.axis + 1; a < s.size(); ++a) v.inner *= s[a];
  return v;
}

// ---------------------------------------------------------------- slice_axis
// Elements [begin, end) of `axis`, Python-style: a negative bound counts from the end, a missing
// `end` is the end. No clamping: a range outside the axis is an error. The extent is known
// without knowing the axis's when both bounds count from the same side.
struct SliceRange {
  int64_t begin, size;
};

SliceRange slice_range(const Shape& s, const Attrs& attrs, int axis) {
  const int64_t extent = s[axis];
  int64_t b = attrs.get_int("begin", 0);
  const bool has_end = attrs.has("end");
  int64_t e = attrs.get_int("end", 0);
  if (extent == kUnknown) {
    if (!has_end) return {b, b < 0 ? -b : kUnknown};
    return {b, (b < 0) == (e < 0) ? std::max<int64_t>(e - b, 0) : kUnknown};
  }
  const int64_t b0 = b, e0 = has_end ? e : extent;
  if (b < 0) b += extent;
  e = has_end ? (e < 0 ? e + extent : e) : extent;
  EMBER_CHECK(b >= 0 && b <= e && e <= extent, ValueError, "op 'slice_axis': the range [", b0,
              ", ", e0, ") does not fit axis ", axis, " of extent ", extent, " in input shape ",
              shape_str(s));
  return {b, e - b};
}

OpDef make_slice_axis() {
  OpDef d;
  d.name = "slice_axis";
  d.infer = [](const std::vector<TensorMeta>& in, const Attrs& attrs) {
    const Shape& s = in[0].shape;
    EMBER_CHECK(!s.empty(), ValueError, "op 'slice_axis': expected an input of rank >= 1, "
                "received a scalar");
    const int axis = normalize_axis(attrs.get_int("axis", 0), static_cast<int>(s.size()),
                                    "op 'slice_axis'");
    const SliceRange r = slice_range(s, attrs, axis);
    TensorMeta out = in[0];
    out.shape[axis] = r.size;
    return out;
  };
  d.forward = [](OpContext& ctx) {
    const Tensor& x = ctx.in(0);
    const AxisView v = axis_view(x.shape(), *ctx.attrs, "op 'slice_axis'");
    const SliceRange r = slice_range(x.shape(), *ctx.attrs, v.axis);
    const size_t elem = dtype_size(x.dtype());
    kernels<ShapeKernels>(Device::cpu)
        .copy2d(static_cast<const char*>(x.raw()) + r.begin * v.inner * elem, v.extent * v.inner,
                ctx.output->raw(), r.size * v.inner, v.outer, r.size * v.inner, elem);
  };
  d.backward = [](GradContext& ctx) {
    if (!ctx.wants(0)) return;
    const AxisView v = axis_view(ctx.in(0).shape(), *ctx.attrs, "op 'slice_axis'");
    const SliceRange r = slice_range(ctx.in(0).shape(), *ctx.attrs, v.axis);
    dispatch_float(ctx.grad_out->dtype(), "op 'slice_axis'", [&](auto t) {
      using T = decltype(t);
      const auto& k = kernels<TensorOpsKernels<T>>(Device::cpu);
      T* gx = ctx.grad_in[0]->data<T>();
      if (!ctx.accumulate[0]) k.fill(gx, ctx.grad_in[0]->size(), T(0));
      k.copy2d(ctx.grad_out->data<T>(), r.size * v.inner, gx + r.begin * v.inner,
               v.extent * v.inner, v.outer, r.size * v.inner, true);
    });
  };
  return d;
}

// ---------------------------------------------------------------- flip
// Row i of each outer block comes from row extent-1-i: a copy with a negative source stride.
OpDef make_flip() {
  OpDef d;
  d.name = "flip";
  d.infer = [](const std::vector<TensorMeta>& in, const Attrs& attrs) {
    EMBER_CHECK(!in[0].shape.empty(), ValueError, "op 'flip': expected an input of rank >= 1, "
                "received a scalar");
    normalize_axis(attrs.get_int("axis", 0), static_cast<int>(in[0].shape.size()), "op 'flip'");
    return in[0];
  };
  d.forward = [](OpContext& ctx) {
    const Tensor& x = ctx.in(0);
    const AxisView v = axis_view(x.shape(), *ctx.attrs, "op 'flip'");
    const size_t elem = dtype_size(x.dtype());
    if (v.extent == 0) return;
    const int64_t block = v.extent * v.inner;
    const char* src = static_cast<const char*>(x.raw());
    char* dst = static_cast<char*>(ctx.output->raw());
    for (int64_t o = 0; o < v.outer; ++o)
      kernels<ShapeKernels>(Device::cpu)
          .copy2d(src + (o * block + (v.extent - 1) * v.inner) * elem, -v.inner,
                  dst + o * block * elem, v.inner, v.extent, v.inner, elem);
  };
  d.backward = [](GradContext& ctx) {
    if (!ctx.wants(0)) return;
    const AxisView v = axis_view(ctx.in(0).shape(), *ctx.attrs, "op 'flip'");
    if (v.extent == 0) return;
    const int64_t block = v.extent * v.inner;
    dispatch_float(ctx.grad_out->dtype(), "op 'flip'", [&](auto t) {
      using T = decltype(t);
      const auto& k = kernels<TensorOpsKernels<T>>(Device::cpu);
      for (int64_t o = 0; o < v.outer; ++o)
        k.copy2d(ctx.grad_out->data<T>() + o * block + (v.extent - 1) * v.inner, -v.inner,
                 ctx.grad_in[0]->data<T>() + o * block, v.inner, v.extent, v.inner,
                 ctx.accumulate[0]);
    });
  };
  return d;
}

EMBER_REGISTER_OP(make_slice_axis);
EMBER_REGISTER_OP(make_flip);

}  // namespace
}  // namespace ember
