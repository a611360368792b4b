#include "core/blas.h"

#include <omp.h>

#include <algorithm>

#include <cblas.h>

#ifndef BLAS_SYMBOL_PREFIX
#define BLAS_SYMBOL_PREFIX
#endif
#define EMBER_PCAT_INNER(p, n) p##n
#define EMBER_PCAT(p, n) EMBER_PCAT_INNER(p, n)
#define EMBER_BLAS(n) EMBER_PCAT(BLAS_SYMBOL_PREFIX, n)

#ifdef EMBER_OPENBLAS
extern "C" void EMBER_BLAS(openblas_set_num_threads)(int);
#endif

namespace ember {

namespace {

// One thread pool for everything: BLAS itself runs single-threaded and ember splits a large
// product into blocks, one per OpenMP thread. Two pools (OpenMP's and OpenBLAS's) spinning
// alternately on two cores cost a 32-sample MLP step 3-4x its time.
constexpr double kParallelFlops = 4e6;  // below this, waking a second thread costs more than it saves

inline void call(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                 int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  EMBER_BLAS(cblas_sgemm)(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
                          tb ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c,
                          ldc);
}

inline void call(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha,
                 const double* a, int64_t lda, const double* b, int64_t ldb, double beta,
                 double* c, int64_t ldc) {
  EMBER_BLAS(cblas_dgemm)(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
                          tb ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c,
                          ldc);
}

}  // namespace

template <class T>
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  const int threads = omp_get_max_threads();
  const double flops = 2.0 * m * n * k;
  if (threads == 1 || flops < kParallelFlops || omp_in_parallel()) {
    call(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  // Split the longer side of C into one block per thread (multiples of 16 keep the blocks
  // aligned to the BLAS kernels' register tiles).
  const bool split_rows = m >= n;
  const int64_t extent = split_rows ? m : n;
  const int parts = static_cast<int>(std::min<int64_t>(threads, (extent + 15) / 16));
  const int64_t block = ((extent + parts - 1) / parts + 15) / 16 * 16;
#pragma omp parallel for num_threads(parts) schedule(static, 1)
  for (int p = 0; p < parts; ++p) {
    const int64_t lo = p * block;
    const int64_t len = std::min(block, extent - lo);
    if (len <= 0) continue;
    if (split_rows) {
      const T* ap = ta ? a + lo : a + lo * lda;
      call(ta, tb, len, n, k, alpha, ap, lda, b, ldb, beta, c + lo * ldc, ldc);
    } else {
      const T* bp = tb ? b + lo * ldb : b + lo;
      call(ta, tb, m, len, k, alpha, a, lda, bp, ldb, beta, c + lo, ldc);
    }
  }
}

template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                          const float*, int64_t, float, float*, int64_t);
template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                           const double*, int64_t, double, double*, int64_t);

void blas_set_num_threads(int) {
#ifdef EMBER_OPENBLAS
  EMBER_BLAS(openblas_set_num_threads)(1);  // ember's own blocks carry the parallelism
#endif
}

}  // namespace ember
