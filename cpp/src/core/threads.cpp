#include "ember/threads.h"

#include <omp.h>

#include "core/blas.h"

namespace ember {

static int g_threads = 0;

void set_num_threads(int n) {
  if (n <= 0) n = omp_get_num_procs();
  g_threads = n;
  omp_set_num_threads(n);
  blas_set_num_threads(n);
}

int get_num_threads() { return g_threads > 0 ? g_threads : omp_get_max_threads(); }

namespace {
// At load: BLAS single-threaded (ember's OpenMP blocks parallelise products, see blas.cpp).
struct ThreadPolicy {
  ThreadPolicy() { blas_set_num_threads(1); }
} policy;
}  // namespace

}  // namespace ember
