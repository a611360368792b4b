// Embedding, LSTM, GRU and MultiHeadAttention (as ember.layers.embedding, recurrent and
// attention), with Keras's masks: Embedding(mask_zero) makes one, recurrent layers skip the
// masked steps, attention does not attend to them.
#include <cmath>

#include "config_reader.h"
#include "initializers.h"
#include "layers.h"
#include "py_format.h"

namespace ember::api {

namespace {

// Python's ops.not_equal(x, 0): integers are compared as floats.
int nonzero(ModelState& m, int x) {
  const DType dt = m.meta(x).dtype;
  return m.op_cast("not_equal", {}, {x, m.graph.scalar(0.0, is_floating(dt) ? dt : DType::f32)});
}

int cast_to(ModelState& m, int x, DType dt) {
  return m.op("cast", Attrs({{"dtype", std::string(dtype_name(dt))}}), {x});
}

// ---- Embedding ------------------------------------------------------------------------------

class EmbeddingLayer : public Layer {
 public:
  EmbeddingLayer(std::string name, int64_t input_dim, int64_t output_dim, EmbeddingOptions o)
      : Layer("Embedding", std::move(name), o.trainable), input_dim_(input_dim),
        output_dim_(output_dim), o_(std::move(o)) {
    EMBER_CHECK(input_dim > 0, ValueError, who(), ": expected a positive integer for "
                "`input_dim`, received ", input_dim);
    EMBER_CHECK(output_dim > 0, ValueError, who(), ": expected a positive integer for "
                "`output_dim`, received ", output_dim);
  }

 protected:
  void build(ModelState& m, const std::vector<Sym>&) override {
    add_weight(m, "embeddings", {input_dim_, output_dim_}, o_.embeddings_initializer, true,
               o_.embeddings_regularizer);
  }
  std::vector<Sym> forward(ModelState& m, const std::vector<Sym>& in, const CallRecord&) override {
    EMBER_CHECK(in.size() == 1, ValueError, who(), ": expected 1 input tensor, received ",
                in.size());
    int ids = in[0].node;
    if (is_floating(m.meta(ids).dtype))  // Keras casts float ids; ember insists they be whole
      ids = m.op("cast", Attrs({{"dtype", std::string("int32")}, {"integral_only", true}}),
                 {ids});
    int out = m.op("embedding", {}, {weight_node(m, 0), ids});
    return {Sym{out, o_.mask_zero ? nonzero(m, in[0].node) : -1}};
  }
  json get_config() const override {
    json c = base_config();
    c["input_dim"] = input_dim_;
    c["output_dim"] = output_dim_;
    c["embeddings_initializer"] = o_.embeddings_initializer;
    c["embeddings_regularizer"] = regularizer_config(o_.embeddings_regularizer);
    c["activity_regularizer"] = nullptr;
    c["embeddings_constraint"] = nullptr;
    c["mask_zero"] = o_.mask_zero;
    return c;
  }

 private:
  int64_t input_dim_, output_dim_;
  EmbeddingOptions o_;
};

// ---- LSTM, GRU ------------------------------------------------------------------------------

struct RecurrentSpec {
  std::string activation = "tanh", recurrent_activation = "sigmoid";
  bool return_sequences = false, go_backwards = false, use_bias = true;
  bool zero_output_for_mask = false;
  double dropout = 0, recurrent_dropout = 0;
  bool unit_forget_bias = true;  // LSTM
  bool reset_after = true;       // GRU
  std::string kernel_initializer = "glorot_uniform", recurrent_initializer = "orthogonal",
              bias_initializer = "zeros";
  Regularizer kernel_regularizer, recurrent_regularizer, bias_regularizer;
  bool trainable = true;
};

class RecurrentLayer : public Layer {
 public:
  RecurrentLayer(std::string name, bool lstm, int64_t units, RecurrentSpec o)
      : Layer(lstm ? "LSTM" : "GRU", std::move(name), o.trainable), lstm_(lstm), units_(units),
        o_(std::move(o)) {
    EMBER_CHECK(units > 0, ValueError, who(), ": expected a positive integer for `units`, "
                "received ", units);
    EMBER_CHECK(o_.dropout >= 0 && o_.dropout <= 1, ValueError, who(), ": expected `dropout` "
                "in [0, 1], received ", py_float(o_.dropout));
    EMBER_CHECK(o_.recurrent_dropout >= 0 && o_.recurrent_dropout <= 1, ValueError, who(),
                ": expected `recurrent_dropout` in [0, 1], received ",
                py_float(o_.recurrent_dropout));
    o_.activation = canonical_activation(o_.activation);
    o_.recurrent_activation = canonical_activation(o_.recurrent_activation);
    check_activation(o_.activation, who());
    check_activation(o_.recurrent_activation, who());
  }
  bool passes_mask() const override { return o_.return_sequences; }

 protected:
  int64_t gates() const { return lstm_ ? 4 : 3; }
  void build(ModelState& m, const std::vector<Sym>& in) override {
    EMBER_CHECK(in.size() == 1, ValueError, who(), ": expected 1 input tensor, received ",
                in.size());
    const Shape s = m.meta(in[0].node).shape;
    EMBER_CHECK(s.size() == 3, ValueError, who(), ": expected an input of rank 3 (batch, "
                "timesteps, features), received shape ", shape_str(s));
    EMBER_CHECK(s[2] >= 0, ValueError, who(), ": the last dimension of the input must be "
                "known, received shape ", shape_str(s));
    const int64_t width = gates() * units_;
    add_weight(m, "kernel", {s[2], width}, o_.kernel_initializer, true, o_.kernel_regularizer);
    add_weight(m, "recurrent_kernel", {units_, width}, o_.recurrent_initializer, true,
               o_.recurrent_regularizer);
    if (!o_.use_bias) return;
    if (lstm_ && o_.unit_forget_bias && !m.loading) {  // Keras: the forget gate's bias starts at 1
      Tensor bias({width}, m.dtype);
      Tensor a = initialize(o_.bias_initializer, {units_}, m.dtype, m.next_seed(), who());
      Tensor b = initialize(o_.bias_initializer, {2 * units_}, m.dtype, m.next_seed(), who());
      dispatch_float(m.dtype, "LSTM", [&](auto tag) {
        using T = decltype(tag);
        T* p = bias.data<T>();
        for (int64_t i = 0; i < units_; ++i) {
          p[i] = a.data<T>()[i];
          p[units_ + i] = T(1);
        }
        for (int64_t i = 0; i < 2 * units_; ++i) p[2 * units_ + i] = b.data<T>()[i];
      });
      add_weight_value(m, "bias", std::move(bias), o_.bias_regularizer);
    } else {
      Shape shape = (!lstm_ && o_.reset_after) ? Shape{2, width} : Shape{width};
      add_weight(m, "bias", shape, o_.bias_initializer, true, o_.bias_regularizer);
    }
  }
  std::vector<Sym> forward(ModelState& m, const std::vector<Sym>& in, const CallRecord&) override {
    EMBER_CHECK(in.size() == 1, ValueError, who(), ": expected 1 input tensor, received ",
                in.size());
    int x = in[0].node;
    const Shape s = m.meta(x).shape;
    EMBER_CHECK(s.size() == 3, ValueError, who(), ": expected an input of rank 3 (batch, "
                "timesteps, features), received shape ", shape_str(s));
    if (o_.dropout > 0)
      x = m.op_cast("dropout", Attrs({{"rate", o_.dropout}, {"training", int64_t{-1}},
                                      {"noise_shape", std::vector<int64_t>{0, 1, 0}}}), {x});
    std::vector<int> args{x, weight_node(m, 0), weight_node(m, 1)};
    if (o_.use_bias) args.push_back(weight_node(m, 2));
    int mask = in[0].mask;
    if (mask >= 0) {
      const Shape ms = m.meta(mask).shape;
      const bool ok = ms.size() == 2 && dims_match(ms[0], s[0]) && dims_match(ms[1], s[1]);
      EMBER_CHECK(ok, ValueError, who(), ": expected a mask of shape (batch, timesteps) = ",
                  shape_str({s[0], s[1]}), ", received ", shape_str(ms));
      if (m.meta(mask).dtype != m.meta(x).dtype) mask = cast_to(m, mask, m.meta(x).dtype);
      args.push_back(mask);
    }
    Attrs attrs({{"activation", o_.activation}});
    attrs.set("recurrent_activation", o_.recurrent_activation);
    if (!lstm_) attrs.set("reset_after", o_.reset_after);
    attrs.set("has_bias", o_.use_bias);
    attrs.set("has_initial_state", false);
    attrs.set("has_mask", mask >= 0);
    attrs.set("return_sequences", o_.return_sequences);
    attrs.set("return_state", false);
    attrs.set("go_backwards", o_.go_backwards);
    attrs.set("zero_output_for_mask", o_.zero_output_for_mask);
    attrs.set("recurrent_dropout", o_.recurrent_dropout);
    int packed = m.op_cast(lstm_ ? "lstm" : "gru", attrs, args);
    if (o_.return_sequences) return {Sym{packed, -1}};
    return {Sym{m.op("squeeze", Attrs({{"axis", std::vector<int64_t>{1}}}), {packed}), -1}};
  }
  json get_config() const override {
    json c = base_config();
    c["units"] = units_;
    c["activation"] = o_.activation;
    c["use_bias"] = o_.use_bias;
    c["kernel_initializer"] = o_.kernel_initializer;
    c["recurrent_initializer"] = o_.recurrent_initializer;
    c["bias_initializer"] = o_.bias_initializer;
    c["kernel_regularizer"] = regularizer_config(o_.kernel_regularizer);
    c["recurrent_regularizer"] = regularizer_config(o_.recurrent_regularizer);
    c["bias_regularizer"] = regularizer_config(o_.bias_regularizer);
    for (const char* k : {"activity_regularizer", "kernel_constraint", "recurrent_constraint",
                          "bias_constraint"})
      c[k] = nullptr;
    c["dropout"] = o_.dropout;
    c["recurrent_dropout"] = o_.recurrent_dropout;
    c["seed"] = nullptr;
    c["return_sequences"] = o_.return_sequences;
    c["return_state"] = false;
    c["go_backwards"] = o_.go_backwards;
    c["stateful"] = false;
    c["unroll"] = false;
    c["zero_output_for_mask"] = o_.zero_output_for_mask;
    c["recurrent_activation"] = o_.recurrent_activation;
    if (lstm_) c["unit_forget_bias"] = o_.unit_forget_bias;
    else c["reset_after"] = o_.reset_after;
    return c;
  }

 private:
  bool lstm_;
  int64_t units_;
  RecurrentSpec o_;
};

// ---- MultiHeadAttention ---------------------------------------------------------------------

class AttentionLayer : public Layer {
 public:
  AttentionLayer(std::string name, int64_t num_heads, int64_t key_dim, AttentionOptions o)
      : Layer("MultiHeadAttention", std::move(name), o.trainable), heads_(num_heads),
        key_dim_(key_dim), o_(std::move(o)) {
    EMBER_CHECK(num_heads > 0, ValueError, who(), ": expected a positive integer for "
                "`num_heads`, received ", num_heads);
    EMBER_CHECK(key_dim > 0, ValueError, who(), ": expected a positive integer for `key_dim`, "
                "received ", key_dim);
    EMBER_CHECK(o_.value_dim >= 0 && o_.output_dim >= 0, ValueError, who(), ": expected "
                "positive `value_dim` and `output_shape` (or 0 for the defaults), received ",
                o_.value_dim, " and ", o_.output_dim);
    EMBER_CHECK(o_.dropout >= 0 && o_.dropout <= 1, ValueError, who(), ": expected `dropout` "
                "in [0, 1], received ", py_float(o_.dropout));
    value_dim_ = o_.value_dim > 0 ? o_.value_dim : key_dim;
  }
  bool passes_mask() const override { return true; }  // the query's mask

 protected:
  void projection(ModelState& m, const char* what, int64_t dim, int64_t head_dim) {
    add_weight(m, std::string(what) + "/kernel", {dim, heads_, head_dim}, o_.kernel_initializer,
               true, o_.kernel_regularizer);
    if (o_.use_bias)
      add_weight(m, std::string(what) + "/bias", {heads_, head_dim}, o_.bias_initializer, true,
                 o_.bias_regularizer);
  }
  void build(ModelState& m, const std::vector<Sym>& in) override {
    EMBER_CHECK(in.size() == 2 || in.size() == 3, ValueError, who(), ": expected query and "
                "value (and optionally key), received ", in.size(), " tensors");
    const char* names[] = {"query", "value", "key"};
    for (size_t i = 0; i < in.size(); ++i) {
      const Shape s = m.meta(in[i].node).shape;
      EMBER_CHECK(s.size() == 3 && s[2] >= 0, ValueError, who(), ": expected the ", names[i],
                  " of shape (batch, time, features) with known features, received ",
                  shape_str(s));
    }
    const int64_t q = m.meta(in[0].node).shape[2], v = m.meta(in[1].node).shape[2];
    const int64_t k = in.size() > 2 ? m.meta(in[2].node).shape[2] : v;
    projection(m, "query", q, key_dim_);
    projection(m, "key", k, key_dim_);
    projection(m, "value", v, value_dim_);
    out_dim_ = o_.output_dim > 0 ? o_.output_dim : q;
    add_weight(m, "attention_output/kernel", {heads_, value_dim_, out_dim_},
               o_.kernel_initializer, true, o_.kernel_regularizer);
    if (o_.use_bias)
      add_weight(m, "attention_output/bias", {out_dim_}, o_.bias_initializer, true,
                 o_.bias_regularizer);
    dims_ = {q, k, v};
  }
  // (B, T, dim) -> (B, T, heads, head_dim): one dense with the kernel seen as 2-D.
  int project(ModelState& m, int x, int kernel, int bias, int64_t dim, int64_t head_dim) {
    const int64_t width = heads_ * head_dim;
    std::vector<int> args{x, m.op("reshape", Attrs({{"shape", std::vector<int64_t>{dim, width}}}),
                                  {kernel})};
    if (bias >= 0)
      args.push_back(m.op("reshape", Attrs({{"shape", std::vector<int64_t>{width}}}), {bias}));
    int y = m.op_cast("dense", Attrs({{"activation", std::string("linear")}}), args);
    return m.op("reshape", Attrs({{"shape", std::vector<int64_t>{heads_, head_dim}},
                                  {"keep_leading", int64_t{2}}}), {y});
  }
  // Keras's rule: query mask (B, T, 1) & value mask (B, 1, S) & key mask; -1 when none.
  int attention_mask(ModelState& m, const Sym& q, const Sym& v, const Sym* k) {
    const DType dt = m.meta(q.node).dtype;
    int mask = -1;
    auto both = [&](int a, int b) {
      return a < 0 ? b : m.op_cast("multiply", {}, {nonzero(m, a), nonzero(m, b)});
    };
    if (q.mask >= 0)
      mask = m.op("expand_dims", Attrs({{"axis", int64_t{-1}}}), {cast_to(m, q.mask, dt)});
    for (int km : {v.mask, k ? k->mask : -1})
      if (km >= 0)
        mask = both(mask, m.op("expand_dims", Attrs({{"axis", int64_t{-2}}}), {cast_to(m, km, dt)}));
    return mask;
  }
  std::vector<Sym> forward(ModelState& m, const std::vector<Sym>& in,
                           const CallRecord& record) override {
    EMBER_CHECK(in.size() == 2 || in.size() == 3, ValueError, who(), ": expected query and "
                "value (and optionally key), received ", in.size(), " tensors");
    const Sym& query = in[0];
    const Sym& value = in[1];
    const bool key_is_value = in.size() == 2 || in[2].node == value.node;
    const Sym& key = key_is_value ? value : in[2];
    const Shape qs = m.meta(query.node).shape;
    EMBER_CHECK(qs.size() == 3 && qs[2] == dims_[0], ValueError, who(), ": the query's last "
                "dimension must be ", dims_[0], " (as built), received shape ", shape_str(qs));
    const Shape vs = m.meta(value.node).shape;
    const Shape ks = m.meta(key.node).shape;
    EMBER_CHECK(vs.size() == 3 && ks.size() == 3 && vs[2] == dims_[2] && ks[2] == dims_[1],
                ValueError, who(), ": the value/key last dimensions must be ", dims_[2], "/",
                dims_[1], " (as built), received shapes ", shape_str(vs), " and ",
                shape_str(ks));
    bool causal = false;
    if (record.kwargs.contains("use_causal_mask")) {
      const json& c = record.kwargs.at("use_causal_mask");
      EMBER_CHECK(c.is_boolean(), ValueError, who(), ": use_causal_mask must be true or false, "
                  "received ", short_json(c));
      causal = c.get<bool>();
    }
    int mask = attention_mask(m, query, value, key_is_value ? nullptr : &key);
    const bool b = o_.use_bias;
    int qp = project(m, query.node, weight_node(m, 0), b ? weight_node(m, 1) : -1, dims_[0], key_dim_);
    int kp = project(m, key.node, weight_node(m, b ? 2 : 1), b ? weight_node(m, 3) : -1, dims_[1],
                     key_dim_);
    int vp = project(m, value.node, weight_node(m, b ? 4 : 2), b ? weight_node(m, 5) : -1,
                     dims_[2], value_dim_);
    std::vector<int> args{qp, kp, vp};
    if (mask >= 0) {
      int m4 = m.op("expand_dims", Attrs({{"axis", int64_t{1}}}), {mask});
      while (m.meta(m4).shape.size() < 4)
        m4 = m.op("expand_dims", Attrs({{"axis", int64_t{0}}}), {m4});
      args.push_back(m4);
    }
    const double scale = 1.0 / std::sqrt(static_cast<double>(key_dim_));
    Attrs attrs({{"causal", causal}, {"has_mask", mask >= 0}, {"scale", scale},
                 {"dropout", o_.dropout}, {"training", int64_t{-1}},
                 {"fully_masked", std::string(o_.dropout > 0 ? "zero" : "uniform")}});
    int out = m.op_cast("dot_product_attention", attrs, args);
    const int64_t width = heads_ * value_dim_;
    out = m.op("reshape", Attrs({{"shape", std::vector<int64_t>{width}},
                                 {"keep_leading", int64_t{2}}}), {out});
    std::vector<int> dense{out, m.op("reshape", Attrs({{"shape", std::vector<int64_t>{width, out_dim_}}}),
                                     {weight_node(m, b ? 6 : 3)})};
    if (b) dense.push_back(weight_node(m, 7));
    return {Sym{m.op_cast("dense", Attrs({{"activation", std::string("linear")}}), dense), -1}};
  }
  json get_config() const override {
    json c = base_config();
    c["num_heads"] = heads_;
    c["key_dim"] = key_dim_;
    c["value_dim"] = value_dim_;
    c["dropout"] = o_.dropout;
    c["use_bias"] = o_.use_bias;
    c["output_shape"] = o_.output_dim > 0 ? json(o_.output_dim) : json(nullptr);
    c["attention_axes"] = nullptr;
    c["kernel_initializer"] = o_.kernel_initializer;
    c["bias_initializer"] = o_.bias_initializer;
    c["kernel_regularizer"] = regularizer_config(o_.kernel_regularizer);
    c["bias_regularizer"] = regularizer_config(o_.bias_regularizer);
    for (const char* k : {"activity_regularizer", "kernel_constraint", "bias_constraint", "seed"})
      c[k] = nullptr;
    return c;
  }

 private:
  int64_t heads_, key_dim_, value_dim_ = 0, out_dim_ = 0;
  AttentionOptions o_;
  std::vector<int64_t> dims_;  // query, key, value feature sizes
};

// ---- from config ----------------------------------------------------------------------------

std::unique_ptr<Layer> embedding_from_config(ModelState& m, const std::string& cls,
                                             const json& c) {
  std::string name = config_layer_name(m, cls, c);
  ConfigReader r(c, cls + " '" + name + "'");
  r.require_null({"activity_regularizer", "embeddings_constraint", "lora_rank"});
  EmbeddingOptions o;
  o.embeddings_regularizer = r.get_regularizer("embeddings_regularizer");
  o.mask_zero = r.get_bool("mask_zero", false);
  o.embeddings_initializer = "zeros";
  o.trainable = r.get_bool("trainable", true);
  return construct<EmbeddingLayer>(m, name, r.get_int("input_dim", 0),
                                   r.get_int("output_dim", 0), o);
}

std::unique_ptr<Layer> recurrent_from_config(ModelState& m, const std::string& cls,
                                             const json& c) {
  std::string name = config_layer_name(m, cls, c);
  ConfigReader r(c, cls + " '" + name + "'");
  r.require_null({"activity_regularizer", "kernel_constraint", "recurrent_constraint",
                  "bias_constraint"});
  r.require_value("return_state", false);
  r.require_value("stateful", false);
  RecurrentSpec o;
  o.kernel_regularizer = r.get_regularizer("kernel_regularizer");
  o.recurrent_regularizer = r.get_regularizer("recurrent_regularizer");
  o.bias_regularizer = r.get_regularizer("bias_regularizer");
  o.activation = r.get_activation("activation", "tanh");
  o.recurrent_activation = r.get_activation("recurrent_activation", "sigmoid");
  o.return_sequences = r.get_bool("return_sequences", false);
  o.go_backwards = r.get_bool("go_backwards", false);
  o.use_bias = r.get_bool("use_bias", true);
  o.zero_output_for_mask = r.get_bool("zero_output_for_mask", false);
  o.dropout = r.get_float("dropout", 0.0);
  o.recurrent_dropout = r.get_float("recurrent_dropout", 0.0);
  o.unit_forget_bias = r.get_bool("unit_forget_bias", true);
  o.reset_after = r.get_bool("reset_after", true);
  o.kernel_initializer = o.recurrent_initializer = o.bias_initializer = "zeros";
  o.trainable = r.get_bool("trainable", true);
  return construct<RecurrentLayer>(m, name, cls == "LSTM", r.get_int("units", 0), o);
}

std::unique_ptr<Layer> attention_from_config(ModelState& m, const std::string& cls,
                                             const json& c) {
  std::string name = config_layer_name(m, cls, c);
  ConfigReader r(c, cls + " '" + name + "'");
  r.require_null({"activity_regularizer", "kernel_constraint", "bias_constraint"});
  std::vector<int64_t> axes = r.get_ints("attention_axes", {});
  EMBER_CHECK(axes.empty() || (axes.size() == 1 && (axes[0] == 1 || axes[0] == -2)), ValueError,
              r.who(), ": only attention over the sequence axis of rank-3 inputs is supported, "
              "received attention_axes=", short_json(c.at("attention_axes")));
  AttentionOptions o;
  o.value_dim = r.get_int("value_dim", 0);
  std::vector<int64_t> out = r.get_ints("output_shape", {});
  EMBER_CHECK(out.size() <= 1, ValueError, r.who(), ": only a 1-D `output_shape` is supported, "
              "received ", short_json(c.at("output_shape")));
  o.output_dim = out.empty() ? 0 : out[0];
  o.dropout = r.get_float("dropout", 0.0);
  o.use_bias = r.get_bool("use_bias", true);
  o.kernel_initializer = o.bias_initializer = "zeros";
  o.kernel_regularizer = r.get_regularizer("kernel_regularizer");
  o.bias_regularizer = r.get_regularizer("bias_regularizer");
  o.trainable = r.get_bool("trainable", true);
  EMBER_CHECK(r.has("key_dim"), ValueError, r.who(), ": `key_dim` must be given (the size of "
              "each attention head for query and key)");
  return construct<AttentionLayer>(m, name, r.get_int("num_heads", 0), r.get_int("key_dim", 0),
                                   o);
}

RecurrentSpec spec_of(const LSTMOptions& o) {
  RecurrentSpec s;
  s.activation = o.activation;
  s.recurrent_activation = o.recurrent_activation;
  s.return_sequences = o.return_sequences;
  s.go_backwards = o.go_backwards;
  s.use_bias = o.use_bias;
  s.dropout = o.dropout;
  s.recurrent_dropout = o.recurrent_dropout;
  s.unit_forget_bias = o.unit_forget_bias;
  s.kernel_initializer = o.kernel_initializer;
  s.recurrent_initializer = o.recurrent_initializer;
  s.bias_initializer = o.bias_initializer;
  s.kernel_regularizer = o.kernel_regularizer;
  s.recurrent_regularizer = o.recurrent_regularizer;
  s.bias_regularizer = o.bias_regularizer;
  s.trainable = o.trainable;
  return s;
}

RecurrentSpec spec_of(const GRUOptions& o) {
  RecurrentSpec s;
  s.activation = o.activation;
  s.recurrent_activation = o.recurrent_activation;
  s.return_sequences = o.return_sequences;
  s.go_backwards = o.go_backwards;
  s.use_bias = o.use_bias;
  s.dropout = o.dropout;
  s.recurrent_dropout = o.recurrent_dropout;
  s.reset_after = o.reset_after;
  s.kernel_initializer = o.kernel_initializer;
  s.recurrent_initializer = o.recurrent_initializer;
  s.bias_initializer = o.bias_initializer;
  s.kernel_regularizer = o.kernel_regularizer;
  s.recurrent_regularizer = o.recurrent_regularizer;
  s.bias_regularizer = o.bias_regularizer;
  s.trainable = o.trainable;
  return s;
}

}  // namespace

std::unique_ptr<Layer> make_embedding(ModelState& m, int64_t input_dim, int64_t output_dim,
                                      const EmbeddingOptions& o) {
  return construct<EmbeddingLayer>(m, m.unique_name("embedding", o.name), input_dim, output_dim,
                                   o);
}

std::unique_ptr<Layer> make_lstm(ModelState& m, int64_t units, const LSTMOptions& o) {
  return construct<RecurrentLayer>(m, m.unique_name("lstm", o.name), true, units, spec_of(o));
}

std::unique_ptr<Layer> make_gru(ModelState& m, int64_t units, const GRUOptions& o) {
  return construct<RecurrentLayer>(m, m.unique_name("gru", o.name), false, units, spec_of(o));
}

std::unique_ptr<Layer> make_attention(ModelState& m, int64_t num_heads, int64_t key_dim,
                                      const AttentionOptions& o) {
  return construct<AttentionLayer>(m, m.unique_name("multi_head_attention", o.name), num_heads,
                                   key_dim, o);
}

void register_sequence_layers(std::map<std::string, LayerFromConfig>& r) {
  r["Embedding"] = embedding_from_config;
  r["LSTM"] = recurrent_from_config;
  r["GRU"] = recurrent_from_config;
  r["MultiHeadAttention"] = attention_from_config;
}

}  // namespace ember::api
