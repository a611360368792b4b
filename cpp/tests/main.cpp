#include "check.h"

int main(int argc, char** argv) {
  std::string only = argc > 1 ? argv[1] : "";
  int run = 0;
  for (auto& c : check::cases()) {
    if (!only.empty() && c.name.find(only) == std::string::npos) continue;
    ++run;
    int before = check::failures();
    try { c.fn(); } catch (const check::Abort&) {
    } catch (const std::exception& e) { check::fail(c.name.c_str(), 0, std::string("threw: ") + e.what()); }
    std::cout << (check::failures() == before ? "ok   " : "FAIL ") << c.name << "\n";
  }
  std::cout << run << " cases, " << check::failures() << " failures\n";
  return check::failures() == 0 ? 0 : 1;
}
