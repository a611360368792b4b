// ember::Model: compile, and running the model (train/test/predict steps, evaluate, fit), as
// Python's models/executable.py and trainer.py: the same programs, the same loss and metric
// ops (softmax + cross-entropy fused), the same per-batch bookkeeping.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <iomanip>
#include <sstream>

#include "ember/rng.h"
#include "layers.h"
#include "learning_rate.h"
#include "py_format.h"

namespace ember {

// ---- Loss -----------------------------------------------------------------------------------

Loss Loss::from_name(const std::string& name) {
  static const std::vector<std::pair<std::string, Kind>> names = {
      {"sparse_categorical_crossentropy", sparse_categorical_crossentropy},
      {"SparseCategoricalCrossentropy", sparse_categorical_crossentropy},
      {"categorical_crossentropy", categorical_crossentropy},
      {"CategoricalCrossentropy", categorical_crossentropy},
      {"binary_crossentropy", binary_crossentropy},
      {"BinaryCrossentropy", binary_crossentropy},
      {"mean_squared_error", mean_squared_error}, {"mse", mean_squared_error},
      {"MSE", mean_squared_error}, {"MeanSquaredError", mean_squared_error},
      {"mean_absolute_error", mean_absolute_error}, {"mae", mean_absolute_error},
      {"MAE", mean_absolute_error}, {"MeanAbsoluteError", mean_absolute_error}};
  for (const auto& [n, k] : names)
    if (n == name) return Loss(k);
  throw ValueError(detail::concat(
      "unknown loss '", name, "'; valid names: ['MAE', 'MSE', 'binary_crossentropy', "
      "'categorical_crossentropy', 'mae', 'mean_absolute_error', 'mean_squared_error', 'mse', "
      "'sparse_categorical_crossentropy'] (ember's C++ API supports these losses)"));
}

std::string Loss::name() const {
  switch (kind) {
    case sparse_categorical_crossentropy: return "sparse_categorical_crossentropy";
    case categorical_crossentropy: return "categorical_crossentropy";
    case binary_crossentropy: return "binary_crossentropy";
    case mean_squared_error: return "mean_squared_error";
    case mean_absolute_error: return "mean_absolute_error";
  }
  return "?";
}

// ---- optimizers -----------------------------------------------------------------------------

namespace optimizers {

static OptimizerSpec spec(const char* kind, double lr) {
  OptimizerSpec s;
  s.config.kind = kind;
  s.learning_rate = lr;
  return s;
}

OptimizerSpec sgd(double learning_rate, double momentum, bool nesterov) {
  OptimizerSpec s = spec("sgd", learning_rate);
  s.config.momentum = momentum;
  s.config.nesterov = nesterov;
  return s;
}

OptimizerSpec adam(double learning_rate, double beta_1, double beta_2, double epsilon,
                   bool amsgrad) {
  OptimizerSpec s = spec("adam", learning_rate);
  s.config.beta_1 = beta_1;
  s.config.beta_2 = beta_2;
  s.config.epsilon = epsilon;
  s.config.amsgrad = amsgrad;
  return s;
}

OptimizerSpec adamw(double learning_rate, double weight_decay, double beta_1, double beta_2,
                    double epsilon, bool amsgrad) {
  OptimizerSpec s = adam(learning_rate, beta_1, beta_2, epsilon, amsgrad);
  s.config.kind = "adamw";
  s.config.weight_decay = weight_decay;
  return s;
}

OptimizerSpec rmsprop(double learning_rate, double rho, double momentum, double epsilon,
                      bool centered) {
  OptimizerSpec s = spec("rmsprop", learning_rate);
  s.config.rho = rho;
  s.config.momentum = momentum;
  s.config.epsilon = epsilon;
  s.config.centered = centered;
  return s;
}

OptimizerSpec adagrad(double learning_rate, double initial_accumulator_value, double epsilon) {
  OptimizerSpec s = spec("adagrad", learning_rate);
  s.config.initial_accumulator_value = initial_accumulator_value;
  s.config.epsilon = epsilon;
  return s;
}

}  // namespace optimizers

// ---- Logs, History --------------------------------------------------------------------------

void Logs::set(const std::string& key, double value) {
  for (auto& kv : items_)
    if (kv.first == key) {
      kv.second = value;
      return;
    }
  items_.emplace_back(key, value);
}

bool Logs::contains(const std::string& key) const {
  for (const auto& kv : items_)
    if (kv.first == key) return true;
  return false;
}

double Logs::at(const std::string& key) const {
  for (const auto& kv : items_)
    if (kv.first == key) return kv.second;
  std::string keys;
  for (const auto& kv : items_) keys += (keys.empty() ? "'" : ", '") + kv.first + "'";
  throw IndexError(detail::concat("Logs: no value named '", key, "'; the logs hold [", keys, "]"));
}

std::string Logs::str() const {
  std::ostringstream os;
  os << std::fixed << std::setprecision(4);
  for (size_t i = 0; i < items_.size(); ++i)
    os << (i ? " - " : "") << items_[i].first << ": " << items_[i].second;
  return os.str();
}

std::vector<double> History::values(const std::string& key) const {
  std::vector<double> out;
  for (const Logs& l : epochs) out.push_back(l.at(key));
  return out;
}

// ---- compile --------------------------------------------------------------------------------

namespace {

const char* optimizer_class(const std::string& kind) {
  if (kind == "sgd") return "SGD";
  if (kind == "adam") return "Adam";
  if (kind == "adamw") return "AdamW";
  if (kind == "rmsprop") return "RMSprop";
  return "Adagrad";
}

const std::vector<std::string>& metric_names() {
  static const std::vector<std::string> names = {
      "acc", "accuracy", "binary_accuracy", "categorical_accuracy", "mae",
      "mean_absolute_error", "mean_squared_error", "mse", "sparse_categorical_accuracy"};
  return names;
}

void check_metric(const std::string& name) {
  const auto& names = metric_names();
  if (std::find(names.begin(), names.end(), name) != names.end()) return;
  std::string valid;
  for (const auto& n : names) valid += (valid.empty() ? "'" : ", '") + n + "'";
  throw ValueError(detail::concat("unknown metric '", name, "'; valid names: [", valid, "]"));
}

}  // namespace

void Model::compile(const Loss& loss, const OptimizerSpec& optimizer,
                    const std::vector<std::string>& metrics) {
  compile(std::vector<Loss>{loss}, optimizer, metrics, {});
}

void Model::compile(const std::vector<Loss>& losses, const OptimizerSpec& optimizer,
                    const std::vector<std::string>& metrics,
                    const std::vector<double>& loss_weights) {
  api::ModelState& m = *impl_;
  EMBER_CHECK(!losses.empty(), ValueError, "compile: expected at least one loss");
  EMBER_CHECK(optimizer.learning_rate >= 0 && std::isfinite(optimizer.learning_rate),
              ValueError, optimizer_class(optimizer.config.kind), ": `learning_rate` must be "
              ">= 0, received ", api::py_float(optimizer.learning_rate));
  Optimizer check(optimizer.config);  // validates the kind and its hyperparameters
  (void)check;
  for (const auto& name : metrics) check_metric(name);
  EMBER_CHECK(loss_weights.empty() || loss_weights.size() == losses.size(), ValueError,
              "compile: expected ", losses.size(), " entries in loss_weights, received ",
              loss_weights.size());
  m.losses.clear();
  for (const Loss& l : losses) m.losses.push_back({l, {}});
  m.loss_weights = loss_weights.empty() ? std::vector<double>(losses.size(), 1.0) : loss_weights;
  m.metrics = metrics;
  m.optimizer_spec = optimizer;
  m.output_metrics.clear();
  m.lr_schedule = api::json();
  m.compile_config = api::json();
  m.has_loss = true;
  m.compiled = true;
  m.optimizer.reset();  // a new optimizer, as Keras's compile makes one
  m.pending_slots.clear();
  m.pending_iterations = 0;
  m.steps.clear();
}

bool Model::compiled() const { return impl_->compiled; }

double Model::learning_rate() const { return impl_->current_learning_rate(); }

void Model::set_learning_rate(double lr) {
  EMBER_CHECK(lr >= 0 && std::isfinite(lr), ValueError,
              optimizer_class(impl_->optimizer_spec.config.kind),
              ": `learning_rate` must be >= 0, received ", api::py_float(lr));
  EMBER_CHECK(impl_->lr_schedule.is_null(), TypeError, "the optimizer was created with a "
              "LearningRateSchedule as its `learning_rate`, hence its learning rate is not "
              "settable to a number");
  impl_->optimizer_spec.learning_rate = lr;
}

int64_t Model::optimizer_iterations() const {
  return impl_->optimizer ? impl_->optimizer->iterations() : impl_->pending_iterations;
}

void Model::stop_training() { impl_->stop_requested = true; }

namespace api {

// ---- programs -------------------------------------------------------------------------------

double ModelState::current_learning_rate() const {
  if (lr_schedule.is_null()) return optimizer_spec.learning_rate;
  int64_t it = optimizer ? optimizer->iterations() : pending_iterations;
  return evaluate_schedule(lr_schedule, it);
}

void ModelState::finalize() {
  if (arena) return;
  EMBER_CHECK(!outputs.empty(), ValueError, "model '", name, "' has no outputs: call "
              "set_outputs() before training, evaluating or predicting");
  std::vector<Shape> shapes;
  for (const auto& w : weights) shapes.push_back(w.shape);
  auto a = std::make_shared<ParamArena>(dtype, shapes);
  for (size_t i = 0; i < weights.size(); ++i) {
    Tensor dst = a->value(static_cast<int>(i));
    if (dst.size() > 0) std::memcpy(dst.raw(), weights[i].initial.raw(), dst.nbytes());
    a->set_trainable(static_cast<int>(i), weights[i].trainable);
  }
  arena = std::move(a);
  for (auto& w : weights) w.initial = Tensor();  // the arena holds the values from now on
}

void ModelState::reset_programs() {
  predict_program.reset();
  steps.clear();
}

std::shared_ptr<Optimizer> ModelState::core_optimizer() {
  if (!optimizer) {
    optimizer = std::make_shared<Optimizer>(optimizer_spec.config);
    optimizer->set_iterations(pending_iterations);
    if (!pending_slots.empty()) optimizer->slots() = pending_slots;
    pending_slots.clear();
  }
  return optimizer;
}

Program& ModelState::predict() {
  if (!predict_program) {
    finalize();
    auto g = std::make_shared<Graph>();
    Lowering low(graph, *g);
    ProgramSpec spec;
    for (const Sym& s : inputs) spec.inputs.push_back(low.lower(s.node));
    for (const Sym& s : outputs) spec.outputs.push_back(low.lower(s.node));
    predict_program = std::make_unique<Program>(g, arena, spec);
  }
  return *predict_program;
}

namespace {

const char* loss_op(const Loss& l) {
  switch (l.kind) {
    case Loss::sparse_categorical_crossentropy: return "sparse_categorical_crossentropy";
    case Loss::categorical_crossentropy: return "categorical_crossentropy";
    case Loss::binary_crossentropy: return "binary_crossentropy";
    case Loss::mean_squared_error: return "mean_squared_error";
    case Loss::mean_absolute_error: return "mean_absolute_error";
  }
  return "";
}

Attrs loss_attrs(const Loss& l) {
  switch (l.kind) {
    case Loss::sparse_categorical_crossentropy: return Attrs({{"from_logits", l.from_logits}});
    case Loss::categorical_crossentropy:
    case Loss::binary_crossentropy:
      return Attrs({{"from_logits", l.from_logits}, {"label_smoothing", l.label_smoothing}});
    default: return Attrs();
  }
}

// A metric op with its name: Keras's rule for "accuracy" looks at the loss and the shapes.
struct MetricOp {
  std::string name, op;
  Attrs attrs;
};

MetricOp metric_op(const std::string& spec, const Loss& loss, const Shape& y_shape,
                   const Shape& out_shape) {
  if (spec == "accuracy" || spec == "acc") {
    if (loss.kind == Loss::binary_crossentropy || (!out_shape.empty() && out_shape.back() == 1))
      return {spec, "binary_accuracy", Attrs({{"threshold", 0.5}})};
    if (loss.kind == Loss::sparse_categorical_crossentropy || y_shape.size() < out_shape.size() ||
        (!y_shape.empty() && y_shape.back() == 1))
      return {spec, "sparse_categorical_accuracy", {}};
    return {spec, "categorical_accuracy", {}};
  }
  if (spec == "binary_accuracy") return {spec, spec, Attrs({{"threshold", 0.5}})};
  if (spec == "mse") return {spec, "mean_squared_error", {}};
  if (spec == "mae") return {spec, "mean_absolute_error", {}};
  return {spec, spec, {}};
}

}  // namespace

std::string ModelState::output_name(size_t k) const {
  const int node = outputs.at(k).node;
  for (const auto& l : layers)
    for (const auto& call : l->calls())
      for (const Sym& s : call.outputs)
        if (s.node == node) return l->name();
  return "output_" + std::to_string(k);
}

std::string ModelState::step_key(bool training, const std::vector<Tensor>& ys) const {
  std::string key = training ? "train" : "test";
  for (const Tensor& y : ys) {
    Shape tail(y.shape().begin() + (y.rank() ? 1 : 0), y.shape().end());
    key += "|" + shape_str(tail) + dtype_name(y.dtype());
  }
  return key;
}

CompiledStep& ModelState::step(bool training, const std::vector<Tensor>& ys) {
  const std::string key = step_key(training, ys);
  auto found = steps.find(key);
  if (found != steps.end()) return found->second;
  finalize();
  EMBER_CHECK(has_loss && !losses.empty(), ValueError, "model '", name, "': compile() was given "
              "no loss, so it cannot be trained or evaluated");
  const size_t n = outputs.size();
  std::vector<LossEntry> per_output = losses;
  if (per_output.size() == 1 && n > 1) per_output.assign(n, losses[0]);
  EMBER_CHECK(per_output.size() == n, ValueError, "compile: expected ", n,
              " entries in loss, received ", losses.size());
  std::vector<double> weights_k = loss_weights;
  if (weights_k.size() != n) weights_k.assign(n, 1.0);

  SymGraph local = graph;  // targets, losses and metrics join a copy of the model's graph
  auto g = std::make_shared<Graph>();
  Lowering low(local, *g);
  ProgramSpec spec;
  for (const Sym& s : inputs) spec.inputs.push_back(low.lower(s.node));
  for (const Sym& s : outputs) spec.outputs.push_back(low.lower(s.node));
  const bool multi = n > 1;
  std::vector<int> targets, loss_terms, metric_terms;
  CompiledStep result;
  result.names.push_back("loss");
  for (size_t k = 0; k < n; ++k) {
    const Sym out = outputs[k];
    const Loss& loss = per_output[k].loss;
    const std::string prefix = multi ? output_name(k) + "_" : "";
    const Tensor& y = ys[k];
    Shape y_shape{kUnknown};
    y_shape.insert(y_shape.end(), y.shape().begin() + (y.rank() ? 1 : 0), y.shape().end());
    const int y_sym = local.input(y_shape, y.dtype(), prefix + "target");
    targets.push_back(y_sym);
    EMBER_CHECK(out.mask < 0, ValueError, "model '", name, "': output ", k, " carries a mask "
                "(from Embedding(mask_zero=True)); masked losses are not supported by ember's "
                "C++ API yet");
    // softmax + cross-entropy on probabilities becomes one fused op on the logits.
    Loss fused = loss;
    int prediction = out.node;
    const SymNode node = local.node(out.node);  // a copy: nodes are added below
    const bool categorical = loss.kind == Loss::sparse_categorical_crossentropy ||
                             loss.kind == Loss::categorical_crossentropy;
    const int64_t axis = node.attrs.get_int("axis", -1);
    if (categorical && !loss.from_logits && node.kind == NodeKind::op && node.op == "softmax" &&
        (axis == -1 || axis == static_cast<int64_t>(node.meta.shape.size()) - 1)) {
      fused.from_logits = true;
      prediction = node.inputs[0];
    }
    int term = local.op(loss_op(fused), loss_attrs(fused), {y_sym, prediction}, "");
    if (multi) {
      metric_terms.push_back(term);
      result.names.push_back(prefix + "loss");
    }
    if (weights_k[k] != 1.0)
      term = local.op("multiply", {}, {term, local.scalar(weights_k[k], meta(out.node).dtype)}, "");
    loss_terms.push_back(term);
    const auto& specs = output_metrics.empty() ? metrics : output_metrics.at(k);
    for (const std::string& spec_name : specs) {
      MetricOp mo = metric_op(spec_name, loss, y.shape(), meta(out.node).shape);
      metric_terms.push_back(local.op(mo.op, mo.attrs, {y_sym, out.node}, ""));
      result.names.push_back(prefix + mo.name);
    }
  }
  // Weight penalties, layer by layer (Python's _weight_penalties): l1 * sum(|w|) + l2 * sum(w^2).
  for (const auto& l : layers)
    for (const auto& [w, reg] : l->regularized()) {
      const int param = weights[size_t(w)].node;
      auto scaled = [&](double factor, const char* op) {
        int s = local.op("sum", Attrs({{"keepdims", false}}), {local.op(op, {}, {param}, "")}, "");
        return local.op("multiply", {}, {local.scalar(factor, dtype), s}, "");
      };
      int term = -1;
      if (reg.l1 != 0.0) term = scaled(reg.l1, "abs");
      if (reg.l2 != 0.0) {
        int t2 = scaled(reg.l2, "square");
        term = term < 0 ? t2 : local.op("add", {}, {term, t2}, "");
      }
      loss_terms.push_back(term);
    }
  int total = loss_terms[0];
  for (size_t i = 1; i < loss_terms.size(); ++i) total = local.op("add", {}, {total, loss_terms[i]}, "");
  for (int t : targets) spec.targets.push_back(low.lower(t));
  spec.loss = low.lower(total);
  for (int t : metric_terms) spec.metrics.push_back(low.lower(t));
  result.program = std::make_unique<Program>(g, arena, spec);
  result.program->set_optimizer(core_optimizer());
  if (training && restored_train_rng) {  // a loaded model resumes its random stream
    result.program->set_seed(restored_train_rng->first);
    result.program->set_steps(restored_train_rng->second);
    restored_train_rng.reset();
  } else {
    result.program->set_seed(next_seed());
  }
  return steps.emplace(key, std::move(result)).first->second;
}

// ---- data -----------------------------------------------------------------------------------

namespace {

// A copy of `t` converted to `to` (as NumPy's astype).
Tensor converted(const Tensor& t, DType to) {
  if (t.dtype() == to) return t;
  Tensor out(t.shape(), to);
  auto read = [&](int64_t i) -> double {
    switch (t.dtype()) {
      case DType::f32: return t.data<float>()[i];
      case DType::f64: return t.data<double>()[i];
      case DType::i32: return t.data<int32_t>()[i];
      case DType::i64: return static_cast<double>(t.data<int64_t>()[i]);
    }
    return 0;
  };
  for (int64_t i = 0; i < t.size(); ++i) {
    double v = read(i);
    switch (to) {
      case DType::f32: out.data<float>()[i] = static_cast<float>(v); break;
      case DType::f64: out.data<double>()[i] = v; break;
      case DType::i32: out.data<int32_t>()[i] = static_cast<int32_t>(v); break;
      case DType::i64: out.data<int64_t>()[i] = static_cast<int64_t>(v); break;
    }
  }
  return out;
}

// Rows [begin, end) of t: a view, no copy.
Tensor rows(const Tensor& t, int64_t begin, int64_t end) {
  Shape s = t.shape();
  const size_t row = s[0] ? t.nbytes() / static_cast<size_t>(s[0]) : 0;
  s[0] = end - begin;
  return Tensor::view(static_cast<char*>(t.raw()) + row * static_cast<size_t>(begin), s,
                      t.dtype(), t.owner());
}

// The rows of t at `index` (a shuffled batch): a copy.
Tensor gather(const Tensor& t, const int64_t* index, int64_t count) {
  Shape s = t.shape();
  const size_t row = s[0] ? t.nbytes() / static_cast<size_t>(s[0]) : 0;
  s[0] = count;
  Tensor out(s, t.dtype());
  for (int64_t i = 0; i < count; ++i)
    std::memcpy(static_cast<char*>(out.raw()) + row * size_t(i),
                static_cast<const char*>(t.raw()) + row * size_t(index[i]), row);
  return out;
}

}  // namespace

std::vector<Tensor> ModelState::prepare_x(const std::vector<Tensor>& xs) const {
  EMBER_CHECK(!outputs.empty(), ValueError, "model '", name, "' has no outputs: call "
              "set_outputs() before training, evaluating or predicting");
  EMBER_CHECK(xs.size() == inputs.size(), ValueError, "x: the model has ", inputs.size(),
              " inputs, so x must be a list of ", inputs.size(), " arrays, received ", xs.size());
  std::vector<Tensor> out;
  for (size_t i = 0; i < xs.size(); ++i) {
    const std::string label = xs.size() == 1 ? "x" : "x[" + std::to_string(i) + "]";
    const Tensor& a = xs[i];
    EMBER_CHECK(a.defined() && a.rank() > 0, ValueError, label, ": expected an array with a "
                "batch dimension, received ", a.defined() ? "a scalar" : "an empty Tensor");
    const SymNode& node = graph.node(inputs[i].node);
    const Shape& want = node.meta.shape;
    bool ok = a.rank() == static_cast<int>(want.size());
    for (size_t d = 1; ok && d < want.size(); ++d) ok = want[d] < 0 || want[d] == a.shape()[d];
    EMBER_CHECK(ok, ValueError, label, ": input '", node.name, "' of model '", name,
                "' expected shape ", shape_str(want), ", received an array of shape ",
                shape_str(a.shape()));
    out.push_back(converted(a, node.meta.dtype));
  }
  return out;
}

std::vector<Tensor> ModelState::prepare_y(const std::vector<Tensor>& ys) const {
  EMBER_CHECK(ys.size() == outputs.size(), ValueError, "y: the model has ", outputs.size(),
              " outputs, so y must be a list of ", outputs.size(), " arrays, received ",
              ys.size());
  std::vector<Tensor> out;
  for (size_t k = 0; k < ys.size(); ++k) {
    const Tensor& y = ys[k];
    EMBER_CHECK(y.defined() && y.rank() > 0, ValueError, "y: expected an array with a batch "
                "dimension, received ", y.defined() ? "a scalar" : "an empty Tensor");
    const Loss& loss = losses.size() == 1 ? losses[0].loss : losses.at(k).loss;
    // Sparse cross-entropy keeps integer labels; every other loss compares floats.
    const bool keep_int = loss.kind == Loss::sparse_categorical_crossentropy && !is_floating(y.dtype());
    out.push_back(keep_int ? y : converted(y, dtype));
  }
  return out;
}

int64_t ModelState::check_lengths(const std::vector<Tensor>& xs, const std::vector<Tensor>* ys) {
  const int64_t n = xs[0].dim(0);
  for (size_t i = 0; i < xs.size(); ++i)
    EMBER_CHECK(xs[i].dim(0) == n, ValueError, "all input arrays must have the same number of "
                "samples, received ", n, " and ", xs[i].dim(0), " (x[", i, "])");
  if (ys)
    for (const Tensor& y : *ys)
      EMBER_CHECK(y.dim(0) == n, ValueError, "x and y must have the same number of samples, "
                  "received x: ", n, " samples and y: ", y.dim(0), " samples");
  EMBER_CHECK(n > 0, ValueError, "expected at least one sample, received an empty array for x");
  return n;
}

void ModelState::assert_compiled(const char* what) const {
  EMBER_CHECK(compiled, Error, "You must call compile() on model '", name,
              "' before calling ", what, "()");
}

}  // namespace api

// ---- running --------------------------------------------------------------------------------

namespace {

using api::gather;
using api::rows;

Logs named(const std::vector<std::string>& names, const std::vector<double>& values) {
  Logs logs;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) logs.set(names[i], values[i]);
  return logs;
}

int64_t checked_batch_size(int64_t batch_size) {
  EMBER_CHECK(batch_size > 0, ValueError, "batch_size must be a positive integer, received ",
              batch_size);
  return batch_size;
}

// Keras's running means: each batch's value weighted by its size.
struct Means {
  std::vector<std::string> names;
  std::vector<double> total;
  double count = 0;
  void add(const std::vector<double>& values, int64_t batch) {
    if (total.empty()) total.assign(values.size(), 0.0);
    for (size_t i = 0; i < values.size() && i < total.size(); ++i)
      total[i] += values[i] * static_cast<double>(batch);
    count += static_cast<double>(batch);
  }
  Logs logs() const {
    Logs l;
    for (size_t i = 0; i < names.size() && i < total.size(); ++i)
      l.set(names[i], count ? total[i] / count : 0.0);
    return l;
  }
};

}  // namespace

Logs Model::train_step(const Tensor& x, const Tensor& y) {
  return train_step(std::vector<Tensor>{x}, std::vector<Tensor>{y});
}

Logs Model::train_step(const std::vector<Tensor>& x, const std::vector<Tensor>& y) {
  api::ModelState& m = *impl_;
  m.assert_compiled("train_on_batch");
  auto xs = m.prepare_x(x);
  auto ys = m.prepare_y(y);
  m.check_lengths(xs, &ys);
  api::CompiledStep& step = m.step(true, ys);
  return named(step.names, step.program->train_step(xs, ys, m.current_learning_rate()));
}

Logs Model::test_step(const Tensor& x, const Tensor& y) {
  return test_step(std::vector<Tensor>{x}, std::vector<Tensor>{y});
}

Logs Model::test_step(const std::vector<Tensor>& x, const std::vector<Tensor>& y) {
  api::ModelState& m = *impl_;
  m.assert_compiled("test_on_batch");
  auto xs = m.prepare_x(x);
  auto ys = m.prepare_y(y);
  m.check_lengths(xs, &ys);
  api::CompiledStep& step = m.step(false, ys);
  return named(step.names, step.program->test_step(xs, ys));
}

Tensor Model::predict(const Tensor& x, int64_t batch_size) {
  std::vector<Tensor> out = predict(std::vector<Tensor>{x}, batch_size);
  return out.at(0);
}

std::vector<Tensor> Model::predict(const std::vector<Tensor>& x, int64_t batch_size) {
  api::ModelState& m = *impl_;
  checked_batch_size(batch_size);
  auto xs = m.prepare_x(x);
  const int64_t n = m.check_lengths(xs, nullptr);
  Program& program = m.predict();
  std::vector<Tensor> result;
  for (int64_t start = 0; start < n; start += batch_size) {
    const int64_t end = std::min(n, start + batch_size);
    std::vector<Tensor> batch;
    for (const Tensor& a : xs) batch.push_back(rows(a, start, end));
    std::vector<Tensor> outs = program.predict_step(batch);
    for (const Tensor& o : outs)
      EMBER_CHECK(o.rank() >= 1 && o.dim(0) == end - start, ValueError, "model '", m.name,
                  "': predict concatenates outputs along the batch axis, but an output has "
                  "shape ", shape_str(o.shape()), " for a batch of ", end - start);
    if (result.empty()) {
      for (const Tensor& o : outs) {
        Shape s = o.shape();
        s[0] = n;
        result.emplace_back(s, o.dtype());
      }
    }
    for (size_t k = 0; k < outs.size(); ++k) {
      const size_t row = outs[k].dim(0) ? outs[k].nbytes() / size_t(outs[k].dim(0)) : 0;
      std::memcpy(static_cast<char*>(result[k].raw()) + row * size_t(start), outs[k].raw(),
                  outs[k].nbytes());
    }
  }
  return result;
}

Logs Model::evaluate(const Tensor& x, const Tensor& y, int64_t batch_size) {
  return evaluate(std::vector<Tensor>{x}, std::vector<Tensor>{y}, batch_size);
}

Logs Model::evaluate(const std::vector<Tensor>& x, const std::vector<Tensor>& y,
                     int64_t batch_size) {
  api::ModelState& m = *impl_;
  m.assert_compiled("evaluate");
  checked_batch_size(batch_size);
  auto xs = m.prepare_x(x);
  auto ys = m.prepare_y(y);
  const int64_t n = m.check_lengths(xs, &ys);
  api::CompiledStep& step = m.step(false, ys);
  Means means{step.names, {}, 0};
  for (int64_t start = 0; start < n; start += batch_size) {
    const int64_t end = std::min(n, start + batch_size);
    std::vector<Tensor> bx, by;
    for (const Tensor& a : xs) bx.push_back(rows(a, start, end));
    for (const Tensor& a : ys) by.push_back(rows(a, start, end));
    means.add(step.program->test_step(bx, by), end - start);
  }
  return means.logs();
}

History Model::fit(const Tensor& x, const Tensor& y, const FitOptions& options) {
  return fit(std::vector<Tensor>{x}, std::vector<Tensor>{y}, options);
}

History Model::fit(const std::vector<Tensor>& x, const std::vector<Tensor>& y,
                   const FitOptions& options) {
  api::ModelState& m = *impl_;
  m.assert_compiled("fit");
  const int64_t batch_size = checked_batch_size(options.batch_size);
  EMBER_CHECK(options.epochs >= 0, ValueError, "fit: expected epochs >= 0, received ",
              options.epochs);
  const bool validate = !options.validation_x.empty() || !options.validation_y.empty();
  auto xs = m.prepare_x(x);
  auto ys = m.prepare_y(y);
  const int64_t n = m.check_lengths(xs, &ys);
  api::CompiledStep& step = m.step(true, ys);
  History history;
  m.stop_requested = false;
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int epoch = 0; epoch < options.epochs; ++epoch) {
    for (int64_t i = 0; i < n; ++i) order[size_t(i)] = i;
    if (options.shuffle) {  // Fisher-Yates on the model's random stream
      const uint64_t key = m.next_seed();
      for (int64_t i = n - 1; i > 0; --i) {
        const int64_t j = static_cast<int64_t>(mix64(key + mix64(uint64_t(i))) % uint64_t(i + 1));
        std::swap(order[size_t(i)], order[size_t(j)]);
      }
    }
    Means means{step.names, {}, 0};
    Logs logs;
    int64_t batch = 0;
    for (int64_t start = 0; start < n; start += batch_size, ++batch) {
      const int64_t end = std::min(n, start + batch_size);
      std::vector<Tensor> bx, by;
      for (const Tensor& a : xs)
        bx.push_back(options.shuffle ? gather(a, &order[size_t(start)], end - start)
                                     : rows(a, start, end));
      for (const Tensor& a : ys)
        by.push_back(options.shuffle ? gather(a, &order[size_t(start)], end - start)
                                     : rows(a, start, end));
      means.add(step.program->train_step(bx, by, m.current_learning_rate()), end - start);
      logs = means.logs();
      if (options.on_batch_end) options.on_batch_end(batch, logs);
      if (m.stop_requested) break;
    }
    if (validate) {
      Logs val = evaluate(options.validation_x, options.validation_y, batch_size);
      for (const auto& [k, v] : val.items()) logs.set("val_" + k, v);
    }
    if (options.on_epoch_end) options.on_epoch_end(epoch, logs);
    history.epochs.push_back(logs);
    if (m.stop_requested) break;
  }
  return history;
}

}  // namespace ember
