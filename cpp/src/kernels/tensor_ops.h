// Kernel tables of the tensor-op family: reductions, softmax, matmul's GEMM, and the data movers
// of the shape ops (reshape, transpose, concatenate, expand_dims, squeeze). Ops compute the
// geometry (merged extents, outer/n/inner splits) and call these through the kernel registry.
#pragma once
#include <cstddef>
#include <cstdint>

#include "ember/dtype.h"
#include "ember/kernel_registry.h"

namespace ember {

enum class ReduceKind : int { sum = 0, max = 1, min = 2 };

// Movers that copy bytes, so they serve every dtype (elem = element width: 1, 2, 4 or 8 bytes).
struct ShapeKernels {
  static constexpr const char* family = "shape_ops";
  // y = x with axes permuted: y's axis i is x's axis perm[i]; dims are x's extents.
  void (*permute)(const void* x, void* y, size_t elem, int rank, const int64_t* dims,
                  const int* perm);
  // dst[r * dst_stride + c] = src[r * src_stride + c] for r < rows, c < cols (strides in elements).
  void (*copy2d)(const void* src, int64_t src_stride, void* dst, int64_t dst_stride,
                 int64_t rows, int64_t cols, size_t elem);
  // y = x converted element by element from dtype `from` to dtype `to` (C++ conversion rules:
  // float to int truncates toward zero), or added to y (only for a floating `to`).
  void (*convert)(const void* x, DType from, void* y, DType to, int64_t n, bool accumulate);
};

// Arithmetic kernels, one table per floating type (float, double).
//
// Reductions take the input as `rank` merged extents with a flag per extent saying whether it is
// reduced; consecutive extents of the same kind are already merged and size-1 extents dropped, so
// the common layouts arrive as (n) [all], (outer, n) [last axis], (n, inner) [leading axis] and
// (outer, n, inner); anything else takes the general strided path.
template <class T>
struct TensorOpsKernels {
  static constexpr const char* family = "tensor_ops";

  // y = scale * reduce(x) over the flagged extents (sum: mean passes scale = 1/count).
  // max/min propagate NaN. y has the product of the kept extents.
  void (*reduce)(ReduceKind kind, const T* x, T* y, int rank, const int64_t* dims,
                 const uint8_t* reduced, T scale);
  // gx (=|+=) scale * gy broadcast back over the reduced extents.
  void (*reduce_sum_backward)(const T* gy, T* gx, int rank, const int64_t* dims,
                              const uint8_t* reduced, T scale, bool accumulate);
  // gx gets gy at the first element (row-major order within the reduced slice) equal to the
  // forward result y, and 0 elsewhere (+0 when accumulating).
  void (*reduce_extreme_backward)(const T* x, const T* y, const T* gy, T* gx, int rank,
                                  const int64_t* dims, const uint8_t* reduced, bool accumulate);

  // Softmax over the middle extent n of an (outer, n, inner) view; log = log_softmax.
  void (*softmax)(const T* x, T* y, int64_t outer, int64_t n, int64_t inner, bool log);
  // Backward from the output y: softmax gx = y * (gy - sum(gy * y)); log_softmax
  // gx = gy - exp(y) * sum(gy). Safe in place (gx may alias gy).
  void (*softmax_backward)(const T* y, const T* gy, T* gx, int64_t outer, int64_t n,
                           int64_t inner, bool log, bool accumulate);

  // Row-major C = alpha * op(A) @ op(B) + beta * C, also for empty extents (k = 0 scales C by
  // beta). Parallel itself when large (through ember::gemm); single-threaded when called from
  // inside an OpenMP parallel region.
  void (*gemm)(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
               int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc);
  // `count` such products, item i on the matrices at a + a_off[i], b + b_off[i], c + c_off[i].
  // The c_off must be distinct (items may run in parallel); a and b offsets may repeat.
  void (*gemm_batch)(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha,
                     const T* a, const int64_t* a_off, int64_t lda, const T* b,
                     const int64_t* b_off, int64_t ldb, T beta, T* c, const int64_t* c_off,
                     int64_t ldc, int64_t count);

  // Gradient movers of the shape ops: like ShapeKernels, assigning or adding.
  void (*permute)(const T* x, T* y, int rank, const int64_t* dims, const int* perm,
                  bool accumulate);
  void (*copy2d)(const T* src, int64_t src_stride, T* dst, int64_t dst_stride, int64_t rows,
                 int64_t cols, bool accumulate);
  void (*fill)(T* dst, int64_t n, T value);
};

}  // namespace ember
