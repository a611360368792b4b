// The one door to BLAS. Built against scipy-openblas32 its symbols carry a prefix
// (BLAS_SYMBOL_PREFIX=scipy_); any other CMake-findable CBLAS works unprefixed.
#pragma once
#include <cstdint>

namespace ember {

// Row-major C = alpha * op(A) @ op(B) + beta * C, op(X) = X or X^T.
template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
          int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

// ember runs BLAS single-threaded and parallelises products itself (see blas.cpp).
void blas_set_num_threads(int n);

}  // namespace ember
