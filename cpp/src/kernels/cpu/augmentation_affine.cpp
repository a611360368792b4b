// CPU kernels of image_affine (see kernels/augmentation.h): each output pixel maps through its
// sample's transform to a source point, whose 1 (nearest) or 4 (bilinear) integer taps are
// fixed by the fill mode one by one, exactly as Keras's map_coordinates does on the torch and
// JAX backends. Coordinates and weights are computed in double once per pixel; the channel loop
// (contiguous in channels_last) then runs in T and vectorises.
//
// Forward gathers (parallel over output rows, no conflicts). Backward scatters into the
// sample's own input gradient, so it runs in parallel over samples only: two threads never
// write one sample.
#include <algorithm>
#include <cmath>

#include "ember/kernel_registry.h"
#include "ember/threads.h"
#include "kernels/augmentation.h"

namespace ember {
namespace {

// Up to 4 taps of one output pixel: pixel index (y * w + x) or -1 for the fill value.
struct Taps {
  int64_t index[4];
  double weight[4];
  int count = 0;
};

// Keeps a wild coordinate (a degenerate transform, NaN) in a range whose floor fits int64.
inline double tame(double v) { return std::fmin(std::fmax(v, -1e9), 1e9); }

inline int64_t floor_mod(int64_t i, int64_t n) {
  const int64_t m = i % n;
  return m < 0 ? m + n : m;
}

// The index a tap at integer position i of an axis of extent n reads; -1: the fill value.
inline int64_t fix_index(int64_t i, int64_t n, FillMode mode) {
  switch (mode) {
    case FillMode::reflect: {  // half-sample symmetric: period 2n, mirrored about the edges
      const int64_t m = floor_mod(i, 2 * n);
      return m < n ? m : 2 * n - 1 - m;
    }
    case FillMode::wrap:
      return floor_mod(i, n);
    case FillMode::nearest:
      return std::min(std::max<int64_t>(i, 0), n - 1);
    default:
      return i >= 0 && i < n ? i : -1;
  }
}

inline Taps taps_at(const double* t, int64_t ox, int64_t oy, const AffineGeom& g) {
  const double x = static_cast<double>(ox), y = static_cast<double>(oy);
  const double k = t[6] * x + t[7] * y + 1.0;
  const double sx = tame((t[0] * x + t[1] * y + t[2]) / k);
  const double sy = tame((t[3] * x + t[4] * y + t[5]) / k);
  Taps taps;
  if (g.interp == Interpolation::nearest) {
    // torch.round / jnp.round: halves go to the even neighbour, as nearbyint does.
    const int64_t iy = fix_index(static_cast<int64_t>(std::nearbyint(sy)), g.h, g.fill);
    const int64_t ix = fix_index(static_cast<int64_t>(std::nearbyint(sx)), g.w, g.fill);
    taps.index[0] = iy < 0 || ix < 0 ? -1 : iy * g.w + ix;
    taps.weight[0] = 1.0;
    taps.count = 1;
    return taps;
  }
  const double fy = std::floor(sy), fx = std::floor(sx);
  const double wy[2] = {1.0 - (sy - fy), sy - fy}, wx[2] = {1.0 - (sx - fx), sx - fx};
  const int64_t y0 = static_cast<int64_t>(fy), x0 = static_cast<int64_t>(fx);
  for (int a = 0; a < 2; ++a) {
    const int64_t iy = fix_index(y0 + a, g.h, g.fill);
    for (int b = 0; b < 2; ++b) {
      const int64_t ix = fix_index(x0 + b, g.w, g.fill);
      taps.index[taps.count] = iy < 0 || ix < 0 ? -1 : iy * g.w + ix;
      taps.weight[taps.count++] = wy[a] * wx[b];
    }
  }
  return taps;
}

template <class T>
void affine(const T* x, T* y, const double* transforms, const AffineGeom& g) {
  const int64_t c = g.c, rows = g.n * g.h;
  const T fill = static_cast<T>(g.fill_value);
#pragma omp parallel for if (rows * g.w * c * 4 > kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t n = r / g.h, oy = r % g.h;
    const double* t = transforms + n * kTransformSize;
    const T* xs = x + n * g.h * g.w * c;
    for (int64_t ox = 0; ox < g.w; ++ox) {
      const Taps taps = taps_at(t, ox, oy, g);
      T* yo = y + (r * g.w + ox) * c;
      for (int64_t k = 0; k < c; ++k) yo[k] = T(0);
      for (int j = 0; j < taps.count; ++j) {
        const T wj = static_cast<T>(taps.weight[j]);
        if (taps.index[j] < 0) {
          for (int64_t k = 0; k < c; ++k) yo[k] += wj * fill;
        } else {
          const T* src = xs + taps.index[j] * c;
          for (int64_t k = 0; k < c; ++k) yo[k] += wj * src[k];
        }
      }
    }
  }
}

template <class T>
void affine_backward(const T* gy, T* gx, const double* transforms, const AffineGeom& g,
                     bool accumulate) {
  const int64_t c = g.c, plane = g.h * g.w * c;
#pragma omp parallel for if (g.n * plane * 4 > kParallelGrain)
  for (int64_t n = 0; n < g.n; ++n) {
    const double* t = transforms + n * kTransformSize;
    T* gs = gx + n * plane;
    if (!accumulate)
      for (int64_t i = 0; i < plane; ++i) gs[i] = T(0);
    for (int64_t oy = 0; oy < g.h; ++oy) {
      for (int64_t ox = 0; ox < g.w; ++ox) {
        const Taps taps = taps_at(t, ox, oy, g);
        const T* go = gy + n * plane + (oy * g.w + ox) * c;
        for (int j = 0; j < taps.count; ++j) {
          if (taps.index[j] < 0) continue;  // the fill value is a constant
          const T wj = static_cast<T>(taps.weight[j]);
          T* dst = gs + taps.index[j] * c;
          for (int64_t k = 0; k < c; ++k) dst[k] += wj * go[k];
        }
      }
    }
  }
}

template <class T>
constexpr AffineKernels<T> make_affine_kernels() {
  return {&affine<T>, &affine_backward<T>};
}

const AffineKernels<float> kAffineF32 = make_affine_kernels<float>();
const AffineKernels<double> kAffineF64 = make_affine_kernels<double>();

}  // namespace

EMBER_REGISTER_KERNELS(AffineKernels<float>, Device::cpu, kAffineF32);
EMBER_REGISTER_KERNELS(AffineKernels<double>, Device::cpu, kAffineF64);

}  // namespace ember
