// The layers of the C++ API: each made from builder options or from a Keras config, each
// recording the ops and attributes ember's Python layer of the same class records.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "model_impl.h"

namespace ember::api {

// ---- activations (as ember.activations): "linear" returns x itself
int apply_activation(ModelState& m, int x, const std::string& name);
void check_activation(const std::string& name, const std::string& who);
std::string canonical_activation(const std::string& name);  // "swish" -> "silu"
// The activations the dense and conv ops apply in their epilogue.
bool is_fused_activation(const std::string& name);

// Constructs a layer whose name was just reserved, releasing the name if the constructor's
// argument checks throw.
template <class L, class... Args>
std::unique_ptr<Layer> construct(ModelState& m, const std::string& name, Args&&... args) {
  try {
    return std::make_unique<L>(name, std::forward<Args>(args)...);
  } catch (...) {
    m.layer_names.erase(name);
    throw;
  }
}

// ---- layers from builder options
std::unique_ptr<Layer> make_dense(ModelState& m, int64_t units, const DenseOptions& o);
std::unique_ptr<Layer> make_conv(ModelState& m, int rank, int64_t filters,
                                 const std::vector<int64_t>& kernel_size, const ConvOptions& o);
std::unique_ptr<Layer> make_pool(ModelState& m, int rank, bool max,
                                 const std::vector<int64_t>& pool_size, const PoolOptions& o);
std::unique_ptr<Layer> make_global_pool(ModelState& m, int rank, bool max,
                                        const GlobalPoolOptions& o);
std::unique_ptr<Layer> make_flatten(ModelState& m, const std::string& name);
std::unique_ptr<Layer> make_reshape(ModelState& m, const Shape& target, const std::string& name);
std::unique_ptr<Layer> make_dropout(ModelState& m, double rate, const DropoutOptions& o);
std::unique_ptr<Layer> make_activation(ModelState& m, const std::string& activation,
                                       const std::string& name);
std::unique_ptr<Layer> make_batch_norm(ModelState& m, const BatchNormOptions& o);
std::unique_ptr<Layer> make_layer_norm(ModelState& m, const LayerNormOptions& o);
std::unique_ptr<Layer> make_embedding(ModelState& m, int64_t input_dim, int64_t output_dim,
                                      const EmbeddingOptions& o);
std::unique_ptr<Layer> make_lstm(ModelState& m, int64_t units, const LSTMOptions& o);
std::unique_ptr<Layer> make_gru(ModelState& m, int64_t units, const GRUOptions& o);
std::unique_ptr<Layer> make_attention(ModelState& m, int64_t num_heads, int64_t key_dim,
                                      const AttentionOptions& o);
std::unique_ptr<Layer> make_add(ModelState& m, const std::string& name);
std::unique_ptr<Layer> make_concatenate(ModelState& m, int64_t axis, const std::string& name);

// ---- layers from a Keras config ({"class_name": ..., "config": {...}}'s config)
using LayerFromConfig = std::unique_ptr<Layer> (*)(ModelState& m, const std::string& class_name,
                                                   const json& config);
const std::map<std::string, LayerFromConfig>& layer_classes();
// The name a config gives its layer, checked unique in the model.
std::string config_layer_name(ModelState& m, const std::string& class_name, const json& config);

// How a layer's call is written in a config: one tensor, or a list of tensors.
CallRecord single_call(const Sym& x);
CallRecord list_call(const std::vector<Sym>& xs);
json sym_ref(const Sym& s);  // the {"__sym__": node} placeholder

}  // namespace ember::api
