// Dense, Activation, Dropout, Flatten, Reshape, Add, Concatenate (as ember.layers.dense,
// activation, dropout, reshaping and merging).
#include <algorithm>
#include <set>

#include "config_reader.h"
#include "layers.h"
#include "py_format.h"

namespace ember::api {

// ---- Python's apply_op(cast=True) -------------------------------------------------------------

int ModelState::op_cast(const std::string& op_name, Attrs attrs, std::vector<int> inputs) {
  bool any_f64 = false, any_float = false;
  for (int id : inputs) {
    DType t = meta(id).dtype;
    any_float = any_float || is_floating(t);
    any_f64 = any_f64 || t == DType::f64;
  }
  const DType target = any_f64 ? DType::f64 : DType::f32;
  for (int& id : inputs) {
    DType t = meta(id).dtype;
    if (t == target) continue;
    EMBER_CHECK(!is_floating(t), TypeError, "op '", op_name, "': a ", dtype_name(t),
                " input meets a ", dtype_name(target), " computation; cast the input to ",
                dtype_name(target), " first");
    id = op("cast", Attrs({{"dtype", std::string(dtype_name(target))}}), {id});
  }
  (void)any_float;
  return op(op_name, std::move(attrs), std::move(inputs));
}

namespace {

const std::vector<std::string> kUnsupported = {"activity_regularizer", "kernel_constraint",
                                               "bias_constraint", "lora_rank"};

void expect_inputs(const Layer& l, const std::vector<Sym>& in, size_t n) {
  EMBER_CHECK(in.size() == n, ValueError, l.who(), ": expected ", n, " input tensor",
              n == 1 ? "" : "s", ", received ", in.size());
}

json null_keys(json c, const std::vector<std::string>& keys) {
  for (const auto& k : keys) c[k] = nullptr;
  return c;
}

// ---- Dense ----------------------------------------------------------------------------------

class DenseLayer : public Layer {
 public:
  DenseLayer(std::string name, int64_t units, DenseOptions o)
      : Layer("Dense", std::move(name), o.trainable), units_(units), o_(std::move(o)) {
    EMBER_CHECK(units > 0, ValueError, who(), ": expected a positive integer for `units`, "
                "received ", units);
    o_.activation = canonical_activation(o_.activation);
    check_activation(o_.activation, who());
  }
  bool passes_mask() const override { return true; }

 protected:
  void build(ModelState& m, const std::vector<Sym>& in) override {
    expect_inputs(*this, in, 1);
    const Shape s = m.meta(in[0].node).shape;
    EMBER_CHECK(!s.empty() && s.back() >= 0, ValueError, who(), ": the last dimension of the "
                "input must be known, received shape ", shape_str(s));
    add_weight(m, "kernel", {s.back(), units_}, o_.kernel_initializer, true,
               o_.kernel_regularizer);
    if (o_.use_bias) add_weight(m, "bias", {units_}, o_.bias_initializer, true, o_.bias_regularizer);
  }
  std::vector<Sym> forward(ModelState& m, const std::vector<Sym>& in, const CallRecord&) override {
    expect_inputs(*this, in, 1);
    const std::string fused = is_fused_activation(o_.activation) ? o_.activation : "linear";
    std::vector<int> args{in[0].node, weight_node(m, 0)};
    if (o_.use_bias) args.push_back(weight_node(m, 1));
    int y = m.op_cast("dense", Attrs({{"activation", fused}}), args);
    if (fused != o_.activation) y = apply_activation(m, y, o_.activation);
    return {Sym{y, -1}};
  }
  json get_config() const override {
    json c = base_config();
    c["units"] = units_;
    c["activation"] = o_.activation;
    c["use_bias"] = o_.use_bias;
    c["kernel_initializer"] = o_.kernel_initializer;
    c["bias_initializer"] = o_.bias_initializer;
    c["kernel_regularizer"] = regularizer_config(o_.kernel_regularizer);
    c["bias_regularizer"] = regularizer_config(o_.bias_regularizer);
    return null_keys(c, {"activity_regularizer", "kernel_constraint", "bias_constraint"});
  }

 private:
  int64_t units_;
  DenseOptions o_;
};

// ---- Activation -----------------------------------------------------------------------------

class ActivationLayer : public Layer {
 public:
  ActivationLayer(std::string name, const std::string& activation)
      : Layer("Activation", std::move(name), true), activation_(canonical_activation(activation)) {
    check_activation(activation_, who());
  }
  bool passes_mask() const override { return true; }

 protected:
  std::vector<Sym> forward(ModelState& m, const std::vector<Sym>& in, const CallRecord&) override {
    expect_inputs(*this, in, 1);
    return {Sym{apply_activation(m, in[0].node, activation_), -1}};
  }
  json get_config() const override {
    json c = base_config();
    c["activation"] = activation_;
    return c;
  }

 private:
  std::string activation_;
};

// ---- Dropout --------------------------------------------------------------------------------

class DropoutLayer : public Layer {
 public:
  DropoutLayer(std::string name, double rate, DropoutOptions o)
      : Layer("Dropout", std::move(name), true), rate_(rate), o_(std::move(o)) {
    EMBER_CHECK(rate >= 0 && rate <= 1, ValueError, who(), ": expected `rate` in [0, 1], "
                "received ", py_float(rate));
    for (int64_t d : o_.noise_shape)
      EMBER_CHECK(d >= 0, ValueError, who(), ": `noise_shape` entries must be positive ints or "
                  "None, received ", py_tuple(o_.noise_shape));
  }
  bool passes_mask() const override { return true; }

 protected:
  std::vector<Sym> forward(ModelState& m, const std::vector<Sym>& in, const CallRecord&) override {
    expect_inputs(*this, in, 1);
    if (rate_ == 0) return {in[0]};
    Attrs attrs({{"rate", rate_}, {"training", int64_t{-1}}});
    if (!o_.noise_shape.empty()) {
      const Shape s = m.meta(in[0].node).shape;
      EMBER_CHECK(o_.noise_shape.size() == s.size(), ValueError, who(), ": `noise_shape` ",
                  py_tuple(o_.noise_shape), " must have one entry per input axis, received an "
                  "input of shape ", shape_str(s));
      attrs.set("noise_shape", o_.noise_shape);
    }
    return {Sym{m.op_cast("dropout", attrs, {in[0].node}), -1}};
  }
  json get_config() const override {
    json c = base_config();
    c["rate"] = rate_;
    c["seed"] = nullptr;
    if (o_.noise_shape.empty()) {
      c["noise_shape"] = nullptr;
    } else {
      json ns = json::array();
      for (int64_t d : o_.noise_shape) ns.push_back(d == 0 ? json(nullptr) : json(d));
      c["noise_shape"] = ns;
    }
    return c;
  }

 private:
  double rate_;
  DropoutOptions o_;
};

// ---- Flatten, Reshape -----------------------------------------------------------------------

class FlattenLayer : public Layer {
 public:
  FlattenLayer(std::string name, bool channels_first)
      : Layer("Flatten", std::move(name), true), channels_first_(channels_first) {}

 protected:
  std::vector<Sym> forward(ModelState& m, const std::vector<Sym>& in, const CallRecord&) override {
    expect_inputs(*this, in, 1);
    int x = in[0].node;
    const int rank = static_cast<int>(m.meta(x).shape.size());
    if (channels_first_ && rank > 2) {
      std::vector<int64_t> perm{0};
      for (int a = 2; a < rank; ++a) perm.push_back(a);
      perm.push_back(1);
      x = m.op("transpose", Attrs({{"perm", perm}}), {x});
    }
    return {Sym{m.op("reshape", Attrs({{"shape", std::vector<int64_t>{-1}},
                                       {"keep_leading", int64_t{1}}}), {x}), -1}};
  }
  json get_config() const override {
    json c = base_config();
    c["data_format"] = channels_first_ ? "channels_first" : "channels_last";
    return c;
  }

 private:
  bool channels_first_;
};

class ReshapeLayer : public Layer {
 public:
  ReshapeLayer(std::string name, Shape target)
      : Layer("Reshape", std::move(name), true), target_(std::move(target)) {
    int wildcards = 0;
    bool ok = true;
    double volume = 1;  // bounded, so that shape arithmetic cannot overflow
    for (int64_t d : target_) {
      wildcards += d == -1;
      ok = ok && (d > 0 || d == -1);
      volume *= d > 0 ? double(d) : 1.0;
    }
    ok = ok && volume < 1e12;
    EMBER_CHECK(ok && wildcards <= 1, ValueError, who(), ": expected positive dimensions with "
                "at most one -1, received target_shape ", py_tuple(target_));
  }

 protected:
  std::vector<Sym> forward(ModelState& m, const std::vector<Sym>& in, const CallRecord&) override {
    expect_inputs(*this, in, 1);
    return {Sym{m.op("reshape", Attrs({{"shape", target_}, {"keep_leading", int64_t{1}}}),
                     {in[0].node}), -1}};
  }
  json get_config() const override {
    json c = base_config();
    c["target_shape"] = target_;
    return c;
  }

 private:
  Shape target_;
};

// ---- merges ---------------------------------------------------------------------------------

std::string shapes_str(const std::vector<Shape>& shapes) {
  std::string s = "[";
  for (size_t i = 0; i < shapes.size(); ++i) s += (i ? ", " : "") + shape_str(shapes[i]);
  return s + "]";
}

std::vector<Shape> input_shapes(ModelState& m, const std::vector<Sym>& in) {
  std::vector<Shape> out;
  for (const Sym& s : in) out.push_back(m.meta(s.node).shape);
  return out;
}

// Keras's elementwise broadcast of the shapes without their batch axis.
Shape elementwise_shape(Shape a, Shape b) {
  if (a.size() < b.size()) std::swap(a, b);
  if (b.empty()) return a;
  Shape out(a.begin(), a.end() - static_cast<std::ptrdiff_t>(b.size()));
  for (size_t k = 0; k < b.size(); ++k) {
    int64_t i = a[a.size() - b.size() + k], j = b[k];
    if (i < 0 || j < 0) out.push_back(kUnknown);
    else if (i == 1) out.push_back(j);
    else if (j == 1 || i == j) out.push_back(i);
    else
      throw ValueError(detail::concat("Inputs have incompatible shapes. Received shapes ",
                                      shape_str(a), " and ", shape_str(b)));
  }
  return out;
}

class AddLayer : public Layer {
 public:
  explicit AddLayer(std::string name) : Layer("Add", std::move(name), true) {}

 protected:
  void build(ModelState& m, const std::vector<Sym>& in) override {
    EMBER_CHECK(!in.empty(), ValueError, "A merge layer should be called on a list of inputs. "
                "Received: input_shape=[] (not a list of shapes)");
    std::vector<Shape> shapes = input_shapes(m, in);
    std::set<int64_t> batches;
    for (const Shape& s : shapes)
      if (!s.empty() && s[0] >= 0) batches.insert(s[0]);
    EMBER_CHECK(batches.size() <= 1, ValueError, "Cannot merge tensors with different batch "
                "sizes. Received tensors with shapes ", shapes_str(shapes));
    Shape merged(shapes[0].begin() + (shapes[0].empty() ? 0 : 1), shapes[0].end());
    for (size_t i = 1; i < shapes.size(); ++i)
      merged = elementwise_shape(merged, Shape(shapes[i].begin() + (shapes[i].empty() ? 0 : 1),
                                               shapes[i].end()));
  }
  std::vector<Sym> forward(ModelState& m, const std::vector<Sym>& in, const CallRecord&) override {
    size_t top = 0;
    for (const Sym& s : in) top = std::max(top, m.meta(s.node).shape.size());
    std::vector<int> xs;
    for (const Sym& s : in) {  // Keras: lower-rank inputs get axes at 1 until ranks agree
      int x = s.node;
      for (size_t r = m.meta(x).shape.size(); r < top; ++r)
        x = m.op("expand_dims", Attrs({{"axis", int64_t{1}}}), {x});
      xs.push_back(x);
    }
    int out = xs[0];
    for (size_t i = 1; i < xs.size(); ++i) out = m.op_cast("add", {}, {out, xs[i]});
    return {Sym{out, -1}};
  }
  json get_config() const override { return base_config(); }
};

class ConcatenateLayer : public Layer {
 public:
  ConcatenateLayer(std::string name, int64_t axis)
      : Layer("Concatenate", std::move(name), true), axis_(axis) {}

 protected:
  void build(ModelState& m, const std::vector<Sym>& in) override {
    EMBER_CHECK(!in.empty(), ValueError, "A merge layer should be called on a list of inputs. "
                "Received: input_shape=[] (not a list of shapes)");
    std::vector<Shape> shapes = input_shapes(m, in);
    const std::string error = "A `Concatenate` layer requires inputs with matching shapes "
                              "except for the concatenation axis. Received: input_shape=" +
                              shapes_str(shapes);
    const int64_t rank = static_cast<int64_t>(shapes[0].size());
    for (const Shape& s : shapes)
      EMBER_CHECK(static_cast<int64_t>(s.size()) == rank, ValueError, error);
    EMBER_CHECK(axis_ >= -rank && axis_ < rank, ValueError, "A `Concatenate` layer got axis=",
                axis_, ", out of range for inputs of rank ", rank, ". Received: input_shape=",
                shapes_str(shapes));
    const int64_t axis = (axis_ + rank) % rank;
    for (int64_t d = 0; d < rank; ++d) {
      if (d == axis) continue;
      std::set<int64_t> extents;
      for (const Shape& s : shapes)
        if (s[d] >= 0) extents.insert(s[d]);
      EMBER_CHECK(extents.size() <= 1, ValueError, error);
    }
  }
  std::vector<Sym> forward(ModelState& m, const std::vector<Sym>& in, const CallRecord&) override {
    std::vector<int> xs;
    for (const Sym& s : in) xs.push_back(s.node);
    return {Sym{m.op_cast("concatenate", Attrs({{"axis", axis_}}), xs), -1}};
  }
  json get_config() const override {
    json c = base_config();
    c["axis"] = axis_;
    return c;
  }

 private:
  int64_t axis_;
};

// ---- from config ----------------------------------------------------------------------------

std::unique_ptr<Layer> dense_from_config(ModelState& m, const std::string& cls, const json& c) {
  std::string name = config_layer_name(m, cls, c);
  ConfigReader r(c, cls + " '" + name + "'");
  r.require_null(kUnsupported);
  DenseOptions o;
  o.kernel_regularizer = r.get_regularizer("kernel_regularizer");
  o.bias_regularizer = r.get_regularizer("bias_regularizer");
  o.activation = r.get_activation("activation", "linear");
  o.use_bias = r.get_bool("use_bias", true);
  o.kernel_initializer = o.bias_initializer = "zeros";  // the file's values replace them
  o.trainable = r.get_bool("trainable", true);
  return construct<DenseLayer>(m, name, r.get_int("units", 0), o);
}

std::unique_ptr<Layer> activation_from_config(ModelState& m, const std::string& cls,
                                              const json& c) {
  std::string name = config_layer_name(m, cls, c);
  ConfigReader r(c, cls + " '" + name + "'");
  return construct<ActivationLayer>(m, name, r.get_activation("activation", "linear"));
}

std::unique_ptr<Layer> dropout_from_config(ModelState& m, const std::string& cls, const json& c) {
  std::string name = config_layer_name(m, cls, c);
  ConfigReader r(c, cls + " '" + name + "'");
  DropoutOptions o;
  if (r.has("noise_shape")) {
    EMBER_CHECK(c.at("noise_shape").is_array(), ValueError, r.who(), ": config key "
                "'noise_shape' must be a list, received ", short_json(c.at("noise_shape")));
    for (const json& d : c.at("noise_shape")) {
      EMBER_CHECK(d.is_null() || d.is_number_integer(), ValueError, r.who(), ": `noise_shape` "
                  "entries must be positive ints or None, received ", short_json(d));
      o.noise_shape.push_back(d.is_null() ? 0 : d.get<int64_t>());
    }
  }
  return construct<DropoutLayer>(m, name, r.get_float("rate", 0.0), o);
}

std::unique_ptr<Layer> flatten_from_config(ModelState& m, const std::string& cls, const json& c) {
  std::string name = config_layer_name(m, cls, c);
  ConfigReader r(c, cls + " '" + name + "'");
  std::string fmt = r.get_str("data_format", "channels_last");
  EMBER_CHECK(fmt == "channels_last" || fmt == "channels_first", ValueError, r.who(),
              ": expected data_format 'channels_last' or 'channels_first', received '", fmt, "'");
  return std::make_unique<FlattenLayer>(name, fmt == "channels_first");
}

std::unique_ptr<Layer> reshape_from_config(ModelState& m, const std::string& cls, const json& c) {
  std::string name = config_layer_name(m, cls, c);
  ConfigReader r(c, cls + " '" + name + "'");
  return construct<ReshapeLayer>(m, name, r.get_ints("target_shape", {}));
}

std::unique_ptr<Layer> add_from_config(ModelState& m, const std::string& cls, const json& c) {
  return std::make_unique<AddLayer>(config_layer_name(m, cls, c));
}

std::unique_ptr<Layer> concatenate_from_config(ModelState& m, const std::string& cls,
                                               const json& c) {
  std::string name = config_layer_name(m, cls, c);
  ConfigReader r(c, cls + " '" + name + "'");
  return std::make_unique<ConcatenateLayer>(name, r.get_int("axis", -1));
}

}  // namespace

// ---- factories ------------------------------------------------------------------------------

std::unique_ptr<Layer> make_dense(ModelState& m, int64_t units, const DenseOptions& o) {
  return construct<DenseLayer>(m, m.unique_name("dense", o.name), units, o);
}
std::unique_ptr<Layer> make_activation(ModelState& m, const std::string& activation,
                                       const std::string& name) {
  return construct<ActivationLayer>(m, m.unique_name("activation", name), activation);
}
std::unique_ptr<Layer> make_dropout(ModelState& m, double rate, const DropoutOptions& o) {
  return construct<DropoutLayer>(m, m.unique_name("dropout", o.name), rate, o);
}
std::unique_ptr<Layer> make_flatten(ModelState& m, const std::string& name) {
  return std::make_unique<FlattenLayer>(m.unique_name("flatten", name), false);
}
std::unique_ptr<Layer> make_reshape(ModelState& m, const Shape& target, const std::string& name) {
  return construct<ReshapeLayer>(m, m.unique_name("reshape", name), target);
}
std::unique_ptr<Layer> make_add(ModelState& m, const std::string& name) {
  return std::make_unique<AddLayer>(m.unique_name("add", name));
}
std::unique_ptr<Layer> make_concatenate(ModelState& m, int64_t axis, const std::string& name) {
  return std::make_unique<ConcatenateLayer>(m.unique_name("concatenate", name), axis);
}

void register_core_layers(std::map<std::string, LayerFromConfig>& r) {
  r["Dense"] = dense_from_config;
  r["Activation"] = activation_from_config;
  r["Dropout"] = dropout_from_config;
  r["Flatten"] = flatten_from_config;
  r["Reshape"] = reshape_from_config;
  r["Add"] = add_from_config;
  r["Concatenate"] = concatenate_from_config;
}

}  // namespace ember::api
