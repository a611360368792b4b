// Kernel table of the loss and metric family: plain functions over raw buffers, one set per
// float type. Forward kernels return the *sum* of the per-sample (or per-element) values in
// double; the op divides by the count, so the kernels never need to know the reduction.
// Inputs are validated by the ops before a kernel runs (labels in range, shapes paired):
// kernels never throw.
#pragma once
#include <cstdint>

namespace ember {

template <class T>
struct LossFns {
  // Sparse categorical cross-entropy of `rows` rows of `classes` scores against integer labels
  // already checked to lie in [0, classes). Probabilities path as Keras: p / sum(p), clipped
  // to [1e-7, 1 - 1e-7], -log; logits path: log-softmax.
  double (*sparse_ce)(const T* pred, const int64_t* labels, int64_t rows, int64_t classes,
                      bool from_logits);
  // d(scale * sum of row losses)/d pred, stored (or added when accumulate) into dpred.
  void (*sparse_ce_grad)(const T* pred, const int64_t* labels, int64_t rows, int64_t classes,
                         bool from_logits, T scale, T* dpred, bool accumulate);

  // Categorical cross-entropy against dense targets of the same layout; label_smoothing
  // replaces t by t * (1 - ls) + ls / classes.
  double (*categorical_ce)(const T* target, const T* pred, int64_t rows, int64_t classes,
                           bool from_logits, double label_smoothing);
  void (*categorical_ce_grad)(const T* target, const T* pred, int64_t rows, int64_t classes,
                              bool from_logits, double label_smoothing, T scale, T* dpred,
                              bool accumulate);

  // Elementwise binary cross-entropy over n values; label_smoothing: t * (1 - ls) + ls / 2.
  double (*binary_ce)(const T* target, const T* pred, int64_t n, bool from_logits,
                      double label_smoothing);
  void (*binary_ce_grad)(const T* target, const T* pred, int64_t n, bool from_logits,
                         double label_smoothing, T scale, T* dpred, bool accumulate);

  // Sum of (t - p)^2 and of |t - p| over n values, and their gradients wrt p.
  double (*squared_error)(const T* target, const T* pred, int64_t n);
  void (*squared_error_grad)(const T* target, const T* pred, int64_t n, T scale, T* dpred,
                             bool accumulate);
  double (*absolute_error)(const T* target, const T* pred, int64_t n);
  void (*absolute_error_grad)(const T* target, const T* pred, int64_t n, T scale, T* dpred,
                              bool accumulate);

  // Metrics: how many rows (or elements) match.
  // argmax(pred row) == label; a label of -1 never matches.
  int64_t (*sparse_matches)(const T* pred, const int64_t* labels, int64_t rows, int64_t classes);
  // argmax(target row) == argmax(pred row), first maximum winning ties as NumPy does.
  int64_t (*argmax_matches)(const T* target, const T* pred, int64_t rows, int64_t classes);
  // (pred > threshold ? 1 : 0) == target.
  int64_t (*threshold_matches)(const T* target, const T* pred, int64_t n, T threshold);
};

struct LossKernels {
  static constexpr const char* family = "losses";
  LossFns<float> f32;
  LossFns<double> f64;
  template <class T> const LossFns<T>& of() const;
};

template <> inline const LossFns<float>& LossKernels::of<float>() const { return f32; }
template <> inline const LossFns<double>& LossKernels::of<double>() const { return f64; }

}  // namespace ember
