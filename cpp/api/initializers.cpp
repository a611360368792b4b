#include "initializers.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "ember/error.h"
#include "ember/rng.h"

namespace ember::api {

namespace {

// Standard deviation of a unit normal truncated to [-2, 2] (Keras's correction).
constexpr double kTruncatedStddevCorrection = 0.87962566103423978;
constexpr double kPi = 3.14159265358979323846;

double uniform(uint64_t key, uint64_t i) {  // [0, 1) with 53 random bits
  return static_cast<double>(mix64(key + mix64(i)) >> 11) * (1.0 / 9007199254740992.0);
}

// Box-Muller: values 2k and 2k+1 come from one pair of uniforms.
double normal(uint64_t key, uint64_t i) {
  const uint64_t pair = i / 2;
  const double u1 = 1.0 - uniform(key, 2 * pair);  // (0, 1]: log is finite
  const double u2 = uniform(key, 2 * pair + 1);
  const double r = std::sqrt(-2.0 * std::log(u1));
  return r * (i % 2 ? std::sin(2 * kPi * u2) : std::cos(2 * kPi * u2));
}

// A unit normal truncated to [-2, 2]: out-of-range values are drawn again from further streams.
double truncated_normal(uint64_t key, uint64_t i) {
  for (uint64_t attempt = 0;; ++attempt) {
    double z = normal(rng_key(key, attempt), i);
    if (std::fabs(z) <= 2.0) return z;
  }
}

std::pair<double, double> compute_fans(const Shape& s) {
  if (s.empty()) return {1, 1};
  if (s.size() == 1) return {double(s[0]), double(s[0])};
  if (s.size() == 2) return {double(s[0]), double(s[1])};
  double receptive = 1;
  for (size_t i = 0; i + 2 < s.size(); ++i) receptive *= double(s[i]);
  return {double(s[s.size() - 2]) * receptive, double(s.back()) * receptive};
}

struct Scaling {
  double scale;
  const char* mode;  // fan_in, fan_out, fan_avg
  bool uniform;
};

const std::map<std::string, Scaling>& scalings() {
  static const std::map<std::string, Scaling> m = {
      {"glorot_uniform", {1.0, "fan_avg", true}}, {"glorot_normal", {1.0, "fan_avg", false}},
      {"he_uniform", {2.0, "fan_in", true}},      {"he_normal", {2.0, "fan_in", false}},
      {"lecun_uniform", {1.0, "fan_in", true}},   {"lecun_normal", {1.0, "fan_in", false}},
  };
  return m;
}

std::string canonical(const std::string& name) {
  static const std::map<std::string, std::string> aliases = {
      {"uniform", "random_uniform"}, {"normal", "random_normal"}, {"zero", "zeros"},
      {"one", "ones"},
      {"GlorotUniform", "glorot_uniform"}, {"GlorotNormal", "glorot_normal"},
      {"HeUniform", "he_uniform"}, {"HeNormal", "he_normal"}, {"LecunUniform", "lecun_uniform"},
      {"LecunNormal", "lecun_normal"}, {"Orthogonal", "orthogonal"},
      {"RandomUniform", "random_uniform"}, {"RandomNormal", "random_normal"},
      {"TruncatedNormal", "truncated_normal"}, {"Zeros", "zeros"}, {"Ones", "ones"}};
  auto it = aliases.find(name);
  return it == aliases.end() ? name : it->second;
}

// Keras's Orthogonal: the Q factor (with a positive-diagonal R, which is what Keras's sign fix
// makes of NumPy's QR) of a normal (max, min) matrix, transposed when rows < columns.
std::vector<double> orthogonal(const Shape& shape, uint64_t key, const std::string& who) {
  EMBER_CHECK(shape.size() >= 2, ValueError,
              who, ": Orthogonal: the tensor to initialize must be at least two-dimensional. "
              "Received: shape=", shape_str(shape), " of rank ", shape.size(), ".");
  int64_t rows = 1;
  for (size_t i = 0; i + 1 < shape.size(); ++i) rows *= shape[i];
  const int64_t cols = shape.back();
  const int64_t m = std::max(rows, cols), n = std::min(rows, cols);
  std::vector<double> a(static_cast<size_t>(m * n));  // row-major m x n
  for (int64_t i = 0; i < m * n; ++i) a[i] = normal(key, static_cast<uint64_t>(i));
  // Modified Gram-Schmidt over the columns, twice for orthogonality to rounding error.
  for (int64_t j = 0; j < n; ++j) {
    for (int pass = 0; pass < 2; ++pass) {
      for (int64_t k = 0; k < j; ++k) {
        double dot = 0;
        for (int64_t i = 0; i < m; ++i) dot += a[i * n + k] * a[i * n + j];
        for (int64_t i = 0; i < m; ++i) a[i * n + j] -= dot * a[i * n + k];
      }
    }
    double norm = 0;
    for (int64_t i = 0; i < m; ++i) norm += a[i * n + j] * a[i * n + j];
    norm = std::sqrt(norm);
    for (int64_t i = 0; i < m; ++i) a[i * n + j] /= norm;
  }
  if (rows >= cols) return a;  // (rows, cols) = (m, n)
  std::vector<double> t(a.size());
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) t[j * m + i] = a[i * n + j];
  return t;
}

}  // namespace

std::vector<std::string> initializer_names() {
  return {"glorot_normal", "glorot_uniform", "he_normal", "he_uniform", "lecun_normal",
          "lecun_uniform", "ones", "orthogonal", "random_normal", "random_uniform",
          "truncated_normal", "zeros"};
}

bool is_initializer(const std::string& name) {
  auto names = initializer_names();
  return std::find(names.begin(), names.end(), canonical(name)) != names.end();
}

Tensor initialize(const std::string& requested, const Shape& shape, DType dtype, uint64_t seed,
                  const std::string& who) {
  const std::string name = canonical(requested);
  if (!is_initializer(name)) {
    std::string valid;
    for (const auto& n : initializer_names()) valid += (valid.empty() ? "" : ", ") + n;
    throw ValueError(detail::concat(who, ": unknown initializer '", requested,
                                    "'; valid names: ", valid));
  }
  Tensor t(shape, dtype);
  const int64_t count = t.size();
  std::vector<double> v(static_cast<size_t>(count), 0.0);
  auto s = scalings().find(name);
  if (name == "zeros") {
  } else if (name == "ones") {
    std::fill(v.begin(), v.end(), 1.0);
  } else if (s != scalings().end()) {
    auto [fan_in, fan_out] = compute_fans(shape);
    const std::string mode = s->second.mode;
    double n = mode == "fan_in" ? fan_in : mode == "fan_out" ? fan_out : (fan_in + fan_out) / 2;
    const double scale = s->second.scale / std::max(1.0, n);
    if (s->second.uniform) {
      const double limit = std::sqrt(3.0 * scale);
      for (int64_t i = 0; i < count; ++i) v[i] = (2 * uniform(seed, uint64_t(i)) - 1) * limit;
    } else {
      const double stddev = std::sqrt(scale) / kTruncatedStddevCorrection;
      for (int64_t i = 0; i < count; ++i) v[i] = truncated_normal(seed, uint64_t(i)) * stddev;
    }
  } else if (name == "orthogonal") {
    v = orthogonal(shape, seed, who);
  } else if (name == "random_uniform") {
    for (int64_t i = 0; i < count; ++i) v[i] = uniform(seed, uint64_t(i)) * 0.1 - 0.05;
  } else if (name == "random_normal") {
    for (int64_t i = 0; i < count; ++i) v[i] = normal(seed, uint64_t(i)) * 0.05;
  } else {  // truncated_normal
    for (int64_t i = 0; i < count; ++i) v[i] = truncated_normal(seed, uint64_t(i)) * 0.05;
  }
  dispatch_float(dtype, who.c_str(), [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    for (int64_t i = 0; i < count; ++i) p[i] = static_cast<T>(v[i]);
  });
  return t;
}

}  // namespace ember::api
