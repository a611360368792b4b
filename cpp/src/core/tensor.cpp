#include "ember/tensor.h"

#include <cstdlib>
#include <cstring>

#include "ember/error.h"

namespace ember {

std::shared_ptr<void> aligned_alloc_bytes(size_t nbytes) {
  size_t rounded = (nbytes + 63) / 64 * 64;
  if (rounded == 0) rounded = 64;
  void* p = std::aligned_alloc(64, rounded);
  if (!p) throw MemoryError(detail::concat("could not allocate ", nbytes, " bytes"));
  return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
}

Tensor::Tensor(Shape shape, DType dtype) : shape_(std::move(shape)), dtype_(dtype) {
  EMBER_CHECK(is_concrete(shape_), ValueError, "tensor: shape ", shape_str(shape_),
              " has unknown extents");
  owner_ = aligned_alloc_bytes(nbytes());
  data_ = owner_.get();
  std::memset(data_, 0, nbytes());
}

Tensor Tensor::view(void* data, Shape shape, DType dtype, std::shared_ptr<void> owner) {
  Tensor t;
  t.data_ = data;
  t.shape_ = std::move(shape);
  t.dtype_ = dtype;
  t.owner_ = std::move(owner);
  return t;
}

void Tensor::zero() const {
  if (data_) std::memset(data_, 0, nbytes());
}

Tensor Tensor::reshaped(Shape s) const {
  EMBER_CHECK(numel(s) == size(), ValueError, "reshape: cannot view ", size(),
              " elements as shape ", shape_str(s));
  return view(data_, std::move(s), dtype_, owner_);
}

}  // namespace ember
