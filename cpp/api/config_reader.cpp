#include "config_reader.h"

#include <cmath>

namespace ember::api {

namespace {

// A bounded serializer: hostile files can hold values nested thousands of levels deep or
// megabytes long, which a plain dump would recurse through or copy whole.
void write_short(const json& v, std::string& out, int depth, size_t limit) {
  if (out.size() > limit) return;
  if ((v.is_object() || v.is_array()) && depth > 4) {
    out += v.is_object() ? "{...}" : "[...]";
    return;
  }
  if (v.is_object()) {
    out += "{";
    bool first = true;
    for (const auto& [k, e] : v.items()) {
      if (out.size() > limit) break;
      out += first ? "" : ", ";
      first = false;
      out += json(k.substr(0, limit)).dump(-1, ' ', false, json::error_handler_t::replace) + ": ";
      write_short(e, out, depth + 1, limit);
    }
    out += "}";
  } else if (v.is_array()) {
    out += "[";
    for (size_t i = 0; i < v.size() && out.size() <= limit; ++i) {
      out += i ? ", " : "";
      write_short(v[i], out, depth + 1, limit);
    }
    out += "]";
  } else if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    out += json(s.substr(0, limit)).dump(-1, ' ', false, json::error_handler_t::replace);
  } else {
    out += v.dump();
  }
}

}  // namespace

std::string short_json(const json& v, size_t limit) {
  std::string s;
  write_short(v, s, 0, limit);
  return s.size() <= limit ? s : s.substr(0, limit - 3) + "...";
}

void check_depth(const json& v, size_t max_depth, const std::string& what) {
  std::vector<std::pair<const json*, size_t>> stack{{&v, 1}};
  while (!stack.empty()) {
    auto [node, depth] = stack.back();
    stack.pop_back();
    if (!node->is_object() && !node->is_array()) continue;
    EMBER_CHECK(depth <= max_depth, ValueError, what, ": values are nested more than ",
                max_depth, " levels deep");
    for (const auto& e : *node) stack.emplace_back(&e, depth + 1);
  }
}

bool in_range(const json& v) {  // sizes beyond this cannot be real, and could overflow
  constexpr int64_t kLimit = int64_t{1} << 40;
  if (v.is_number_unsigned()) return v.get<uint64_t>() < uint64_t(kLimit);
  const int64_t i = v.get<int64_t>();
  return i < kLimit && i > -kLimit;
}

bool ConfigReader::has(const std::string& key) const {
  return c_.is_object() && c_.contains(key) && !c_.at(key).is_null();
}

void ConfigReader::fail(const std::string& key, const char* expected) const {
  throw ValueError(detail::concat(who_, ": config key '", key, "' must be ", expected,
                                  ", received ", short_json(c_.at(key))));
}

int64_t ConfigReader::get_int(const std::string& key, int64_t def) const {
  if (!has(key)) return def;
  const json& v = c_.at(key);
  if (!v.is_number_integer() || !in_range(v)) fail(key, "an integer of magnitude below 2**40");
  return v.get<int64_t>();
}

double ConfigReader::get_float(const std::string& key, double def) const {
  if (!has(key)) return def;
  const json& v = c_.at(key);
  if (!v.is_number()) fail(key, "a number");
  return v.get<double>();
}

bool ConfigReader::get_bool(const std::string& key, bool def) const {
  if (!has(key)) return def;
  const json& v = c_.at(key);
  if (!v.is_boolean()) fail(key, "true or false");
  return v.get<bool>();
}

std::string ConfigReader::get_str(const std::string& key, const std::string& def) const {
  if (!has(key)) return def;
  const json& v = c_.at(key);
  if (!v.is_string()) fail(key, "a string");
  return v.get<std::string>();
}

std::vector<int64_t> ConfigReader::get_ints(const std::string& key,
                                            const std::vector<int64_t>& def) const {
  if (!has(key)) return def;
  const json& v = c_.at(key);
  if (v.is_number_integer() && in_range(v)) return {v.get<int64_t>()};
  if (!v.is_array() || v.size() > 64) fail(key, "an integer or a list of integers");
  std::vector<int64_t> out;
  for (const json& e : v) {
    if (!e.is_number_integer() || !in_range(e)) fail(key, "an integer or a list of integers");
    out.push_back(e.get<int64_t>());
  }
  return out;
}

std::string ConfigReader::get_activation(const std::string& key, const std::string& def) const {
  if (!has(key)) return def;
  const json& v = c_.at(key);
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object()) {  // {"class_name": "function", "config": "relu"} and friends
    const json* inner = v.contains("config") ? &v.at("config") : nullptr;
    if (inner && inner->is_string()) return inner->get<std::string>();
    if (inner && inner->is_object() && inner->contains("name") && inner->at("name").is_string())
      return inner->at("name").get<std::string>();
    if (v.contains("class_name") && v.at("class_name").is_string())
      return v.at("class_name").get<std::string>();
  }
  fail(key, "an activation name");
}

Regularizer ConfigReader::get_regularizer(const std::string& key) const {
  if (!has(key)) return {};
  const json& v = c_.at(key);
  std::string cls;
  const json* inner = nullptr;
  if (v.is_string()) {
    cls = v.get<std::string>();
  } else if (v.is_object() && v.contains("class_name") && v.at("class_name").is_string()) {
    cls = v.at("class_name").get<std::string>();
    if (v.contains("config") && v.at("config").is_object()) inner = &v.at("config");
  }
  auto factor = [&](const char* name, double def) {
    if (!inner || !inner->contains(name) || inner->at(name).is_null()) return def;
    const json& f = inner->at(name);
    EMBER_CHECK(f.is_number() && f.get<double>() >= 0 && std::isfinite(f.get<double>()),
                ValueError, who_, ": ", key, ": invalid value for argument ", name,
                ": expected a non-negative float. Received: ", name, "=", short_json(f));
    return f.get<double>();
  };
  if (cls == "L1" || cls == "l1") return {factor("l1", 0.01), 0.0};
  if (cls == "L2" || cls == "l2") return {0.0, factor("l2", 0.01)};
  if (cls == "L1L2" || cls == "l1_l2" || cls == "l1l2") return {factor("l1", 0.0), factor("l2", 0.0)};
  fail(key, "a regularizer (L1, L2 or L1L2)");
}

json regularizer_config(const Regularizer& r) {
  if (!r.active()) return nullptr;
  json c = json::object();
  const char* cls = r.l2 == 0.0 ? "L1" : r.l1 == 0.0 ? "L2" : "L1L2";
  if (r.l1 != 0.0) c["l1"] = r.l1;
  if (r.l2 != 0.0) c["l2"] = r.l2;
  return json{{"module", "ember.regularizers"}, {"class_name", cls}, {"config", c},
              {"registered_name", nullptr}};
}

void ConfigReader::require_null(const std::vector<std::string>& keys) const {
  for (const auto& k : keys)
    EMBER_CHECK(!has(k), ValueError, who_, ": `", k, "` is not supported by ember's C++ API "
                "yet, received ", short_json(c_.at(k)));
}

void ConfigReader::require_value(const std::string& key, const json& expected) const {
  if (!has(key)) return;
  EMBER_CHECK(c_.at(key) == expected, ValueError, who_, ": ", key, "=", short_json(c_.at(key)),
              " is not supported by ember's C++ API yet (only ", short_json(expected), ")");
}

}  // namespace ember::api
