// Tests of the convolution ops: conv, conv_transpose, depthwise_conv. Each variant is checked
// forward against a direct nested-loop reference written here (float64 and float32), backward
// against central differences (float64), and large cases (several chunks, chunks inside one
// image, the parallel paths) backward against a direct reference of the gradients. Plus shape
// inference with unknown extents, the accumulate flag and the error paths.
//
// The references share no code with the ops: they pad as Keras/TF describe it, and
// conv_transpose is computed as JAX does (x dilated by the strides, padded, correlated with the
// flipped kernel), not as the adjoint of a conv.
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "check.h"
#include "op_check.h"
#include "ember/threads.h"
#include "kernels/conv.h"

using namespace ember;
using opcheck::forward;
using opcheck::grad_error;
using opcheck::random_tensor;

// Records a failure naming `what` unless err < tol.
#define EXPECT_BELOW(err, tol, what)                                                         \
  do {                                                                                      \
    const double e_ = (err);                                                                \
    if (!(e_ < (tol)))                                                                      \
      check::fail(__FILE__, __LINE__, std::string(what) + " off by " + std::to_string(e_)); \
  } while (0)

namespace {

// ---------------------------------------------------------------- test-side helpers

struct Spec {
  Shape x, w;                       // input and kernel shapes (channels_last)
  std::vector<int64_t> strides, dil;  // empty: all 1
  std::string padding = "valid";
  int64_t groups = 1;
  std::string act = "linear";
  bool bias = true;
  std::vector<int64_t> output_padding;  // conv_transpose; empty: None
};

int nsp(const Spec& s) { return static_cast<int>(s.x.size()) - 2; }
int64_t stride_of(const Spec& s, int i) { return s.strides.empty() ? 1 : s.strides[i]; }
int64_t dil_of(const Spec& s, int i) { return s.dil.empty() ? 1 : s.dil[i]; }

Attrs attrs_of(const Spec& s) {
  Attrs a;
  if (!s.strides.empty()) a.set("strides", s.strides);
  if (!s.dil.empty()) a.set("dilation", s.dil);
  a.set("padding", s.padding);
  if (s.groups != 1) a.set("groups", s.groups);
  a.set("activation", s.act);
  if (!s.output_padding.empty()) a.set("output_padding", s.output_padding);
  return a;
}

double act_ref(const std::string& act, double z) {
  if (act == "relu") return z > 0 ? z : 0;
  if (act == "sigmoid") return 1 / (1 + std::exp(-z));
  if (act == "tanh") return std::tanh(z);
  return z;
}

double act_grad_from_y(const std::string& act, double y) {
  if (act == "relu") return y > 0 ? 1 : 0;
  if (act == "sigmoid") return y * (1 - y);
  if (act == "tanh") return 1 - y * y;
  return 1;
}

std::vector<double> values(const Tensor& t) {
  std::vector<double> v(t.size());
  for (int64_t i = 0; i < t.size(); ++i)
    v[i] = t.dtype() == DType::f64 ? t.data<double>()[i] : t.data<float>()[i];
  return v;
}

Tensor cast(const Tensor& t, DType dt) {
  Tensor r(t.shape(), dt);
  for (int64_t i = 0; i < t.size(); ++i) {
    const double v = t.dtype() == DType::f64 ? t.data<double>()[i] : t.data<float>()[i];
    if (dt == DType::f64) r.data<double>()[i] = v;
    else r.data<float>()[i] = static_cast<float>(v);
  }
  return r;
}

double max_rel_diff(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return std::numeric_limits<double>::infinity();
  double scale = 1;
  for (double v : b) scale = std::max(scale, std::fabs(v));
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) || std::isnan(b[i])) return std::numeric_limits<double>::infinity();
    worst = std::max(worst, std::fabs(a[i] - b[i]) / scale);
  }
  return worst;
}

// Up to 3 spatial axes as (N, D, H, W, C) with leading spatial extents 1.
struct Dims5 {
  int64_t n, s[3], c;
};
Dims5 dims5(const Shape& sh) {
  Dims5 d{sh[0], {1, 1, 1}, sh.back()};
  const int k = static_cast<int>(sh.size()) - 2;
  for (int i = 0; i < k; ++i) d.s[3 - k + i] = sh[1 + i];
  return d;
}
struct Axis {  // one spatial axis of the reference
  int64_t in = 1, k = 1, s = 1, d = 1, left = 0, out = 1;
};

// Keras/TF padding of a conv along one axis.
Axis conv_axis(int64_t in, int64_t k, int64_t s, int64_t d, const std::string& padding) {
  Axis a{in, k, s, d, 0, 0};
  const int64_t keff = (k - 1) * d + 1;
  if (padding == "valid") {
    a.out = (in - keff) / s + 1;
  } else if (padding == "causal") {
    a.left = keff - 1;
    a.out = (in + s - 1) / s;
  } else {
    a.out = (in + s - 1) / s;
    a.left = std::max<int64_t>((a.out - 1) * s + keff - in, 0) / 2;
  }
  return a;
}

std::vector<Axis> conv_axes(const Spec& sp) {
  const int k = nsp(sp);
  std::vector<Axis> ax(3);
  for (int i = 0; i < k; ++i)
    ax[3 - k + i] = conv_axis(sp.x[1 + i], sp.w[i], stride_of(sp, i), dil_of(sp, i), sp.padding);
  return ax;
}

// conv reference: y[n, o, co] = act(b[co] + sum_{tap, ci in group} x[n, o*s + tap*d - left,
// g*Cg + ci] * w[tap, ci, co]).
std::vector<double> ref_conv(const Spec& sp, const std::vector<double>& x,
                             const std::vector<double>& w, const std::vector<double>& b,
                             Shape* out_shape) {
  const auto ax = conv_axes(sp);
  const Dims5 xd = dims5(sp.x);
  const int64_t C = xd.c, cout = sp.w.back(), G = sp.groups, Cg = C / G, og = cout / G;
  Shape os = {xd.n};
  for (int i = 3 - nsp(sp); i < 3; ++i) os.push_back(ax[i].out);
  os.push_back(cout);
  *out_shape = os;
  std::vector<double> y(numel(os));
  int64_t idx = 0;
  for (int64_t n = 0; n < xd.n; ++n)
    for (int64_t o0 = 0; o0 < ax[0].out; ++o0)
      for (int64_t o1 = 0; o1 < ax[1].out; ++o1)
        for (int64_t o2 = 0; o2 < ax[2].out; ++o2)
          for (int64_t co = 0; co < cout; ++co) {
            const int64_t grp = co / og;
            double z = sp.bias ? b[co] : 0;
            for (int64_t k0 = 0; k0 < ax[0].k; ++k0)
              for (int64_t k1 = 0; k1 < ax[1].k; ++k1)
                for (int64_t k2 = 0; k2 < ax[2].k; ++k2) {
                  const int64_t i0 = o0 * ax[0].s + k0 * ax[0].d - ax[0].left;
                  const int64_t i1 = o1 * ax[1].s + k1 * ax[1].d - ax[1].left;
                  const int64_t i2 = o2 * ax[2].s + k2 * ax[2].d - ax[2].left;
                  if (i0 < 0 || i0 >= ax[0].in || i1 < 0 || i1 >= ax[1].in || i2 < 0 ||
                      i2 >= ax[2].in)
                    continue;
                  const int64_t tap = (k0 * ax[1].k + k1) * ax[2].k + k2;
                  for (int64_t ci = 0; ci < Cg; ++ci)
                    z += x[(((n * ax[0].in + i0) * ax[1].in + i1) * ax[2].in + i2) * C +
                           grp * Cg + ci] *
                         w[(tap * Cg + ci) * cout + co];
                }
            y[idx++] = act_ref(sp.act, z);
          }
  return y;
}

// Gradients of conv from gy by direct scatter loops (gz = gy * act'(y)).
void ref_conv_grads(const Spec& sp, const std::vector<double>& x, const std::vector<double>& w,
                    const std::vector<double>& y, const std::vector<double>& gy,
                    std::vector<double>& dx, std::vector<double>& dw, std::vector<double>& db) {
  const auto ax = conv_axes(sp);
  const Dims5 xd = dims5(sp.x);
  const int64_t C = xd.c, cout = sp.w.back(), G = sp.groups, Cg = C / G, og = cout / G;
  dx.assign(x.size(), 0);
  dw.assign(w.size(), 0);
  db.assign(cout, 0);
  int64_t idx = 0;
  for (int64_t n = 0; n < xd.n; ++n)
    for (int64_t o0 = 0; o0 < ax[0].out; ++o0)
      for (int64_t o1 = 0; o1 < ax[1].out; ++o1)
        for (int64_t o2 = 0; o2 < ax[2].out; ++o2)
          for (int64_t co = 0; co < cout; ++co, ++idx) {
            const double gz = gy[idx] * act_grad_from_y(sp.act, y[idx]);
            const int64_t grp = co / og;
            db[co] += gz;
            for (int64_t k0 = 0; k0 < ax[0].k; ++k0)
              for (int64_t k1 = 0; k1 < ax[1].k; ++k1)
                for (int64_t k2 = 0; k2 < ax[2].k; ++k2) {
                  const int64_t i0 = o0 * ax[0].s + k0 * ax[0].d - ax[0].left;
                  const int64_t i1 = o1 * ax[1].s + k1 * ax[1].d - ax[1].left;
                  const int64_t i2 = o2 * ax[2].s + k2 * ax[2].d - ax[2].left;
                  if (i0 < 0 || i0 >= ax[0].in || i1 < 0 || i1 >= ax[1].in || i2 < 0 ||
                      i2 >= ax[2].in)
                    continue;
                  const int64_t tap = (k0 * ax[1].k + k1) * ax[2].k + k2;
                  for (int64_t ci = 0; ci < Cg; ++ci) {
                    const int64_t xi =
                        (((n * ax[0].in + i0) * ax[1].in + i1) * ax[2].in + i2) * C + grp * Cg +
                        ci;
                    const int64_t wi = (tap * Cg + ci) * cout + co;
                    dx[xi] += gz * w[wi];
                    dw[wi] += gz * x[xi];
                  }
                }
          }
}

// conv_transpose reference as JAX computes it (keras/src/backend/jax/nn.py): x dilated by the
// stride, padded (left, right) by Keras's rule, correlated with the spatially flipped kernel.
struct TAxis {
  int64_t in, k, s, d, left, zlen, out;
};
TAxis transpose_axis(int64_t in, int64_t k, int64_t s, int64_t d, const std::string& padding,
                     bool has_op, int64_t op) {
  const int64_t keff = (k - 1) * d + 1;
  int64_t left, right;
  if (padding == "valid") {
    const int64_t opad = has_op ? op : std::max(keff, s) - keff;
    left = keff - 1;
    right = keff - 1 + opad;
  } else {
    const int64_t pad_len = has_op ? keff + keff % 2 - 2 + op : s + keff - 2;
    left = std::min(pad_len / 2 + pad_len % 2, keff - 1);
    right = pad_len - left;
  }
  const int64_t zlen = (in - 1) * s + 1 + left + right;
  return {in, k, s, d, left, zlen, zlen - keff + 1};
}

std::vector<double> ref_conv_transpose(const Spec& sp, const std::vector<double>& x,
                                       const std::vector<double>& w,
                                       const std::vector<double>& b, Shape* out_shape) {
  const int k = nsp(sp);
  std::vector<TAxis> ax(3, TAxis{1, 1, 1, 1, 0, 1, 1});
  for (int i = 0; i < k; ++i)
    ax[3 - k + i] = transpose_axis(sp.x[1 + i], sp.w[i], stride_of(sp, i), dil_of(sp, i),
                                   sp.padding, !sp.output_padding.empty(),
                                   sp.output_padding.empty() ? 0 : sp.output_padding[i]);
  const Dims5 xd = dims5(sp.x);
  const int64_t cin = xd.c, cout = sp.w[k];
  Shape os = {xd.n};
  for (int i = 3 - k; i < 3; ++i) os.push_back(ax[i].out);
  os.push_back(cout);
  *out_shape = os;
  // z(axis, j) -> index into x along that axis, or -1 where z is a hole or padding
  auto src = [&](int a, int64_t j) -> int64_t {
    const int64_t q = j - ax[a].left;
    if (q < 0 || q % ax[a].s != 0 || q / ax[a].s >= ax[a].in) return -1;
    return q / ax[a].s;
  };
  std::vector<double> y(numel(os));
  int64_t idx = 0;
  for (int64_t n = 0; n < xd.n; ++n)
    for (int64_t o0 = 0; o0 < ax[0].out; ++o0)
      for (int64_t o1 = 0; o1 < ax[1].out; ++o1)
        for (int64_t o2 = 0; o2 < ax[2].out; ++o2)
          for (int64_t co = 0; co < cout; ++co) {
            double z = sp.bias ? b[co] : 0;
            for (int64_t k0 = 0; k0 < ax[0].k; ++k0)
              for (int64_t k1 = 0; k1 < ax[1].k; ++k1)
                for (int64_t k2 = 0; k2 < ax[2].k; ++k2) {
                  const int64_t i0 = src(0, o0 + k0 * ax[0].d), i1 = src(1, o1 + k1 * ax[1].d),
                                i2 = src(2, o2 + k2 * ax[2].d);
                  if (i0 < 0 || i1 < 0 || i2 < 0) continue;
                  // flipped kernel: tap (K-1-k) of each axis
                  const int64_t tap = ((ax[0].k - 1 - k0) * ax[1].k + (ax[1].k - 1 - k1)) *
                                          ax[2].k +
                                      (ax[2].k - 1 - k2);
                  for (int64_t ci = 0; ci < cin; ++ci)
                    z += x[(((n * ax[0].in + i0) * ax[1].in + i1) * ax[2].in + i2) * cin + ci] *
                         w[(tap * cout + co) * cin + ci];
                }
            y[idx++] = act_ref(sp.act, z);
          }
  return y;
}

// depthwise reference: y[n, o, c*dm + m] = act(b + sum_tap x[n, o*s + tap*d - left, c] *
// w[tap, c, m]).
std::vector<double> ref_depthwise(const Spec& sp, const std::vector<double>& x,
                                  const std::vector<double>& w, const std::vector<double>& b,
                                  Shape* out_shape) {
  const auto ax = conv_axes(sp);
  const Dims5 xd = dims5(sp.x);
  const int64_t C = xd.c, dm = sp.w.back();
  Shape os = {xd.n};
  for (int i = 3 - nsp(sp); i < 3; ++i) os.push_back(ax[i].out);
  os.push_back(C * dm);
  *out_shape = os;
  std::vector<double> y(numel(os));
  int64_t idx = 0;
  for (int64_t n = 0; n < xd.n; ++n)
    for (int64_t o0 = 0; o0 < ax[0].out; ++o0)
      for (int64_t o1 = 0; o1 < ax[1].out; ++o1)
        for (int64_t o2 = 0; o2 < ax[2].out; ++o2)
          for (int64_t c = 0; c < C; ++c)
            for (int64_t m = 0; m < dm; ++m) {
              double z = sp.bias ? b[c * dm + m] : 0;
              for (int64_t k0 = 0; k0 < ax[0].k; ++k0)
                for (int64_t k1 = 0; k1 < ax[1].k; ++k1)
                  for (int64_t k2 = 0; k2 < ax[2].k; ++k2) {
                    const int64_t i0 = o0 * ax[0].s + k0 * ax[0].d - ax[0].left;
                    const int64_t i1 = o1 * ax[1].s + k1 * ax[1].d - ax[1].left;
                    const int64_t i2 = o2 * ax[2].s + k2 * ax[2].d - ax[2].left;
                    if (i0 < 0 || i0 >= ax[0].in || i1 < 0 || i1 >= ax[1].in || i2 < 0 ||
                        i2 >= ax[2].in)
                      continue;
                    const int64_t tap = (k0 * ax[1].k + k1) * ax[2].k + k2;
                    z += x[(((n * ax[0].in + i0) * ax[1].in + i1) * ax[2].in + i2) * C + c] *
                         w[(tap * C + c) * dm + m];
                  }
              y[idx++] = act_ref(sp.act, z);
            }
  return y;
}

using RefFn = std::function<std::vector<double>(const Spec&, const std::vector<double>&,
                                                const std::vector<double>&,
                                                const std::vector<double>&, Shape*)>;

RefFn reference(const std::string& op) {
  if (op == "conv") return ref_conv;
  if (op == "conv_transpose") return ref_conv_transpose;
  return ref_depthwise;
}

Shape bias_shape(const std::string& op, const Spec& sp) {
  const int k = nsp(sp);
  if (op == "conv") return {sp.w[k + 1]};
  if (op == "conv_transpose") return {sp.w[k]};
  return {sp.w[k] * sp.w[k + 1]};
}

std::vector<Tensor> inputs_of(const std::string& op, const Spec& sp, uint32_t seed) {
  std::vector<Tensor> in = {random_tensor(sp.x, DType::f64, seed),
                            random_tensor(sp.w, DType::f64, seed + 1)};
  if (sp.bias) in.push_back(random_tensor(bias_shape(op, sp), DType::f64, seed + 2));
  return in;
}

// Forward in float64 and float32 against the reference, and the gradient check.
void check_variant(const std::string& op, const Spec& sp, const std::string& label) {
  const Attrs a = attrs_of(sp);
  std::vector<Tensor> in = inputs_of(op, sp, 11);
  Shape ref_shape;
  const std::vector<double> ref =
      reference(op)(sp, values(in[0]), values(in[1]),
                    sp.bias ? values(in[2]) : std::vector<double>{}, &ref_shape);
  Tensor y64 = forward(op, a, in);
  const bool shape_ok = y64.shape() == ref_shape;
  if (!shape_ok)
    check::fail(__FILE__, __LINE__, std::string(label) + ": shape " + shape_str(y64.shape()) +
                                        " vs reference " + shape_str(ref_shape));
  if (!shape_ok) return;
  const double e64 = max_rel_diff(values(y64), ref);
  EXPECT_BELOW(e64, 1e-12, std::string(label) + " f64 forward");
  std::vector<Tensor> in32;
  for (auto& t : in) in32.push_back(cast(t, DType::f32));
  Tensor y32 = forward(op, a, in32);
  CHECK(y32.dtype() == DType::f32);
  const double e32 = max_rel_diff(values(y32), ref);
  EXPECT_BELOW(e32, 2e-5, std::string(label) + " f32 forward");
  std::vector<int> wrt = {0, 1};
  if (sp.bias) wrt.push_back(2);
  const double ge = grad_error(op, a, in, wrt);
  EXPECT_BELOW(ge, 1e-6, std::string(label) + " gradient");
}

// Runs backward with upstream gradient g into preset buffers (accumulate flags per input).
std::vector<Tensor> run_backward(const std::string& op, const Attrs& a,
                                 const std::vector<Tensor>& in, const Tensor& g,
                                 std::vector<Tensor> grads, const std::vector<bool>& acc,
                                 std::vector<bool> wanted = {}) {
  if (wanted.empty()) wanted.assign(in.size(), true);
  const OpDef& d = OpRegistry::instance().get(op);
  std::vector<TensorMeta> metas;
  for (auto& t : in) metas.push_back({t.shape(), t.dtype()});
  Tensor out = forward(op, a, in);
  auto bytes_tensor = [](size_t b) {
    return Tensor({static_cast<int64_t>(b / 4 + 1)}, DType::f32);
  };
  GradContext gc;
  for (auto& t : in) gc.inputs.push_back(&t);
  gc.output = &out;
  gc.attrs = &a;
  Tensor aux, scratch;
  gc.aux = &aux;
  if (d.scratch_bytes) scratch = bytes_tensor(d.scratch_bytes(metas, a, wanted));
  gc.scratch = &scratch;
  gc.grad_out = &g;
  gc.grad_in.assign(in.size(), nullptr);
  for (size_t i = 0; i < in.size(); ++i) gc.grad_in[i] = wanted[i] ? &grads[i] : nullptr;
  gc.accumulate = acc;
  d.backward(gc);
  return grads;
}

// Large case: forward against the reference and backward against direct reference gradients
// (too many elements for central differences).
void check_large_conv(const Spec& sp, DType dt, const std::string& label) {
  const Attrs a = attrs_of(sp);
  std::vector<Tensor> in64 = inputs_of("conv", sp, 5);
  std::vector<Tensor> in;
  for (auto& t : in64) in.push_back(cast(t, dt));
  std::vector<Tensor> inr;  // the reference sees exactly the values the op saw
  for (auto& t : in) inr.push_back(cast(t, DType::f64));
  Shape os;
  const auto x = values(inr[0]), w = values(inr[1]);
  const auto b = sp.bias ? values(inr[2]) : std::vector<double>{};
  const auto yref = ref_conv(sp, x, w, b, &os);
  Tensor y = forward("conv", a, in);
  REQUIRE(y.shape() == os);
  const double tol = dt == DType::f64 ? 1e-12 : 5e-5;
  const double ef = max_rel_diff(values(y), yref);
  EXPECT_BELOW(ef, tol, std::string(label) + " forward");
  Tensor g = cast(random_tensor(os, DType::f64, 8), dt);
  std::vector<Tensor> grads;
  for (auto& t : in) grads.emplace_back(t.shape(), dt);
  grads = run_backward("conv", a, in, g, grads, std::vector<bool>(in.size(), false));
  std::vector<double> dx, dw, db;
  ref_conv_grads(sp, x, w, values(y), values(g), dx, dw, db);
  const double ex = max_rel_diff(values(grads[0]), dx), ew = max_rel_diff(values(grads[1]), dw);
  EXPECT_BELOW(ex, tol, std::string(label) + " dx");
  EXPECT_BELOW(ew, tol, std::string(label) + " dw");
  if (sp.bias) {
    const double eb = max_rel_diff(values(grads[2]), db);
    EXPECT_BELOW(eb, tol, std::string(label) + " db");
  }
  // Without dx (a first layer) the direct kernels take another path: gz formed tile by tile.
  std::vector<bool> wanted(in.size(), true);
  wanted[0] = false;
  grads = run_backward("conv", a, in, g, grads, std::vector<bool>(in.size(), false), wanted);
  EXPECT_BELOW(max_rel_diff(values(grads[1]), dw), tol, std::string(label) + " dw without dx");
  if (sp.bias)
    EXPECT_BELOW(max_rel_diff(values(grads[2]), db), tol, std::string(label) + " db without dx");
}

// The test's view of how the CPU drivers cut conv's column matrix: one row per output line
// (n, d, h) of out_w pixels x taps x in channels, tiles of kConvTileBytes, two tiles per
// thread at least for the threads to take tiles of their own (else they share chunks of about
// one tile per thread). The large cases are sized with it to reach the paths they name.
struct Tiles {
  int64_t rows, rows_per_image, tile_rows, tiles;
};
Tiles tiles_of(const Spec& sp, size_t elem) {
  const auto ax = conv_axes(sp);
  int64_t taps = 1;
  for (int i = 0; i < nsp(sp); ++i) taps *= sp.w[i];
  const size_t row = ax[2].out * taps * sp.x.back() * elem;
  Tiles t;
  t.rows_per_image = ax[0].out * ax[1].out;
  t.rows = sp.x[0] * t.rows_per_image;
  t.tile_rows = std::max<int64_t>(1, static_cast<int64_t>(kConvTileBytes / row));
  t.tiles = (t.rows + t.tile_rows - 1) / t.tile_rows;
  return t;
}

// Runs f with 1 and with 2 threads (tiles of one thread; tiles or shared chunks of two), then
// restores the default.
void with_threads(const std::function<void(int)>& f) {
  for (int n : {1, 2}) {
    set_num_threads(n);
    f(n);
  }
  set_num_threads(0);
}

TensorMeta infer(const std::string& op, const Attrs& a, const std::vector<TensorMeta>& in) {
  return OpRegistry::instance().get(op).infer(in, a);
}

// The error message of infer, or "" when it does not throw ValueError.
std::string infer_error(const std::string& op, const Attrs& a, const std::vector<Shape>& shapes) {
  std::vector<TensorMeta> in;
  for (auto& s : shapes) in.push_back({s, DType::f32});
  try {
    infer(op, a, in);
  } catch (const ValueError& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

const char* kActs[] = {"linear", "relu", "sigmoid", "tanh"};

}  // namespace

// ---------------------------------------------------------------- conv

TEST_CASE("conv 1-D: padding, stride, dilation, groups, causal") {
  Spec s;
  s.x = {2, 9, 4};
  s.w = {3, 4, 5};
  for (const char* p : {"valid", "same", "causal"}) {
    s.padding = p;
    check_variant("conv", s, std::string("conv1d ") + p);
  }
  Spec st = s;
  st.padding = "same";
  st.strides = {2};
  check_variant("conv", st, "conv1d same stride 2");
  st.padding = "valid";
  st.strides = {3};
  check_variant("conv", st, "conv1d valid stride 3");
  Spec dl = s;
  dl.dil = {2};
  for (const char* p : {"valid", "same", "causal"}) {
    dl.padding = p;
    check_variant("conv", dl, std::string("conv1d dilation 2 ") + p);
  }
  Spec gr = s;
  gr.w = {3, 2, 6};
  gr.groups = 2;
  gr.padding = "same";
  check_variant("conv", gr, "conv1d groups 2");
  Spec cs = s;
  cs.padding = "causal";
  cs.strides = {2};
  cs.dil = {1};
  check_variant("conv", cs, "conv1d causal stride 2");
}

TEST_CASE("conv 2-D: padding, strides, dilation, groups, rectangular kernels") {
  Spec s;
  s.x = {2, 7, 6, 3};
  s.w = {3, 3, 3, 4};
  for (const char* p : {"valid", "same"}) {
    s.padding = p;
    check_variant("conv", s, std::string("conv2d ") + p);
    Spec st = s;
    st.strides = {2, 2};
    check_variant("conv", st, std::string("conv2d stride 2 ") + p);
    Spec mixed = s;
    mixed.w = {2, 3, 3, 2};  // even kernel: 'same' pads more on the right
    mixed.strides = {2, 1};
    check_variant("conv", mixed, std::string("conv2d 2x3 strides (2,1) ") + p);
    Spec dl = s;
    dl.dil = {2, 1};
    check_variant("conv", dl, std::string("conv2d dilation (2,1) ") + p);
    Spec gr = s;
    gr.x = {2, 5, 5, 6};
    gr.w = {3, 3, 2, 6};
    gr.groups = 3;
    check_variant("conv", gr, std::string("conv2d groups 3 ") + p);
  }
  Spec sd = s;  // strides and dilation together (the op allows it; Keras layers do not)
  sd.x = {1, 9, 9, 2};
  sd.w = {3, 3, 2, 3};
  sd.padding = "same";
  sd.strides = {2, 2};
  sd.dil = {2, 2};
  check_variant("conv", sd, "conv2d stride 2 dilation 2 same");
}

TEST_CASE("conv 2-D: 1x1 fast path and 1x1 strided, each activation, bias or not") {
  Spec p;
  p.x = {2, 4, 5, 6};
  p.w = {1, 1, 6, 4};
  for (const char* pad : {"valid", "same"}) {
    p.padding = pad;
    check_variant("conv", p, std::string("conv2d 1x1 ") + pad);
  }
  Spec pg = p;
  pg.w = {1, 1, 3, 4};
  pg.groups = 2;
  check_variant("conv", pg, "conv2d 1x1 groups 2");
  Spec ps = p;
  ps.strides = {2, 2};
  check_variant("conv", ps, "conv2d 1x1 stride 2");
  for (const char* act : kActs)
    for (bool bias : {true, false}) {
      Spec s;
      s.x = {2, 5, 5, 3};
      s.w = {3, 3, 3, 4};
      s.padding = "same";
      s.act = act;
      s.bias = bias;
      check_variant("conv", s, std::string("conv2d act ") + act + (bias ? " bias" : ""));
      Spec q = p;
      q.act = act;
      q.bias = bias;
      check_variant("conv", q, std::string("conv2d 1x1 act ") + act + (bias ? " bias" : ""));
    }
}

TEST_CASE("conv 3-D: valid, same, strides, groups") {
  Spec s;
  s.x = {1, 4, 5, 4, 2};
  s.w = {2, 3, 2, 2, 3};
  for (const char* p : {"valid", "same"}) {
    s.padding = p;
    check_variant("conv", s, std::string("conv3d ") + p);
  }
  Spec st = s;
  st.padding = "same";
  st.strides = {2, 1, 2};
  st.act = "tanh";
  check_variant("conv", st, "conv3d same strides (2,1,2) tanh");
  Spec gr = s;
  gr.x = {2, 3, 3, 3, 4};
  gr.w = {2, 2, 2, 2, 4};
  gr.groups = 2;
  gr.bias = false;
  check_variant("conv", gr, "conv3d groups 2");
}

TEST_CASE("conv large: tiles per thread, shared chunks, col2im chunks, 1 and 2 threads") {
  Spec many;  // many tiles: threads take tiles of their own, partial kernel gradients
  many.x = {7, 48, 48, 16};
  many.w = {3, 3, 16, 8};
  many.padding = "same";
  CHECK(tiles_of(many, 8).tiles >= 4 && tiles_of(many, 4).tiles >= 4);
  Spec few = many;  // fewer than two tiles per thread: shared chunks (two of them)
  few.x = {1, 120, 40, 16};
  const Tiles ft = tiles_of(few, 8);
  CHECK(ft.tiles < 4 && ft.rows > 2 * ft.tile_rows);
  Spec st;  // strided (dx by col2im): chunks of whole images with two threads
  st.x = {5, 64, 64, 32};
  st.w = {3, 3, 32, 4};
  st.padding = "same";
  st.strides = {2, 2};
  const Tiles stt = tiles_of(st, 8);
  CHECK(2 * stt.tile_rows >= stt.rows_per_image && stt.rows > 2 * stt.tile_rows);
  Spec sti = st;  // strided, chunks inside the image
  sti.x = {1, 160, 160, 32};
  sti.act = "tanh";
  CHECK(2 * tiles_of(sti, 8).tile_rows < tiles_of(sti, 8).rows_per_image);
  Spec wide;  // unit strides: dx as a convolution, its columns (taps x 40 per pixel) in tiles
  wide.x = {1, 100, 100, 4};
  wide.w = {3, 3, 4, 40};
  wide.padding = "valid";
  wide.dil = {2, 1};
  CHECK(100 / std::max<int64_t>(1, kConvTileBytes / (100 * 9 * 40 * 8)) >= 4);
  Spec grp;
  grp.x = {1, 70, 70, 24};
  grp.w = {3, 3, 12, 8};
  grp.groups = 2;
  grp.strides = {2, 2};
  grp.padding = "same";
  Spec pw;  // 1x1 over many pixels
  pw.x = {4, 40, 40, 32};
  pw.w = {1, 1, 32, 16};
  Spec fat;  // enough tiles, but partial kernels (17 MB each) too large: shared chunks for dW
  fat.x = {28, 3, 3, 3700};
  fat.w = {3, 3, 3700, 64};
  fat.bias = false;
  CHECK(tiles_of(fat, 8).tiles >= 4 && 2 * 9 * 3700 * 64 * 8 > kConvPartialBytes);
  with_threads([&](int n) {
    const std::string t = " threads " + std::to_string(n);
    check_large_conv(many, DType::f64, "conv large tiles f64" + t);
    Spec relu = many;
    relu.act = "relu";
    check_large_conv(relu, DType::f32, "conv large tiles relu f32" + t);
    check_large_conv(few, DType::f64, "conv large shared chunks f64" + t);
    check_large_conv(st, DType::f64, "conv large strided whole images f64" + t);
    check_large_conv(sti, DType::f64, "conv large strided in-image chunks f64" + t);
    check_large_conv(wide, DType::f64, "conv large adjoint tiles f64" + t);
    check_large_conv(grp, DType::f32, "conv large groups strided f32" + t);
    check_large_conv(pw, DType::f32, "conv large 1x1 f32" + t);
    check_large_conv(fat, DType::f64, "conv large big kernel f64" + t);
  });
}

TEST_CASE("conv direct kernels (small reduction): tiles, padded channel blocks, 1 and 2 threads") {
  // Which convolutions take them: one group, not pointwise, taps x channels <= 75.
  ConvGeom g;
  g.k[1] = g.k[2] = 3;
  g.img[1] = g.img[2] = g.out[1] = g.out[2] = 8;
  g.channels = 8;
  CHECK(conv_direct(g));  // 72
  g.channels = 9;
  CHECK(!conv_direct(g));  // 81
  g.channels = 8;
  g.groups = 2;
  CHECK(!conv_direct(g));
  ConvGeom one;
  one.channels = 3;
  CHECK(!conv_direct(one));  // 1x1: x is the column matrix, BLAS multiplies it as it is

  Spec first;  // the seed CNN's first layer: 32 channels fill whole register blocks
  first.x = {9, 28, 28, 1};
  first.w = {3, 3, 1, 32};
  first.act = "relu";
  {  // without dx, backward plans no buffer for gz (it is formed tile by tile)
    const OpDef& d = OpRegistry::instance().get("conv");
    const std::vector<TensorMeta> metas = {
        {first.x, DType::f32}, {first.w, DType::f32}, {Shape{32}, DType::f32}};
    const size_t y_bytes = 9 * 26 * 26 * 32 * 4;
    CHECK(d.scratch_bytes(metas, attrs_of(first), {true, true, true}) >= y_bytes);
    CHECK(d.scratch_bytes(metas, attrs_of(first), {false, true, true}) < y_bytes / 8);
  }
  Spec rgb;  // K = 75 exactly; 10 channels padded to a block; strides; a partial last tile
  rgb.x = {3, 31, 29, 3};
  rgb.w = {5, 5, 3, 10};
  rgb.padding = "same";
  rgb.strides = {2, 2};
  rgb.act = "tanh";
  Spec seq;  // 1-D causal, dilated, no bias
  seq.x = {4, 200, 2};
  seq.w = {7, 2, 24};
  seq.padding = "causal";
  seq.dil = {2};
  seq.bias = false;
  Spec vol;  // 3-D
  vol.x = {2, 9, 10, 11, 2};
  vol.w = {3, 3, 3, 2, 16};
  vol.padding = "same";
  vol.act = "sigmoid";
  Spec dil;  // dilation, 'valid'
  dil.x = {2, 30, 30, 4};
  dil.w = {3, 3, 4, 8};
  dil.dil = {2, 3};
  with_threads([&](int n) {
    const std::string t = " threads " + std::to_string(n);
    for (DType dt : {DType::f64, DType::f32}) {
      const std::string d = dt == DType::f64 ? " f64" : " f32";
      check_large_conv(first, dt, "conv direct first layer" + d + t);
      check_large_conv(rgb, dt, "conv direct 5x5x3 strided" + d + t);
      check_large_conv(seq, dt, "conv direct 1-D causal dilated" + d + t);
      check_large_conv(vol, dt, "conv direct 3-D" + d + t);
      check_large_conv(dil, dt, "conv direct dilated" + d + t);
    }
  });
}

namespace {

// One small case per backward path of the family.
struct Variant {
  const char* op;
  Spec s;
};
std::vector<Variant> backward_variants() {
  std::vector<Variant> v;
  Spec base;
  base.x = {2, 6, 6, 4};
  base.w = {3, 3, 4, 6};
  base.padding = "same";
  base.act = "sigmoid";
  v.push_back({"conv", base});  // dx by the adjoint convolution (direct kernels for dW)
  Spec wide = base;
  wide.x = {2, 6, 6, 9};
  wide.w = {3, 3, 9, 6};
  v.push_back({"conv", wide});  // im2col + BLAS for forward and dW (reduction 81)
  Spec strided = base;
  strided.strides = {2, 2};
  strided.act = "tanh";
  v.push_back({"conv", strided});  // dx by col2im
  Spec one = base;
  one.w = {1, 1, 4, 6};
  one.act = "linear";
  v.push_back({"conv", one});  // pointwise
  Spec tr = base;
  tr.w = {3, 3, 5, 4};
  tr.strides = {2, 2};
  v.push_back({"conv_transpose", tr});
  Spec tr1 = tr;
  tr1.w = {1, 1, 5, 4};
  tr1.strides = {1, 1};
  v.push_back({"conv_transpose", tr1});  // pointwise
  Spec dw1 = base;
  dw1.w = {3, 3, 4, 1};
  v.push_back({"depthwise_conv", dw1});
  Spec dw2 = base;
  dw2.w = {3, 3, 4, 2};
  dw2.act = "linear";
  v.push_back({"depthwise_conv", dw2});
  return v;
}

std::vector<Tensor> zeros_like(const std::vector<Tensor>& in) {
  std::vector<Tensor> r;
  for (auto& t : in) r.emplace_back(t.shape(), t.dtype());
  return r;
}

}  // namespace

TEST_CASE("conv family backward accumulates, and overwrites when assigning") {
  for (const Variant& v : backward_variants()) {
    const Attrs a = attrs_of(v.s);
    std::vector<Tensor> in = inputs_of(v.op, v.s, 3);
    Tensor g = random_tensor(forward(v.op, a, in).shape(), DType::f64, 4);
    auto assigned = run_backward(v.op, a, in, g, zeros_like(in), {false, false, false});
    std::vector<Tensor> preset, keep;
    for (auto& t : in) {
      preset.push_back(random_tensor(t.shape(), DType::f64, 9));
      keep.push_back(cast(preset.back(), DType::f64));
    }
    auto added = run_backward(v.op, a, in, g, preset, {true, true, true});
    for (size_t i = 0; i < in.size(); ++i) {
      std::vector<double> expect = values(keep[i]);
      for (size_t j = 0; j < expect.size(); ++j) expect[j] += assigned[i].data<double>()[j];
      const double e = max_rel_diff(values(added[i]), expect);
      if (!(e < 1e-13))
        check::fail(__FILE__, __LINE__, std::string(v.op) + ": accumulated gradient " +
                                            std::to_string(i) + " off by " + std::to_string(e));
    }
    std::vector<Tensor> garbage;  // whatever the assigned buffers held is overwritten
    for (auto& t : in) garbage.push_back(random_tensor(t.shape(), DType::f64, 21, 5, 9));
    auto over = run_backward(v.op, a, in, g, garbage, {false, false, false});
    for (size_t i = 0; i < in.size(); ++i)
      CHECK(max_rel_diff(values(over[i]), values(assigned[i])) < 1e-14);
  }
}

TEST_CASE("conv family backward computes each gradient alone as it does all together") {
  for (const Variant& v : backward_variants()) {
    const Attrs a = attrs_of(v.s);
    std::vector<Tensor> in = inputs_of(v.op, v.s, 17);
    Tensor g = random_tensor(forward(v.op, a, in).shape(), DType::f64, 18);
    auto all = run_backward(v.op, a, in, g, zeros_like(in), {false, false, false});
    for (int only = 0; only < 3; ++only) {
      std::vector<bool> wanted(3, false);
      wanted[only] = true;
      auto one_grad = run_backward(v.op, a, in, g, zeros_like(in), {false, false, false}, wanted);
      for (int i = 0; i < 3; ++i) {
        // the wanted gradient as before; the others untouched (zeros)
        const double e = i == only ? max_rel_diff(values(one_grad[i]), values(all[i]))
                                   : max_rel_diff(values(one_grad[i]),
                                                  std::vector<double>(in[i].size(), 0.0));
        if (!(e < 1e-14))
          check::fail(__FILE__, __LINE__, std::string(v.op) + ": gradient " + std::to_string(i) +
                                              " with only input " + std::to_string(only) +
                                              " wanted is off by " + std::to_string(e));
      }
    }
  }
}

TEST_CASE("conv family on an empty batch or width: empty outputs, zero parameter gradients") {
  std::vector<Variant> empty;
  for (Variant v : backward_variants()) {
    Variant batch = v, width = v;
    batch.s.x[0] = 0;
    empty.push_back(batch);
    width.s.x[nsp(v.s)] = 0;  // 'same' padding: an output of width 0 too (which
    // conv_transpose's shape inference refuses)
    if (v.s.padding == "same" && std::string(v.op) != "conv_transpose") empty.push_back(width);
  }
  for (const Variant& v : empty) {
    const Attrs a = attrs_of(v.s);
    std::vector<Tensor> in = inputs_of(v.op, v.s, 1);
    Tensor y = forward(v.op, a, in);
    CHECK(y.size() == 0);
    std::vector<Tensor> garbage;
    for (auto& t : in) garbage.push_back(random_tensor(t.shape(), DType::f64, 2, 5, 9));
    auto grads = run_backward(v.op, a, in, Tensor(y.shape(), DType::f64), garbage,
                              {false, false, false});
    for (int i = 1; i < 3; ++i)
      for (int64_t j = 0; j < grads[i].size(); ++j) CHECK(grads[i].data<double>()[j] == 0.0);
  }
}

TEST_CASE("conv shape inference with unknown extents and errors") {
  Attrs a;
  a.set("padding", std::string("same"));
  a.set("strides", std::vector<int64_t>{2, 2});
  TensorMeta m = infer("conv", a, {{{kUnknown, 7, 8, 3}, DType::f32}, {{3, 3, 3, 5}, DType::f32}});
  CHECK((m.shape == Shape{kUnknown, 4, 4, 5}));
  m = infer("conv", a, {{{2, kUnknown, 8, 3}, DType::f32}, {{3, 3, 3, 5}, DType::f32}});
  CHECK((m.shape == Shape{2, kUnknown, 4, 5}));
  Attrs v;
  m = infer("conv", v,
            {{{kUnknown, 10, 3}, DType::f64}, {{4, 3, 2}, DType::f64}, {{2}, DType::f64}});
  CHECK((m.shape == Shape{kUnknown, 7, 2}));
  CHECK(m.dtype == DType::f64);

  std::string e = infer_error("conv", v, {{2, 3, 3, 3}, {5, 5, 3, 4}});
  CHECK(contains(e, "op 'conv': kernel size 5 is larger than the padded input size 3 on spatial "
                    "axis 1 with padding 'valid'"));
  Attrs dl;
  dl.set("dilation", std::vector<int64_t>{1, 3});
  e = infer_error("conv", dl, {{2, 9, 5, 3}, {3, 3, 3, 4}});
  CHECK(contains(e, "kernel size 7 (dilated) is larger than the padded input size 5 on "
                    "spatial axis 2"));
  CHECK(contains(infer_error("conv", v, {{2, 5, 5, 3}, {3, 3, 4, 4}}),
                 "expected an input with 4 channels"));
  CHECK(contains(infer_error("conv", v, {{2, 5, 5}, {3, 3, 4, 4}}), "expected a kernel of rank 3"));
  CHECK(contains(infer_error("conv", v, {{5, 5}, {3, 3}}), "expected an input of rank 3, 4 or 5"));
  CHECK(contains(infer_error("conv", v, {{2, 5, 5, 5, 5, 5}, {3, 3, 3, 3, 3, 4}}),
                 "rank 3, 4 or 5"));
  CHECK(contains(infer_error("conv", v, {{2, 5, 5, 3}, {3, 3, 3, 4}, {3}}), "bias of shape (4,)"));
  Attrs g;
  g.set("groups", int64_t{2});
  CHECK(contains(infer_error("conv", g, {{2, 5, 5, 3}, {3, 3, 3, 4}}),
                 "input channels (3) must be divisible by groups (2)"));
  CHECK(contains(infer_error("conv", g, {{2, 5, 5, 4}, {3, 3, 2, 3}}),
                 "output channels (3) must be divisible by groups (2)"));
  CHECK(contains(infer_error("conv", g, {{2, 5, 5, 4}, {3, 3, 4, 4}}),
                 "expected an input with 8 channels (kernel in_channels 4 x groups 2)"));
  g.set("groups", int64_t{0});
  CHECK(contains(infer_error("conv", g, {{2, 5, 5, 4}, {3, 3, 4, 4}}), "groups >= 1"));
  Attrs bad_s;
  bad_s.set("strides", std::vector<int64_t>{0, 1});
  CHECK(contains(infer_error("conv", bad_s, {{2, 5, 5, 4}, {3, 3, 4, 4}}),
                 "expected positive strides, received (0, 1)"));
  bad_s.set("strides", std::vector<int64_t>{1, 1, 1});
  CHECK(contains(infer_error("conv", bad_s, {{2, 5, 5, 4}, {3, 3, 4, 4}}),
                 "strides with one value per spatial axis (2)"));
  Attrs bad_d;
  bad_d.set("dilation", std::vector<int64_t>{-1});
  CHECK(contains(infer_error("conv", bad_d, {{2, 5, 4}, {3, 4, 4}}), "positive dilation"));
  Attrs causal;
  causal.set("padding", std::string("causal"));
  CHECK(contains(infer_error("conv", causal, {{2, 5, 5, 4}, {3, 3, 4, 4}}),
                 "'causal' is only supported for 1-D"));
  Attrs badp;
  badp.set("padding", std::string("full"));
  CHECK(contains(infer_error("conv", badp, {{2, 5, 4}, {3, 4, 4}}),
                 "expected padding 'valid', 'same' or 'causal', received 'full'"));
  Attrs act;
  act.set("activation", std::string("gelu"));
  CHECK(contains(infer_error("conv", act, {{2, 5, 4}, {3, 4, 4}}),
                 "activation 'gelu' cannot be fused"));
  CHECK_THROWS_AS(infer("conv", v, {{{2, 5, 4}, DType::f32}, {{3, 4, 4}, DType::f64}}), TypeError);
  CHECK_THROWS_AS(infer("conv", v, {{{2, 5, 4}, DType::i32}, {{3, 4, 4}, DType::i32}}), TypeError);
}

// ---------------------------------------------------------------- conv_transpose

TEST_CASE("conv_transpose: strides, padding, output_padding, dilation, 1-D/2-D/3-D") {
  Spec s;
  s.x = {2, 4, 3, 3};
  s.w = {3, 3, 2, 3};  // (kh, kw, out, in)
  for (const char* p : {"valid", "same"}) {
    s.padding = p;
    check_variant("conv_transpose", s, std::string("convT2d ") + p);
    Spec st = s;
    st.strides = {2, 2};
    check_variant("conv_transpose", st, std::string("convT2d stride 2 ") + p);
    Spec op = st;
    op.output_padding = {1, 0};
    check_variant("conv_transpose", op,
                  std::string("convT2d stride 2 output_padding (1,0) ") + p);
    Spec ev = st;
    ev.w = {2, 4, 2, 3};  // even kernel, kernel smaller / larger than the stride
    ev.strides = {3, 2};
    check_variant("conv_transpose", ev, std::string("convT2d 2x4 strides (3,2) ") + p);
    Spec ev_op = ev;
    ev_op.output_padding = {2, 1};
    check_variant("conv_transpose", ev_op, std::string("convT2d even output_padding ") + p);
    Spec dl = s;
    dl.dil = {2, 1};
    check_variant("conv_transpose", dl, std::string("convT2d dilation (2,1) ") + p);
    Spec one = s;
    one.w = {1, 1, 4, 3};
    check_variant("conv_transpose", one, std::string("convT2d 1x1 ") + p);
    one.strides = {2, 2};
    check_variant("conv_transpose", one, std::string("convT2d 1x1 stride 2 ") + p);
    Spec c1;
    c1.x = {2, 5, 3};
    c1.w = {4, 2, 3};
    c1.padding = p;
    c1.strides = {2};
    check_variant("conv_transpose", c1, std::string("convT1d stride 2 ") + p);
    c1.output_padding = {1};
    check_variant("conv_transpose", c1, std::string("convT1d stride 2 output_padding 1 ") + p);
    Spec c3;
    c3.x = {1, 2, 3, 2, 2};
    c3.w = {2, 3, 2, 3, 2};
    c3.padding = p;
    c3.strides = {2, 1, 2};
    check_variant("conv_transpose", c3, std::string("convT3d ") + p);
  }
  for (const char* act : kActs)
    for (bool bias : {true, false}) {
      Spec a = s;
      a.padding = "same";
      a.strides = {2, 2};
      a.act = act;
      a.bias = bias;
      check_variant("conv_transpose", a,
                    std::string("convT2d act ") + act + (bias ? " bias" : ""));
    }
}

TEST_CASE("conv_transpose output shapes as Keras, unknown extents and errors") {
  auto shape_of = [](Shape x, Shape w, std::vector<int64_t> strides, const char* pad,
                     std::vector<int64_t> op) {
    Attrs a;
    a.set("strides", strides);
    a.set("padding", std::string(pad));
    if (!op.empty()) a.set("output_padding", op);
    return infer("conv_transpose", a, {{x, DType::f32}, {w, DType::f32}}).shape;
  };
  // Values from keras.src.backend.common.backend_utils.compute_conv_transpose_output_shape.
  CHECK((shape_of({2, 5, 3}, {3, 4, 3}, {2}, "valid", {}) == Shape{2, 11, 4}));
  CHECK((shape_of({2, 5, 3}, {3, 4, 3}, {2}, "same", {}) == Shape{2, 10, 4}));
  CHECK((shape_of({2, 5, 3}, {3, 4, 3}, {2}, "same", {1}) == Shape{2, 10, 4}));
  CHECK((shape_of({2, 5, 3}, {2, 4, 3}, {2}, "same", {0}) == Shape{2, 8, 4}));
  CHECK((shape_of({2, 5, 3}, {1, 4, 3}, {3}, "valid", {}) == Shape{2, 15, 4}));
  CHECK((shape_of({2, 5, 3}, {1, 4, 3}, {3}, "valid", {2}) == Shape{2, 15, 4}));
  CHECK((shape_of({kUnknown, 4, kUnknown, 3}, {3, 3, 6, 3}, {2, 2}, "same", {}) ==
         Shape{kUnknown, 8, kUnknown, 6}));
  Attrs v;
  CHECK(contains(infer_error("conv_transpose", v, {{2, 5, 5, 3}, {3, 3, 4, 2}}),
                 "expected an input with 2 channels"));
  CHECK(contains(infer_error("conv_transpose", v, {{2, 5, 5, 3}, {3, 3, 4, 3}, {3}}),
                 "bias of shape (4,)"));
  Attrs op;
  op.set("strides", std::vector<int64_t>{2});
  op.set("output_padding", std::vector<int64_t>{2});
  CHECK(contains(infer_error("conv_transpose", op, {{2, 5, 3}, {3, 4, 3}}),
                 "0 <= output_padding < strides"));
  Attrs causal;
  causal.set("padding", std::string("causal"));
  CHECK(contains(infer_error("conv_transpose", causal, {{2, 5, 3}, {3, 4, 3}}),
                 "expected padding 'valid' or 'same', received 'causal'"));
  Attrs zero;  // an even kernel over one pixel with output_padding 0 would give 0 pixels
  zero.set("padding", std::string("same"));
  zero.set("output_padding", std::vector<int64_t>{0});
  CHECK(contains(infer_error("conv_transpose", zero, {{2, 1, 3}, {2, 4, 3}}),
                 "output size would be 0"));
}

namespace {

// Larger than one chunk: forward against the reference, backward checked along the identities
// <conv_transpose(x, w), g> = <x, dx> = <w, dw> (the op is linear in x and in w), and
// accumulate adding onto what is there.
void check_large_transpose(const Spec& s, const std::string& label) {
  const Attrs a = attrs_of(s);
  std::vector<Tensor> in = inputs_of("conv_transpose", s, 2);
  Shape os;
  auto yref = ref_conv_transpose(s, values(in[0]), values(in[1]), {}, &os);
  Tensor y = forward("conv_transpose", a, in);
  REQUIRE(y.shape() == os);
  const double e = max_rel_diff(values(y), yref);
  EXPECT_BELOW(e, 1e-12, std::string(label) + " forward");
  Tensor g = random_tensor(os, DType::f64, 6);
  std::vector<Tensor> grads = {Tensor(s.x, DType::f64), Tensor(s.w, DType::f64)};
  grads = run_backward("conv_transpose", a, in, g, grads, {false, false});
  double lhs = 0, rx = 0, rw = 0;
  for (int64_t i = 0; i < y.size(); ++i) lhs += y.data<double>()[i] * g.data<double>()[i];
  for (int64_t i = 0; i < in[0].size(); ++i)
    rx += in[0].data<double>()[i] * grads[0].data<double>()[i];
  for (int64_t i = 0; i < in[1].size(); ++i)
    rw += in[1].data<double>()[i] * grads[1].data<double>()[i];
  CHECK_NEAR(rx / lhs, 1.0, 1e-11);
  CHECK_NEAR(rw / lhs, 1.0, 1e-11);
  std::vector<Tensor> pre = {random_tensor(s.x, DType::f64, 1), random_tensor(s.w, DType::f64, 2)};
  std::vector<Tensor> keep = {cast(pre[0], DType::f64), cast(pre[1], DType::f64)};
  auto added = run_backward("conv_transpose", a, in, g, pre, {true, true});
  for (int i = 0; i < 2; ++i)
    for (int64_t j = 0; j < added[i].size(); j += 7)
      CHECK_NEAR(added[i].data<double>()[j],
                 keep[i].data<double>()[j] + grads[i].data<double>()[j], 1e-9);
}

}  // namespace

TEST_CASE("conv_transpose large: chunks of whole images and inside an image, 1 and 2 threads") {
  // col2im chunks: x's lines of 48 pixels x taps x cout columns (f64), two tiles a chunk with
  // two threads: whole images of 48 lines; then images of 100 lines, chunks inside them.
  Spec s;
  s.x = {4, 48, 48, 24};
  s.w = {3, 3, 16, 24};
  s.strides = {2, 2};
  s.padding = "same";
  s.bias = false;
  const int64_t tile48 = kConvTileBytes / (48 * 9 * 16 * 8);
  CHECK(2 * tile48 >= 48 && tile48 < 48);
  Spec big = s;
  big.x = {1, 100, 100, 24};
  big.padding = "valid";
  big.output_padding = {1, 0};
  CHECK(2 * (kConvTileBytes / (100 * 9 * 16 * 8)) < 100);
  with_threads([&](int n) {
    const std::string t = " threads " + std::to_string(n);
    check_large_transpose(s, "convT large whole-image chunks" + t);
    check_large_transpose(big, "convT large in-image chunks" + t);
  });
}

// ---------------------------------------------------------------- depthwise_conv

TEST_CASE("depthwise_conv: depth multiplier 1 and 2, 1-D/2-D/3-D, padding, strides") {
  for (int64_t dm : {1, 2}) {
    const std::string tag = " dm " + std::to_string(dm);
    Spec s;
    s.x = {2, 6, 5, 3};
    s.w = {3, 3, 3, dm};
    for (const char* p : {"valid", "same"}) {
      s.padding = p;
      check_variant("depthwise_conv", s, "dw2d " + std::string(p) + tag);
      Spec st = s;
      st.strides = {2, 2};
      check_variant("depthwise_conv", st, "dw2d stride 2 " + std::string(p) + tag);
      Spec dl = s;
      dl.dil = {1, 2};
      check_variant("depthwise_conv", dl, "dw2d dilation (1,2) " + std::string(p) + tag);
    }
    Spec c1;
    c1.x = {2, 8, 4};
    c1.w = {3, 4, dm};
    for (const char* p : {"valid", "same", "causal"}) {
      c1.padding = p;
      check_variant("depthwise_conv", c1, "dw1d " + std::string(p) + tag);
    }
    c1.strides = {2};
    c1.dil = {2};
    c1.padding = "causal";
    check_variant("depthwise_conv", c1, "dw1d causal stride 2 dilation 2" + tag);
    Spec c3;
    c3.x = {1, 3, 4, 3, 2};
    c3.w = {2, 2, 2, 2, dm};
    c3.padding = "same";
    check_variant("depthwise_conv", c3, "dw3d same" + tag);
    for (const char* act : kActs)
      for (bool bias : {true, false}) {
        Spec a = s;
        a.padding = "same";
        a.act = act;
        a.bias = bias;
        check_variant("depthwise_conv", a,
                      std::string("dw2d act ") + act + (bias ? " bias" : "") + tag);
      }
  }
}

TEST_CASE("depthwise_conv large: parallel paths against the grouped conv") {
  // depthwise with multiplier dm == conv with groups = C and kernel (*k, 1, C*dm) laid out
  // as w[tap, 0, c*dm + m]; both ops must agree forward and backward.
  for (int64_t dm : {1, 3}) {
    Spec s;
    s.x = {4, 30, 30, 16};
    s.w = {3, 3, 16, dm};
    s.padding = "same";
    s.strides = {2, 1};
    s.act = "relu";
    const Attrs a = attrs_of(s);
    std::vector<Tensor> in = inputs_of("depthwise_conv", s, 12);
    Spec cs = s;
    cs.w = {3, 3, 1, 16 * dm};
    cs.groups = 16;
    Attrs ca = attrs_of(cs);
    std::vector<Tensor> cin = {in[0], in[1].reshaped(cs.w), in[2]};
    Tensor y = forward("depthwise_conv", a, in), yc = forward("conv", ca, cin);
    REQUIRE(y.shape() == yc.shape());
    CHECK(max_rel_diff(values(y), values(yc)) < 1e-12);
    Tensor g = random_tensor(y.shape(), DType::f64, 3);
    auto mk = [](const std::vector<Tensor>& v) {
      std::vector<Tensor> r;
      for (auto& t : v) r.emplace_back(t.shape(), DType::f64);
      return r;
    };
    auto gd = run_backward("depthwise_conv", a, in, g, mk(in), {false, false, false});
    auto gc = run_backward("conv", ca, cin, g, mk(cin), {false, false, false});
    for (int i = 0; i < 3; ++i)
      CHECK(max_rel_diff(values(gd[i]), values(gc[i])) < 1e-12);
  }
}

TEST_CASE("depthwise_conv shape inference and errors") {
  Attrs a;
  a.set("padding", std::string("same"));
  TensorMeta m = infer("depthwise_conv", a,
                       {{{kUnknown, 7, 8, 3}, DType::f32}, {{3, 3, 3, 2}, DType::f32}});
  CHECK((m.shape == Shape{kUnknown, 7, 8, 6}));
  Attrs v;
  CHECK(contains(infer_error("depthwise_conv", v, {{2, 5, 5, 3}, {3, 3, 4, 1}}),
                 "expected an input with 4 channels"));
  CHECK(contains(infer_error("depthwise_conv", v, {{2, 3, 3, 3}, {5, 5, 3, 1}}),
                 "op 'depthwise_conv': kernel size 5 is larger than the padded input size 3 on "
                 "spatial axis 1 with padding 'valid'"));
  CHECK(contains(infer_error("depthwise_conv", v, {{2, 5, 5, 3}, {3, 3, 3, 2}, {3}}),
                 "bias of shape (6,)"));
  CHECK(contains(infer_error("depthwise_conv", v, {{2, 5, 5, 3}, {3, 3, 3}}),
                 "expected a kernel of rank 4"));
}
