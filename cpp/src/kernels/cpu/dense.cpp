#include "kernels/dense.h"

#include <cstring>

#include "ember/kernel_registry.h"
#include "ember/threads.h"

namespace ember {
namespace {

template <class T>
void bias_rows(T* y, const T* bias, int64_t rows, int64_t cols) {
#pragma omp parallel for if (rows * cols > kParallelGrain) schedule(static)
  for (int64_t r = 0; r < rows; ++r)
    std::memcpy(y + r * cols, bias, sizeof(T) * static_cast<size_t>(cols));
}

template <class T>
void bias_grad(const T* gz, T* bias_grad, bool accumulate, int64_t rows, int64_t cols) {
  if (!accumulate) std::memset(bias_grad, 0, sizeof(T) * static_cast<size_t>(cols));
  // Rows outer so the inner loop is contiguous and vectorises.
  for (int64_t r = 0; r < rows; ++r) {
    const T* row = gz + r * cols;
    for (int64_t c = 0; c < cols; ++c) bias_grad[c] += row[c];
  }
}

const DenseKernels cpu_dense = {bias_rows<float>, bias_rows<double>, bias_grad<float>,
                                bias_grad<double>};

}  // namespace

EMBER_REGISTER_KERNELS(DenseKernels, Device::cpu, cpu_dense);

}  // namespace ember
