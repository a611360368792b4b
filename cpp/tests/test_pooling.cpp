// Tests of the pooling ops (max_pool, avg_pool) and the spatial resampling ops (pad, crop,
// upsample_nearest, resize_bilinear). References are direct loops written here over explicit
// index lists (each output element's window of input indices, in row-major window order), in
// double: forward in float32 and float64 against them, backward against central differences
// (float64) and, for inputs too large for differences and for ties, against the reference's
// own backward. Shape inference with unknown extents and every error path are checked too.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "check.h"
#include "op_check.h"

using namespace ember;
using opcheck::forward;
using opcheck::grad_error;
using opcheck::random_tensor;

namespace {

using Index = std::vector<int64_t>;

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

// Max |a - b| / (1 + |b|); infinity when sizes differ or NaNs disagree.
double max_diff(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return std::numeric_limits<double>::infinity();
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) || std::isnan(b[i])) {
      if (std::isnan(a[i]) != std::isnan(b[i])) return std::numeric_limits<double>::infinity();
      continue;
    }
    worst = std::max(worst, std::fabs(a[i] - b[i]) / (1 + std::fabs(b[i])));
  }
  return worst;
}

// All multi-indices of `dims`, row-major.
std::vector<Index> all_indices(const Index& dims) {
  std::vector<Index> out;
  Index i(dims.size(), 0);
  for (int64_t e : dims)
    if (e == 0) return out;
  while (true) {
    out.push_back(i);
    int a = static_cast<int>(dims.size()) - 1;
    while (a >= 0 && ++i[a] == dims[a]) i[a--] = 0;
    if (a < 0) return out;
  }
}

int64_t flat(const Shape& s, const Index& i) {
  int64_t f = 0;
  for (size_t a = 0; a < s.size(); ++a) f = f * s[a] + i[a];
  return f;
}

// ---------------------------------------------------------------- pooling reference
// Each output element's window as input flat indices (padding excluded), Keras's sizes.
struct Windows {
  Shape out;
  std::vector<std::vector<int64_t>> of;  // per output element
};

Windows pool_windows(const Shape& in, const Index& pool, const Index& strides, bool same) {
  const size_t s = pool.size();
  Windows w;
  w.out = in;
  Index pad(s, 0);
  for (size_t a = 0; a < s; ++a) {
    const int64_t len = in[a + 1];
    if (same) {
      w.out[a + 1] = (len + strides[a] - 1) / strides[a];
      pad[a] = std::max<int64_t>((w.out[a + 1] - 1) * strides[a] + pool[a] - len, 0) / 2;
    } else {
      w.out[a + 1] = (len - pool[a]) / strides[a] + 1;
    }
  }
  for (const Index& o : all_indices(w.out)) {
    std::vector<int64_t> list;
    for (const Index& k : all_indices(pool)) {
      Index p = o;
      bool inside = true;
      for (size_t a = 0; a < s; ++a) {
        p[a + 1] = o[a + 1] * strides[a] - pad[a] + k[a];
        inside = inside && p[a + 1] >= 0 && p[a + 1] < in[a + 1];
      }
      if (inside) list.push_back(flat(in, p));
    }
    w.of.push_back(list);
  }
  return w;
}

// Index into x of the first maximum of a window.
int64_t first_max(const std::vector<double>& x, const std::vector<int64_t>& win) {
  int64_t best = win.front();
  for (int64_t i : win)
    if (x[i] > x[best]) best = i;
  return best;
}

std::vector<double> ref_pool(const Windows& w, const std::vector<double>& x, bool is_max) {
  std::vector<double> y;
  for (const auto& win : w.of) {
    if (is_max) {
      y.push_back(x[first_max(x, win)]);
    } else {
      double s = 0;
      for (int64_t i : win) s += x[i];
      y.push_back(s / static_cast<double>(win.size()));
    }
  }
  return y;
}

std::vector<double> ref_pool_backward(const Windows& w, const std::vector<double>& x,
                                      const std::vector<double>& gy, bool is_max) {
  std::vector<double> gx(x.size(), 0.0);
  for (size_t o = 0; o < w.of.size(); ++o) {
    const auto& win = w.of[o];
    if (is_max) {
      gx[first_max(x, win)] += gy[o];
    } else {
      for (int64_t i : win) gx[i] += gy[o] / static_cast<double>(win.size());
    }
  }
  return gx;
}

Attrs pool_attrs(const Index& pool, const Index& strides, const std::string& padding) {
  Attrs a;
  a.set("pool_size", pool);
  a.set("strides", strides);
  a.set("padding", padding);
  return a;
}

// Runs op's backward for output gradient G, into gradients prefilled with `initial`, with the
// given accumulate flag; returns the gradient of input 0.
std::vector<double> backward_of(const std::string& op, const Attrs& attrs, std::vector<Tensor> in,
                                const Tensor& G, bool accumulate, double initial) {
  const OpDef& d = OpRegistry::instance().get(op);
  Tensor out = forward(op, attrs, in);
  GradContext gc;
  for (auto& t : in) gc.inputs.push_back(&t);
  gc.output = &out;
  gc.attrs = &attrs;
  gc.grad_out = &G;
  Tensor gx(in[0].shape(), in[0].dtype());
  for (int64_t i = 0; i < gx.size(); ++i) {
    if (gx.dtype() == DType::f32) gx.data<float>()[i] = static_cast<float>(initial);
    else gx.data<double>()[i] = initial;
  }
  gc.grad_in = {&gx};
  gc.accumulate = {accumulate};
  d.backward(gc);
  return values(gx);
}

TensorMeta infer(const std::string& op, const Attrs& attrs, const Shape& s,
                 DType dt = DType::f32) {
  return OpRegistry::instance().get(op).infer({{s, dt}}, attrs);
}

// True when calling f throws a ValueError (or TypeError with `type`) whose message names the op.
template <class E>
bool throws_naming(const std::function<void()>& f, const std::string& op) {
  try {
    f();
  } catch (const E& e) {
    const bool named = std::string(e.what()).find("op '" + op + "'") != std::string::npos;
    if (!named) std::cerr << "  message does not name the op: " << e.what() << "\n";
    return named;
  } catch (...) {
  }
  return false;
}

struct PoolVariant {
  const char* name;
  Shape in;
  Index pool, strides;
  const char* padding;
};

// Every spatial rank, valid and same, stride < pool (overlap), stride > pool (gaps), uneven
// extents and channel counts across the kernels' vector block, single vector and tail paths.
const std::vector<PoolVariant> kPoolVariants = {
    {"1d valid", {2, 7, 3}, {2}, {2}, "valid"},
    {"1d same overlap", {2, 7, 3}, {3}, {2}, "same"},
    {"1d stride > pool", {1, 9, 2}, {2}, {3}, "valid"},
    {"2d valid", {2, 6, 5, 3}, {2, 2}, {2, 2}, "valid"},
    {"2d same overlap", {2, 7, 6, 37}, {3, 3}, {2, 2}, "same"},
    {"2d stride 1", {1, 5, 5, 9}, {3, 2}, {1, 1}, "valid"},
    {"2d same stride 1", {1, 4, 5, 2}, {2, 3}, {1, 1}, "same"},
    {"2d mixed strides", {2, 7, 8, 16}, {3, 2}, {1, 2}, "same"},
    {"3d valid", {2, 4, 4, 5, 3}, {2, 2, 2}, {2, 2, 2}, "valid"},
    {"3d same overlap", {1, 5, 4, 5, 5}, {3, 2, 3}, {2, 1, 2}, "same"},
};

}  // namespace

// ---------------------------------------------------------------- pooling

TEST_CASE("pooling: forward matches the reference in every variant, float32 and float64") {
  for (const PoolVariant& v : kPoolVariants) {
    const Attrs attrs = pool_attrs(v.pool, v.strides, v.padding);
    const Windows w = pool_windows(v.in, v.pool, v.strides, std::string(v.padding) == "same");
    for (DType dt : {DType::f32, DType::f64}) {
      Tensor x = random_tensor(v.in, dt, 3);
      for (bool is_max : {true, false}) {
        Tensor y = forward(is_max ? "max_pool" : "avg_pool", attrs, {x});
        CHECK(y.shape() == w.out);
        CHECK(y.dtype() == dt);
        const double err = max_diff(values(y), ref_pool(w, values(x), is_max));
        if (!(err < (dt == DType::f32 ? 1e-6 : 1e-14)))
          std::cerr << "  variant " << v.name << (is_max ? " max" : " avg") << "\n";
        CHECK(err < (dt == DType::f32 ? 1e-6 : 1e-14));
      }
    }
  }
}

TEST_CASE("pooling: backward matches central differences in every variant") {
  for (const PoolVariant& v : kPoolVariants) {
    const Attrs attrs = pool_attrs(v.pool, v.strides, v.padding);
    // random values: no ties, so the max is differentiable at the sample
    Tensor x = random_tensor(v.in, DType::f64, 5);
    for (const char* op : {"max_pool", "avg_pool"}) {
      const double err = grad_error(op, attrs, {x}, {0});
      if (!(err < 1e-6)) std::cerr << "  variant " << v.name << " " << op << ": " << err << "\n";
      CHECK(err < 1e-6);
    }
  }
}

TEST_CASE("pooling: backward assigns or accumulates as asked") {
  const PoolVariant& v = kPoolVariants[4];  // overlapping windows with 'same' padding
  const Attrs attrs = pool_attrs(v.pool, v.strides, v.padding);
  const Windows w = pool_windows(v.in, v.pool, v.strides, true);
  Tensor x = random_tensor(v.in, DType::f64, 8);
  Tensor G = random_tensor(w.out, DType::f64, 9);
  for (bool is_max : {true, false}) {
    const std::string op = is_max ? "max_pool" : "avg_pool";
    const std::vector<double> ref = ref_pool_backward(w, values(x), values(G), is_max);
    std::vector<double> shifted = ref;
    for (double& e : shifted) e += 0.5;
    CHECK(max_diff(backward_of(op, attrs, {x}, G, false, 7.0), ref) < 1e-14);
    CHECK(max_diff(backward_of(op, attrs, {x}, G, true, 0.5), shifted) < 1e-14);
  }
}

TEST_CASE("pooling: max_pool sends the gradient to the first maximum on ties") {
  // Constant blocks: every window is all ties. Overlapping windows (3, stride 2) share
  // elements, so some elements are the first maximum of two windows and must receive both.
  for (const PoolVariant& v : {PoolVariant{"1d", {1, 9, 2}, {3}, {2}, "valid"},
                               PoolVariant{"2d", {2, 6, 7, 10}, {3, 3}, {2, 2}, "same"},
                               PoolVariant{"3d", {1, 4, 5, 4, 3}, {2, 3, 2}, {1, 2, 2}, "same"}}) {
    const Attrs attrs = pool_attrs(v.pool, v.strides, v.padding);
    const Windows w = pool_windows(v.in, v.pool, v.strides, std::string(v.padding) == "same");
    std::vector<double> xv(numel(v.in));
    for (size_t i = 0; i < xv.size(); ++i) xv[i] = static_cast<double>((i / 5) % 3);  // ties
    for (DType dt : {DType::f32, DType::f64}) {
      Tensor x = from_values(v.in, dt, xv);
      Tensor G = cast(random_tensor(w.out, DType::f64, 4), dt);
      const std::vector<double> ref = ref_pool_backward(w, xv, values(G), true);
      const double err = max_diff(backward_of("max_pool", attrs, {x}, G, false, 0.0), ref);
      CHECK(err < (dt == DType::f32 ? 1e-6 : 1e-14));
      CHECK(max_diff(values(forward("max_pool", attrs, {x})), ref_pool(w, xv, true)) == 0);
    }
  }
  // Hand-checked: [5, 5, 1, 5] pooled by 2, stride 1: windows (5,5) (5,1) (1,5) route to
  // elements 0, 1 and 3.
  Attrs attrs = pool_attrs({2}, {1}, "valid");
  Tensor x = from_values({1, 4, 1}, DType::f64, {5, 5, 1, 5});
  Tensor G = from_values({1, 3, 1}, DType::f64, {1, 10, 100});
  const std::vector<double> gx = backward_of("max_pool", attrs, {x}, G, false, 0.0);
  CHECK(gx == (std::vector<double>{1, 10, 0, 100}));
}

TEST_CASE("pooling: max_pool propagates NaN and routes its gradient to the NaN") {
  Attrs attrs = pool_attrs({3}, {3}, "valid");
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor x = from_values({1, 6, 1}, dt, {1, nan, 3, 4, 2, 0});
    std::vector<double> y = values(forward("max_pool", attrs, {x}));
    CHECK(std::isnan(y[0]));
    CHECK(y[1] == 4);
    Tensor G = from_values({1, 2, 1}, dt, {2, 3});
    CHECK(backward_of("max_pool", attrs, {x}, G, false, 0.0) ==
          (std::vector<double>{0, 2, 0, 3, 0, 0}));
  }
}

TEST_CASE("pooling: avg_pool with 'same' padding averages only the real elements") {
  // 3 wide, pool 2 stride 2 'same': out 2, total pad 1 (after): windows [0, 1] and [2].
  Attrs attrs = pool_attrs({2}, {2}, "same");
  Tensor x = from_values({1, 3, 1}, DType::f64, {1, 3, 8});
  CHECK(values(forward("avg_pool", attrs, {x})) == (std::vector<double>{2, 8}));
}

TEST_CASE("pooling: large inputs take the parallel paths and still match the reference") {
  const Shape in{3, 33, 30, 40};
  for (const char* padding : {"same", "valid"}) {
    const Attrs attrs = pool_attrs({3, 3}, {2, 2}, padding);
    const Windows w = pool_windows(in, {3, 3}, {2, 2}, std::string(padding) == "same");
    for (DType dt : {DType::f32, DType::f64}) {
      Tensor x = random_tensor(in, dt, 6);
      Tensor G = cast(random_tensor(w.out, DType::f64, 2), dt);
      const double tol = dt == DType::f32 ? 1e-5 : 1e-13;
      for (bool is_max : {true, false}) {
        const std::string op = is_max ? "max_pool" : "avg_pool";
        CHECK(max_diff(values(forward(op, attrs, {x})), ref_pool(w, values(x), is_max)) < tol);
        CHECK(max_diff(backward_of(op, attrs, {x}, G, false, 1.0),
                       ref_pool_backward(w, values(x), values(G), is_max)) < tol);
      }
    }
  }
}

TEST_CASE("pooling: shape inference follows Keras and keeps unknown extents unknown") {
  Attrs valid = pool_attrs({2, 3}, {2, 1}, "valid");
  Attrs same = pool_attrs({2, 3}, {2, 1}, "same");
  for (const char* op : {"max_pool", "avg_pool"}) {
    CHECK(infer(op, valid, {-1, 7, 9, 4}).shape == (Shape{-1, 3, 7, 4}));
    CHECK(infer(op, same, {-1, 7, 9, 4}).shape == (Shape{-1, 4, 9, 4}));
    CHECK(infer(op, valid, {2, -1, 9, 4}).shape == (Shape{2, -1, 7, 4}));
    CHECK(infer(op, same, {2, 7, -1, -1}).shape == (Shape{2, 4, -1, -1}));
    CHECK(infer(op, same, {2, 7, 9, 4}, DType::f64).dtype == DType::f64);
    // strides default to pool_size
    Attrs no_strides;
    no_strides.set("pool_size", Index{2});
    CHECK(infer(op, no_strides, {5, 9, 3}).shape == (Shape{5, 4, 3}));
    Attrs cube = pool_attrs({2, 2, 2}, {2, 2, 2}, "valid");
    CHECK(infer(op, cube, {-1, 4, 5, 6, 2}).shape == (Shape{-1, 2, 2, 3, 2}));
  }
}

TEST_CASE("pooling: bad input raises errors naming the op") {
  for (const std::string op : {"max_pool", "avg_pool"}) {
    auto bad = [&](const Attrs& a, const Shape& s, DType dt = DType::f32) {
      return throws_naming<ValueError>([&] { infer(op, a, s, dt); }, op);
    };
    const Attrs ok = pool_attrs({2, 2}, {2, 2}, "valid");
    CHECK(bad(ok, {4, 5, 3}));                                 // wrong rank (1-D pool on 2-D)
    CHECK(bad(ok, {4, 5}));                                    // rank 2
    CHECK(bad(ok, {4, 1, 5, 3}));                              // pool larger than valid input
    CHECK(bad(pool_attrs({2, 2}, {0, 2}, "valid"), {4, 5, 5, 3}));   // zero stride
    CHECK(bad(pool_attrs({2, 2}, {2, -1}, "valid"), {4, 5, 5, 3}));  // negative stride
    CHECK(bad(pool_attrs({0, 2}, {1, 1}, "valid"), {4, 5, 5, 3}));   // zero pool
    CHECK(bad(pool_attrs({2, 2}, {2, 2}, "full"), {4, 5, 5, 3}));    // unknown padding
    CHECK(bad(Attrs{}, {4, 5, 5, 3}));                               // no pool_size
    CHECK(throws_naming<TypeError>([&] { infer(op, ok, {4, 5, 5, 3}, DType::i32); }, op));
    // 'same' accepts a pool larger than the input
    CHECK(infer(op, pool_attrs({4, 4}, {2, 2}, "same"), {1, 3, 3, 1}).shape ==
          (Shape{1, 2, 2, 1}));
  }
}

// ---------------------------------------------------------------- pad / crop

namespace {

Attrs edges_attrs(const char* name, const Index& edges) {
  Attrs a;
  a.set(name, edges);
  return a;
}

// y = x placed at the "before" offsets inside `value` (pad), or the box of x (crop).
std::vector<double> ref_pad(const Shape& in, const std::vector<double>& x, const Index& pads,
                            double value, Shape* out_shape) {
  Shape out = in;
  for (size_t a = 0; a + 2 < in.size(); ++a) out[a + 1] += pads[2 * a] + pads[2 * a + 1];
  std::vector<double> y;
  for (const Index& o : all_indices(out)) {
    Index i = o;
    bool inside = true;
    for (size_t a = 0; a + 2 < in.size(); ++a) {
      i[a + 1] = o[a + 1] - pads[2 * a];
      inside = inside && i[a + 1] >= 0 && i[a + 1] < in[a + 1];
    }
    y.push_back(inside ? x[flat(in, i)] : value);
  }
  *out_shape = out;
  return y;
}

std::vector<double> ref_crop(const Shape& in, const std::vector<double>& x, const Index& crops,
                             Shape* out_shape) {
  Shape out = in;
  for (size_t a = 0; a + 2 < in.size(); ++a) out[a + 1] -= crops[2 * a] + crops[2 * a + 1];
  std::vector<double> y;
  for (const Index& o : all_indices(out)) {
    Index i = o;
    for (size_t a = 0; a + 2 < in.size(); ++a) i[a + 1] = o[a + 1] + crops[2 * a];
    y.push_back(x[flat(in, i)]);
  }
  *out_shape = out;
  return y;
}

struct EdgeVariant {
  Shape in;
  Index edges;
};
const std::vector<EdgeVariant> kEdgeVariants = {
    {{2, 5, 3}, {1, 2}},
    {{2, 4, 5, 3}, {2, 0, 1, 3}},
    {{1, 3, 4, 2, 2}, {1, 1, 0, 2, 1, 0}},
    {{2, 4, 3, 1}, {0, 0, 0, 0}},
};

// The result of a linear op's backward with accumulate set equals its assigning result plus the
// prefilled value; checks both paths on one random gradient.
void check_accumulate(const std::string& op, const Attrs& attrs, const Tensor& x) {
  const Tensor out = forward(op, attrs, {x});
  Tensor G = random_tensor(out.shape(), DType::f64, 12);
  std::vector<double> assigned = backward_of(op, attrs, {x}, G, false, -3.0);
  for (double& e : assigned) e += 0.25;
  CHECK(max_diff(backward_of(op, attrs, {x}, G, true, 0.25), assigned) < 1e-14);
}

}  // namespace

TEST_CASE("pad: forward, value, gradient, accumulate") {
  for (const EdgeVariant& v : kEdgeVariants) {
    Attrs attrs = edges_attrs("pads", v.edges);
    attrs.set("value", 1.5);
    for (DType dt : {DType::f32, DType::f64}) {
      Tensor x = random_tensor(v.in, dt, 1);
      Shape out;
      const std::vector<double> ref = ref_pad(v.in, values(x), v.edges, 1.5, &out);
      Tensor y = forward("pad", attrs, {x});
      CHECK(y.shape() == out);
      CHECK(max_diff(values(y), ref) == 0);
    }
    Tensor x = random_tensor(v.in, DType::f64, 2);
    CHECK(grad_error("pad", attrs, {x}, {0}) < 1e-6);
    check_accumulate("pad", attrs, x);
  }
  // value defaults to 0 (ZeroPadding)
  Tensor x = from_values({1, 1, 1}, DType::f64, {4});
  CHECK(values(forward("pad", edges_attrs("pads", {1, 1}), {x})) == (std::vector<double>{0, 4, 0}));
}

TEST_CASE("crop: forward, gradient, accumulate") {
  for (const EdgeVariant& v : kEdgeVariants) {
    Attrs attrs = edges_attrs("crops", v.edges);
    Shape big = v.in;  // crop the padded shape back: every crop pair fits
    for (size_t a = 0; a + 2 < big.size(); ++a) big[a + 1] += v.edges[2 * a] + v.edges[2 * a + 1];
    for (DType dt : {DType::f32, DType::f64}) {
      Tensor x = random_tensor(big, dt, 1);
      Shape out;
      const std::vector<double> ref = ref_crop(big, values(x), v.edges, &out);
      Tensor y = forward("crop", attrs, {x});
      CHECK(y.shape() == out);
      CHECK(out == v.in);
      CHECK(max_diff(values(y), ref) == 0);
    }
    Tensor x = random_tensor(big, DType::f64, 2);
    CHECK(grad_error("crop", attrs, {x}, {0}) < 1e-6);
    check_accumulate("crop", attrs, x);
  }
}

TEST_CASE("pad and crop: shape inference and errors") {
  CHECK(infer("pad", edges_attrs("pads", {1, 2, 0, 3}), {-1, 4, -1, 2}).shape ==
        (Shape{-1, 7, -1, 2}));
  CHECK(infer("crop", edges_attrs("crops", {1, 2, 0, 3}), {-1, 4, -1, 2}).shape ==
        (Shape{-1, 1, -1, 2}));
  CHECK(infer("crop", edges_attrs("crops", {1, 1, 0, 0, 2, 2}), {3, 3, 1, 5, 2}).shape ==
        (Shape{3, 1, 1, 1, 2}));
  auto bad = [](const std::string& op, const char* name, const Index& e, const Shape& s) {
    return throws_naming<ValueError>([&] { infer(op, edges_attrs(name, e), s); }, op);
  };
  CHECK(bad("pad", "pads", {1, -1}, {2, 5, 3}));          // negative pad
  CHECK(bad("pad", "pads", {1, 1}, {2, 5, 5, 3}));        // one pair for two spatial dims
  CHECK(bad("pad", "pads", {1, 1}, {2, 3}));              // rank 2
  CHECK(bad("pad", "other", {1, 1}, {2, 5, 3}));          // no pads
  CHECK(bad("crop", "crops", {2, 3}, {2, 5, 3}));         // removes everything
  CHECK(bad("crop", "crops", {0, 0, 4, 3}, {2, 5, 6, 3}));
  CHECK(bad("crop", "crops", {-1, 0}, {2, 5, 3}));
  CHECK(bad("crop", "crops", {1, 1, 1, 1}, {2, 5, 3}));
  CHECK(throws_naming<TypeError>(
      [] { infer("pad", edges_attrs("pads", {1, 1}), {2, 5, 3}, DType::i64); }, "pad"));
}

// ---------------------------------------------------------------- upsample_nearest

TEST_CASE("upsample_nearest: forward, gradient, accumulate in 1-D, 2-D and 3-D") {
  struct V { Shape in; Index size; };
  for (const V& v : {V{{2, 4, 3}, {3}}, V{{2, 3, 4, 5}, {2, 3}}, V{{1, 2, 3, 2, 2}, {2, 1, 3}},
                     V{{2, 3, 3, 2}, {1, 1}}}) {
    Attrs attrs = edges_attrs("size", v.size);
    Shape out = v.in;
    for (size_t a = 0; a < v.size.size(); ++a) out[a + 1] *= v.size[a];
    for (DType dt : {DType::f32, DType::f64}) {
      Tensor x = random_tensor(v.in, dt, 1);
      const std::vector<double> xv = values(x);
      std::vector<double> ref;
      for (const Index& o : all_indices(out)) {
        Index i = o;
        for (size_t a = 0; a < v.size.size(); ++a) i[a + 1] = o[a + 1] / v.size[a];
        ref.push_back(xv[flat(v.in, i)]);
      }
      Tensor y = forward("upsample_nearest", attrs, {x});
      CHECK(y.shape() == out);
      CHECK(max_diff(values(y), ref) == 0);
    }
    Tensor x = random_tensor(v.in, DType::f64, 2);
    CHECK(grad_error("upsample_nearest", attrs, {x}, {0}) < 1e-6);
    check_accumulate("upsample_nearest", attrs, x);
  }
  CHECK(infer("upsample_nearest", edges_attrs("size", {2, 3}), {-1, 4, -1, 2}).shape ==
        (Shape{-1, 8, -1, 2}));
  auto bad = [](const Index& size, const Shape& s) {
    return throws_naming<ValueError>(
        [&] { infer("upsample_nearest", edges_attrs("size", size), s); }, "upsample_nearest");
  };
  CHECK(bad({0}, {2, 5, 3}));
  CHECK(bad({2, -2}, {2, 5, 5, 3}));
  CHECK(bad({2}, {2, 5, 5, 3}));
  CHECK(bad({2}, {2, 5}));
}

// ---------------------------------------------------------------- resize_bilinear

namespace {

// Half-pixel bilinear resizing of an (n, h, w, c) tensor, in double.
std::vector<double> ref_bilinear(const Shape& in, const std::vector<double>& x, int64_t oh,
                                 int64_t ow) {
  auto taps = [](int64_t o, int64_t len, int64_t out, int64_t* i0, int64_t* i1, double* l) {
    double src = (o + 0.5) * static_cast<double>(len) / static_cast<double>(out) - 0.5;
    src = std::max(src, 0.0);
    *i0 = std::min<int64_t>(static_cast<int64_t>(std::floor(src)), len - 1);
    *i1 = std::min<int64_t>(*i0 + 1, len - 1);
    *l = src - static_cast<double>(*i0);
  };
  std::vector<double> y;
  for (const Index& o : all_indices({in[0], oh, ow, in[3]})) {
    int64_t y0, y1, x0, x1;
    double ly, lx;
    taps(o[1], in[1], oh, &y0, &y1, &ly);
    taps(o[2], in[2], ow, &x0, &x1, &lx);
    auto v = [&](int64_t r, int64_t c) { return x[flat(in, {o[0], r, c, o[3]})]; };
    y.push_back((1 - ly) * ((1 - lx) * v(y0, x0) + lx * v(y0, x1)) +
                ly * ((1 - lx) * v(y1, x0) + lx * v(y1, x1)));
  }
  return y;
}

}  // namespace

TEST_CASE("resize_bilinear: forward matches the half-pixel reference") {
  struct V { Shape in; Index size; };
  for (const V& v : {V{{2, 3, 4, 5}, {2, 2}}, V{{1, 4, 3, 2}, {3, 1}}, V{{2, 1, 5, 3}, {2, 4}},
                     V{{3, 17, 19, 37}, {2, 3}}}) {  // the last one runs in parallel
    Attrs attrs = edges_attrs("size", v.size);
    const int64_t oh = v.in[1] * v.size[0], ow = v.in[2] * v.size[1];
    for (DType dt : {DType::f32, DType::f64}) {
      Tensor x = random_tensor(v.in, dt, 1);
      Tensor y = forward("resize_bilinear", attrs, {x});
      CHECK(y.shape() == (Shape{v.in[0], oh, ow, v.in[3]}));
      // float32 computes the source positions in float32 as torch does: their rounding
      // (~1e-7 of positions up to the extent) moves the weights by ~1e-6
      CHECK(max_diff(values(y), ref_bilinear(v.in, values(x), oh, ow)) <
            (dt == DType::f32 ? 1e-5 : 1e-13));
    }
  }
  // Hand-checked: a 2-wide row doubled reads [0, 1] -> [0, 0.25, 0.75, 1] (edges clamped).
  Tensor x = from_values({1, 1, 2, 1}, DType::f64, {0, 1});
  CHECK(max_diff(values(forward("resize_bilinear", edges_attrs("size", {1, 2}), {x})),
                 {0, 0.25, 0.75, 1}) < 1e-15);
}

TEST_CASE("resize_bilinear: backward is the transpose of the interpolation") {
  struct V { Shape in; Index size; };
  for (const V& v : {V{{2, 3, 4, 2}, {2, 2}}, V{{1, 2, 5, 3}, {3, 2}}, V{{1, 1, 1, 2}, {2, 3}},
                     V{{2, 4, 3, 1}, {1, 1}}}) {
    Attrs attrs = edges_attrs("size", v.size);
    Tensor x = random_tensor(v.in, DType::f64, 2);
    CHECK(grad_error("resize_bilinear", attrs, {x}, {0}) < 1e-6);
    check_accumulate("resize_bilinear", attrs, x);
  }
  // Large: <gy, resize(x)> == <backward(gy), x> for random x and gy (adjointness), float32 too.
  const Shape in{3, 17, 19, 37};
  Attrs attrs = edges_attrs("size", {2, 3});
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor x = random_tensor(in, dt, 4);
    Tensor y = forward("resize_bilinear", attrs, {x});
    Tensor G = cast(random_tensor(y.shape(), DType::f64, 5), dt);
    const std::vector<double> gx = backward_of("resize_bilinear", attrs, {x}, G, false, 9.0);
    const std::vector<double> xv = values(x), yv = values(y), gv = values(G);
    double lhs = 0, rhs = 0, scale = 0;
    for (size_t i = 0; i < yv.size(); ++i) lhs += gv[i] * yv[i], scale += std::fabs(gv[i] * yv[i]);
    for (size_t i = 0; i < xv.size(); ++i) rhs += gx[i] * xv[i];
    CHECK(std::fabs(lhs - rhs) <= (dt == DType::f32 ? 1e-5 : 1e-12) * scale);
  }
}

TEST_CASE("resize_bilinear: shape inference and errors") {
  CHECK(infer("resize_bilinear", edges_attrs("size", {2, 3}), {-1, 4, -1, 2}).shape ==
        (Shape{-1, 8, -1, 2}));
  auto bad = [](const Index& size, const Shape& s) {
    return throws_naming<ValueError>(
        [&] { infer("resize_bilinear", edges_attrs("size", size), s); }, "resize_bilinear");
  };
  CHECK(bad({2, 2}, {2, 5, 3}));        // 1-D input
  CHECK(bad({2, 2}, {2, 4, 5, 5, 3}));  // 3-D input
  CHECK(bad({2}, {2, 5, 5, 3}));
  CHECK(bad({2, 0}, {2, 5, 5, 3}));
  CHECK(throws_naming<TypeError>(
      [] { infer("resize_bilinear", edges_attrs("size", {2, 2}), {2, 5, 5, 3}, DType::i32); },
      "resize_bilinear"));
}
