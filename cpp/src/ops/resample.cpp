// Spatial resampling ops over channels_last inputs (batch, *spatial, channels):
//   pad              "pads" (before, after per spatial dim, >= 0), "value" (default 0):
//                    ZeroPadding1D/2D/3D. Backward crops the gradient.
//   crop             "crops" (before, after per spatial dim, >= 0): Cropping1D/2D/3D. Backward
//                    pads the gradient with zeros.
//   upsample_nearest "size" (repeat factor per spatial dim): UpSampling1D/2D/3D. Backward sums
//                    each block of copies.
//   resize_bilinear  "size" (2 factors), rank 4 only: UpSampling2D(interpolation='bilinear'),
//                    i.e. Keras's ops.image.resize with antialias=False (half-pixel centers).
//                    Backward is the transpose of the interpolation.
// pad, crop and upsample_nearest take rank 3, 4 or 5 (1, 2 or 3 spatial dims); the kernels see
// every case as 3-D with leading spatial extents of 1.
#include <string>
#include <vector>

#include "ember/op.h"
#include "kernels/resample.h"

namespace ember {
namespace {

std::string ints_str(const std::vector<int64_t>& v) {  // "(1, 2)": attribute values
  std::string s = "(";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + (v.size() == 1 ? ",)" : ")");
}

// Checks the dtype and the rank; returns the number of spatial dimensions.
int spatial_dims(const std::string& op, const TensorMeta& in, int min_rank, int max_rank) {
  EMBER_CHECK(is_floating(in.dtype), TypeError, "op '", op, "': expected a float32 or float64 "
              "input, received ", dtype_name(in.dtype));
  const int rank = static_cast<int>(in.shape.size());
  if (min_rank == max_rank)
    EMBER_CHECK(rank == min_rank, ValueError, "op '", op, "': expected an input of rank ",
                min_rank, " (batch, *spatial, channels), received shape ", shape_str(in.shape));
  else
    EMBER_CHECK(rank >= min_rank && rank <= max_rank, ValueError, "op '", op, "': expected an "
                "input of rank ", min_rank, " to ", max_rank, " (batch, *spatial, channels), "
                "received shape ", shape_str(in.shape));
  return rank - 2;
}

// The integer list attribute `name`: `count` values, each >= `min`.
std::vector<int64_t> int_list(const std::string& op, const Attrs& attrs, const char* name,
                              int count, int64_t min, const char* what, const Shape& in) {
  EMBER_CHECK(attrs.has(name), ValueError, "op '", op, "': missing the attribute '", name, "'");
  const std::vector<int64_t> v = attrs.get_ints(name, {});
  EMBER_CHECK(static_cast<int>(v.size()) == count, ValueError, "op '", op, "': expected ", name,
              " to hold ", count, " integers (", what, " of input shape ", shape_str(in),
              "), received ", ints_str(v));
  for (int64_t e : v)
    EMBER_CHECK(e >= min, ValueError, "op '", op, "': expected ", name, " to be ",
                min == 0 ? "non-negative" : "positive", ", received ", ints_str(v));
  return v;
}

int64_t known_or(int64_t len, int64_t value) { return len == kUnknown ? kUnknown : value; }

// A 3-D box description: the spatial extents of `small` at `offsets` inside those of `big`.
BoxGeom box_geom(const Shape& small, const Shape& big, const std::vector<int64_t>& edges) {
  const int s = static_cast<int>(small.size()) - 2, lead = 3 - s;
  BoxGeom g;
  g.n = small.front();
  g.c = small.back();
  for (int a = 0; a < s; ++a) {
    g.inner[lead + a] = small[a + 1];
    g.outer[lead + a] = big[a + 1];
    g.offset[lead + a] = edges[2 * a];  // the "before" of each (before, after) pair
  }
  return g;
}

template <class F>
void with_kernels(DType t, const std::string& op, F&& f) {
  const std::string who = "op '" + op + "'";
  dispatch_float(t, who.c_str(), [&](auto z) {
    using T = decltype(z);
    f(kernels<ResampleKernels<T>>(Device::cpu), z);
  });
}

// ---------------------------------------------------------------- pad

std::vector<int64_t> pads_of(const TensorMeta& in, const Attrs& attrs) {
  const int s = spatial_dims("pad", in, 3, 5);
  return int_list("pad", attrs, "pads", 2 * s, 0, "before and after each spatial dimension",
                  in.shape);
}

OpDef make_pad() {
  OpDef d;
  d.name = "pad";
  d.infer = [](const std::vector<TensorMeta>& in, const Attrs& attrs) {
    const std::vector<int64_t> p = pads_of(in[0], attrs);
    TensorMeta out = in[0];
    for (size_t a = 0; a < p.size() / 2; ++a) {
      const int64_t len = in[0].shape[a + 1];
      out.shape[a + 1] = known_or(len, len + p[2 * a] + p[2 * a + 1]);
    }
    return out;
  };
  d.forward = [](OpContext& ctx) {
    const Tensor& x = ctx.in(0);
    const BoxGeom g = box_geom(x.shape(), ctx.output->shape(),
                               pads_of({x.shape(), x.dtype()}, *ctx.attrs));
    const double value = ctx.attrs->get_float("value", 0.0);
    with_kernels(x.dtype(), "pad", [&](const auto& k, auto z) {
      using T = decltype(z);
      k.pad(x.data<T>(), ctx.output->data<T>(), g, static_cast<T>(value), false);
    });
  };
  d.backward = [](GradContext& ctx) {  // the gradient of the border is dropped
    if (!ctx.wants(0)) return;
    const Tensor& x = ctx.in(0);
    const BoxGeom g = box_geom(x.shape(), ctx.grad_out->shape(),
                               pads_of({x.shape(), x.dtype()}, *ctx.attrs));
    with_kernels(x.dtype(), "pad", [&](const auto& k, auto z) {
      using T = decltype(z);
      k.crop(ctx.grad_out->data<T>(), ctx.grad_in[0]->data<T>(), g, ctx.accumulate[0]);
    });
  };
  return d;
}

// ---------------------------------------------------------------- crop

std::vector<int64_t> crops_of(const TensorMeta& in, const Attrs& attrs) {
  const int s = spatial_dims("crop", in, 3, 5);
  const std::vector<int64_t> c = int_list("crop", attrs, "crops", 2 * s, 0,
                                          "before and after each spatial dimension", in.shape);
  for (int a = 0; a < s; ++a) {
    const int64_t len = in.shape[a + 1];
    EMBER_CHECK(len == kUnknown || c[2 * a] + c[2 * a + 1] < len, ValueError, "op 'crop': "
                "crops ", ints_str(c), " remove all of spatial axis ", a + 1, " (extent ", len,
                ") of input shape ", shape_str(in.shape), "; each pair must sum to less than "
                "the extent");
  }
  return c;
}

OpDef make_crop() {
  OpDef d;
  d.name = "crop";
  d.infer = [](const std::vector<TensorMeta>& in, const Attrs& attrs) {
    const std::vector<int64_t> c = crops_of(in[0], attrs);
    TensorMeta out = in[0];
    for (size_t a = 0; a < c.size() / 2; ++a) {
      const int64_t len = in[0].shape[a + 1];
      out.shape[a + 1] = known_or(len, len - c[2 * a] - c[2 * a + 1]);
    }
    return out;
  };
  d.forward = [](OpContext& ctx) {
    const Tensor& x = ctx.in(0);
    const BoxGeom g = box_geom(ctx.output->shape(), x.shape(),
                               crops_of({x.shape(), x.dtype()}, *ctx.attrs));
    with_kernels(x.dtype(), "crop", [&](const auto& k, auto z) {
      using T = decltype(z);
      k.crop(x.data<T>(), ctx.output->data<T>(), g, false);
    });
  };
  d.backward = [](GradContext& ctx) {  // zeros where the input was cropped away
    if (!ctx.wants(0)) return;
    const Tensor& x = ctx.in(0);
    const BoxGeom g = box_geom(ctx.grad_out->shape(), x.shape(),
                               crops_of({x.shape(), x.dtype()}, *ctx.attrs));
    with_kernels(x.dtype(), "crop", [&](const auto& k, auto z) {
      using T = decltype(z);
      k.pad(ctx.grad_out->data<T>(), ctx.grad_in[0]->data<T>(), g, T(0), ctx.accumulate[0]);
    });
  };
  return d;
}

// ---------------------------------------------------------------- upsample_nearest

std::vector<int64_t> factors_of(const std::string& op, const TensorMeta& in, const Attrs& attrs,
                                int min_rank, int max_rank) {
  const int s = spatial_dims(op, in, min_rank, max_rank);
  return int_list(op, attrs, "size", s, 1, "one repeat factor per spatial dimension", in.shape);
}

TensorMeta upsampled(const TensorMeta& in, const std::vector<int64_t>& f) {
  TensorMeta out = in;
  for (size_t a = 0; a < f.size(); ++a) {
    const int64_t len = in.shape[a + 1];
    out.shape[a + 1] = known_or(len, len * f[a]);
  }
  return out;
}

UpsampleGeom upsample_geom(const Tensor& x, const Attrs& attrs) {
  const std::vector<int64_t> f = factors_of("upsample_nearest", {x.shape(), x.dtype()}, attrs,
                                            3, 5);
  const int s = static_cast<int>(f.size()), lead = 3 - s;
  UpsampleGeom g;
  g.n = x.dim(0);
  g.c = x.dim(-1);
  for (int a = 0; a < s; ++a) {
    g.in[lead + a] = x.dim(a + 1);
    g.factor[lead + a] = f[a];
  }
  return g;
}

OpDef make_upsample_nearest() {
  OpDef d;
  d.name = "upsample_nearest";
  d.infer = [](const std::vector<TensorMeta>& in, const Attrs& attrs) {
    return upsampled(in[0], factors_of("upsample_nearest", in[0], attrs, 3, 5));
  };
  d.forward = [](OpContext& ctx) {
    const Tensor& x = ctx.in(0);
    const UpsampleGeom g = upsample_geom(x, *ctx.attrs);
    with_kernels(x.dtype(), "upsample_nearest", [&](const auto& k, auto z) {
      using T = decltype(z);
      k.upsample_nearest(x.data<T>(), ctx.output->data<T>(), g);
    });
  };
  d.backward = [](GradContext& ctx) {
    if (!ctx.wants(0)) return;
    const Tensor& x = ctx.in(0);
    const UpsampleGeom g = upsample_geom(x, *ctx.attrs);
    with_kernels(x.dtype(), "upsample_nearest", [&](const auto& k, auto z) {
      using T = decltype(z);
      k.upsample_nearest_backward(ctx.grad_out->data<T>(), ctx.grad_in[0]->data<T>(), g,
                                  ctx.accumulate[0]);
    });
  };
  return d;
}

// ---------------------------------------------------------------- resize_bilinear

OpDef make_resize_bilinear() {
  OpDef d;
  d.name = "resize_bilinear";
  d.infer = [](const std::vector<TensorMeta>& in, const Attrs& attrs) {
    return upsampled(in[0], factors_of("resize_bilinear", in[0], attrs, 4, 4));
  };
  d.forward = [](OpContext& ctx) {
    const Tensor& x = ctx.in(0);
    const Tensor& y = *ctx.output;
    with_kernels(x.dtype(), "resize_bilinear", [&](const auto& k, auto z) {
      using T = decltype(z);
      k.resize_bilinear(x.data<T>(), y.data<T>(), x.dim(0), x.dim(1), x.dim(2), x.dim(3),
                        y.dim(1), y.dim(2));
    });
  };
  d.backward = [](GradContext& ctx) {
    if (!ctx.wants(0)) return;
    const Tensor& x = ctx.in(0);
    const Tensor& y = *ctx.grad_out;
    with_kernels(x.dtype(), "resize_bilinear", [&](const auto& k, auto z) {
      using T = decltype(z);
      k.resize_bilinear_backward(ctx.grad_out->data<T>(), ctx.grad_in[0]->data<T>(), x.dim(0),
                                 x.dim(1), x.dim(2), x.dim(3), y.dim(1), y.dim(2),
                                 ctx.accumulate[0]);
    });
  };
  return d;
}

}  // namespace

EMBER_REGISTER_OP(make_pad);
EMBER_REGISTER_OP(make_crop);
EMBER_REGISTER_OP(make_upsample_nearest);
EMBER_REGISTER_OP(make_resize_bilinear);

}  // namespace ember
