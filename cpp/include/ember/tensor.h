// A dense, contiguous, row-major tensor. It either owns 64-byte aligned storage or views memory
// owned by someone else (a Plan's workspace, the parameter arena, a NumPy array), kept alive by
// the shared `owner` handle.
#pragma once
#include <memory>

#include "ember/dtype.h"
#include "ember/shape.h"

namespace ember {

class Tensor {
 public:
  Tensor() = default;
  Tensor(Shape shape, DType dtype);                    // owning, zero-initialised
  static Tensor view(void* data, Shape shape, DType dtype, std::shared_ptr<void> owner = {});

  template <class T> T* data() const { return static_cast<T*>(data_); }
  void* raw() const { return data_; }
  const Shape& shape() const { return shape_; }
  DType dtype() const { return dtype_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int i) const { return shape_[i < 0 ? i + rank() : i]; }
  int64_t size() const { return numel(shape_); }
  size_t nbytes() const { return static_cast<size_t>(size()) * dtype_size(dtype_); }
  bool defined() const { return data_ != nullptr || size() == 0; }
  const std::shared_ptr<void>& owner() const { return owner_; }

  void zero() const;
  Tensor reshaped(Shape s) const;  // a view with the same element count

 private:
  void* data_ = nullptr;
  Shape shape_;
  DType dtype_ = DType::f32;
  std::shared_ptr<void> owner_;
};

// 64-byte aligned allocation released by the returned handle; MemoryError when it fails.
std::shared_ptr<void> aligned_alloc_bytes(size_t nbytes);

}  // namespace ember
