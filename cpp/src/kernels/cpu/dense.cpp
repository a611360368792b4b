#include "kernels/dense.h"

#include <cmath>
#include <cstring>

#include "ember/kernel_registry.h"
#include "ember/threads.h"

namespace ember {

bool dense_act_from_name(const std::string& name, DenseAct* out) {
  if (name == "linear" || name.empty()) *out = DenseAct::linear;
  else if (name == "relu") *out = DenseAct::relu;
  else if (name == "sigmoid") *out = DenseAct::sigmoid;
  else if (name == "tanh") *out = DenseAct::tanh;
  else return false;
  return true;
}

namespace {

template <class T>
inline T apply(T v, DenseAct act) {
  switch (act) {
    case DenseAct::relu: return v > T(0) ? v : T(0);
    case DenseAct::sigmoid: return T(1) / (T(1) + std::exp(-v));
    case DenseAct::tanh: return std::tanh(v);
    default: return v;
  }
}

template <class T>
void epilogue(T* y, const T* bias, int64_t rows, int64_t cols, DenseAct act) {
#pragma omp parallel for if (rows * cols > kParallelGrain) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    T* row = y + r * cols;
    if (bias)
      for (int64_t c = 0; c < cols; ++c) row[c] += bias[c];
    if (act == DenseAct::relu) {
      for (int64_t c = 0; c < cols; ++c) row[c] = row[c] > T(0) ? row[c] : T(0);
    } else if (act != DenseAct::linear) {
      for (int64_t c = 0; c < cols; ++c) row[c] = apply(row[c], act);
    }
  }
}

template <class T>
void backward(const T* y, const T* gy, T* gz, T* bias_grad, bool bias_acc, int64_t rows,
              int64_t cols, DenseAct act) {
  const int64_t n = rows * cols;
  if (act == DenseAct::linear) gz = const_cast<T*>(gy);  // nothing to multiply: read gy itself
  else
#pragma omp parallel for if (n > kParallelGrain) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    T d;
    switch (act) {
      case DenseAct::relu: d = y[i] > T(0) ? T(1) : T(0); break;
      case DenseAct::sigmoid: d = y[i] * (T(1) - y[i]); break;
      case DenseAct::tanh: d = T(1) - y[i] * y[i]; break;
      default: d = T(1);
    }
    gz[i] = gy[i] * d;
  }
  if (!bias_grad) return;
  if (!bias_acc) std::memset(bias_grad, 0, sizeof(T) * cols);
  // Column sums: rows outer so the inner loop is contiguous and vectorises.
  for (int64_t r = 0; r < rows; ++r) {
    const T* row = gz + r * cols;
    for (int64_t c = 0; c < cols; ++c) bias_grad[c] += row[c];
  }
}

const DenseKernels cpu_dense = {epilogue<float>, epilogue<double>, backward<float>,
                                backward<double>};

}  // namespace

EMBER_REGISTER_KERNELS(DenseKernels, Device::cpu, cpu_dense);

}  // namespace ember
