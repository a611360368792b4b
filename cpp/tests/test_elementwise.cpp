// Elementwise ops: forward against references written here, float64 gradient checks,
// broadcasting (small cases and ones large enough to take the parallel paths), float32 vs
// float64, shape inference with unknown extents, errors, accumulate, and the activation table.
#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "check.h"
#include "kernels/elementwise.h"
#include "op_check.h"

using namespace ember;

namespace {

Tensor from_values(Shape s, const std::vector<double>& v, DType t = DType::f64) {
  Tensor x(std::move(s), t);
  REQUIRE(static_cast<int64_t>(v.size()) == x.size());
  for (size_t i = 0; i < v.size(); ++i) {
    if (t == DType::f64) x.data<double>()[i] = v[i];
    else x.data<float>()[i] = static_cast<float>(v[i]);
  }
  return x;
}

double at(const Tensor& x, int64_t i) {
  return x.dtype() == DType::f64 ? x.data<double>()[i] : x.data<float>()[i];
}

Tensor to_f32(const Tensor& x) {
  Tensor y(x.shape(), DType::f32);
  for (int64_t i = 0; i < x.size(); ++i) y.data<float>()[i] = static_cast<float>(at(x, i));
  return y;
}

Tensor copy_of(const Tensor& x) {
  Tensor y(x.shape(), x.dtype());
  std::memcpy(y.raw(), x.raw(), x.nbytes());
  return y;
}

// Runs the op's backward for every input, starting from `init` (the gradients' prior content).
std::vector<Tensor> run_backward(const std::string& op, const Attrs& attrs,
                                 const std::vector<Tensor>& in, const Tensor& gy,
                                 std::vector<Tensor> init, bool accumulate) {
  const OpDef& d = OpRegistry::instance().get(op);
  Tensor out = opcheck::forward(op, attrs, in);
  GradContext gc;
  for (auto& t : in) gc.inputs.push_back(&t);
  gc.output = &out;
  gc.attrs = &attrs;
  gc.grad_out = &gy;
  for (auto& g : init) gc.grad_in.push_back(&g);
  gc.accumulate.assign(in.size(), accumulate);
  d.backward(gc);
  return init;
}

std::vector<Tensor> zero_grads(const std::vector<Tensor>& in) {
  std::vector<Tensor> g;
  for (auto& t : in) g.emplace_back(t.shape(), t.dtype());
  return g;
}

double sigmoid_ref(double x) { return 1.0 / (1.0 + std::exp(-x)); }

struct UnaryCase {
  std::string op;
  Attrs attrs;
  std::function<double(double)> ref;
  double lo, hi;  // sample range of the gradient check, clear of kinks and poles
};

std::vector<UnaryCase> unary_cases() {
  const double pi = 3.141592653589793;
  return {
      {"negative", {}, [](double x) { return -x; }, -2, 2},
      {"exp", {}, [](double x) { return std::exp(x); }, -2, 2},
      {"log", {}, [](double x) { return std::log(x); }, 0.2, 3},
      {"sqrt", {}, [](double x) { return std::sqrt(x); }, 0.2, 3},
      {"square", {}, [](double x) { return x * x; }, -2, 2},
      {"abs", {}, [](double x) { return x < 0 ? -x : x; }, -2, 2},
      {"relu", {}, [](double x) { return x > 0 ? x : 0.0; }, -2, 2},
      {"sigmoid", {}, sigmoid_ref, -4, 4},
      {"tanh", {}, [](double x) { return (std::exp(2 * x) - 1) / (std::exp(2 * x) + 1); }, -3, 3},
      {"gelu", {}, [](double x) { return x * 0.5 * std::erfc(-x / std::sqrt(2.0)); }, -3, 3},
      {"gelu", Attrs({{"approximate", true}}),
       [pi](double x) {
         return 0.5 * x * (1 + std::tanh(std::sqrt(2 / pi) * (x + 0.044715 * x * x * x)));
       },
       -3, 3},
      {"silu", {}, [](double x) { return x / (1 + std::exp(-x)); }, -4, 4},
      {"elu", {}, [](double x) { return x > 0 ? x : std::exp(x) - 1; }, -2, 2},
      {"elu", Attrs({{"alpha", 0.5}}), [](double x) { return x > 0 ? x : 0.5 * (std::exp(x) - 1); },
       -2, 2},
      {"leaky_relu", {}, [](double x) { return x > 0 ? x : 0.2 * x; }, -2, 2},
      {"leaky_relu", Attrs({{"negative_slope", 0.01}}),
       [](double x) { return x > 0 ? x : 0.01 * x; }, -2, 2},
      {"softplus", {}, [](double x) { return std::log(1 + std::exp(x)); }, -4, 4},
      {"clip", Attrs({{"min", -0.5}, {"max", 1.0}}),
       [](double x) { return x < -0.5 ? -0.5 : (x > 1.0 ? 1.0 : x); }, -2, 2},
  };
}

std::string label(const UnaryCase& c) {
  std::string s = c.op;
  for (auto& [k, v] : c.attrs.items()) {
    (void)v;
    s += " " + k;
  }
  return s;
}

// Moves samples away from the points where a case's derivative jumps (0; clip's bounds).
Tensor clear_of_kinks(Tensor x) {
  for (int64_t i = 0; i < x.size(); ++i) {
    double& v = x.data<double>()[i];
    for (double k : {0.0, -0.5, 1.0})
      if (std::fabs(v - k) < 1e-3) v = k + 1e-2;
  }
  return x;
}

}  // namespace

TEST_CASE("elementwise: unary forward matches references") {
  const std::vector<double> vals = {-2.5, -1.0, -0.3, 0.0, 0.2, 0.7, 1.0, 3.0};
  const std::vector<double> pos = {0.01, 0.2, 0.7, 1.0, 2.0, 9.0};
  for (const auto& c : unary_cases()) {
    const auto& v = c.lo > 0 ? pos : vals;
    Tensor x = from_values({static_cast<int64_t>(v.size())}, v);
    Tensor y = opcheck::forward(c.op, c.attrs, {x});
    REQUIRE(y.shape() == x.shape() && y.dtype() == DType::f64);
    for (size_t i = 0; i < v.size(); ++i) {
      if (!(std::fabs(at(y, i) - c.ref(v[i])) <= 1e-12 * std::max(1.0, std::fabs(c.ref(v[i])))))
        check::fail(__FILE__, __LINE__, label(c) + " at x=" + std::to_string(v[i]) + ": " +
                    std::to_string(at(y, i)) + " vs " + std::to_string(c.ref(v[i])));
    }
  }
}

TEST_CASE("elementwise: unary forward is stable at extreme inputs") {
  Tensor x = from_values({4}, {-800.0, -40.0, 40.0, 800.0});
  Tensor s = opcheck::forward("sigmoid", {}, {x});
  CHECK(at(s, 0) == 0.0 && at(s, 3) == 1.0);
  CHECK_NEAR(at(s, 1), std::exp(-40.0), 1e-30);
  Tensor sp = opcheck::forward("softplus", {}, {x});
  CHECK(at(sp, 0) == 0.0);
  CHECK_NEAR(at(sp, 3), 800.0, 1e-12);
  CHECK_NEAR(at(sp, 1), std::exp(-40.0), 1e-30);
  Tensor si = opcheck::forward("silu", {}, {x});
  CHECK(std::isfinite(at(si, 0)) && std::fabs(at(si, 0)) < 1e-300);
  CHECK_NEAR(at(si, 3), 800.0, 1e-12);
  // NaN propagates through relu and clip, as in NumPy/torch.
  Tensor n = from_values({1}, {std::nan("")});
  CHECK(std::isnan(at(opcheck::forward("relu", {}, {n}), 0)));
  CHECK(std::isnan(at(opcheck::forward("clip", Attrs({{"min", 0.0}, {"max", 1.0}}), {n}), 0)));
}

TEST_CASE("elementwise: unary gradients (float64 central differences)") {
  uint32_t seed = 1;
  for (const auto& c : unary_cases()) {
    Tensor x = clear_of_kinks(opcheck::random_tensor({3, 7}, DType::f64, seed++, c.lo, c.hi));
    double err = opcheck::grad_error(c.op, c.attrs, {x}, {0});
    if (!(err < 1e-6))
      check::fail(__FILE__, __LINE__, label(c) + ": gradient error " + std::to_string(err));
  }
}

TEST_CASE("elementwise: unary float32 agrees with float64") {
  uint32_t seed = 100;
  for (const auto& c : unary_cases()) {
    Tensor x = opcheck::random_tensor({5, 9}, DType::f64, seed++, c.lo, c.hi);
    Tensor xf = to_f32(x);
    Tensor y = opcheck::forward(c.op, c.attrs, {x});
    Tensor yf = opcheck::forward(c.op, c.attrs, {xf});
    REQUIRE(yf.dtype() == DType::f32);
    // Compare against the float64 result of the float32-rounded input.
    Tensor yr = opcheck::forward(c.op, c.attrs, {[&] {
      Tensor t(x.shape(), DType::f64);
      for (int64_t i = 0; i < t.size(); ++i) t.data<double>()[i] = xf.data<float>()[i];
      return t;
    }()});
    double worst = 0;
    for (int64_t i = 0; i < y.size(); ++i)
      worst = std::max(worst, std::fabs(at(yf, i) - at(yr, i)) / std::max(1.0, std::fabs(at(yr, i))));
    if (!(worst < 1e-6)) check::fail(__FILE__, __LINE__, label(c) + ": " + std::to_string(worst));
    // And their gradients too.
    Tensor g = opcheck::random_tensor(y.shape(), DType::f64, 7);
    auto gd = run_backward(c.op, c.attrs, {x}, g, zero_grads({x}), false);
    auto gf = run_backward(c.op, c.attrs, {xf}, to_f32(g), zero_grads({xf}), false);
    double gworst = 0;
    for (int64_t i = 0; i < x.size(); ++i)
      gworst = std::max(gworst, std::fabs(at(gf[0], i) - at(gd[0], i)) /
                                    std::max(1.0, std::fabs(at(gd[0], i))));
    if (!(gworst < 1e-4)) check::fail(__FILE__, __LINE__, label(c) + " grad: " + std::to_string(gworst));
  }
}

TEST_CASE("elementwise: gradients at kinks follow torch") {
  Tensor x = from_values({3}, {-1.0, 0.0, 2.0});
  Tensor g = from_values({3}, {1.0, 1.0, 1.0});
  auto relu = run_backward("relu", {}, {x}, g, zero_grads({x}), false)[0];
  CHECK(at(relu, 0) == 0.0 && at(relu, 1) == 0.0 && at(relu, 2) == 1.0);
  auto abs = run_backward("abs", {}, {x}, g, zero_grads({x}), false)[0];
  CHECK(at(abs, 0) == -1.0 && at(abs, 1) == 0.0 && at(abs, 2) == 1.0);
  auto leaky = run_backward("leaky_relu", {}, {x}, g, zero_grads({x}), false)[0];
  CHECK_NEAR(at(leaky, 1), 0.2, 1e-15);
  auto elu = run_backward("elu", Attrs({{"alpha", 0.5}}), {x}, g, zero_grads({x}), false)[0];
  CHECK_NEAR(at(elu, 1), 0.5, 1e-15);
  // clip: the gradient passes on the bounds themselves, not outside them.
  Tensor xc = from_values({5}, {-3.0, -1.0, 0.5, 2.0, 2.5});
  Tensor gc = from_values({5}, {1.0, 1.0, 1.0, 1.0, 1.0});
  auto clip = run_backward("clip", Attrs({{"min", -1.0}, {"max", 2.0}}), {xc}, gc,
                           zero_grads({xc}), false)[0];
  CHECK(at(clip, 0) == 0.0 && at(clip, 1) == 1.0 && at(clip, 2) == 1.0 && at(clip, 3) == 1.0 &&
        at(clip, 4) == 0.0);
  // Integer-valued attrs are accepted as floats; a one-sided clip leaves the other side open.
  Tensor y = opcheck::forward("clip", Attrs({{"min", int64_t(0)}}), {xc});
  CHECK(at(y, 0) == 0.0 && at(y, 4) == 2.5);
}

TEST_CASE("elementwise: unary accumulate adds to existing gradient") {
  Tensor x = from_values({4}, {-1.0, 0.5, 2.0, -0.1});
  Tensor g = from_values({4}, {1.0, 2.0, 3.0, 4.0});
  Tensor prior = from_values({4}, {10.0, 20.0, 30.0, 40.0});
  auto fresh = run_backward("square", {}, {x}, g, zero_grads({x}), false)[0];
  auto acc = run_backward("square", {}, {x}, g, {copy_of(prior)}, true)[0];
  auto over = run_backward("square", {}, {x}, g, {copy_of(prior)}, false)[0];
  for (int i = 0; i < 4; ++i) {
    CHECK_NEAR(at(fresh, i), 2 * at(x, i) * at(g, i), 1e-15);
    CHECK_NEAR(at(acc, i), at(prior, i) + at(fresh, i), 1e-12);
    CHECK_NEAR(at(over, i), at(fresh, i), 1e-15);
  }
}

TEST_CASE("elementwise: unary errors") {
  const OpDef& relu = OpRegistry::instance().get("relu");
  CHECK_THROWS_AS(relu.infer({{{2, 3}, DType::i32}}, {}), TypeError);
  try {
    relu.infer({{{2, 3}, DType::i64}}, {});
    CHECK(false);
  } catch (const TypeError& e) {
    std::string m = e.what();
    CHECK(m.find("relu") != std::string::npos && m.find("int64") != std::string::npos);
  }
  CHECK_THROWS_AS(OpRegistry::instance().get("gelu").infer({{{2}, DType::f32}},
                                                           Attrs({{"approximate", std::string("x")}})),
                  TypeError);
  TensorMeta m = relu.infer({{{kUnknown, 5}, DType::f32}}, {});
  CHECK(m.shape == Shape({kUnknown, 5}) && m.dtype == DType::f32);
}

// --- activation table used by fusing ops ----------------------------------------------------

TEST_CASE("elementwise: act_from_name and the activation table") {
  CHECK(act_from_name("relu") == Act::relu);
  CHECK(act_from_name("linear") == Act::linear);
  CHECK(act_from_name("swish") == Act::silu);
  CHECK(act_from_name("gelu_tanh") == Act::gelu_tanh);
  try {
    act_from_name("relu7");
    CHECK(false);
  } catch (const ValueError& e) {
    std::string m = e.what();
    CHECK(m.find("relu7") != std::string::npos && m.find("leaky_relu") != std::string::npos &&
          m.find("softplus") != std::string::npos);
  }
  // In place, and backward reading only what act_backward_reads_x/y announce.
  const std::vector<Act> all = {Act::linear, Act::relu, Act::sigmoid, Act::tanh,
                                Act::gelu, Act::gelu_tanh, Act::silu, Act::elu,
                                Act::softplus, Act::leaky_relu};
  Tensor x = opcheck::random_tensor({50}, DType::f64, 3, -3, 3);
  Tensor g = opcheck::random_tensor({50}, DType::f64, 4);
  for (Act a : all) {
    double alpha = act_default_alpha(a);
    std::vector<double> y(50), inplace(x.data<double>(), x.data<double>() + 50);
    act_forward<double>(a, x.data<double>(), y.data(), 50, alpha);
    act_forward<double>(a, inplace.data(), inplace.data(), 50, alpha);
    CHECK(y == inplace);
    std::vector<double> full(50), partial(50);
    act_backward<double>(a, x.data<double>(), y.data(), g.data<double>(), full.data(), 50, alpha,
                         false);
    act_backward<double>(a, act_backward_reads_x(a) ? x.data<double>() : nullptr,
                         act_backward_reads_y(a) ? y.data() : nullptr, g.data<double>(),
                         partial.data(), 50, alpha, false);
    CHECK(full == partial);
    // The op of the same name computes the same thing (the math exists once).
    if (a == Act::linear || a == Act::gelu_tanh) continue;
    Tensor yo = opcheck::forward(act_name(a), {}, {x});
    for (int i = 0; i < 50; ++i) CHECK(at(yo, i) == y[i]);
  }
}

// --- binary ---------------------------------------------------------------------------------

namespace {

struct BinaryRef {
  std::string op;
  std::function<double(double, double)> f, da, db;
};

std::vector<BinaryRef> binary_refs() {
  return {
      {"add", [](double a, double b) { return a + b; }, [](double, double) { return 1.0; },
       [](double, double) { return 1.0; }},
      {"subtract", [](double a, double b) { return a - b; }, [](double, double) { return 1.0; },
       [](double, double) { return -1.0; }},
      {"multiply", [](double a, double b) { return a * b; }, [](double, double b) { return b; },
       [](double a, double) { return a; }},
      {"divide", [](double a, double b) { return a / b; }, [](double, double b) { return 1 / b; },
       [](double a, double b) { return -a / (b * b); }},
      {"maximum", [](double a, double b) { return a > b ? a : b; },
       [](double a, double b) { return a > b ? 1.0 : (a == b ? 0.5 : 0.0); },
       [](double a, double b) { return b > a ? 1.0 : (a == b ? 0.5 : 0.0); }},
      {"minimum", [](double a, double b) { return a < b ? a : b; },
       [](double a, double b) { return a < b ? 1.0 : (a == b ? 0.5 : 0.0); },
       [](double a, double b) { return b < a ? 1.0 : (a == b ? 0.5 : 0.0); }},
  };
}

// Flat index into an input of shape `in` of the output element at multi-index `idx`.
int64_t source_index(const Shape& in, const Shape& out, const std::vector<int64_t>& idx) {
  int64_t off = 0, stride = 1;
  const size_t lead = out.size() - in.size();
  for (size_t k = in.size(); k-- > 0;) {
    int64_t i = in[k] == 1 ? 0 : idx[k + lead];
    off += i * stride;
    stride *= in[k];
  }
  return off;
}

// Reference forward and backward of out = f(a, b) by explicit N-d index arithmetic.
void reference(const BinaryRef& r, const Tensor& a, const Tensor& b, const Tensor& g, Tensor* y,
               Tensor* ga, Tensor* gb) {
  const Shape& out = y->shape();
  std::vector<int64_t> idx(out.size(), 0);
  for (int64_t i = 0; i < y->size(); ++i) {
    int64_t rem = i;
    for (size_t k = out.size(); k-- > 0;) {
      idx[k] = rem % out[k];
      rem /= out[k];
    }
    int64_t ia = source_index(a.shape(), out, idx), ib = source_index(b.shape(), out, idx);
    double av = at(a, ia), bv = at(b, ib), gv = at(g, i);
    y->data<double>()[i] = r.f(av, bv);
    ga->data<double>()[ia] += gv * r.da(av, bv);
    gb->data<double>()[ib] += gv * r.db(av, bv);
  }
}

// Fills with values in [-2, -0.5] U [0.5, 2] so that divide stays clear of its pole.
Tensor operand(Shape s, uint32_t seed) {
  Tensor x = opcheck::random_tensor(std::move(s), DType::f64, seed, -1.5, 1.5);
  for (int64_t i = 0; i < x.size(); ++i) {
    double& v = x.data<double>()[i];
    v += v < 0 ? -0.5 : 0.5;
  }
  return x;
}

const std::vector<std::pair<Shape, Shape>> kSmallShapes = {
    {{2, 3}, {2, 3}},       {{3, 4}, {4}},       {{4}, {3, 4}},         {{2, 1, 4}, {3, 1}},
    {{}, {2, 3}},           {{2, 3}, {}},        {{5, 1}, {1, 6}},      {{2, 3, 4}, {2, 1, 4}},
    {{2, 1, 3, 1}, {4, 1, 5}}, {{1}, {1}},       {{}, {}},              {{3, 1}, {3, 5}},
};

// Large enough to take every parallel path: elementwise, scalar sum, disjoint rows, private
// per-thread sums (bias).
const std::vector<std::pair<Shape, Shape>> kLargeShapes = {
    {{300, 200}, {300, 200}}, {{300, 200}, {200}}, {{300, 200}, {300, 1}}, {{60000}, {}},
    {{}, {60000}},            {{40, 30, 60}, {40, 1, 60}}, {{3, 200, 100}, {200, 1}},
};

std::string shapes_label(const std::string& op, const Shape& a, const Shape& b) {
  return op + " " + shape_str(a) + " " + shape_str(b);
}

void check_against_reference(const BinaryRef& r, const Shape& sa, const Shape& sb, uint32_t seed,
                             bool accumulate) {
  Tensor a = operand(sa, seed), b = operand(sb, seed + 1);
  Shape so = broadcast_shapes(sa, sb, "test");
  Tensor g = opcheck::random_tensor(so, DType::f64, seed + 2);
  Tensor y_ref(so, DType::f64), ga_ref(sa, DType::f64), gb_ref(sb, DType::f64);
  Tensor prior_a = opcheck::random_tensor(sa, DType::f64, seed + 3);
  Tensor prior_b = opcheck::random_tensor(sb, DType::f64, seed + 4);
  if (accumulate) {
    ga_ref = copy_of(prior_a);
    gb_ref = copy_of(prior_b);
  }
  reference(r, a, b, g, &y_ref, &ga_ref, &gb_ref);
  Tensor y = opcheck::forward(r.op, {}, {a, b});
  REQUIRE(y.shape() == so);
  // Prior content must be overwritten when not accumulating.
  auto grads = run_backward(r.op, {}, {a, b}, g, {copy_of(prior_a), copy_of(prior_b)}, accumulate);
  double wy = 0, wa = 0, wb = 0;
  for (int64_t i = 0; i < y.size(); ++i) wy = std::max(wy, std::fabs(at(y, i) - at(y_ref, i)));
  for (int64_t i = 0; i < a.size(); ++i) wa = std::max(wa, std::fabs(at(grads[0], i) - at(ga_ref, i)));
  for (int64_t i = 0; i < b.size(); ++i) wb = std::max(wb, std::fabs(at(grads[1], i) - at(gb_ref, i)));
  // Sums over up to 60000 terms in a different order: allow rounding that grows with the count.
  double tol = 1e-12 * std::max<double>(1, static_cast<double>(y.size()));
  if (!(wy <= 1e-14 && wa <= tol && wb <= tol))
    check::fail(__FILE__, __LINE__, shapes_label(r.op, sa, sb) + (accumulate ? " acc" : "") +
                ": y " + std::to_string(wy) + " ga " + std::to_string(wa) + " gb " +
                std::to_string(wb));
}

}  // namespace

TEST_CASE("elementwise: binary forward and backward vs reference, broadcasting") {
  uint32_t seed = 10;
  for (const auto& r : binary_refs())
    for (const auto& [sa, sb] : kSmallShapes) check_against_reference(r, sa, sb, seed += 5, false);
}

TEST_CASE("elementwise: binary large shapes take the parallel paths correctly") {
  uint32_t seed = 500;
  for (const auto& r : binary_refs())
    for (const auto& [sa, sb] : kLargeShapes) {
      check_against_reference(r, sa, sb, seed += 5, false);
      check_against_reference(r, sa, sb, seed += 5, true);
    }
}

TEST_CASE("elementwise: binary accumulate adds to existing gradient (small)") {
  uint32_t seed = 900;
  for (const auto& r : binary_refs())
    for (const auto& [sa, sb] : kSmallShapes) check_against_reference(r, sa, sb, seed += 5, true);
}

TEST_CASE("elementwise: binary gradients (float64 central differences)") {
  uint32_t seed = 1000;
  for (const auto& r : binary_refs())
    for (const auto& [sa, sb] : kSmallShapes) {
      Tensor a = operand(sa, seed += 3), b = operand(sb, seed + 1);
      double err = opcheck::grad_error(r.op, {}, {a, b}, {0, 1});
      if (!(err < 1e-6))
        check::fail(__FILE__, __LINE__, shapes_label(r.op, sa, sb) + ": " + std::to_string(err));
    }
}

TEST_CASE("elementwise: binary only one input wants a gradient") {
  Tensor a = operand({3, 4}, 1), b = operand({4}, 2);
  Tensor g = opcheck::random_tensor({3, 4}, DType::f64, 3);
  Tensor gb(b.shape(), DType::f64);
  const OpDef& d = OpRegistry::instance().get("multiply");
  Tensor out = opcheck::forward("multiply", {}, {a, b});
  GradContext gc;
  gc.inputs = {&a, &b};
  gc.output = &out;
  Attrs none;
  gc.attrs = &none;
  gc.grad_out = &g;
  gc.grad_in = {nullptr, &gb};
  gc.accumulate = {false, false};
  d.backward(gc);
  for (int c = 0; c < 4; ++c) {
    double s = 0;
    for (int r = 0; r < 3; ++r) s += at(g, r * 4 + c) * at(a, r * 4 + c);
    CHECK_NEAR(at(gb, c), s, 1e-12);
  }
}

TEST_CASE("elementwise: maximum/minimum ties split the gradient") {
  Tensor a = from_values({3}, {1.0, 2.0, 3.0});
  Tensor b = from_values({3}, {2.0, 2.0, 2.0});
  Tensor g = from_values({3}, {1.0, 1.0, 1.0});
  auto mx = run_backward("maximum", {}, {a, b}, g, zero_grads({a, b}), false);
  CHECK(at(mx[0], 0) == 0.0 && at(mx[0], 1) == 0.5 && at(mx[0], 2) == 1.0);
  CHECK(at(mx[1], 0) == 1.0 && at(mx[1], 1) == 0.5 && at(mx[1], 2) == 0.0);
  auto mn = run_backward("minimum", {}, {a, b}, g, zero_grads({a, b}), false);
  CHECK(at(mn[0], 0) == 1.0 && at(mn[0], 1) == 0.5 && at(mn[0], 2) == 0.0);
  CHECK(at(mn[1], 0) == 0.0 && at(mn[1], 1) == 0.5 && at(mn[1], 2) == 1.0);
  // NaN propagates from either side, as NumPy.
  Tensor n = from_values({2}, {std::nan(""), 1.0});
  Tensor o = from_values({2}, {1.0, std::nan("")});
  Tensor y = opcheck::forward("maximum", {}, {n, o});
  CHECK(std::isnan(at(y, 0)) && std::isnan(at(y, 1)));
  y = opcheck::forward("minimum", {}, {n, o});
  CHECK(std::isnan(at(y, 0)) && std::isnan(at(y, 1)));
}

TEST_CASE("elementwise: binary float32 agrees with float64") {
  uint32_t seed = 2000;
  for (const auto& r : binary_refs())
    for (const auto& [sa, sb] : kSmallShapes) {
      Tensor a = operand(sa, seed += 3), b = operand(sb, seed + 1);
      Tensor y = opcheck::forward(r.op, {}, {a, b});
      Tensor yf = opcheck::forward(r.op, {}, {to_f32(a), to_f32(b)});
      REQUIRE(yf.dtype() == DType::f32 && yf.shape() == y.shape());
      for (int64_t i = 0; i < y.size(); ++i) CHECK_NEAR(at(yf, i), at(y, i), 1e-5);
      Tensor g = opcheck::random_tensor(y.shape(), DType::f64, seed + 2);
      auto gd = run_backward(r.op, {}, {a, b}, g, zero_grads({a, b}), false);
      auto gf = run_backward(r.op, {}, {to_f32(a), to_f32(b)}, to_f32(g),
                             zero_grads({to_f32(a), to_f32(b)}), false);
      for (int k = 0; k < 2; ++k)
        for (int64_t i = 0; i < gd[k].size(); ++i) CHECK_NEAR(at(gf[k], i), at(gd[k], i), 1e-4);
    }
}

TEST_CASE("elementwise: binary shape inference with unknown extents") {
  const OpDef& add = OpRegistry::instance().get("add");
  TensorMeta m = add.infer({{{kUnknown, 4}, DType::f32}, {{4}, DType::f32}}, {});
  CHECK(m.shape == Shape({kUnknown, 4}) && m.dtype == DType::f32);
  m = add.infer({{{kUnknown, 1}, DType::f64}, {{3, 1, 5}, DType::f64}}, {});
  CHECK(m.shape == Shape({3, kUnknown, 5}) && m.dtype == DType::f64);
  m = add.infer({{{}, DType::f32}, {{kUnknown, 2}, DType::f32}}, {});
  CHECK(m.shape == Shape({kUnknown, 2}));
  // An unknown extent still has to agree with the known ones around it.
  CHECK_THROWS_AS(add.infer({{{kUnknown, 4}, DType::f32}, {{3}, DType::f32}}, {}), ValueError);
}

TEST_CASE("elementwise: binary errors name the op and what was received") {
  for (const auto& r : binary_refs()) {
    const OpDef& d = OpRegistry::instance().get(r.op);
    try {
      d.infer({{{3}, DType::f32}, {{4}, DType::f32}}, {});
      CHECK(false);
    } catch (const ValueError& e) {
      std::string m = e.what();
      CHECK(m.find("'" + r.op + "'") != std::string::npos && m.find("(3,)") != std::string::npos &&
            m.find("(4,)") != std::string::npos);
    }
    try {
      d.infer({{{2, 3}, DType::f32}, {{2, 3}, DType::f64}}, {});
      CHECK(false);
    } catch (const TypeError& e) {
      std::string m = e.what();
      CHECK(m.find("'" + r.op + "'") != std::string::npos &&
            m.find("float32") != std::string::npos && m.find("float64") != std::string::npos);
    }
    CHECK_THROWS_AS(d.infer({{{2}, DType::i32}, {{2}, DType::i32}}, {}), TypeError);
    CHECK_THROWS_AS(d.infer({{{2, 3}, DType::f32}, {{3, 2}, DType::f32}}, {}), ValueError);
  }
}

TEST_CASE("elementwise: broadcast layout collapses the common cases") {
  BroadcastLayout same = broadcast_layout({4, 5, 6}, {4, 5, 6});
  CHECK(same.dims == std::vector<int64_t>({120}) && same.size == 120);
  BroadcastLayout scalar = broadcast_layout({4, 5}, {});
  CHECK(scalar.dims == std::vector<int64_t>({20}) && scalar.b_strides == std::vector<int64_t>({0}));
  BroadcastLayout bias = broadcast_layout({8, 3, 16}, {16});
  CHECK(bias.dims == std::vector<int64_t>({24, 16}));
  CHECK(bias.a_strides == std::vector<int64_t>({16, 1}) && bias.b_strides == std::vector<int64_t>({0, 1}));
  BroadcastLayout mixed = broadcast_layout({2, 1, 4}, {3, 1});
  CHECK(mixed.dims == std::vector<int64_t>({2, 3, 4}));
  CHECK(mixed.a_strides == std::vector<int64_t>({4, 0, 1}) &&
        mixed.b_strides == std::vector<int64_t>({0, 1, 0}));
  BroadcastLayout empty = broadcast_layout({0, 3}, {3});
  CHECK(empty.size == 0);
}

TEST_CASE("elementwise: empty outputs leave a zeroed gradient for a broadcast input") {
  Tensor a({0, 3}, DType::f64);
  Tensor b = from_values({3}, {1.0, 2.0, 3.0});
  Tensor y = opcheck::forward("multiply", {}, {a, b});
  CHECK(y.shape() == Shape({0, 3}));
  Tensor g({0, 3}, DType::f64);
  auto grads = run_backward("multiply", {}, {a, b}, g,
                            {Tensor({0, 3}, DType::f64), from_values({3}, {5.0, 5.0, 5.0})}, false);
  CHECK(at(grads[1], 0) == 0.0 && at(grads[1], 2) == 0.0);
}
