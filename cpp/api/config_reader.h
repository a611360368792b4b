// Typed reads of a Keras layer config, with errors naming the layer, the key, what was expected
// and what was found. Python-style type rules: an int is not a bool, a float accepts ints.
#pragma once
#include <string>
#include <vector>

#include "model_impl.h"

namespace ember::api {

// A value as short JSON text for messages (bounded in depth and length, whatever the value).
std::string short_json(const json& v, size_t limit = 80);
// A regularizer as Python's ember.regularizers.serialize writes it (null when inactive).
json regularizer_config(const Regularizer& r);
// ValueError naming `what` when `v` nests deeper than `max_depth` (checked without recursion,
// so that nothing after it recurses deeper than that).
void check_depth(const json& v, size_t max_depth, const std::string& what);
// Integers configs may hold: magnitude below 2**40.
bool in_range(const json& v);

class ConfigReader {
 public:
  ConfigReader(const json& config, std::string who) : c_(config), who_(std::move(who)) {}
  bool has(const std::string& key) const;     // present and not null
  int64_t get_int(const std::string& key, int64_t def) const;
  double get_float(const std::string& key, double def) const;
  bool get_bool(const std::string& key, bool def) const;
  std::string get_str(const std::string& key, const std::string& def) const;
  // An int or a list of ints.
  std::vector<int64_t> get_ints(const std::string& key, const std::vector<int64_t>& def) const;
  // Keras's serialized activation: a name, or a dict holding it.
  std::string get_activation(const std::string& key, const std::string& def) const;
  // Keras's serialized regularizer (null, a name, or {"class_name": "L2", "config": ...}).
  Regularizer get_regularizer(const std::string& key) const;
  // Arguments ember's C++ layers do not implement must be absent or null (or the default).
  void require_null(const std::vector<std::string>& keys) const;
  void require_value(const std::string& key, const json& expected) const;
  const std::string& who() const { return who_; }
  const json& raw() const { return c_; }

 private:
  [[noreturn]] void fail(const std::string& key, const char* expected) const;
  const json& c_;
  std::string who_;
};

}  // namespace ember::api
