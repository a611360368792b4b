// Shapes are vectors of extents. In a symbolic graph an extent may be -1 (unknown until a Plan
// is compiled for concrete inputs, typically the batch dimension).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ember {

using Shape = std::vector<int64_t>;
constexpr int64_t kUnknown = -1;

int64_t numel(const Shape& s);                 // -1 if any extent is unknown
std::string shape_str(const Shape& s);         // "(None, 784)"
bool is_concrete(const Shape& s);
// Normalises a possibly negative axis against `rank`; IndexError names `who` when out of range.
int normalize_axis(int64_t axis, int rank, const char* who);
// Two extents agree when equal or when either is unknown.
inline bool dims_match(int64_t a, int64_t b) { return a == b || a == kUnknown || b == kUnknown; }
// NumPy broadcasting of two shapes; ValueError names `who` when they do not broadcast.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* who);

}  // namespace ember
