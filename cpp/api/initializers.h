// Keras's weight initializers (names, formulas, fan computation) on ember's counter-based
// random streams: a value depends only on (seed, index), so initialisation is reproducible
// for a given seed on any thread count. The values differ from Python's (NumPy's generator);
// the distributions are the same.
#pragma once
#include <string>
#include <vector>

#include "ember/tensor.h"

namespace ember::api {

// `name`: a Keras initializer name (see model.h). ValueError naming `who` when unknown.
Tensor initialize(const std::string& name, const Shape& shape, DType dtype, uint64_t seed,
                  const std::string& who);
bool is_initializer(const std::string& name);
std::vector<std::string> initializer_names();

}  // namespace ember::api
