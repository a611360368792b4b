// The NaN check (off by default): when enabled, every plan checks each op's output in the forward
// pass and each gradient it writes in the backward pass, and throws NumericError naming the first
// op and layer that produced a NaN or an infinity (Program adds the training step).
#pragma once
#include <cstdint>

#include "ember/tensor.h"

namespace ember {
void set_nan_check(bool enabled);
bool nan_check_enabled();
// Index of the first NaN or infinity in a floating tensor, or -1 (always -1 for integer tensors).
int64_t first_non_finite(const Tensor& t);
}  // namespace ember
