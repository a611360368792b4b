// CPU kernels of the elementwise family (see kernels/elementwise.h), plus the device-independent
// helpers of that header (activation names, broadcast layout), kept here so that an op fusing an
// activation needs only this file.
#include "kernels/elementwise.h"
#include "kernels/cpu/parallel.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "ember/error.h"
#include "ember/threads.h"

namespace ember {

// ---------------------------------------------------------------------------------------------
// Device-independent helpers

namespace {
struct ActName { const char* name; Act act; };
constexpr ActName kActNames[] = {
    {"linear", Act::linear},     {"relu", Act::relu},         {"sigmoid", Act::sigmoid},
    {"tanh", Act::tanh},         {"gelu", Act::gelu},         {"gelu_tanh", Act::gelu_tanh},
    {"silu", Act::silu},         {"swish", Act::silu},        {"elu", Act::elu},
    {"softplus", Act::softplus}, {"leaky_relu", Act::leaky_relu}};
}  // namespace

Act act_from_name(const std::string& name) {
  for (const auto& e : kActNames)
    if (name == e.name) return e.act;
  std::string valid;
  for (const auto& e : kActNames) valid += (valid.empty() ? "'" : ", '") + std::string(e.name) + "'";
  throw ValueError("unknown activation '" + name + "': expected one of " + valid);
}

const char* act_name(Act a) {
  for (const auto& e : kActNames)
    if (e.act == a) return e.name;
  return "?";
}

double act_default_alpha(Act a) {
  switch (a) {
    case Act::elu: return 1.0;
    case Act::leaky_relu: return 0.2;
    default: return 0.0;
  }
}

bool act_backward_reads_y(Act a) {
  return a == Act::relu || a == Act::sigmoid || a == Act::tanh;
}
bool act_backward_reads_x(Act a) {
  return a != Act::linear && !act_backward_reads_y(a);
}

BroadcastLayout broadcast_layout(const Shape& a, const Shape& b) {
  const size_t r = std::max(a.size(), b.size());
  auto at = [r](const Shape& s, size_t i) { return i < r - s.size() ? 1 : s[i - (r - s.size())]; };
  BroadcastLayout l;
  l.a_size = numel(a);
  l.b_size = numel(b);
  l.size = 1;
  // Pattern of a kept dimension: 0 = neither input broadcast, 1 = a broadcast, 2 = b broadcast.
  std::vector<int> pattern;
  for (size_t i = 0; i < r; ++i) {
    int64_t da = at(a, i), db = at(b, i), d = da == 1 ? db : da;
    l.size *= d;
    if (d == 1) continue;  // contributes nothing to any offset
    int p = da == 1 ? 1 : (db == 1 ? 2 : 0);
    if (!pattern.empty() && pattern.back() == p) {
      l.dims.back() *= d;
    } else {
      l.dims.push_back(d);
      pattern.push_back(p);
    }
  }
  if (l.dims.empty()) {  // every extent is 1: one element
    l.dims.push_back(1);
    pattern.push_back(0);
  }
  const size_t k = l.dims.size();
  l.a_strides.assign(k, 0);
  l.b_strides.assign(k, 0);
  int64_t sa = 1, sb = 1;
  for (size_t i = k; i-- > 0;) {
    if (pattern[i] != 1) { l.a_strides[i] = sa; sa *= l.dims[i]; }
    if (pattern[i] != 2) { l.b_strides[i] = sb; sb *= l.dims[i]; }
  }
  return l;
}

namespace {

// ---------------------------------------------------------------------------------------------
// Loops. Each takes its per-element math as a lambda so that the loop is written once and the
// math is inlined into it (vectorisable where the math allows). The block bodies capture the
// pointers by value: through a reference GCC must assume a store may change them, and does not
// vectorise.

template <class T, class F>
void map_unary(const T* x, T* y, int64_t n, F f) {
  parallel_blocks(n, [=](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] = f(x[i]);
  });
}

// gx (=/+=) gy * d(s) where s is x or y, whichever the derivative is written in.
template <class T, class D>
void map_grad(const T* s, const T* gy, T* gx, int64_t n, bool accumulate, D d) {
  parallel_blocks(n, [=](int64_t b, int64_t e) {
    if (accumulate)
      for (int64_t i = b; i < e; ++i) gx[i] += gy[i] * d(s[i]);
    else
      for (int64_t i = b; i < e; ++i) gx[i] = gy[i] * d(s[i]);
  });
}

// relu's gradient as a select (gy where y > 0, else 0): unlike gy * (y > 0), GCC turns it into
// a vector blend instead of a mispredicted branch per element (about 10x on a conv epilogue),
// and a NaN gy where y <= 0 gives 0, as torch's threshold_backward. gy is read before the
// select: read inside it, GCC loads it with masked loads (the seed CNN's first-layer dW took
// 1.7 ms instead of 1.2 with one thread).
template <class T>
void relu_grad(const T* y, const T* gy, T* gx, int64_t n, bool accumulate) {
  parallel_blocks(n, [=](int64_t b, int64_t e) {
    if (accumulate)
      for (int64_t i = b; i < e; ++i) {
        const T g = gy[i];
        gx[i] += y[i] > T(0) ? g : T(0);
      }
    else
      for (int64_t i = b; i < e; ++i) {
        const T g = gy[i];
        gx[i] = y[i] > T(0) ? g : T(0);
      }
  });
}

template <class T>
void pass_grad(const T* gy, T* gx, int64_t n, bool accumulate) {
  if (accumulate) {
    parallel_blocks(n, [=](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) gx[i] += gy[i];
    });
  } else if (gx != gy) {
    std::memcpy(gx, gy, static_cast<size_t>(n) * sizeof(T));
  }
}

// ---------------------------------------------------------------------------------------------
// Activations

template <class T>
inline T sigmoid(T x) {
  // exp(-|x|) <= 1 never overflows; the select (not a branch) suits random signs.
  T e = std::exp(-std::fabs(x));
  T r = T(1) / (T(1) + e);
  return x >= T(0) ? r : e * r;
}

constexpr double kSqrt2OverPi = 0.7978845608028654;   // sqrt(2 / pi)
constexpr double kInvSqrt2 = 0.7071067811865476;      // 1 / sqrt(2)
constexpr double kInvSqrt2Pi = 0.3989422804014327;    // 1 / sqrt(2 pi)
constexpr double kGeluCubic = 0.044715;

template <class T>
void act_forward_cpu(Act act, const T* x, T* y, int64_t n, double alpha) {
  const T a = static_cast<T>(alpha);
  switch (act) {
    case Act::linear:
      if (x != y) std::memcpy(y, x, static_cast<size_t>(n) * sizeof(T));
      return;
    case Act::relu:  // x < 0 rather than max(x, 0) so NaN propagates
      return map_unary(x, y, n, [](T v) { return v < T(0) ? T(0) : v; });
    case Act::sigmoid:
      return map_unary(x, y, n, [](T v) { return sigmoid(v); });
    case Act::tanh:
      return map_unary(x, y, n, [](T v) { return std::tanh(v); });
    case Act::gelu:  // x * Phi(x), the exact form
      return map_unary(x, y, n, [](T v) {
        return T(0.5) * v * (T(1) + std::erf(v * T(kInvSqrt2)));
      });
    case Act::gelu_tanh:  // Keras gelu(approximate=True)
      return map_unary(x, y, n, [](T v) {
        T u = T(kSqrt2OverPi) * (v + T(kGeluCubic) * v * v * v);
        return T(0.5) * v * (T(1) + std::tanh(u));
      });
    case Act::silu:
      return map_unary(x, y, n, [](T v) { return v * sigmoid(v); });
    case Act::elu:
      return map_unary(x, y, n, [a](T v) { return v > T(0) ? v : a * std::expm1(v); });
    case Act::softplus:  // log(1 + e^x) = max(x, 0) + log1p(e^-|x|), never overflows
      return map_unary(x, y, n, [](T v) {
        return std::max(v, T(0)) + std::log1p(std::exp(-std::fabs(v)));
      });
    case Act::leaky_relu:
      return map_unary(x, y, n, [a](T v) { return v > T(0) ? v : a * v; });
  }
}

template <class T>
void act_backward_cpu(Act act, const T* x, const T* y, const T* gy, T* gx, int64_t n,
                      double alpha, bool accumulate) {
  const T a = static_cast<T>(alpha);
  switch (act) {
    case Act::linear:
      return pass_grad(gy, gx, n, accumulate);
    case Act::relu:  // y > 0 exactly where x > 0; gradient 0 at x == 0 as torch
      return relu_grad(y, gy, gx, n, accumulate);
    case Act::sigmoid:
      return map_grad(y, gy, gx, n, accumulate, [](T v) { return v * (T(1) - v); });
    case Act::tanh:
      return map_grad(y, gy, gx, n, accumulate, [](T v) { return T(1) - v * v; });
    case Act::gelu:  // Phi(x) + x * phi(x)
      return map_grad(x, gy, gx, n, accumulate, [](T v) {
        return T(0.5) * (T(1) + std::erf(v * T(kInvSqrt2))) +
               v * T(kInvSqrt2Pi) * std::exp(T(-0.5) * v * v);
      });
    case Act::gelu_tanh:
      return map_grad(x, gy, gx, n, accumulate, [](T v) {
        T t = std::tanh(T(kSqrt2OverPi) * (v + T(kGeluCubic) * v * v * v));
        T du = T(kSqrt2OverPi) * (T(1) + T(3 * kGeluCubic) * v * v);
        return T(0.5) * (T(1) + t) + T(0.5) * v * (T(1) - t * t) * du;
      });
    case Act::silu:  // s + x s (1 - s)
      return map_grad(x, gy, gx, n, accumulate, [](T v) {
        T s = sigmoid(v);
        return s * (T(1) + v * (T(1) - s));
      });
    case Act::elu:  // alpha e^x on x <= 0, as torch (alpha at x == 0)
      return map_grad(x, gy, gx, n, accumulate,
                      [a](T v) { return v > T(0) ? T(1) : a * std::exp(v); });
    case Act::softplus:
      return map_grad(x, gy, gx, n, accumulate, [](T v) { return sigmoid(v); });
    case Act::leaky_relu:  // negative_slope at x == 0, as torch
      return map_grad(x, gy, gx, n, accumulate, [a](T v) { return v > T(0) ? T(1) : a; });
  }
}

// ---------------------------------------------------------------------------------------------
// Plain unary math and clip

template <class T>
void unary_forward_cpu(Unary op, const T* x, T* y, int64_t n) {
  switch (op) {
    case Unary::negative: return map_unary(x, y, n, [](T v) { return -v; });
    case Unary::exp: return map_unary(x, y, n, [](T v) { return std::exp(v); });
    case Unary::log: return map_unary(x, y, n, [](T v) { return std::log(v); });
    case Unary::sqrt: return map_unary(x, y, n, [](T v) { return std::sqrt(v); });
    case Unary::square: return map_unary(x, y, n, [](T v) { return v * v; });
    case Unary::abs: return map_unary(x, y, n, [](T v) { return std::fabs(v); });
  }
}

template <class T>
void unary_backward_cpu(Unary op, const T* x, const T* y, const T* gy, T* gx, int64_t n,
                        bool accumulate) {
  switch (op) {
    case Unary::negative:
      return map_grad(x, gy, gx, n, accumulate, [](T) { return T(-1); });
    case Unary::exp:
      return map_grad(y, gy, gx, n, accumulate, [](T v) { return v; });
    case Unary::log:
      return map_grad(x, gy, gx, n, accumulate, [](T v) { return T(1) / v; });
    case Unary::sqrt:
      return map_grad(y, gy, gx, n, accumulate, [](T v) { return T(0.5) / v; });
    case Unary::square:
      return map_grad(x, gy, gx, n, accumulate, [](T v) { return T(2) * v; });
    case Unary::abs:  // sign(x), 0 at x == 0 as torch
      return map_grad(x, gy, gx, n, accumulate,
                      [](T v) { return v > T(0) ? T(1) : (v < T(0) ? T(-1) : T(0)); });
  }
}

template <class T>
void clip_forward_cpu(const T* x, T* y, int64_t n, T lo, T hi) {
  // std::max(v, lo) keeps v when v is NaN, so NaN propagates as in NumPy.
  map_unary(x, y, n, [lo, hi](T v) { return std::min(std::max(v, lo), hi); });
}

template <class T>
void clip_backward_cpu(const T* x, const T* gy, T* gx, int64_t n, T lo, T hi, bool accumulate) {
  map_grad(x, gy, gx, n, accumulate,
           [lo, hi](T v) { return (v >= lo && v <= hi) ? T(1) : T(0); });
}

// ---------------------------------------------------------------------------------------------
// Broadcasting binary ops

template <class T> struct AddOp {
  static T f(T a, T b) { return a + b; }
  static T da(T, T, T g) { return g; }
  static T db(T, T, T g) { return g; }
};
template <class T> struct SubOp {
  static T f(T a, T b) { return a - b; }
  static T da(T, T, T g) { return g; }
  static T db(T, T, T g) { return -g; }
};
template <class T> struct MulOp {
  static T f(T a, T b) { return a * b; }
  static T da(T, T b, T g) { return g * b; }
  static T db(T a, T, T g) { return g * a; }
};
template <class T> struct DivOp {
  static T f(T a, T b) { return a / b; }
  static T da(T, T b, T g) { return g / b; }
  static T db(T a, T b, T g) { return -g * a / (b * b); }
};
// NaN wins (as NumPy); ties give half the gradient to each side (as torch).
template <class T> struct MaxOp {
  static T f(T a, T b) { return (a > b || a != a) ? a : b; }
  static T da(T a, T b, T g) { return a == b ? T(0.5) * g : (a < b ? T(0) : g); }
  static T db(T a, T b, T g) { return a == b ? T(0.5) * g : (b < a ? T(0) : g); }
};
template <class T> struct MinOp {
  static T f(T a, T b) { return (a < b || a != a) ? a : b; }
  static T da(T a, T b, T g) { return a == b ? T(0.5) * g : (a > b ? T(0) : g); }
  static T db(T a, T b, T g) { return a == b ? T(0.5) * g : (b > a ? T(0) : g); }
};

// Comparisons (forward only): 1 where the relation holds, 0 elsewhere (NaN compares false).
#define EMBER_COMPARISON(Name, expr) \
  template <class T> struct Name { static T f(T a, T b) { return (expr) ? T(1) : T(0); } };
EMBER_COMPARISON(EqOp, a == b)
EMBER_COMPARISON(NeOp, a != b)
EMBER_COMPARISON(LtOp, a < b)
EMBER_COMPARISON(LeOp, a <= b)
EMBER_COMPARISON(GtOp, a > b)
EMBER_COMPARISON(GeOp, a >= b)
#undef EMBER_COMPARISON

// Offsets into a and b of outer row `o` (all dimensions but the last).
inline void row_offsets(const BroadcastLayout& l, int64_t o, int64_t* oa, int64_t* ob) {
  int64_t ra = 0, rb = 0;
  for (int k = static_cast<int>(l.dims.size()) - 2; k >= 0; --k) {
    int64_t i = o % l.dims[k];
    o /= l.dims[k];
    ra += i * l.a_strides[k];
    rb += i * l.b_strides[k];
  }
  *oa = ra;
  *ob = rb;
}

// Runs body.template operator()<SA, SB>() with the inner strides as compile-time constants, so
// that broadcast operands become loop invariants and the rest vectorises.
template <class Body>
void with_inner_strides(int64_t sa, int64_t sb, Body&& body) {
  if (sa && sb) body.template operator()<1, 1>();
  else if (sa) body.template operator()<1, 0>();
  else if (sb) body.template operator()<0, 1>();
  else body.template operator()<0, 0>();
}

template <class T, class Op>
struct FwdRow {
  const T* a; const T* b; T* y; int64_t m;
  template <int SA, int SB> void operator()() const {
    for (int64_t j = 0; j < m; ++j) y[j] = Op::f(a[j * SA], b[j * SB]);
  }
};

template <class T, class Op>
void binary_forward_t(const BroadcastLayout& l, const T* a, const T* b, T* y) {
  if (l.size == 0) return;
  const int r = static_cast<int>(l.dims.size());
  const int64_t inner = l.dims[r - 1], outer = l.size / inner;
  const int64_t sa = l.a_strides[r - 1], sb = l.b_strides[r - 1];
  // Tasks are (row, chunk of the row), so a single long row (same shapes, scalar) still splits.
  const int64_t chunk = 16384, per_row = (inner + chunk - 1) / chunk, tasks = outer * per_row;
#pragma omp parallel for schedule(static) if (l.size > kParallelGrain)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t o = t / per_row, j0 = (t % per_row) * chunk, j1 = std::min(inner, j0 + chunk);
    int64_t oa, ob;
    row_offsets(l, o, &oa, &ob);
    with_inner_strides(sa, sb, FwdRow<T, Op>{a + oa + j0 * sa, b + ob + j0 * sb,
                                             y + o * inner + j0, j1 - j0});
  }
}

// Gradient of an input that is not broadcast anywhere: gx index == output index.
template <class T, class D>
struct GradRow {
  const T* a; const T* b; const T* gy; T* gx; int64_t m; bool acc;
  template <int SA, int SB> void operator()() const {
    if (acc) for (int64_t j = 0; j < m; ++j) gx[j] += D::d(a[j * SA], b[j * SB], gy[j]);
    else for (int64_t j = 0; j < m; ++j) gx[j] = D::d(a[j * SA], b[j * SB], gy[j]);
  }
};

// Gradient of a broadcast input: adds the row's contributions into gx, which moves with stride
// SX (1) along the row or stays put (0, a sum).
template <class T, class D>
struct ReduceRow {
  const T* a; const T* b; const T* gy; T* gx; int64_t m; int64_t sx;
  template <int SA, int SB> void operator()() const {
    if (sx) {
      for (int64_t j = 0; j < m; ++j) gx[j] += D::d(a[j * SA], b[j * SB], gy[j]);
    } else {
      T s = 0;
      for (int64_t j = 0; j < m; ++j) s += D::d(a[j * SA], b[j * SB], gy[j]);
      gx[0] += s;
    }
  }
};

template <class T, class Op> struct DerivA { static T d(T a, T b, T g) { return Op::da(a, b, g); } };
template <class T, class Op> struct DerivB { static T d(T a, T b, T g) { return Op::db(a, b, g); } };

template <class T, class D>
void binary_backward_t(int which, const BroadcastLayout& l, const T* a, const T* b, const T* gy,
                       T* gx, bool accumulate) {
  const int r = static_cast<int>(l.dims.size());
  const std::vector<int64_t>& xs = which == 0 ? l.a_strides : l.b_strides;
  const int64_t x_size = which == 0 ? l.a_size : l.b_size;
  const int64_t inner = l.dims[r - 1], outer = l.size / std::max<int64_t>(inner, 1);
  const int64_t sa = l.a_strides[r - 1], sb = l.b_strides[r - 1], sx = xs[r - 1];
  const bool parallel = l.size > kParallelGrain;
  (void)parallel;  // only read by OpenMP clauses

  if (x_size == l.size) {  // not broadcast: one gradient element per output element
    if (l.size == 0) return;
    const int64_t chunk = 16384, per_row = (inner + chunk - 1) / chunk, tasks = outer * per_row;
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t t = 0; t < tasks; ++t) {
      const int64_t o = t / per_row, j0 = (t % per_row) * chunk, j1 = std::min(inner, j0 + chunk);
      int64_t oa, ob;
      row_offsets(l, o, &oa, &ob);
      with_inner_strides(sa, sb, GradRow<T, D>{a + oa + j0 * sa, b + ob + j0 * sb,
                                               gy + o * inner + j0, gx + o * inner + j0,
                                               j1 - j0, accumulate});
    }
    return;
  }

  // Broadcast input: sum over the broadcast axes.
  if (!accumulate) std::memset(gx, 0, static_cast<size_t>(x_size) * sizeof(T));
  if (l.size == 0) return;
  auto row = [&](int64_t o, T* target) {
    int64_t oa, ob;
    row_offsets(l, o, &oa, &ob);
    with_inner_strides(sa, sb, ReduceRow<T, D>{a + oa, b + ob, gy + o * inner,
                                               target + (which == 0 ? oa : ob), inner, sx});
  };

  if (r == 1) {  // x is a single element broadcast over everything: one parallel sum
    T s = 0;
    const T* pa = a; const T* pb = b;
#pragma omp parallel for schedule(static) reduction(+ : s) if (parallel)
    for (int64_t j = 0; j < inner; ++j) s += D::d(pa[j * sa], pb[j * sb], gy[j]);
    gx[0] += s;
    return;
  }
  if (xs[0] != 0) {
    // x moves along the outermost dimension: rows with different outermost indices write
    // disjoint parts of gx, so they can run in parallel without private copies.
    const int64_t d0 = l.dims[0], rows_per = outer / d0;
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t i0 = 0; i0 < d0; ++i0)
      for (int64_t o = i0 * rows_per; o < (i0 + 1) * rows_per; ++o) row(o, gx);
    return;
  }
  // x is broadcast along the outermost dimension (a bias): each thread sums into its own copy.
  int nth = 1;
#ifdef _OPENMP
  if (parallel) nth = std::max(1, std::min<int>(omp_get_max_threads(), static_cast<int>(outer)));
#endif
  if (nth == 1) {
    for (int64_t o = 0; o < outer; ++o) row(o, gx);
    return;
  }
  std::vector<T> priv(static_cast<size_t>(nth) * x_size, T(0));
#pragma omp parallel num_threads(nth)
  {
#ifdef _OPENMP
    T* mine = priv.data() + static_cast<size_t>(omp_get_thread_num()) * x_size;
#else
    T* mine = priv.data();
#endif
#pragma omp for schedule(static)
    for (int64_t o = 0; o < outer; ++o) row(o, mine);
  }
#pragma omp parallel for schedule(static) if (x_size > kParallelGrain)
  for (int64_t k = 0; k < x_size; ++k) {
    T s = 0;
    for (int t = 0; t < nth; ++t) s += priv[static_cast<size_t>(t) * x_size + k];
    gx[k] += s;
  }
}

template <class T, template <class> class Op>
void binary_backward_op(int which, const BroadcastLayout& l, const T* a, const T* b,
                        const T* gy, T* gx, bool accumulate) {
  if (which == 0) binary_backward_t<T, DerivA<T, Op<T>>>(which, l, a, b, gy, gx, accumulate);
  else binary_backward_t<T, DerivB<T, Op<T>>>(which, l, a, b, gy, gx, accumulate);
}

template <class T>
void binary_forward_cpu(Binary op, const BroadcastLayout& l, const T* a, const T* b, T* y) {
  switch (op) {
    case Binary::add: return binary_forward_t<T, AddOp<T>>(l, a, b, y);
    case Binary::subtract: return binary_forward_t<T, SubOp<T>>(l, a, b, y);
    case Binary::multiply: return binary_forward_t<T, MulOp<T>>(l, a, b, y);
    case Binary::divide: return binary_forward_t<T, DivOp<T>>(l, a, b, y);
    case Binary::maximum: return binary_forward_t<T, MaxOp<T>>(l, a, b, y);
    case Binary::minimum: return binary_forward_t<T, MinOp<T>>(l, a, b, y);
    case Binary::equal: return binary_forward_t<T, EqOp<T>>(l, a, b, y);
    case Binary::not_equal: return binary_forward_t<T, NeOp<T>>(l, a, b, y);
    case Binary::less: return binary_forward_t<T, LtOp<T>>(l, a, b, y);
    case Binary::less_equal: return binary_forward_t<T, LeOp<T>>(l, a, b, y);
    case Binary::greater: return binary_forward_t<T, GtOp<T>>(l, a, b, y);
    case Binary::greater_equal: return binary_forward_t<T, GeOp<T>>(l, a, b, y);
  }
}

template <class T>
void binary_backward_cpu(Binary op, int which, const BroadcastLayout& l, const T* a, const T* b,
                         const T* gy, T* gx, bool accumulate) {
  switch (op) {
    case Binary::add: return binary_backward_op<T, AddOp>(which, l, a, b, gy, gx, accumulate);
    case Binary::subtract: return binary_backward_op<T, SubOp>(which, l, a, b, gy, gx, accumulate);
    case Binary::multiply: return binary_backward_op<T, MulOp>(which, l, a, b, gy, gx, accumulate);
    case Binary::divide: return binary_backward_op<T, DivOp>(which, l, a, b, gy, gx, accumulate);
    case Binary::maximum: return binary_backward_op<T, MaxOp>(which, l, a, b, gy, gx, accumulate);
    case Binary::minimum: return binary_backward_op<T, MinOp>(which, l, a, b, gy, gx, accumulate);
    default: return;  // comparisons have no gradient: their ops define no backward
  }
}

template <class T>
constexpr ElementwiseFns<T> cpu_fns() {
  return {&act_forward_cpu<T>,     &act_backward_cpu<T>,   &unary_forward_cpu<T>,
          &unary_backward_cpu<T>,  &clip_forward_cpu<T>,   &clip_backward_cpu<T>,
          &binary_forward_cpu<T>,  &binary_backward_cpu<T>};
}

const ElementwiseKernels kCpuElementwise{cpu_fns<float>(), cpu_fns<double>()};

}  // namespace

EMBER_REGISTER_KERNELS(ElementwiseKernels, Device::cpu, kCpuElementwise);

}  // namespace ember
