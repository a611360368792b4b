// ParamArena layout and the Optimizer's update rules. Each rule runs 3 steps on a float64 arena
// and is compared with a reference written here from Keras 3's update_step formulas
// (keras/src/optimizers/*.py) and base_optimizer.apply (clip, weight decay, rule, iterations).
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "check.h"
#include "ember/arena.h"
#include "ember/error.h"
#include "ember/optimizer.h"

using namespace ember;

namespace {

using Vec = std::vector<double>;

// A small model: three parameters of odd sizes, so segments need padding to stay aligned.
std::vector<Shape> shapes() { return {{3, 5}, {7}, {2, 2, 3}}; }

void fill(const ParamArena& a, int i, bool grad, uint32_t seed, double amp) {
  Tensor t = grad ? a.grad(i) : a.value(i);
  for (int64_t j = 0; j < t.size(); ++j) {
    const double v = amp * std::sin(0.7 * j + 1.3 * seed + 0.1 * i);
    if (t.dtype() == DType::f64) t.data<double>()[j] = v;
    else t.data<float>()[j] = static_cast<float>(v);
  }
}

Vec read(const Tensor& t) {
  Vec v(static_cast<size_t>(t.size()));
  for (int64_t j = 0; j < t.size(); ++j)
    v[j] = t.dtype() == DType::f64 ? t.data<double>()[j] : t.data<float>()[j];
  return v;
}

// The reference: Keras's formulas on plain vectors, one per parameter.
struct Reference {
  OptimizerConfig c;
  int64_t iterations = 0;
  std::vector<Vec> m, v, vh, acc, avg;

  void step(std::vector<Vec>& w, std::vector<Vec> g, const std::vector<bool>& trainable,
            double lr) {
    const size_t n = w.size();
    if (m.empty()) {
      for (size_t p = 0; p < n; ++p) {
        m.emplace_back(w[p].size(), 0.0);
        v.emplace_back(w[p].size(), 0.0);
        vh.emplace_back(w[p].size(), 0.0);
        acc.emplace_back(w[p].size(), c.initial_accumulator_value);
        avg.emplace_back(w[p].size(), 0.0);
      }
    }
    // _clip_gradients over the trainable gradients
    if (c.clipnorm > 0) {
      for (size_t p = 0; p < n; ++p) {
        double s = 0;
        for (double x : g[p]) s += x * x;
        const double norm = std::sqrt(s);
        for (double& x : g[p]) x = x * c.clipnorm / std::max(norm, c.clipnorm);
      }
    } else if (c.global_clipnorm > 0) {
      double s = 0;
      for (size_t p = 0; p < n; ++p)
        if (trainable[p]) for (double x : g[p]) s += x * x;
      const double norm = std::sqrt(s);
      const double scale = c.global_clipnorm * std::min(1 / norm, 1 / c.global_clipnorm);
      for (auto& gp : g) for (double& x : gp) x *= scale;
    } else if (c.clipvalue > 0) {
      for (auto& gp : g) for (double& x : gp) x = std::min(std::max(x, -c.clipvalue), c.clipvalue);
    }
    for (size_t p = 0; p < n; ++p) {
      if (!trainable[p]) continue;
      for (size_t j = 0; j < w[p].size(); ++j) {
        double& x = w[p][j];
        const double gj = g[p][j];
        if (c.weight_decay != 0) x = x - x * c.weight_decay * lr;  // _apply_weight_decay
        if (c.kind == "sgd") {
          if (c.momentum != 0) {
            m[p][j] = m[p][j] * c.momentum - gj * lr;
            x += c.nesterov ? m[p][j] * c.momentum - gj * lr : m[p][j];
          } else {
            x -= gj * lr;
          }
        } else if (c.kind == "adam" || c.kind == "adamw") {
          const double t = static_cast<double>(iterations + 1);
          const double alpha =
              lr * std::sqrt(1 - std::pow(c.beta_2, t)) / (1 - std::pow(c.beta_1, t));
          m[p][j] += (gj - m[p][j]) * (1 - c.beta_1);
          v[p][j] += (gj * gj - v[p][j]) * (1 - c.beta_2);
          double vv = v[p][j];
          if (c.amsgrad) {
            vh[p][j] = std::max(vh[p][j], v[p][j]);
            vv = vh[p][j];
          }
          x -= m[p][j] * alpha / (std::sqrt(vv) + c.epsilon);
        } else if (c.kind == "rmsprop") {
          v[p][j] = c.rho * v[p][j] + (1 - c.rho) * gj * gj;
          double denom = v[p][j] + c.epsilon;
          if (c.centered) {
            avg[p][j] = c.rho * avg[p][j] + (1 - c.rho) * gj;
            denom = v[p][j] - avg[p][j] * avg[p][j] + c.epsilon;
          }
          const double inc = lr * gj / std::sqrt(denom);
          if (c.momentum > 0) {
            m[p][j] = c.momentum * m[p][j] + inc;
            x -= m[p][j];
          } else {
            x -= inc;
          }
        } else if (c.kind == "adagrad") {
          acc[p][j] += gj * gj;
          x -= lr * gj / std::sqrt(acc[p][j] + c.epsilon);
        }
      }
    }
    ++iterations;
  }
};

// Runs `steps` steps of the optimizer and of the reference on the same data; returns the
// worst difference of the weights. Parameter 1 is frozen when `freeze` is set.
double compare(const OptimizerConfig& cfg, double lr, bool freeze, int steps = 3,
               double grad_amp = 1.0) {
  ParamArena arena(DType::f64, shapes());
  for (int i = 0; i < arena.count(); ++i) fill(arena, i, false, 1, 0.5);
  if (freeze) arena.set_trainable(1, false);
  std::vector<Vec> w;
  std::vector<bool> trainable;
  for (int i = 0; i < arena.count(); ++i) {
    w.push_back(read(arena.value(i)));
    trainable.push_back(arena.segment(i).trainable);
  }
  const Vec frozen_before = read(arena.value(1));
  Optimizer opt(cfg);
  Reference ref;
  ref.c = cfg;
  for (int s = 0; s < steps; ++s) {
    std::vector<Vec> g;
    for (int i = 0; i < arena.count(); ++i) {
      fill(arena, i, true, 10 + s, grad_amp * (1 + i));  // gradients change every step
      g.push_back(read(arena.grad(i)));
    }
    opt.step(arena, lr);
    ref.step(w, g, trainable, lr);
  }
  CHECK(opt.iterations() == steps);
  double worst = 0;
  for (int i = 0; i < arena.count(); ++i) {
    const Vec got = read(arena.value(i));
    for (size_t j = 0; j < got.size(); ++j) worst = std::max(worst, std::fabs(got[j] - w[i][j]));
  }
  if (freeze) {
    const Vec after = read(arena.value(1));
    for (size_t j = 0; j < after.size(); ++j) CHECK(after[j] == frozen_before[j]);
  }
  return worst;
}

OptimizerConfig kind(const std::string& k) {
  OptimizerConfig c;
  c.kind = k;
  return c;
}

}  // namespace

// ------------------------------------------------------------------ arena

TEST_CASE("arena: segments are 64-byte aligned views of one zeroed buffer") {
  for (DType t : {DType::f32, DType::f64}) {
    ParamArena a(t, {{3, 5}, {7}, {}, {0}, {2, 2, 3}});
    REQUIRE(a.count() == 5);
    CHECK(a.dtype() == t);
    CHECK(reinterpret_cast<uintptr_t>(a.values().raw()) % 64 == 0);
    CHECK(reinterpret_cast<uintptr_t>(a.grads().raw()) % 64 == 0);
    for (int i = 0; i < a.count(); ++i) {
      CHECK(reinterpret_cast<uintptr_t>(a.value(i).raw()) % 64 == 0);
      CHECK(reinterpret_cast<uintptr_t>(a.grad(i).raw()) % 64 == 0);
      CHECK(a.value(i).shape() == a.segment(i).shape);
      CHECK(a.grad(i).dtype() == t);
      CHECK(a.segment(i).size == numel(a.segment(i).shape));
      CHECK(a.segment(i).offset + a.segment(i).size <= a.total());
      if (i > 0) CHECK(a.segment(i).offset >= a.segment(i - 1).offset + a.segment(i - 1).size);
    }
    CHECK(a.segment(2).size == 1);  // a scalar parameter
    CHECK(a.values().size() == a.total() && a.grads().size() == a.total());
    for (double x : read(a.values())) CHECK(x == 0.0);
    for (double x : read(a.grads())) CHECK(x == 0.0);
  }
}

TEST_CASE("arena: views share the arena's memory and outlive the arena object") {
  Tensor kept;
  {
    ParamArena a(DType::f32, {{2, 3}, {4}});
    a.value(1).data<float>()[2] = 7.5f;
    a.grad(0).data<float>()[5] = -1.0f;
    CHECK(a.values().data<float>()[a.segment(1).offset + 2] == 7.5f);
    CHECK(a.grads().data<float>()[a.segment(0).offset + 5] == -1.0f);
    a.zero_grads();
    CHECK(a.grad(0).data<float>()[5] == 0.0f);
    kept = a.value(1);
  }
  CHECK(kept.data<float>()[2] == 7.5f);  // the view holds the buffer alive
}

TEST_CASE("arena: trainable flag and index errors") {
  ParamArena a(DType::f64, shapes());
  for (int i = 0; i < a.count(); ++i) CHECK(a.segment(i).trainable);
  a.set_trainable(2, false);
  CHECK(!a.segment(2).trainable);
  a.set_trainable(2, true);
  CHECK(a.segment(2).trainable);
  CHECK_THROWS_AS(a.value(3), IndexError);
  CHECK_THROWS_AS(a.grad(-1), IndexError);
  CHECK_THROWS_AS(a.segment(7), IndexError);
  CHECK_THROWS_AS(a.set_trainable(3, false), IndexError);
  CHECK_THROWS_AS(ParamArena(DType::i32, shapes()), TypeError);
  CHECK_THROWS_AS(ParamArena(DType::f32, {{kUnknown, 3}}), ValueError);
}

// ------------------------------------------------------------------ rules with Keras defaults

TEST_CASE("optimizer: sgd, plain, momentum and nesterov") {
  CHECK(compare(kind("sgd"), 0.01, false) < 1e-12);
  OptimizerConfig c = kind("sgd");
  c.momentum = 0.9;
  CHECK(compare(c, 0.01, false) < 1e-12);
  c.nesterov = true;
  CHECK(compare(c, 0.01, false) < 1e-12);
}

TEST_CASE("optimizer: adam and amsgrad") {
  CHECK(compare(kind("adam"), 1e-3, false) < 1e-12);
  OptimizerConfig c = kind("adam");
  c.amsgrad = true;
  CHECK(compare(c, 1e-3, false, 4) < 1e-12);
}

TEST_CASE("optimizer: adamw applies decoupled weight decay") {
  OptimizerConfig c = kind("adamw");
  c.weight_decay = 0.004;
  CHECK(compare(c, 1e-3, false) < 1e-12);
  // The decay does move the weights compared with plain adam.
  ParamArena a(DType::f64, {{4}}), b(DType::f64, {{4}});
  fill(a, 0, false, 1, 2.0);
  fill(b, 0, false, 1, 2.0);
  Optimizer adamw(c), adam(kind("adam"));
  adamw.step(a, 0.1);
  adam.step(b, 0.1);
  CHECK(std::fabs(read(a.value(0))[0] - read(b.value(0))[0]) > 1e-4);
}

TEST_CASE("optimizer: rmsprop plain, momentum, centered") {
  CHECK(compare(kind("rmsprop"), 1e-3, false) < 1e-12);
  OptimizerConfig c = kind("rmsprop");
  c.momentum = 0.5;
  CHECK(compare(c, 1e-3, false) < 1e-12);
  c.centered = true;
  CHECK(compare(c, 1e-3, false) < 1e-12);
  c.momentum = 0;
  CHECK(compare(c, 1e-3, false) < 1e-12);
}

TEST_CASE("optimizer: adagrad") {
  CHECK(compare(kind("adagrad"), 1e-3, false) < 1e-12);
  OptimizerConfig c = kind("adagrad");
  c.initial_accumulator_value = 0.5;
  CHECK(compare(c, 0.1, false) < 1e-12);
}

// ------------------------------------------------------------------ clipping, decay, frozen

TEST_CASE("optimizer: clipnorm clips each parameter by its own norm") {
  OptimizerConfig c = kind("sgd");
  c.clipnorm = 1.0;  // parameter norms are ~2.7, ~3.7 and ~5.1 here: all clipped
  CHECK(compare(c, 0.1, false) < 1e-12);
  c.clipnorm = 4.0;  // clips only some parameters
  CHECK(compare(c, 0.1, false) < 1e-12);
  // A gradient with norm 5 clipped to norm 1 moves SGD weights by exactly lr * g / 5.
  ParamArena a(DType::f64, {{2}});
  a.grad(0).data<double>()[0] = 3;
  a.grad(0).data<double>()[1] = 4;
  OptimizerConfig s = kind("sgd");
  s.clipnorm = 1.0;
  Optimizer(s).step(a, 1.0);
  CHECK_NEAR(a.value(0).data<double>()[0], -0.6, 1e-15);
  CHECK_NEAR(a.value(0).data<double>()[1], -0.8, 1e-15);
}

TEST_CASE("optimizer: global_clipnorm clips by the norm over all trainable parameters") {
  OptimizerConfig c = kind("adam");
  c.global_clipnorm = 2.0;
  CHECK(compare(c, 1e-2, false) < 1e-12);
  CHECK(compare(c, 1e-2, true) < 1e-12);  // the frozen parameter is left out of the norm
  ParamArena a(DType::f64, {{1}, {1}});
  a.grad(0).data<double>()[0] = 3;
  a.grad(1).data<double>()[0] = 4;
  OptimizerConfig s = kind("sgd");
  s.global_clipnorm = 1.0;
  Optimizer(s).step(a, 1.0);
  CHECK_NEAR(a.value(0).data<double>()[0], -0.6, 1e-15);
  CHECK_NEAR(a.value(1).data<double>()[0], -0.8, 1e-15);
}

TEST_CASE("optimizer: clipvalue clips elementwise") {
  OptimizerConfig c = kind("rmsprop");
  c.clipvalue = 0.3;
  CHECK(compare(c, 1e-2, false) < 1e-12);
  ParamArena a(DType::f64, {{3}});
  double* g = a.grad(0).data<double>();
  g[0] = 5;
  g[1] = -0.1;
  g[2] = -7;
  OptimizerConfig s = kind("sgd");
  s.clipvalue = 0.5;
  Optimizer(s).step(a, 1.0);
  const Vec w = read(a.value(0));
  CHECK_NEAR(w[0], -0.5, 1e-15);
  CHECK_NEAR(w[1], 0.1, 1e-15);
  CHECK_NEAR(w[2], 0.5, 1e-15);
}

TEST_CASE("optimizer: weight decay with every rule") {
  for (const char* k : {"sgd", "adam", "rmsprop", "adagrad"}) {
    OptimizerConfig c = kind(k);
    c.weight_decay = 0.05;
    CHECK(compare(c, 0.01, false) < 1e-12);
  }
  // With a zero gradient SGD only decays: w *= 1 - wd * lr.
  ParamArena a(DType::f64, {{1}});
  a.value(0).data<double>()[0] = 2.0;
  OptimizerConfig s = kind("sgd");
  s.weight_decay = 0.1;
  Optimizer(s).step(a, 0.5);
  CHECK_NEAR(a.value(0).data<double>()[0], 2.0 * (1 - 0.05), 1e-15);
}

TEST_CASE("optimizer: a frozen parameter never moves, with every rule") {
  for (const char* k : {"sgd", "adam", "adamw", "rmsprop", "adagrad"}) {
    OptimizerConfig c = kind(k);
    c.momentum = std::string(k) == "sgd" || std::string(k) == "rmsprop" ? 0.9 : 0.0;
    c.weight_decay = 0.01;
    CHECK(compare(c, 0.05, true) < 1e-12);
  }
  // Nothing trainable: as Keras with no gradients, the step is a no-op, iterations included.
  ParamArena a(DType::f64, {{2}});
  a.set_trainable(0, false);
  a.grad(0).data<double>()[0] = 1;
  Optimizer opt(kind("adam"));
  opt.step(a, 0.1);
  CHECK(opt.iterations() == 0);
  CHECK(a.value(0).data<double>()[0] == 0.0);
}

// ------------------------------------------------------------------ slots, dtypes, errors

TEST_CASE("optimizer: slots are arena-sized and built on the first step") {
  ParamArena a(DType::f64, shapes());
  OptimizerConfig c = kind("adam");
  c.amsgrad = true;
  Optimizer opt(c);
  CHECK(opt.slots().empty());
  fill(a, 0, true, 3, 1.0);
  opt.step(a, 1e-3);
  REQUIRE(opt.slots().size() == 3);
  for (const Tensor& s : opt.slots()) CHECK(s.size() == a.total() && s.dtype() == DType::f64);
  // The first moment after one step is (1 - beta_1) * g.
  const double g0 = a.grad(0).data<double>()[1];
  CHECK_NEAR(opt.slots()[0].data<double>()[a.segment(0).offset + 1], 0.1 * g0, 1e-15);

  Optimizer ada(kind("adagrad"));
  ada.step(a, 1e-3);
  REQUIRE(ada.slots().size() == 1);
  CHECK_NEAR(ada.slots()[0].data<double>()[a.segment(2).offset], 0.1, 1e-15);  // g = 0 there
  CHECK(Optimizer(kind("sgd")).config().kind == "sgd");

  // Slots restored from elsewhere must fit the arena.
  Optimizer wrong(kind("adam"));
  wrong.slots().emplace_back(Shape{3}, DType::f64);
  wrong.slots().emplace_back(Shape{3}, DType::f64);
  CHECK_THROWS_AS(wrong.step(a, 1e-3), ValueError);
}

TEST_CASE("optimizer: float32 arenas follow the float64 result") {
  for (const char* k : {"sgd", "adam", "rmsprop", "adagrad"}) {
    ParamArena a32(DType::f32, shapes()), a64(DType::f64, shapes());
    Optimizer o32(kind(k)), o64(kind(k));
    for (int s = 0; s < 3; ++s) {
      for (int i = 0; i < a32.count(); ++i) {
        fill(a32, i, true, s, 1.0);
        fill(a64, i, true, s, 1.0);
      }
      o32.step(a32, 0.01);
      o64.step(a64, 0.01);
    }
    double worst = 0;  // per parameter: the two arenas pad segments differently
    for (int i = 0; i < a32.count(); ++i) {
      const Vec w32 = read(a32.value(i)), w64 = read(a64.value(i));
      for (size_t j = 0; j < w32.size(); ++j) worst = std::max(worst, std::fabs(w32[j] - w64[j]));
    }
    CHECK(worst < 1e-5);
    CHECK(worst > 0 || std::string(k) == "sgd");  // float32 really ran in float32
  }
}

TEST_CASE("optimizer: large arenas (parallel path) match the reference") {
  // One parameter above the parallel grain, split over many chunks.
  OptimizerConfig c = kind("adam");
  c.global_clipnorm = 10.0;
  ParamArena a(DType::f64, {{300, 200}, {5}});
  fill(a, 0, false, 1, 0.5);
  std::vector<Vec> w = {read(a.value(0)), read(a.value(1))};
  Optimizer opt(c);
  Reference ref;
  ref.c = c;
  for (int s = 0; s < 2; ++s) {
    fill(a, 0, true, s, 1.0);
    fill(a, 1, true, s, 1.0);
    std::vector<Vec> g = {read(a.grad(0)), read(a.grad(1))};
    opt.step(a, 1e-3);
    ref.step(w, g, {true, true}, 1e-3);
  }
  double worst = 0;
  for (int i = 0; i < 2; ++i) {
    const Vec got = read(a.value(i));
    for (size_t j = 0; j < got.size(); ++j) worst = std::max(worst, std::fabs(got[j] - w[i][j]));
  }
  CHECK(worst < 1e-12);
}

TEST_CASE("optimizer: configuration errors") {
  bool listed = false;
  try {
    Optimizer(kind("adamax"));
  } catch (const ValueError& e) {
    const std::string m = e.what();
    listed = m.find("'adamax'") != std::string::npos &&
             m.find("adagrad, adam, adamw, rmsprop, sgd") != std::string::npos;
  }
  CHECK(listed);
  OptimizerConfig two = kind("sgd");
  two.clipnorm = 1;
  two.clipvalue = 1;
  CHECK_THROWS_AS(Optimizer{two}, ValueError);
  OptimizerConfig neg = kind("adam");
  neg.global_clipnorm = -1;
  CHECK_THROWS_AS(Optimizer{neg}, ValueError);
  OptimizerConfig mom = kind("sgd");
  mom.momentum = 1.5;
  CHECK_THROWS_AS(Optimizer{mom}, ValueError);
}

TEST_CASE("optimizer: iterations drive adam's bias correction") {
  // Restarting from iterations = 100 gives a different first step than from 0.
  ParamArena a(DType::f64, {{3}}), b(DType::f64, {{3}});
  fill(a, 0, true, 2, 1.0);
  fill(b, 0, true, 2, 1.0);
  Optimizer fresh(kind("adam")), resumed(kind("adam"));
  resumed.set_iterations(100);
  fresh.step(a, 1e-3);
  resumed.step(b, 1e-3);
  CHECK(resumed.iterations() == 101);
  // t = 1: alpha = lr sqrt(1 - b2) / (1 - b1), m = (1 - b1) g, v = (1 - b2) g^2, w0 = 0.
  const double g0 = a.grad(0).data<double>()[0];
  const double r = std::sqrt(0.001);
  const double want = -1e-3 * r * g0 / (r * std::fabs(g0) + 1e-7);
  CHECK_NEAR(a.value(0).data<double>()[0], want, 1e-9);
  CHECK(std::fabs(a.value(0).data<double>()[0] - b.value(0).data<double>()[0]) > 1e-6);
}
