// What a Model holds: its symbolic graph, layers, weights, compile settings and, once it runs,
// the parameter arena, optimizer and compiled programs. Private to the library (cpp/api).
#pragma once
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "ember/model.h"
#include "ember/program.h"
#include "sym_graph.h"

namespace ember::api {

using json = nlohmann::ordered_json;  // configs keep Keras's key order

// A symbolic value: its node and, when masked, the node of its mask.
struct Sym {
  int node = -1;
  int mask = -1;
};

// One call of a layer, kept for the model config ("inbound_nodes"): the arguments as JSON with
// {"__sym__": node} where a tensor went, and the flat outputs.
struct CallRecord {
  json args = json::array();
  json kwargs = json::object();
  std::vector<Sym> outputs;
};

struct WeightRecord {
  std::string path;  // "<layer>/<name>"
  Shape shape;
  bool trainable = true;
  Tensor initial;    // the value until the model first runs; then the arena holds it
  int node = -1;     // its param node
};

struct ModelState;

// A layer: Keras's build-on-first-call and call, recording ops into the model's graph.
class Layer {
 public:
  Layer(std::string class_name, std::string name, bool trainable)
      : class_name_(std::move(class_name)), name_(std::move(name)), trainable_(trainable) {}
  virtual ~Layer() = default;
  const std::string& class_name() const { return class_name_; }
  const std::string& name() const { return name_; }
  bool trainable() const { return trainable_; }
  std::string who() const { return class_name_ + " '" + name_ + "'"; }

  // One call: builds the weights on the first, records the ops, keeps the call for the config.
  // Errors from the call are wrapped as Python's Layer.__call__ wraps them.
  std::vector<Sym> call(ModelState& m, const std::vector<Sym>& inputs, CallRecord record);

  // The Keras config: the one read from a file when loaded, else made from the arguments.
  json config() const { return loaded_config_.is_null() ? get_config() : loaded_config_; }
  void set_loaded_config(json c) { loaded_config_ = std::move(c); }
  const std::vector<CallRecord>& calls() const { return calls_; }
  const std::vector<int>& weights() const { return weights_; }
  // The weights with a penalty, in the order they were made (Python's _regularized).
  const std::vector<std::pair<int, Regularizer>>& regularized() const { return regularized_; }
  // Whether the layer passes its input's mask on (Keras's supports_masking).
  virtual bool passes_mask() const { return false; }

 protected:
  virtual void build(ModelState& m, const std::vector<Sym>& inputs) { (void)m; (void)inputs; }
  virtual std::vector<Sym> forward(ModelState& m, const std::vector<Sym>& inputs,
                                   const CallRecord& record) = 0;
  virtual json get_config() const = 0;
  json base_config() const;  // name, trainable, dtype
  int add_weight(ModelState& m, const std::string& name, const Shape& shape,
                 const std::string& initializer, bool trainable = true,
                 const Regularizer& regularizer = {});
  int add_weight_value(ModelState& m, const std::string& name, Tensor value,
                       const Regularizer& regularizer = {});
  int weight_node(ModelState& m, int k) const;  // the param node of this layer's k-th weight

  std::string class_name_;
  std::string name_;
  bool trainable_ = true;
  DType dtype_ = DType::f32;
  bool built_ = false;
  std::vector<int> weights_;  // indices into the model's weights
  std::vector<std::pair<int, Regularizer>> regularized_;
  std::vector<CallRecord> calls_;
  json loaded_config_;
};

// A compiled train or test program with the names of the values it returns.
struct CompiledStep {
  std::unique_ptr<Program> program;
  std::vector<std::string> names;  // "loss", then the metrics
};

struct LossEntry {
  Loss loss{Loss::sparse_categorical_crossentropy};
  json original;  // as read from a file (written back unchanged)
};

// The state shared by the builder, the trainer and the file reader/writer.
struct ModelState {
  uint64_t id = 0;
  std::string name;
  uint64_t seed = 0;
  uint64_t draws = 0;  // random streams handed out (initializers, programs, shuffles)
  DType dtype = DType::f32;

  SymGraph graph;
  std::vector<WeightRecord> weights;
  std::vector<std::unique_ptr<Layer>> layers;
  std::set<std::string> layer_names;
  std::map<std::string, int> name_counts;
  std::vector<Sym> inputs;
  std::vector<int> input_layers;  // indices into layers
  std::vector<Sym> outputs;
  std::string current_layer;      // names the ops a layer records

  // compile
  bool compiled = false;
  std::vector<LossEntry> losses;  // one per output
  std::vector<double> loss_weights;
  std::vector<std::string> metrics;  // applied to every output...
  std::vector<std::vector<std::string>> output_metrics;  // ...unless given per output
  bool has_loss = true;  // false: compiled without a loss (predict only)
  json compile_config;   // as read from a file, written back unless compile() is called again
  OptimizerSpec optimizer_spec;
  json lr_schedule;  // a Keras LearningRateSchedule config read from a file (null: constant)

  // load_model: the file's weights, in model.weights order, which add_weight hands out (after
  // checking each shape) instead of initialising new ones.
  bool loading = false;
  std::string loading_from;
  std::vector<std::string> preset_names;
  std::vector<Tensor> preset_weights;

  // runtime (made on the first run)
  std::shared_ptr<ParamArena> arena;
  std::shared_ptr<Optimizer> optimizer;
  std::unique_ptr<Program> predict_program;
  std::map<std::string, CompiledStep> steps;  // by mode and label signature
  std::optional<std::pair<uint64_t, uint64_t>> restored_train_rng;
  std::vector<Tensor> pending_slots;
  int64_t pending_iterations = 0;
  bool stop_requested = false;

  uint64_t next_seed();
  std::string unique_name(const std::string& prefix, const std::string& requested);
  bool finalized() const { return arena != nullptr; }
  void check_definable(const char* what) const;
  Tensor weight_value(int i) const;  // a view of the current value
  int add_weight(const std::string& path, const Shape& shape, const std::string& initializer,
                 bool trainable);
  int add_weight_value(const std::string& path, Tensor value, bool trainable);
  int op(const std::string& op, Attrs attrs, std::vector<int> inputs) {
    return graph.op(op, std::move(attrs), std::move(inputs), current_layer);
  }
  // As Python's apply_op with cast=True: inputs are brought to one float dtype first (integer
  // inputs get a cast op; a float32 input meeting a float64 one is a TypeError).
  int op_cast(const std::string& op, Attrs attrs, std::vector<int> inputs);
  // A copy: adding nodes (weights, ops) moves the graph's storage.
  TensorMeta meta(int node) const { return graph.meta(node); }
  // Adds a layer and calls it; on failure the model is left as it was.
  std::vector<Sym> apply(std::unique_ptr<Layer> layer, const std::vector<Sym>& inputs,
                         CallRecord record);
  std::vector<Sym> call_existing(Layer& layer, const std::vector<Sym>& inputs,
                                 CallRecord record);
  Layer* find_layer(const std::string& name) const;
  Sym add_input(const Shape& shape, DType dtype, const std::string& name);

  // runtime
  void finalize();  // makes the parameter arena; no more layers after this
  void reset_programs();
  Program& predict();
  // The train or test program for labels like `ys` (built once per label signature).
  CompiledStep& step(bool training, const std::vector<Tensor>& ys);
  std::string step_key(bool training, const std::vector<Tensor>& ys) const;
  std::shared_ptr<Optimizer> core_optimizer();  // made on first use, with any loaded state
  double current_learning_rate() const;
  std::vector<Tensor> prepare_x(const std::vector<Tensor>& xs) const;
  std::vector<Tensor> prepare_y(const std::vector<Tensor>& ys) const;
  static int64_t check_lengths(const std::vector<Tensor>& xs, const std::vector<Tensor>* ys);
  void assert_compiled(const char* what) const;
  std::string output_name(size_t k) const;  // the layer that produced output k
};

}  // namespace ember::api

struct ember::Model::Impl : ember::api::ModelState {};

namespace ember::detail {
struct SymbolicAccess {
  static SymbolicTensor make(const api::ModelState& m, api::Sym s) {
    SymbolicTensor t;
    t.node_ = s.node;
    t.mask_ = s.mask;
    t.model_ = m.id;
    t.shape_ = m.meta(s.node).shape;
    t.dtype_ = m.meta(s.node).dtype;
    return t;
  }
  static api::Sym sym(const api::ModelState& m, const SymbolicTensor& t, const char* what);
};
struct ModelAccess {
  static api::ModelState& state(Model& m) { return *m.impl_; }
  static const api::ModelState& state(const Model& m) { return *m.impl_; }
};
}  // namespace ember::detail
