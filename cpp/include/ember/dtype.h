// Element types a tensor can hold. float32 is the compute type; float64 works in every CPU op
// (gradient checks use it); int32/int64 carry labels and token ids.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace ember {

enum class DType : int8_t { f32 = 0, f64 = 1, i32 = 2, i64 = 3 };

size_t dtype_size(DType t);
const char* dtype_name(DType t);   // "float32", "float64", "int32", "int64"
DType dtype_from_name(const std::string& name);  // throws TypeError on an unknown name
inline bool is_floating(DType t) { return t == DType::f32 || t == DType::f64; }

template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::f32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::f64; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::i32; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::i64; };

// Calls f(T{}) with T the C++ type of a floating dtype; TypeError names `who` otherwise.
template <class F>
auto dispatch_float(DType t, const char* who, F&& f);

}  // namespace ember

#include "ember/error.h"

namespace ember {
template <class F>
auto dispatch_float(DType t, const char* who, F&& f) {
  switch (t) {
    case DType::f32: return f(float{});
    case DType::f64: return f(double{});
    default:
      throw TypeError(detail::concat(who, ": expected a float32 or float64 tensor, received ",
                                     dtype_name(t)));
  }
}
}  // namespace ember
