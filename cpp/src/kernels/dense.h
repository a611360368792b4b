// Kernels of the fused dense op: the epilogue (bias + activation) after the BLAS product, and
// its backward (activation derivative taken from the output, bias gradient).
#pragma once
#include <cstdint>
#include <string>

namespace ember {

// Activations the dense epilogue fuses: those whose derivative is a function of the output.
enum class DenseAct : int { linear = 0, relu, sigmoid, tanh };
bool dense_act_from_name(const std::string& name, DenseAct* out);  // false: not fusable

struct DenseKernels {
  static constexpr const char* family = "dense";
  template <class T>
  using Epilogue = void (*)(T* y, const T* bias, int64_t rows, int64_t cols, DenseAct act);
  // gz = gy * act'(y) (unused for linear, where gy serves); bias_grad (+)= column sums of gz.
  template <class T>
  using Backward = void (*)(const T* y, const T* gy, T* gz, T* bias_grad, bool bias_accumulate,
                            int64_t rows, int64_t cols, DenseAct act);
  Epilogue<float> epilogue_f32;
  Epilogue<double> epilogue_f64;
  Backward<float> backward_f32;
  Backward<double> backward_f64;
  template <class T> Epilogue<T> epilogue() const {
    if constexpr (sizeof(T) == 4) return epilogue_f32; else return epilogue_f64;
  }
  template <class T> Backward<T> backward() const {
    if constexpr (sizeof(T) == 4) return backward_f32; else return backward_f64;
  }
};

}  // namespace ember
