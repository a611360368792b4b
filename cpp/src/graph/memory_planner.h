// Packs buffers with known lifetimes into one workspace: two buffers may share bytes only when
// their lifetimes [start, end] (plan steps, inclusive) do not overlap.
#pragma once
#include <cstddef>
#include <vector>

namespace ember {

struct Buffer {
  size_t bytes;
  int start, end;
  size_t offset;  // set by plan_memory
};

// Assigns every offset (64-byte aligned) and returns the workspace size in bytes.
size_t plan_memory(std::vector<Buffer>& buffers);

}  // namespace ember
