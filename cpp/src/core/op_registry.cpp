#include <algorithm>

#include "ember/op.h"

namespace ember {

OpRegistry& OpRegistry::instance() {
  static OpRegistry r;
  return r;
}

void OpRegistry::add(OpDef def) {
  if (has(def.name)) throw Error("op '" + def.name + "' registered twice");
  defs_.push_back(std::move(def));
}

bool OpRegistry::has(const std::string& name) const {
  return std::any_of(defs_.begin(), defs_.end(), [&](const OpDef& d) { return d.name == name; });
}

const OpDef& OpRegistry::get(const std::string& name) const {
  for (const auto& d : defs_)
    if (d.name == name) return d;
  std::string known;
  for (const auto& n : names()) known += (known.empty() ? "" : ", ") + n;
  throw ValueError("unknown op '" + name + "'; known ops: " + known);
}

std::vector<std::string> OpRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& d : defs_) out.push_back(d.name);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace ember
