// All parameters of a model in one contiguous buffer and their gradients in another. Each
// parameter is a segment (64-byte aligned) of both; layers see views. The optimizer updates the
// whole arena in one fused pass and a checkpoint is one buffer.
#pragma once
#include <vector>

#include "ember/tensor.h"

namespace ember {

struct ParamSegment {
  int64_t offset = 0;  // in elements
  Shape shape;
  int64_t size = 0;
  bool trainable = true;
};

class ParamArena {
 public:
  ParamArena(DType dtype, const std::vector<Shape>& shapes);
  DType dtype() const { return dtype_; }
  int count() const { return static_cast<int>(segs_.size()); }
  const ParamSegment& segment(int i) const;
  const std::vector<ParamSegment>& segments() const { return segs_; }
  void set_trainable(int i, bool trainable);
  Tensor value(int i) const;
  Tensor grad(int i) const;
  Tensor values() const { return values_; }   // the whole buffer, 1-D
  Tensor grads() const { return grads_; }
  int64_t total() const { return total_; }
  void zero_grads() const { grads_.zero(); }

 private:
  DType dtype_;
  std::vector<ParamSegment> segs_;
  int64_t total_ = 0;
  Tensor values_, grads_;
};

}  // namespace ember
