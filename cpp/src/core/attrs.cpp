#include "ember/attrs.h"

#include "ember/error.h"

namespace ember {

bool Attrs::get_bool(const std::string& k, bool def) const {
  auto it = m_.find(k);
  if (it == m_.end()) return def;
  if (auto p = std::get_if<bool>(&it->second)) return *p;
  if (auto p = std::get_if<int64_t>(&it->second)) return *p != 0;
  throw TypeError("attribute '" + k + "': expected a bool");
}

int64_t Attrs::get_int(const std::string& k, int64_t def) const {
  auto it = m_.find(k);
  if (it == m_.end()) return def;
  if (auto p = std::get_if<int64_t>(&it->second)) return *p;
  if (auto p = std::get_if<bool>(&it->second)) return *p;
  throw TypeError("attribute '" + k + "': expected an integer");
}

double Attrs::get_float(const std::string& k, double def) const {
  auto it = m_.find(k);
  if (it == m_.end()) return def;
  if (auto p = std::get_if<double>(&it->second)) return *p;
  if (auto p = std::get_if<int64_t>(&it->second)) return static_cast<double>(*p);
  throw TypeError("attribute '" + k + "': expected a number");
}

std::string Attrs::get_str(const std::string& k, const std::string& def) const {
  auto it = m_.find(k);
  if (it == m_.end()) return def;
  if (auto p = std::get_if<std::string>(&it->second)) return *p;
  throw TypeError("attribute '" + k + "': expected a string");
}

std::vector<int64_t> Attrs::get_ints(const std::string& k, const std::vector<int64_t>& def) const {
  auto it = m_.find(k);
  if (it == m_.end()) return def;
  if (auto p = std::get_if<std::vector<int64_t>>(&it->second)) return *p;
  if (auto p = std::get_if<int64_t>(&it->second)) return {*p};
  throw TypeError("attribute '" + k + "': expected a list of integers");
}

}  // namespace ember
