// Shape ops: reshape, transpose, concatenate, expand_dims, squeeze. Forward moves bytes, so every
// dtype works; backward (float32/float64) moves the gradient back, assigning or accumulating.
#include <algorithm>
#include <string>
#include <vector>

#include "ember/op.h"
#include "kernels/tensor_ops.h"

namespace ember {
namespace {

std::string ints_str(const std::vector<int64_t>& v) {  // "(4, -1)": attribute values, not shapes
  std::string s = "(";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + (v.size() == 1 ? ",)" : ")");
}

// Forward of the ops that keep the element order: one contiguous copy (none when in place).
void copy_forward(OpContext& ctx) {
  const Tensor& x = ctx.in(0);
  const int64_t n = x.size();
  kernels<ShapeKernels>(Device::cpu)
      .copy2d(x.raw(), n, ctx.output->raw(), n, 1, n, dtype_size(x.dtype()));
}

// Backward of the same ops: the gradient keeps the element order too.
void copy_backward(GradContext& ctx, const char* who) {
  if (!ctx.wants(0)) return;
  const int64_t n = ctx.grad_out->size();
  dispatch_float(ctx.grad_out->dtype(), who, [&](auto t) {
    using T = decltype(t);
    kernels<TensorOpsKernels<T>>(Device::cpu)
        .copy2d(ctx.grad_out->data<T>(), n, ctx.grad_in[0]->data<T>(), n, 1, n,
                ctx.accumulate[0]);
  });
}

// ---------------------------------------------------------------- reshape
// Output shape = input.shape[:keep_leading] + shape, where one -1 in `shape` is inferred from the
// element count (unknown when the input's trailing extents are unknown).
Shape reshape_shape(const Shape& in, const Attrs& attrs) {
  EMBER_CHECK(attrs.has("shape"), ValueError, "op 'reshape': missing the attribute 'shape'");
  const std::vector<int64_t> target = attrs.get_ints("shape", {});
  const int64_t keep = attrs.get_int("keep_leading", 0);
  const int rank = static_cast<int>(in.size());
  EMBER_CHECK(keep >= 0 && keep <= rank, ValueError, "op 'reshape': expected keep_leading in [0, ",
              rank, "] for input shape ", shape_str(in), ", received ", keep);
  int infer_at = -1;
  int64_t known = 1;
  for (size_t i = 0; i < target.size(); ++i) {
    if (target[i] == -1) {
      EMBER_CHECK(infer_at < 0, ValueError, "op 'reshape': at most one -1 may appear in the target ",
                  ints_str(target));
      infer_at = static_cast<int>(i);
    } else {
      EMBER_CHECK(target[i] >= 0, ValueError, "op 'reshape': target extents must be >= 0 or -1, "
                  "received ", ints_str(target));
      known *= target[i];
    }
  }
  const Shape tail(in.begin() + keep, in.end());
  const int64_t count = numel(tail);  // kUnknown when an extent is unknown
  Shape out(in.begin(), in.begin() + keep);
  out.insert(out.end(), target.begin(), target.end());
  auto fail = [&](const char* why) {
    throw ValueError(detail::concat("op 'reshape': cannot reshape input of shape ", shape_str(in),
                                    " into ", ints_str(target), " (keeping ", keep,
                                    " leading axes): ", why));
  };
  if (infer_at >= 0) {
    if (count == kUnknown) {
      out[keep + infer_at] = kUnknown;
    } else {
      if (known == 0) fail("the -1 is ambiguous when the other extents hold no elements");
      if (count % known != 0) fail("the element count is not divisible by the given extents");
      out[keep + infer_at] = count / known;
    }
  } else if (count != kUnknown && count != known) {
    fail("the element counts differ");
  }
  return out;
}

OpDef make_reshape() {
  OpDef d;
  d.name = "reshape";
  d.infer = [](const std::vector<TensorMeta>& in, const Attrs& attrs) {
    return TensorMeta{reshape_shape(in[0].shape, attrs), in[0].dtype};
  };
  d.forward = copy_forward;
  d.backward = [](GradContext& ctx) { copy_backward(ctx, "op 'reshape'"); };
  return d;
}

// ---------------------------------------------------------------- transpose
// "perm" (absent = reversed axes); y's axis i is x's axis perm[i].
std::vector<int> transpose_perm(int rank, const Attrs& attrs) {
  std::vector<int> perm(rank);
  if (!attrs.has("perm")) {
    for (int i = 0; i < rank; ++i) perm[i] = rank - 1 - i;
    return perm;
  }
  const std::vector<int64_t> p = attrs.get_ints("perm", {});
  bool ok = static_cast<int>(p.size()) == rank;
  std::vector<bool> seen(rank, false);
  for (int i = 0; ok && i < rank; ++i) {
    ok = p[i] >= -rank && p[i] < rank;
    if (!ok) break;
    perm[i] = static_cast<int>(p[i] < 0 ? p[i] + rank : p[i]);
    ok = !seen[perm[i]];
    seen[perm[i]] = true;
  }
  EMBER_CHECK(ok, ValueError, "op 'transpose': expected perm to be a permutation of the ", rank,
              " axes of the input, received ", ints_str(p));
  return perm;
}

OpDef make_transpose() {
  OpDef d;
  d.name = "transpose";
  d.infer = [](const std::vector<TensorMeta>& in, const Attrs& attrs) {
    const Shape& s = in[0].shape;
    const std::vector<int> perm = transpose_perm(static_cast<int>(s.size()), attrs);
    TensorMeta out{Shape(s.size()), in[0].dtype};
    for (size_t i = 0; i < s.size(); ++i) out.shape[i] = s[perm[i]];
    return out;
  };
  d.forward = [](OpContext& ctx) {
    const Tensor& x = ctx.in(0);
    const std::vector<int> perm = transpose_perm(x.rank(), *ctx.attrs);
    kernels<ShapeKernels>(Device::cpu)
        .permute(x.raw(), ctx.output->raw(), dtype_size(x.dtype()), x.rank(), x.shape().data(),
                 perm.data());
  };
  d.backward = [](GradContext& ctx) {
    if (!ctx.wants(0)) return;
    const int rank = ctx.in(0).rank();
    const std::vector<int> perm = transpose_perm(rank, *ctx.attrs);
    std::vector<int> inverse(rank);
    for (int i = 0; i < rank; ++i) inverse[perm[i]] = i;
    dispatch_float(ctx.grad_out->dtype(), "op 'transpose'", [&](auto t) {
      using T = decltype(t);
      kernels<TensorOpsKernels<T>>(Device::cpu)
          .permute(ctx.grad_out->data<T>(), ctx.grad_in[0]->data<T>(), rank,
                   ctx.grad_out->shape().data(), inverse.data(), ctx.accumulate[0]);
    });
  };
  return d;
}

// ---------------------------------------------------------------- concatenate
// Inputs viewed as (outer, extent_i * inner) blocks placed side by side in the output.
struct ConcatGeom {
  int axis;
  int64_t outer = 1, inner = 1, total = 0;
};

ConcatGeom concat_geom(const Shape& first, const Shape& out, const Attrs& attrs) {
  ConcatGeom g;
  const int rank = static_cast<int>(first.size());
  g.axis = normalize_axis(attrs.get_int("axis", -1), rank, "op 'concatenate'");
  for (int a = 0; a < g.axis; ++a) g.outer *= out[a];
  for (int a = g.axis + 1; a < rank; ++a) g.inner *= out[a];
  g.total = out[g.axis];
  return g;
}

OpDef make_concatenate() {
  OpDef d;
  d.name = "concatenate";
  d.min_inputs = 1;
  d.max_inputs = -1;
  d.infer = [](const std::vector<TensorMeta>& in, const Attrs& attrs) {
    EMBER_CHECK(!in.empty(), ValueError, "op 'concatenate': expected at least one input");
    const Shape& s0 = in[0].shape;
    const int rank = static_cast<int>(s0.size());
    EMBER_CHECK(rank > 0, ValueError,
                "op 'concatenate': expected inputs of rank >= 1, received a scalar");
    const int axis = normalize_axis(attrs.get_int("axis", -1), rank, "op 'concatenate'");
    TensorMeta out{s0, in[0].dtype};
    for (size_t i = 1; i < in.size(); ++i) {
      const Shape& s = in[i].shape;
      EMBER_CHECK(in[i].dtype == in[0].dtype, TypeError, "op 'concatenate': expected every input "
                  "to have dtype ", dtype_name(in[0].dtype), ", received ",
                  dtype_name(in[i].dtype), " for input ", i);
      bool ok = s.size() == s0.size();
      for (int a = 0; ok && a < rank; ++a) {
        if (a == axis) continue;
        ok = dims_match(out.shape[a], s[a]);
        if (out.shape[a] == kUnknown) out.shape[a] = s[a];
      }
      EMBER_CHECK(ok, ValueError, "op 'concatenate': expected all extents but axis ", axis,
                  " to agree, received ", shape_str(s0), " for input 0 and ", shape_str(s),
                  " for input ", i);
      out.shape[axis] = (out.shape[axis] == kUnknown || s[axis] == kUnknown)
                            ? kUnknown
                            : out.shape[axis] + s[axis];
    }
    return out;
  };
  d.forward = [](OpContext& ctx) {
    const ConcatGeom g = concat_geom(ctx.in(0).shape(), ctx.output->shape(), *ctx.attrs);
    const size_t elem = dtype_size(ctx.output->dtype());
    char* y = static_cast<char*>(ctx.output->raw());
    int64_t offset = 0;
    for (const Tensor* x : ctx.inputs) {
      const int64_t cols = x->dim(g.axis) * g.inner;
      kernels<ShapeKernels>(Device::cpu)
          .copy2d(x->raw(), cols, y + offset * g.inner * elem, g.total * g.inner, g.outer, cols,
                  elem);
      offset += x->dim(g.axis);
    }
  };
  d.backward = [](GradContext& ctx) {
    const ConcatGeom g = concat_geom(ctx.in(0).shape(), ctx.output->shape(), *ctx.attrs);
    dispatch_float(ctx.grad_out->dtype(), "op 'concatenate'", [&](auto t) {
      using T = decltype(t);
      const T* gy = ctx.grad_out->data<T>();
      int64_t offset = 0;
      for (size_t i = 0; i < ctx.inputs.size(); ++i) {
        const int64_t cols = ctx.in(static_cast<int>(i)).dim(g.axis) * g.inner;
        if (ctx.wants(static_cast<int>(i)))
          kernels<TensorOpsKernels<T>>(Device::cpu)
              .copy2d(gy + offset * g.inner, g.total * g.inner, ctx.grad_in[i]->data<T>(), cols,
                      g.outer, cols, ctx.accumulate[i]);
        offset += ctx.in(static_cast<int>(i)).dim(g.axis);
      }
    });
  };
  return d;
}

// ---------------------------------------------------------------- expand_dims
// "axis": an int or a list of ints, positions in the output (rank + number of new axes).
OpDef make_expand_dims() {
  OpDef d;
  d.name = "expand_dims";
  d.infer = [](const std::vector<TensorMeta>& in, const Attrs& attrs) {
    EMBER_CHECK(attrs.has("axis"), ValueError, "op 'expand_dims': missing the attribute 'axis'");
    const Shape& s = in[0].shape;
    const std::vector<int64_t> axes = attrs.get_ints("axis", {});
    const int out_rank = static_cast<int>(s.size() + axes.size());
    std::vector<bool> is_new(out_rank, false);
    for (int64_t a : axes) {
      const int ax = normalize_axis(a, out_rank, "op 'expand_dims'");
      EMBER_CHECK(!is_new[ax], ValueError, "op 'expand_dims': axis ", a,
                  " is repeated in the axis list ", ints_str(axes));
      is_new[ax] = true;
    }
    TensorMeta out{{}, in[0].dtype};
    size_t next = 0;
    for (int a = 0; a < out_rank; ++a) out.shape.push_back(is_new[a] ? 1 : s[next++]);
    return out;
  };
  d.forward = copy_forward;
  d.backward = [](GradContext& ctx) { copy_backward(ctx, "op 'expand_dims'"); };
  return d;
}

// ---------------------------------------------------------------- squeeze
// "axis": list of ints (absent = every axis of extent 1; unknown extents are kept then, and an
// unknown extent named explicitly is taken to be 1, checked again once shapes are concrete).
OpDef make_squeeze() {
  OpDef d;
  d.name = "squeeze";
  d.infer = [](const std::vector<TensorMeta>& in, const Attrs& attrs) {
    const Shape& s = in[0].shape;
    const int rank = static_cast<int>(s.size());
    std::vector<bool> drop(rank, false);
    if (!attrs.has("axis")) {
      for (int a = 0; a < rank; ++a) drop[a] = s[a] == 1;
    } else {
      for (int64_t a : attrs.get_ints("axis", {})) {
        const int ax = normalize_axis(a, rank, "op 'squeeze'");
        EMBER_CHECK(!drop[ax], ValueError, "op 'squeeze': axis ", a, " is repeated");
        EMBER_CHECK(s[ax] == 1 || s[ax] == kUnknown, ValueError, "op 'squeeze': cannot squeeze "
                    "axis ", a, " of shape ", shape_str(s), ": expected extent 1, received ",
                    s[ax]);
        drop[ax] = true;
      }
    }
    TensorMeta out{{}, in[0].dtype};
    for (int a = 0; a < rank; ++a)
      if (!drop[a]) out.shape.push_back(s[a]);
    return out;
  };
  d.forward = copy_forward;
  d.backward = [](GradContext& ctx) { copy_backward(ctx, "op 'squeeze'"); };
  return d;
}

}  // namespace

EMBER_REGISTER_OP(make_reshape);
EMBER_REGISTER_OP(make_transpose);
EMBER_REGISTER_OP(make_concatenate);
EMBER_REGISTER_OP(make_expand_dims);
EMBER_REGISTER_OP(make_squeeze);

}  // namespace ember
