// A self-contained test runner for the C++ core (nothing to install): TEST_CASE registers a
// function, CHECK records a failure and goes on, REQUIRE stops the case.
#pragma once
#include <cmath>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

namespace check {

struct Case { std::string name; std::function<void()> fn; };
inline std::vector<Case>& cases() { static std::vector<Case> c; return c; }
inline int& failures() { static int f = 0; return f; }
struct Registrar {
  Registrar(const char* name, std::function<void()> fn) { cases().push_back({name, fn}); }
};
struct Abort {};

inline void fail(const char* file, int line, const std::string& what) {
  ++failures();
  std::cerr << file << ":" << line << ": FAILED: " << what << "\n";
}

}  // namespace check

#define CHECK_CAT_INNER(a, b) a##b
#define CHECK_CAT(a, b) CHECK_CAT_INNER(a, b)
#define TEST_CASE(name)                                                              \
  static void CHECK_CAT(check_fn_, __LINE__)();                                     \
  static check::Registrar CHECK_CAT(check_reg_, __LINE__)(name, CHECK_CAT(check_fn_, __LINE__)); \
  static void CHECK_CAT(check_fn_, __LINE__)()
#define CHECK(cond) \
  do { if (!(cond)) check::fail(__FILE__, __LINE__, #cond); } while (0)
#define REQUIRE(cond) \
  do { if (!(cond)) { check::fail(__FILE__, __LINE__, #cond); throw check::Abort{}; } } while (0)
#define CHECK_NEAR(a, b, tol)                                                        \
  do {                                                                               \
    double va_ = (a), vb_ = (b);                                                     \
    if (!(std::fabs(va_ - vb_) <= (tol)))                                             \
      check::fail(__FILE__, __LINE__, std::string(#a " ~ " #b ": ") + std::to_string(va_) + \
                  " vs " + std::to_string(vb_));                                     \
  } while (0)
#define CHECK_THROWS_AS(expr, Type)                                                  \
  do {                                                                               \
    bool threw_ = false;                                                             \
    try { (void)(expr); } catch (const Type&) { threw_ = true; } catch (...) {}     \
    if (!threw_) check::fail(__FILE__, __LINE__, #expr " did not throw " #Type);     \
  } while (0)
