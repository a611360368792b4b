// Attributes of an op node: a small string-keyed map of scalars, strings and integer lists.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace ember {

using AttrValue = std::variant<bool, int64_t, double, std::string, std::vector<int64_t>>;

class Attrs {
 public:
  Attrs() = default;
  Attrs(std::map<std::string, AttrValue> m) : m_(std::move(m)) {}
  void set(const std::string& k, AttrValue v) { m_[k] = std::move(v); }
  bool has(const std::string& k) const { return m_.count(k) != 0; }
  bool get_bool(const std::string& k, bool def) const;
  int64_t get_int(const std::string& k, int64_t def) const;
  double get_float(const std::string& k, double def) const;  // accepts ints too
  std::string get_str(const std::string& k, const std::string& def) const;
  std::vector<int64_t> get_ints(const std::string& k, const std::vector<int64_t>& def) const;
  const std::map<std::string, AttrValue>& items() const { return m_; }

 private:
  std::map<std::string, AttrValue> m_;
};

}  // namespace ember
