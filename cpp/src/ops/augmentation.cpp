// Per-sample augmentations of channels_last images (n, h, w, c), Keras 3 semantics:
//
//   random_flip(x[, flips])        "mode": horizontal | vertical | horizontal_and_vertical.
//       Sample i is flipped when uniform01(seed, i) <= 0.5; in horizontal_and_vertical mode
//       that one draw flips both axes (Keras's RandomFlip: the image is either unchanged or
//       turned by 180 degrees). flips: (n, 1), nonzero = flip.
//   random_crop(x[, offsets])      "height", "width": the output's spatial size. Active with
//       an image larger than the target in both axes: one window for the whole batch (Keras
//       crops every image of a batch at the same place) at top = floor(u0 (h - height + 1)),
//       left = floor(u1 (w - width + 1)), u_j = uniform01(seed, j). Otherwise (inference, or
//       an image not larger than the target) Keras's deterministic window, resized bilinearly
//       (half-pixel centres) to (height, width) when its size differs: the largest centred
//       window of the target's aspect ratio, as Keras documents; for an image smaller than
//       the target in an axis, what Keras's code does instead: from that window's corner,
//       height x width pixels cut at the image's edge. offsets: (n, 2) integral (top, left)
//       of per-sample windows of the target size.
//   random_contrast(x[, factors])  "lower", "upper" (Keras's factor pair), "value_min",
//       "value_max" (value_range): y = clip((x - m) f + m, value_min, value_max), m the mean
//       of each channel over the image, f = U(1 - lower, 1 + upper) drawn per sample at
//       uniform01(seed, i). factors: (n, 1).
//
// "training": -1 follows the plan, 0/1 force it; inactive flip and contrast are the identity.
// The optional second input fixes the parameters (tests, parity with Keras) and is applied
// whatever the mode; it never receives a gradient. Without it, backward redraws the parameters
// from the node's seed, so nothing is stored.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "ember/op.h"
#include "ember/rng.h"
#include "kernels/augmentation.h"

namespace ember {
namespace {

bool active(const OpContext& c) {
  if (c.inputs.size() > 1) return true;
  const int64_t forced = c.attrs->get_int("training", -1);
  return forced < 0 ? c.training : forced != 0;
}

// Checks the images (float, rank 4) and the optional parameters input ((batch, k), float).
void check_inputs(const std::string& op, const std::vector<TensorMeta>& in, int64_t k,
                  const char* what) {
  const TensorMeta& x = in[0];
  EMBER_CHECK(is_floating(x.dtype), TypeError, "op '", op, "': expected float32 or float64 "
              "images, received ", dtype_name(x.dtype));
  EMBER_CHECK(x.shape.size() == 4, ValueError, "op '", op, "': expected images of rank 4 "
              "(batch, height, width, channels), received shape ", shape_str(x.shape));
  if (in.size() < 2) return;
  const TensorMeta& p = in[1];
  EMBER_CHECK(is_floating(p.dtype), TypeError, "op '", op, "': expected float ", what,
              ", received ", dtype_name(p.dtype));
  EMBER_CHECK(p.shape.size() == 2 && dims_match(p.shape[0], x.shape[0]) && p.shape[1] == k,
              ValueError, "op '", op, "': expected ", what, " of shape (batch, ", k,
              ") for images of shape ", shape_str(x.shape), ", received ", shape_str(p.shape));
}

std::vector<double> rows_of(const Tensor& t, const std::string& op) {
  std::vector<double> v(t.size());
  dispatch_float(t.dtype(), op.c_str(), [&](auto z) {
    using T = decltype(z);
    for (int64_t i = 0; i < t.size(); ++i) v[i] = static_cast<double>(t.data<T>()[i]);
  });
  return v;
}

template <class F>
void with_kernels(DType t, const char* who, F&& f) {
  dispatch_float(t, who, [&](auto z) {
    using T = decltype(z);
    f(kernels<AugmentKernels<T>>(Device::cpu), z);
  });
}

template <class T>
void pass_through(const Tensor& g, Tensor& gx, bool accumulate) {
  const T* src = g.data<T>();
  T* dst = gx.data<T>();
  for (int64_t i = 0; i < g.size(); ++i) dst[i] = accumulate ? dst[i] + src[i] : src[i];
}

// ---------------------------------------------------------------- random_flip

struct FlipAxes {
  bool horizontal, vertical;
};

FlipAxes flip_axes(const Attrs& a) {
  const std::string m = a.get_str("mode", "horizontal_and_vertical");
  if (m == "horizontal") return {true, false};
  if (m == "vertical") return {false, true};
  if (m == "horizontal_and_vertical") return {true, true};
  throw ValueError(detail::concat("op 'random_flip': expected mode 'horizontal', 'vertical' or "
                                  "'horizontal_and_vertical', received '", m, "'"));
}

std::vector<uint8_t> flips_of(const OpContext& c, int64_t n) {
  std::vector<uint8_t> f(n);
  if (c.inputs.size() > 1) {
    const std::vector<double> given = rows_of(c.in(1), "op 'random_flip'");
    for (int64_t i = 0; i < n; ++i) f[i] = given[i] != 0.0;
  } else {
    for (int64_t i = 0; i < n; ++i) f[i] = uniform01(c.seed, static_cast<uint64_t>(i)) <= 0.5f;
  }
  return f;
}

// y (=|+=) the flipped src: the forward on x and, a flip being its own transpose, the backward.
void run_flip(const OpContext& c, const Tensor& src, Tensor& dst, bool accumulate) {
  const FlipAxes axes = flip_axes(*c.attrs);
  const std::vector<uint8_t> f = flips_of(c, src.dim(0));
  with_kernels(src.dtype(), "op 'random_flip'", [&](const auto& k, auto z) {
    using T = decltype(z);
    k.flip(src.data<T>(), dst.data<T>(), f.data(), src.dim(0), src.dim(1), src.dim(2),
           src.dim(3), axes.horizontal, axes.vertical, accumulate);
  });
}

OpDef make_random_flip() {
  OpDef d;
  d.name = "random_flip";
  d.max_inputs = 2;
  d.nondiff_inputs = {1};
  d.infer = [](const std::vector<TensorMeta>& in, const Attrs& a) {
    check_inputs("random_flip", in, 1, "flips");
    flip_axes(a);
    return in[0];
  };
  d.forward = [](OpContext& c) {
    if (!active(c)) {
      std::memcpy(c.output->raw(), c.in(0).raw(), c.in(0).nbytes());
      return;
    }
    run_flip(c, c.in(0), *c.output, false);
  };
  d.backward = [](GradContext& c) {
    if (!c.wants(0)) return;
    if (active(c)) {
      run_flip(c, *c.grad_out, *c.grad_in[0], c.accumulate[0]);
      return;
    }
    dispatch_float(c.grad_out->dtype(), "op 'random_flip'", [&](auto z) {
      pass_through<decltype(z)>(*c.grad_out, *c.grad_in[0], c.accumulate[0]);
    });
  };
  return d;
}

// ---------------------------------------------------------------- random_crop

struct CropTarget {
  int64_t height, width;
};

CropTarget crop_target(const Attrs& a) {
  EMBER_CHECK(a.has("height") && a.has("width"), ValueError,
              "op 'random_crop': missing the attribute 'height' or 'width'");
  const CropTarget t{a.get_int("height", 0), a.get_int("width", 0)};
  EMBER_CHECK(t.height > 0 && t.width > 0, ValueError, "op 'random_crop': expected a positive "
              "height and width, received (", t.height, ", ", t.width, ")");
  return t;
}

// The windows of one step: per-sample offsets, the window size and the geometry.
struct CropPlan {
  CropGeom g;
  std::vector<int64_t> offsets;  // n x (top, left)
};

CropPlan crop_plan(const OpContext& c) {
  const Tensor& x = c.in(0);
  const CropTarget t = crop_target(*c.attrs);
  CropPlan p;
  p.g.n = x.dim(0);
  p.g.h = x.dim(1);
  p.g.w = x.dim(2);
  p.g.c = x.dim(3);
  p.g.oh = t.height;
  p.g.ow = t.width;
  p.offsets.assign(2 * p.g.n, 0);
  EMBER_CHECK(p.g.h > 0 && p.g.w > 0, ValueError, "op 'random_crop': expected images with a "
              "positive height and width, received shape ", shape_str(x.shape()));
  if (c.inputs.size() > 1) {  // explicit windows of the target size
    const std::vector<double> given = rows_of(c.in(1), "op 'random_crop'");
    p.g.box_h = t.height;
    p.g.box_w = t.width;
    for (int64_t i = 0; i < 2 * p.g.n; ++i) {
      const double v = given[i];
      const int64_t limit = i % 2 == 0 ? p.g.h - t.height : p.g.w - t.width;
      EMBER_CHECK(v == std::floor(v) && v >= 0 && v <= static_cast<double>(limit), ValueError,
                  "op 'random_crop': offset ", i % 2 == 0 ? "top" : "left", " of sample ",
                  i / 2, " is ", v, "; expected an integer in [0, ", limit, "] (a window of ",
                  t.height, "x", t.width, " inside images of shape ", shape_str(x.shape()), ")");
      p.offsets[i] = static_cast<int64_t>(v);
    }
    return p;
  }
  if (active(c) && p.g.h > t.height && p.g.w > t.width) {  // one random window per batch
    // Keras: int(uniform(0, positions)), uniform over the h - height + 1 possible tops.
    const double u0 = uniform01(c.seed, 0), u1 = uniform01(c.seed, 1);
    const int64_t top = static_cast<int64_t>(u0 * static_cast<double>(p.g.h - t.height + 1));
    const int64_t left = static_cast<int64_t>(u1 * static_cast<double>(p.g.w - t.width + 1));
    p.g.box_h = t.height;
    p.g.box_w = t.width;
    for (int64_t i = 0; i < p.g.n; ++i) {
      p.offsets[2 * i] = std::min(top, p.g.h - t.height);
      p.offsets[2 * i + 1] = std::min(left, p.g.w - t.width);
    }
    return p;
  }
  // Keras's window: the largest centred crop of the target aspect ratio (its arithmetic).
  int64_t ch = static_cast<int64_t>(static_cast<double>(p.g.w * t.height) / t.width);
  int64_t cw = static_cast<int64_t>(static_cast<double>(p.g.h * t.width) / t.height);
  ch = std::max<int64_t>(std::min(p.g.h, ch), 1);
  cw = std::max<int64_t>(std::min(p.g.w, cw), 1);
  const int64_t top = static_cast<int64_t>(static_cast<double>(p.g.h - ch) / 2);
  const int64_t left = static_cast<int64_t>(static_cast<double>(p.g.w - cw) / 2);
  if (p.g.h < t.height || p.g.w < t.width) {
    // An image smaller than the target: Keras's code slices target-sized rows and columns
    // from that window's corner, cut at the image's edge (not the window itself).
    ch = std::min(t.height, p.g.h - top);
    cw = std::min(t.width, p.g.w - left);
  }
  p.g.box_h = ch;
  p.g.box_w = cw;
  for (int64_t i = 0; i < p.g.n; ++i) {
    p.offsets[2 * i] = top;
    p.offsets[2 * i + 1] = left;
  }
  return p;
}

OpDef make_random_crop() {
  OpDef d;
  d.name = "random_crop";
  d.max_inputs = 2;
  d.nondiff_inputs = {1};
  d.infer = [](const std::vector<TensorMeta>& in, const Attrs& a) {
    check_inputs("random_crop", in, 2, "offsets");
    const CropTarget t = crop_target(a);
    const int64_t h = in[0].shape[1], w = in[0].shape[2];
    if (in.size() > 1)
      EMBER_CHECK((h == kUnknown || h >= t.height) && (w == kUnknown || w >= t.width),
                  ValueError, "op 'random_crop': explicit offsets need images at least as "
                  "large as the target (", t.height, ", ", t.width, "), received shape ",
                  shape_str(in[0].shape));
    TensorMeta out = in[0];
    out.shape[1] = t.height;
    out.shape[2] = t.width;
    return out;
  };
  d.forward = [](OpContext& c) {
    const CropPlan p = crop_plan(c);
    with_kernels(c.in(0).dtype(), "op 'random_crop'", [&](const auto& k, auto z) {
      using T = decltype(z);
      k.crop_resize(c.in(0).data<T>(), c.output->data<T>(), p.offsets.data(), p.g);
    });
  };
  d.backward = [](GradContext& c) {
    if (!c.wants(0)) return;
    const CropPlan p = crop_plan(c);
    with_kernels(c.in(0).dtype(), "op 'random_crop'", [&](const auto& k, auto z) {
      using T = decltype(z);
      k.crop_resize_backward(c.grad_out->data<T>(), c.grad_in[0]->data<T>(), p.offsets.data(),
                             p.g, c.accumulate[0]);
    });
  };
  return d;
}

// ---------------------------------------------------------------- random_contrast

struct ContrastAttrs {
  double lower, upper, value_min, value_max;
};

ContrastAttrs contrast_attrs(const Attrs& a) {
  const ContrastAttrs k{a.get_float("lower", 0.0), a.get_float("upper", 0.0),
                        a.get_float("value_min", 0.0), a.get_float("value_max", 255.0)};
  EMBER_CHECK(std::isfinite(k.lower) && std::isfinite(k.upper) && -k.lower <= k.upper,
              ValueError, "op 'random_contrast': expected factors drawn from [1 - lower, "
              "1 + upper] with 1 - lower <= 1 + upper, received lower=", k.lower, " and upper=",
              k.upper);
  EMBER_CHECK(!std::isnan(k.value_min) && !std::isnan(k.value_max) && k.value_min <= k.value_max,
              ValueError, "op 'random_contrast': expected value_min <= value_max, received (",
              k.value_min, ", ", k.value_max, ")");
  return k;
}

std::vector<double> factors_of(const OpContext& c, const ContrastAttrs& k, int64_t n) {
  if (c.inputs.size() > 1) return rows_of(c.in(1), "op 'random_contrast'");
  std::vector<double> f(n);
  const double lo = 1.0 - k.lower, hi = 1.0 + k.upper;
  for (int64_t i = 0; i < n; ++i)
    f[i] = lo + (hi - lo) * static_cast<double>(uniform01(c.seed, static_cast<uint64_t>(i)));
  return f;
}

OpDef make_random_contrast() {
  OpDef d;
  d.name = "random_contrast";
  d.max_inputs = 2;
  d.nondiff_inputs = {1};
  d.infer = [](const std::vector<TensorMeta>& in, const Attrs& a) {
    check_inputs("random_contrast", in, 1, "factors");
    contrast_attrs(a);
    return in[0];
  };
  d.forward = [](OpContext& c) {
    const Tensor& x = c.in(0);
    if (!active(c) || x.size() == 0) {
      std::memcpy(c.output->raw(), x.raw(), x.nbytes());
      return;
    }
    const ContrastAttrs k = contrast_attrs(*c.attrs);
    const int64_t n = x.dim(0), hw = x.dim(1) * x.dim(2), ch = x.dim(3);
    const std::vector<double> f = factors_of(c, k, n);
    std::vector<double> means(n * ch);
    with_kernels(x.dtype(), "op 'random_contrast'", [&](const auto& kern, auto z) {
      using T = decltype(z);
      kern.contrast(x.data<T>(), c.output->data<T>(), f.data(), n, hw, ch, k.value_min,
                    k.value_max, means.data());
    });
  };
  d.backward = [](GradContext& c) {
    if (!c.wants(0)) return;
    const Tensor& x = c.in(0);
    if (!active(c) || x.size() == 0) {
      dispatch_float(x.dtype(), "op 'random_contrast'", [&](auto z) {
        pass_through<decltype(z)>(*c.grad_out, *c.grad_in[0], c.accumulate[0]);
      });
      return;
    }
    const ContrastAttrs k = contrast_attrs(*c.attrs);
    const int64_t n = x.dim(0), hw = x.dim(1) * x.dim(2), ch = x.dim(3);
    const std::vector<double> f = factors_of(c, k, n);
    std::vector<double> scratch(2 * n * ch);
    with_kernels(x.dtype(), "op 'random_contrast'", [&](const auto& kern, auto z) {
      using T = decltype(z);
      kern.contrast_backward(x.data<T>(), c.grad_out->data<T>(), c.grad_in[0]->data<T>(),
                             f.data(), n, hw, ch, k.value_min, k.value_max, c.accumulate[0],
                             scratch.data());
    });
  };
  return d;
}

}  // namespace

EMBER_REGISTER_OP(make_random_flip);
EMBER_REGISTER_OP(make_random_crop);
EMBER_REGISTER_OP(make_random_contrast);

}  // namespace ember
