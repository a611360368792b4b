// Tests of the tensor ops: reductions, shape ops, softmax, matmul. Each op is checked forward
// against a reference computed here (in double, by index arithmetic), backward against central
// differences (float64), in shape inference with unknown extents, and on each error path.
#include <algorithm>
#include <cmath>
#include <cstring>
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

double at(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DType::f32: return t.data<float>()[i];
    case DType::f64: return t.data<double>()[i];
    case DType::i32: return t.data<int32_t>()[i];
    default: return static_cast<double>(t.data<int64_t>()[i]);
  }
}

std::vector<double> values(const Tensor& t) {
  std::vector<double> v(t.size());
  for (int64_t i = 0; i < t.size(); ++i) v[i] = at(t, i);
  return v;
}

Tensor from_values(Shape s, DType dt, const std::vector<double>& v) {
  Tensor t(std::move(s), dt);
  for (int64_t i = 0; i < t.size(); ++i) {
    if (dt == DType::f32) t.data<float>()[i] = static_cast<float>(v[i]);
    else if (dt == DType::f64) t.data<double>()[i] = v[i];
    else if (dt == DType::i32) t.data<int32_t>()[i] = static_cast<int32_t>(v[i]);
    else t.data<int64_t>()[i] = static_cast<int64_t>(v[i]);
  }
  return t;
}

Tensor iota(Shape s, DType dt) {
  std::vector<double> v(numel(s));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(i) + 1;
  return from_values(std::move(s), dt, v);
}

// Max |a - b| / (1 + |b|) over elements; infinity when the sizes differ or NaNs disagree.
double max_diff(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return std::numeric_limits<double>::infinity();
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) || std::isnan(b[i])) {
      if (!(std::isnan(a[i]) && std::isnan(b[i]))) return std::numeric_limits<double>::infinity();
      continue;
    }
    if (a[i] == b[i]) continue;
    worst = std::max(worst, std::fabs(a[i] - b[i]) / (1 + std::fabs(b[i])));
  }
  return worst;
}

TensorMeta infer(const std::string& op, const Attrs& attrs, const std::vector<TensorMeta>& in) {
  return OpRegistry::instance().get(op).infer(in, attrs);
}

// Runs backward with the given upstream gradient into preset gradient buffers.
void backward(const std::string& op, const Attrs& attrs, const std::vector<Tensor>& in,
              const Tensor& g, std::vector<Tensor*> grads, std::vector<bool> accumulate) {
  const OpDef& d = OpRegistry::instance().get(op);
  Tensor out = forward(op, attrs, in);
  GradContext gc;
  for (auto& t : in) gc.inputs.push_back(&t);
  gc.output = &out;
  gc.attrs = &attrs;
  gc.grad_out = &g;
  gc.grad_in = std::move(grads);
  gc.accumulate = std::move(accumulate);
  d.backward(gc);
}

template <class E>
bool throws_naming(const std::function<void()>& f, const std::vector<std::string>& words) {
  try {
    f();
  } catch (const E& e) {
    const std::string msg = e.what();
    for (const auto& w : words)
      if (msg.find(w) == std::string::npos) {
        std::cerr << "  message \"" << msg << "\" lacks \"" << w << "\"\n";
        return false;
      }
    return true;
  } catch (const std::exception& e) {
    std::cerr << "  threw another kind: " << e.what() << "\n";
  }
  return false;
}

std::vector<int64_t> strides_of(const Shape& s) {
  std::vector<int64_t> st(s.size());
  int64_t k = 1;
  for (size_t i = s.size(); i-- > 0;) {
    st[i] = k;
    k *= s[i];
  }
  return st;
}

// ---------------------------------------------------------------- reduction reference

enum class RK { sum, mean, max, min };

std::vector<double> ref_reduce(const std::vector<double>& x, const Shape& s,
                               const std::vector<bool>& red, RK kind) {
  int64_t ny = 1, count = 1;
  for (size_t d = 0; d < s.size(); ++d) (red[d] ? count : ny) *= s[d];
  const double init = kind == RK::max ? -INFINITY : kind == RK::min ? INFINITY : 0.0;
  std::vector<double> y(ny, init);
  const auto st = strides_of(s);
  for (int64_t i = 0; i < static_cast<int64_t>(x.size()); ++i) {
    int64_t o = 0;
    for (size_t d = 0; d < s.size(); ++d)
      if (!red[d]) o = o * s[d] + (i / st[d]) % s[d];
    if (kind == RK::max) y[o] = std::isnan(y[o]) || std::isnan(x[i]) ? NAN : std::max(y[o], x[i]);
    else if (kind == RK::min) y[o] = std::isnan(y[o]) || std::isnan(x[i]) ? NAN : std::min(y[o], x[i]);
    else y[o] += x[i];
  }
  if (kind == RK::mean)
    for (double& v : y) v /= count;
  return y;
}

std::vector<bool> flags(int rank, const std::vector<int64_t>* axes) {
  std::vector<bool> red(rank, axes == nullptr);
  if (axes)
    for (int64_t a : *axes) red[a < 0 ? a + rank : a] = true;
  return red;
}

Attrs reduce_attrs(const std::vector<int64_t>* axes, bool keepdims) {
  Attrs a;
  if (axes) a.set("axis", *axes);
  a.set("keepdims", keepdims);
  return a;
}

const char* kind_name(RK k) {
  return k == RK::sum ? "sum" : k == RK::mean ? "mean" : k == RK::max ? "max" : "min";
}

struct ReduceCase {
  Shape shape;
  bool all;
  std::vector<int64_t> axes;
};

}  // namespace

// ---------------------------------------------------------------- reductions

TEST_CASE("reduce: forward vs reference and gradients, every layout") {
  const std::vector<ReduceCase> cases = {
      {{2, 3, 4}, true, {}},     {{2, 3, 4}, false, {}},      {{2, 3, 4}, false, {0}},
      {{2, 3, 4}, false, {1}},   {{2, 3, 4}, false, {2}},     {{2, 3, 4}, false, {-1}},
      {{2, 3, 4}, false, {0, 1}}, {{2, 3, 4}, false, {1, 2}}, {{2, 3, 4}, false, {0, 2}},
      {{2, 3, 4}, false, {-3, -1}}, {{2, 3, 4, 5}, false, {0, 2}}, {{2, 3, 4, 5}, false, {1, 3}},
      {{2, 3, 4, 5}, false, {0, 3}}, {{2, 1, 3}, false, {1}},  {{1, 5}, false, {0}},
      {{5}, true, {}},           {{}, true, {}},              {{3, 1, 4}, false, {0, 2}}};
  for (RK kind : {RK::sum, RK::mean, RK::max, RK::min}) {
    for (const auto& c : cases) {
      for (bool keep : {false, true}) {
        const std::vector<int64_t>* axes = c.all ? nullptr : &c.axes;
        const Attrs attrs = reduce_attrs(axes, keep);
        const auto red = flags(static_cast<int>(c.shape.size()), axes);
        Shape want_shape;
        for (size_t d = 0; d < c.shape.size(); ++d)
          if (!red[d]) want_shape.push_back(c.shape[d]);
          else if (keep) want_shape.push_back(1);
        for (DType dt : {DType::f32, DType::f64}) {
          Tensor x = random_tensor(c.shape, dt, 11);
          Tensor y = forward(kind_name(kind), attrs, {x});
          CHECK(y.shape() == want_shape);
          CHECK(y.dtype() == dt);
          const double err = max_diff(values(y), ref_reduce(values(x), c.shape, red, kind));
          CHECK(err < (dt == DType::f32 ? 1e-6 : 1e-12));
          if (err >= (dt == DType::f32 ? 1e-6 : 1e-12))
            std::cerr << "  " << kind_name(kind) << " " << shape_str(c.shape) << "\n";
        }
        const double gerr = grad_error(kind_name(kind), attrs, {random_tensor(c.shape, DType::f64, 5)}, {0});
        CHECK(gerr < 1e-6);
      }
    }
  }
}

TEST_CASE("reduce: empty axes, NaN propagation") {
  Tensor z = random_tensor({3, 0}, DType::f32, 1);
  std::vector<int64_t> ax1 = {1}, ax0 = {0};
  Tensor s = forward("sum", reduce_attrs(&ax1, false), {z});
  CHECK(s.shape() == Shape({3}));
  for (int i = 0; i < 3; ++i) CHECK(s.data<float>()[i] == 0.0f);
  Tensor s0 = forward("sum", reduce_attrs(&ax0, false), {z});
  CHECK(s0.shape() == Shape({0}));
  // An empty axis() list reduces nothing.
  std::vector<int64_t> none;
  Tensor x = random_tensor({2, 3}, DType::f64, 2);
  CHECK(max_diff(values(forward("max", reduce_attrs(&none, false), {x})), values(x)) == 0);
  // NaN wins in max/min, as in NumPy.
  Tensor n = from_values({2, 3}, DType::f32, {1, NAN, 2, 4, 5, 6});
  Tensor m = forward("max", reduce_attrs(&ax1, false), {n});
  CHECK(std::isnan(m.data<float>()[0]));
  CHECK(m.data<float>()[1] == 6.0f);
  Tensor mn = forward("min", reduce_attrs(&ax0, false), {n});
  CHECK(mn.data<float>()[0] == 1.0f);
  CHECK(std::isnan(mn.data<float>()[1]));
}

TEST_CASE("reduce: max/min ties send the gradient to the first extreme element") {
  // Last-axis path: row [1, 3, 3, 2] -> index 1; leading-axis and general paths likewise.
  // Gradient buffers start with garbage (5): assigning must overwrite every element.
  Tensor x = from_values({2, 4}, DType::f64, {1, 3, 3, 2, 7, 7, 0, 7});
  Tensor g = from_values({2}, DType::f64, {10, 20});
  Tensor gx = from_values({2, 4}, DType::f64, std::vector<double>(8, 5.0));
  std::vector<int64_t> ax1 = {1};
  backward("max", reduce_attrs(&ax1, false), {x}, g, {&gx}, {false});
  CHECK(values(gx) == std::vector<double>({0, 10, 0, 0, 20, 0, 0, 0}));
  backward("max", reduce_attrs(&ax1, false), {x}, g, {&gx}, {true});  // accumulating adds
  CHECK(values(gx) == std::vector<double>({0, 20, 0, 0, 40, 0, 0, 0}));

  Tensor xc = from_values({3, 2}, DType::f64, {5, 1, 5, 1, 2, 1});  // columns: tie, all-equal
  Tensor gc = from_values({3, 2}, DType::f64, std::vector<double>(6, 5.0));
  std::vector<int64_t> ax0 = {0};
  backward("max", reduce_attrs(&ax0, false), {xc}, from_values({2}, DType::f64, {1, 2}), {&gc},
           {false});
  CHECK(values(gc) == std::vector<double>({1, 2, 0, 0, 0, 0}));

  // General layout (2, 2, 2) reducing axes 0 and 2: slice j=0 holds {4, 4, 1, 4} -> first.
  Tensor xg = from_values({2, 2, 2}, DType::f64, {4, 4, 0, 9, 1, 4, 9, 0});
  Tensor gg = from_values({2, 2, 2}, DType::f64, std::vector<double>(8, 5.0));
  std::vector<int64_t> ax02 = {0, 2};
  backward("max", reduce_attrs(&ax02, false), {xg}, from_values({2}, DType::f64, {1, 2}), {&gg},
           {false});
  CHECK(values(gg) == std::vector<double>({1, 0, 0, 2, 0, 0, 0, 0}));
  backward("min", reduce_attrs(&ax02, false), {xg}, from_values({2}, DType::f64, {1, 2}), {&gg},
           {false});
  CHECK(values(gg) == std::vector<double>({0, 0, 2, 0, 1, 0, 0, 0}));
}

TEST_CASE("reduce: accumulate flag adds, otherwise assigns") {
  Tensor x = random_tensor({3, 4}, DType::f64, 3);
  Tensor g = random_tensor({4}, DType::f64, 4);
  std::vector<int64_t> ax0 = {0};
  const Attrs attrs = reduce_attrs(&ax0, false);
  Tensor assigned = from_values({3, 4}, DType::f64, std::vector<double>(12, 5.0));
  Tensor added = from_values({3, 4}, DType::f64, std::vector<double>(12, 5.0));
  backward("mean", attrs, {x}, g, {&assigned}, {false});
  backward("mean", attrs, {x}, g, {&added}, {true});
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j) {
      CHECK_NEAR(assigned.data<double>()[i * 4 + j], g.data<double>()[j] / 3, 1e-15);
      CHECK_NEAR(added.data<double>()[i * 4 + j], 5 + g.data<double>()[j] / 3, 1e-15);
    }
}

TEST_CASE("reduce: large tensors take the parallel paths and agree with the reference") {
  struct Big { Shape shape; std::vector<int64_t> axes; bool all; };
  const std::vector<Big> bigs = {{{64, 1024}, {1}, false}, {{64, 1024}, {0}, false},
                                 {{100000}, {}, true},     {{3, 40000}, {1}, false},
                                 {{40000, 3}, {0}, false}, {{8, 5000, 4}, {1}, false},
                                 {{16, 64, 40}, {0, 2}, false}};
  for (const auto& b : bigs) {
    const std::vector<int64_t>* axes = b.all ? nullptr : &b.axes;
    const auto red = flags(static_cast<int>(b.shape.size()), axes);
    for (RK kind : {RK::sum, RK::max}) {
      Tensor x = random_tensor(b.shape, DType::f32, 21);
      Tensor y = forward(kind_name(kind), reduce_attrs(axes, false), {x});
      const auto ref = ref_reduce(values(x), b.shape, red, kind);
      // float32 sums of up to 1e5 terms in [-1, 1]: compare with a tolerance on that scale.
      CHECK(max_diff(values(y), ref) < (kind == RK::sum ? 1e-4 : 0.0) + 1e-12);
      // Backward: sum broadcasts g; max puts g on the arg-max.
      Tensor g = random_tensor(y.shape(), DType::f32, 22);
      Tensor gx(b.shape, DType::f32);
      backward(kind_name(kind), reduce_attrs(axes, false), {x}, g, {&gx}, {false});
      const auto st = strides_of(b.shape);
      bool ok = true;
      for (int64_t i = 0; i < x.size() && ok; ++i) {
        int64_t o = 0;
        for (size_t d = 0; d < b.shape.size(); ++d)
          if (!red[d]) o = o * b.shape[d] + (i / st[d]) % b.shape[d];
        const float want = kind == RK::sum ? g.data<float>()[o]
                           : (x.data<float>()[i] == y.data<float>()[o] ? g.data<float>()[o] : 0.f);
        ok = gx.data<float>()[i] == want;
      }
      CHECK(ok);
    }
  }
}

TEST_CASE("reduce: infer with unknown extents") {
  std::vector<int64_t> ax1 = {1};
  CHECK(infer("sum", reduce_attrs(&ax1, false), {{{-1, 3, 4}, DType::f32}}).shape == Shape({-1, 4}));
  CHECK(infer("max", reduce_attrs(&ax1, true), {{{-1, 3, 4}, DType::f32}}).shape ==
        Shape({-1, 1, 4}));
  CHECK(infer("mean", reduce_attrs(nullptr, false), {{{-1, 3}, DType::f64}}).shape == Shape({}));
  std::vector<int64_t> ax0 = {0};
  const TensorMeta m = infer("min", reduce_attrs(&ax0, true), {{{-1, 3}, DType::f64}});
  CHECK(m.shape == Shape({1, 3}));
  CHECK(m.dtype == DType::f64);
}

TEST_CASE("reduce: errors") {
  std::vector<int64_t> bad = {3}, neg = {-4}, dup = {1, -2}, ax1 = {1};
  for (const char* op : {"sum", "mean", "max", "min"}) {
    CHECK(throws_naming<IndexError>([&] { infer(op, reduce_attrs(&bad, false), {{{2, 3, 4}, DType::f32}}); },
                                    {op, "axis 3"}));
    CHECK_THROWS_AS(infer(op, reduce_attrs(&neg, false), {{{2, 3, 4}, DType::f32}}), IndexError);
    CHECK(throws_naming<ValueError>([&] { infer(op, reduce_attrs(&dup, false), {{{2, 3, 4}, DType::f32}}); },
                                    {op, "repeated"}));
    CHECK_THROWS_AS(infer(op, reduce_attrs(nullptr, false), {{{2}, DType::i32}}), TypeError);
  }
  CHECK(throws_naming<ValueError>([&] { infer("max", reduce_attrs(&ax1, false), {{{2, 0}, DType::f32}}); },
                                  {"max", "(2, 0)", "empty"}));
  CHECK_THROWS_AS(infer("min", reduce_attrs(nullptr, false), {{{0}, DType::f32}}), ValueError);
}

// ---------------------------------------------------------------- reshape

TEST_CASE("reshape: forward keeps the element order, every dtype, gradient") {
  for (DType dt : {DType::f32, DType::f64, DType::i32, DType::i64}) {
    Tensor x = iota({2, 3, 4}, dt);
    Attrs a;
    a.set("shape", std::vector<int64_t>{4, -1});
    Tensor y = forward("reshape", a, {x});
    CHECK(y.shape() == Shape({4, 6}));
    CHECK(y.dtype() == dt);
    CHECK(values(y) == values(x));
    Attrs k;
    k.set("shape", std::vector<int64_t>{-1});
    k.set("keep_leading", int64_t{1});
    Tensor z = forward("reshape", k, {x});
    CHECK(z.shape() == Shape({2, 12}));
    CHECK(values(z) == values(x));
  }
  Attrs a;
  a.set("shape", std::vector<int64_t>{3, 2, 2});
  a.set("keep_leading", int64_t{1});
  CHECK(forward("reshape", a, {iota({2, 12}, DType::f32)}).shape() == Shape({2, 3, 2, 2}));
  CHECK(grad_error("reshape", a, {random_tensor({2, 12}, DType::f64, 1)}, {0}) < 1e-6);
  Attrs b;
  b.set("shape", std::vector<int64_t>{-1, 6});
  CHECK(grad_error("reshape", b, {random_tensor({3, 4}, DType::f64, 1)}, {0}) < 1e-6);
  // Zero-size: the -1 is inferred from the other extents when they hold elements.
  Attrs e;
  e.set("shape", std::vector<int64_t>{-1, 3});
  CHECK(forward("reshape", e, {Tensor({0, 6}, DType::f32)}).shape() == Shape({0, 3}));
}

TEST_CASE("reshape: infer with unknown extents") {
  Attrs flat;
  flat.set("shape", std::vector<int64_t>{-1});
  flat.set("keep_leading", int64_t{1});
  CHECK(infer("reshape", flat, {{{-1, 28, 28}, DType::f32}}).shape == Shape({-1, 784}));
  Attrs img;
  img.set("shape", std::vector<int64_t>{-1, 28, 28, 1});
  CHECK(infer("reshape", img, {{{-1, 784}, DType::f32}}).shape == Shape({-1, 28, 28, 1}));
  Attrs fixed;
  fixed.set("shape", std::vector<int64_t>{7, 4});
  fixed.set("keep_leading", int64_t{1});
  CHECK(infer("reshape", fixed, {{{-1, 28}, DType::f32}}).shape == Shape({-1, 7, 4}));
  Attrs tail;  // unknown inside the reshaped part: the -1 stays unknown
  tail.set("shape", std::vector<int64_t>{-1, 2});
  tail.set("keep_leading", int64_t{1});
  CHECK(infer("reshape", tail, {{{3, -1, 4}, DType::f32}}).shape == Shape({3, -1, 2}));
}

TEST_CASE("reshape: errors") {
  Attrs a;
  a.set("shape", std::vector<int64_t>{4, -1});
  CHECK(throws_naming<ValueError>([&] { infer("reshape", a, {{{2, 3}, DType::f32}}); },
                                  {"reshape", "(2, 3)", "(4, -1)"}));
  Attrs b;
  b.set("shape", std::vector<int64_t>{5});
  CHECK(throws_naming<ValueError>([&] { infer("reshape", b, {{{2, 3}, DType::f32}}); },
                                  {"reshape", "(2, 3)", "(5,)"}));
  Attrs c;
  c.set("shape", std::vector<int64_t>{-1, -1});
  CHECK_THROWS_AS(infer("reshape", c, {{{2, 3}, DType::f32}}), ValueError);
  Attrs d;
  d.set("shape", std::vector<int64_t>{6});
  d.set("keep_leading", int64_t{3});
  CHECK_THROWS_AS(infer("reshape", d, {{{2, 3}, DType::f32}}), ValueError);
  Attrs e;
  e.set("shape", std::vector<int64_t>{0, -1});
  CHECK_THROWS_AS(infer("reshape", e, {{{0, 3}, DType::f32}}), ValueError);
  Attrs f;
  f.set("shape", std::vector<int64_t>{-2, 3});
  CHECK_THROWS_AS(infer("reshape", f, {{{2, 3}, DType::f32}}), ValueError);
  CHECK_THROWS_AS(infer("reshape", Attrs{}, {{{2, 3}, DType::f32}}), ValueError);
}

// ---------------------------------------------------------------- transpose

namespace {
std::vector<double> ref_transpose(const std::vector<double>& x, const Shape& s,
                                  const std::vector<int>& perm) {
  Shape os(s.size());
  for (size_t i = 0; i < s.size(); ++i) os[i] = s[perm[i]];
  const auto ist = strides_of(s), ost = strides_of(os);
  std::vector<double> y(x.size());
  for (int64_t o = 0; o < static_cast<int64_t>(y.size()); ++o) {
    int64_t off = 0;
    for (size_t i = 0; i < os.size(); ++i) off += ((o / ost[i]) % os[i]) * ist[perm[i]];
    y[o] = x[off];
  }
  return y;
}
}  // namespace

TEST_CASE("transpose: forward vs reference, every dtype, gradients") {
  struct TC { Shape shape; std::vector<int64_t> perm; bool reversed; };
  const std::vector<TC> cases = {
      {{2, 3, 4}, {}, true},         {{2, 3, 4}, {0, 2, 1}, false}, {{2, 3, 4}, {1, 0, 2}, false},
      {{2, 3, 4}, {2, 0, 1}, false}, {{2, 3, 4}, {0, 1, 2}, false}, {{2, 3, 4}, {-1, 0, -2}, false},
      {{2, 3, 4, 5}, {0, 2, 1, 3}, false}, {{2, 1, 4, 3}, {3, 2, 1, 0}, false},
      {{3, 5}, {1, 0}, false},       {{300, 200}, {1, 0}, false},  {{7}, {}, true},
      {{40, 50, 30}, {2, 1, 0}, false}, {{64, 32, 48}, {0, 2, 1}, false}};
  for (const auto& c : cases) {
    Attrs a;
    if (!c.reversed) a.set("perm", c.perm);
    const int r = static_cast<int>(c.shape.size());
    std::vector<int> perm(r);
    for (int i = 0; i < r; ++i)
      perm[i] = c.reversed ? r - 1 - i : static_cast<int>(c.perm[i] < 0 ? c.perm[i] + r : c.perm[i]);
    for (DType dt : {DType::f32, DType::f64, DType::i32, DType::i64}) {
      Tensor x = iota(c.shape, dt);
      Tensor y = forward("transpose", a, {x});
      Shape want(r);
      for (int i = 0; i < r; ++i) want[i] = c.shape[perm[i]];
      CHECK(y.shape() == want);
      CHECK(values(y) == ref_transpose(values(x), c.shape, perm));
    }
    if (numel(c.shape) <= 200)
      CHECK(grad_error("transpose", a, {random_tensor(c.shape, DType::f64, 8)}, {0}) < 1e-6);
    // Backward (assigning) is the inverse permutation of the upstream gradient.
    Tensor x = random_tensor(c.shape, DType::f32, 9);
    Tensor g = random_tensor(forward("transpose", a, {x}).shape(), DType::f32, 10);
    Tensor gx(c.shape, DType::f32);
    backward("transpose", a, {x}, g, {&gx}, {false});
    CHECK(ref_transpose(values(gx), c.shape, perm) == values(g));
  }
}

TEST_CASE("transpose: infer and errors") {
  Attrs a;
  a.set("perm", std::vector<int64_t>{0, 2, 1});
  CHECK(infer("transpose", a, {{{-1, 3, 4}, DType::f32}}).shape == Shape({-1, 4, 3}));
  CHECK(infer("transpose", Attrs{}, {{{-1, 3}, DType::f32}}).shape == Shape({3, -1}));
  for (std::vector<int64_t> bad : {std::vector<int64_t>{0, 0, 1}, {0, 1}, {0, 1, 3}, {0, -1, 2}}) {
    Attrs b;
    b.set("perm", bad);
    CHECK(throws_naming<ValueError>([&] { infer("transpose", b, {{{2, 3, 4}, DType::f32}}); },
                                    {"transpose", "permutation"}));
  }
}

// ---------------------------------------------------------------- concatenate

TEST_CASE("concatenate: forward vs reference, every dtype, gradients") {
  struct CC { std::vector<Shape> shapes; int64_t axis; };
  const std::vector<CC> cases = {{{{2, 3}, {2, 5}}, -1},          {{{2, 3}, {4, 3}}, 0},
                                 {{{2, 1, 4}, {2, 3, 4}, {2, 2, 4}}, 1}, {{{3}}, 0},
                                 {{{2, 3, 2}, {2, 3, 1}}, 2},       {{{2, 0}, {2, 3}}, 1}};
  for (const auto& c : cases) {
    Attrs a;
    a.set("axis", c.axis);
    const int r = static_cast<int>(c.shapes[0].size());
    const int axis = static_cast<int>(c.axis < 0 ? c.axis + r : c.axis);
    for (DType dt : {DType::f32, DType::f64, DType::i32, DType::i64}) {
      std::vector<Tensor> in;
      for (size_t i = 0; i < c.shapes.size(); ++i) {
        Tensor t = iota(c.shapes[i], dt);
        for (int64_t j = 0; j < t.size(); ++j)  // distinct values per input
          if (dt == DType::f32) t.data<float>()[j] += 100.0f * i;
          else if (dt == DType::f64) t.data<double>()[j] += 100.0 * i;
          else if (dt == DType::i32) t.data<int32_t>()[j] += 100 * static_cast<int32_t>(i);
          else t.data<int64_t>()[j] += 100 * static_cast<int64_t>(i);
        in.push_back(t);
      }
      Tensor y = forward("concatenate", a, in);
      Shape want = c.shapes[0];
      want[axis] = 0;
      for (const auto& s : c.shapes) want[axis] += s[axis];
      REQUIRE(y.shape() == want);
      // Reference: y[..., k, ...] comes from the input whose range holds k.
      const auto yst = strides_of(want);
      bool ok = true;
      for (int64_t o = 0; o < y.size(); ++o) {
        int64_t k = (o / yst[axis]) % want[axis];
        size_t i = 0;
        while (k >= c.shapes[i][axis]) k -= c.shapes[i++][axis];
        const auto ist = strides_of(c.shapes[i]);
        int64_t off = 0;
        for (int d = 0; d < r; ++d) off += (d == axis ? k : (o / yst[d]) % want[d]) * ist[d];
        ok = ok && at(y, o) == at(in[i], off);
      }
      CHECK(ok);
    }
    std::vector<Tensor> in;
    std::vector<int> wrt;
    for (size_t i = 0; i < c.shapes.size(); ++i) {
      in.push_back(random_tensor(c.shapes[i], DType::f64, 30 + static_cast<uint32_t>(i)));
      wrt.push_back(static_cast<int>(i));
    }
    CHECK(grad_error("concatenate", a, in, wrt) < 1e-6);
  }
}

TEST_CASE("shape ops: scalars, and concatenate's backward accumulates per input") {
  Tensor s = from_values({}, DType::f64, {4.5});
  CHECK(at(forward("transpose", Attrs{}, {s}), 0) == 4.5);
  Attrs one;
  one.set("shape", std::vector<int64_t>{1, -1});
  Tensor r = forward("reshape", one, {s});
  CHECK(r.shape() == Shape({1, 1}));
  CHECK(forward("squeeze", Attrs{}, {r}).shape() == Shape({}));
  // Input 0 accumulates into its buffer (holding 1s), input 1 assigns over garbage (holding 9s).
  Attrs a;
  a.set("axis", int64_t{1});
  Tensor x0 = random_tensor({2, 3}, DType::f64, 60), x1 = random_tensor({2, 2}, DType::f64, 61);
  Tensor g = iota({2, 5}, DType::f64);
  Tensor g0 = from_values({2, 3}, DType::f64, std::vector<double>(6, 1.0));
  Tensor g1 = from_values({2, 2}, DType::f64, std::vector<double>(4, 9.0));
  backward("concatenate", a, {x0, x1}, g, {&g0, &g1}, {true, false});
  CHECK(values(g0) == std::vector<double>({2, 3, 4, 7, 8, 9}));
  CHECK(values(g1) == std::vector<double>({4, 5, 9, 10}));
}

TEST_CASE("concatenate: infer and errors") {
  Attrs a;
  CHECK(infer("concatenate", a, {{{-1, 3}, DType::f32}, {{-1, 5}, DType::f32}}).shape ==
        Shape({-1, 8}));
  Attrs z;
  z.set("axis", int64_t{0});
  CHECK(infer("concatenate", z, {{{-1, 3}, DType::f32}, {{2, 3}, DType::f32}}).shape ==
        Shape({-1, 3}));
  CHECK(infer("concatenate", z, {{{2, -1}, DType::f32}, {{2, 4}, DType::f32}}).shape ==
        Shape({4, 4}));
  CHECK(throws_naming<ValueError>(
      [&] { infer("concatenate", a, {{{2, 3}, DType::f32}, {{3, 3}, DType::f32}}); },
      {"concatenate", "(2, 3)", "(3, 3)"}));
  CHECK_THROWS_AS(infer("concatenate", a, {{{2, 3}, DType::f32}, {{2, 3, 1}, DType::f32}}),
                  ValueError);
  Attrs b;
  b.set("axis", int64_t{2});
  CHECK_THROWS_AS(infer("concatenate", b, {{{2, 3}, DType::f32}, {{2, 3}, DType::f32}}),
                  IndexError);
  CHECK_THROWS_AS(infer("concatenate", a, {{{2, 3}, DType::f32}, {{2, 3}, DType::f64}}),
                  TypeError);
  CHECK_THROWS_AS(infer("concatenate", a, {{{}, DType::f32}}), ValueError);
}

// ---------------------------------------------------------------- expand_dims / squeeze

TEST_CASE("expand_dims: shapes, data, gradient, errors") {
  struct EC { std::vector<int64_t> axes; Shape want; };
  const std::vector<EC> cases = {{{0}, {1, 2, 3}}, {{-1}, {2, 3, 1}}, {{1}, {2, 1, 3}},
                                 {{2}, {2, 3, 1}}, {{-3}, {1, 2, 3}}, {{0, -1}, {1, 2, 3, 1}}};
  for (const auto& c : cases) {
    Attrs a;
    if (c.axes.size() == 1) a.set("axis", c.axes[0]);
    else a.set("axis", c.axes);
    for (DType dt : {DType::f32, DType::i64}) {
      Tensor x = iota({2, 3}, dt);
      Tensor y = forward("expand_dims", a, {x});
      CHECK(y.shape() == c.want);
      CHECK(values(y) == values(x));
    }
    CHECK(grad_error("expand_dims", a, {random_tensor({2, 3}, DType::f64, 4)}, {0}) < 1e-6);
  }
  Attrs a;
  a.set("axis", int64_t{0});
  CHECK(infer("expand_dims", a, {{{-1, 3}, DType::f32}}).shape == Shape({1, -1, 3}));
  Attrs bad;
  bad.set("axis", int64_t{3});
  CHECK(throws_naming<IndexError>([&] { infer("expand_dims", bad, {{{2, 3}, DType::f32}}); },
                                  {"expand_dims", "axis 3"}));
  Attrs neg;
  neg.set("axis", int64_t{-4});
  CHECK_THROWS_AS(infer("expand_dims", neg, {{{2, 3}, DType::f32}}), IndexError);
  Attrs dup;
  dup.set("axis", std::vector<int64_t>{0, -4});
  CHECK_THROWS_AS(infer("expand_dims", dup, {{{2, 3}, DType::f32}}), ValueError);
  CHECK_THROWS_AS(infer("expand_dims", Attrs{}, {{{2, 3}, DType::f32}}), ValueError);
}

TEST_CASE("squeeze: shapes, data, gradient, errors") {
  struct SC { bool all; std::vector<int64_t> axes; Shape want; };
  const std::vector<SC> cases = {{true, {}, {3}}, {false, {0}, {3, 1}}, {false, {-1}, {1, 3}},
                                 {false, {0, 2}, {3}}};
  for (const auto& c : cases) {
    Attrs a;
    if (!c.all) a.set("axis", c.axes);
    for (DType dt : {DType::f64, DType::i32}) {
      Tensor x = iota({1, 3, 1}, dt);
      Tensor y = forward("squeeze", a, {x});
      CHECK(y.shape() == c.want);
      CHECK(values(y) == values(x));
    }
    CHECK(grad_error("squeeze", a, {random_tensor({1, 3, 1}, DType::f64, 4)}, {0}) < 1e-6);
  }
  CHECK(infer("squeeze", Attrs{}, {{{-1, 1, 3}, DType::f32}}).shape == Shape({-1, 3}));
  Attrs ax0;
  ax0.set("axis", std::vector<int64_t>{0});
  CHECK(infer("squeeze", ax0, {{{-1, 3}, DType::f32}}).shape == Shape({3}));
  Attrs ax1;
  ax1.set("axis", std::vector<int64_t>{1});
  CHECK(throws_naming<ValueError>([&] { infer("squeeze", ax1, {{{1, 3, 1}, DType::f32}}); },
                                  {"squeeze", "(1, 3, 1)", "3"}));
  Attrs ax5;
  ax5.set("axis", std::vector<int64_t>{5});
  CHECK_THROWS_AS(infer("squeeze", ax5, {{{1, 3, 1}, DType::f32}}), IndexError);
}

// ---------------------------------------------------------------- softmax

namespace {
std::vector<double> ref_softmax(const std::vector<double>& x, const Shape& s, int axis, bool log) {
  int64_t outer = 1, inner = 1;
  for (int a = 0; a < axis; ++a) outer *= s[a];
  for (size_t a = axis + 1; a < s.size(); ++a) inner *= s[a];
  const int64_t n = s[axis];
  std::vector<double> y(x.size());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < inner; ++j) {
      double m = -INFINITY, z = 0;
      for (int64_t i = 0; i < n; ++i) m = std::max(m, x[(o * n + i) * inner + j]);
      for (int64_t i = 0; i < n; ++i) z += std::exp(x[(o * n + i) * inner + j] - m);
      for (int64_t i = 0; i < n; ++i) {
        const double v = x[(o * n + i) * inner + j] - m;
        y[(o * n + i) * inner + j] = log ? v - std::log(z) : std::exp(v) / z;
      }
    }
  return y;
}
}  // namespace

TEST_CASE("softmax/log_softmax: forward vs reference, every axis, gradients") {
  struct SC { Shape shape; int64_t axis; };
  const std::vector<SC> cases = {{{4, 7}, -1}, {{4, 7}, 0},  {{3, 5, 6}, 1}, {{3, 5, 6}, 0},
                                 {{3, 5, 6}, 2}, {{9}, 0},   {{2, 33}, -1}, {{1, 1}, -1}};
  for (bool log : {false, true}) {
    const char* op = log ? "log_softmax" : "softmax";
    for (const auto& c : cases) {
      Attrs a;
      a.set("axis", c.axis);
      const int axis = static_cast<int>(c.axis < 0 ? c.axis + c.shape.size() : c.axis);
      for (DType dt : {DType::f32, DType::f64}) {
        Tensor x = random_tensor(c.shape, dt, 12, -4, 4);
        Tensor y = forward(op, a, {x});
        CHECK(y.shape() == c.shape);
        CHECK(max_diff(values(y), ref_softmax(values(x), c.shape, axis, log)) <
              (dt == DType::f32 ? 2e-6 : 1e-13));
      }
      CHECK(grad_error(op, a, {random_tensor(c.shape, DType::f64, 13, -3, 3)}, {0}) < 1e-6);
    }
    // Default axis is the last; large logits stay finite (max subtracted first).
    Tensor big = from_values({2, 3}, DType::f32, {1000, 1001, 1002, -1000, -1e4, -999});
    Tensor y = forward(op, Attrs{}, {big});
    // (float32 carries ~1e-4 absolute error at logits near 1000, inherent to the type)
    CHECK(max_diff(values(y), ref_softmax(values(big), {2, 3}, 1, log)) < 1e-4);
    // Large rows and columns run in parallel, float32 with the vectorised exp.
    for (int64_t axis : {int64_t{-1}, int64_t{0}}) {
      Attrs a;
      a.set("axis", axis);
      Tensor x = random_tensor({256, 1000}, DType::f32, 14, -20, 20);
      Tensor yb = forward(op, a, {x});
      CHECK(max_diff(values(yb), ref_softmax(values(x), {256, 1000}, axis < 0 ? 1 : 0, log)) < 2e-6);
    }
  }
}

TEST_CASE("softmax: float32 exp accuracy over its range, -inf masks, NaN") {
  // softmax([0, v]) = [1, e^v] / (1 + e^v): the second entry's relative error checks exp(v)
  // itself down to the smallest normal floats.
  double worst = 0;
  for (double v = -87.0; v <= 0.0; v += 0.0137) {
    Tensor x = from_values({1, 2}, DType::f32, {0.0, v});
    const float vf = x.data<float>()[1];
    Tensor y = forward("softmax", Attrs{}, {x});
    const double want = std::exp(double(vf)) / (1 + std::exp(double(vf)));
    worst = std::max(worst, std::fabs(y.data<float>()[1] - want) / want);
  }
  CHECK(worst < 1e-6);
  // -inf entries (masked positions) get probability 0 and log-probability -inf.
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor x = from_values({2, 3}, dt, {0, -INFINITY, 1, -INFINITY, 2, 2});
    Tensor p = forward("softmax", Attrs{}, {x});
    CHECK(at(p, 1) == 0.0 && at(p, 3) == 0.0);
    CHECK_NEAR(at(p, 0), 1 / (1 + std::exp(1.0)), 1e-6);
    CHECK_NEAR(at(p, 4), 0.5, 1e-6);
    Tensor l = forward("log_softmax", Attrs{}, {x});
    CHECK(std::isinf(at(l, 1)) && at(l, 1) < 0);
    CHECK_NEAR(at(l, 5), std::log(0.5), 1e-6);
    // Column path too (axis 0).
    Attrs ax0;
    ax0.set("axis", int64_t{0});
    Tensor pc = forward("softmax", ax0, {x});
    CHECK(at(pc, 1) == 0.0 && at(pc, 3) == 0.0);
    CHECK_NEAR(at(pc, 0), 1.0, 1e-6);
    // NaN spreads through its slice instead of vanishing.
    Tensor n = from_values({1, 3}, dt, {1, NAN, 2});
    CHECK(std::isnan(at(forward("softmax", Attrs{}, {n}), 0)));
    CHECK(std::isnan(at(forward("log_softmax", Attrs{}, {n}), 2)));
  }
}

TEST_CASE("softmax: backward from y, accumulate, in place; infer and errors") {
  // Softmax gx = y * (g - sum(g * y)); checked directly on a large float64 case.
  Attrs a;
  Tensor x = random_tensor({64, 700}, DType::f64, 15);
  Tensor y = forward("softmax", a, {x});
  Tensor g = random_tensor({64, 700}, DType::f64, 16);
  Tensor gx = from_values({64, 700}, DType::f64, std::vector<double>(64 * 700, 1.0));
  backward("softmax", a, {x}, g, {&gx}, {true});
  double worst = 0;
  for (int r = 0; r < 64; ++r) {
    double d = 0;
    for (int j = 0; j < 700; ++j) d += g.data<double>()[r * 700 + j] * y.data<double>()[r * 700 + j];
    for (int j = 0; j < 700; ++j) {
      const int i = r * 700 + j;
      worst = std::max(worst, std::fabs(gx.data<double>()[i] - (1 + y.data<double>()[i] * (g.data<double>()[i] - d))));
    }
  }
  CHECK(worst < 1e-14);
  // In place (the gradient written over the upstream gradient) gives the same result, for both
  // ops, along rows and along columns.
  for (const char* op : {"softmax", "log_softmax"})
    for (int64_t axis : {int64_t{-1}, int64_t{0}}) {
      Attrs at_axis;
      at_axis.set("axis", axis);
      Tensor xs = random_tensor({37, 300}, DType::f32, 17);
      Tensor gs = random_tensor({37, 300}, DType::f32, 18);
      Tensor apart({37, 300}, DType::f32);
      backward(op, at_axis, {xs}, gs, {&apart}, {false});
      Tensor same = Tensor::view(gs.raw(), gs.shape(), gs.dtype());
      backward(op, at_axis, {xs}, gs, {&same}, {false});
      CHECK(values(gs) == values(apart));
    }
  Attrs ax;
  ax.set("axis", int64_t{1});
  CHECK(infer("softmax", ax, {{{-1, 10}, DType::f32}}).shape == Shape({-1, 10}));
  CHECK(infer("log_softmax", Attrs{}, {{{-1, -1, 4}, DType::f64}}).dtype == DType::f64);
  Attrs bad;
  bad.set("axis", int64_t{2});
  CHECK(throws_naming<IndexError>([&] { infer("softmax", bad, {{{-1, 10}, DType::f32}}); },
                                  {"softmax", "axis 2"}));
  CHECK_THROWS_AS(infer("log_softmax", bad, {{{-1, 10}, DType::f32}}), IndexError);
  CHECK_THROWS_AS(infer("softmax", Attrs{}, {{{3}, DType::i32}}), TypeError);
}

// ---------------------------------------------------------------- matmul

namespace {
// NumPy matmul in double, by index arithmetic.
std::vector<double> ref_matmul(const std::vector<double>& a, Shape sa, const std::vector<double>& b,
                               Shape sb, Shape* out_shape) {
  const bool va = sa.size() == 1, vb = sb.size() == 1;
  if (va) sa = {1, sa[0]};
  if (vb) sb = {sb[0], 1};
  const int64_t m = sa[sa.size() - 2], k = sa.back(), n = sb.back();
  const size_t r = std::max(sa.size(), sb.size()) - 2;
  Shape ba(r, 1), bb(r, 1), bo(r);
  for (size_t i = 0; i < sa.size() - 2; ++i) ba[r - (sa.size() - 2) + i] = sa[i];
  for (size_t i = 0; i < sb.size() - 2; ++i) bb[r - (sb.size() - 2) + i] = sb[i];
  for (size_t i = 0; i < r; ++i) bo[i] = ba[i] == 1 ? bb[i] : ba[i];  // 1 broadcasts, even to 0
  const int64_t count = numel(bo);
  std::vector<double> c(count * m * n, 0.0);
  for (int64_t o = 0; o < count; ++o) {
    int64_t rem = o, ia = 0, ib = 0, sa_ = 1, sb_ = 1;
    for (size_t d = r; d-- > 0;) {
      const int64_t i = rem % bo[d];
      rem /= bo[d];
      ia += (ba[d] == 1 ? 0 : i) * sa_;
      ib += (bb[d] == 1 ? 0 : i) * sb_;
      sa_ *= ba[d];
      sb_ *= bb[d];
    }
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t p = 0; p < k; ++p) s += a[ia * m * k + i * k + p] * b[ib * k * n + p * n + j];
        c[o * m * n + i * n + j] = s;
      }
  }
  *out_shape = bo;
  if (!va) out_shape->push_back(m);
  if (!vb) out_shape->push_back(n);
  return c;
}

const std::vector<std::pair<Shape, Shape>> kMatmulCases = {
    {{3, 4}, {4, 5}},       {{2, 3, 4}, {4, 5}},       {{2, 3, 4}, {2, 4, 5}},
    {{3, 4}, {2, 4, 5}},    {{2, 1, 3, 4}, {3, 4, 5}}, {{4}, {4, 5}},
    {{3, 4}, {4}},          {{4}, {4}},                {{2, 3, 4}, {4}},
    {{4}, {2, 4, 5}},       {{2, 3, 4}, {1, 4, 5}},    {{1, 3, 4}, {2, 4, 5}},
    {{0, 4}, {4, 5}},       {{3, 0}, {0, 5}},          {{1, 3, 4}, {0, 4, 5}}};
}  // namespace

TEST_CASE("matmul: forward vs reference, every broadcasting form, float32 and float64") {
  for (const auto& [sa, sb] : kMatmulCases) {
    for (DType dt : {DType::f32, DType::f64}) {
      Tensor a = random_tensor(sa, dt, 40), b = random_tensor(sb, dt, 41);
      Tensor c = forward("matmul", Attrs{}, {a, b});
      Shape want;
      const auto ref = ref_matmul(values(a), sa, values(b), sb, &want);
      CHECK(c.shape() == want);
      CHECK(max_diff(values(c), ref) < (dt == DType::f32 ? 1e-5 : 1e-13));
    }
  }
  // A folded case big enough for BLAS to block: (8, 64, 96) @ (96, 40).
  Tensor a = random_tensor({8, 64, 96}, DType::f32, 42), b = random_tensor({96, 40}, DType::f32, 43);
  Shape want;
  const auto ref = ref_matmul(values(a), a.shape(), values(b), b.shape(), &want);
  CHECK(max_diff(values(forward("matmul", Attrs{}, {a, b})), ref) < 1e-4);
}

TEST_CASE("matmul: gradients for every broadcasting form") {
  for (const auto& [sa, sb] : kMatmulCases) {
    const double err = grad_error("matmul", Attrs{}, {random_tensor(sa, DType::f64, 44),
                                                      random_tensor(sb, DType::f64, 45)}, {0, 1});
    CHECK(err < 1e-6);
    if (err >= 1e-6) std::cerr << "  " << shape_str(sa) << " @ " << shape_str(sb) << "\n";
  }
}

TEST_CASE("matmul: many small products (run in parallel), forward and backward vs reference") {
  // Batches of 32x32 products: forward and the unbroadcast gradients run as parallel batches,
  // the broadcast operand's gradient accumulates over the batch.
  for (const auto& [sa, sb] : std::vector<std::pair<Shape, Shape>>{{{64, 32, 32}, {64, 32, 32}},
                                                                   {{32, 32}, {64, 32, 32}},
                                                                   {{4, 16, 32, 32}, {16, 32, 32}}}) {
    Tensor a = random_tensor(sa, DType::f64, 70), b = random_tensor(sb, DType::f64, 71);
    Tensor c = forward("matmul", Attrs{}, {a, b});
    Shape cs;
    CHECK(max_diff(values(c), ref_matmul(values(a), sa, values(b), sb, &cs)) < 1e-12);
    Tensor g = random_tensor(c.shape(), DType::f64, 72);
    Tensor da = from_values(sa, DType::f64, std::vector<double>(a.size(), 3.0));
    Tensor db = from_values(sb, DType::f64, std::vector<double>(b.size(), 3.0));
    backward("matmul", Attrs{}, {a, b}, g, {&da, &db}, {false, false});
    // Reference: dA[ia] += dC[o] @ B[ib]^T, dB[ib] += A[ia]^T @ dC[o] with broadcast indices.
    const int64_t M = 32, K = 32, N = 32, count = c.size() / (M * N);
    const int64_t na = a.size() / (M * K), nb = b.size() / (K * N);
    std::vector<double> ra(a.size(), 0.0), rb(b.size(), 0.0);
    const auto av = values(a), bv = values(b), gv = values(g);
    for (int64_t o = 0; o < count; ++o) {
      const int64_t ia = o % na, ib = o % nb;  // these shapes broadcast by repetition
      for (int64_t i = 0; i < M; ++i)
        for (int64_t p = 0; p < K; ++p)
          for (int64_t j = 0; j < N; ++j) {
            ra[ia * M * K + i * K + p] += gv[o * M * N + i * N + j] * bv[ib * K * N + p * N + j];
            rb[ib * K * N + p * N + j] += av[ia * M * K + i * K + p] * gv[o * M * N + i * N + j];
          }
    }
    CHECK(max_diff(values(da), ra) < 1e-12);
    CHECK(max_diff(values(db), rb) < 1e-12);
  }
}

TEST_CASE("matmul: accumulate flag (beta) on the folded and the looped paths") {
  for (const auto& [sa, sb] : std::vector<std::pair<Shape, Shape>>{{{2, 3, 4}, {4, 5}},
                                                                   {{3, 4}, {2, 4, 5}}}) {
    Tensor a = random_tensor(sa, DType::f64, 50), b = random_tensor(sb, DType::f64, 51);
    Tensor c = forward("matmul", Attrs{}, {a, b});
    Tensor g = random_tensor(c.shape(), DType::f64, 52);
    Tensor da0 = random_tensor(sa, DType::f64, 53), db0 = random_tensor(sb, DType::f64, 54);
    Tensor da = from_values(sa, DType::f64, values(da0)), db = from_values(sb, DType::f64, values(db0));
    Tensor da_set = from_values(sa, DType::f64, values(da0)), db_set = from_values(sb, DType::f64, values(db0));
    backward("matmul", Attrs{}, {a, b}, g, {&da, &db}, {true, true});
    backward("matmul", Attrs{}, {a, b}, g, {&da_set, &db_set}, {false, false});
    // Assigned gradients do not depend on what the buffers held; accumulated ones add to it.
    Tensor da_clean(sa, DType::f64), db_clean(sb, DType::f64);
    backward("matmul", Attrs{}, {a, b}, g, {&da_clean, &db_clean}, {false, false});
    CHECK(max_diff(values(da_set), values(da_clean)) < 1e-15);
    CHECK(max_diff(values(db_set), values(db_clean)) < 1e-15);
    std::vector<double> want_a = values(da0), want_b = values(db0);
    for (size_t i = 0; i < want_a.size(); ++i) want_a[i] += da_clean.data<double>()[i];
    for (size_t i = 0; i < want_b.size(); ++i) want_b[i] += db_clean.data<double>()[i];
    CHECK(max_diff(values(da), want_a) < 1e-14);
    CHECK(max_diff(values(db), want_b) < 1e-14);
    // A null slot is skipped: only dB is produced.
    Tensor db_only(sb, DType::f64);
    backward("matmul", Attrs{}, {a, b}, g, {nullptr, &db_only}, {false, false});
    CHECK(max_diff(values(db_only), values(db_clean)) < 1e-15);
  }
  // Empty batch: an operand matrix no output uses still gets a zero gradient.
  Tensor a = random_tensor({1, 3, 4}, DType::f64, 55), b = random_tensor({0, 4, 5}, DType::f64, 56);
  Tensor da = from_values({1, 3, 4}, DType::f64, std::vector<double>(12, 7.0));
  Tensor db({0, 4, 5}, DType::f64);
  backward("matmul", Attrs{}, {a, b}, Tensor({0, 3, 5}, DType::f64), {&da, &db}, {false, false});
  CHECK(values(da) == std::vector<double>(12, 0.0));
}

TEST_CASE("matmul: infer with unknown extents and errors") {
  CHECK(infer("matmul", Attrs{}, {{{-1, 784}, DType::f32}, {{784, 10}, DType::f32}}).shape ==
        Shape({-1, 10}));
  CHECK(infer("matmul", Attrs{}, {{{-1, 5, 4}, DType::f32}, {{-1, 4, 3}, DType::f32}}).shape ==
        Shape({-1, 5, 3}));
  CHECK(infer("matmul", Attrs{}, {{{-1, 5, 4}, DType::f64}, {{4}, DType::f64}}).shape ==
        Shape({-1, 5}));
  CHECK(infer("matmul", Attrs{}, {{{5, -1}, DType::f32}, {{3, 2}, DType::f32}}).shape ==
        Shape({5, 2}));
  CHECK(throws_naming<ValueError>(
      [&] { infer("matmul", Attrs{}, {{{-1, 784}, DType::f32}, {{128, 10}, DType::f32}}); },
      {"op 'matmul'", "(None, 784)", "(128, 10)"}));
  CHECK(throws_naming<ValueError>(
      [&] { infer("matmul", Attrs{}, {{{3}, DType::f32}, {{4}, DType::f32}}); },
      {"op 'matmul'", "(3,)", "(4,)"}));
  CHECK_THROWS_AS(infer("matmul", Attrs{}, {{{2, 3, 4}, DType::f32}, {{3, 4, 5}, DType::f32}}),
                  ValueError);
  CHECK_THROWS_AS(infer("matmul", Attrs{}, {{{}, DType::f32}, {{3, 4}, DType::f32}}), ValueError);
  CHECK_THROWS_AS(infer("matmul", Attrs{}, {{{2, 3}, DType::f32}, {{3, 4}, DType::f64}}),
                  TypeError);
  CHECK_THROWS_AS(infer("matmul", Attrs{}, {{{2, 3}, DType::i32}, {{3, 4}, DType::i32}}),
                  TypeError);
}
