// GCC vector-extension types for CPU kernels whose compares must stay branch-free: under the
// default -ftrapping-math the auto-vectoriser turns NaN-aware selects into branches. The width
// is one register of the target (32 bytes with AVX, else 16): GCC lowers wider vectors poorly.
#pragma once
#include <cstdint>

#if defined(__AVX__)
#define EMBER_VEC_BYTES 32
#else
#define EMBER_VEC_BYTES 16
#endif

namespace ember {

template <class T> struct VecOf;
template <> struct VecOf<float> {
  typedef float type __attribute__((vector_size(EMBER_VEC_BYTES)));
  typedef int32_t mask __attribute__((vector_size(EMBER_VEC_BYTES)));
};
template <> struct VecOf<double> {
  typedef double type __attribute__((vector_size(EMBER_VEC_BYTES)));
  typedef int64_t mask __attribute__((vector_size(EMBER_VEC_BYTES)));
};
template <class T> using Vec = typename VecOf<T>::type;
template <class T> using Mask = typename VecOf<T>::mask;
template <class T> constexpr int kLanes = EMBER_VEC_BYTES / sizeof(T);

}  // namespace ember
