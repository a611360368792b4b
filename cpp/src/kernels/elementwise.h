// Kernel table of the elementwise family: activations (also fused by other ops, e.g. dense +
// bias + activation), plain unary math, clip, and broadcasting binary arithmetic.
//
// Fusing ops call the inline helpers at the bottom (act_forward / act_backward), which find the
// table of the requested device in the kernel registry.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ember/kernel_registry.h"
#include "ember/shape.h"

namespace ember {

// Activations that other ops may apply in place to their output. `alpha` is the one parameter
// some take: elu's alpha, leaky_relu's negative_slope; the others ignore it.
enum class Act { linear, relu, sigmoid, tanh, gelu, gelu_tanh, silu, elu, softplus, leaky_relu };

// "linear", "relu", "sigmoid", "tanh", "gelu" (exact erf form), "gelu_tanh" (Keras'
// approximate=True form), "silu" (alias "swish"), "elu", "softplus", "leaky_relu".
// ValueError listing the valid names otherwise.
Act act_from_name(const std::string& name);
const char* act_name(Act a);
// The default parameter of an activation as Keras has it (elu alpha 1.0, leaky_relu
// negative_slope 0.2; 0 for those without one).
double act_default_alpha(Act a);
// Which forward values act_backward reads, so a fusing op knows what it must keep: the
// pointer it does not read may be null.
//   from y (output):        relu, sigmoid, tanh
//   from x (pre-activation): gelu, gelu_tanh, silu, elu, softplus, leaky_relu
//   neither:                linear
bool act_backward_reads_x(Act a);
bool act_backward_reads_y(Act a);

// Plain unary math (no parameter). Gradients: abs'(0) = 0 as torch; sqrt'(0) = inf.
enum class Unary { negative, exp, log, sqrt, square, abs };

// Binary arithmetic with NumPy broadcasting. maximum/minimum propagate NaN (as NumPy) and, on
// ties, send half of the gradient to each input (as torch).
enum class Binary { add, subtract, multiply, divide, maximum, minimum,
                    // comparisons: 1 where true, 0 where false; forward only
                    equal, not_equal, less, less_equal, greater, greater_equal };

// Broadcast iteration space of out = f(a, b), with dimensions of extent 1 dropped and adjacent
// dimensions of the same broadcast pattern merged. Every stride is 0 (the input is broadcast
// along that dimension) or the input's contiguous stride. Rank is at least 1. This turns the
// common cases into short loops: same shapes -> one dimension with strides (1, 1); a scalar ->
// one dimension with a stride 0; a bias (N, C) + (C,) -> dims (N, C), b strides (0, 1).
struct BroadcastLayout {
  std::vector<int64_t> dims, a_strides, b_strides;
  int64_t size = 0;    // elements of the output
  int64_t a_size = 0;  // elements of a
  int64_t b_size = 0;  // elements of b
};
// a, b concrete and broadcastable (the op checked them), out = broadcast_shapes(a, b).
BroadcastLayout broadcast_layout(const Shape& a, const Shape& b);

template <class T>
struct ElementwiseFns {
  // y = act(x) over n elements; y == x (in place) is allowed.
  void (*act_forward)(Act act, const T* x, T* y, int64_t n, double alpha);
  // gx (=, or += when accumulate) gy * act'(x); see act_backward_reads_x/y for which of x, y
  // are read. gx == gy is allowed.
  void (*act_backward)(Act act, const T* x, const T* y, const T* gy, T* gx, int64_t n,
                       double alpha, bool accumulate);
  void (*unary_forward)(Unary op, const T* x, T* y, int64_t n);
  // Reads x (negative, log, square, abs) or y (exp, sqrt); both must be given.
  void (*unary_backward)(Unary op, const T* x, const T* y, const T* gy, T* gx, int64_t n,
                         bool accumulate);
  // y = min(max(x, lo), hi) (NumPy order: lo > hi gives hi everywhere).
  void (*clip_forward)(const T* x, T* y, int64_t n, T lo, T hi);
  // Gradient passes where lo <= x <= hi, boundaries included (torch.clamp, tf.clip_by_value).
  void (*clip_backward)(const T* x, const T* gy, T* gx, int64_t n, T lo, T hi, bool accumulate);
  void (*binary_forward)(Binary op, const BroadcastLayout& l, const T* a, const T* b, T* y);
  // Gradient of input `which` (0 = a, 1 = b), summed over the axes along which it was
  // broadcast, into gx of that input's shape.
  void (*binary_backward)(Binary op, int which, const BroadcastLayout& l, const T* a,
                          const T* b, const T* gy, T* gx, bool accumulate);
};

struct ElementwiseKernels {
  static constexpr const char* family = "elementwise";
  ElementwiseFns<float> f32;
  ElementwiseFns<double> f64;
  template <class T> const ElementwiseFns<T>& fns() const;
};
template <> inline const ElementwiseFns<float>& ElementwiseKernels::fns<float>() const { return f32; }
template <> inline const ElementwiseFns<double>& ElementwiseKernels::fns<double>() const { return f64; }

template <class T>
const ElementwiseFns<T>& elementwise_fns(Device d = Device::cpu) {
  return kernels<ElementwiseKernels>(d).fns<T>();
}

// For fusing ops: apply an activation in place (x == y) or out of place.
template <class T>
void act_forward(Act act, const T* x, T* y, int64_t n, double alpha, Device d = Device::cpu) {
  elementwise_fns<T>(d).act_forward(act, x, y, n, alpha);
}
template <class T>
void act_backward(Act act, const T* x, const T* y, const T* gy, T* gx, int64_t n, double alpha,
                  bool accumulate, Device d = Device::cpu) {
  elementwise_fns<T>(d).act_backward(act, x, y, gy, gx, n, alpha, accumulate);
}

}  // namespace ember
