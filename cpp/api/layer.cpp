// The Layer base class and the definition-time half of ModelState: names, weights, inputs,
// adding and calling layers, activations.
#include <algorithm>

#include "ember/rng.h"
#include "initializers.h"
#include "layers.h"

namespace ember::api {

namespace {

constexpr const char* kWrapPrefix = "Exception encountered when calling ";

// SELU's constants (Klambauer et al. 2017), as ember.activations.extra.
constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
constexpr double kSeluScale = 1.0507009873554804934193349852946;

const std::vector<std::string>& activation_names() {
  static const std::vector<std::string> names = {
      "elu", "exponential", "gelu", "hard_sigmoid", "hard_tanh", "leaky_relu", "linear",
      "log_softmax", "mish", "relu", "relu6", "selu", "sigmoid", "silu", "softmax",
      "softplus", "softsign", "swish", "tanh"};
  return names;
}

}  // namespace

// ---- activations ----------------------------------------------------------------------------

std::string canonical_activation(const std::string& name) {
  return name == "swish" ? "silu" : name;
}

void check_activation(const std::string& name, const std::string& who) {
  const auto& names = activation_names();
  if (std::find(names.begin(), names.end(), name) != names.end()) return;
  std::string valid;
  for (const auto& n : names) valid += (valid.empty() ? "'" : ", '") + n + "'";
  throw ValueError(detail::concat(who, ": unknown activation '", name, "'; valid names: [",
                                  valid, "]"));
}

bool is_fused_activation(const std::string& name) {
  return name == "linear" || name == "relu" || name == "sigmoid" || name == "tanh";
}

int apply_activation(ModelState& m, int x, const std::string& requested) {
  const std::string name = canonical_activation(requested);
  const DType dt = m.meta(x).dtype;
  auto unary = [&](const std::string& op, Attrs attrs, int in) {
    return m.op(op, std::move(attrs), {in});
  };
  auto with_scalar = [&](const std::string& op, int in, double v) {
    int c = m.graph.scalar(v, dt);
    return m.op(op, {}, {in, c});
  };
  if (name == "linear") return x;
  if (name == "relu" || name == "sigmoid" || name == "tanh" || name == "softplus" ||
      name == "silu")
    return unary(name, {}, x);
  if (name == "softmax" || name == "log_softmax") return unary(name, Attrs({{"axis", int64_t{-1}}}), x);
  if (name == "gelu") return unary("gelu", Attrs({{"approximate", false}}), x);
  if (name == "elu") return unary("elu", Attrs({{"alpha", 1.0}}), x);
  if (name == "leaky_relu") return unary("leaky_relu", Attrs({{"negative_slope", 0.2}}), x);
  if (name == "exponential") return unary("exp", {}, x);
  if (name == "relu6") return unary("clip", Attrs({{"min", 0.0}, {"max", 6.0}}), x);
  if (name == "hard_tanh") return unary("clip", Attrs({{"min", -1.0}, {"max", 1.0}}), x);
  if (name == "hard_sigmoid") {
    int shifted = with_scalar("add", x, 3.0);
    int clipped = unary("clip", Attrs({{"min", 0.0}, {"max", 6.0}}), shifted);
    return with_scalar("divide", clipped, 6.0);
  }
  if (name == "mish") {
    int t = unary("tanh", {}, unary("softplus", {}, x));
    return m.op("multiply", {}, {x, t});
  }
  if (name == "selu") return with_scalar("multiply", unary("elu", Attrs({{"alpha", kSeluAlpha}}), x),
                                         kSeluScale);
  if (name == "softsign") {
    int denom = with_scalar("add", unary("abs", {}, x), 1.0);
    return m.op("divide", {}, {x, denom});
  }
  check_activation(name, "activation");  // throws: unknown
  return x;
}

// ---- call records ---------------------------------------------------------------------------

json sym_ref(const Sym& s) { return json{{"__sym__", s.node}}; }

CallRecord single_call(const Sym& x) {
  CallRecord r;
  r.args = json::array({sym_ref(x)});
  return r;
}

CallRecord list_call(const std::vector<Sym>& xs) {
  CallRecord r;
  json list = json::array();
  for (const Sym& s : xs) list.push_back(sym_ref(s));
  r.args = json::array({list});
  return r;
}

// ---- Layer ----------------------------------------------------------------------------------

json Layer::base_config() const {
  return json{{"name", name_}, {"trainable", trainable_}, {"dtype", dtype_name(dtype_)}};
}

int Layer::add_weight(ModelState& m, const std::string& name, const Shape& shape,
                      const std::string& initializer, bool trainable,
                      const Regularizer& regularizer) {
  int index = m.add_weight(name_ + "/" + name, shape, initializer, trainable && trainable_);
  weights_.push_back(index);
  if (regularizer.active()) regularized_.emplace_back(index, regularizer);
  return index;
}

int Layer::add_weight_value(ModelState& m, const std::string& name, Tensor value,
                            const Regularizer& regularizer) {
  int index = m.add_weight_value(name_ + "/" + name, std::move(value), trainable_);
  weights_.push_back(index);
  if (regularizer.active()) regularized_.emplace_back(index, regularizer);
  return index;
}

int Layer::weight_node(ModelState& m, int k) const {
  return m.weights.at(static_cast<size_t>(weights_.at(static_cast<size_t>(k)))).node;
}

std::vector<Sym> Layer::call(ModelState& m, const std::vector<Sym>& inputs, CallRecord record) {
  dtype_ = m.dtype;
  struct Restore {
    ModelState& m;
    std::string saved;
    ~Restore() { m.current_layer = saved; }
  } restore{m, m.current_layer};
  m.current_layer = name_;
  auto wrap = [&](const std::exception& e) {
    std::string msg = e.what();
    return msg.rfind(kWrapPrefix, 0) == 0 ? msg : kWrapPrefix + who() + ": " + msg;
  };
  std::vector<Sym> outputs;
  try {
    if (!built_) {
      build(m, inputs);
      built_ = true;
    }
    outputs = forward(m, inputs, record);
  } catch (const IndexError& e) {
    throw IndexError(wrap(e));
  } catch (const TypeError& e) {
    throw TypeError(wrap(e));
  } catch (const ValueError& e) {
    throw ValueError(wrap(e));
  }
  if (passes_mask() && !inputs.empty()) {
    for (Sym& s : outputs)
      if (s.mask < 0) s.mask = inputs[0].mask;
  }
  record.outputs = outputs;
  calls_.push_back(std::move(record));
  return outputs;
}

// ---- ModelState: definition -----------------------------------------------------------------

uint64_t ModelState::next_seed() { return rng_key(seed, draws++); }

std::string ModelState::unique_name(const std::string& prefix, const std::string& requested) {
  if (!requested.empty()) {
    EMBER_CHECK(!layer_names.count(requested), ValueError, "model '", name,
                "': two layers are named '", requested, "'; layer names must be unique");
    layer_names.insert(requested);
    return requested;
  }
  for (;;) {
    int n = name_counts[prefix]++;
    std::string candidate = n == 0 ? prefix : prefix + "_" + std::to_string(n);
    if (layer_names.insert(candidate).second) return candidate;
  }
}

void ModelState::check_definable(const char* what) const {
  EMBER_CHECK(!finalized(), ValueError, "model '", name, "': cannot add ", what,
              " after the model has run (trained, evaluated or predicted); define the whole "
              "model first");
}

Tensor ModelState::weight_value(int i) const {
  if (finalized()) return arena->value(i);
  return weights.at(static_cast<size_t>(i)).initial;
}

int ModelState::add_weight(const std::string& path, const Shape& shape,
                           const std::string& initializer, bool trainable) {
  if (loading) {  // checked against the file before anything is allocated
    const size_t i = weights.size();
    EMBER_CHECK(i < preset_weights.size(), ValueError, loading_from, ": the file holds ",
                preset_weights.size(), " weights, model '", name, "' has more (from '", path,
                "' on)");
    EMBER_CHECK(preset_weights[i].shape() == shape, ValueError, loading_from, ": weight '",
                preset_names[i], "' has shape ", shape_str(preset_weights[i].shape()),
                " in the file, the model's '", path, "' has shape ", shape_str(shape));
    return add_weight_value(path, preset_weights[i], trainable);
  }
  return add_weight_value(path, initialize(initializer, shape, dtype, next_seed(), path),
                          trainable);
}

int ModelState::add_weight_value(const std::string& path, Tensor value, bool trainable) {
  WeightRecord w;
  w.path = path;
  w.shape = value.shape();
  w.trainable = trainable;
  w.initial = std::move(value);
  const Shape shape = w.shape;
  const int index = static_cast<int>(weights.size());
  w.node = graph.param(index, shape, dtype, path);
  weights.push_back(std::move(w));
  return index;
}

std::vector<Sym> ModelState::apply(std::unique_ptr<Layer> layer, const std::vector<Sym>& inputs,
                                   CallRecord record) {
  const int nodes = graph.size();
  const size_t nweights = weights.size();
  try {
    check_definable("layers");
    std::vector<Sym> outs = layer->call(*this, inputs, std::move(record));
    layers.push_back(std::move(layer));
    return outs;
  } catch (...) {
    graph.truncate(nodes);
    weights.resize(nweights);
    layer_names.erase(layer->name());
    throw;
  }
}

std::vector<Sym> ModelState::call_existing(Layer& layer, const std::vector<Sym>& inputs,
                                           CallRecord record) {
  const int nodes = graph.size();
  try {
    check_definable("layer calls");
    return layer.call(*this, inputs, std::move(record));
  } catch (...) {
    graph.truncate(nodes);
    throw;
  }
}

Layer* ModelState::find_layer(const std::string& layer_name) const {
  for (const auto& l : layers)
    if (l->name() == layer_name) return l.get();
  return nullptr;
}

namespace {

class InputLayer : public Layer {
 public:
  InputLayer(std::string name, Shape batch_shape, DType dtype)
      : Layer("InputLayer", std::move(name), true), batch_shape_(std::move(batch_shape)),
        input_dtype_(dtype) {}
  json get_config() const override {
    json shape = json::array();
    for (int64_t d : batch_shape_) shape.push_back(d < 0 ? json(nullptr) : json(d));
    return json{{"batch_shape", shape}, {"dtype", dtype_name(input_dtype_)}, {"sparse", false},
                {"name", name_}};
  }

 protected:
  std::vector<Sym> forward(ModelState& m, const std::vector<Sym>&, const CallRecord&) override {
    return {Sym{m.graph.input(batch_shape_, input_dtype_, name_), -1}};
  }

 private:
  Shape batch_shape_;
  DType input_dtype_;
};

}  // namespace

Sym ModelState::add_input(const Shape& shape, DType input_dtype, const std::string& requested) {
  check_definable("inputs");
  std::string layer_name = unique_name("input_layer", requested);
  for (int64_t d : shape)
    if (d < 0 && d != kUnknown) {
      layer_names.erase(layer_name);
      throw ValueError(detail::concat("InputLayer '", layer_name,
                                      "': expected positive dimensions, received shape ",
                                      shape_str(shape)));
    }
  Shape batch_shape{kUnknown};
  batch_shape.insert(batch_shape.end(), shape.begin(), shape.end());
  auto layer = std::make_unique<InputLayer>(layer_name, batch_shape, input_dtype);
  CallRecord record;  // an input layer has no inbound call
  std::vector<Sym> out = apply(std::move(layer), {}, std::move(record));
  inputs.push_back(out[0]);
  input_layers.push_back(static_cast<int>(layers.size()) - 1);
  return out[0];
}

}  // namespace ember::api
