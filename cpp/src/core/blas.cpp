#include "core/blas.h"

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

template <>
void gemm<float>(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                 int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  EMBER_BLAS(cblas_sgemm)(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
                          tb ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c,
                          ldc);
}

template <>
void gemm<double>(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha,
                  const double* a, int64_t lda, const double* b, int64_t ldb, double beta,
                  double* c, int64_t ldc) {
  EMBER_BLAS(cblas_dgemm)(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
                          tb ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c,
                          ldc);
}

void blas_set_num_threads(int n) {
#ifdef EMBER_OPENBLAS
  EMBER_BLAS(openblas_set_num_threads)(n);
#else
  (void)n;
#endif
}

}  // namespace ember
