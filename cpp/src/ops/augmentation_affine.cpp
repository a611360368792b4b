// image_affine(x[, transforms]): the geometric augmentations of Keras (RandomRotation,
// RandomTranslation, RandomZoom) as one op over channels_last images (n, h, w, c). Each sample
// is resampled through a 3x3 projective transform, Keras's affine_transform: output pixel
// (x, y) reads the input at ((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k), k = c0 x + c1 y + 1,
// with "fill_mode" reflect | wrap | constant | nearest ("fill_value" for constant) and
// "interpolation" bilinear | nearest. The output is linear in x; backward is the transpose.
//
// Transforms come from one of two places:
//   - the optional second input, (n, 8) rows [a0 a1 a2 b0 b1 b2 c0 c1] (Keras's `transform`
//     argument): applied whatever the mode; it never receives a gradient. Tests use it to fix
//     the parameters;
//   - otherwise drawn per sample from the node's counter-based stream when the op is active
//     ("training": -1 follows the plan, 0/1 force it; inactive = identity). Sample i draws
//     u_j = uniform01(seed, 5 i + j), j = 0..4, and composes, as Keras's layers build them:
//       rotation    angle = 2 pi * U(rotation_lower, rotation_upper)   about the image centre
//       translation ty = h * U(height_translation_*), tx = w * U(width_translation_*)
//       zoom        zy = 1 + U(height_zoom_*), zx = 1 + U(width_zoom_*) (zx = zy when the
//                   width_zoom_* attributes are absent: Keras's width_factor=None)
//     input point = Rotation . Translation . Zoom . output point. Unset ranges are [0, 0].
//     Backward redraws the same transforms from the same seed.
#include <array>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "ember/op.h"
#include "ember/rng.h"
#include "kernels/augmentation.h"

namespace ember {
namespace {

constexpr const char* kWho = "op 'image_affine'";
constexpr int kDraws = 5;  // per sample: angle, translate y, translate x, zoom y, zoom x
constexpr double kTwoPi = 6.283185307179586;

using Mat = std::array<double, 9>;  // row-major 3x3 over homogeneous (x, y, 1)

Mat matmul(const Mat& a, const Mat& b) {
  Mat m{};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 3; ++k) m[3 * i + j] += a[3 * i + k] * b[3 * k + j];
  return m;
}

// Keras's _compute_affine_matrix with only the angle set: a rotation about ((w-1)/2, (h-1)/2).
Mat rotation(double radians, int64_t h, int64_t w) {
  const double cx = 0.5 * static_cast<double>(w - 1), cy = 0.5 * static_cast<double>(h - 1);
  const double a0 = std::cos(radians), a1 = -std::sin(radians);
  const double b0 = std::sin(radians), b1 = std::cos(radians);
  return {a0, a1, cx - cx * a0 - cy * a1, b0, b1, cy - cx * b0 - cy * b1, 0, 0, 1};
}

// RandomTranslation's matrix: content moves by (tx, ty) pixels.
Mat translation(double ty, double tx) { return {1, 0, -tx, 0, 1, -ty, 0, 0, 1}; }

// RandomZoom's matrix: a scale about the image centre (> 1 samples a larger area: zoom out).
Mat zoom(double zy, double zx, int64_t h, int64_t w) {
  return {zx, 0, (static_cast<double>(w) - 1.0) / 2.0 * (1.0 - zx),
          0,  zy, (static_cast<double>(h) - 1.0) / 2.0 * (1.0 - zy),
          0,  0,  1};
}

struct Range {
  double lo = 0, hi = 0;
  double at(double u) const { return lo + (hi - lo) * u; }
  bool zero() const { return lo == 0 && hi == 0; }
};

Range range_of(const Attrs& a, const std::string& name) {
  Range r{a.get_float(name + "_lower", 0.0), a.get_float(name + "_upper", 0.0)};
  EMBER_CHECK(std::isfinite(r.lo) && std::isfinite(r.hi) && r.lo <= r.hi, ValueError, kWho,
              ": expected ", name, "_lower <= ", name, "_upper (finite), received ", r.lo,
              " and ", r.hi);
  return r;
}

struct Draws {
  Range rotation, translate_h, translate_w, zoom_h, zoom_w;
  bool zoom_w_from_h = true;
};

Draws draws_of(const Attrs& a) {
  Draws d;
  d.rotation = range_of(a, "rotation");
  d.translate_h = range_of(a, "height_translation");
  d.translate_w = range_of(a, "width_translation");
  d.zoom_h = range_of(a, "height_zoom");
  d.zoom_w_from_h = !a.has("width_zoom_lower") && !a.has("width_zoom_upper");
  d.zoom_w = d.zoom_w_from_h ? d.zoom_h : range_of(a, "width_zoom");
  for (const Range* z : {&d.zoom_h, &d.zoom_w})
    EMBER_CHECK(z->lo >= -1.0, ValueError, kWho, ": expected zoom factors of at least -1 (a "
                "zoom of 1 + factor must not be negative), received a lower bound of ", z->lo);
  return d;
}

FillMode fill_mode_of(const Attrs& a) {
  const std::string m = a.get_str("fill_mode", "reflect");
  if (m == "reflect") return FillMode::reflect;
  if (m == "wrap") return FillMode::wrap;
  if (m == "constant") return FillMode::constant;
  if (m == "nearest") return FillMode::nearest;
  throw ValueError(detail::concat(kWho, ": expected fill_mode 'reflect', 'wrap', 'constant' "
                                  "or 'nearest', received '", m, "'"));
}

Interpolation interpolation_of(const Attrs& a) {
  const std::string m = a.get_str("interpolation", "bilinear");
  if (m == "bilinear") return Interpolation::bilinear;
  if (m == "nearest") return Interpolation::nearest;
  throw ValueError(detail::concat(kWho, ": expected interpolation 'bilinear' or 'nearest', "
                                  "received '", m, "'"));
}

bool active(const OpContext& c) {
  if (c.inputs.size() > 1) return true;  // explicit transforms are always applied
  const int64_t forced = c.attrs->get_int("training", -1);
  return forced < 0 ? c.training : forced != 0;
}

// The rows of the transforms input, in double whatever its dtype.
std::vector<double> given_transforms(const Tensor& t) {
  std::vector<double> v(t.size());
  dispatch_float(t.dtype(), kWho, [&](auto z) {
    using T = decltype(z);
    for (int64_t i = 0; i < t.size(); ++i) v[i] = static_cast<double>(t.data<T>()[i]);
  });
  return v;
}

std::vector<double> drawn_transforms(const Attrs& a, int64_t n, int64_t h, int64_t w,
                                     uint64_t seed) {
  const Draws d = draws_of(a);
  std::vector<double> rows(n * kTransformSize);
  for (int64_t i = 0; i < n; ++i) {
    auto u = [&](int j) { return static_cast<double>(uniform01(seed, kDraws * i + j)); };
    const double zy = 1.0 + d.zoom_h.at(u(3));
    const double zx = d.zoom_w_from_h ? zy : 1.0 + d.zoom_w.at(u(4));
    const Mat m = matmul(matmul(rotation(kTwoPi * d.rotation.at(u(0)), h, w),
                                translation(d.translate_h.at(u(1)) * static_cast<double>(h),
                                            d.translate_w.at(u(2)) * static_cast<double>(w))),
                         zoom(zy, zx, h, w));
    // Normalised so the bottom-right entry is 1, as the 8-parameter form assumes.
    double* r = rows.data() + i * kTransformSize;
    for (int j = 0; j < kTransformSize; ++j) r[j] = m[j] / m[8];
  }
  return rows;
}

AffineGeom geom_of(const Tensor& x, const Attrs& a) {
  AffineGeom g;
  g.n = x.dim(0);
  g.h = x.dim(1);
  g.w = x.dim(2);
  g.c = x.dim(3);
  g.fill = fill_mode_of(a);
  g.interp = interpolation_of(a);
  g.fill_value = a.get_float("fill_value", 0.0);
  return g;
}

std::vector<double> transforms_of(const OpContext& c, const AffineGeom& g) {
  return c.inputs.size() > 1 ? given_transforms(c.in(1))
                             : drawn_transforms(*c.attrs, g.n, g.h, g.w, c.seed);
}

template <class F>
void with_kernels(DType t, F&& f) {
  dispatch_float(t, kWho, [&](auto z) {
    using T = decltype(z);
    f(kernels<AffineKernels<T>>(Device::cpu), z);
  });
}

OpDef make_image_affine() {
  OpDef d;
  d.name = "image_affine";
  d.min_inputs = 1;
  d.max_inputs = 2;
  d.nondiff_inputs = {1};
  d.infer = [](const std::vector<TensorMeta>& in, const Attrs& a) {
    const TensorMeta& x = in[0];
    EMBER_CHECK(is_floating(x.dtype), TypeError, kWho, ": expected float32 or float64 images, "
                "received ", dtype_name(x.dtype));
    EMBER_CHECK(x.shape.size() == 4, ValueError, kWho, ": expected images of rank 4 (batch, "
                "height, width, channels), received shape ", shape_str(x.shape));
    fill_mode_of(a);
    interpolation_of(a);
    EMBER_CHECK(std::isfinite(a.get_float("fill_value", 0.0)), ValueError, kWho,
                ": expected a finite fill_value, received ", a.get_float("fill_value", 0.0));
    draws_of(a);
    if (in.size() > 1) {
      const TensorMeta& t = in[1];
      EMBER_CHECK(is_floating(t.dtype), TypeError, kWho, ": expected float transforms, "
                  "received ", dtype_name(t.dtype));
      EMBER_CHECK(t.shape.size() == 2 && dims_match(t.shape[0], x.shape[0]) &&
                      t.shape[1] == kTransformSize,
                  ValueError, kWho, ": expected transforms of shape (batch, 8) for images of "
                  "shape ", shape_str(x.shape), ", received ", shape_str(t.shape));
    }
    return x;
  };
  d.forward = [](OpContext& c) {
    const Tensor& x = c.in(0);
    if (!active(c)) {
      std::memcpy(c.output->raw(), x.raw(), x.nbytes());
      return;
    }
    const AffineGeom g = geom_of(x, *c.attrs);
    const std::vector<double> t = transforms_of(c, g);
    with_kernels(x.dtype(), [&](const auto& k, auto z) {
      using T = decltype(z);
      k.affine(x.data<T>(), c.output->data<T>(), t.data(), g);
    });
  };
  d.backward = [](GradContext& c) {
    if (!c.wants(0)) return;
    const Tensor& x = c.in(0);
    const AffineGeom g = geom_of(x, *c.attrs);
    const bool on = active(c);
    const std::vector<double> t = on ? transforms_of(c, g) : std::vector<double>();
    with_kernels(x.dtype(), [&](const auto& k, auto z) {
      using T = decltype(z);
      const T* gy = c.grad_out->data<T>();
      T* gx = c.grad_in[0]->data<T>();
      if (on) {
        k.affine_backward(gy, gx, t.data(), g, c.accumulate[0]);
        return;
      }
      for (int64_t i = 0; i < x.size(); ++i) gx[i] = c.accumulate[0] ? gx[i] + gy[i] : gy[i];
    });
  };
  return d;
}

}  // namespace

EMBER_REGISTER_OP(make_image_affine);

}  // namespace ember
