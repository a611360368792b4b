// Tests of op 'layer_norm': forward against Keras's formula computed here in double (plain and
// rms_scaling, with and without gamma/beta, begin_axis -1 and -2), float64 central-difference
// gradients of x, gamma and beta, accumulation into preset gradients, thread-count
// independence on a shape large enough for the parallel paths, and the errors of inference.
#include <cmath>
#include <cstring>
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
  return t.dtype() == DType::f64 ? t.data<double>()[i] : t.data<float>()[i];
}

struct LnCase {
  Shape x;
  int64_t begin_axis = -1;
  bool gamma = true, beta = true, rms = false;
  double epsilon = 1e-3;
};

Attrs attrs_of(const LnCase& c) {
  Attrs a;
  a.set("begin_axis", c.begin_axis);
  a.set("has_gamma", c.gamma);
  a.set("has_beta", c.beta);
  a.set("rms_scaling", c.rms);
  a.set("epsilon", c.epsilon);
  return a;
}

int64_t trailing(const LnCase& c) {
  const int axis = static_cast<int>(c.begin_axis < 0 ? c.begin_axis + c.x.size() : c.begin_axis);
  int64_t n = 1;
  for (size_t i = axis; i < c.x.size(); ++i) n *= c.x[i];
  return n;
}

std::vector<Tensor> inputs_of(const LnCase& c, DType dt) {
  const int axis = static_cast<int>(c.begin_axis < 0 ? c.begin_axis + c.x.size() : c.begin_axis);
  const Shape t(c.x.begin() + axis, c.x.end());
  std::vector<Tensor> in = {random_tensor(c.x, dt, 1, -2, 3)};  // mean away from 0
  if (c.gamma) in.push_back(random_tensor(t, dt, 2, 0.5, 1.5));
  if (c.beta) in.push_back(random_tensor(t, dt, 3));
  return in;
}

// keras.ops.layer_normalization in double.
std::vector<double> reference(const LnCase& c, const std::vector<Tensor>& in) {
  const int64_t n = trailing(c), rows = in[0].size() / n;
  std::vector<double> y(in[0].size());
  for (int64_t r = 0; r < rows; ++r) {
    double mean = 0, var = 0;
    for (int64_t j = 0; j < n; ++j) mean += at(in[0], r * n + j) / n;
    for (int64_t j = 0; j < n; ++j) var += std::pow(at(in[0], r * n + j) - mean, 2) / n;
    const double inv = 1 / std::sqrt(var + c.epsilon);
    for (int64_t j = 0; j < n; ++j) {
      const double x = at(in[0], r * n + j);
      const double g = c.gamma ? at(in[1], j) : 1.0;
      const double b = c.beta ? at(in[1 + c.gamma], j) : 0.0;
      y[r * n + j] = c.rms ? x * inv * g : (x - mean) * inv * g + b;
    }
  }
  return y;
}

double forward_error(const LnCase& c, DType dt) {
  const std::vector<Tensor> in = inputs_of(c, dt);
  const Tensor out = forward("layer_norm", attrs_of(c), in);
  const std::vector<double> ref = reference(c, in);
  double worst = 0;
  for (int64_t i = 0; i < out.size(); ++i) worst = std::max(worst, std::fabs(at(out, i) - ref[i]));
  return worst;
}

std::vector<int> all_inputs(const LnCase& c) {
  std::vector<int> w = {0};
  if (c.gamma) w.push_back(1);
  if (c.beta) w.push_back(1 + c.gamma);
  return w;
}

const std::vector<LnCase>& cases() {
  static const std::vector<LnCase> all = {
      {{4, 7}},                                  // gamma and beta
      {{2, 3, 5}, -2},                           // begin_axis = -2
      {{3, 6}, -1, false, false},                // no gamma, no beta
      {{3, 6}, -1, true, false},                 // gamma only
      {{3, 6}, -1, false, true},                 // beta only
      {{4, 7}, -1, true, false, true},           // rms_scaling with gamma
      {{2, 3, 4}, -2, false, false, true, 1e-2}, // rms_scaling, no gamma, begin_axis -2
      {{5}, 0},                                  // one row
  };
  return all;
}

}  // namespace

TEST_CASE("layer_norm forward matches Keras's formula") {
  for (const LnCase& c : cases()) {
    CHECK(forward_error(c, DType::f64) < 1e-12);
    CHECK(forward_error(c, DType::f32) < 1e-5);
  }
  CHECK(forward_error({{64, 700}}, DType::f32) < 1e-5);  // parallel rows
}

TEST_CASE("layer_norm gradients (float64 central differences)") {
  for (const LnCase& c : cases()) {
    const double err = grad_error("layer_norm", attrs_of(c), inputs_of(c, DType::f64), all_inputs(c));
    if (!(err < 1e-6)) std::cerr << "  case " << shape_str(c.x) << " rms=" << c.rms << ": " << err << "\n";
    CHECK(err < 1e-6);
  }
  const LnCase c{{3, 5}};
  for (int i = 0; i < 3; ++i)  // one input wanted at a time
    CHECK(grad_error("layer_norm", attrs_of(c), inputs_of(c, DType::f64), {i}) < 1e-6);
}

namespace {
// Forward + backward through one aux buffer; gradients of sum(G * y) start from `preset`
// when `accumulate`.
std::vector<Tensor> grads_of(const LnCase& c, const std::vector<Tensor>& in, const Tensor& G,
                             bool accumulate, double preset) {
  const OpDef& d = OpRegistry::instance().get("layer_norm");
  const Attrs a = attrs_of(c);
  std::vector<TensorMeta> metas;
  for (auto& t : in) metas.push_back({t.shape(), t.dtype()});
  Tensor out(c.x, in[0].dtype());
  Tensor aux({static_cast<int64_t>(d.aux_bytes(metas, a, true) / 4 + 1)}, DType::f32);
  Tensor scratch({static_cast<int64_t>(d.scratch_bytes(metas, a, std::vector<bool>(in.size(), true)) / 4 + 1)}, DType::f32);
  GradContext gc;
  for (auto& t : in) gc.inputs.push_back(&t);
  gc.output = &out;
  gc.attrs = &a;
  gc.aux = &aux;
  d.forward(gc);
  gc.scratch = &scratch;
  gc.grad_out = &G;
  std::vector<Tensor> grads;
  for (auto& t : in) {
    grads.emplace_back(t.shape(), t.dtype());
    for (int64_t i = 0; i < t.size(); ++i) grads.back().data<double>()[i] = preset;
  }
  for (auto& g : grads) gc.grad_in.push_back(&g);
  gc.accumulate.assign(in.size(), accumulate);
  d.backward(gc);
  return grads;
}
}  // namespace

TEST_CASE("layer_norm backward accumulates when asked, and is thread-count independent") {
  const LnCase c{{64, 700}};  // large enough for the parallel paths
  const std::vector<Tensor> in = inputs_of(c, DType::f64);
  const Tensor G = random_tensor(c.x, DType::f64, 9);
  const auto fresh = grads_of(c, in, G, false, 0.0);
  const auto added = grads_of(c, in, G, true, 0.25);
  for (size_t k = 0; k < fresh.size(); ++k) {
    double worst = 0;
    for (int64_t i = 0; i < fresh[k].size(); ++i)
      worst = std::max(worst, std::fabs(added[k].data<double>()[i] - 0.25 - fresh[k].data<double>()[i]));
    CHECK(worst < 1e-12);
  }
  const int before = get_num_threads();
  set_num_threads(1);
  const auto one = grads_of(c, in, G, false, 0.0);
  set_num_threads(before);
  for (size_t k = 0; k < fresh.size(); ++k)
    CHECK(std::memcmp(one[k].raw(), fresh[k].raw(), one[k].nbytes()) == 0);
}

TEST_CASE("layer_norm shape inference and errors naming the op") {
  const OpDef& d = OpRegistry::instance().get("layer_norm");
  LnCase c{{-1, 5, 6}, -2};
  TensorMeta m = d.infer({{{-1, 5, 6}, DType::f32}, {{5, 6}, DType::f32}, {{5, 6}, DType::f32}},
                         attrs_of(c));
  CHECK((m.shape == Shape{-1, 5, 6}));
  auto fails = [&](const LnCase& lc, std::vector<TensorMeta> in, const std::string& word) {
    try {
      d.infer(in, attrs_of(lc));
    } catch (const Error& e) {
      const std::string msg = e.what();
      const bool ok = msg.find("layer_norm") != std::string::npos && msg.find(word) != std::string::npos;
      if (!ok) std::cerr << "  message: " << msg << "\n";
      return ok;
    }
    return false;
  };
  const TensorMeta x{{2, 5, 6}, DType::f32};
  CHECK(fails(c, {x, {{6}, DType::f32}, {{5, 6}, DType::f32}}, "(5, 6)"));
  CHECK(fails(c, {x, {{5, 6}, DType::f64}, {{5, 6}, DType::f32}}, "like x"));
  CHECK(fails(c, {x, {{5, 6}, DType::f32}}, "3 inputs"));
  CHECK(fails(c, {{{2, 5, 6}, DType::i32}, {{5, 6}, DType::f32}, {{5, 6}, DType::f32}}, "float32"));
  LnCase rms_beta{{2, 6}, -1, true, true, true};
  CHECK(fails(rms_beta, {{{2, 6}, DType::f32}, {{6}, DType::f32}, {{6}, DType::f32}}, "beta"));
  LnCase bad_axis{{2, 6}, 3, false, false};
  try {
    d.infer({{{2, 6}, DType::f32}}, attrs_of(bad_axis));
    CHECK(false);
  } catch (const IndexError& e) {
    CHECK(std::string(e.what()).find("layer_norm") != std::string::npos);
  }
}
