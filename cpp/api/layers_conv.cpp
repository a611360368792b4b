// Conv1D/2D/3D, Max/AveragePooling1D/2D/3D and the global poolings (as ember.layers.
// convolutional, pooling and conv_utils). channels_last only.
#include <algorithm>
#include <cctype>

#include "config_reader.h"
#include "layers.h"
#include "py_format.h"

namespace ember::api {

namespace {

std::string conv_class(int rank) { return "Conv" + std::to_string(rank) + "D"; }

// Keras's standardize_tuple: one int for every axis, or exactly `n` ints, all positive.
std::vector<int64_t> normalize_tuple(std::vector<int64_t> v, int n, const char* arg,
                                     const std::string& who) {
  if (v.size() == 1 && n > 1) v.assign(static_cast<size_t>(n), v[0]);
  EMBER_CHECK(static_cast<int>(v.size()) == n, ValueError, who, ": `", arg, "` must have ", n,
              " values, received ", py_tuple(v));
  for (int64_t d : v)
    EMBER_CHECK(d > 0, ValueError, who, ": `", arg, "` values must be > 0, received ",
                py_tuple(v));
  return v;
}

std::string normalize_padding(const std::string& padding, bool allow_causal,
                              const std::string& who) {
  std::string p;
  for (char ch : padding) p += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  const bool ok = p == "valid" || p == "same" || (allow_causal && p == "causal");
  EMBER_CHECK(ok, ValueError, who, ": `padding` must be one of ",
              allow_causal ? "('valid', 'same', 'causal')" : "('valid', 'same')",
              ", received '", padding, "'");
  return p;
}

void check_data_format(const ConfigReader& r) {
  std::string fmt = r.get_str("data_format", "channels_last");
  EMBER_CHECK(fmt == "channels_last", ValueError, r.who(), ": data_format '", fmt,
              "' is not supported by ember's C++ API; only 'channels_last' models can be loaded "
              "(rebuild the model with channels_last in Python)");
}

void check_rank(const Layer& l, const Shape& s, int rank) {
  EMBER_CHECK(static_cast<int>(s.size()) == rank + 2, ValueError, l.who(),
              ": expected an input of rank ", rank + 2, " (batch, ", rank,
              " spatial dims, channels), received shape ", shape_str(s));
}

void expect_one(const Layer& l, const std::vector<Sym>& in) {
  EMBER_CHECK(in.size() == 1, ValueError, l.who(), ": expected 1 input tensor, received ",
              in.size());
}

// ---- Conv -----------------------------------------------------------------------------------

class ConvLayer : public Layer {
 public:
  ConvLayer(std::string name, int rank, int64_t filters, std::vector<int64_t> kernel_size,
            ConvOptions o)
      : Layer(conv_class(rank), std::move(name), o.trainable), rank_(rank), filters_(filters),
        o_(std::move(o)) {
    EMBER_CHECK(filters > 0, ValueError, who(), ": `filters` must be a positive integer, "
                "received ", filters);
    EMBER_CHECK(o_.groups > 0 && filters % o_.groups == 0, ValueError, who(), ": `groups` must "
                "be a positive integer dividing filters=", filters, ", received ", o_.groups);
    kernel_ = normalize_tuple(std::move(kernel_size), rank, "kernel_size", who());
    strides_ = normalize_tuple(o_.strides.empty() ? std::vector<int64_t>{1} : o_.strides, rank,
                               "strides", who());
    dilation_ = normalize_tuple(o_.dilation_rate.empty() ? std::vector<int64_t>{1}
                                                         : o_.dilation_rate,
                                rank, "dilation_rate", who());
    padding_ = normalize_padding(o_.padding, rank == 1, who());
    int64_t max_stride = 1, max_dilation = 1;
    for (int64_t s : strides_) max_stride = std::max(max_stride, s);
    for (int64_t d : dilation_) max_dilation = std::max(max_dilation, d);
    EMBER_CHECK(max_stride == 1 || max_dilation == 1, ValueError, who(), ": strides > 1 "
                "together with dilation_rate > 1 is not supported, received strides=",
                py_tuple(strides_), " and dilation_rate=", py_tuple(dilation_));
    o_.activation = canonical_activation(o_.activation);
    check_activation(o_.activation, who());
  }

 protected:
  void build(ModelState& m, const std::vector<Sym>& in) override {
    expect_one(*this, in);
    const Shape s = m.meta(in[0].node).shape;
    check_rank(*this, s, rank_);
    EMBER_CHECK(s.back() >= 0, ValueError, who(), ": the channel dimension of the input must "
                "be known, received shape ", shape_str(s));
    EMBER_CHECK(s.back() % o_.groups == 0, ValueError, who(), ": groups=", o_.groups,
                " must divide the input channels, received ", s.back(), " channels");
    Shape kshape = kernel_;
    kshape.push_back(s.back() / o_.groups);
    kshape.push_back(filters_);
    add_weight(m, "kernel", kshape, o_.kernel_initializer, true, o_.kernel_regularizer);
    if (o_.use_bias) add_weight(m, "bias", {filters_}, o_.bias_initializer, true, o_.bias_regularizer);
    in_channels_ = s.back();
  }
  std::vector<Sym> forward(ModelState& m, const std::vector<Sym>& in, const CallRecord&) override {
    expect_one(*this, in);
    const Shape s = m.meta(in[0].node).shape;
    check_rank(*this, s, rank_);
    EMBER_CHECK(s.back() < 0 || s.back() == in_channels_, ValueError, who(), ": expected an "
                "input with ", in_channels_, " channels on axis -1 (the layer's weights were "
                "built for them), received shape ", shape_str(s));
    const std::string fused = is_fused_activation(o_.activation) ? o_.activation : "linear";
    std::vector<int> args{in[0].node, weight_node(m, 0)};
    if (o_.use_bias) args.push_back(weight_node(m, 1));
    int y = m.op("conv", Attrs({{"strides", strides_}, {"padding", padding_},
                                {"dilation", dilation_}, {"groups", o_.groups},
                                {"activation", fused}}), args);
    if (fused != o_.activation) y = apply_activation(m, y, o_.activation);
    return {Sym{y, -1}};
  }
  json get_config() const override {
    json c = base_config();
    c["filters"] = filters_;
    c["kernel_size"] = kernel_;
    c["strides"] = strides_;
    c["padding"] = padding_;
    c["data_format"] = "channels_last";
    c["dilation_rate"] = dilation_;
    c["groups"] = o_.groups;
    c["activation"] = o_.activation;
    c["use_bias"] = o_.use_bias;
    c["kernel_initializer"] = o_.kernel_initializer;
    c["bias_initializer"] = o_.bias_initializer;
    c["kernel_regularizer"] = regularizer_config(o_.kernel_regularizer);
    c["bias_regularizer"] = regularizer_config(o_.bias_regularizer);
    for (const char* k : {"activity_regularizer", "kernel_constraint", "bias_constraint"})
      c[k] = nullptr;
    return c;
  }

 private:
  int rank_;
  int64_t filters_;
  ConvOptions o_;
  std::vector<int64_t> kernel_, strides_, dilation_;
  std::string padding_;
  int64_t in_channels_ = -1;
};

// ---- Pooling --------------------------------------------------------------------------------

std::string pool_class(int rank, bool max) {
  return std::string(max ? "MaxPooling" : "AveragePooling") + std::to_string(rank) + "D";
}

class PoolLayer : public Layer {
 public:
  PoolLayer(std::string name, int rank, bool max, std::vector<int64_t> pool_size, PoolOptions o)
      : Layer(pool_class(rank, max), std::move(name), true), rank_(rank), max_(max) {
    pool_ = normalize_tuple(std::move(pool_size), rank, "pool_size", who());
    strides_ = o.strides.empty() ? pool_ : normalize_tuple(o.strides, rank, "strides", who());
    padding_ = normalize_padding(o.padding, false, who());
  }

 protected:
  void build(ModelState& m, const std::vector<Sym>& in) override {
    expect_one(*this, in);
    check_rank(*this, m.meta(in[0].node).shape, rank_);
  }
  std::vector<Sym> forward(ModelState& m, const std::vector<Sym>& in, const CallRecord&) override {
    expect_one(*this, in);
    check_rank(*this, m.meta(in[0].node).shape, rank_);
    return {Sym{m.op(max_ ? "max_pool" : "avg_pool",
                     Attrs({{"pool_size", pool_}, {"strides", strides_}, {"padding", padding_}}),
                     {in[0].node}), -1}};
  }
  json get_config() const override {
    json c = base_config();
    c["pool_size"] = pool_;
    c["strides"] = strides_;
    c["padding"] = padding_;
    c["data_format"] = "channels_last";
    return c;
  }

 private:
  int rank_;
  bool max_;
  std::vector<int64_t> pool_, strides_;
  std::string padding_;
};

// ---- Global pooling -------------------------------------------------------------------------

std::string global_class(int rank, bool max) {
  return std::string(max ? "GlobalMaxPooling" : "GlobalAveragePooling") +
         std::to_string(rank) + "D";
}

class GlobalPoolLayer : public Layer {
 public:
  GlobalPoolLayer(std::string name, int rank, bool max, bool keepdims)
      : Layer(global_class(rank, max), std::move(name), true), rank_(rank), max_(max),
        keepdims_(keepdims) {}
  // GlobalAveragePooling1D supports masking (a masked mean) but passes no mask on.
  bool passes_mask() const override { return false; }

 protected:
  void build(ModelState& m, const std::vector<Sym>& in) override {
    expect_one(*this, in);
    check_rank(*this, m.meta(in[0].node).shape, rank_);
  }
  std::vector<Sym> forward(ModelState& m, const std::vector<Sym>& in, const CallRecord&) override {
    expect_one(*this, in);
    check_rank(*this, m.meta(in[0].node).shape, rank_);
    const int x = in[0].node;
    if (!max_ && rank_ == 1 && in[0].mask >= 0) {  // the mean of the valid steps only
      const std::string dt = dtype_name(m.meta(x).dtype);
      int w = m.op("cast", Attrs({{"dtype", dt}}), {in[0].mask});
      w = m.op("expand_dims", Attrs({{"axis", int64_t{2}}}), {w});
      Attrs sum({{"axis", std::vector<int64_t>{1}}, {"keepdims", keepdims_}});
      int total = m.op_cast("sum", sum, {m.op_cast("multiply", {}, {x, w})});
      int count = m.op_cast("sum", sum, {w});
      return {Sym{m.op_cast("divide", {}, {total, count}), -1}};
    }
    std::vector<int64_t> axes;
    for (int a = 1; a <= rank_; ++a) axes.push_back(a);
    return {Sym{m.op_cast(max_ ? "max" : "mean", Attrs({{"axis", axes}, {"keepdims", keepdims_}}),
                          {x}), -1}};
  }
  json get_config() const override {
    json c = base_config();
    c["data_format"] = "channels_last";
    c["keepdims"] = keepdims_;
    return c;
  }

 private:
  int rank_;
  bool max_, keepdims_;
};

// ---- from config ----------------------------------------------------------------------------

int rank_of_class(const std::string& cls) { return cls[cls.size() - 2] - '0'; }

std::unique_ptr<Layer> conv_from_config(ModelState& m, const std::string& cls, const json& c) {
  std::string name = config_layer_name(m, cls, c);
  ConfigReader r(c, cls + " '" + name + "'");
  r.require_null({"activity_regularizer", "kernel_constraint", "bias_constraint", "lora_rank"});
  check_data_format(r);
  ConvOptions o;
  o.kernel_regularizer = r.get_regularizer("kernel_regularizer");
  o.bias_regularizer = r.get_regularizer("bias_regularizer");
  o.activation = r.get_activation("activation", "linear");
  o.strides = r.get_ints("strides", {1});
  o.padding = r.get_str("padding", "valid");
  o.dilation_rate = r.get_ints("dilation_rate", {1});
  o.groups = r.get_int("groups", 1);
  o.use_bias = r.get_bool("use_bias", true);
  o.kernel_initializer = o.bias_initializer = "zeros";
  o.trainable = r.get_bool("trainable", true);
  return construct<ConvLayer>(m, name, rank_of_class(cls), r.get_int("filters", 0),
                              r.get_ints("kernel_size", {}), o);
}

std::unique_ptr<Layer> pool_from_config(ModelState& m, const std::string& cls, const json& c) {
  std::string name = config_layer_name(m, cls, c);
  ConfigReader r(c, cls + " '" + name + "'");
  check_data_format(r);
  PoolOptions o;
  o.strides = r.get_ints("strides", {});
  o.padding = r.get_str("padding", "valid");
  const int rank = rank_of_class(cls);
  return construct<PoolLayer>(m, name, rank, cls.rfind("Max", 0) == 0,
                              r.get_ints("pool_size", std::vector<int64_t>(size_t(rank), 2)), o);
}

std::unique_ptr<Layer> global_from_config(ModelState& m, const std::string& cls, const json& c) {
  std::string name = config_layer_name(m, cls, c);
  ConfigReader r(c, cls + " '" + name + "'");
  check_data_format(r);
  return construct<GlobalPoolLayer>(m, name, rank_of_class(cls), cls.rfind("GlobalMax", 0) == 0,
                                    r.get_bool("keepdims", false));
}

}  // namespace

std::unique_ptr<Layer> make_conv(ModelState& m, int rank, int64_t filters,
                                 const std::vector<int64_t>& kernel_size, const ConvOptions& o) {
  return construct<ConvLayer>(m, m.unique_name("conv" + std::to_string(rank) + "d", o.name), rank,
                              filters, kernel_size, o);
}

std::unique_ptr<Layer> make_pool(ModelState& m, int rank, bool max,
                                 const std::vector<int64_t>& pool_size, const PoolOptions& o) {
  std::string prefix = std::string(max ? "max_pooling" : "average_pooling") +
                       std::to_string(rank) + "d";
  return construct<PoolLayer>(m, m.unique_name(prefix, o.name), rank, max, pool_size, o);
}

std::unique_ptr<Layer> make_global_pool(ModelState& m, int rank, bool max,
                                        const GlobalPoolOptions& o) {
  std::string prefix = std::string(max ? "global_max_pooling" : "global_average_pooling") +
                       std::to_string(rank) + "d";
  return construct<GlobalPoolLayer>(m, m.unique_name(prefix, o.name), rank, max, o.keepdims);
}

void register_conv_layers(std::map<std::string, LayerFromConfig>& r) {
  for (int rank = 1; rank <= 3; ++rank) {
    r[conv_class(rank)] = conv_from_config;
    r[pool_class(rank, true)] = pool_from_config;
    r[pool_class(rank, false)] = pool_from_config;
    r[global_class(rank, true)] = global_from_config;
    r[global_class(rank, false)] = global_from_config;
  }
}

}  // namespace ember::api
