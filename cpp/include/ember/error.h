// Error hierarchy of the core. The Python bindings map each class to the Python exception named
// in its comment, so messages written here reach users verbatim: name the op or layer, what was
// expected and what was received.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace ember {

struct Error : std::runtime_error {                 // -> RuntimeError
  using std::runtime_error::runtime_error;
};
struct ValueError : Error { using Error::Error; };   // -> ValueError
struct TypeError : Error { using Error::Error; };    // -> TypeError
struct IndexError : Error { using Error::Error; };   // -> IndexError
struct MemoryError : Error { using Error::Error; };  // -> MemoryError
struct NumericError : Error { using Error::Error; }; // -> FloatingPointError (the NaN check)

namespace detail {
template <class... Args>
std::string concat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

// EMBER_CHECK(cond, ValueError, "op 'matmul': expected ", a, " but received ", b);
#define EMBER_CHECK(cond, Kind, ...)                                   \
  do {                                                                 \
    if (!(cond)) throw ::ember::Kind(::ember::detail::concat(__VA_ARGS__)); \
  } while (0)

}  // namespace ember
