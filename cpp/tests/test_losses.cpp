// Loss and metric ops: forward against references computed here (double precision, Keras's
// formulas), backward against central differences, and the errors for bad labels and shapes.
#include <algorithm>
#include <cmath>
#include <string>

#include "check.h"
#include "ember/error.h"
#include "op_check.h"

using namespace ember;
using opcheck::forward;
using opcheck::grad_error;
using opcheck::random_tensor;

namespace {

constexpr double kEps = 1e-7;  // keras.backend.epsilon()

Tensor make(Shape s, DType t, const std::vector<double>& v) {
  Tensor x(std::move(s), t);
  for (int64_t i = 0; i < x.size(); ++i) {
    switch (t) {
      case DType::f32: x.data<float>()[i] = static_cast<float>(v[i]); break;
      case DType::f64: x.data<double>()[i] = v[i]; break;
      case DType::i32: x.data<int32_t>()[i] = static_cast<int32_t>(v[i]); break;
      case DType::i64: x.data<int64_t>()[i] = static_cast<int64_t>(v[i]); break;
    }
  }
  return x;
}

double at(const Tensor& t, int64_t i) {
  return t.dtype() == DType::f64 ? t.data<double>()[i] : t.data<float>()[i];
}
double scalar(const Tensor& t) { return at(t, 0); }

Tensor labels_tensor(int64_t n, int64_t classes, DType t, uint32_t seed, Shape shape = {}) {
  std::vector<double> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = (i * 7 + seed) % classes;
  return make(shape.empty() ? Shape{n} : shape, t, v);
}

double clip(double q) { return std::min(std::max(q, kEps), 1 - kEps); }

double ref_sparse_ce(const Tensor& pred, const std::vector<int64_t>& y, bool logits) {
  const int64_t c = pred.dim(-1), rows = pred.size() / c;
  double total = 0;
  for (int64_t r = 0; r < rows; ++r) {
    double s = 0, m = -1e300;
    for (int64_t j = 0; j < c; ++j) m = std::max(m, at(pred, r * c + j));
    for (int64_t j = 0; j < c; ++j)
      s += logits ? std::exp(at(pred, r * c + j) - m) : at(pred, r * c + j);
    const double xy = at(pred, r * c + y[r]);
    total += logits ? (m + std::log(s) - xy) : -std::log(clip(xy / s));
  }
  return total / rows;
}

double ref_categorical_ce(const Tensor& t, const Tensor& pred, bool logits, double ls) {
  const int64_t c = pred.dim(-1), rows = pred.size() / c;
  double total = 0;
  for (int64_t r = 0; r < rows; ++r) {
    double s = 0, m = -1e300;
    for (int64_t j = 0; j < c; ++j) m = std::max(m, at(pred, r * c + j));
    for (int64_t j = 0; j < c; ++j)
      s += logits ? std::exp(at(pred, r * c + j) - m) : at(pred, r * c + j);
    for (int64_t j = 0; j < c; ++j) {
      const double tj = at(t, r * c + j) * (1 - ls) + ls / c;
      const double x = at(pred, r * c + j);
      const double logp = logits ? x - m - std::log(s) : std::log(clip(x / s));
      total -= tj * logp;
    }
  }
  return total / rows;
}

double ref_binary_ce(const Tensor& t, const Tensor& pred, bool logits, double ls) {
  double total = 0;
  for (int64_t i = 0; i < pred.size(); ++i) {
    const double y = at(t, i) * (1 - ls) + 0.5 * ls;
    double p = at(pred, i);
    if (logits) p = 1 / (1 + std::exp(-p));
    p = clip(p);
    total -= y * std::log(p) + (1 - y) * std::log(1 - p);
  }
  return total / pred.size();
}

// Runs backward once with a given incoming gradient and accumulate flag; returns dL/dy_pred.
Tensor backward_once(const std::string& op, const Attrs& attrs, const std::vector<Tensor>& in,
                     double g, bool accumulate, double prefill) {
  const OpDef& d = OpRegistry::instance().get(op);
  Tensor out = forward(op, attrs, in);
  Tensor go(Shape{}, in[1].dtype());
  Tensor dpred(in[1].shape(), in[1].dtype());
  for (int64_t i = 0; i < dpred.size(); ++i) {
    if (go.dtype() == DType::f64) dpred.data<double>()[i] = prefill;
    else dpred.data<float>()[i] = static_cast<float>(prefill);
  }
  if (go.dtype() == DType::f64) go.data<double>()[0] = g; else go.data<float>()[0] = float(g);
  Tensor aux;
  GradContext gc;
  for (auto& t : in) gc.inputs.push_back(&t);
  gc.output = &out;
  gc.attrs = &attrs;
  gc.aux = &aux;
  gc.grad_out = &go;
  gc.grad_in = {nullptr, &dpred};
  gc.accumulate = {false, accumulate};
  d.backward(gc);
  return dpred;
}

bool message_has(const std::function<void()>& f, const std::string& part) {
  try { f(); } catch (const ValueError& e) { return std::string(e.what()).find(part) != std::string::npos; }
  return false;
}

}  // namespace

// ------------------------------------------------------------------ sparse categorical CE

TEST_CASE("losses: sparse_categorical_crossentropy forward, both paths and label dtypes") {
  for (bool logits : {false, true}) {
    for (DType lt : {DType::i32, DType::i64, DType::f32, DType::f64}) {
      Tensor pred = random_tensor({6, 5}, DType::f64, 3, logits ? -3 : 0.05, logits ? 3 : 1);
      Tensor y = labels_tensor(6, 5, lt, 1);
      std::vector<int64_t> ids(6);
      for (int i = 0; i < 6; ++i) ids[i] = (i * 7 + 1) % 5;
      Attrs a({{"from_logits", logits}});
      CHECK_NEAR(scalar(forward("sparse_categorical_crossentropy", a, {y, pred})),
                 ref_sparse_ce(pred, ids, logits), 1e-12);
    }
  }
}

TEST_CASE("losses: sparse_categorical_crossentropy matches Keras's documented example") {
  // keras.losses.sparse_categorical_crossentropy([1, 2], ...) -> [0.0513, 2.303]
  Tensor y = make({2}, DType::i64, {1, 2});
  Tensor p = make({2, 3}, DType::f32, {0.05, 0.95, 0, 0.1, 0.8, 0.1});
  Tensor out = forward("sparse_categorical_crossentropy", Attrs(), {y, p});
  CHECK(out.dtype() == DType::f32 && out.rank() == 0);
  CHECK_NEAR(scalar(out), (0.0513 + 2.303) / 2, 5e-4);
}

TEST_CASE("losses: sparse_categorical_crossentropy clips probabilities and accepts (N, 1)") {
  // A zero probability for the true class is clipped to 1e-7, not log(0).
  Tensor y = make({2, 1}, DType::i32, {0, 1});
  Tensor p = make({2, 2}, DType::f64, {0.0, 1.0, 0.25, 0.75});
  const double want = (-std::log(1e-7) - std::log(0.75)) / 2;
  CHECK_NEAR(scalar(forward("sparse_categorical_crossentropy", Attrs(), {y, p})), want, 1e-9);
  // Where the clip bites, no gradient passes (torch.clip's gradient), so row 0 gets none.
  Tensor d = backward_once("sparse_categorical_crossentropy", Attrs(), {y, p}, 1.0, false, 9.0);
  CHECK(d.data<double>()[0] == 0.0 && d.data<double>()[1] == 0.0);
  CHECK_NEAR(d.data<double>()[2], 0.5 * 1.0, 1e-12);               // (1/s) / N, s = 1
  CHECK_NEAR(d.data<double>()[3], 0.5 * (1.0 - 1 / 0.75), 1e-12);  // (1/s - 1/p_y) / N
  // Rank-3 predictions: labels (N, T) pair with (N, T, C).
  Tensor p3 = random_tensor({2, 3, 4}, DType::f64, 5, -2, 2);
  Tensor y3 = labels_tensor(6, 4, DType::i64, 2, {2, 3});
  std::vector<int64_t> ids(6);
  for (int i = 0; i < 6; ++i) ids[i] = (i * 7 + 2) % 4;
  Attrs a({{"from_logits", true}});
  CHECK_NEAR(scalar(forward("sparse_categorical_crossentropy", a, {y3, p3})),
             ref_sparse_ce(p3, ids, true), 1e-12);
}

TEST_CASE("losses: sparse_categorical_crossentropy float32 agrees with float64") {
  Tensor p64 = random_tensor({8, 10}, DType::f64, 9, -4, 4);
  Tensor p32 = random_tensor({8, 10}, DType::f32, 9, -4, 4);
  Tensor y = labels_tensor(8, 10, DType::i32, 3);
  Attrs a({{"from_logits", true}});
  CHECK_NEAR(scalar(forward("sparse_categorical_crossentropy", a, {y, p32})),
             scalar(forward("sparse_categorical_crossentropy", a, {y, p64})), 1e-5);
}

TEST_CASE("losses: sparse_categorical_crossentropy gradients") {
  for (bool logits : {false, true}) {
    Tensor pred = random_tensor({5, 4}, DType::f64, 11, logits ? -3 : 0.1, logits ? 3 : 1);
    Tensor y = labels_tensor(5, 4, DType::i64, 0);
    Attrs a({{"from_logits", logits}});
    CHECK(grad_error("sparse_categorical_crossentropy", a, {y, pred}, {1}) < 1e-6);
  }
  // The logits gradient is (softmax - onehot) / N, times the incoming gradient.
  Tensor pred = make({1, 2}, DType::f64, {0.0, 0.0});
  Tensor y = make({1}, DType::i64, {1});
  Tensor d = backward_once("sparse_categorical_crossentropy", Attrs({{"from_logits", true}}),
                           {y, pred}, 2.0, false, 0);
  CHECK_NEAR(d.data<double>()[0], 1.0, 1e-12);
  CHECK_NEAR(d.data<double>()[1], -1.0, 1e-12);
}

TEST_CASE("losses: backward honours the accumulate flag") {
  Tensor pred = random_tensor({3, 4}, DType::f64, 2, -1, 1);
  Tensor y = labels_tensor(3, 4, DType::i64, 1);
  Attrs a({{"from_logits", true}});
  Tensor fresh = backward_once("sparse_categorical_crossentropy", a, {y, pred}, 1.0, false, 5.0);
  Tensor added = backward_once("sparse_categorical_crossentropy", a, {y, pred}, 1.0, true, 5.0);
  for (int64_t i = 0; i < fresh.size(); ++i)
    CHECK_NEAR(added.data<double>()[i], fresh.data<double>()[i] + 5.0, 1e-12);
  Tensor t = random_tensor({3, 4}, DType::f64, 4);
  Tensor mse_fresh = backward_once("mean_squared_error", Attrs(), {t, pred}, 1.0, false, 2.0);
  Tensor mse_added = backward_once("mean_squared_error", Attrs(), {t, pred}, 1.0, true, 2.0);
  for (int64_t i = 0; i < mse_fresh.size(); ++i)
    CHECK_NEAR(mse_added.data<double>()[i], mse_fresh.data<double>()[i] + 2.0, 1e-12);
}

TEST_CASE("losses: sparse_categorical_crossentropy rejects labels out of range") {
  Tensor pred = random_tensor({3, 10}, DType::f32, 1, 0.1, 1);
  Tensor y = make({3}, DType::i32, {1, 12, 3});
  CHECK(message_has([&] { forward("sparse_categorical_crossentropy", Attrs(), {y, pred}); },
                    "op 'sparse_categorical_crossentropy': labels must be in [0, 10), received 12"));
  Tensor neg = make({3}, DType::i64, {0, -1, 3});
  CHECK_THROWS_AS(forward("sparse_categorical_crossentropy", Attrs(), {neg, pred}), ValueError);
  Tensor frac = make({3}, DType::f32, {0, 1.5, 3});
  CHECK_THROWS_AS(forward("sparse_categorical_crossentropy", Attrs(), {frac, pred}), ValueError);
  // Backward checks too, before any kernel runs.
  const OpDef& d = OpRegistry::instance().get("sparse_categorical_crossentropy");
  CHECK(d.nondiff_inputs == std::vector<int>{0});
}

TEST_CASE("losses: sparse_categorical_crossentropy shape checks in infer") {
  const OpDef& d = OpRegistry::instance().get("sparse_categorical_crossentropy");
  // Unknown batch dimension is fine; (N,) and (N, 1) labels both pair with (N, C).
  TensorMeta m = d.infer({{{kUnknown}, DType::i32}, {{kUnknown, 10}, DType::f32}}, Attrs());
  CHECK(m.shape.empty() && m.dtype == DType::f32);
  d.infer({{{kUnknown, 1}, DType::i64}, {{kUnknown, 10}, DType::f64}}, Attrs());
  CHECK(message_has([&] { d.infer({{{kUnknown, 5}, DType::i32}, {{kUnknown, 10}, DType::f32}}, Attrs()); },
                    "received y_true (None, 5) and y_pred (None, 10)"));
  CHECK_THROWS_AS(d.infer({{{4}, DType::i32}, {{3, 10}, DType::f32}}, Attrs()), ValueError);
  CHECK_THROWS_AS(d.infer({{{3}, DType::i32}, {{3, 10}, DType::f32}}, Attrs({{"axis", int64_t{0}}})),
                  ValueError);
  CHECK_THROWS_AS(d.infer({{{3}, DType::i32}, {{3, 10}, DType::i32}}, Attrs()), TypeError);
  // The concrete shapes are checked again when the op runs.
  Tensor pred = random_tensor({3, 4}, DType::f64, 1);
  Tensor y = make({2}, DType::i64, {0, 1});
  CHECK_THROWS_AS(forward("sparse_categorical_crossentropy", Attrs(), {y, pred}), ValueError);
}

TEST_CASE("losses: large batches (parallel path) match the reference") {
  Tensor pred = random_tensor({5000, 10}, DType::f64, 31, -3, 3);
  Tensor y = labels_tensor(5000, 10, DType::i32, 4);
  std::vector<int64_t> ids(5000);
  for (int i = 0; i < 5000; ++i) ids[i] = (i * 7 + 4) % 10;
  Attrs a({{"from_logits", true}});
  CHECK_NEAR(scalar(forward("sparse_categorical_crossentropy", a, {y, pred})),
             ref_sparse_ce(pred, ids, true), 1e-12);
  Tensor t = random_tensor({5000, 10}, DType::f64, 32, 0, 1);
  CHECK_NEAR(scalar(forward("binary_crossentropy", a, {t, pred})),
             ref_binary_ce(t, pred, true, 0.0), 1e-12);
  // Softmax minus one-hot sums to zero over each row.
  Tensor d = backward_once("sparse_categorical_crossentropy", a, {y, pred}, 1.0, false, 0);
  double worst = 0;
  for (int r = 0; r < 5000; ++r) {
    double s = 0;
    for (int j = 0; j < 10; ++j) s += d.data<double>()[r * 10 + j];
    worst = std::max(worst, std::fabs(s));
  }
  CHECK(worst < 1e-15);
}

// ------------------------------------------------------------------ categorical CE

TEST_CASE("losses: categorical_crossentropy forward, both paths, label smoothing") {
  Tensor t = random_tensor({4, 5}, DType::f64, 7, 0, 1);
  for (bool logits : {false, true}) {
    for (double ls : {0.0, 0.2}) {
      Tensor pred = random_tensor({4, 5}, DType::f64, 8, logits ? -3 : 0.05, logits ? 3 : 1);
      Attrs a({{"from_logits", logits}, {"label_smoothing", ls}});
      CHECK_NEAR(scalar(forward("categorical_crossentropy", a, {t, pred})),
                 ref_categorical_ce(t, pred, logits, ls), 1e-12);
      CHECK(grad_error("categorical_crossentropy", a, {t, pred}, {1}) < 1e-6);
    }
  }
  // Keras's documented example: [[0,1,0],[0,0,1]] vs [[.05,.95,0],[.1,.8,.1]] -> [0.0513, 2.303]
  Tensor y = make({2, 3}, DType::i32, {0, 1, 0, 0, 0, 1});
  Tensor p = make({2, 3}, DType::f32, {0.05, 0.95, 0, 0.1, 0.8, 0.1});
  CHECK_NEAR(scalar(forward("categorical_crossentropy", Attrs(), {y, p})), (0.0513 + 2.303) / 2,
             5e-4);
}

TEST_CASE("losses: categorical_crossentropy shape and attribute errors") {
  const OpDef& d = OpRegistry::instance().get("categorical_crossentropy");
  d.infer({{{kUnknown, 10}, DType::f32}, {{kUnknown, 10}, DType::f32}}, Attrs());
  CHECK(message_has([&] { d.infer({{{kUnknown, 9}, DType::f32}, {{kUnknown, 10}, DType::f32}}, Attrs()); },
                    "op 'categorical_crossentropy': expected y_true and y_pred to have the same shape"));
  CHECK_THROWS_AS(d.infer({{{2, 3}, DType::f32}, {{2, 3}, DType::f32}},
                          Attrs({{"label_smoothing", 1.5}})), ValueError);
}

// ------------------------------------------------------------------ binary CE

TEST_CASE("losses: binary_crossentropy forward and gradients, both paths") {
  Tensor t = random_tensor({4, 3}, DType::f64, 2, 0, 1);
  for (bool logits : {false, true}) {
    for (double ls : {0.0, 0.1}) {
      Tensor pred = random_tensor({4, 3}, DType::f64, 6, logits ? -4 : 0.05, logits ? 4 : 0.95);
      Attrs a({{"from_logits", logits}, {"label_smoothing", ls}});
      CHECK_NEAR(scalar(forward("binary_crossentropy", a, {t, pred})),
                 ref_binary_ce(t, pred, logits, ls), 1e-12);
      CHECK(grad_error("binary_crossentropy", a, {t, pred}, {1}) < 1e-6);
    }
  }
  // Keras's documented example: [[0,1],[0,0]] vs [[.6,.4],[.4,.6]] -> [0.916, 0.714]
  Tensor y = make({2, 2}, DType::f32, {0, 1, 0, 0});
  Tensor p = make({2, 2}, DType::f32, {0.6, 0.4, 0.4, 0.6});
  CHECK_NEAR(scalar(forward("binary_crossentropy", Attrs(), {y, p})), (0.916 + 0.714) / 2, 5e-4);
}

TEST_CASE("losses: binary_crossentropy from logits is stable for large logits") {
  Tensor y = make({2}, DType::f32, {1, 0});
  Tensor p = make({2}, DType::f32, {-200, 300});
  const double v = scalar(forward("binary_crossentropy", Attrs({{"from_logits", true}}), {y, p}));
  CHECK(std::isfinite(v));
  CHECK_NEAR(v, (200 + 300) / 2.0, 1e-3);
}

TEST_CASE("losses: binary_crossentropy pairs (N,) labels with (N, 1) predictions") {
  Tensor y = make({3}, DType::i32, {1, 0, 1});
  Tensor p = make({3, 1}, DType::f64, {0.9, 0.2, 0.6});
  const double want = -(std::log(0.9) + std::log(0.8) + std::log(0.6)) / 3;
  CHECK_NEAR(scalar(forward("binary_crossentropy", Attrs(), {y, p})), want, 1e-12);
  const OpDef& d = OpRegistry::instance().get("binary_crossentropy");
  d.infer({{{kUnknown}, DType::f32}, {{kUnknown, 1}, DType::f32}}, Attrs());
  CHECK_THROWS_AS(d.infer({{{kUnknown}, DType::f32}, {{kUnknown, 2}, DType::f32}}, Attrs()),
                  ValueError);
}

// ------------------------------------------------------------------ MSE / MAE

TEST_CASE("losses: mean_squared_error and mean_absolute_error") {
  Tensor t = random_tensor({5, 3}, DType::f64, 21);
  Tensor p = random_tensor({5, 3}, DType::f64, 22);
  double se = 0, ae = 0;
  for (int64_t i = 0; i < 15; ++i) {
    const double e = at(t, i) - at(p, i);
    se += e * e;
    ae += std::fabs(e);
  }
  CHECK_NEAR(scalar(forward("mean_squared_error", Attrs(), {t, p})), se / 15, 1e-12);
  CHECK_NEAR(scalar(forward("mean_absolute_error", Attrs(), {t, p})), ae / 15, 1e-12);
  CHECK(grad_error("mean_squared_error", Attrs(), {t, p}, {1}) < 1e-6);
  CHECK(grad_error("mean_absolute_error", Attrs(), {t, p}, {1}) < 1e-6);
  // Integer targets are cast to y_pred's dtype, as Keras does.
  Tensor ti = make({2, 2}, DType::i32, {1, 2, 3, 4});
  Tensor pf = make({2, 2}, DType::f32, {1, 1, 1, 1});
  CHECK_NEAR(scalar(forward("mean_squared_error", Attrs(), {ti, pf})), (0 + 1 + 4 + 9) / 4.0, 1e-6);
  CHECK_NEAR(scalar(forward("mean_absolute_error", Attrs(), {ti, pf})), (0 + 1 + 2 + 3) / 4.0, 1e-6);
}

TEST_CASE("losses: mean_squared_error shape mismatch and empty batch") {
  Tensor t = random_tensor({4, 3}, DType::f64, 1);
  Tensor p = random_tensor({4, 2}, DType::f64, 2);
  CHECK(message_has([&] { forward("mean_squared_error", Attrs(), {t, p}); },
                    "received y_true (4, 3) and y_pred (4, 2)"));
  Tensor te({0, 3}, DType::f32), pe({0, 3}, DType::f32);
  CHECK_NEAR(scalar(forward("mean_squared_error", Attrs(), {te, pe})), 0.0, 0.0);
}

// ------------------------------------------------------------------ metrics

TEST_CASE("metrics: sparse_categorical_accuracy") {
  Tensor p = make({4, 3}, DType::f32, {0.1, 0.8, 0.1, 0.5, 0.2, 0.3, 0.2, 0.2, 0.6, 0.4, 0.4, 0.2});
  // argmax rows: 1, 0, 2, 0 (first maximum wins the tie)
  Tensor y = make({4, 1}, DType::f32, {1, 0, 1, 0});
  Tensor out = forward("sparse_categorical_accuracy", Attrs(), {y, p});
  CHECK(out.dtype() == DType::f32 && out.rank() == 0);
  CHECK_NEAR(scalar(out), 0.75, 1e-7);
  // Labels out of range simply do not match; they are no error for a metric.
  Tensor y2 = make({4}, DType::i64, {1, 7, 2, -3});
  CHECK_NEAR(scalar(forward("sparse_categorical_accuracy", Attrs(), {y2, p})), 0.5, 1e-7);
  const OpDef& d = OpRegistry::instance().get("sparse_categorical_accuracy");
  CHECK(!d.backward);
  CHECK_THROWS_AS(d.infer({{{kUnknown, 2}, DType::i32}, {{kUnknown, 3}, DType::f32}}, Attrs()),
                  ValueError);
}

TEST_CASE("metrics: categorical_accuracy") {
  Tensor t = make({3, 3}, DType::f64, {0, 1, 0, 1, 0, 0, 0, 0, 1});
  Tensor p = make({3, 3}, DType::f64, {0.1, 0.7, 0.2, 0.1, 0.8, 0.1, 0.3, 0.3, 0.4});
  CHECK_NEAR(scalar(forward("categorical_accuracy", Attrs(), {t, p})), 2.0 / 3, 1e-12);
  CHECK(!OpRegistry::instance().get("categorical_accuracy").backward);
  Tensor bad = make({3, 2}, DType::f64, {0, 1, 0, 1, 0, 1});
  CHECK_THROWS_AS(forward("categorical_accuracy", Attrs(), {bad, p}), ValueError);
}

TEST_CASE("metrics: binary_accuracy with default and custom threshold") {
  // Keras's documented example: [[1],[1],[0],[0]] vs [[0.98],[1],[0],[0.6]] -> 0.75
  Tensor y = make({4, 1}, DType::i32, {1, 1, 0, 0});
  Tensor p = make({4, 1}, DType::f32, {0.98, 1, 0, 0.6});
  CHECK_NEAR(scalar(forward("binary_accuracy", Attrs(), {y, p})), 0.75, 1e-7);
  CHECK_NEAR(scalar(forward("binary_accuracy", Attrs({{"threshold", 0.7}}), {y, p})), 1.0, 1e-7);
  // (N,) labels pair with (N, 1) predictions; empty batch gives 0.
  Tensor y1 = make({4}, DType::f32, {1, 0, 0, 0});
  CHECK_NEAR(scalar(forward("binary_accuracy", Attrs(), {y1, p})), 0.5, 1e-7);
  Tensor ye({0, 1}, DType::f32), pe({0, 1}, DType::f32);
  CHECK_NEAR(scalar(forward("binary_accuracy", Attrs(), {ye, pe})), 0.0, 0.0);
  CHECK(!OpRegistry::instance().get("binary_accuracy").backward);
}
