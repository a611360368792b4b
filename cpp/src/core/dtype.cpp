#include "ember/dtype.h"

#include "ember/kernel_registry.h"

namespace ember {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: case DType::i32: return 4;
    case DType::f64: case DType::i64: return 8;
  }
  return 0;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "float32";
    case DType::f64: return "float64";
    case DType::i32: return "int32";
    case DType::i64: return "int64";
  }
  return "?";
}

DType dtype_from_name(const std::string& n) {
  if (n == "float32") return DType::f32;
  if (n == "float64") return DType::f64;
  if (n == "int32") return DType::i32;
  if (n == "int64") return DType::i64;
  throw TypeError("unsupported dtype '" + n + "': expected float32, float64, int32 or int64");
}

const char* device_name(Device d) { return d == Device::cpu ? "cpu" : "cuda"; }

}  // namespace ember
