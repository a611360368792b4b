// BatchNormalization and LayerNormalization (as ember.layers.normalization and
// layer_normalization).
#include <algorithm>

#include "config_reader.h"
#include "layers.h"
#include "py_format.h"

namespace ember::api {

namespace {

void expect_one(const Layer& l, const std::vector<Sym>& in) {
  EMBER_CHECK(in.size() == 1, ValueError, l.who(), ": expected 1 input tensor, received ",
              in.size());
}

// ---- BatchNormalization ---------------------------------------------------------------------

class BatchNormLayer : public Layer {
 public:
  BatchNormLayer(std::string name, BatchNormOptions o)
      : Layer("BatchNormalization", std::move(name), o.trainable), o_(std::move(o)) {
    EMBER_CHECK(o_.momentum >= 0 && o_.momentum <= 1 && o_.epsilon > 0, ValueError, who(),
                ": expected 0 <= momentum <= 1 and epsilon > 0, received momentum=",
                py_float(o_.momentum), ", epsilon=", py_float(o_.epsilon));
  }
  bool passes_mask() const override { return true; }

 protected:
  int64_t axis(const Shape& s) const {
    const int64_t rank = static_cast<int64_t>(s.size());
    const int64_t a = o_.axis < 0 ? o_.axis + rank : o_.axis;
    EMBER_CHECK(a > 0 && a < rank, ValueError, who(), ": `axis` ", o_.axis,
                " is out of range for an input of rank ", rank);
    return a;
  }
  void build(ModelState& m, const std::vector<Sym>& in) override {
    expect_one(*this, in);
    const Shape s = m.meta(in[0].node).shape;
    const int64_t channels = s[static_cast<size_t>(axis(s))];
    EMBER_CHECK(channels >= 0, ValueError, who(), ": the normalized axis must be known, "
                "received shape ", shape_str(s));
    if (o_.scale) add_weight(m, "gamma", {channels}, "ones", true, o_.gamma_regularizer);
    if (o_.center) add_weight(m, "beta", {channels}, "zeros", true, o_.beta_regularizer);
    add_weight(m, "moving_mean", {channels}, "zeros", false);
    add_weight(m, "moving_variance", {channels}, "ones", false);
    channels_ = channels;
  }
  std::vector<Sym> forward(ModelState& m, const std::vector<Sym>& in, const CallRecord&) override {
    expect_one(*this, in);
    if (in[0].mask >= 0) throw Error(who() + ": masks not supported");
    const Shape s = m.meta(in[0].node).shape;
    const int64_t a = axis(s);
    EMBER_CHECK(s[static_cast<size_t>(a)] < 0 || s[static_cast<size_t>(a)] == channels_,
                ValueError, who(), ": expected an input with ", channels_, " channels on axis ",
                a, " (the layer's weights were built for them), received shape ", shape_str(s));
    const int k = (o_.scale ? 1 : 0) + (o_.center ? 1 : 0);  // moving stats come after
    std::vector<int> args{in[0].node, weight_node(m, k), weight_node(m, k + 1)};
    if (o_.scale) args.push_back(weight_node(m, 0));
    if (o_.center) args.push_back(weight_node(m, o_.scale ? 1 : 0));
    // A frozen batch norm runs in inference mode, as Keras's.
    const int64_t training = trainable_ ? -1 : 0;
    return {Sym{m.op("batch_norm", Attrs({{"axis", o_.axis}, {"momentum", o_.momentum},
                                          {"epsilon", o_.epsilon}, {"center", o_.center},
                                          {"scale", o_.scale}, {"training", training}}),
                     args), -1}};
  }
  json get_config() const override {
    json c = base_config();
    c["axis"] = o_.axis;
    c["momentum"] = o_.momentum;
    c["epsilon"] = o_.epsilon;
    c["center"] = o_.center;
    c["scale"] = o_.scale;
    c["beta_initializer"] = "zeros";
    c["gamma_initializer"] = "ones";
    c["moving_mean_initializer"] = "zeros";
    c["moving_variance_initializer"] = "ones";
    c["beta_regularizer"] = regularizer_config(o_.beta_regularizer);
    c["gamma_regularizer"] = regularizer_config(o_.gamma_regularizer);
    c["beta_constraint"] = nullptr;
    c["gamma_constraint"] = nullptr;
    c["renorm"] = false;
    c["renorm_clipping"] = nullptr;
    c["renorm_momentum"] = 0.99;
    c["synchronized"] = false;
    return c;
  }

 private:
  BatchNormOptions o_;
  int64_t channels_ = -1;
};

// ---- LayerNormalization ---------------------------------------------------------------------

class LayerNormLayer : public Layer {
 public:
  LayerNormLayer(std::string name, LayerNormOptions o, bool axis_is_list)
      : Layer("LayerNormalization", std::move(name), o.trainable), o_(std::move(o)),
        axis_is_list_(axis_is_list) {
    EMBER_CHECK(!o_.axis.empty(), ValueError, who(), ": expected at least one axis, received []");
  }
  bool passes_mask() const override { return true; }

 protected:
  std::string axis_str() const {
    return axis_is_list_ ? py_list(o_.axis) : std::to_string(o_.axis[0]);
  }
  std::vector<int64_t> axes(int64_t rank) const {
    std::vector<int64_t> out;
    for (int64_t a : o_.axis) {
      EMBER_CHECK(a >= -rank && a < rank, ValueError, "LayerNormalization '", name_,
                  "': axis ", a, " is out of bounds for an input of rank ", rank,
                  ". Received: axis=", axis_str());
      out.push_back((a % rank + rank) % rank);
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  bool has_gamma() const { return o_.scale || o_.rms_scaling; }
  bool has_beta() const { return o_.center && !o_.rms_scaling; }
  void build(ModelState& m, const std::vector<Sym>& in) override {
    expect_one(*this, in);
    const Shape s = m.meta(in[0].node).shape;
    Shape shape;
    for (int64_t a : axes(static_cast<int64_t>(s.size()))) shape.push_back(s[size_t(a)]);
    for (int64_t d : shape)
      EMBER_CHECK(d >= 0, ValueError, "LayerNormalization '", name_, "': the normalised axes ",
                  py_list(axes(static_cast<int64_t>(s.size()))), " must have known extents, "
                  "received input shape ", shape_str(s));
    if (has_gamma()) add_weight(m, "gamma", shape, "ones", true, o_.gamma_regularizer);
    if (has_beta()) add_weight(m, "beta", shape, "zeros", true, o_.beta_regularizer);
  }
  std::vector<Sym> forward(ModelState& m, const std::vector<Sym>& in, const CallRecord&) override {
    expect_one(*this, in);
    const int x = in[0].node;
    const Shape s = m.meta(x).shape;
    const int64_t rank = static_cast<int64_t>(s.size());
    const std::vector<int64_t> ax = axes(rank);
    int gamma = has_gamma() ? weight_node(m, 0) : -1;
    int beta = has_beta() ? weight_node(m, has_gamma() ? 1 : 0) : -1;
    bool trailing = true;
    for (size_t i = 0; i < ax.size(); ++i) trailing = trailing && ax[i] == ax[0] + int64_t(i);
    trailing = trailing && ax.back() == rank - 1;
    if (trailing) {  // the fused op
      std::vector<int> args{x};
      if (gamma >= 0) args.push_back(gamma);
      if (beta >= 0) args.push_back(beta);
      return {Sym{m.op_cast("layer_norm", Attrs({{"begin_axis", ax[0]}, {"epsilon", o_.epsilon},
                                                 {"rms_scaling", o_.rms_scaling},
                                                 {"has_gamma", gamma >= 0},
                                                 {"has_beta", beta >= 0}}), args), -1}};
    }
    // Other axis sets: the same formula from elementwise ops (as Python's _composite).
    const DType dt = m.meta(x).dtype;
    std::vector<int64_t> broadcast(static_cast<size_t>(rank), 1);
    for (int64_t a : ax) broadcast[size_t(a)] = s[size_t(a)];
    Attrs reduce({{"axis", ax}, {"keepdims", true}});
    int mean = m.op_cast("mean", reduce, {x});
    int centred = m.op_cast("subtract", {}, {x, mean});
    int var = m.op_cast("mean", reduce, {m.op_cast("square", {}, {centred})});
    int eps = m.graph.scalar(o_.epsilon, dt);
    int root = m.op_cast("sqrt", {}, {m.op_cast("add", {}, {var, eps})});
    int inv = m.op_cast("divide", {}, {m.graph.scalar(1.0, dt), root});
    int out = m.op_cast("multiply", {}, {o_.rms_scaling ? x : centred, inv});
    if (gamma >= 0)
      out = m.op_cast("multiply", {}, {out, m.op("reshape", Attrs({{"shape", broadcast}}), {gamma})});
    if (beta >= 0)
      out = m.op_cast("add", {}, {out, m.op("reshape", Attrs({{"shape", broadcast}}), {beta})});
    return {Sym{out, -1}};
  }
  json get_config() const override {
    json c = base_config();
    c["axis"] = axis_is_list_ ? json(o_.axis) : json(o_.axis[0]);
    c["epsilon"] = o_.epsilon;
    c["center"] = o_.center;
    c["scale"] = o_.scale;
    c["rms_scaling"] = o_.rms_scaling;
    c["beta_initializer"] = "zeros";
    c["gamma_initializer"] = "ones";
    c["beta_regularizer"] = regularizer_config(o_.beta_regularizer);
    c["gamma_regularizer"] = regularizer_config(o_.gamma_regularizer);
    c["beta_constraint"] = nullptr;
    c["gamma_constraint"] = nullptr;
    return c;
  }

 private:
  LayerNormOptions o_;
  bool axis_is_list_;
};

std::unique_ptr<Layer> batch_norm_from_config(ModelState& m, const std::string& cls,
                                              const json& c) {
  std::string name = config_layer_name(m, cls, c);
  ConfigReader r(c, cls + " '" + name + "'");
  r.require_null({"beta_constraint", "gamma_constraint"});
  r.require_value("renorm", false);
  r.require_value("synchronized", false);
  BatchNormOptions o;
  o.gamma_regularizer = r.get_regularizer("gamma_regularizer");
  o.beta_regularizer = r.get_regularizer("beta_regularizer");
  o.axis = r.get_int("axis", -1);
  o.momentum = r.get_float("momentum", 0.99);
  o.epsilon = r.get_float("epsilon", 1e-3);
  o.center = r.get_bool("center", true);
  o.scale = r.get_bool("scale", true);
  o.trainable = r.get_bool("trainable", true);
  return construct<BatchNormLayer>(m, name, o);
}

std::unique_ptr<Layer> layer_norm_from_config(ModelState& m, const std::string& cls,
                                              const json& c) {
  std::string name = config_layer_name(m, cls, c);
  ConfigReader r(c, cls + " '" + name + "'");
  r.require_null({"beta_constraint", "gamma_constraint"});
  LayerNormOptions o;
  o.gamma_regularizer = r.get_regularizer("gamma_regularizer");
  o.beta_regularizer = r.get_regularizer("beta_regularizer");
  o.axis = r.get_ints("axis", {-1});
  const bool is_list = r.has("axis") && c.at("axis").is_array();
  o.epsilon = r.get_float("epsilon", 1e-3);
  o.center = r.get_bool("center", true);
  o.scale = r.get_bool("scale", true);
  o.rms_scaling = r.get_bool("rms_scaling", false);
  o.trainable = r.get_bool("trainable", true);
  return construct<LayerNormLayer>(m, name, o, is_list);
}

}  // namespace

std::unique_ptr<Layer> make_batch_norm(ModelState& m, const BatchNormOptions& o) {
  return construct<BatchNormLayer>(m, m.unique_name("batch_normalization", o.name), o);
}

std::unique_ptr<Layer> make_layer_norm(ModelState& m, const LayerNormOptions& o) {
  return construct<LayerNormLayer>(m, m.unique_name("layer_normalization", o.name), o,
                                   o.axis.size() != 1);
}

void register_norm_layers(std::map<std::string, LayerFromConfig>& r) {
  r["BatchNormalization"] = batch_norm_from_config;
  r["LayerNormalization"] = layer_norm_from_config;
}

}  // namespace ember::api
