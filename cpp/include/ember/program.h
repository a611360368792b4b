// A compiled model: graph + parameter arena + optimizer, with the three per-batch entry points
// Python calls once per batch (train_step, test_step, predict_step). Plans are cached per mode
// and input shapes, so the short last batch gets its own.
#pragma once
#include <map>
#include <memory>
#include <tuple>

#include "ember/optimizer.h"
#include "ember/plan.h"

namespace ember {

struct ProgramSpec {
  std::vector<int> inputs;    // model input nodes
  std::vector<int> targets;   // label input nodes (train/test)
  std::vector<int> outputs;   // model outputs (predict)
  int loss = -1;              // scalar total loss node (train/test)
  std::vector<int> metrics;   // scalar metric nodes reported with the loss
};

class Program {
 public:
  Program(std::shared_ptr<const Graph> graph, std::shared_ptr<ParamArena> arena, ProgramSpec spec);
  void set_optimizer(std::shared_ptr<Optimizer> opt) { opt_ = std::move(opt); }
  // The random stream of training steps (dropout masks): step k draws from (seed, k). Saved
  // with a model so that training resumes with the masks it would have drawn.
  void set_seed(uint64_t seed) { seed_ = seed; }
  uint64_t seed() const { return seed_; }
  uint64_t steps() const { return steps_; }
  void set_steps(uint64_t steps) { steps_ = steps; }
  // Returns [loss, metrics...] of this batch; updates the parameters.
  std::vector<double> train_step(const std::vector<Tensor>& x, const std::vector<Tensor>& y,
                                 double lr);
  std::vector<double> test_step(const std::vector<Tensor>& x, const std::vector<Tensor>& y);
  std::vector<Tensor> predict_step(const std::vector<Tensor>& x);
  const ParamArena& arena() const { return *arena_; }
  Optimizer* optimizer() const { return opt_.get(); }
  size_t plan_count() const { return plans_.size(); }

 private:
  enum Mode { kTrain, kTest, kPredict };
  Plan& plan_for(Mode mode, const std::vector<Tensor>& feeds);
  std::vector<double> scalars(const Plan& plan) const;
  std::shared_ptr<const Graph> graph_;
  std::shared_ptr<ParamArena> arena_;
  ProgramSpec spec_;
  std::shared_ptr<Optimizer> opt_;
  uint64_t seed_ = 0;
  uint64_t steps_ = 0;
  std::map<std::pair<int, std::vector<Shape>>, std::unique_ptr<Plan>> plans_;
};

}  // namespace ember
