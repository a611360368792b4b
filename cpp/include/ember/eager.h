// Runs one op at once on concrete tensors (how ember.ops works on NumPy arrays).
#pragma once
#include "ember/attrs.h"
#include "ember/tensor.h"

namespace ember {
Tensor run_op(const std::string& op, const Attrs& attrs, const std::vector<Tensor>& inputs);
}  // namespace ember
