// load_model / save_model: python/ember/saving/model_io.py's format and checks, in C++.
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "config_reader.h"
#include "ember/model_file.h"
#include "learning_rate.h"
#include "model_config.h"
#include "py_format.h"

namespace ember {

namespace {

using api::ConfigReader;
using api::json;
using api::short_json;

constexpr const char* kFormat = "ember.model";
constexpr const char* kVersion = "1";

json parse_json(const std::string& text, const std::string& path, const char* what) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw FileFormatError(detail::concat(path, ": missing or malformed ", what, " (", e.what(), ")"));
  }
}

// ---- compile config -------------------------------------------------------------------------

std::string class_of(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("class_name") && v.at("class_name").is_string())
    return v.at("class_name").get<std::string>();
  return "";
}

const json& config_of(const json& v) {
  static const json empty = json::object();
  return v.is_object() && v.contains("config") && v.at("config").is_object() ? v.at("config")
                                                                             : empty;
}

OptimizerSpec optimizer_from_config(const json& v, json* schedule) {
  std::string cls = class_of(v);
  std::string lower;
  for (char c : cls) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  OptimizerSpec s;
  if (lower == "sgd") s = optimizers::sgd();
  else if (lower == "adam") s = optimizers::adam();
  else if (lower == "adamw") s = optimizers::adamw();
  else if (lower == "rmsprop") s = optimizers::rmsprop();
  else if (lower == "adagrad") s = optimizers::adagrad();
  else
    throw ValueError(detail::concat("unknown optimizer ", short_json(v), "; ember's C++ API "
                                    "supports SGD, Adam, AdamW, RMSprop and Adagrad"));
  const json& c = config_of(v);
  ConfigReader r(c, cls);
  r.require_value("use_ema", false);
  r.require_null({"loss_scale_factor", "gradient_accumulation_steps", "ema_overwrite_frequency"});
  OptimizerConfig& o = s.config;
  if (r.has("learning_rate") && c.at("learning_rate").is_object()) {
    api::check_schedule(c.at("learning_rate"));
    *schedule = c.at("learning_rate");
  } else {
    s.learning_rate = r.get_float("learning_rate", s.learning_rate);
  }
  o.weight_decay = r.get_float("weight_decay", o.weight_decay);
  o.clipnorm = r.get_float("clipnorm", 0.0);
  o.clipvalue = r.get_float("clipvalue", 0.0);
  o.global_clipnorm = r.get_float("global_clipnorm", 0.0);
  o.beta_1 = r.get_float("beta_1", o.beta_1);
  o.beta_2 = r.get_float("beta_2", o.beta_2);
  o.epsilon = r.get_float("epsilon", o.epsilon);
  o.amsgrad = r.get_bool("amsgrad", o.amsgrad);
  o.momentum = r.get_float("momentum", o.momentum);
  o.nesterov = r.get_bool("nesterov", o.nesterov);
  o.rho = r.get_float("rho", o.rho);
  o.centered = r.get_bool("centered", o.centered);
  o.initial_accumulator_value = r.get_float("initial_accumulator_value",
                                            o.initial_accumulator_value);
  Optimizer check(o);  // validates the hyperparameters
  (void)check;
  return s;
}

Loss loss_from_config(const json& v) {
  if (v.is_string()) return Loss::from_name(v.get<std::string>());
  const std::string cls = class_of(v);
  EMBER_CHECK(!cls.empty(), ValueError, "cannot interpret the loss ", short_json(v));
  Loss loss = Loss::from_name(cls);
  ConfigReader r(config_of(v), cls);
  const std::string reduction = r.get_str("reduction", "sum_over_batch_size");
  EMBER_CHECK(reduction == "sum_over_batch_size" || reduction == "mean" || reduction == "auto",
              ValueError, cls, ": reduction '", reduction, "' is not supported by ember's C++ "
              "API (only 'sum_over_batch_size')");
  r.require_null({"ignore_class"});
  r.require_value("axis", -1);
  loss.from_logits = r.get_bool("from_logits", false);
  loss.label_smoothing = r.get_float("label_smoothing", 0.0);
  return loss;
}

std::string metric_from_config(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  static const std::map<std::string, std::string> classes = {
      {"BinaryAccuracy", "binary_accuracy"}, {"CategoricalAccuracy", "categorical_accuracy"},
      {"SparseCategoricalAccuracy", "sparse_categorical_accuracy"},
      {"MeanSquaredError", "mean_squared_error"}, {"MeanAbsoluteError", "mean_absolute_error"}};
  auto it = classes.find(class_of(v));
  EMBER_CHECK(it != classes.end(), ValueError, "cannot compile the metric ", short_json(v),
              " in ember's C++ API (supported: accuracy, binary_accuracy, categorical_accuracy, "
              "sparse_categorical_accuracy, mse, mae)");
  return it->second;
}

std::vector<std::string> metric_list(const json& v) {
  std::vector<std::string> out;
  if (v.is_null()) return out;
  if (v.is_array())
    for (const json& e : v) out.push_back(metric_from_config(e));
  else
    out.push_back(metric_from_config(v));
  return out;
}

// Python's _per_output: one value for every output, a list with one per output, or a dict
// keyed by output name.
std::vector<json> per_output(const json& v, const std::vector<std::string>& names, const char* what) {
  const size_t n = names.size();
  if (v.is_object() && !v.contains("class_name")) {
    for (const auto& kv : v.items())
      EMBER_CHECK(std::find(names.begin(), names.end(), kv.key()) != names.end(), ValueError,
                  "compile: ", what, " names unknown outputs ['", kv.key(), "']");
    std::vector<json> out;
    for (const auto& name : names) out.push_back(v.contains(name) ? v.at(name) : json());
    return out;
  }
  if (v.is_array()) {
    EMBER_CHECK(v.size() == n, ValueError, "compile: expected ", n, " entries in ", what,
                ", received ", v.size());
    return std::vector<json>(v.begin(), v.end());
  }
  return std::vector<json>(n, v);
}

void compile_from_config(api::ModelState& m, const json& cc) {
  std::vector<std::string> names;
  for (size_t k = 0; k < m.outputs.size(); ++k) names.push_back(m.output_name(k));
  EMBER_CHECK(cc.is_object() && cc.contains("optimizer"), ValueError, "compile config: expected "
              "an object with an optimizer, received ", short_json(cc));
  json schedule;
  OptimizerSpec opt = optimizer_from_config(cc.at("optimizer"), &schedule);
  const json loss = cc.value("loss", json());
  std::vector<Loss> losses;
  bool has_loss = false;
  if (!loss.is_null()) {
    for (const json& l : per_output(loss, names, "loss")) {
      EMBER_CHECK(!l.is_null(), ValueError, "compile: an output without a loss is not "
                  "supported by ember's C++ API");
      losses.push_back(loss_from_config(l));
    }
    has_loss = true;
  }
  std::vector<double> weights;
  const json lw = cc.value("loss_weights", json());
  if (!lw.is_null())
    for (const json& w : per_output(lw, names, "loss_weights")) {
      EMBER_CHECK(w.is_null() || w.is_number(), ValueError, "compile: loss weights must be "
                  "numbers, received ", short_json(w));
      weights.push_back(w.is_null() ? 1.0 : w.get<double>());
    }
  const json metrics = cc.value("metrics", json());
  std::vector<std::string> shared;
  std::vector<std::vector<std::string>> per;
  if (metrics.is_object()) {
    for (const json& v : per_output(metrics, names, "metrics")) per.push_back(metric_list(v));
  } else if (names.size() > 1 && metrics.is_array() &&
             std::all_of(metrics.begin(), metrics.end(),
                         [](const json& e) { return e.is_array() || e.is_null(); })) {
    for (const json& v : per_output(metrics, names, "metrics")) per.push_back(metric_list(v));
  } else {
    shared = metric_list(metrics);
  }
  m.losses.clear();
  for (const Loss& l : losses) m.losses.push_back({l, {}});
  if (m.losses.empty()) m.losses.push_back({Loss(Loss::mean_squared_error), {}});
  m.has_loss = has_loss;
  m.loss_weights = weights.empty() ? std::vector<double>(m.losses.size(), 1.0) : weights;
  m.metrics = shared;
  m.output_metrics = per;
  m.optimizer_spec = opt;
  m.lr_schedule = schedule;
  m.compile_config = cc;
  m.compiled = true;
  m.optimizer.reset();
  m.steps.clear();
}

// ---- writing the compile config -------------------------------------------------------------

json optimizer_to_config(const OptimizerSpec& s) {
  const OptimizerConfig& o = s.config;
  auto or_null = [](double v) { return v > 0 ? json(v) : json(nullptr); };
  const std::string& k = o.kind;
  const char* cls = k == "sgd" ? "SGD" : k == "adam" ? "Adam" : k == "adamw" ? "AdamW"
                  : k == "rmsprop" ? "RMSprop" : "Adagrad";
  json c{{"name", k == "sgd" ? "SGD" : k},
         {"learning_rate", s.learning_rate},
         {"weight_decay", or_null(o.weight_decay)},
         {"clipnorm", or_null(o.clipnorm)},
         {"global_clipnorm", or_null(o.global_clipnorm)},
         {"clipvalue", or_null(o.clipvalue)},
         {"use_ema", false},
         {"ema_momentum", 0.99},
         {"ema_overwrite_frequency", nullptr},
         {"loss_scale_factor", nullptr},
         {"gradient_accumulation_steps", nullptr}};
  if (k == "sgd") {
    c["momentum"] = o.momentum;
    c["nesterov"] = o.nesterov;
  } else if (k == "adam" || k == "adamw") {
    c["beta_1"] = o.beta_1;
    c["beta_2"] = o.beta_2;
    c["epsilon"] = o.epsilon;
    c["amsgrad"] = o.amsgrad;
  } else if (k == "rmsprop") {
    c["rho"] = o.rho;
    c["momentum"] = o.momentum;
    c["epsilon"] = o.epsilon;
    c["centered"] = o.centered;
  } else {
    c["initial_accumulator_value"] = o.initial_accumulator_value;
    c["epsilon"] = o.epsilon;
  }
  return json{{"module", "ember.optimizers"}, {"class_name", cls}, {"config", c},
              {"registered_name", nullptr}};
}

json loss_to_config(const Loss& l) {
  const bool plain = !l.from_logits && l.label_smoothing == 0.0;
  if (plain) return l.name();
  static const char* classes[] = {"SparseCategoricalCrossentropy", "CategoricalCrossentropy",
                                  "BinaryCrossentropy", "MeanSquaredError", "MeanAbsoluteError"};
  json c{{"name", l.name()}, {"reduction", "sum_over_batch_size"}, {"from_logits", l.from_logits}};
  if (l.kind == Loss::categorical_crossentropy || l.kind == Loss::binary_crossentropy)
    c["label_smoothing"] = l.label_smoothing;
  return json{{"module", "ember.losses"}, {"class_name", classes[l.kind]}, {"config", c},
              {"registered_name", nullptr}};
}

json compile_to_config(const api::ModelState& m) {
  if (!m.compile_config.is_null()) return m.compile_config;
  json loss;
  bool same = true;
  for (const auto& e : m.losses)
    same = same && e.loss.kind == m.losses[0].loss.kind &&
           e.loss.from_logits == m.losses[0].loss.from_logits &&
           e.loss.label_smoothing == m.losses[0].loss.label_smoothing;
  if (m.losses.size() == 1 || (same && m.losses.size() != m.outputs.size())) {
    loss = loss_to_config(m.losses[0].loss);
  } else {
    loss = json::array();
    for (const auto& e : m.losses) loss.push_back(loss_to_config(e.loss));
  }
  bool unit = std::all_of(m.loss_weights.begin(), m.loss_weights.end(),
                          [](double w) { return w == 1.0; });
  json metrics = json(nullptr);
  if (!m.metrics.empty()) metrics = m.metrics;
  return json{{"optimizer", optimizer_to_config(m.optimizer_spec)},
              {"loss", m.has_loss ? loss : json(nullptr)},
              {"loss_weights", unit ? json(nullptr) : json(m.loss_weights)},
              {"metrics", metrics}};
}

// Python's _weight_names: a repeated path gets a suffix.
std::vector<std::string> weight_names(const api::ModelState& m) {
  std::vector<std::string> out;
  std::map<std::string, int> seen;
  for (const auto& w : m.weights) {
    auto it = seen.find(w.path);
    if (it == seen.end()) {
      seen[w.path] = 0;
      out.push_back(w.path);
    } else {
      out.push_back(w.path + "_" + std::to_string(++it->second));
    }
  }
  return out;
}

Tensor cast_copy(const Tensor& t, DType to) {
  Tensor out(t.shape(), to);
  dispatch_float(to, "load_model", [&](auto dst_tag) {
    using D = decltype(dst_tag);
    D* d = out.data<D>();
    for (int64_t i = 0; i < t.size(); ++i) {
      switch (t.dtype()) {
        case DType::f32: d[i] = static_cast<D>(t.data<float>()[i]); break;
        case DType::f64: d[i] = static_cast<D>(t.data<double>()[i]); break;
        case DType::i32: d[i] = static_cast<D>(t.data<int32_t>()[i]); break;
        case DType::i64: d[i] = static_cast<D>(t.data<int64_t>()[i]); break;
      }
    }
  });
  return out;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

Model load_model(const std::string& path, const ModelOptions& options) {
  SafetensorsFile file = read_safetensors(path);
  auto meta = [&](const char* key) -> const std::string* {
    auto it = file.metadata.find(key);
    return it == file.metadata.end() ? nullptr : &it->second;
  };
  const std::string* fmt = meta("format");
  EMBER_CHECK(fmt && *fmt == kFormat, ValueError, path, ": not an ember model file (format ",
              fmt ? "'" + *fmt + "'" : std::string("None"), ")");
  const std::string* names_text = meta("weight_names");
  EMBER_CHECK(names_text, FileFormatError, path, ": missing or malformed weight list ('weight_names')");
  json names = parse_json(*names_text, path, "weight list");
  bool names_ok = names.is_array();
  for (const json& n : names) names_ok = names_ok && n.is_string();
  EMBER_CHECK(names_ok, FileFormatError, path, ": malformed weight list");
  const std::string* config_text = meta("model_config");
  EMBER_CHECK(config_text, FileFormatError, path, ": missing or malformed model config ('model_config')");
  json entry = parse_json(*config_text, path, "model config");

  api::check_depth(entry, 64, path + ": model_config");
  // The weights' dtype is the model's (float32 unless the file holds float64 weights).
  ModelOptions opts = options;
  if (!names.empty()) {
    const SafetensorsEntry* first = file.find(names[0].get<std::string>());
    opts.dtype = first && first->dtype == "F64" ? DType::f64 : DType::f32;
  }
  Model model(opts);
  api::ModelState& m = detail::ModelAccess::state(model);
  // The layers take their weights from the file as they are built (Python: set afterwards,
  // by position, each shape checked).
  for (const json& n : names) {
    const std::string name = n.get<std::string>();
    const SafetensorsEntry* t = file.find(name);
    EMBER_CHECK(t, ValueError, path, ": weight '", name, "' is listed but not stored in the file");
    EMBER_CHECK(t->tensor.defined(), ValueError, path, ": weight '", name, "' has dtype ",
                t->dtype, ", which ember's C++ API cannot load (F32, F64, I32, I64)");
    m.preset_names.push_back(name);
    m.preset_weights.push_back(t->tensor.dtype() == m.dtype ? t->tensor
                                                            : cast_copy(t->tensor, m.dtype));
  }
  m.loading = true;
  m.loading_from = path;
  api::model_from_config(m, entry);
  m.loading = false;
  m.preset_weights.clear();
  m.preset_names.clear();
  EMBER_CHECK(names.size() == m.weights.size(), ValueError, path, ": the file holds ",
              names.size(), " weights, model '", m.name, "' has ", m.weights.size());

  if (const std::string* cc = meta("compile_config")) {
    json compile = parse_json(*cc, path, "compile config");
    api::check_depth(compile, 64, path + ": compile_config");
    compile_from_config(m, compile);
    if (const std::string* it = meta("optimizer_iterations")) {
      try {
        size_t used = 0;
        m.pending_iterations = std::stoll(*it, &used);
        EMBER_CHECK(used == it->size() && m.pending_iterations >= 0, FileFormatError, path,
                    ": malformed optimizer_iterations '", *it, "'");
      } catch (const std::logic_error&) {
        throw FileFormatError(path + ": malformed optimizer_iterations '" + *it + "'");
      }
    }
    std::vector<std::pair<int64_t, const SafetensorsEntry*>> slots;
    for (const auto& t : file.tensors) {
      const std::string prefix = "optimizer/slot_";
      if (t.name.rfind(prefix, 0) != 0) continue;
      const std::string k = t.name.substr(prefix.size());
      EMBER_CHECK(!k.empty() && k.size() < 10 && std::all_of(k.begin(), k.end(), ::isdigit),
                  FileFormatError, path, ": malformed optimizer slot name '", t.name, "'");
      EMBER_CHECK(t.tensor.defined(), FileFormatError, path, ": optimizer slot '", t.name,
                  "' has dtype ", t.dtype);
      slots.emplace_back(std::stoll(k), &t);
    }
    std::sort(slots.begin(), slots.end());
    for (const auto& [k, t] : slots)
      m.pending_slots.push_back(t->tensor.dtype() == m.dtype ? t->tensor
                                                             : cast_copy(t->tensor, m.dtype));
    if (const std::string* rng = meta("train_rng")) {
      json v = parse_json(*rng, path, "train_rng");
      EMBER_CHECK(v.is_array() && v.size() == 2 && v[0].is_number_integer() &&
                      v[1].is_number_integer(),
                  FileFormatError, path, ": malformed train_rng ", short_json(v));
      m.restored_train_rng = std::make_pair(v[0].get<uint64_t>(), v[1].get<uint64_t>());
    }
  }
  return model;
}

void save_model(const Model& model, const std::string& path, const SaveOptions& options) {
  const api::ModelState& m = detail::ModelAccess::state(model);
  EMBER_CHECK(ends_with(path, ".ember") || ends_with(path, ".keras"), ValueError,
              "save: the file name must end with one of ['.ember', '.keras'], received '", path,
              "'");
  struct stat st;
  EMBER_CHECK(options.overwrite || ::stat(path.c_str(), &st) != 0, Error, "'", path,
              "' exists and overwrite=False");
  std::vector<std::pair<std::string, Tensor>> tensors;
  const std::vector<std::string> names = weight_names(m);
  for (size_t i = 0; i < names.size(); ++i)
    tensors.emplace_back(names[i], m.weight_value(static_cast<int>(i)));
  std::map<std::string, std::string> metadata{
      {"format", kFormat},
      {"version", kVersion},
      {"model_config", api::model_to_config(m).dump()},
      {"weight_names", json(names).dump()}};
  if (m.compiled) {
    metadata["compile_config"] = compile_to_config(m).dump();
    if (options.include_optimizer) {
      const bool live = m.optimizer != nullptr;
      metadata["optimizer_iterations"] =
          std::to_string(live ? m.optimizer->iterations() : m.pending_iterations);
      const std::vector<Tensor>& slots = live ? m.optimizer->slots() : m.pending_slots;
      for (size_t k = 0; k < slots.size(); ++k)
        tensors.emplace_back("optimizer/slot_" + std::to_string(k), slots[k]);
      // The dropout stream, so that training resumes with the masks it would have drawn.
      for (const auto& [key, step] : m.steps)
        if (key.rfind("train", 0) == 0) {
          metadata["train_rng"] = json::array({step.program->seed(), step.program->steps()}).dump();
          break;
        }
      if (!metadata.count("train_rng") && m.restored_train_rng)
        metadata["train_rng"] =
            json::array({m.restored_train_rng->first, m.restored_train_rng->second}).dump();
    }
  }
  write_safetensors(path, tensors, metadata);
}

}  // namespace ember
