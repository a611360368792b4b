// Kernels of the fused dense op around its BLAS product: the bias, broadcast over rows before
// the product (which then accumulates onto it), and the bias gradient. The activation and its
// derivative are the elementwise family's (kernels/elementwise.h), applied by the op.
#pragma once
#include <cstdint>

namespace ember {

struct DenseKernels {
  static constexpr const char* family = "dense";
  // y[r, :] = bias for every row r of y (rows x cols).
  template <class T>
  using BiasRows = void (*)(T* y, const T* bias, int64_t rows, int64_t cols);
  // bias_grad (=, or += when accumulate) the column sums of gz (rows x cols).
  template <class T>
  using BiasGrad = void (*)(const T* gz, T* bias_grad, bool accumulate, int64_t rows,
                            int64_t cols);
  BiasRows<float> bias_rows_f32;
  BiasRows<double> bias_rows_f64;
  BiasGrad<float> bias_grad_f32;
  BiasGrad<double> bias_grad_f64;
  template <class T> BiasRows<T> bias_rows() const {
    if constexpr (sizeof(T) == 4) return bias_rows_f32; else return bias_rows_f64;
  }
  template <class T> BiasGrad<T> bias_grad() const {
    if constexpr (sizeof(T) == 4) return bias_grad_f32; else return bias_grad_f64;
  }
};

}  // namespace ember
