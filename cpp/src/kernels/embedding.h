// Kernel table of the embedding family: row gather from a (V, E) table by integer ids, and its
// gradient, a deterministic scatter-add into the rows used. Ids are checked by the op (all in
// [0, V)) before a kernel runs.
#pragma once
#include <cstdint>

#include "ember/kernel_registry.h"

namespace ember {

struct EmbeddingKernels {
  static constexpr const char* family = "embedding";
  // out[i, :] = table[ids[i], :] for i < n.
  template <class T, class I>
  using Gather = void (*)(const T* table, int64_t E, const I* ids, int64_t n, T* out);
  // dtable[ids[i], :] += gout[i, :] for i < n, in order of i (deterministic).
  template <class T, class I>
  using ScatterAdd = void (*)(const T* gout, int64_t E, const I* ids, int64_t n, T* dtable);
  Gather<float, int32_t> gather_f32_i32;
  Gather<float, int64_t> gather_f32_i64;
  Gather<double, int32_t> gather_f64_i32;
  Gather<double, int64_t> gather_f64_i64;
  ScatterAdd<float, int32_t> scatter_f32_i32;
  ScatterAdd<float, int64_t> scatter_f32_i64;
  ScatterAdd<double, int32_t> scatter_f64_i32;
  ScatterAdd<double, int64_t> scatter_f64_i64;

  template <class T, class I>
  Gather<T, I> gather() const {
    if constexpr (sizeof(T) == 4) {
      if constexpr (sizeof(I) == 4) return gather_f32_i32; else return gather_f32_i64;
    } else {
      if constexpr (sizeof(I) == 4) return gather_f64_i32; else return gather_f64_i64;
    }
  }
  template <class T, class I>
  ScatterAdd<T, I> scatter_add() const {
    if constexpr (sizeof(T) == 4) {
      if constexpr (sizeof(I) == 4) return scatter_f32_i32; else return scatter_f32_i64;
    } else {
      if constexpr (sizeof(I) == 4) return scatter_f64_i32; else return scatter_f64_i64;
    }
  }
};

}  // namespace ember
