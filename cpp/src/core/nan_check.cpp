#include "ember/nan_check.h"

#include <atomic>
#include <cmath>

namespace ember {
namespace {
std::atomic<bool> g_nan_check{false};

template <class T>
int64_t scan(const T* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(x[i])) return i;
  return -1;
}
}  // namespace

void set_nan_check(bool enabled) { g_nan_check = enabled; }
bool nan_check_enabled() { return g_nan_check; }

int64_t first_non_finite(const Tensor& t) {
  if (t.dtype() == DType::f32) return scan(t.data<float>(), t.size());
  if (t.dtype() == DType::f64) return scan(t.data<double>(), t.size());
  return -1;
}
}  // namespace ember
