// Counter-based random numbers: a value depends only on (key, counter), never on the thread
// that draws it or the order of draws, so results are identical for any thread count.
#pragma once
#include <cstdint>

namespace ember {

inline uint64_t mix64(uint64_t z) {  // splitmix64 finaliser
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
inline uint64_t rng_key(uint64_t a, uint64_t b) { return mix64(a ^ mix64(b)); }
// Uniform in [0, 1) with 24 random bits (exact in float32).
inline float uniform01(uint64_t key, uint64_t counter) {
  return static_cast<float>(mix64(key + mix64(counter)) >> 40) * (1.0f / 16777216.0f);
}

}  // namespace ember
