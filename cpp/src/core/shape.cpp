#include "ember/shape.h"

#include <algorithm>

#include "ember/error.h"

namespace ember {

int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) {
    if (d < 0) return kUnknown;
    n *= d;
  }
  return n;
}

bool is_concrete(const Shape& s) {
  return std::all_of(s.begin(), s.end(), [](int64_t d) { return d >= 0; });
}

std::string shape_str(const Shape& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ", ";
    out += s[i] < 0 ? "None" : std::to_string(s[i]);
  }
  if (s.size() == 1) out += ",";
  return out + ")";
}

int normalize_axis(int64_t axis, int rank, const char* who) {
  EMBER_CHECK(axis >= -rank && axis < rank, IndexError, who, ": axis ", axis,
              " is out of range for a tensor of rank ", rank, " (expected ", -rank, " to ",
              rank - 1, ")");
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* who) {
  size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (size_t i = 0; i < r; ++i) {
    int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da == 1) out[i] = db;
    else if (db == 1) out[i] = da;
    else if (da == kUnknown) out[i] = db;
    else if (db == kUnknown) out[i] = da;
    else {
      EMBER_CHECK(da == db, ValueError, who, ": shapes ", shape_str(a), " and ", shape_str(b),
                  " cannot be broadcast together");
      out[i] = da;
    }
  }
  return out;
}

}  // namespace ember
