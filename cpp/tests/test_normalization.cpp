// Tests of the normalization ops (batch_norm, group_norm) and of dropout's broadcast masks
// (noise_shape). Forward results are checked against references computed here in double by
// index arithmetic, backward against float64 central differences (small shapes) and against
// the closed-form gradients (shapes large enough for the parallel paths); the moving statistics
// against Keras's update rule; each error path names the op.
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
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

std::vector<double> vals(const Tensor& t) {
  std::vector<double> v(t.size());
  for (int64_t i = 0; i < t.size(); ++i)
    v[i] = t.dtype() == DType::f64 ? t.data<double>()[i] : t.data<float>()[i];
  return v;
}

Tensor tensor_of(Shape s, DType dt, const std::vector<double>& v) {
  Tensor t(std::move(s), dt);
  for (int64_t i = 0; i < t.size(); ++i) {
    if (dt == DType::f64) t.data<double>()[i] = v[i];
    else t.data<float>()[i] = static_cast<float>(v[i]);
  }
  return t;
}

Tensor copy_of(const Tensor& t) { return tensor_of(t.shape(), t.dtype(), vals(t)); }

// Max |a - b| / (1 + |b|); infinity when the sizes differ.
double max_diff(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return INFINITY;
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i)
    worst = std::max(worst, std::fabs(a[i] - b[i]) / (1 + std::fabs(b[i])));
  return worst;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.nbytes() == b.nbytes() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

Attrs attrs(std::map<std::string, AttrValue> m) { return Attrs(std::move(m)); }

TensorMeta infer(const std::string& op, const Attrs& a, const std::vector<TensorMeta>& in) {
  return OpRegistry::instance().get(op).infer(in, a);
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

// Forward then backward on one aux buffer, as a plan runs them: the output and the gradients
// of sum(G * out) for the inputs in `wrt`. With `preset`, the gradient buffers start from those
// values and are accumulated into.
struct FwdBwd {
  Tensor out;
  std::vector<Tensor> grads;
};

FwdBwd run_fwd_bwd(const std::string& op, const Attrs& a, const std::vector<Tensor>& in,
                   const Tensor& G, const std::vector<int>& wrt, bool training,
                   const std::vector<Tensor>* preset = nullptr) {
  const OpDef& d = OpRegistry::instance().get(op);
  std::vector<TensorMeta> metas;
  for (auto& t : in) metas.push_back({t.shape(), t.dtype()});
  const TensorMeta m = d.infer(metas, a);
  auto bytes_tensor = [](size_t bytes) { return Tensor({static_cast<int64_t>(bytes / 4 + 1)}, DType::f32); };
  FwdBwd r;
  r.out = Tensor(m.shape, m.dtype);
  Tensor aux = d.aux_bytes ? bytes_tensor(d.aux_bytes(metas, a, training)) : Tensor();
  Tensor fscratch = d.forward_scratch_bytes ? bytes_tensor(d.forward_scratch_bytes(metas, a)) : Tensor();
  Tensor bscratch = d.scratch_bytes ? bytes_tensor(d.scratch_bytes(metas, a, std::vector<bool>(in.size(), true))) : Tensor();
  GradContext gc;
  for (auto& t : in) gc.inputs.push_back(&t);
  gc.output = &r.out;
  gc.attrs = &a;
  gc.aux = &aux;
  gc.scratch = &fscratch;
  gc.training = training;
  gc.seed = 7;
  d.forward(gc);
  gc.scratch = &bscratch;
  gc.grad_out = &G;
  for (auto& t : in) r.grads.push_back(copy_of(t));
  gc.grad_in.assign(in.size(), nullptr);
  gc.accumulate.assign(in.size(), false);
  for (int i : wrt) {
    if (preset) r.grads[i] = copy_of((*preset)[i]);
    gc.grad_in[i] = &r.grads[i];
    gc.accumulate[i] = preset != nullptr;
  }
  d.backward(gc);
  return r;
}

struct Geo {
  int64_t outer = 1, C = 1, inner = 1;
};
Geo split(const Shape& s, int axis) {
  Geo g;
  for (int a = 0; a < axis; ++a) g.outer *= s[a];
  g.C = s[axis];
  for (size_t a = axis + 1; a < s.size(); ++a) g.inner *= s[a];
  return g;
}

// ---------------------------------------------------------------- batch norm reference

struct BNRef {
  std::vector<double> y, moving_mean, moving_var, mean, invstd;
};

// Keras BatchNormalization (keras/src/layers/normalization/batch_normalization.py) in double.
BNRef ref_batch_norm(const std::vector<double>& x, const Shape& s, int axis,
                     const std::vector<double>& gamma, const std::vector<double>& beta,
                     std::vector<double> mm, std::vector<double> mv, double eps, double momentum,
                     bool training) {
  const Geo g = split(s, axis);
  const double count = static_cast<double>(g.outer * g.inner);
  auto at = [&](int64_t o, int64_t c, int64_t i) { return (o * g.C + c) * g.inner + i; };
  BNRef r;
  r.y.resize(x.size());
  r.mean.assign(g.C, 0);
  r.invstd.assign(g.C, 0);
  for (int64_t c = 0; c < g.C; ++c) {
    double mean = mm[c], var = mv[c];
    if (training) {
      double s1 = 0, s2 = 0;
      for (int64_t o = 0; o < g.outer; ++o)
        for (int64_t i = 0; i < g.inner; ++i) s1 += x[at(o, c, i)];
      mean = s1 / count;
      for (int64_t o = 0; o < g.outer; ++o)
        for (int64_t i = 0; i < g.inner; ++i) s2 += std::pow(x[at(o, c, i)] - mean, 2);
      var = s2 / count;  // biased, as Keras's ops.moments
      mm[c] = mm[c] * momentum + mean * (1 - momentum);
      mv[c] = mv[c] * momentum + var * (1 - momentum);
    }
    const double is = 1 / std::sqrt(var + eps);
    r.mean[c] = mean;
    r.invstd[c] = is;
    for (int64_t o = 0; o < g.outer; ++o)
      for (int64_t i = 0; i < g.inner; ++i) {
        const int64_t k = at(o, c, i);
        r.y[k] = (x[k] - mean) * is * (gamma.empty() ? 1 : gamma[c]) + (beta.empty() ? 0 : beta[c]);
      }
  }
  r.moving_mean = mm;
  r.moving_var = mv;
  return r;
}

// Closed-form gradients of batch_norm: dx (batch statistics differentiated when training),
// dgamma = sum gy * xhat, dbeta = sum gy.
struct BNGrads {
  std::vector<double> dx, dgamma, dbeta;
};
BNGrads ref_batch_norm_grads(const std::vector<double>& x, const std::vector<double>& gy,
                             const Shape& s, int axis, const std::vector<double>& gamma,
                             const BNRef& f, bool training) {
  const Geo g = split(s, axis);
  const double count = static_cast<double>(g.outer * g.inner);
  auto at = [&](int64_t o, int64_t c, int64_t i) { return (o * g.C + c) * g.inner + i; };
  BNGrads r;
  r.dx.resize(x.size());
  r.dgamma.assign(g.C, 0);
  r.dbeta.assign(g.C, 0);
  for (int64_t c = 0; c < g.C; ++c) {
    const double is = f.invstd[c], ga = gamma.empty() ? 1 : gamma[c];
    for (int64_t o = 0; o < g.outer; ++o)
      for (int64_t i = 0; i < g.inner; ++i) {
        const int64_t k = at(o, c, i);
        r.dbeta[c] += gy[k];
        r.dgamma[c] += gy[k] * (x[k] - f.mean[c]) * is;
      }
    for (int64_t o = 0; o < g.outer; ++o)
      for (int64_t i = 0; i < g.inner; ++i) {
        const int64_t k = at(o, c, i);
        const double xhat = (x[k] - f.mean[c]) * is;
        r.dx[k] = training ? ga * is * (gy[k] - r.dbeta[c] / count - xhat * r.dgamma[c] / count)
                           : ga * is * gy[k];
      }
  }
  return r;
}

// A batch_norm case: shape, channel axis, which affine parameters exist.
struct BNCase {
  Shape shape;
  int axis;  // as given to the op (may be negative)
  bool scale, center;
  DType dt = DType::f64;
  double momentum = 0.99, eps = 1e-3;

  Attrs op_attrs(int64_t training = -1) const {
    return attrs({{"axis", int64_t(axis)}, {"scale", scale}, {"center", center},
                  {"momentum", momentum}, {"epsilon", eps}, {"training", training}});
  }
  int norm_axis() const { return axis < 0 ? axis + static_cast<int>(shape.size()) : axis; }
  int64_t C() const { return shape[norm_axis()]; }
  // x, moving_mean, moving_variance[, gamma][, beta], with x offset from 0 so the mean matters.
  std::vector<Tensor> inputs(uint32_t seed) const {
    std::vector<Tensor> in = {random_tensor(shape, dt, seed, 0.5, 3.0),
                              random_tensor({C()}, dt, seed + 1, -0.5, 0.5),
                              random_tensor({C()}, dt, seed + 2, 0.5, 2.0)};
    if (scale) in.push_back(random_tensor({C()}, dt, seed + 3, 0.5, 1.5));
    if (center) in.push_back(random_tensor({C()}, dt, seed + 4, -1.0, 1.0));
    return in;
  }
  std::vector<double> gamma(const std::vector<Tensor>& in) const {
    return scale ? vals(in[3]) : std::vector<double>{};
  }
  std::vector<double> beta(const std::vector<Tensor>& in) const {
    return center ? vals(in[3 + scale]) : std::vector<double>{};
  }
  std::vector<int> params() const {
    std::vector<int> p;
    if (scale) p.push_back(3);
    if (center) p.push_back(3 + scale);
    return p;
  }
};

const std::vector<BNCase> kBNCases = {
    {{6, 4}, -1, true, true},         {{6, 4}, -1, false, false},
    {{6, 4}, -1, true, false},        {{6, 4}, -1, false, true},
    {{3, 4, 2, 3}, 1, true, true},    {{3, 4, 2, 3}, 1, false, false},
    {{2, 3, 5}, -1, true, true},      {{5, 3, 2}, 0, true, true},
};

// ---------------------------------------------------------------- batch norm tests

TEST_CASE("batch_norm training forward matches the reference and updates the moving stats") {
  for (const BNCase& k : kBNCases) {
    for (DType dt : {DType::f64, DType::f32}) {
      BNCase c = k;
      c.dt = dt;
      std::vector<Tensor> in = c.inputs(11);
      const std::vector<double> x = vals(in[0]), mm = vals(in[1]), mv = vals(in[2]);
      Tensor y = forward("batch_norm", c.op_attrs(), in, /*training=*/true);
      BNRef r = ref_batch_norm(x, c.shape, c.norm_axis(), c.gamma(in), c.beta(in), mm, mv, c.eps,
                               c.momentum, true);
      const double tol = dt == DType::f64 ? 1e-12 : 2e-5;
      CHECK(max_diff(vals(y), r.y) < tol);
      CHECK(max_diff(vals(in[1]), r.moving_mean) < tol);  // updated in place
      CHECK(max_diff(vals(in[2]), r.moving_var) < tol);
    }
  }
}

TEST_CASE("batch_norm moving statistics after two training forwards follow Keras's rule") {
  BNCase c{{8, 3}, -1, true, true};
  c.momentum = 0.9;
  std::vector<Tensor> in = c.inputs(21);
  const std::vector<double> x1 = vals(in[0]);
  const Tensor x2 = random_tensor(c.shape, DType::f64, 99, -3.0, 1.0);
  BNRef r1 = ref_batch_norm(x1, c.shape, 1, c.gamma(in), c.beta(in), vals(in[1]), vals(in[2]),
                            c.eps, c.momentum, true);
  BNRef r2 = ref_batch_norm(vals(x2), c.shape, 1, c.gamma(in), c.beta(in), r1.moving_mean,
                            r1.moving_var, c.eps, c.momentum, true);
  forward("batch_norm", c.op_attrs(), in, true);
  std::vector<Tensor> in2 = in;
  in2[0] = x2;  // same moving-statistics tensors, next batch
  Tensor y2 = forward("batch_norm", c.op_attrs(), in2, true);
  CHECK(max_diff(vals(in[1]), r2.moving_mean) < 1e-12);
  CHECK(max_diff(vals(in[2]), r2.moving_var) < 1e-12);
  CHECK(max_diff(vals(y2), r2.y) < 1e-12);
  // Spelled out for channel 0: m2 = (m0 * 0.9 + mean1 * 0.1) * 0.9 + mean2 * 0.1.
  double mean1 = 0, mean2 = 0;
  for (int o = 0; o < 8; ++o) {
    mean1 += x1[o * 3] / 8;
    mean2 += x2.data<double>()[o * 3] / 8;
  }
  const double m0 = vals(c.inputs(21)[1])[0];
  CHECK_NEAR(in[1].data<double>()[0], (m0 * 0.9 + mean1 * 0.1) * 0.9 + mean2 * 0.1, 1e-12);
}

TEST_CASE("batch_norm statistics stay accurate for data far from zero") {
  // Mean 1e4, spread 1: a naive E[x^2] - E[x]^2 in float32 would lose the variance entirely.
  for (DType dt : {DType::f64, DType::f32}) {
    BNCase c{{200, 3}, -1, false, false};
    c.dt = dt;
    std::vector<Tensor> in = c.inputs(15);
    std::vector<double> x = vals(in[0]);
    for (double& v : x) v += 1e4;
    in[0] = tensor_of(c.shape, dt, x);
    x = vals(in[0]);  // the values the op sees (rounded to float32 there)
    BNRef r = ref_batch_norm(x, c.shape, 1, {}, {}, vals(in[1]), vals(in[2]), c.eps, c.momentum,
                             true);
    Tensor y = forward("batch_norm", c.op_attrs(), in, true);
    CHECK(max_diff(vals(y), r.y) < (dt == DType::f64 ? 1e-9 : 2e-3));
    CHECK(max_diff(vals(in[2]), r.moving_var) < (dt == DType::f64 ? 1e-12 : 1e-6));
  }
}

TEST_CASE("batch_norm on an empty batch leaves the moving statistics unchanged") {
  BNCase c{{0, 4}, -1, true, true};
  std::vector<Tensor> in = c.inputs(16);
  const std::vector<double> mm = vals(in[1]), mv = vals(in[2]);
  Tensor y = forward("batch_norm", c.op_attrs(), in, true);
  CHECK(y.size() == 0);
  CHECK(vals(in[1]) == mm);
  CHECK(vals(in[2]) == mv);
}

TEST_CASE("batch_norm inference uses the moving statistics and leaves them unchanged") {
  for (const BNCase& c : kBNCases) {
    std::vector<Tensor> in = c.inputs(31);
    const std::vector<double> mm = vals(in[1]), mv = vals(in[2]);
    Tensor y = forward("batch_norm", c.op_attrs(), in, /*training=*/false);
    BNRef r = ref_batch_norm(vals(in[0]), c.shape, c.norm_axis(), c.gamma(in), c.beta(in), mm, mv,
                             c.eps, c.momentum, false);
    CHECK(max_diff(vals(y), r.y) < 1e-12);
    CHECK(vals(in[1]) == mm);
    CHECK(vals(in[2]) == mv);
  }
}

TEST_CASE("batch_norm attribute training forces the mode either way") {
  BNCase c{{6, 4}, -1, true, true};
  std::vector<Tensor> in = c.inputs(41);
  const std::vector<double> mm = vals(in[1]), mv = vals(in[2]);
  BNRef tr = ref_batch_norm(vals(in[0]), c.shape, 1, c.gamma(in), c.beta(in), mm, mv, c.eps,
                            c.momentum, true);
  BNRef inf = ref_batch_norm(vals(in[0]), c.shape, 1, c.gamma(in), c.beta(in), mm, mv, c.eps,
                             c.momentum, false);
  Tensor y0 = forward("batch_norm", c.op_attrs(0), in, /*plan training=*/true);
  CHECK(max_diff(vals(y0), inf.y) < 1e-12);
  CHECK(vals(in[1]) == mm);
  Tensor y1 = forward("batch_norm", c.op_attrs(1), in, /*plan training=*/false);
  CHECK(max_diff(vals(y1), tr.y) < 1e-12);
  CHECK(max_diff(vals(in[1]), tr.moving_mean) < 1e-12);
}

TEST_CASE("batch_norm gradients match central differences (training and inference)") {
  for (const BNCase& c : kBNCases) {
    for (bool training : {true, false}) {
      std::vector<int> wrt = {0};
      for (int p : c.params()) wrt.push_back(p);
      const double err = grad_error("batch_norm", c.op_attrs(), c.inputs(51), wrt, training);
      if (!(err < 1e-6))
        std::cerr << "  shape " << shape_str(c.shape) << " axis " << c.axis << " scale "
                  << c.scale << " center " << c.center << " training " << training
                  << ": error " << err << "\n";
      CHECK(err < 1e-6);
    }
  }
}

TEST_CASE("batch_norm backward: only the wanted gradients, accumulate adds") {
  BNCase c{{5, 3}, -1, true, true};
  std::vector<Tensor> in = c.inputs(61);
  Tensor G = random_tensor(c.shape, DType::f64, 62);
  // moving_mean / moving_variance are never differentiated.
  const auto& nd = OpRegistry::instance().get("batch_norm").nondiff_inputs;
  CHECK(nd == std::vector<int>({1, 2}));
  FwdBwd fresh = run_fwd_bwd("batch_norm", c.op_attrs(), in, G, {0, 3, 4}, true);
  std::vector<Tensor> preset = {random_tensor(c.shape, DType::f64, 63), Tensor(), Tensor(),
                                random_tensor({3}, DType::f64, 64),
                                random_tensor({3}, DType::f64, 65)};
  FwdBwd acc = run_fwd_bwd("batch_norm", c.op_attrs(), in, G, {0, 3, 4}, true, &preset);
  for (int i : {0, 3, 4}) {
    std::vector<double> want = vals(preset[i]), got = vals(acc.grads[i]), f = vals(fresh.grads[i]);
    for (size_t j = 0; j < want.size(); ++j) want[j] += f[j];
    CHECK(max_diff(got, want) < 1e-12);
  }
  // Only dx wanted: gamma's slot untouched (null pointer path).
  FwdBwd only_x = run_fwd_bwd("batch_norm", c.op_attrs(), in, G, {0}, true);
  CHECK(max_diff(vals(only_x.grads[0]), vals(fresh.grads[0])) < 1e-15);
  CHECK(vals(only_x.grads[3]) == vals(in[3]));
}

TEST_CASE("batch_norm large inputs (parallel paths) match the references, any thread count") {
  const std::vector<BNCase> big = {{{300, 200}, -1, true, true}, {{8, 16, 30, 20}, 1, true, true},
                                   {{4, 50, 200}, 0, false, true}};
  for (const BNCase& k : big) {
    for (DType dt : {DType::f64, DType::f32}) {
      BNCase c = k;
      c.dt = dt;
      const double tol = dt == DType::f64 ? 1e-10 : 1e-4;
      for (bool training : {true, false}) {
        std::vector<Tensor> in = c.inputs(71);
        const std::vector<double> x = vals(in[0]);
        BNRef r = ref_batch_norm(x, c.shape, c.norm_axis(), c.gamma(in), c.beta(in), vals(in[1]),
                                 vals(in[2]), c.eps, c.momentum, training);
        Tensor G = random_tensor(c.shape, dt, 72);
        std::vector<int> wrt = {0};
        for (int p : c.params()) wrt.push_back(p);
        set_num_threads(1);
        std::vector<Tensor> in1 = c.inputs(71);
        FwdBwd one = run_fwd_bwd("batch_norm", c.op_attrs(), in1, G, wrt, training);
        set_num_threads(2);
        FwdBwd two = run_fwd_bwd("batch_norm", c.op_attrs(), in, G, wrt, training);
        set_num_threads(0);
        CHECK(max_diff(vals(two.out), r.y) < tol);
        CHECK(max_diff(vals(in[1]), r.moving_mean) < tol);
        CHECK(max_diff(vals(in[2]), r.moving_var) < tol);
        BNGrads gr = ref_batch_norm_grads(x, vals(G), c.shape, c.norm_axis(), c.gamma(in), r,
                                          training);
        CHECK(max_diff(vals(two.grads[0]), gr.dx) < tol);
        if (c.scale) CHECK(max_diff(vals(two.grads[3]), gr.dgamma) < tol * 100);
        if (c.center) CHECK(max_diff(vals(two.grads[3 + c.scale]), gr.dbeta) < tol * 100);
        // Statistics are summed in fixed blocks: bit-identical for 1 and 2 threads.
        CHECK(same_bits(one.out, two.out));
        CHECK(same_bits(in1[1], in[1]) && same_bits(in1[2], in[2]));
        for (int i : wrt) CHECK(same_bits(one.grads[i], two.grads[i]));
      }
    }
  }
}

TEST_CASE("batch_norm infers shapes with unknown extents and rejects bad input") {
  const auto f32 = DType::f32;
  Attrs a = attrs({});
  TensorMeta m = infer("batch_norm", a, {{{kUnknown, 5}, f32}, {{5}, f32}, {{5}, f32},
                                         {{5}, f32}, {{5}, f32}});
  CHECK(m.shape == Shape({kUnknown, 5}));
  CHECK(m.dtype == f32);
  Attrs ax1 = attrs({{"axis", int64_t(1)}, {"scale", false}, {"center", false}});
  CHECK(infer("batch_norm", ax1, {{{kUnknown, 3, 7, 7}, f32}, {{3}, f32}, {{3}, f32}}).shape ==
        Shape({kUnknown, 3, 7, 7}));
  // Input count must agree with scale/center.
  CHECK(throws_naming<ValueError>(
      [&] { infer("batch_norm", a, {{{2, 5}, f32}, {{5}, f32}, {{5}, f32}}); },
      {"batch_norm", "expected 5 inputs", "gamma", "beta", "received 3"}));
  CHECK(throws_naming<ValueError>(
      [&] { infer("batch_norm", ax1, {{{2, 3}, f32}, {{3}, f32}, {{3}, f32}, {{3}, f32}}); },
      {"batch_norm", "expected 3 inputs", "scale=false", "received 4"}));
  // Parameter shape must be (C,).
  CHECK(throws_naming<ValueError>(
      [&] {
        infer("batch_norm", a, {{{2, 5}, f32}, {{4}, f32}, {{5}, f32}, {{5}, f32}, {{5}, f32}});
      },
      {"batch_norm", "moving_mean", "(5,)", "(4,)"}));
  CHECK(throws_naming<ValueError>(
      [&] {
        infer("batch_norm", a, {{{2, 5}, f32}, {{5}, f32}, {{5}, f32}, {{5, 1}, f32}, {{5}, f32}});
      },
      {"batch_norm", "gamma", "(5, 1)"}));
  CHECK(throws_naming<TypeError>(
      [&] {
        infer("batch_norm", a, {{{2, 5}, f32}, {{5}, DType::f64}, {{5}, f32}, {{5}, f32},
                                {{5}, f32}});
      },
      {"batch_norm", "moving_mean", "float32", "float64"}));
  CHECK(throws_naming<TypeError>(
      [&] {
        infer("batch_norm", a, {{{2, 5}, DType::i32}, {{5}, f32}, {{5}, f32}, {{5}, f32},
                                {{5}, f32}});
      },
      {"batch_norm", "int32"}));
  CHECK(throws_naming<IndexError>(
      [&] {
        infer("batch_norm", attrs({{"axis", int64_t(2)}}),
              {{{2, 5}, f32}, {{5}, f32}, {{5}, f32}, {{5}, f32}, {{5}, f32}});
      },
      {"batch_norm"}));
  CHECK(throws_naming<ValueError>(
      [&] {
        infer("batch_norm", attrs({{"epsilon", -1.0}}),
              {{{2, 5}, f32}, {{5}, f32}, {{5}, f32}, {{5}, f32}, {{5}, f32}});
      },
      {"batch_norm", "epsilon"}));
}

// ---------------------------------------------------------------- group norm

struct GNCase {
  Shape shape;
  int axis;
  int64_t groups;
  bool scale, center;
  DType dt = DType::f64;
  double eps = 1e-3;

  Attrs op_attrs() const {
    return attrs({{"axis", int64_t(axis)}, {"groups", groups}, {"scale", scale},
                  {"center", center}, {"epsilon", eps}});
  }
  int norm_axis() const { return axis < 0 ? axis + static_cast<int>(shape.size()) : axis; }
  int64_t C() const { return shape[norm_axis()]; }
  std::vector<Tensor> inputs(uint32_t seed) const {
    std::vector<Tensor> in = {random_tensor(shape, dt, seed, -1.0, 2.0)};
    if (scale) in.push_back(random_tensor({C()}, dt, seed + 1, 0.5, 1.5));
    if (center) in.push_back(random_tensor({C()}, dt, seed + 2, -1.0, 1.0));
    return in;
  }
  std::vector<int> all() const {
    std::vector<int> w = {0};
    if (scale) w.push_back(1);
    if (center) w.push_back(1 + scale);
    return w;
  }
};

// Keras GroupNormalization in double: per sample, groups of contiguous channels, statistics
// over the other non-batch axes and the group's channels.
std::vector<double> ref_group_norm(const GNCase& c, const std::vector<Tensor>& in) {
  const std::vector<double> x = vals(in[0]);
  const std::vector<double> gamma = c.scale ? vals(in[1]) : std::vector<double>{};
  const std::vector<double> beta = c.center ? vals(in[1 + c.scale]) : std::vector<double>{};
  const int axis = c.norm_axis();
  const int64_t N = c.shape[0], C = c.C();
  const int64_t G = c.groups == -1 ? C : c.groups, Cg = C / G;
  int64_t outer = 1, inner = 1;
  for (int a = 1; a < axis; ++a) outer *= c.shape[a];
  for (size_t a = axis + 1; a < c.shape.size(); ++a) inner *= c.shape[a];
  auto at = [&](int64_t n, int64_t o, int64_t ch, int64_t i) {
    return ((n * outer + o) * C + ch) * inner + i;
  };
  std::vector<double> y(x.size());
  for (int64_t n = 0; n < N; ++n)
    for (int64_t g = 0; g < G; ++g) {
      double s1 = 0, s2 = 0, cnt = 0;
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t ch = g * Cg; ch < (g + 1) * Cg; ++ch)
          for (int64_t i = 0; i < inner; ++i) {
            s1 += x[at(n, o, ch, i)];
            cnt += 1;
          }
      const double mean = s1 / cnt;
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t ch = g * Cg; ch < (g + 1) * Cg; ++ch)
          for (int64_t i = 0; i < inner; ++i) s2 += std::pow(x[at(n, o, ch, i)] - mean, 2);
      const double is = 1 / std::sqrt(s2 / cnt + c.eps);
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t ch = g * Cg; ch < (g + 1) * Cg; ++ch)
          for (int64_t i = 0; i < inner; ++i) {
            const int64_t k = at(n, o, ch, i);
            y[k] = (x[k] - mean) * is * (gamma.empty() ? 1 : gamma[ch]) +
                   (beta.empty() ? 0 : beta[ch]);
          }
    }
  return y;
}

const std::vector<GNCase> kGNCases = {
    {{2, 5, 6}, -1, 3, true, true},     {{2, 5, 6}, -1, 2, false, false},
    {{2, 3, 4}, -1, -1, true, false},   {{3, 4}, -1, 1, false, true},
    {{2, 4, 3, 2}, 1, 2, true, true},   {{2, 3, 2, 4}, 3, 4, true, true},
    {{2, 2, 3, 4, 2}, 2, 3, true, true},
};

TEST_CASE("group_norm forward matches the reference") {
  for (const GNCase& k : kGNCases) {
    for (DType dt : {DType::f64, DType::f32}) {
      GNCase c = k;
      c.dt = dt;
      std::vector<Tensor> in = c.inputs(81);
      Tensor y = forward("group_norm", c.op_attrs(), in);
      CHECK(max_diff(vals(y), ref_group_norm(c, in)) < (dt == DType::f64 ? 1e-12 : 2e-5));
    }
  }
}

TEST_CASE("group_norm gradients match central differences") {
  for (const GNCase& c : kGNCases) {
    const double err = grad_error("group_norm", c.op_attrs(), c.inputs(91), c.all());
    if (!(err < 1e-6))
      std::cerr << "  shape " << shape_str(c.shape) << " groups " << c.groups << ": " << err << "\n";
    CHECK(err < 1e-6);
  }
}

TEST_CASE("group_norm large input: parallel path, same bits for any thread count") {
  GNCase c{{16, 40, 64}, -1, 8, true, true};
  std::vector<Tensor> in = c.inputs(101);
  Tensor G = random_tensor(c.shape, DType::f64, 102);
  set_num_threads(1);
  FwdBwd one = run_fwd_bwd("group_norm", c.op_attrs(), in, G, {0, 1, 2}, true);
  set_num_threads(2);
  FwdBwd two = run_fwd_bwd("group_norm", c.op_attrs(), in, G, {0, 1, 2}, true);
  set_num_threads(0);
  CHECK(max_diff(vals(two.out), ref_group_norm(c, in)) < 1e-10);
  for (int i : {0, 1, 2}) CHECK(same_bits(one.grads[i], two.grads[i]));
  // Gradients along two random directions of each input against central differences.
  for (int i : {0, 1, 2}) {
    Tensor v = random_tensor(in[i].shape(), DType::f64, 103 + i);
    auto loss = [&](double t) {
      std::vector<Tensor> moved = {copy_of(in[0]), copy_of(in[1]), copy_of(in[2])};
      for (int64_t j = 0; j < v.size(); ++j) moved[i].data<double>()[j] += t * v.data<double>()[j];
      Tensor o = forward("group_norm", c.op_attrs(), moved);
      double s = 0;
      for (int64_t j = 0; j < o.size(); ++j) s += o.data<double>()[j] * G.data<double>()[j];
      return s;
    };
    const double num = (loss(1e-6) - loss(-1e-6)) / 2e-6;
    double ana = 0;
    for (int64_t j = 0; j < v.size(); ++j) ana += two.grads[i].data<double>()[j] * v.data<double>()[j];
    CHECK(std::fabs(num - ana) / std::max(1.0, std::fabs(num)) < 1e-6);
  }
}

TEST_CASE("group_norm infers shapes with unknown extents and rejects bad input") {
  const auto f32 = DType::f32;
  Attrs a = attrs({{"groups", int64_t(2)}});
  CHECK(infer("group_norm", a, {{{kUnknown, 7, 4}, f32}, {{4}, f32}, {{4}, f32}}).shape ==
        Shape({kUnknown, 7, 4}));
  CHECK(throws_naming<ValueError>(
      [&] { infer("group_norm", attrs({{"groups", int64_t(3)}}), {{{2, 4}, f32}, {{4}, f32}, {{4}, f32}}); },
      {"group_norm", "groups (3)", "channels (4)"}));
  CHECK(throws_naming<ValueError>(
      [&] { infer("group_norm", attrs({{"groups", int64_t(8)}}), {{{2, 4}, f32}, {{4}, f32}, {{4}, f32}}); },
      {"group_norm", "cannot be more", "(8)", "(4)"}));
  CHECK(throws_naming<ValueError>(
      [&] { infer("group_norm", attrs({}), {{{2, 32}, f32}, {{32}, f32}}); },
      {"group_norm", "expected 3 inputs", "received 2"}));
  CHECK(throws_naming<ValueError>(
      [&] {
        infer("group_norm", attrs({{"axis", int64_t(0)}, {"groups", int64_t(1)}}),
              {{{2, 4}, f32}, {{2}, f32}, {{2}, f32}});
      },
      {"group_norm", "batch axis"}));
  CHECK(throws_naming<ValueError>(
      [&] { infer("group_norm", a, {{{4}, f32}, {{4}, f32}, {{4}, f32}}); },
      {"group_norm", "rank 2"}));
  CHECK(throws_naming<ValueError>(
      [&] { infer("group_norm", a, {{{2, 4}, f32}, {{3}, f32}, {{4}, f32}}); },
      {"group_norm", "gamma", "(4,)", "(3,)"}));
  CHECK(throws_naming<ValueError>(
      [&] { infer("group_norm", attrs({{"groups", int64_t(0)}}), {{{2, 4}, f32}, {{4}, f32}, {{4}, f32}}); },
      {"group_norm", "groups > 0"}));
}

// ---------------------------------------------------------------- dropout with noise_shape

// For x of shape s and a noise shape, checks the output of dropout(x) (x all nonzero): each
// element is 0 or x * 1/(1-rate), and the keep decision is constant along broadcast axes.
bool mask_is_broadcast(const Tensor& x, const Tensor& y, const std::vector<int64_t>& noise,
                       double rate) {
  const Shape& s = x.shape();
  const std::vector<double> xv = vals(x), yv = vals(y);
  std::vector<int64_t> st(s.size());
  for (int64_t k = 1, a = static_cast<int64_t>(s.size()) - 1; a >= 0; --a) {
    st[a] = k;
    k *= s[a];
  }
  for (size_t i = 0; i < xv.size(); ++i) {
    const bool kept = yv[i] != 0;
    if (kept && std::fabs(yv[i] - xv[i] / (1 - rate)) > 1e-12) return false;
    // The element with every broadcast coordinate set to 0 has the same decision.
    int64_t j = static_cast<int64_t>(i);
    for (size_t a = 0; a < s.size(); ++a)
      if (noise[a] == 1) j -= ((static_cast<int64_t>(i) / st[a]) % s[a]) * st[a];
    if (kept != (yv[j] != 0)) return false;
  }
  return true;
}

TEST_CASE("dropout noise_shape: mask constant along broadcast axes, one draw per position") {
  struct NC {
    Shape shape;
    std::vector<int64_t> noise;
  };
  const std::vector<NC> cases = {
      {{4, 5, 6, 8}, {-1, 1, 1, -1}},  // SpatialDropout2D
      {{4, 7, 8}, {4, 1, 8}},          // SpatialDropout1D, extents spelled out
      {{3, 4, 5, 6, 7}, {0, 1, 1, 1, 0}},  // SpatialDropout3D
      {{6, 10}, {6, 1}},               // last axis broadcast: one draw per row
      {{2, 3, 4, 5}, {1, -1, 1, -1}},  // alternating
      {{64, 40, 40, 16}, {-1, 1, 1, -1}},  // large: parallel rows
  };
  for (const NC& c : cases) {
    Attrs a = attrs({{"rate", 0.4}, {"noise_shape", c.noise}});
    Tensor x = random_tensor(c.shape, DType::f64, 111, 0.5, 1.5);
    Tensor y = forward("dropout", a, {x}, /*training=*/true, /*seed=*/5);
    CHECK(mask_is_broadcast(x, y, c.noise, 0.4));
    // Roughly `rate` of the distinct mask values drop (each is drawn once).
    int64_t zeros = 0;
    for (double v : vals(y)) zeros += v == 0;
    const double frac = static_cast<double>(zeros) / static_cast<double>(x.size());
    int64_t draws = 1;
    for (size_t i = 0; i < c.shape.size(); ++i) draws *= c.noise[i] == 1 ? 1 : c.shape[i];
    if (draws >= 200) CHECK(frac > 0.25 && frac < 0.55);
    // Inference: the identity.
    Tensor yi = forward("dropout", a, {x}, /*training=*/false);
    CHECK(same_bits(yi, x));
  }
}

TEST_CASE("dropout noise_shape: mask values are one per (sample, channel) for spatial dropout") {
  // With (N, 1, 1, C), element (n, h, w, c) uses the value drawn at counter n * C + c: the same
  // decisions as a plain dropout of an (N, C) tensor with the same seed.
  const int64_t N = 5, H = 3, W = 4, C = 6;
  Tensor x = random_tensor({N, H, W, C}, DType::f32, 121, 0.5, 1.5);
  Tensor y = forward("dropout", attrs({{"rate", 0.5}, {"noise_shape", std::vector<int64_t>{N, 1, 1, C}}}),
                     {x}, true, 9);
  Tensor ones({N, C}, DType::f32);
  for (int64_t i = 0; i < ones.size(); ++i) ones.data<float>()[i] = 1;
  Tensor plain = forward("dropout", attrs({{"rate", 0.5}}), {ones}, true, 9);
  bool same = true;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t w = 0; w < W; ++w)
        for (int64_t c = 0; c < C; ++c)
          same = same && ((y.data<float>()[((n * H + h) * W + w) * C + c] != 0) ==
                          (plain.data<float>()[n * C + c] != 0));
  CHECK(same);
}

TEST_CASE("dropout noise_shape without broadcast axes is the plain path, bit for bit") {
  Tensor x = random_tensor({8, 9, 10}, DType::f32, 131);
  Tensor plain = forward("dropout", attrs({{"rate", 0.3}}), {x}, true, 3);
  Tensor full = forward("dropout", attrs({{"rate", 0.3}, {"noise_shape", std::vector<int64_t>{-1, 0, 10}}}),
                        {x}, true, 3);
  CHECK(same_bits(plain, full));
  Tensor x1 = random_tensor({8, 1, 10}, DType::f32, 132);  // extent-1 axis: nothing to broadcast
  CHECK(same_bits(forward("dropout", attrs({{"rate", 0.3}}), {x1}, true, 3),
                  forward("dropout", attrs({{"rate", 0.3}, {"noise_shape", std::vector<int64_t>{8, 1, 10}}}),
                          {x1}, true, 3)));
}

TEST_CASE("dropout noise_shape gradient equals the mask") {
  const Shape s = {3, 4, 5, 6};
  const std::vector<int64_t> noise = {-1, 1, 1, -1};
  Attrs a = attrs({{"rate", 0.5}, {"noise_shape", noise}});
  const double err = grad_error("dropout", a, {random_tensor(s, DType::f64, 141)}, {0}, true);
  CHECK(err < 1e-6);
  // d out / d x = mask: backward of ones equals forward of ones, accumulate adds.
  Tensor ones(s, DType::f64);
  for (int64_t i = 0; i < ones.size(); ++i) ones.data<double>()[i] = 1;
  Tensor mask = forward("dropout", a, {ones}, true, 7);
  FwdBwd r = run_fwd_bwd("dropout", a, {random_tensor(s, DType::f64, 142)}, ones, {0}, true);
  CHECK(same_bits(r.grads[0], mask));
  std::vector<Tensor> preset = {ones};
  FwdBwd acc = run_fwd_bwd("dropout", a, {random_tensor(s, DType::f64, 142)}, ones, {0}, true, &preset);
  std::vector<double> want = vals(mask);
  for (double& v : want) v += 1;
  CHECK(vals(acc.grads[0]) == want);
}

TEST_CASE("dropout noise_shape rejects a wrong length or extent") {
  const auto f32 = DType::f32;
  CHECK(throws_naming<ValueError>(
      [&] { infer("dropout", attrs({{"rate", 0.5}, {"noise_shape", std::vector<int64_t>{1, 4}}}), {{{2, 3, 4}, f32}}); },
      {"dropout", "noise_shape", "3 entries", "received 2"}));
  CHECK(throws_naming<ValueError>(
      [&] { infer("dropout", attrs({{"rate", 0.5}, {"noise_shape", std::vector<int64_t>{2, 2, 4}}}), {{{2, 3, 4}, f32}}); },
      {"dropout", "noise_shape entry 1", "3"}));
  // Unknown extents accept any entry until the plan knows them.
  CHECK(infer("dropout", attrs({{"rate", 0.5}, {"noise_shape", std::vector<int64_t>{-1, 1, 4}}}),
              {{{kUnknown, 3, 4}, f32}}).shape == Shape({kUnknown, 3, 4}));
}

}  // namespace
