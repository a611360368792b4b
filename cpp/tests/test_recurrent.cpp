// Tests of the recurrent ops (lstm, gru, simple_rnn) and embedding: forward against a plain
// per-sample reference loop written here from Keras' cell equations (float64 and float32),
// float64 central-difference gradients of every variant, the threaded path (units split over
// threads), the accumulate flag, and the error paths of shape inference and bad ids.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "check.h"
#include "ember/rng.h"
#include "kernels/cpu/recurrent_common.h"
#include "op_check.h"

using namespace ember;
using opcheck::forward;
using opcheck::grad_error;
using opcheck::random_tensor;

#define EXPECT_BELOW(err, tol, what)                                                         \
  do {                                                                                      \
    const double e_ = (err);                                                                \
    if (!(e_ < (tol)))                                                                      \
      check::fail(__FILE__, __LINE__, std::string(what) + " off by " + std::to_string(e_)); \
  } while (0)

namespace {

// ---------------------------------------------------------------- the reference

double ref_act(const std::string& a, double x) {
  if (a == "tanh") return std::tanh(x);
  if (a == "sigmoid") return 1 / (1 + std::exp(-x));
  if (a == "relu") return x > 0 ? x : 0;
  if (a == "linear") return x;
  if (a == "elu") return x > 0 ? x : std::expm1(x);
  if (a == "softplus") return std::log1p(std::exp(x));
  if (a == "silu") return x / (1 + std::exp(-x));
  throw std::runtime_error("ref_act: " + a);
}

struct Spec {
  std::string op = "lstm";
  int64_t B = 3, T = 4, D = 3, U = 4;
  std::string act = "tanh", ract = "sigmoid";
  bool reset_after = true, bias = true, init = false, mask = false;
  bool seqs = false, state = false, backwards = false, zero_out = false;
  double dropout = 0;
  bool training = false;

  int G() const { return op == "lstm" ? 4 : op == "gru" ? 3 : 1; }
  int states() const { return op == "lstm" ? 2 : 1; }
  Attrs attrs() const {
    Attrs a;
    a.set("activation", act);
    if (op != "simple_rnn") a.set("recurrent_activation", ract);
    if (op == "gru") a.set("reset_after", reset_after);
    a.set("has_bias", bias);
    a.set("has_initial_state", init);
    a.set("has_mask", mask);
    a.set("return_sequences", seqs);
    a.set("return_state", state);
    a.set("go_backwards", backwards);
    a.set("zero_output_for_mask", zero_out);
    a.set("recurrent_dropout", dropout);
    return a;
  }
  std::string name() const {
    std::string n = op + (op == "gru" ? (reset_after ? "[after]" : "[before]") : "");
    n += " act=" + act + (op != "simple_rnn" ? "/" + ract : "");
    if (!bias) n += " no-bias";
    if (init) n += " init";
    if (mask) n += " mask";
    if (seqs) n += " seqs";
    if (state) n += " state";
    if (backwards) n += " backwards";
    if (zero_out) n += " zero_out";
    if (dropout > 0) n += " dropout";
    n += " B=" + std::to_string(B) + " U=" + std::to_string(U);
    return n;
  }
  // Inputs in the op's order; the mask has a leading masked step (row 0), a middle one and
  // trailing ones (row 2), and an all-valid row.
  std::vector<Tensor> inputs(DType t) const {
    std::vector<Tensor> in;
    const int64_t NU = G() * U;
    in.push_back(random_tensor({B, T, D}, t, 1));
    in.push_back(random_tensor({D, NU}, t, 2, -0.7, 0.7));
    in.push_back(random_tensor({U, NU}, t, 3, -0.7, 0.7));
    if (bias) in.push_back(random_tensor(op == "gru" && reset_after ? Shape{2, NU} : Shape{NU}, t, 4));
    if (init)
      for (int k = 0; k < states(); ++k) in.push_back(random_tensor({B, U}, t, 5 + k));
    if (mask) {
      Tensor m({B, T}, t);
      for (int64_t b = 0; b < B; ++b)
        for (int64_t s = 0; s < T; ++s) {
          bool ok = true;
          if (b % 3 == 0) ok = s != 0 && s != T / 2;
          if (b % 3 == 2) ok = s < T / 2;
          if (t == DType::f64) m.data<double>()[b * T + s] = ok ? 1.0 : 0.0;
          else m.data<float>()[b * T + s] = ok ? 2.0f : 0.0f;  // any nonzero is valid
        }
      in.push_back(m);
    }
    return in;
  }
  std::vector<int> diff_inputs() const {
    const int n = 3 + bias + (init ? states() : 0);
    std::vector<int> w;
    for (int i = 0; i < n; ++i) w.push_back(i);
    return w;
  }
};

double at(const Tensor& t, int64_t i) {
  return t.dtype() == DType::f64 ? t.data<double>()[i] : t.data<float>()[i];
}

// Keras' loop, one sample and one step at a time, in float64.
std::vector<double> reference(const Spec& sp, const std::vector<Tensor>& in) {
  const int64_t B = sp.B, T = sp.T, D = sp.D, U = sp.U, G = sp.G(), NU = G * U;
  const int64_t S_out = sp.seqs ? T : 1, S = S_out + (sp.state ? sp.states() : 0);
  int k = 3;
  const Tensor* bias = sp.bias ? &in[k++] : nullptr;
  const Tensor* h0 = sp.init ? &in[k++] : nullptr;
  const Tensor* c0 = sp.init && sp.op == "lstm" ? &in[k++] : nullptr;
  const Tensor* mask = sp.mask ? &in[k++] : nullptr;
  const Tensor &x = in[0], &W = in[1], &R = in[2];
  const bool dp = sp.training && sp.dropout > 0 && sp.dropout < 1;
  auto dmask = [&](int g, int64_t b, int64_t u) {
    if (!dp) return 1.0;
    const uint64_t i = static_cast<uint64_t>((g * B + b) * U + u);
    return uniform01(7, i) >= static_cast<float>(sp.dropout) ? 1.0 / (1.0 - sp.dropout) : 0.0;
  };
  std::vector<double> out(B * S * U, 0.0);
  for (int64_t b = 0; b < B; ++b) {
    std::vector<double> h(U, 0.0), c(U, 0.0), prev(U, 0.0);
    for (int64_t u = 0; u < U; ++u) {
      if (h0) h[u] = at(*h0, b * U + u);
      if (c0) c[u] = at(*c0, b * U + u);
    }
    for (int64_t s = 0; s < T; ++s) {
      const int64_t t = sp.backwards ? T - 1 - s : s;
      // xw[j] = x_t W[:, j] + input bias; hr(g, hin)[u] = hin R[:, g*U + u]
      std::vector<double> xw(NU, 0.0);
      for (int64_t j = 0; j < NU; ++j) {
        for (int64_t d = 0; d < D; ++d) xw[j] += at(x, (b * T + t) * D + d) * at(W, d * NU + j);
        if (bias) xw[j] += at(*bias, j);
      }
      auto hr = [&](int g, const std::vector<double>& hin) {
        std::vector<double> r(U, 0.0);
        for (int64_t u = 0; u < U; ++u)
          for (int64_t q = 0; q < U; ++q) r[u] += hin[q] * dmask(g, b, q) * at(R, q * NU + g * U + u);
        return r;
      };
      std::vector<double> hn(U), cn(c);
      if (sp.op == "lstm") {
        std::vector<std::vector<double>> p;
        for (int g = 0; g < 4; ++g) p.push_back(hr(g, h));
        for (int64_t u = 0; u < U; ++u) {
          const double i = ref_act(sp.ract, xw[u] + p[0][u]);
          const double f = ref_act(sp.ract, xw[U + u] + p[1][u]);
          const double gg = ref_act(sp.act, xw[2 * U + u] + p[2][u]);
          const double o = ref_act(sp.ract, xw[3 * U + u] + p[3][u]);
          cn[u] = f * c[u] + i * gg;
          hn[u] = o * ref_act(sp.act, cn[u]);
        }
      } else if (sp.op == "gru") {
        std::vector<double> pz = hr(0, h), pr = hr(1, h);
        std::vector<double> z(U), r(U);
        for (int64_t u = 0; u < U; ++u) {
          const double bz = sp.reset_after && bias ? at(*bias, NU + u) : 0;
          const double br = sp.reset_after && bias ? at(*bias, NU + U + u) : 0;
          z[u] = ref_act(sp.ract, xw[u] + pz[u] + bz);
          r[u] = ref_act(sp.ract, xw[U + u] + pr[u] + br);
        }
        std::vector<double> ph;
        if (sp.reset_after) {
          ph = hr(2, h);
          for (int64_t u = 0; u < U; ++u) {
            const double bh = bias ? at(*bias, NU + 2 * U + u) : 0;
            ph[u] = r[u] * (ph[u] + bh);
          }
        } else {  // (r * (h * m_h)) U_h: the dropout mask applies to h before the reset gate
          std::vector<double> rh(U);
          for (int64_t u = 0; u < U; ++u) rh[u] = r[u] * h[u] * dmask(2, b, u);
          ph.assign(U, 0.0);
          for (int64_t u = 0; u < U; ++u)
            for (int64_t q = 0; q < U; ++q) ph[u] += rh[q] * at(R, q * NU + 2 * U + u);
        }
        for (int64_t u = 0; u < U; ++u) {
          const double hh = ref_act(sp.act, xw[2 * U + u] + ph[u]);
          hn[u] = z[u] * h[u] + (1 - z[u]) * hh;
        }
      } else {
        std::vector<double> p = hr(0, h);
        for (int64_t u = 0; u < U; ++u) hn[u] = ref_act(sp.act, xw[u] + p[u]);
      }
      const bool ok = !mask || at(*mask, b * T + t) != 0;
      std::vector<double> o(U);
      for (int64_t u = 0; u < U; ++u) {
        if (ok) {
          h[u] = hn[u];
          c[u] = cn[u];
          o[u] = hn[u];
        } else {
          o[u] = sp.zero_out ? 0.0 : prev[u];
        }
      }
      prev = o;
      const int64_t row = sp.seqs ? s : (s == T - 1 ? 0 : -1);
      if (row >= 0)
        for (int64_t u = 0; u < U; ++u) out[(b * S + row) * U + u] = o[u];
    }
    if (sp.state)
      for (int64_t u = 0; u < U; ++u) {
        out[(b * S + S_out) * U + u] = h[u];
        if (sp.op == "lstm") out[(b * S + S_out + 1) * U + u] = c[u];
      }
  }
  return out;
}

double forward_error(const Spec& sp, DType t) {
  const std::vector<Tensor> in = sp.inputs(t);
  const Tensor out = forward(sp.op, sp.attrs(), in, sp.training);
  const std::vector<double> ref = reference(sp, in);
  const int64_t S = (sp.seqs ? sp.T : 1) + (sp.state ? sp.states() : 0);
  if (out.shape() != Shape{sp.B, S, sp.U}) return 1e9;
  double worst = 0;
  for (int64_t i = 0; i < out.size(); ++i)
    worst = std::max(worst, std::fabs(at(out, i) - ref[i]) / std::max(1.0, std::fabs(ref[i])));
  return worst;
}

// The variants that matter, for one op.
std::vector<Spec> variants(const std::string& op) {
  std::vector<Spec> v;
  Spec s;
  s.op = op;
  v.push_back(s);  // defaults: last output only
  Spec a = s;
  a.seqs = true;
  v.push_back(a);
  Spec m = s;  // masks with a leading masked step, initial state, final states
  m.mask = m.init = m.state = true;
  v.push_back(m);
  m.seqs = true;
  v.push_back(m);
  Spec z = m;
  z.zero_out = true;
  v.push_back(z);
  Spec gb = s;
  gb.backwards = gb.seqs = gb.state = true;
  v.push_back(gb);
  gb.mask = gb.init = true;
  v.push_back(gb);
  Spec nb = s;
  nb.bias = false;
  nb.seqs = true;
  v.push_back(nb);
  Spec acts = s;  // derivatives written in x (elu, softplus, silu) keep the pre-activations
  acts.act = "elu";
  acts.ract = "softplus";
  acts.seqs = acts.state = acts.mask = true;
  v.push_back(acts);
  Spec lin = s;
  lin.act = "linear";
  lin.ract = "silu";
  lin.seqs = true;
  v.push_back(lin);
  Spec dp = s;
  dp.dropout = 0.4;
  dp.training = true;
  dp.seqs = dp.mask = dp.init = dp.state = true;
  v.push_back(dp);
  Spec dpi = dp;  // at inference the dropout is off
  dpi.training = false;
  v.push_back(dpi);
  Spec big = s;  // wide enough that the units split over threads
  big.B = 4;
  big.U = 36;  // uneven slices: 24 + 12 units on two threads
  big.T = 3;
  big.seqs = big.mask = big.init = big.state = true;
  v.push_back(big);
  Spec bigdp = big;
  bigdp.dropout = 0.3;
  bigdp.training = true;
  v.push_back(bigdp);
  if (op == "gru") {  // every variant again with reset_after=False
    const size_t n = v.size();
    for (size_t i = 0; i < n; ++i) {
      Spec r = v[i];
      r.reset_after = false;
      v.push_back(r);
    }
  }
  return v;
}

// Backward's gradients of L = sum(G * op(inputs)) against central differences along random
// directions, DIRS per input: for the wide (threaded) cases, where one difference per element
// would take thousands of runs.
double directional_grad_error(const Spec& sp, std::vector<Tensor> in) {
  const OpDef& d = OpRegistry::instance().get(sp.op);
  const Attrs a = sp.attrs();
  std::vector<TensorMeta> metas;
  for (auto& t : in) metas.push_back({t.shape(), t.dtype()});
  Tensor out(d.infer(metas, a).shape, DType::f64);
  Tensor aux({static_cast<int64_t>(d.aux_bytes(metas, a, sp.training) / 8 + 1)}, DType::f64);
  Tensor fs({static_cast<int64_t>(d.forward_scratch_bytes(metas, a) / 8 + 1)}, DType::f64);
  Tensor bs({static_cast<int64_t>(d.scratch_bytes(metas, a, std::vector<bool>(in.size(), true)) / 8 + 1)}, DType::f64);
  Tensor G = random_tensor(out.shape(), DType::f64, 99);
  GradContext gc;
  for (auto& t : in) gc.inputs.push_back(&t);
  gc.output = &out;
  gc.attrs = &a;
  gc.aux = &aux;
  gc.scratch = &fs;
  gc.training = sp.training;
  gc.seed = 7;
  d.forward(gc);
  gc.scratch = &bs;
  gc.grad_out = &G;
  std::vector<Tensor> grads;
  for (auto& t : in) grads.emplace_back(t.shape(), t.dtype());
  gc.grad_in.assign(in.size(), nullptr);
  gc.accumulate.assign(in.size(), false);
  const std::vector<int> wrt = sp.diff_inputs();
  for (int i : wrt) gc.grad_in[i] = &grads[i];
  d.backward(gc);
  auto loss = [&]() {
    Tensor o = forward(sp.op, a, in, sp.training);
    double s = 0;
    for (int64_t j = 0; j < o.size(); ++j) s += o.data<double>()[j] * G.data<double>()[j];
    return s;
  };
  const double eps = 1e-6;
  double worst = 0;
  for (int i : wrt)
    for (int dir = 0; dir < 2; ++dir) {
      Tensor v = random_tensor(in[i].shape(), DType::f64, 100 + 10 * i + dir);
      double* x = in[i].data<double>();
      const double* vd = v.data<double>();
      std::vector<double> keep(x, x + in[i].size());
      double ana = 0;
      for (int64_t j = 0; j < in[i].size(); ++j) ana += grads[i].data<double>()[j] * vd[j];
      for (int64_t j = 0; j < in[i].size(); ++j) x[j] = keep[j] + eps * vd[j];
      const double lp = loss();
      for (int64_t j = 0; j < in[i].size(); ++j) x[j] = keep[j] - eps * vd[j];
      const double lm = loss();
      std::copy(keep.begin(), keep.end(), x);
      const double num = (lp - lm) / (2 * eps);
      worst = std::max(worst, std::fabs(num - ana) / std::max(1.0, std::fabs(num) + std::fabs(ana)));
    }
  return worst;
}

void check_op(const std::string& op) {
  for (const Spec& sp : variants(op)) {
    EXPECT_BELOW(forward_error(sp, DType::f64), 1e-12, sp.name() + " forward f64");
    EXPECT_BELOW(forward_error(sp, DType::f32), 2e-5, sp.name() + " forward f32");
    const double err = sp.U > 8 ? directional_grad_error(sp, sp.inputs(DType::f64))
                                : grad_error(sp.op, sp.attrs(), sp.inputs(DType::f64),
                                             sp.diff_inputs(), sp.training);
    EXPECT_BELOW(err, 1e-6, sp.name() + " gradient");
  }
}

}  // namespace

TEST_CASE("lstm forward matches the reference loop and gradients match differences") {
  check_op("lstm");
}

TEST_CASE("gru forward matches the reference loop and gradients match differences") {
  check_op("gru");
}

TEST_CASE("simple_rnn forward matches the reference loop and gradients match differences") {
  check_op("simple_rnn");
}

TEST_CASE("a team that splits mid-sequence (oversubscribed machine) gives the same results") {
  rnn::force_split_at = 1;  // thread 0 finishes alone from the second step on
  for (const std::string op : {"lstm", "gru", "simple_rnn"})
    for (const Spec& sp : variants(op)) {
      if (sp.U <= 8) continue;  // one thread: nothing to split
      EXPECT_BELOW(forward_error(sp, DType::f64), 1e-12, "split " + sp.name() + " forward");
      EXPECT_BELOW(directional_grad_error(sp, sp.inputs(DType::f64)), 1e-6,
                   "split " + sp.name() + " gradient");
    }
  rnn::force_split_at = INT64_MAX;
}

TEST_CASE("recurrent ops accumulate into existing gradients when asked") {
  Spec sp;
  sp.init = sp.seqs = true;
  for (const char* op : {"lstm", "gru", "simple_rnn"}) {
    sp.op = op;
    std::vector<Tensor> in = sp.inputs(DType::f64);
    const OpDef& d = OpRegistry::instance().get(op);
    const Attrs a = sp.attrs();
    std::vector<TensorMeta> metas;
    for (auto& t : in) metas.push_back({t.shape(), t.dtype()});
    Tensor out(d.infer(metas, a).shape, DType::f64);
    Tensor aux({static_cast<int64_t>(d.aux_bytes(metas, a, false) / 8 + 1)}, DType::f64);
    Tensor fs({static_cast<int64_t>(d.forward_scratch_bytes(metas, a) / 8 + 1)}, DType::f64);
    Tensor bs({static_cast<int64_t>(d.scratch_bytes(metas, a, std::vector<bool>(in.size(), true)) / 8 + 1)}, DType::f64);
    Tensor G = random_tensor(out.shape(), DType::f64, 11);
    GradContext gc;
    for (auto& t : in) gc.inputs.push_back(&t);
    gc.output = &out;
    gc.attrs = &a;
    gc.aux = &aux;
    gc.scratch = &fs;
    d.forward(gc);
    gc.scratch = &bs;
    gc.grad_out = &G;
    std::vector<Tensor> assigned, added;
    for (auto& t : in) {
      assigned.emplace_back(t.shape(), t.dtype());
      added.emplace_back(t.shape(), t.dtype());
      for (int64_t i = 0; i < t.size(); ++i) added.back().data<double>()[i] = 1.5;
    }
    for (int pass = 0; pass < 2; ++pass) {
      gc.grad_in.clear();
      for (size_t i = 0; i < in.size(); ++i) gc.grad_in.push_back(pass ? &added[i] : &assigned[i]);
      gc.accumulate.assign(in.size(), pass == 1);
      d.backward(gc);
    }
    double worst = 0;
    for (size_t i = 0; i < in.size(); ++i)
      for (int64_t j = 0; j < in[i].size(); ++j)
        worst = std::max(worst, std::fabs(added[i].data<double>()[j] - 1.5 -
                                          assigned[i].data<double>()[j]));
    EXPECT_BELOW(worst, 1e-12, std::string(op) + " accumulate");
  }
}

TEST_CASE("recurrent ops infer unknown batch and time and reject bad operands") {
  const OpDef& lstm = OpRegistry::instance().get("lstm");
  const OpDef& gru = OpRegistry::instance().get("gru");
  const DType f = DType::f32;
  Attrs a;
  a.set("return_sequences", true);
  a.set("return_state", true);
  TensorMeta m = lstm.infer({{{-1, -1, 3}, f}, {{3, 16}, f}, {{4, 16}, f}}, a);
  CHECK((m.shape == Shape{-1, -1, 4}));
  Attrs last;
  last.set("return_state", true);
  m = lstm.infer({{{-1, -1, 3}, f}, {{3, 16}, f}, {{4, 16}, f}}, last);
  CHECK((m.shape == Shape{-1, 3, 4}));
  m = gru.infer({{{5, 7, 3}, f}, {{3, 12}, f}, {{4, 12}, f}}, Attrs{});
  CHECK((m.shape == Shape{5, 1, 4}));
  auto bad = [&](const OpDef& d, std::vector<TensorMeta> in, const Attrs& at) {
    return d.infer(in, at);
  };
  const Attrs none;
  CHECK_THROWS_AS(bad(lstm, {{{2, 3}, f}, {{3, 16}, f}, {{4, 16}, f}}, none), ValueError);
  CHECK_THROWS_AS(bad(lstm, {{{2, 5, 2}, f}, {{3, 16}, f}, {{4, 16}, f}}, none), ValueError);
  CHECK_THROWS_AS(bad(lstm, {{{2, 5, 3}, f}, {{3, 12}, f}, {{4, 16}, f}}, none), ValueError);
  CHECK_THROWS_AS(bad(lstm, {{{2, 5, 3}, f}, {{3, 16}, f}, {{4, 12}, f}}, none), ValueError);
  CHECK_THROWS_AS(bad(lstm, {{{2, 5, 3}, DType::i32}, {{3, 16}, f}, {{4, 16}, f}}, none),
                  TypeError);
  CHECK_THROWS_AS(bad(lstm, {{{2, 5, 3}, f}, {{3, 16}, DType::f64}, {{4, 16}, f}}, none),
                  TypeError);
  Attrs with_bias;
  with_bias.set("has_bias", true);
  CHECK_THROWS_AS(bad(lstm, {{{2, 5, 3}, f}, {{3, 16}, f}, {{4, 16}, f}, {{15}, f}}, with_bias),
                  ValueError);
  CHECK_THROWS_AS(bad(lstm, {{{2, 5, 3}, f}, {{3, 16}, f}, {{4, 16}, f}}, with_bias), ValueError);
  // gru's reset_after bias is (2, 3U), a flat (3U) one belongs to reset_after=False
  CHECK_THROWS_AS(bad(gru, {{{2, 5, 3}, f}, {{3, 12}, f}, {{4, 12}, f}, {{12}, f}}, with_bias),
                  ValueError);
  Attrs init;
  init.set("has_initial_state", true);
  CHECK_THROWS_AS(bad(lstm, {{{2, 5, 3}, f}, {{3, 16}, f}, {{4, 16}, f}, {{2, 4}, f}, {{3, 4}, f}},
                      init),
                  ValueError);
  Attrs mask;
  mask.set("has_mask", true);
  CHECK_THROWS_AS(bad(gru, {{{2, 5, 3}, f}, {{3, 12}, f}, {{4, 12}, f}, {{2, 4}, f}}, mask),
                  ValueError);
  CHECK_THROWS_AS(bad(gru, {{{2, 5, 3}, f}, {{3, 12}, f}, {{4, 12}, f}, {{2, 5}, DType::i32}}, mask),
                  TypeError);
  Attrs act;
  act.set("activation", "nope");
  CHECK_THROWS_AS(bad(gru, {{{2, 5, 3}, f}, {{3, 12}, f}, {{4, 12}, f}}, act), ValueError);
  try {
    bad(lstm, {{{2, 5, 2}, f}, {{3, 16}, f}, {{4, 16}, f}}, none);
  } catch (const ValueError& e) {
    CHECK(std::string(e.what()).find("op 'lstm'") != std::string::npos);
  }
}

TEST_CASE("embedding gathers rows, scatters gradients and rejects bad ids") {
  Tensor table = random_tensor({5, 3}, DType::f64, 1);
  Tensor ids({2, 3}, DType::i64);
  const int64_t idv[] = {4, 0, 4, 2, 1, 4};
  std::memcpy(ids.data<int64_t>(), idv, sizeof idv);
  Tensor out = forward("embedding", Attrs{}, {table, ids});
  REQUIRE((out.shape() == Shape{2, 3, 3}));
  for (int i = 0; i < 6; ++i)
    for (int e = 0; e < 3; ++e) CHECK(out.data<double>()[i * 3 + e] == table.data<double>()[idv[i] * 3 + e]);
  EXPECT_BELOW(grad_error("embedding", Attrs{}, {table, ids}, {0}), 1e-9, "embedding gradient");
  Tensor ids32({4}, DType::i32);
  const int32_t id32[] = {3, 3, 0, 1};
  std::memcpy(ids32.data<int32_t>(), id32, sizeof id32);
  Tensor t32 = random_tensor({5, 3}, DType::f32, 2);
  Tensor o32 = forward("embedding", Attrs{}, {t32, ids32});
  CHECK(o32.data<float>()[3] == t32.data<float>()[9]);
  Tensor big({2}, DType::i32);
  big.data<int32_t>()[0] = 1;
  big.data<int32_t>()[1] = 5;
  CHECK_THROWS_AS(forward("embedding", Attrs{}, {t32, big}), IndexError);
  big.data<int32_t>()[1] = -1;
  CHECK_THROWS_AS(forward("embedding", Attrs{}, {t32, big}), IndexError);
  try {
    big.data<int32_t>()[1] = 7;
    forward("embedding", Attrs{}, {t32, big});
  } catch (const IndexError& e) {
    const std::string w = e.what();
    CHECK(w.find("embedding") != std::string::npos && w.find("7") != std::string::npos &&
          w.find("5") != std::string::npos);
  }
  CHECK_THROWS_AS(forward("embedding", Attrs{}, {t32, t32}), TypeError);
  CHECK_THROWS_AS(forward("embedding", Attrs{}, {ids32, ids32}), TypeError);
}

TEST_CASE("embedding backward assigns zeros to unused rows and accumulates into used ones") {
  const OpDef& d = OpRegistry::instance().get("embedding");
  Tensor table = random_tensor({4, 2}, DType::f32, 3);
  Tensor ids({3}, DType::i64);
  const int64_t idv[] = {2, 0, 2};
  std::memcpy(ids.data<int64_t>(), idv, sizeof idv);
  Tensor out = forward("embedding", Attrs{}, {table, ids});
  Tensor G({3, 2}, DType::f32);
  for (int i = 0; i < 6; ++i) G.data<float>()[i] = static_cast<float>(i + 1);
  Tensor grad({4, 2}, DType::f32);
  for (int i = 0; i < 8; ++i) grad.data<float>()[i] = 100.0f;  // stale values
  const Attrs a;
  GradContext gc;
  gc.inputs = {&table, &ids};
  gc.output = &out;
  gc.attrs = &a;
  gc.grad_out = &G;
  gc.grad_in = {&grad, nullptr};
  gc.accumulate = {false, false};
  d.backward(gc);
  const float assigned[] = {3, 4, 0, 0, 1 + 5, 2 + 6, 0, 0};
  for (int i = 0; i < 8; ++i) CHECK(grad.data<float>()[i] == assigned[i]);
  gc.accumulate = {true, false};
  d.backward(gc);
  for (int i = 0; i < 8; ++i) CHECK(grad.data<float>()[i] == 2 * assigned[i]);
}
