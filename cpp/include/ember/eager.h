// Runs one op at once on concrete tensors (how ember.ops works on NumPy arrays).
#pragma once
#include "ember/attrs.h"
#include "ember/tensor.h"

namespace ember {
// `seed` keys the op's random stream (dropout): a fresh one per call gives fresh masks.
Tensor run_op(const std::string& op, const Attrs& attrs, const std::vector<Tensor>& inputs,
              uint64_t seed = 0);
}  // namespace ember
