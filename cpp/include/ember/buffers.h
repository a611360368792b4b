// Tensors from and to plain C++ buffers (copies, so the tensor owns its memory and the buffer
// may go away). For zero-copy use Tensor::view with an owner that keeps the memory alive.
#pragma once
#include <cstring>
#include <vector>

#include "ember/error.h"
#include "ember/tensor.h"

namespace ember {

// A tensor of `shape` holding a copy of `data` (numel(shape) elements).
template <class T>
Tensor tensor_from(const T* data, const Shape& shape) {
  EMBER_CHECK(is_concrete(shape), ValueError, "tensor_from: expected a known shape, received ",
              shape_str(shape));
  Tensor t(shape, dtype_of<T>::value);
  if (t.size() > 0) std::memcpy(t.raw(), data, t.nbytes());
  return t;
}

template <class T>
Tensor tensor_from(const std::vector<T>& data, const Shape& shape) {
  EMBER_CHECK(is_concrete(shape) && static_cast<int64_t>(data.size()) == numel(shape),
              ValueError, "tensor_from: a tensor of shape ", shape_str(shape), " needs ",
              is_concrete(shape) ? numel(shape) : 0, " values, received ", data.size());
  return tensor_from(data.data(), shape);
}

// The elements of `t` in row-major order; TypeError unless T is its element type.
template <class T>
std::vector<T> to_vector(const Tensor& t) {
  EMBER_CHECK(t.dtype() == dtype_of<T>::value, TypeError, "to_vector: the tensor holds ",
              dtype_name(t.dtype()), ", not ", dtype_name(dtype_of<T>::value));
  std::vector<T> out(static_cast<size_t>(t.size()));
  if (!out.empty()) std::memcpy(out.data(), t.raw(), t.nbytes());
  return out;
}

}  // namespace ember
