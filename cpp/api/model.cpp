// ember::Model: construction and the builder calls (definition); training is model_train.cpp.
#include <atomic>
#include <random>

#include "layers.h"

namespace ember {

namespace {

std::atomic<uint64_t> g_model_ids{1};

uint64_t random_seed() {
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

}  // namespace

api::Sym detail::SymbolicAccess::sym(const api::ModelState& m, const SymbolicTensor& t,
                                     const char* what) {
  EMBER_CHECK(t.defined(), ValueError, "model '", m.name, "': ", what,
              " is an empty SymbolicTensor (default-constructed, not made by a builder call)");
  EMBER_CHECK(t.model_ == m.id, ValueError, "model '", m.name, "': ", what,
              " belongs to another model; a model's layers can only take its own tensors");
  EMBER_CHECK(t.node_ >= 0 && t.node_ < m.graph.size(), ValueError, "model '", m.name, "': ",
              what, " is not a tensor of this model");
  return api::Sym{t.node_, t.mask_};
}

Model::Model() : Model(ModelOptions{}) {}

Model::Model(ModelOptions options) : impl_(std::make_unique<Impl>()) {
  EMBER_CHECK(is_floating(options.dtype), TypeError, "Model: expected dtype float32 or float64, "
              "received ", dtype_name(options.dtype));
  impl_->id = g_model_ids++;
  impl_->name = options.name.empty() ? "model" : options.name;
  impl_->seed = options.seed ? *options.seed : random_seed();
  impl_->dtype = options.dtype;
}

Model::~Model() = default;
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;

const std::string& Model::name() const { return impl_->name; }
DType Model::dtype() const { return impl_->dtype; }

namespace {

using detail::SymbolicAccess;

SymbolicTensor one(api::ModelState& m, std::unique_ptr<api::Layer> layer, const api::Sym& x) {
  std::vector<api::Sym> out = m.apply(std::move(layer), {x}, api::single_call(x));
  return SymbolicAccess::make(m, out.at(0));
}

}  // namespace

SymbolicTensor Model::input(const Shape& shape, DType dtype, const std::string& name) {
  return SymbolicAccess::make(*impl_, impl_->add_input(shape, dtype, name));
}

SymbolicTensor Model::dense(const SymbolicTensor& x, int64_t units, const DenseOptions& options) {
  api::Sym s = SymbolicAccess::sym(*impl_, x, "Dense's input");
  return one(*impl_, api::make_dense(*impl_, units, options), s);
}

SymbolicTensor Model::dense(const SymbolicTensor& x, int64_t units, const std::string& activation) {
  DenseOptions o;
  o.activation = activation;
  return dense(x, units, o);
}

SymbolicTensor Model::conv1d(const SymbolicTensor& x, int64_t filters, int64_t kernel_size,
                             const ConvOptions& options) {
  api::Sym s = SymbolicAccess::sym(*impl_, x, "Conv1D's input");
  return one(*impl_, api::make_conv(*impl_, 1, filters, {kernel_size}, options), s);
}

SymbolicTensor Model::conv2d(const SymbolicTensor& x, int64_t filters,
                             const std::vector<int64_t>& kernel_size, const ConvOptions& options) {
  api::Sym s = SymbolicAccess::sym(*impl_, x, "Conv2D's input");
  return one(*impl_, api::make_conv(*impl_, 2, filters, kernel_size, options), s);
}

SymbolicTensor Model::max_pool1d(const SymbolicTensor& x, int64_t pool_size,
                                 const PoolOptions& options) {
  api::Sym s = SymbolicAccess::sym(*impl_, x, "MaxPooling1D's input");
  return one(*impl_, api::make_pool(*impl_, 1, true, {pool_size}, options), s);
}

SymbolicTensor Model::avg_pool1d(const SymbolicTensor& x, int64_t pool_size,
                                 const PoolOptions& options) {
  api::Sym s = SymbolicAccess::sym(*impl_, x, "AveragePooling1D's input");
  return one(*impl_, api::make_pool(*impl_, 1, false, {pool_size}, options), s);
}

SymbolicTensor Model::max_pool2d(const SymbolicTensor& x, const std::vector<int64_t>& pool_size,
                                 const PoolOptions& options) {
  api::Sym s = SymbolicAccess::sym(*impl_, x, "MaxPooling2D's input");
  return one(*impl_, api::make_pool(*impl_, 2, true, pool_size, options), s);
}

SymbolicTensor Model::avg_pool2d(const SymbolicTensor& x, const std::vector<int64_t>& pool_size,
                                 const PoolOptions& options) {
  api::Sym s = SymbolicAccess::sym(*impl_, x, "AveragePooling2D's input");
  return one(*impl_, api::make_pool(*impl_, 2, false, pool_size, options), s);
}

namespace {

int global_rank(const SymbolicTensor& x, const char* what) {
  const int rank = x.rank() - 2;
  EMBER_CHECK(rank >= 1 && rank <= 3, ValueError, what, ": expected an input of rank 3, 4 or 5 "
              "(batch, spatial dims, channels), received shape ", shape_str(x.shape()));
  return rank;
}

}  // namespace

SymbolicTensor Model::global_average_pool(const SymbolicTensor& x,
                                          const GlobalPoolOptions& options) {
  api::Sym s = SymbolicAccess::sym(*impl_, x, "global_average_pool's input");
  const int rank = global_rank(x, "global_average_pool");
  return one(*impl_, api::make_global_pool(*impl_, rank, false, options), s);
}

SymbolicTensor Model::global_max_pool(const SymbolicTensor& x, const GlobalPoolOptions& options) {
  api::Sym s = SymbolicAccess::sym(*impl_, x, "global_max_pool's input");
  const int rank = global_rank(x, "global_max_pool");
  return one(*impl_, api::make_global_pool(*impl_, rank, true, options), s);
}

SymbolicTensor Model::flatten(const SymbolicTensor& x, const std::string& name) {
  api::Sym s = SymbolicAccess::sym(*impl_, x, "Flatten's input");
  return one(*impl_, api::make_flatten(*impl_, name), s);
}

SymbolicTensor Model::reshape(const SymbolicTensor& x, const Shape& target_shape,
                              const std::string& name) {
  api::Sym s = SymbolicAccess::sym(*impl_, x, "Reshape's input");
  return one(*impl_, api::make_reshape(*impl_, target_shape, name), s);
}

SymbolicTensor Model::dropout(const SymbolicTensor& x, double rate, const DropoutOptions& options) {
  api::Sym s = SymbolicAccess::sym(*impl_, x, "Dropout's input");
  return one(*impl_, api::make_dropout(*impl_, rate, options), s);
}

SymbolicTensor Model::activation(const SymbolicTensor& x, const std::string& activation,
                                 const std::string& name) {
  api::Sym s = SymbolicAccess::sym(*impl_, x, "Activation's input");
  return one(*impl_, api::make_activation(*impl_, activation, name), s);
}

SymbolicTensor Model::batch_norm(const SymbolicTensor& x, const BatchNormOptions& options) {
  api::Sym s = SymbolicAccess::sym(*impl_, x, "BatchNormalization's input");
  return one(*impl_, api::make_batch_norm(*impl_, options), s);
}

SymbolicTensor Model::layer_norm(const SymbolicTensor& x, const LayerNormOptions& options) {
  api::Sym s = SymbolicAccess::sym(*impl_, x, "LayerNormalization's input");
  return one(*impl_, api::make_layer_norm(*impl_, options), s);
}

SymbolicTensor Model::embedding(const SymbolicTensor& ids, int64_t input_dim, int64_t output_dim,
                                const EmbeddingOptions& options) {
  api::Sym s = SymbolicAccess::sym(*impl_, ids, "Embedding's input");
  return one(*impl_, api::make_embedding(*impl_, input_dim, output_dim, options), s);
}

SymbolicTensor Model::lstm(const SymbolicTensor& x, int64_t units, const LSTMOptions& options) {
  api::Sym s = SymbolicAccess::sym(*impl_, x, "LSTM's input");
  return one(*impl_, api::make_lstm(*impl_, units, options), s);
}

SymbolicTensor Model::gru(const SymbolicTensor& x, int64_t units, const GRUOptions& options) {
  api::Sym s = SymbolicAccess::sym(*impl_, x, "GRU's input");
  return one(*impl_, api::make_gru(*impl_, units, options), s);
}

SymbolicTensor Model::multi_head_attention(const SymbolicTensor& query, const SymbolicTensor& value,
                                           int64_t num_heads, int64_t key_dim,
                                           const AttentionOptions& options) {
  api::Sym q = SymbolicAccess::sym(*impl_, query, "MultiHeadAttention's query");
  api::Sym v = SymbolicAccess::sym(*impl_, value, "MultiHeadAttention's value");
  api::CallRecord record;
  record.args = api::json::array({api::sym_ref(q), api::sym_ref(v), nullptr});
  if (options.use_causal_mask) record.kwargs["use_causal_mask"] = true;
  auto out = impl_->apply(api::make_attention(*impl_, num_heads, key_dim, options), {q, v},
                          std::move(record));
  return SymbolicAccess::make(*impl_, out.at(0));
}

SymbolicTensor Model::multi_head_attention(const SymbolicTensor& query, const SymbolicTensor& value,
                                           const SymbolicTensor& key, int64_t num_heads,
                                           int64_t key_dim, const AttentionOptions& options) {
  api::Sym q = SymbolicAccess::sym(*impl_, query, "MultiHeadAttention's query");
  api::Sym v = SymbolicAccess::sym(*impl_, value, "MultiHeadAttention's value");
  api::Sym k = SymbolicAccess::sym(*impl_, key, "MultiHeadAttention's key");
  api::CallRecord record;
  record.args = api::json::array({api::sym_ref(q), api::sym_ref(v), api::sym_ref(k)});
  if (options.use_causal_mask) record.kwargs["use_causal_mask"] = true;
  auto out = impl_->apply(api::make_attention(*impl_, num_heads, key_dim, options), {q, v, k},
                          std::move(record));
  return SymbolicAccess::make(*impl_, out.at(0));
}

namespace {

std::vector<api::Sym> syms(const api::ModelState& m, const std::vector<SymbolicTensor>& xs,
                           const char* what) {
  std::vector<api::Sym> out;
  for (const auto& x : xs) out.push_back(SymbolicAccess::sym(m, x, what));
  return out;
}

}  // namespace

SymbolicTensor Model::add(const std::vector<SymbolicTensor>& inputs, const std::string& name) {
  auto in = syms(*impl_, inputs, "an input of Add");
  auto out = impl_->apply(api::make_add(*impl_, name), in, api::list_call(in));
  return SymbolicAccess::make(*impl_, out.at(0));
}

SymbolicTensor Model::concatenate(const std::vector<SymbolicTensor>& inputs, int64_t axis,
                                  const std::string& name) {
  auto in = syms(*impl_, inputs, "an input of Concatenate");
  auto out = impl_->apply(api::make_concatenate(*impl_, axis, name), in, api::list_call(in));
  return SymbolicAccess::make(*impl_, out.at(0));
}

void Model::set_outputs(const std::vector<SymbolicTensor>& outputs) {
  EMBER_CHECK(!outputs.empty(), ValueError, "model '", impl_->name,
              "': set_outputs needs at least one output");
  auto out = syms(*impl_, outputs, "an output");
  EMBER_CHECK(!impl_->inputs.empty(), ValueError, "model '", impl_->name,
              "' has no inputs: make them with input() first");
  impl_->outputs = std::move(out);
  impl_->reset_programs();
  if (impl_->compiled && impl_->losses.size() != impl_->outputs.size()) {
    if (impl_->losses.size() == 1) {
      impl_->losses.assign(impl_->outputs.size(), impl_->losses[0]);
      impl_->loss_weights.assign(impl_->outputs.size(), 1.0);
    } else {
      impl_->compiled = false;  // compile() again with one loss per output
    }
  }
}

std::vector<SymbolicTensor> Model::inputs() const {
  std::vector<SymbolicTensor> out;
  for (const auto& s : impl_->inputs) out.push_back(SymbolicAccess::make(*impl_, s));
  return out;
}

std::vector<SymbolicTensor> Model::outputs() const {
  std::vector<SymbolicTensor> out;
  for (const auto& s : impl_->outputs) out.push_back(SymbolicAccess::make(*impl_, s));
  return out;
}

std::vector<std::string> Model::layer_names() const {
  std::vector<std::string> out;
  for (const auto& l : impl_->layers) out.push_back(l->name());
  return out;
}

// ---- weights ----------------------------------------------------------------------------------

std::vector<std::string> Model::weight_names() const {
  std::vector<std::string> out;
  for (const auto& w : impl_->weights) out.push_back(w.path);
  return out;
}

std::vector<Tensor> Model::get_weights() const {
  std::vector<Tensor> out;
  for (int i = 0; i < static_cast<int>(impl_->weights.size()); ++i) {
    Tensor v = impl_->weight_value(i);
    Tensor copy(v.shape(), v.dtype());
    if (v.size() > 0) std::memcpy(copy.raw(), v.raw(), v.nbytes());
    out.push_back(std::move(copy));
  }
  return out;
}

void Model::set_weights(const std::vector<Tensor>& weights) {
  const auto& ws = impl_->weights;
  if (weights.size() != ws.size()) {
    std::string shapes;
    for (const auto& w : ws) shapes += (shapes.empty() ? "" : ", ") + shape_str(w.shape);
    throw ValueError(detail::concat("Layer '", impl_->name, "' expected ", ws.size(),
                                    " weights, received ", weights.size(),
                                    " (expected shapes [", shapes, "])"));
  }
  for (size_t i = 0; i < ws.size(); ++i) {
    EMBER_CHECK(weights[i].shape() == ws[i].shape, ValueError, "Layer '", impl_->name,
                "' weight '", ws[i].path, "': expected shape ", shape_str(ws[i].shape),
                ", received shape ", shape_str(weights[i].shape()));
    EMBER_CHECK(weights[i].dtype() == impl_->dtype, TypeError, "Layer '", impl_->name,
                "' weight '", ws[i].path, "': expected dtype ", dtype_name(impl_->dtype),
                ", received ", dtype_name(weights[i].dtype()));
  }
  for (size_t i = 0; i < ws.size(); ++i) {
    Tensor dst = impl_->weight_value(static_cast<int>(i));
    if (dst.size() > 0) std::memcpy(dst.raw(), weights[i].raw(), dst.nbytes());
  }
}

Tensor Model::get_weight(const std::string& name) const {
  for (size_t i = 0; i < impl_->weights.size(); ++i) {
    if (impl_->weights[i].path != name) continue;
    Tensor v = impl_->weight_value(static_cast<int>(i));
    Tensor copy(v.shape(), v.dtype());
    if (v.size() > 0) std::memcpy(copy.raw(), v.raw(), v.nbytes());
    return copy;
  }
  std::string names;
  for (const auto& w : impl_->weights) names += (names.empty() ? "" : ", ") + w.path;
  throw ValueError(detail::concat("model '", impl_->name, "' has no weight named '", name,
                                  "'; its weights are [", names, "]"));
}

int64_t Model::count_params() const {
  int64_t n = 0;
  for (const auto& w : impl_->weights) n += numel(w.shape);
  return n;
}

}  // namespace ember
