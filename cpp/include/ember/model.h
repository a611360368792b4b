// ember::Model: define, train and run a model from C++ with no Python, with the Keras API's
// names, arguments and defaults. Builder calls mirror the Keras layers and record the same ops,
// attributes and weights as ember's Python layers, so a model built here and one built in
// Python compute the same values, and either loads the other's saved files (model_file.h).
//
//   ember::Model m;
//   auto x = m.input({28, 28, 1});
//   ember::ConvOptions conv;  conv.activation = "relu";
//   x = m.conv2d(x, 32, {3, 3}, conv);        // C++20: m.conv2d(x, 32, {3, 3}, {.activation = "relu"})
//   x = m.max_pool2d(x, {2, 2});
//   x = m.flatten(x);
//   x = m.dense(x, 128, "relu");
//   x = m.dropout(x, 0.2);
//   m.set_outputs({m.dense(x, 10, "softmax")});
//   m.compile(ember::Loss::sparse_categorical_crossentropy, ember::optimizers::adam(), {"accuracy"});
//   ember::History h = m.fit(x_train, y_train, fit_options);
//
// Errors are ember::Error subclasses carrying the messages the Python package shows, e.g.
// "Dense 'dense_1': expected a positive integer for `units`, received 0".
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ember/dtype.h"
#include "ember/error.h"
#include "ember/optimizer.h"
#include "ember/shape.h"
#include "ember/tensor.h"

namespace ember {

namespace detail {
struct SymbolicAccess;
struct ModelAccess;
}

// A value the model will compute (Keras's KerasTensor): what builder calls take and return.
// Its shape has kUnknown (printed "None") for the batch axis. It belongs to the model that
// made it; passing it to another model is an error.
class SymbolicTensor {
 public:
  SymbolicTensor() = default;
  const Shape& shape() const { return shape_; }
  DType dtype() const { return dtype_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  bool defined() const { return node_ >= 0; }

 private:
  friend struct detail::SymbolicAccess;
  int node_ = -1;
  int mask_ = -1;  // Keras's mask (1 = valid timestep), carried from Embedding(mask_zero)
  uint64_t model_ = 0;
  Shape shape_;
  DType dtype_ = DType::f32;
};

// Keras's weight penalty l1 * sum(|w|) + l2 * sum(w^2), added to the loss in training (and in
// evaluate). All zero: none.
struct Regularizer {
  double l1 = 0.0;
  double l2 = 0.0;
  bool active() const { return l1 != 0.0 || l2 != 0.0; }
};

namespace regularizers {
inline Regularizer l1(double factor = 0.01) { return {factor, 0.0}; }
inline Regularizer l2(double factor = 0.01) { return {0.0, factor}; }
inline Regularizer l1_l2(double l1, double l2) { return {l1, l2}; }
}  // namespace regularizers

// ---- layer options (aggregates: set the fields you need; C++20 designated initializers
// work, in declaration order). An empty `name` gets Keras's automatic one ("dense",
// "dense_1", ...), unique within the model. Initializers are Keras names: "glorot_uniform",
// "glorot_normal", "he_uniform", "he_normal", "lecun_uniform", "lecun_normal", "orthogonal",
// "random_uniform" ("uniform"), "random_normal" ("normal"), "truncated_normal", "zeros",
// "ones". Activations are Keras names: "linear", "relu", "sigmoid", "tanh", "softmax",
// "log_softmax", "gelu", "silu" ("swish"), "elu", "leaky_relu", "softplus", "exponential",
// "relu6", "hard_sigmoid", "mish", "selu".

struct DenseOptions {
  std::string activation = "linear";
  bool use_bias = true;
  std::string kernel_initializer = "glorot_uniform";
  std::string bias_initializer = "zeros";
  Regularizer kernel_regularizer, bias_regularizer;
  std::string name;
  bool trainable = true;
};

struct ConvOptions {
  std::string activation = "linear";
  std::vector<int64_t> strides;        // empty: 1 along every spatial axis
  std::string padding = "valid";       // "valid" or "same" ("causal" for conv1d)
  std::vector<int64_t> dilation_rate;  // empty: 1
  int64_t groups = 1;
  bool use_bias = true;
  std::string kernel_initializer = "glorot_uniform";
  std::string bias_initializer = "zeros";
  Regularizer kernel_regularizer, bias_regularizer;
  std::string name;
  bool trainable = true;
};

struct PoolOptions {
  std::vector<int64_t> strides;  // empty: the pool size
  std::string padding = "valid";
  std::string name;
};

struct GlobalPoolOptions {
  bool keepdims = false;
  std::string name;
};

struct DropoutOptions {
  // Empty: an independent mask value per element. Otherwise one extent per input axis, 1 to
  // share the mask along that axis, 0 for "as the input" (Keras's None).
  std::vector<int64_t> noise_shape;
  std::string name;
};

struct BatchNormOptions {
  int64_t axis = -1;
  double momentum = 0.99;
  double epsilon = 1e-3;
  bool center = true;
  bool scale = true;
  Regularizer gamma_regularizer, beta_regularizer;
  std::string name;
  bool trainable = true;  // false: frozen, always in inference mode (as Keras)
};

struct LayerNormOptions {
  std::vector<int64_t> axis = {-1};  // trailing axes
  double epsilon = 1e-3;
  bool center = true;
  bool scale = true;
  bool rms_scaling = false;
  Regularizer gamma_regularizer, beta_regularizer;
  std::string name;
  bool trainable = true;
};

struct EmbeddingOptions {
  bool mask_zero = false;  // id 0 is padding: recurrent layers downstream skip those steps
  std::string embeddings_initializer = "uniform";
  Regularizer embeddings_regularizer;
  std::string name;
  bool trainable = true;
};

struct LSTMOptions {
  std::string activation = "tanh";
  std::string recurrent_activation = "sigmoid";
  bool return_sequences = false;
  bool go_backwards = false;
  double dropout = 0.0;
  double recurrent_dropout = 0.0;
  bool use_bias = true;
  bool unit_forget_bias = true;
  std::string kernel_initializer = "glorot_uniform";
  std::string recurrent_initializer = "orthogonal";
  std::string bias_initializer = "zeros";
  Regularizer kernel_regularizer, recurrent_regularizer, bias_regularizer;
  std::string name;
  bool trainable = true;
};

struct GRUOptions {
  std::string activation = "tanh";
  std::string recurrent_activation = "sigmoid";
  bool return_sequences = false;
  bool go_backwards = false;
  double dropout = 0.0;
  double recurrent_dropout = 0.0;
  bool use_bias = true;
  bool reset_after = true;
  std::string kernel_initializer = "glorot_uniform";
  std::string recurrent_initializer = "orthogonal";
  std::string bias_initializer = "zeros";
  Regularizer kernel_regularizer, recurrent_regularizer, bias_regularizer;
  std::string name;
  bool trainable = true;
};

struct AttentionOptions {
  int64_t value_dim = 0;   // 0: key_dim
  int64_t output_dim = 0;  // 0: the query's feature size
  double dropout = 0.0;
  bool use_causal_mask = false;
  bool use_bias = true;
  std::string kernel_initializer = "glorot_uniform";
  std::string bias_initializer = "zeros";
  Regularizer kernel_regularizer, bias_regularizer;
  std::string name;
  bool trainable = true;
};

// ---- compile

// A loss, by kind and options. Converts from a kind, so `Loss::sparse_categorical_crossentropy`
// can be passed where a Loss is expected.
struct Loss {
  enum Kind {
    sparse_categorical_crossentropy,
    categorical_crossentropy,
    binary_crossentropy,
    mean_squared_error,
    mean_absolute_error,
  };
  Kind kind = sparse_categorical_crossentropy;
  bool from_logits = false;
  double label_smoothing = 0.0;  // categorical and binary cross-entropy

  Loss(Kind k, bool from_logits_ = false, double label_smoothing_ = 0.0)  // NOLINT: implicit
      : kind(k), from_logits(from_logits_), label_smoothing(label_smoothing_) {}
  // From a Keras name or alias: "sparse_categorical_crossentropy", "mse", "mae", ...
  static Loss from_name(const std::string& name);
  std::string name() const;  // the Keras function name
};

// An optimizer with its learning rate; see ember::optimizers for Keras's defaults.
struct OptimizerSpec {
  OptimizerConfig config;
  double learning_rate = 0.001;
};

namespace optimizers {
OptimizerSpec sgd(double learning_rate = 0.01, double momentum = 0.0, bool nesterov = false);
OptimizerSpec adam(double learning_rate = 0.001, double beta_1 = 0.9, double beta_2 = 0.999,
                   double epsilon = 1e-7, bool amsgrad = false);
OptimizerSpec adamw(double learning_rate = 0.001, double weight_decay = 0.004,
                    double beta_1 = 0.9, double beta_2 = 0.999, double epsilon = 1e-7,
                    bool amsgrad = false);
OptimizerSpec rmsprop(double learning_rate = 0.001, double rho = 0.9, double momentum = 0.0,
                      double epsilon = 1e-7, bool centered = false);
OptimizerSpec adagrad(double learning_rate = 0.001, double initial_accumulator_value = 0.1,
                      double epsilon = 1e-7);
}  // namespace optimizers

// ---- results

// Named values of a step, an evaluation or an epoch, in order: "loss", then the metrics
// (and "val_..." after fit's validation).
class Logs {
 public:
  void set(const std::string& key, double value);
  double at(const std::string& key) const;  // IndexError naming the keys there are
  double operator[](const std::string& key) const { return at(key); }
  bool contains(const std::string& key) const;
  const std::vector<std::pair<std::string, double>>& items() const { return items_; }
  size_t size() const { return items_.size(); }
  std::string str() const;  // "loss: 0.1234 - accuracy: 0.9500", as Keras's progress bar

 private:
  std::vector<std::pair<std::string, double>> items_;
};

// What fit returns: each epoch's logs.
struct History {
  std::vector<Logs> epochs;
  std::vector<double> values(const std::string& key) const;  // one per epoch
};

struct FitOptions {
  int epochs = 1;
  int64_t batch_size = 32;
  bool shuffle = true;  // a new order each epoch, drawn from the model's seed
  // Called after each epoch with its logs (loss and metrics averaged over the epoch, as
  // Keras). To stop early, call model.stop_training() from it.
  std::function<void(int epoch, const Logs& logs)> on_epoch_end;
  // Called after each batch with the running means of the epoch so far.
  std::function<void(int64_t batch, const Logs& logs)> on_batch_end;
  // Evaluated after each epoch when given; its results join the logs as "val_loss", ...
  std::vector<Tensor> validation_x, validation_y;
};

struct ModelOptions {
  std::string name;  // empty: "model"
  // Seeds weight initialisation, dropout masks and shuffling. Unset: a random seed.
  std::optional<uint64_t> seed;
  DType dtype = DType::f32;  // of the weights and float inputs: f32 or f64
};

// A model: define with builder calls, then set_outputs, compile, train and run. Move-only.
class Model {
 public:
  Model();
  explicit Model(ModelOptions options);
  ~Model();
  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const std::string& name() const;
  DType dtype() const;

  // ---- definition (before the model first runs)
  // A model input; `shape` excludes the batch axis (kUnknown for a variable extent).
  SymbolicTensor input(const Shape& shape, DType dtype = DType::f32, const std::string& name = "");
  SymbolicTensor dense(const SymbolicTensor& x, int64_t units, const DenseOptions& options = {});
  SymbolicTensor dense(const SymbolicTensor& x, int64_t units, const std::string& activation);
  SymbolicTensor conv1d(const SymbolicTensor& x, int64_t filters, int64_t kernel_size,
                        const ConvOptions& options = {});
  SymbolicTensor conv2d(const SymbolicTensor& x, int64_t filters,
                        const std::vector<int64_t>& kernel_size, const ConvOptions& options = {});
  SymbolicTensor max_pool1d(const SymbolicTensor& x, int64_t pool_size = 2,
                            const PoolOptions& options = {});
  SymbolicTensor avg_pool1d(const SymbolicTensor& x, int64_t pool_size = 2,
                            const PoolOptions& options = {});
  SymbolicTensor max_pool2d(const SymbolicTensor& x, const std::vector<int64_t>& pool_size = {2, 2},
                            const PoolOptions& options = {});
  SymbolicTensor avg_pool2d(const SymbolicTensor& x, const std::vector<int64_t>& pool_size = {2, 2},
                            const PoolOptions& options = {});
  // Mean / max over the spatial (or time) axes of a channels_last input of rank 3 to 5.
  SymbolicTensor global_average_pool(const SymbolicTensor& x, const GlobalPoolOptions& options = {});
  SymbolicTensor global_max_pool(const SymbolicTensor& x, const GlobalPoolOptions& options = {});
  SymbolicTensor flatten(const SymbolicTensor& x, const std::string& name = "");
  // `target_shape` excludes the batch axis; one extent may be -1.
  SymbolicTensor reshape(const SymbolicTensor& x, const Shape& target_shape,
                         const std::string& name = "");
  SymbolicTensor dropout(const SymbolicTensor& x, double rate, const DropoutOptions& options = {});
  SymbolicTensor activation(const SymbolicTensor& x, const std::string& activation,
                            const std::string& name = "");
  SymbolicTensor batch_norm(const SymbolicTensor& x, const BatchNormOptions& options = {});
  SymbolicTensor layer_norm(const SymbolicTensor& x, const LayerNormOptions& options = {});
  // Token ids (int32/int64, or floats holding whole numbers) -> vectors.
  SymbolicTensor embedding(const SymbolicTensor& ids, int64_t input_dim, int64_t output_dim,
                           const EmbeddingOptions& options = {});
  SymbolicTensor lstm(const SymbolicTensor& x, int64_t units, const LSTMOptions& options = {});
  SymbolicTensor gru(const SymbolicTensor& x, int64_t units, const GRUOptions& options = {});
  // Keras's MultiHeadAttention over (batch, time, features): self-attention passes x twice.
  SymbolicTensor multi_head_attention(const SymbolicTensor& query, const SymbolicTensor& value,
                                      int64_t num_heads, int64_t key_dim,
                                      const AttentionOptions& options = {});
  SymbolicTensor multi_head_attention(const SymbolicTensor& query, const SymbolicTensor& value,
                                      const SymbolicTensor& key, int64_t num_heads,
                                      int64_t key_dim, const AttentionOptions& options = {});
  SymbolicTensor add(const std::vector<SymbolicTensor>& inputs, const std::string& name = "");
  SymbolicTensor concatenate(const std::vector<SymbolicTensor>& inputs, int64_t axis = -1,
                             const std::string& name = "");

  // The model's outputs; its inputs are every input() in the order they were made.
  void set_outputs(const std::vector<SymbolicTensor>& outputs);
  std::vector<SymbolicTensor> inputs() const;
  std::vector<SymbolicTensor> outputs() const;
  std::vector<std::string> layer_names() const;  // in call order, input layers included

  // ---- weights, in Keras's model.weights order, named "<layer>/<weight>"
  std::vector<std::string> weight_names() const;
  std::vector<Tensor> get_weights() const;  // copies
  void set_weights(const std::vector<Tensor>& weights);
  Tensor get_weight(const std::string& name) const;  // a copy
  int64_t count_params() const;

  // ---- training
  // One loss per output (the first form: the same loss for every output).
  void compile(const Loss& loss, const OptimizerSpec& optimizer = optimizers::rmsprop(),
               const std::vector<std::string>& metrics = {});
  void compile(const std::vector<Loss>& losses, const OptimizerSpec& optimizer,
               const std::vector<std::string>& metrics = {},
               const std::vector<double>& loss_weights = {});
  bool compiled() const;
  double learning_rate() const;
  void set_learning_rate(double lr);
  int64_t optimizer_iterations() const;

  // One batch: forward, loss, backward and the optimizer update. Returns this batch's loss
  // and metrics. Integer labels stay integers for sparse cross-entropy; others become floats.
  Logs train_step(const Tensor& x, const Tensor& y);
  Logs train_step(const std::vector<Tensor>& x, const std::vector<Tensor>& y);
  Logs test_step(const Tensor& x, const Tensor& y);
  Logs test_step(const std::vector<Tensor>& x, const std::vector<Tensor>& y);
  // In batches; the results are concatenated (one tensor per output).
  Tensor predict(const Tensor& x, int64_t batch_size = 32);
  std::vector<Tensor> predict(const std::vector<Tensor>& x, int64_t batch_size = 32);
  // Loss and metrics over the whole data, as Keras's evaluate (batch means weighted by size).
  Logs evaluate(const Tensor& x, const Tensor& y, int64_t batch_size = 32);
  Logs evaluate(const std::vector<Tensor>& x, const std::vector<Tensor>& y,
                int64_t batch_size = 32);
  History fit(const Tensor& x, const Tensor& y, const FitOptions& options = {});
  History fit(const std::vector<Tensor>& x, const std::vector<Tensor>& y,
              const FitOptions& options = {});
  // From a callback: fit stops after the current batch (Keras's model.stop_training = True).
  void stop_training();

  struct Impl;

 private:
  friend struct detail::ModelAccess;  // ember's model-file reader and writer
  std::unique_ptr<Impl> impl_;
};

}  // namespace ember
