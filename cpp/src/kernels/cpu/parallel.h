// Splitting a loop over the OpenMP team only when it is worth it. `#pragma omp parallel for
// if (small)` still enters the runtime and sets up a team of one (about 0.4 us with libgomp,
// several times what an 800-element loop costs), which adds up when a kernel applies such a
// loop per tile; below the grain, or inside a parallel region, these helpers run the body
// inline.
#pragma once
#include <omp.h>

#include <cstdint>

#include "ember/threads.h"

namespace ember {

// body(begin, end) over [0, n): static contiguous blocks, one per thread, when n exceeds
// kParallelGrain outside a parallel region; else once over the whole range.
template <class F>
void parallel_blocks(int64_t n, F&& body) {
  if (n <= kParallelGrain || omp_in_parallel()) {
    body(int64_t(0), n);
    return;
  }
#pragma omp parallel
  {
    const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    body(n * t / nt, n * (t + 1) / nt);
  }
}

}  // namespace ember
