#include "ember/arena.h"

#include "ember/error.h"

namespace ember {

namespace {

constexpr int64_t kSegmentAlignBytes = 64;  // a cache line, and the widest SIMD load

void check_index(int i, int count) {
  EMBER_CHECK(i >= 0 && i < count, IndexError, "ParamArena: parameter index ", i,
              " is out of range for an arena of ", count, " parameters");
}

}  // namespace

ParamArena::ParamArena(DType dtype, const std::vector<Shape>& shapes) : dtype_(dtype) {
  EMBER_CHECK(is_floating(dtype), TypeError,
              "ParamArena: expected a float32 or float64 arena, received ", dtype_name(dtype));
  // Every segment starts on a 64-byte boundary of the (64-byte aligned) buffers.
  const int64_t align = kSegmentAlignBytes / static_cast<int64_t>(dtype_size(dtype));
  int64_t offset = 0;
  segs_.reserve(shapes.size());
  for (size_t i = 0; i < shapes.size(); ++i) {
    EMBER_CHECK(is_concrete(shapes[i]), ValueError, "ParamArena: parameter ", i, " has shape ",
                shape_str(shapes[i]), "; parameters need known extents");
    ParamSegment s;
    s.offset = offset;
    s.shape = shapes[i];
    s.size = numel(shapes[i]);
    segs_.push_back(s);
    offset += (s.size + align - 1) / align * align;
  }
  total_ = offset;
  values_ = Tensor({total_}, dtype);  // zero-initialised, 64-byte aligned
  grads_ = Tensor({total_}, dtype);
}

const ParamSegment& ParamArena::segment(int i) const {
  check_index(i, count());
  return segs_[i];
}

void ParamArena::set_trainable(int i, bool trainable) {
  check_index(i, count());
  segs_[i].trainable = trainable;
}

Tensor ParamArena::value(int i) const {
  const ParamSegment& s = segment(i);
  char* base = static_cast<char*>(values_.raw()) + s.offset * dtype_size(dtype_);
  return Tensor::view(base, s.shape, dtype_, values_.owner());
}

Tensor ParamArena::grad(int i) const {
  const ParamSegment& s = segment(i);
  char* base = static_cast<char*>(grads_.raw()) + s.offset * dtype_size(dtype_);
  return Tensor::view(base, s.shape, dtype_, grads_.owner());
}

}  // namespace ember
