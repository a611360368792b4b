// Tests of the augmentation ops (image_affine, random_flip, random_crop, random_contrast).
// References are direct loops written here in double from Keras's formulas (the affine one
// ports Keras's map_coordinates, index fixers included, channel by channel), fed the same
// explicit parameters as the op. Gradients are float64 central differences, with explicit and
// with drawn parameters (backward must redraw what forward drew). The drawn parameters are
// recovered from the outputs to check the documented formulas, the identity at inference,
// thread-count independence, shape inference with unknown extents and every error path.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "check.h"
#include "ember/threads.h"
#include "op_check.h"

using namespace ember;
using opcheck::forward;
using opcheck::grad_error;
using opcheck::random_tensor;

namespace {

double at(const Tensor& t, int64_t i) {
  return t.dtype() == DType::f32 ? t.data<float>()[i] : t.data<double>()[i];
}

std::vector<double> values(const Tensor& t) {
  std::vector<double> v(t.size());
  for (int64_t i = 0; i < t.size(); ++i) v[i] = at(t, i);
  return v;
}

Tensor from_values(const Shape& s, DType dt, const std::vector<double>& v) {
  Tensor t(s, dt);
  for (int64_t i = 0; i < t.size(); ++i) {
    if (dt == DType::f32) t.data<float>()[i] = static_cast<float>(v[i]);
    else t.data<double>()[i] = v[i];
  }
  return t;
}

Tensor cast(const Tensor& t, DType dt) { return from_values(t.shape(), dt, values(t)); }

double max_diff(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return 1e300;
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i)
    worst = std::max(worst, std::fabs(a[i] - b[i]) / (1 + std::fabs(b[i])));
  return worst;
}

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }
int64_t py_mod(int64_t a, int64_t b) { return a - floor_div(a, b) * b; }

// Keras's torch-backend index fixers, transcribed.
int64_t keras_fix(int64_t i, int64_t n, const std::string& mode) {
  if (mode == "wrap") return py_mod(i, n);
  if (mode == "reflect") {
    auto mirror = [](int64_t index, int64_t size) {
      const int64_t s = size - 1;
      return std::llabs(py_mod(index + s, 2 * s) - s);
    };
    return floor_div(mirror(2 * i + 1, 2 * n + 1) - 1, 2);
  }
  return std::min(std::max<int64_t>(i, 0), n - 1);  // nearest, constant (then masked)
}

// Keras's affine_transform + map_coordinates in double, one channel at a time.
std::vector<double> affine_reference(const Tensor& x, const std::vector<double>& t,
                                     const std::string& fill, const std::string& interp,
                                     double fill_value) {
  const int64_t n = x.dim(0), h = x.dim(1), w = x.dim(2), c = x.dim(3);
  std::vector<double> out(x.size());
  const std::vector<double> xv = values(x);
  for (int64_t s = 0; s < n; ++s)
    for (int64_t oy = 0; oy < h; ++oy)
      for (int64_t ox = 0; ox < w; ++ox) {
        const double* r = t.data() + 8 * s;
        const double k = r[6] * ox + r[7] * oy + 1;
        const double sx = (r[0] * ox + r[1] * oy + r[2]) / k;
        const double sy = (r[3] * ox + r[4] * oy + r[5]) / k;
        std::vector<std::pair<int64_t, double>> ty, tx;
        if (interp == "nearest") {
          ty = {{static_cast<int64_t>(std::nearbyint(sy)), 1.0}};
          tx = {{static_cast<int64_t>(std::nearbyint(sx)), 1.0}};
        } else {
          const double fy = std::floor(sy), fx = std::floor(sx);
          ty = {{static_cast<int64_t>(fy), 1 - (sy - fy)}, {static_cast<int64_t>(fy) + 1, sy - fy}};
          tx = {{static_cast<int64_t>(fx), 1 - (sx - fx)}, {static_cast<int64_t>(fx) + 1, sx - fx}};
        }
        for (int64_t ch = 0; ch < c; ++ch) {
          double acc = 0;
          for (auto [iy, wy] : ty)
            for (auto [ix, wx] : tx) {
              const bool valid = fill != "constant" || (iy >= 0 && iy < h && ix >= 0 && ix < w);
              const int64_t fy = keras_fix(iy, h, fill), fx = keras_fix(ix, w, fill);
              const double v = valid ? xv[((s * h + fy) * w + fx) * c + ch] : fill_value;
              acc += wy * wx * v;
            }
          out[((s * h + oy) * w + ox) * c + ch] = acc;
        }
      }
  return out;
}

Tensor transforms_tensor(const std::vector<double>& t, DType dt = DType::f64) {
  return from_values({static_cast<int64_t>(t.size() / 8), 8}, dt, t);
}

// A varied set of transforms for n = 3: a rotation by 0.7 rad about the centre, a shift
// reaching outside by more than an image, a zoom with a projective term.
std::vector<double> sample_transforms(int64_t h, int64_t w) {
  const double th = 0.7, cx = 0.5 * (w - 1), cy = 0.5 * (h - 1);
  const double a0 = std::cos(th), a1 = -std::sin(th), b0 = std::sin(th), b1 = std::cos(th);
  return {a0, a1, cx - cx * a0 - cy * a1, b0, b1, cy - cx * b0 - cy * b1, 0, 0,
          1, 0, -1.3 * w - 0.37, 0, 1, 2.61, 0, 0,
          1.35, 0.1, -1.2, -0.05, 0.8, 0.9, 0.01, -0.02};
}

Attrs affine_attrs(const std::string& fill, const std::string& interp, double fill_value = 0.5) {
  return Attrs({{"fill_mode", fill}, {"interpolation", interp}, {"fill_value", fill_value}});
}

const char* kFills[] = {"reflect", "wrap", "constant", "nearest"};
const char* kInterps[] = {"bilinear", "nearest"};

}  // namespace

TEST_CASE("image_affine forward matches Keras's map_coordinates for every fill and interpolation") {
  const Tensor x = random_tensor({3, 5, 7, 2}, DType::f64, 1, -2, 2);
  const std::vector<double> t = sample_transforms(5, 7);
  for (const char* fill : kFills)
    for (const char* interp : kInterps) {
      const std::vector<double> ref = affine_reference(x, t, fill, interp, 0.5);
      for (DType dt : {DType::f64, DType::f32}) {
        const Tensor y = forward("image_affine", affine_attrs(fill, interp),
                                 {cast(x, dt), transforms_tensor(t, dt)});
        const double tol = dt == DType::f64 ? 1e-12 : 2e-5;
        const double err = max_diff(values(y), ref);
        if (!(err < tol))
          check::fail(__FILE__, __LINE__, std::string(fill) + "/" + interp + " off by " +
                                              std::to_string(err));
      }
    }
}

TEST_CASE("image_affine: a quarter turn is rot90 and a shift reflects about the edge") {
  const Tensor x = random_tensor({1, 6, 6, 1}, DType::f64, 2);
  // Drawn rotation of exactly 0.25 turn (Keras's factor = 0.25 -> 90 degrees).
  Attrs a = affine_attrs("constant", "bilinear");
  a.set("rotation_lower", 0.25);
  a.set("rotation_upper", 0.25);
  a.set("training", int64_t{1});
  const std::vector<double> y = values(forward("image_affine", a, {x}));
  const std::vector<double> xv = values(x);
  double worst = 0;
  for (int i = 0; i < 6; ++i)
    for (int j = 0; j < 6; ++j)
      worst = std::max(worst, std::fabs(y[i * 6 + j] - xv[j * 6 + 5 - i]));
  CHECK(worst < 1e-12);
  // Translation by a quarter of the height (2 rows) with reflect: rows 1, 0, 0, 1, 2, ...
  const Tensor z = random_tensor({1, 8, 3, 1}, DType::f64, 3);
  Attrs b = affine_attrs("reflect", "nearest");
  b.set("height_translation_lower", 0.25);
  b.set("height_translation_upper", 0.25);
  b.set("training", int64_t{1});
  const std::vector<double> s = values(forward("image_affine", b, {z})), zv = values(z);
  const int rows[8] = {1, 0, 0, 1, 2, 3, 4, 5};
  worst = 0;
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 3; ++j)
      worst = std::max(worst, std::fabs(s[i * 3 + j] - zv[rows[i] * 3 + j]));
  CHECK(worst == 0);
}

TEST_CASE("image_affine: drawn parameters follow the documented ranges per sample") {
  // Images whose channels hold their own column and row: with bilinear sampling inside the
  // image the output holds the source point, which gives back each sample's transform.
  const int64_t n = 400, h = 21, w = 21;
  std::vector<double> v(n * h * w * 2);
  for (int64_t s = 0; s < n; ++s)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        v[((s * h + y) * w + x) * 2] = static_cast<double>(x);
        v[((s * h + y) * w + x) * 2 + 1] = static_cast<double>(y);
      }
  const Tensor img = from_values({n, h, w, 2}, DType::f64, v);
  auto source = [&](const std::vector<double>& out, int64_t s, int64_t x, int64_t y, int k) {
    return out[((s * h + y) * w + x) * 2 + k];
  };
  Attrs a = affine_attrs("nearest", "bilinear");
  a.set("training", int64_t{1});
  a.set("rotation_lower", -0.05);
  a.set("rotation_upper", 0.1);
  std::vector<double> out = values(forward("image_affine", a, {img}, true, 11));
  double lo = 1e9, hi = -1e9, mean = 0;
  for (int64_t s = 0; s < n; ++s) {
    // d(source)/dx along the row through the centre is (cos, sin) of the angle.
    const double dx = source(out, s, 11, 10, 0) - source(out, s, 9, 10, 0);
    const double dy = source(out, s, 11, 10, 1) - source(out, s, 9, 10, 1);
    const double turns = std::atan2(dy, dx) / 6.283185307179586;
    lo = std::min(lo, turns);
    hi = std::max(hi, turns);
    mean += turns / n;
    // The centre stays in place.
    CHECK(std::fabs(source(out, s, 10, 10, 0) - 10) < 1e-9);
  }
  CHECK(lo >= -0.05 - 1e-9 && lo < -0.045);
  CHECK(hi <= 0.1 + 1e-9 && hi > 0.095);
  CHECK(std::fabs(mean - 0.025) < 0.005);

  Attrs b = affine_attrs("nearest", "bilinear");
  b.set("training", int64_t{1});
  b.set("height_zoom_lower", -0.3);
  b.set("height_zoom_upper", 0.2);
  out = values(forward("image_affine", b, {img}, true, 12));
  lo = 1e9, hi = -1e9;
  int distinct_axes = 0;
  for (int64_t s = 0; s < n; ++s) {
    const double zx = (source(out, s, 12, 10, 0) - source(out, s, 8, 10, 0)) / 4;
    const double zy = (source(out, s, 10, 12, 1) - source(out, s, 10, 8, 1)) / 4;
    distinct_axes += std::fabs(zx - zy) > 1e-9;  // width zoom follows the height zoom
    lo = std::min(lo, zy);
    hi = std::max(hi, zy);
  }
  CHECK(distinct_axes == 0);
  CHECK(lo >= 0.7 - 1e-9 && lo < 0.71);
  CHECK(hi <= 1.2 + 1e-9 && hi > 1.19);

  Attrs c = affine_attrs("nearest", "bilinear");
  c.set("training", int64_t{1});
  c.set("height_translation_lower", -0.2);
  c.set("height_translation_upper", 0.1);
  c.set("width_translation_lower", 0.0);
  c.set("width_translation_upper", 0.3);
  out = values(forward("image_affine", c, {img}, true, 13));
  double ty_lo = 1e9, ty_hi = -1e9, tx_lo = 1e9, tx_hi = -1e9, corr = 0;
  for (int64_t s = 0; s < n; ++s) {
    const double tx = (10 - source(out, s, 10, 10, 0)) / w;
    const double ty = (10 - source(out, s, 10, 10, 1)) / h;
    ty_lo = std::min(ty_lo, ty), ty_hi = std::max(ty_hi, ty);
    tx_lo = std::min(tx_lo, tx), tx_hi = std::max(tx_hi, tx);
    corr += (ty + 0.05) * (tx - 0.15);
  }
  CHECK(ty_lo >= -0.2 - 1e-9 && ty_lo < -0.19 && ty_hi <= 0.1 + 1e-9 && ty_hi > 0.09);
  CHECK(tx_lo >= -1e-9 && tx_lo < 0.01 && tx_hi <= 0.3 + 1e-9 && tx_hi > 0.29);
  CHECK(std::fabs(corr / n) < 0.002);  // the two shifts are drawn independently
}

TEST_CASE("image_affine gradients (float64) with explicit and drawn transforms") {
  const Tensor x = random_tensor({3, 4, 5, 2}, DType::f64, 4);
  const std::vector<double> t = sample_transforms(4, 5);
  for (const char* fill : kFills)
    for (const char* interp : kInterps) {
      const double e = grad_error("image_affine", affine_attrs(fill, interp),
                                  {x, transforms_tensor(t)}, {0});
      if (!(e < 1e-7)) check::fail(__FILE__, __LINE__, std::string(fill) + "/" + interp);
    }
  Attrs a = affine_attrs("reflect", "bilinear");
  a.set("rotation_lower", -0.3);
  a.set("rotation_upper", 0.3);
  a.set("width_translation_lower", -0.2);
  a.set("width_translation_upper", 0.2);
  a.set("height_zoom_lower", -0.2);
  a.set("height_zoom_upper", 0.3);
  a.set("width_zoom_lower", 0.1);
  a.set("width_zoom_upper", 0.4);
  CHECK(grad_error("image_affine", a, {x}, {0}, true) < 1e-7);
  a.set("training", int64_t{0});
  CHECK(grad_error("image_affine", a, {x}, {0}, true) < 1e-7);
}

TEST_CASE("augmentation ops are the identity when inactive and follow the training flag") {
  const Tensor x = random_tensor({2, 4, 5, 3}, DType::f32, 5);
  Attrs a = affine_attrs("reflect", "bilinear");
  a.set("rotation_lower", -0.4);
  a.set("rotation_upper", 0.4);
  CHECK(values(forward("image_affine", a, {x}, false)) == values(x));
  CHECK(values(forward("image_affine", a, {x}, true)) != values(x));
  a.set("training", int64_t{0});
  CHECK(values(forward("image_affine", a, {x}, true)) == values(x));
  const Attrs flip({{"mode", std::string("horizontal")}});
  CHECK(values(forward("random_flip", flip, {x}, false)) == values(x));
  const Attrs con({{"lower", 0.5}, {"upper", 0.5}, {"value_min", -10.0}, {"value_max", 10.0}});
  CHECK(values(forward("random_contrast", con, {x}, false)) == values(x));
  CHECK(values(forward("random_contrast", con, {x}, true)) != values(x));
}

TEST_CASE("drawn parameters are reproducible per seed and independent of the thread count") {
  const Tensor x = random_tensor({8, 40, 40, 3}, DType::f32, 6);
  Attrs a = affine_attrs("wrap", "bilinear");
  a.set("rotation_lower", -0.5);
  a.set("rotation_upper", 0.5);
  const Attrs con({{"lower", 0.5}, {"upper", 0.5}, {"value_min", -10.0}, {"value_max", 10.0}});
  const Attrs crop({{"height", int64_t{20}}, {"width", int64_t{30}}});
  const Attrs flip({{"mode", std::string("horizontal_and_vertical")}});
  using Case = std::pair<std::string, Attrs>;
  for (auto [op, attrs] : {Case{"image_affine", a}, Case{"random_contrast", con},
                           Case{"random_crop", crop}, Case{"random_flip", flip}}) {
    const int before = get_num_threads();
    set_num_threads(1);
    const std::vector<double> one = values(forward(op, attrs, {x}, true, 21));
    set_num_threads(2);
    const std::vector<double> two = values(forward(op, attrs, {x}, true, 21));
    set_num_threads(before);
    CHECK(one == two);
    CHECK(values(forward(op, attrs, {x}, true, 22)) != one);
  }
}

TEST_CASE("random_flip: Keras's one draw per sample, both axes in horizontal_and_vertical") {
  const Tensor x = random_tensor({2, 3, 4, 2}, DType::f64, 7);
  const std::vector<double> xv = values(x);
  const Tensor flips = from_values({2, 1}, DType::f64, {1.0, 0.0});
  auto idx = [](int64_t s, int64_t y, int64_t xx, int64_t c) {
    return ((s * 3 + y) * 4 + xx) * 2 + c;
  };
  for (const char* mode : {"horizontal", "vertical", "horizontal_and_vertical"}) {
    const std::string m = mode;
    const bool hz = m != "vertical", vt = m != "horizontal";
    for (DType dt : {DType::f64, DType::f32}) {
      const std::vector<double> y =
          values(forward("random_flip", Attrs({{"mode", m}}), {cast(x, dt), cast(flips, dt)}));
      double worst = 0;
      for (int64_t s = 0; s < 2; ++s)
        for (int64_t r = 0; r < 3; ++r)
          for (int64_t q = 0; q < 4; ++q)
            for (int64_t c = 0; c < 2; ++c) {
              const bool f = s == 0;
              const double want = xv[idx(s, f && vt ? 2 - r : r, f && hz ? 3 - q : q, c)];
              worst = std::max(worst, std::fabs(y[idx(s, r, q, c)] - want));
            }
      CHECK(worst < 1e-6);
    }
    CHECK(grad_error("random_flip", Attrs({{"mode", m}}), {x, flips}, {0}) < 1e-8);
    CHECK(grad_error("random_flip", Attrs({{"mode", m}}), {x}, {0}, true) < 1e-8);
  }
  // About half of many samples flip, each by both axes or by none.
  const Tensor many = random_tensor({2000, 2, 2, 1}, DType::f64, 8);
  const std::vector<double> mv = values(many);
  const std::vector<double> y = values(forward("random_flip", Attrs(), {many}, true, 5));
  int flipped = 0, other = 0;
  for (int64_t s = 0; s < 2000; ++s) {
    const double* a = mv.data() + 4 * s;
    const double* b = y.data() + 4 * s;
    if (b[0] == a[3] && b[1] == a[2] && b[2] == a[1] && b[3] == a[0]) ++flipped;
    else if (!(b[0] == a[0] && b[1] == a[1] && b[2] == a[2] && b[3] == a[3])) ++other;
  }
  CHECK(other == 0);
  CHECK(flipped > 900 && flipped < 1100);
}

namespace {

// Bilinear half-pixel resize of a window, in double (torch's formula).
std::vector<double> crop_resize_reference(const Tensor& x, int64_t top, int64_t left, int64_t bh,
                                          int64_t bw, int64_t oh, int64_t ow) {
  const int64_t n = x.dim(0), h = x.dim(1), w = x.dim(2), c = x.dim(3);
  const std::vector<double> xv = values(x);
  auto src = [](int64_t o, int64_t in, int64_t out) {
    return std::max(0.0, (o + 0.5) * static_cast<double>(in) / out - 0.5);
  };
  std::vector<double> out(n * oh * ow * c);
  for (int64_t s = 0; s < n; ++s)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox)
        for (int64_t k = 0; k < c; ++k) {
          const double sy = src(oy, bh, oh), sx = src(ox, bw, ow);
          const int64_t y0 = std::min<int64_t>(static_cast<int64_t>(sy), bh - 1);
          const int64_t x0 = std::min<int64_t>(static_cast<int64_t>(sx), bw - 1);
          const int64_t y1 = std::min(y0 + 1, bh - 1), x1 = std::min(x0 + 1, bw - 1);
          const double ly = sy - y0, lx = sx - x0;
          auto v = [&](int64_t yy, int64_t xx) {
            return xv[((s * h + top + yy) * w + left + xx) * c + k];
          };
          out[((s * oh + oy) * ow + ox) * c + k] =
              (1 - ly) * ((1 - lx) * v(y0, x0) + lx * v(y0, x1)) +
              ly * ((1 - lx) * v(y1, x0) + lx * v(y1, x1));
        }
  return out;
}

}  // namespace

TEST_CASE("random_crop: explicit windows, one random window per batch, centred resize otherwise") {
  const Tensor x = random_tensor({2, 6, 7, 3}, DType::f64, 9);
  const Attrs a({{"height", int64_t{3}}, {"width", int64_t{4}}});
  const Tensor offsets = from_values({2, 1 * 2}, DType::f64, {2, 3, 0, 1});
  for (DType dt : {DType::f64, DType::f32}) {
    const std::vector<double> y =
        values(forward("random_crop", a, {cast(x, dt), cast(offsets, dt)}));
    std::vector<double> ref;
    const std::vector<double> xv = values(x);
    for (int64_t s = 0; s < 2; ++s) {
      const Tensor one = from_values({1, 6, 7, 3}, DType::f64,
                                     std::vector<double>(xv.begin() + s * 126,
                                                         xv.begin() + (s + 1) * 126));
      const std::vector<double> r =
          crop_resize_reference(one, s == 0 ? 2 : 0, s == 0 ? 3 : 1, 3, 4, 3, 4);
      ref.insert(ref.end(), r.begin(), r.end());
    }
    CHECK(max_diff(y, ref) < 1e-6);
  }
  CHECK(grad_error("random_crop", a, {x, offsets}, {0}) < 1e-8);
  // Inference: Keras's aspect window: crop_h = int(7 * 3 / 4) = 5, crop_w = int(6 * 4 / 3) = 8
  // -> 7; top = int((6 - 5) / 2) = 0, left = 0; then a bilinear resize 5x7 -> 3x4.
  const std::vector<double> inf = values(forward("random_crop", a, {x}, false));
  CHECK(max_diff(inf, crop_resize_reference(x, 0, 0, 5, 7, 3, 4)) < 1e-12);
  CHECK(grad_error("random_crop", a, {x}, {0}, false) < 1e-8);
  const Attrs tall({{"height", int64_t{4}}, {"width", int64_t{2}}});  // crop_w = int(6*2/4) = 3
  CHECK(max_diff(values(forward("random_crop", tall, {x}, false)),
                 crop_resize_reference(x, 0, 2, 6, 3, 4, 2)) < 1e-12);
  // Smaller than the target in height: Keras's code slices 8x5 from the corner (0, 2) of the
  // aspect window (6 x int(6*5/8) = 3 at left int((7 - 3) / 2) = 2): 6x5 pixels, resized.
  const Attrs grow({{"height", int64_t{8}}, {"width", int64_t{5}}});
  CHECK(max_diff(values(forward("random_crop", grow, {x}, true, 4)),
                 crop_resize_reference(x, 0, 2, 6, 5, 8, 5)) < 1e-12);
  CHECK(grad_error("random_crop", grow, {x}, {0}, true) < 1e-8);
  // Training with a larger image: one window for the batch, offsets uniform over positions.
  const Tensor big = random_tensor({2, 6, 7, 1}, DType::f64, 10);
  CHECK(grad_error("random_crop", a, {big}, {0}, true) < 1e-8);
  std::vector<int> seen_top(4, 0), seen_left(4, 0);
  std::vector<double> ramp(6 * 7);
  for (int i = 0; i < 42; ++i) ramp[i] = i;
  std::vector<double> both(ramp);
  both.insert(both.end(), ramp.begin(), ramp.end());
  const Tensor r = from_values({2, 6, 7, 1}, DType::f64, both);
  for (uint64_t seed = 1; seed <= 800; ++seed) {
    const std::vector<double> y = values(forward("random_crop", a, {r}, true, seed));
    const int first = static_cast<int>(y[0]);
    CHECK(y[12] == y[0]);  // the second image is cropped at the same place
    seen_top[first / 7]++;
    seen_left[first % 7]++;
  }
  for (int t = 0; t < 4; ++t) CHECK(seen_top[t] > 150 && seen_top[t] < 250);  // 0..3: 1 in 4
  for (int l = 0; l < 4; ++l) CHECK(seen_left[l] > 150 && seen_left[l] < 250);
  // Training with an image not larger than the target in one axis: Keras's centred resize.
  const Attrs same({{"height", int64_t{6}}, {"width", int64_t{4}}});
  CHECK(values(forward("random_crop", same, {x}, true, 3)) ==
        values(forward("random_crop", same, {x}, false)));
}

namespace {

std::vector<double> contrast_reference(const Tensor& x, const std::vector<double>& f, double lo,
                                       double hi) {
  const int64_t n = x.dim(0), hw = x.dim(1) * x.dim(2), c = x.dim(3);
  const std::vector<double> xv = values(x);
  std::vector<double> out(xv.size());
  for (int64_t s = 0; s < n; ++s)
    for (int64_t k = 0; k < c; ++k) {
      double m = 0;
      for (int64_t p = 0; p < hw; ++p) m += xv[(s * hw + p) * c + k];
      m /= hw;
      for (int64_t p = 0; p < hw; ++p) {
        const double z = (xv[(s * hw + p) * c + k] - m) * f[s] + m;
        out[(s * hw + p) * c + k] = std::min(std::max(z, lo), hi);
      }
    }
  return out;
}

}  // namespace

TEST_CASE("random_contrast: per-sample factor about each channel's mean, clipped to the range") {
  const Tensor x = random_tensor({3, 4, 5, 2}, DType::f64, 11, 0, 10);
  const std::vector<double> f = {0.4, 1.0, 1.7};
  const Tensor factors = from_values({3, 1}, DType::f64, f);
  const Attrs a({{"lower", 0.6}, {"upper", 0.7}, {"value_min", 1.0}, {"value_max", 9.0}});
  for (DType dt : {DType::f64, DType::f32}) {
    const std::vector<double> y =
        values(forward("random_contrast", a, {cast(x, dt), cast(factors, dt)}));
    CHECK(max_diff(y, contrast_reference(cast(cast(x, dt), DType::f64), f, 1, 9)) <
          (dt == DType::f64 ? 1e-12 : 2e-6));
  }
  CHECK(grad_error("random_contrast", a, {x, factors}, {0}) < 1e-7);
  CHECK(grad_error("random_contrast", a, {x}, {0}, true) < 1e-7);
  // Drawn factors: U(1 - lower, 1 + upper), recovered from unclipped outputs.
  const Tensor many = random_tensor({1000, 2, 2, 1}, DType::f64, 12, 0, 10);
  const Attrs wide({{"lower", 0.2}, {"upper", 0.5}, {"value_min", -1e6}, {"value_max", 1e6}});
  const std::vector<double> y = values(forward("random_contrast", wide, {many}, true, 4));
  const std::vector<double> mv = values(many);
  double lo = 1e9, hi = -1e9;
  for (int64_t s = 0; s < 1000; ++s) {
    const double m = (mv[4 * s] + mv[4 * s + 1] + mv[4 * s + 2] + mv[4 * s + 3]) / 4;
    const double fs = (y[4 * s] - m) / (mv[4 * s] - m);
    lo = std::min(lo, fs), hi = std::max(hi, fs);
  }
  CHECK(lo >= 0.8 - 1e-6 && lo < 0.81);
  CHECK(hi <= 1.5 + 1e-6 && hi > 1.49);
}

TEST_CASE("augmentation shape inference keeps unknown extents") {
  const OpDef& affine = OpRegistry::instance().get("image_affine");
  const TensorMeta x{{kUnknown, 8, kUnknown, 3}, DType::f32};
  CHECK(affine.infer({x}, Attrs()).shape == x.shape);
  CHECK(affine.infer({x, {{kUnknown, 8}, DType::f32}}, Attrs()).shape == x.shape);
  const OpDef& crop = OpRegistry::instance().get("random_crop");
  const Attrs c({{"height", int64_t{4}}, {"width", int64_t{5}}});
  CHECK(crop.infer({x}, c).shape == Shape({kUnknown, 4, 5, 3}));
  CHECK(OpRegistry::instance().get("random_flip").infer({x}, Attrs()).shape == x.shape);
  CHECK(OpRegistry::instance().get("random_contrast").infer({x}, Attrs()).shape == x.shape);
}

TEST_CASE("augmentation ops reject bad input with errors naming the op") {
  const Tensor x = random_tensor({2, 4, 4, 1}, DType::f64, 13);
  const Tensor rank3 = random_tensor({4, 4, 1}, DType::f64, 13);
  const Tensor ints({2, 4, 4, 1}, DType::i32);
  for (const char* op : {"image_affine", "random_flip", "random_contrast"}) {
    CHECK_THROWS_AS(forward(op, Attrs(), {rank3}), ValueError);
    CHECK_THROWS_AS(forward(op, Attrs(), {ints}), TypeError);
  }
  CHECK_THROWS_AS(forward("image_affine", affine_attrs("mirror", "bilinear"), {x}), ValueError);
  CHECK_THROWS_AS(forward("image_affine", affine_attrs("reflect", "bicubic"), {x}), ValueError);
  const Tensor one_transform = transforms_tensor({1, 0, 0, 0, 1, 0, 0, 0});
  CHECK_THROWS_AS(forward("image_affine", Attrs(), {x, one_transform}),
                  ValueError);  // one transform for two images
  CHECK_THROWS_AS(forward("image_affine", Attrs({{"height_zoom_lower", -1.5}}), {x}), ValueError);
  const Attrs reversed({{"rotation_lower", 0.3}, {"rotation_upper", 0.1}});
  CHECK_THROWS_AS(forward("image_affine", reversed, {x}), ValueError);
  CHECK_THROWS_AS(forward("random_flip", Attrs({{"mode", std::string("diagonal")}}), {x}),
                  ValueError);
  const Tensor two_columns = from_values({2, 2}, DType::f64, {1, 0, 1, 0});
  CHECK_THROWS_AS(forward("random_flip", Attrs(), {x, two_columns}), ValueError);
  const Attrs crop({{"height", int64_t{3}}, {"width", int64_t{3}}});
  const Attrs empty_crop({{"height", int64_t{0}}, {"width", int64_t{3}}});
  CHECK_THROWS_AS(forward("random_crop", empty_crop, {x}), ValueError);
  CHECK_THROWS_AS(forward("random_crop", Attrs(), {x}), ValueError);
  const Tensor outside = from_values({2, 2}, DType::f64, {0, 0, 2, 0});
  CHECK_THROWS_AS(forward("random_crop", crop, {x, outside}), ValueError);  // leaves the image
  const Tensor half = from_values({2, 2}, DType::f64, {0, 0.5, 1, 0});
  CHECK_THROWS_AS(forward("random_crop", crop, {x, half}), ValueError);  // not a whole pixel
  CHECK_THROWS_AS(forward("random_crop", Attrs({{"height", int64_t{5}}, {"width", int64_t{3}}}),
                          {x, from_values({2, 2}, DType::f64, {0, 0, 0, 0})}),
                  ValueError);
  CHECK_THROWS_AS(forward("random_contrast", Attrs({{"value_min", 3.0}, {"value_max", 1.0}}), {x}),
                  ValueError);
  CHECK_THROWS_AS(forward("random_contrast", Attrs({{"lower", -0.5}, {"upper", 0.2}}), {x}),
                  ValueError);
  try {
    forward("image_affine", affine_attrs("mirror", "bilinear"), {x});
  } catch (const ValueError& e) {
    const std::string msg = e.what();
    CHECK(msg.find("image_affine") != std::string::npos && msg.find("mirror") != std::string::npos);
  }
}
