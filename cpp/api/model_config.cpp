// A model's architecture as Keras's config JSON (Sequential or Functional), read and written in
// the form python/ember/models/sequential.py and functional_config.py use.
#include "model_config.h"

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "config_reader.h"
#include "layers.h"

namespace ember::api {

void register_core_layers(std::map<std::string, LayerFromConfig>& r);
void register_conv_layers(std::map<std::string, LayerFromConfig>& r);
void register_norm_layers(std::map<std::string, LayerFromConfig>& r);
void register_sequence_layers(std::map<std::string, LayerFromConfig>& r);

const std::map<std::string, LayerFromConfig>& layer_classes() {
  static const std::map<std::string, LayerFromConfig> classes = [] {
    std::map<std::string, LayerFromConfig> r;
    register_core_layers(r);
    register_conv_layers(r);
    register_norm_layers(r);
    register_sequence_layers(r);
    return r;
  }();
  return classes;
}

namespace {

constexpr const char* kTensor = "__keras_tensor__";

std::string snake_case(const std::string& name) {  // Keras's to_snake_case
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool upper = c >= 'A' && c <= 'Z';
    if (upper && i > 0) {
      const char prev = name[i - 1];
      const bool next_lower = i + 1 < name.size() && name[i + 1] >= 'a' && name[i + 1] <= 'z';
      if ((prev >= 'a' && prev <= 'z') || (prev >= '0' && prev <= '9') || next_lower) out += '_';
    }
    out += upper ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return out;
}

std::string supported_classes() {
  std::string s = "InputLayer";
  for (const auto& kv : layer_classes()) s += ", " + kv.first;
  return s;
}

const json& field(const json& obj, const char* key, const std::string& what) {
  EMBER_CHECK(obj.is_object() && obj.contains(key), ValueError, what, ": expected the key '", key,
              "', received ", short_json(obj));
  return obj.at(key);
}

std::string class_name_of(const json& entry, const std::string& what) {
  const json& c = field(entry, "class_name", what);
  EMBER_CHECK(c.is_string(), ValueError, what, ": class_name must be a string, received ",
              short_json(c));
  return c.get<std::string>();
}

// Creates the layer a config entry describes (not yet called).
std::unique_ptr<Layer> layer_from_entry(ModelState& m, const json& entry, const std::string& what) {
  const std::string cls = class_name_of(entry, what);
  const json& config = entry.contains("config") ? entry.at("config") : json::object();
  EMBER_CHECK(config.is_object(), ValueError, what, ": the config of a ", cls,
              " layer must be an object, received ", short_json(config));
  auto it = layer_classes().find(cls);
  if (it == layer_classes().end()) {
    std::string name = config.contains("name") && config.at("name").is_string()
                           ? " '" + config.at("name").get<std::string>() + "'"
                           : "";
    throw ValueError(detail::concat("unknown layer class '", cls, "'", name.empty() ? "" : " (layer",
                                    name, name.empty() ? "" : ")",
                                    ": ember's C++ API can load these layer classes: ",
                                    supported_classes()));
  }
  std::unique_ptr<Layer> layer = it->second(m, cls, config);
  layer->set_loaded_config(config);
  return layer;
}

Shape input_shape_of(const json& config, const std::string& who, DType* dtype) {
  ConfigReader r(config, who);
  const char* key = r.has("batch_shape") ? "batch_shape" : r.has("batch_input_shape")
                                                             ? "batch_input_shape" : nullptr;
  EMBER_CHECK(key != nullptr, ValueError, who, ": expected `batch_shape` in the config, received ",
              short_json(config));
  const json& s = config.at(key);
  EMBER_CHECK(s.is_array() && !s.empty(), ValueError, who, ": ", key, " must be a list, received ",
              short_json(s));
  Shape shape;
  double volume = 1;  // bounded, so that shape arithmetic cannot overflow
  for (size_t i = 1; i < s.size(); ++i) {
    EMBER_CHECK(s[i].is_null() || (s[i].is_number_integer() && in_range(s[i])), ValueError, who,
                ": ", key, " must hold integers or null, received ", short_json(s));
    shape.push_back(s[i].is_null() ? kUnknown : s[i].get<int64_t>());
    volume *= shape.back() > 0 ? double(shape.back()) : 1.0;
  }
  EMBER_CHECK(volume < 1e12 && s.size() <= 65, ValueError, who, ": the input shape ",
              short_json(s), " is too large");
  std::string dt = "float32";
  if (r.has("dtype")) {
    const json& d = config.at("dtype");
    if (d.is_string()) dt = d.get<std::string>();
    else if (d.is_object() && d.contains("config") && d.at("config").is_object() &&
             d.at("config").contains("name") && d.at("config").at("name").is_string())
      dt = d.at("config").at("name").get<std::string>();  // a serialized DTypePolicy
  }
  *dtype = dtype_from_name(dt);
  return shape;
}

std::string name_in(const json& config, const std::string& def) {
  if (config.is_object() && config.contains("name") && config.at("name").is_string())
    return config.at("name").get<std::string>();
  return def;
}

// ---- Sequential -----------------------------------------------------------------------------

void sequential_from_config(ModelState& m, const json& config) {
  const json& layers = field(config, "layers", "Sequential config");
  EMBER_CHECK(layers.is_array() && !layers.empty(), ValueError, "Sequential '", m.name,
              "': expected a non-empty list of layers in its config");
  Sym x;
  size_t first = 0;
  if (class_name_of(layers[0], "Sequential layer 0") == "InputLayer") {
    const json& c = layers[0].contains("config") ? layers[0].at("config") : json::object();
    DType dt;
    Shape shape = input_shape_of(c, "InputLayer", &dt);
    x = m.add_input(shape, dt, name_in(c, ""));
    first = 1;
  } else {
    const json& c = layers[0].contains("config") ? layers[0].at("config") : json::object();
    EMBER_CHECK(c.is_object() && (c.contains("batch_input_shape") || c.contains("batch_shape")),
                ValueError, "Sequential '", m.name, "': the config has no InputLayer and its "
                "first layer no batch_input_shape, so the model's input shape is unknown");
    DType dt;
    Shape shape = input_shape_of(c, "Sequential '" + m.name + "'", &dt);
    x = m.add_input(shape, dt == DType::f64 ? DType::f64 : dt, "");
  }
  for (size_t i = first; i < layers.size(); ++i) {
    auto layer = layer_from_entry(m, layers[i], "Sequential layer " + std::to_string(i));
    x = m.apply(std::move(layer), {x}, single_call(x)).at(0);
  }
  m.outputs = {x};
}

// ---- Functional -----------------------------------------------------------------------------

struct Replay {
  ModelState& m;
  std::map<std::string, std::unique_ptr<Layer>> pending_layers;  // made, not called yet
  std::map<std::pair<std::string, int64_t>, std::vector<Sym>> produced;

  bool is_tensor(const json& v) const {
    return v.is_object() && v.contains("class_name") && v.at("class_name") == kTensor;
  }
  // [layer, node, index] of a tensor reference.
  std::tuple<std::string, int64_t, int64_t> history(const json& v) const {
    const json* h = nullptr;
    if (v.contains("config") && v.at("config").is_object() &&
        v.at("config").contains("keras_history"))
      h = &v.at("config").at("keras_history");
    EMBER_CHECK(h && h->is_array() && h->size() == 3 && (*h)[0].is_string() &&
                    (*h)[1].is_number_integer() && (*h)[2].is_number_integer(),
                ValueError, "model config: malformed tensor reference ", short_json(v));
    return {(*h)[0].get<std::string>(), (*h)[1].get<int64_t>(), (*h)[2].get<int64_t>()};
  }
  bool ready(const json& v) const {
    if (is_tensor(v)) {
      auto [name, node, index] = history(v);
      (void)index;
      return produced.count({name, node}) != 0;
    }
    if (v.is_array() || v.is_object()) {
      for (const auto& e : v) if (!ready(e)) return false;
    }
    return true;
  }
  Sym resolve_ref(const json& v) const {
    auto [name, node, index] = history(v);
    const auto& outs = produced.at({name, node});
    EMBER_CHECK(index >= 0 && index < static_cast<int64_t>(outs.size()), ValueError,
                "model config: tensor ", index, " of layer '", name, "' call ", node,
                " does not exist");
    return outs[size_t(index)];
  }
  // The args with each tensor replaced by its placeholder, collecting the tensors in order.
  json resolve(const json& v, std::vector<Sym>& flat) const {
    if (is_tensor(v)) {
      Sym s = resolve_ref(v);
      flat.push_back(s);
      return sym_ref(s);
    }
    if (v.is_array()) {
      json out = json::array();
      for (const auto& e : v) out.push_back(resolve(e, flat));
      return out;
    }
    if (v.is_object()) {
      json out = json::object();
      for (const auto& [k, e] : v.items()) out[k] = resolve(e, flat);
      return out;
    }
    return v;
  }
  json resolve_refs(const json& refs) const {  // input_layers / output_layers
    if (refs.is_array() && refs.size() == 3 && refs[0].is_string()) return refs;
    return refs;
  }
  std::vector<Sym> outputs_of(const json& refs, const char* what) const {
    std::vector<Sym> out;
    auto one = [&](const json& r) {
      EMBER_CHECK(r.is_array() && r.size() == 3 && r[0].is_string() && r[1].is_number_integer() &&
                      r[2].is_number_integer(),
                  ValueError, "model config: malformed ", what, " reference ", short_json(r));
      auto it = produced.find({r[0].get<std::string>(), r[1].get<int64_t>()});
      EMBER_CHECK(it != produced.end() && r[2].get<int64_t>() >= 0 &&
                      r[2].get<int64_t>() < static_cast<int64_t>(it->second.size()),
                  ValueError, "model config: the ", what, " ", short_json(r),
                  " is not produced by any layer of the config");
      out.push_back(it->second[size_t(r[2].get<int64_t>())]);
    };
    if (refs.is_array() && refs.size() == 3 && refs[0].is_string()) one(refs);
    else if (refs.is_array()) for (const auto& r : refs) one(r);
    else if (refs.is_object()) for (const auto& [k, r] : refs.items()) one(r);
    else throw ValueError("model config: malformed " + std::string(what) + " " + short_json(refs));
    return out;
  }
};

void functional_from_config(ModelState& m, const json& config) {
  const json& layers = field(config, "layers", "Functional config");
  EMBER_CHECK(layers.is_array(), ValueError, "model '", m.name, "': `layers` must be a list");
  Replay r{m, {}, {}};
  struct Pending {
    std::string layer;
    int64_t index;
    json node;
  };
  std::vector<Pending> pending;
  std::map<std::string, Layer*> called;
  for (size_t i = 0; i < layers.size(); ++i) {
    const json& entry = layers[i];
    const std::string what = "layer " + std::to_string(i) + " of the model config";
    const std::string cls = class_name_of(entry, what);
    const json& c = entry.contains("config") ? entry.at("config") : json::object();
    const std::string name = entry.contains("name") && entry.at("name").is_string()
                                 ? entry.at("name").get<std::string>()
                                 : name_in(c, "");
    if (cls == "InputLayer") {
      DType dt;
      Shape shape = input_shape_of(c, "InputLayer '" + name + "'", &dt);
      r.produced[{name, 0}] = {m.add_input(shape, dt, name)};
      continue;
    }
    json named = entry;
    if (!name.empty() && named.contains("config") && named.at("config").is_object())
      named["config"]["name"] = name;
    r.pending_layers[name] = layer_from_entry(m, named, what);
    const json& nodes = entry.contains("inbound_nodes") ? entry.at("inbound_nodes") : json::array();
    EMBER_CHECK(nodes.is_array(), ValueError, "model config: layer '", name,
                "': inbound_nodes must be a list");
    for (size_t k = 0; k < nodes.size(); ++k) pending.push_back({name, int64_t(k), nodes[k]});
  }
  while (!pending.empty()) {
    bool progress = false;
    for (auto it = pending.begin(); it != pending.end();) {
      const json& node = it->node;
      const json args = node.contains("args") ? node.at("args") : json::array();
      const json kwargs = node.contains("kwargs") ? node.at("kwargs") : json::object();
      if (!r.ready(args) || !r.ready(kwargs)) {
        ++it;
        continue;
      }
      CallRecord record;
      std::vector<Sym> flat;
      record.args = r.resolve(args, flat);
      std::vector<Sym> kw_tensors;
      record.kwargs = r.resolve(kwargs, kw_tensors);
      EMBER_CHECK(kw_tensors.empty(), ValueError, "layer '", it->layer, "': tensor keyword "
                  "arguments (", short_json(kwargs), ") are not supported by ember's C++ API");
      // MultiHeadAttention(query, value, key=None): a null key is no tensor.
      std::vector<Sym> outs;
      auto owned = r.pending_layers.find(it->layer);
      if (owned != r.pending_layers.end()) {
        Layer* raw = owned->second.get();
        outs = m.apply(std::move(owned->second), flat, std::move(record));
        r.pending_layers.erase(owned);
        called[it->layer] = raw;
      } else {
        outs = m.call_existing(*called.at(it->layer), flat, std::move(record));
      }
      r.produced[{it->layer, it->index}] = outs;
      it = pending.erase(it);
      progress = true;
    }
    if (!progress) {
      std::set<std::string> missing;
      for (const auto& p : pending) missing.insert(p.layer + "[" + std::to_string(p.index) + "]");
      std::string list;
      for (const auto& s : missing) list += (list.empty() ? "'" : ", '") + s + "'";
      throw ValueError(detail::concat("model config '", m.name, "': the calls [", list,
                                      "] refer to tensors no layer of the config produces"));
    }
  }
  m.inputs = r.outputs_of(field(config, "input_layers", "Functional config"), "input");
  m.outputs = r.outputs_of(field(config, "output_layers", "Functional config"), "output");
}

}  // namespace

std::string config_layer_name(ModelState& m, const std::string& class_name, const json& config) {
  std::string requested = name_in(config, "");
  return m.unique_name(snake_case(class_name), requested);
}

void model_from_config(ModelState& m, const json& entry) {
  const std::string cls = class_name_of(entry, "model config");
  const json& config = entry.contains("config") ? entry.at("config") : json::object();
  m.name = name_in(config, m.name);
  if (cls == "Sequential") return sequential_from_config(m, config);
  if ((cls == "Functional" || cls == "Model") && config.is_object() &&
      config.contains("input_layers"))
    return functional_from_config(m, config);
  throw ValueError(detail::concat("cannot rebuild model class '", cls, "': ember's C++ API loads "
                                  "Sequential and Functional models (a subclassed model needs "
                                  "its Python code)"));
}

// ---- writing --------------------------------------------------------------------------------

namespace {

json layer_entry(const Layer& l) {
  return json{{"module", "ember.layers"}, {"class_name", l.class_name()}, {"config", l.config()},
              {"registered_name", nullptr}};
}

struct Producer {
  const Layer* layer;
  int64_t call, index;
};

void collect_refs(const json& v, std::vector<int>& nodes) {
  if (v.is_object() && v.contains("__sym__")) {
    nodes.push_back(v.at("__sym__").get<int>());
    return;
  }
  if (v.is_array() || v.is_object())
    for (const auto& e : v) collect_refs(e, nodes);
}

}  // namespace

json model_to_config(const ModelState& m) {
  EMBER_CHECK(!m.outputs.empty(), ValueError, "model '", m.name, "' has no outputs: call "
              "set_outputs() before saving");
  // Who produced each node: the first layer call returning it (a layer returning its input,
  // as Dropout(0), does not take it over).
  std::map<int, Producer> producer;
  std::set<int> input_nodes;
  for (const Sym& s : m.inputs) input_nodes.insert(s.node);
  for (const auto& l : m.layers) {
    if (l->class_name() == "InputLayer") {
      producer.emplace(l->calls().at(0).outputs.at(0).node, Producer{l.get(), 0, 0});
      continue;
    }
    for (size_t c = 0; c < l->calls().size(); ++c) {
      const auto& outs = l->calls()[c].outputs;
      for (size_t j = 0; j < outs.size(); ++j)
        producer.emplace(outs[j].node, Producer{l.get(), int64_t(c), int64_t(j)});
    }
  }
  // The layer calls the outputs depend on.
  std::set<std::pair<const Layer*, int64_t>> used;
  std::vector<int> stack;
  for (const Sym& s : m.outputs) stack.push_back(s.node);
  std::set<int> seen;
  while (!stack.empty()) {
    int node = stack.back();
    stack.pop_back();
    if (!seen.insert(node).second) continue;
    auto p = producer.find(node);
    EMBER_CHECK(p != producer.end(), ValueError, "model '", m.name, "': an output depends on a "
                "tensor no layer made");
    used.insert({p->second.layer, p->second.call});
    if (p->second.layer->class_name() == "InputLayer") continue;
    std::vector<int> refs;
    const CallRecord& call = p->second.layer->calls()[size_t(p->second.call)];
    collect_refs(call.args, refs);
    collect_refs(call.kwargs, refs);
    stack.insert(stack.end(), refs.begin(), refs.end());
  }
  for (const auto& l : m.layers) {
    if (l->class_name() == "InputLayer" || l->weights().empty()) continue;
    bool any = false;
    for (const auto& u : used) any = any || u.first == l.get();
    EMBER_CHECK(any, ValueError, "model '", m.name, "': layer '", l->name(), "' is not "
                "connected to the model's outputs; only connected models can be saved");
  }
  for (const Sym& s : m.inputs)
    EMBER_CHECK(seen.count(s.node), ValueError, "model '", m.name, "': input '",
                m.graph.node(s.node).name, "' is not connected to the model's outputs");

  // Sequential when the layers form one chain from the single input to the single output.
  bool chain = m.inputs.size() == 1 && m.outputs.size() == 1;
  int current = chain ? m.inputs[0].node : -1;
  std::vector<const Layer*> stack_layers;
  for (const auto& l : m.layers) {
    if (!chain) break;
    if (l->class_name() == "InputLayer") continue;
    if (l->calls().size() != 1) { chain = false; break; }
    const CallRecord& call = l->calls()[0];
    chain = call.args.size() == 1 && call.args[0].is_object() && call.args[0].contains("__sym__") &&
            call.args[0].at("__sym__").get<int>() == current && call.kwargs.empty() &&
            call.outputs.size() == 1;
    if (chain) {
      current = call.outputs[0].node;
      stack_layers.push_back(l.get());
    }
  }
  chain = chain && current == m.outputs[0].node;
  if (chain) {
    json layers = json::array();
    for (const auto& l : m.layers)
      if (l->class_name() == "InputLayer") layers.push_back(layer_entry(*l));
    for (const Layer* l : stack_layers) layers.push_back(layer_entry(*l));
    return json{{"module", "ember.models"}, {"class_name", "Sequential"},
                {"config", json{{"name", m.name}, {"trainable", true},
                                {"dtype", dtype_name(m.dtype)}, {"layers", layers}}},
                {"registered_name", nullptr}};
  }

  auto ref = [&](int node) {
    const Producer& p = producer.at(node);
    return json::array({p.layer->name(), p.call, p.index});
  };
  std::function<json(const json&)> encode = [&](const json& v) -> json {
    if (v.is_object() && v.contains("__sym__")) {
      const int node = v.at("__sym__").get<int>();
      const TensorMeta& meta = m.meta(node);
      json shape = json::array();
      for (int64_t d : meta.shape) shape.push_back(d < 0 ? json(nullptr) : json(d));
      return json{{"class_name", kTensor},
                  {"config", json{{"shape", shape}, {"dtype", dtype_name(meta.dtype)},
                                  {"keras_history", ref(node)}}}};
    }
    if (v.is_array()) {
      json out = json::array();
      for (const auto& e : v) out.push_back(encode(e));
      return out;
    }
    if (v.is_object()) {
      json out = json::object();
      for (const auto& [k, e] : v.items()) out[k] = encode(e);
      return out;
    }
    return v;
  };
  json layers = json::array();
  for (const auto& l : m.layers) {
    json entry = layer_entry(*l);
    entry["name"] = l->name();
    json nodes = json::array();
    bool included = false;
    for (size_t c = 0; c < l->calls().size() && l->class_name() != "InputLayer"; ++c) {
      if (!used.count({l.get(), int64_t(c)})) continue;
      included = true;
      nodes.push_back(json{{"args", encode(l->calls()[c].args)},
                           {"kwargs", encode(l->calls()[c].kwargs)}});
    }
    if (l->class_name() == "InputLayer") included = used.count({l.get(), 0}) != 0;
    if (!included) continue;
    entry["inbound_nodes"] = nodes;
    layers.push_back(entry);
  }
  auto refs = [&](const std::vector<Sym>& syms) {
    if (syms.size() == 1) return ref(syms[0].node);
    json out = json::array();
    for (const Sym& s : syms) out.push_back(ref(s.node));
    return out;
  };
  return json{{"module", "ember.models"}, {"class_name", "Functional"},
              {"config", json{{"name", m.name}, {"trainable", true}, {"layers", layers},
                              {"input_layers", refs(m.inputs)},
                              {"output_layers", refs(m.outputs)}}},
              {"registered_name", nullptr}};
}

}  // namespace ember::api
