// Kernel table of the attention family: scaled dot-product attention in the FlashAttention
// scheme. Queries and keys are processed in tiles with an online softmax, so no Tq x Tk matrix
// ever exists beyond one tile per thread; forward keeps only each row's maximum and inverse sum
// (2 x B*H*Tq values), and backward recomputes the scores tile by tile.
//
// Layout (as keras.ops.dot_product_attention): q (B, Tq, H, D), k (B, Tk, H, D),
// v (B, Tk, H, Dv), out (B, Tq, H, Dv), all contiguous. For one (batch, head) a matrix's rows are
// H*D (or H*Dv) elements apart, which BLAS takes as the leading dimension: nothing is transposed.
//
// Masking. A key j is visible to query i when the mask (if any) is nonzero at (b, h, i, j) and,
// with `causal`, j <= i. Hidden logits are *replaced* by kAttnMaskedLogit, Keras's large
// negative (-0.7 * 3.38953e38, keras/src/backend/*/nn.py), so a partially masked row gives them
// exactly zero weight and a fully masked row attends uniformly to all Tk keys, as
// keras.ops.dot_product_attention (the path MultiHeadAttention takes) does. Hidden logits do
// not depend on q or k, so they receive no gradient. With `zero_empty_rows` a row with no
// visible key outputs 0 instead (keras.layers.Softmax with a mask, the path MultiHeadAttention
// takes with dropout or return_attention_scores), and passes no gradient.
//
// Dropout (rate > 0) zeroes attention probabilities with probability `rate` and scales the
// others by 1 / (1 - rate), after normalisation (Keras applies Dropout to the softmax output).
// A probability's fate is drawn from the counter RNG at key rng_key(seed, b * H + h), counter
// i * Tk + j, so backward redraws the same bits and no thread count changes them.
#pragma once
#include <cstddef>
#include <cstdint>

#include "ember/kernel_registry.h"

namespace ember {

constexpr double kAttnMaskedLogit = -0.7 * 3.38953e38;

template <class T>
struct AttnProblem {
  int64_t B = 0, Tq = 0, Tk = 0, H = 0, D = 0, Dv = 0;
  T scale = T(1);
  bool causal = false;
  bool zero_empty_rows = false;
  // Mask values in the element order (b, h, i, j) with these strides (0 along broadcast axes);
  // null when there is no mask.
  const T* mask = nullptr;
  int64_t mask_stride[4] = {0, 0, 0, 0};
  double dropout = 0.0;  // rate; 0 = no dropout
  uint64_t seed = 0;
};

template <class T>
struct AttentionKernels {
  static constexpr const char* family = "attention";

  // Bytes of work memory forward / backward need when run on `threads` threads (a kernel given
  // less uses fewer threads; given too little for one, it throws before any work).
  size_t (*forward_work)(const AttnProblem<T>& p, int threads);
  size_t (*backward_work)(const AttnProblem<T>& p, int threads);

  // out = softmax(scale * q k^T, masked) v per (b, h); row_max and row_inv_sum ((B, H, Tq)
  // each) receive the softmax statistics backward needs.
  void (*forward)(const AttnProblem<T>& p, const T* q, const T* k, const T* v, T* out,
                  T* row_max, T* row_inv_sum, void* work, size_t work_bytes);
  // Gradients of sum(dout * out) with respect to q, k, v from forward's statistics. Each of dq,
  // dk, dv may be null (not wanted); each is assigned or, with its flag, added to.
  void (*backward)(const AttnProblem<T>& p, const T* q, const T* k, const T* v, const T* out,
                   const T* dout, const T* row_max, const T* row_inv_sum, T* dq, bool acc_q,
                   T* dk, bool acc_k, T* dv, bool acc_v, void* work, size_t work_bytes);
};

}  // namespace ember
