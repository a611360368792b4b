// Optimizer update rules over the whole parameter arena in one fused pass per step, with
// Keras 3's semantics: clipping (clipnorm per parameter, global_clipnorm, clipvalue), then
// decoupled weight decay (w -= lr * wd * w), then the rule. Only trainable segments move.
#pragma once
#include <string>

#include "ember/arena.h"

namespace ember {

struct OptimizerConfig {
  std::string kind = "adam";      // sgd, adam, adamw, rmsprop, adagrad
  double beta_1 = 0.9, beta_2 = 0.999, epsilon = 1e-7;
  bool amsgrad = false;
  double momentum = 0.0;          // sgd, rmsprop
  bool nesterov = false;          // sgd
  double rho = 0.9;               // rmsprop
  bool centered = false;          // rmsprop
  double initial_accumulator_value = 0.1;  // adagrad
  double weight_decay = 0.0;
  double clipnorm = 0.0, clipvalue = 0.0, global_clipnorm = 0.0;  // 0: off
};

class Optimizer {
 public:
  explicit Optimizer(OptimizerConfig cfg);
  // One update with learning rate lr; iterations() counts steps taken (Keras `iterations`).
  void step(const ParamArena& arena, double lr);
  int64_t iterations() const { return iterations_; }
  void set_iterations(int64_t n) { iterations_ = n; }
  const OptimizerConfig& config() const { return cfg_; }
  // Slot buffers (moments etc.), each the size of the arena, for checkpoints.
  std::vector<Tensor>& slots() { return slots_; }

 private:
  void ensure_slots(const ParamArena& arena);
  OptimizerConfig cfg_;
  int64_t iterations_ = 0;
  std::vector<Tensor> slots_;
};

}  // namespace ember
