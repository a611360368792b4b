#include "kernels/embedding.h"

#include <algorithm>
#include <cstring>

#include "ember/threads.h"

namespace ember {
namespace {

template <class T, class I>
void gather(const T* table, int64_t E, const I* ids, int64_t n, T* out) {
#pragma omp parallel for if (n * E > kParallelGrain) schedule(static)
  for (int64_t i = 0; i < n; ++i)
    std::memcpy(out + i * E, table + static_cast<int64_t>(ids[i]) * E, sizeof(T) * E);
}

// Threads split the columns, never the ids: every row sums its contributions in the order of
// the ids, whatever the thread count, and no two threads write the same element.
template <class T, class I>
void scatter_add(const T* gout, int64_t E, const I* ids, int64_t n, T* dtable) {
  constexpr int64_t kBlock = 64;
  const int64_t blocks = (E + kBlock - 1) / kBlock;
#pragma omp parallel for if (n * E > kParallelGrain) schedule(static)
  for (int64_t k = 0; k < blocks; ++k) {
    const int64_t c0 = k * kBlock, c1 = std::min(E, c0 + kBlock);
    for (int64_t i = 0; i < n; ++i) {
      T* dst = dtable + static_cast<int64_t>(ids[i]) * E;
      const T* src = gout + i * E;
      for (int64_t c = c0; c < c1; ++c) dst[c] += src[c];
    }
  }
}

const EmbeddingKernels cpu_embedding = {
    gather<float, int32_t>,       gather<float, int64_t>,       gather<double, int32_t>,
    gather<double, int64_t>,      scatter_add<float, int32_t>,  scatter_add<float, int64_t>,
    scatter_add<double, int32_t>, scatter_add<double, int64_t>,
};

}  // namespace

EMBER_REGISTER_KERNELS(EmbeddingKernels, Device::cpu, cpu_embedding);

}  // namespace ember
