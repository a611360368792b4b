// Tests of op 'dot_product_attention': forward against a naive reference that materialises the
// softmax (in double, here), float64 central-difference gradients for masks, causality, both,
// Tq != Tk, D != Dv, sequence lengths that do not fill the 64-wide tiles and H > 1 (shapes with
// many and with few (batch, head) pairs, the kernels' two backward schedules), dropout, and the
// errors of shape inference.
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "check.h"
#include "ember/threads.h"
#include "kernels/attention.h"
#include "op_check.h"

using namespace ember;
using opcheck::forward;
using opcheck::grad_error;
using opcheck::random_tensor;

namespace {

double at(const Tensor& t, int64_t i) {
  return t.dtype() == DType::f64 ? t.data<double>()[i] : t.data<float>()[i];
}

struct Case {
  int64_t B, Tq, Tk, H, D, Dv;
  bool causal = false;
  Shape mask;  // empty: no mask
  double scale = 0.0;
};

Attrs attrs_of(const Case& c, double dropout = 0.0) {
  Attrs a;
  a.set("causal", c.causal);
  a.set("has_mask", !c.mask.empty());
  if (c.scale > 0) a.set("scale", c.scale);
  if (dropout > 0) a.set("dropout", dropout);
  return a;
}

// A 0/1 mask of the given shape that hides about a third of the keys, and (for shapes with a
// full query axis) leaves row 1 with no visible key at all.
Tensor mask_of(const Shape& s, DType dt, uint32_t seed) {
  Tensor m = random_tensor(s, dt, seed, 0, 1);
  for (int64_t i = 0; i < m.size(); ++i) {
    const double v = at(m, i) < 0.33 ? 0.0 : 1.0;
    if (dt == DType::f64) m.data<double>()[i] = v; else m.data<float>()[i] = float(v);
  }
  if (s[2] > 2) {  // row 1 of every (b, h) fully masked
    for (int64_t b = 0; b < s[0]; ++b)
      for (int64_t h = 0; h < s[1]; ++h)
        for (int64_t j = 0; j < s[3]; ++j) {
          const int64_t idx = ((b * s[1] + h) * s[2] + 1) * s[3] + j;
          if (dt == DType::f64) m.data<double>()[idx] = 0; else m.data<float>()[idx] = 0;
        }
  }
  return m;
}

std::vector<Tensor> inputs_of(const Case& c, DType dt) {
  std::vector<Tensor> in = {random_tensor({c.B, c.Tq, c.H, c.D}, dt, 1, -1.5, 1.5),
                            random_tensor({c.B, c.Tk, c.H, c.D}, dt, 2, -1.5, 1.5),
                            random_tensor({c.B, c.Tk, c.H, c.Dv}, dt, 3)};
  if (!c.mask.empty()) in.push_back(mask_of(c.mask, dt, 4));
  return in;
}

// softmax(scale q k^T with hidden logits replaced by Keras's large negative) v, in double.
std::vector<double> naive(const Case& c, const std::vector<Tensor>& in) {
  const double scale = c.scale > 0 ? c.scale : 1.0 / std::sqrt(double(c.D));
  std::vector<double> out(c.B * c.Tq * c.H * c.Dv, 0.0), s(c.Tk);
  for (int64_t b = 0; b < c.B; ++b)
    for (int64_t h = 0; h < c.H; ++h)
      for (int64_t i = 0; i < c.Tq; ++i) {
        double mx = -INFINITY;
        for (int64_t j = 0; j < c.Tk; ++j) {
          double dot = 0;
          for (int64_t d = 0; d < c.D; ++d)
            dot += at(in[0], ((b * c.Tq + i) * c.H + h) * c.D + d) *
                   at(in[1], ((b * c.Tk + j) * c.H + h) * c.D + d);
          bool visible = !c.causal || j <= i;
          if (!c.mask.empty()) {
            const Shape& m = c.mask;
            const int64_t idx = (((m[0] == 1 ? 0 : b) * m[1] + (m[1] == 1 ? 0 : h)) * m[2] +
                                 (m[2] == 1 ? 0 : i)) * m[3] + (m[3] == 1 ? 0 : j);
            visible = visible && at(in[3], idx) != 0.0;
          }
          s[j] = visible ? scale * dot : kAttnMaskedLogit;
          mx = std::max(mx, s[j]);
        }
        double sum = 0;
        for (int64_t j = 0; j < c.Tk; ++j) sum += (s[j] = std::exp(s[j] - mx));
        for (int64_t j = 0; j < c.Tk; ++j)
          for (int64_t d = 0; d < c.Dv; ++d)
            out[((b * c.Tq + i) * c.H + h) * c.Dv + d] +=
                s[j] / sum * at(in[2], ((b * c.Tk + j) * c.H + h) * c.Dv + d);
      }
  return out;
}

double forward_error(const Case& c, DType dt) {
  const std::vector<Tensor> in = inputs_of(c, dt);
  const Tensor out = forward("dot_product_attention", attrs_of(c), in);
  const std::vector<double> ref = naive(c, in);
  if (out.size() != static_cast<int64_t>(ref.size())) return INFINITY;
  double worst = 0;
  for (int64_t i = 0; i < out.size(); ++i) worst = std::max(worst, std::fabs(at(out, i) - ref[i]));
  return worst;
}

const std::vector<Case>& cases() {
  static const std::vector<Case> all = {
      {2, 5, 5, 1, 3, 3, false, {}},                    // plain
      {2, 37, 37, 2, 3, 2, false, {2, 1, 1, 37}},       // padding mask, H > 1, T = 37
      {1, 37, 37, 2, 2, 3, true, {}},                   // causal
      {2, 9, 7, 2, 3, 2, true, {2, 2, 9, 7}},           // causal + full mask, Tq > Tk
      {1, 70, 67, 1, 2, 3, true, {1, 1, 70, 1}},        // two tiles each way; few (b, h)
      {3, 6, 11, 2, 2, 2, false, {1, 2, 6, 11}, 0.7},   // Tq < Tk, head mask, explicit scale
  };
  return all;
}

}  // namespace

TEST_CASE("attention forward matches the materialised softmax (float64 and float32)") {
  for (const Case& c : cases()) {
    CHECK(forward_error(c, DType::f64) < 1e-12);
    CHECK(forward_error(c, DType::f32) < 2e-6);
  }
  // Longer sequences: several tiles, causal tiles skipped, rows longer than one vector.
  CHECK(forward_error({2, 150, 130, 2, 8, 5, true, {2, 1, 1, 130}}, DType::f32) < 2e-6);
  CHECK(forward_error({1, 200, 200, 3, 16, 16, true, {}}, DType::f64) < 1e-12);
}

TEST_CASE("attention: a fully masked row attends uniformly to every key") {
  Case c{1, 3, 4, 1, 2, 2, false, {1, 1, 3, 4}};
  for (DType dt : {DType::f32, DType::f64}) {
    std::vector<Tensor> in = inputs_of(c, dt);
    for (int64_t i = 0; i < 12; ++i) {  // row 0 sees key 2 only; rows 1, 2 see nothing
      const double v = i == 2 ? 1.0 : 0.0;
      if (dt == DType::f64) in[3].data<double>()[i] = v; else in[3].data<float>()[i] = float(v);
    }
    const Tensor out = forward("dot_product_attention", attrs_of(c), in);
    for (int64_t d = 0; d < 2; ++d) {
      double mean = 0;
      for (int64_t j = 0; j < 4; ++j) mean += at(in[2], j * 2 + d) / 4;
      CHECK_NEAR(at(out, d), at(in[2], 2 * 2 + d), 1e-6);
      CHECK_NEAR(at(out, 2 + d), mean, 1e-6);
      CHECK_NEAR(at(out, 4 + d), mean, 1e-6);
    }
  }
}

TEST_CASE("attention fully_masked=\"zero\": a row with no visible key is 0, no gradient") {
  Case c{2, 9, 7, 2, 3, 2, true, {2, 2, 9, 7}};  // row 1 of each (b, h) fully masked
  Attrs a = attrs_of(c);
  a.set("fully_masked", std::string("zero"));
  const std::vector<Tensor> in = inputs_of(c, DType::f64);
  const Tensor zero = forward("dot_product_attention", a, in);
  const Tensor uniform = forward("dot_product_attention", attrs_of(c), in);
  for (int64_t b = 0; b < c.B; ++b)
    for (int64_t i = 0; i < c.Tq; ++i)
      for (int64_t h = 0; h < c.H; ++h)
        for (int64_t d = 0; d < c.Dv; ++d) {
          const int64_t idx = ((b * c.Tq + i) * c.H + h) * c.Dv + d;
          CHECK(at(zero, idx) == (i == 1 ? 0.0 : at(uniform, idx)));
        }
  CHECK(grad_error("dot_product_attention", a, inputs_of(c, DType::f64), {0, 1, 2}) < 1e-6);
}

TEST_CASE("attention gradients (float64 central differences)") {
  for (const Case& c : cases()) {
    const double err =
        grad_error("dot_product_attention", attrs_of(c), inputs_of(c, DType::f64), {0, 1, 2});
    if (!(err < 1e-6))
      std::cerr << "  case B=" << c.B << " Tq=" << c.Tq << " Tk=" << c.Tk << ": " << err << "\n";
    CHECK(err < 1e-6);
  }
}

TEST_CASE("attention gradient of a single input (the others not wanted)") {
  const Case c{1, 70, 67, 1, 2, 3, true, {}};
  for (int i = 0; i < 3; ++i)
    CHECK(grad_error("dot_product_attention", attrs_of(c), inputs_of(c, DType::f64), {i}) < 1e-6);
}

TEST_CASE("attention dropout: deterministic per seed, mean kept, gradient consistent") {
  const Case c{2, 40, 40, 2, 3, 4, true, {2, 1, 1, 40}};
  const std::vector<Tensor> in = inputs_of(c, DType::f64);
  const Attrs a = attrs_of(c, 0.3);
  const Tensor plain = forward("dot_product_attention", a, in, false);
  const Tensor d1 = forward("dot_product_attention", a, in, true, 11);
  const Tensor d2 = forward("dot_product_attention", a, in, true, 11);
  const Tensor d3 = forward("dot_product_attention", a, in, true, 12);
  CHECK(std::memcmp(d1.raw(), d2.raw(), d1.nbytes()) == 0);
  CHECK(std::memcmp(d1.raw(), d3.raw(), d1.nbytes()) != 0);
  CHECK(std::memcmp(d1.raw(), plain.raw(), d1.nbytes()) != 0);
  // Inference ignores the rate: equal to the reference.
  double worst = 0;
  const std::vector<double> ref = naive(c, in);
  for (int64_t i = 0; i < plain.size(); ++i) worst = std::max(worst, std::fabs(at(plain, i) - ref[i]));
  CHECK(worst < 1e-12);
  CHECK(grad_error("dot_product_attention", a, inputs_of(c, DType::f64), {0, 1, 2}, true) < 1e-6);
  // Averaged over many seeds the output approaches the undropped one.
  std::vector<double> mean(plain.size(), 0.0);
  const int n = 400;
  for (int s = 0; s < n; ++s) {
    const Tensor d = forward("dot_product_attention", a, in, true, 1000 + s);
    for (int64_t i = 0; i < d.size(); ++i) mean[i] += at(d, i) / n;
  }
  double dev = 0, mag = 0;
  for (int64_t i = 0; i < plain.size(); ++i) {
    dev += std::fabs(mean[i] - at(plain, i));
    mag += std::fabs(at(plain, i));
  }
  CHECK(dev / mag < 0.05);
}

TEST_CASE("attention shape inference: unknown extents and errors naming the op") {
  const OpDef& d = OpRegistry::instance().get("dot_product_attention");
  Attrs plain;
  TensorMeta m = d.infer({{{-1, -1, 4, 8}, DType::f32}, {{-1, 12, 4, 8}, DType::f32},
                          {{-1, 12, 4, 5}, DType::f32}}, plain);
  CHECK((m.shape == Shape{-1, -1, 4, 5}));
  Attrs masked;
  masked.set("has_mask", true);
  m = d.infer({{{-1, 7, 4, 8}, DType::f32}, {{-1, 12, 4, 8}, DType::f32},
               {{-1, 12, 4, 5}, DType::f32}, {{-1, 1, 7, 12}, DType::f32}}, masked);
  CHECK((m.shape == Shape{-1, 7, 4, 5}));
  auto fails = [&](const Attrs& a, std::vector<TensorMeta> in, const std::string& word) {
    try {
      d.infer(in, a);
    } catch (const Error& e) {
      const std::string msg = e.what();
      const bool ok = msg.find("dot_product_attention") != std::string::npos &&
                      msg.find(word) != std::string::npos;
      if (!ok) std::cerr << "  message: " << msg << "\n";
      return ok;
    }
    return false;
  };
  const TensorMeta q{{2, 7, 4, 8}, DType::f32}, k{{2, 12, 4, 8}, DType::f32},
      v{{2, 12, 4, 5}, DType::f32};
  CHECK(fails(plain, {{{2, 7, 8}, DType::f32}, k, v}, "rank 4"));
  CHECK(fails(plain, {q, {{3, 12, 4, 8}, DType::f32}, v}, "batch"));
  CHECK(fails(plain, {q, {{2, 12, 2, 8}, DType::f32}, v}, "heads"));
  CHECK(fails(plain, {q, {{2, 12, 4, 6}, DType::f32}, v}, "depth"));
  CHECK(fails(plain, {q, k, {{2, 10, 4, 5}, DType::f32}}, "sequence length"));
  CHECK(fails(plain, {q, k, {{2, 12, 4, 5}, DType::i32}}, "float32 or float64"));
  CHECK(fails(plain, {q, k, {{2, 12, 4, 5}, DType::f64}}, "like query"));
  CHECK(fails(masked, {q, k, v, {{2, 1, 7, 11}, DType::f32}}, "(2, 1, 7, 11)"));
  CHECK(fails(masked, {q, k, v, {{2, 7, 12}, DType::f32}}, "rank 4"));
  CHECK(fails(masked, {q, k, v}, "4 inputs"));
  Attrs bad_rate;
  bad_rate.set("dropout", 1.0);
  CHECK(fails(bad_rate, {q, k, v}, "dropout"));
  Attrs bad_rows;
  bad_rows.set("fully_masked", std::string("nan"));
  CHECK(fails(bad_rows, {q, k, v}, "fully_masked"));
}

TEST_CASE("attention results do not depend on the thread count") {
  const Case c{1, 130, 130, 2, 8, 8, true, {1, 1, 1, 130}};
  const std::vector<Tensor> in = inputs_of(c, DType::f32);
  const Attrs a = attrs_of(c);
  const int before = get_num_threads();
  set_num_threads(1);
  const Tensor one = forward("dot_product_attention", a, in);
  set_num_threads(2);
  const Tensor two = forward("dot_product_attention", a, in);
  set_num_threads(before);
  CHECK(std::memcmp(one.raw(), two.raw(), one.nbytes()) == 0);
}
