#include "ember/program.h"

#include <cstring>

#include "ember/rng.h"

namespace ember {

Program::Program(std::shared_ptr<const Graph> graph, std::shared_ptr<ParamArena> arena,
                 ProgramSpec spec)
    : graph_(std::move(graph)), arena_(std::move(arena)), spec_(std::move(spec)) {
  for (int id : spec_.inputs)
    EMBER_CHECK(graph_->node(id).kind == NodeKind::input, ValueError, "program: node ", id,
                " is not an input");
  for (int id : spec_.targets)
    EMBER_CHECK(graph_->node(id).kind == NodeKind::input, ValueError, "program: node ", id,
                " is not an input");
  if (spec_.loss >= 0)
    EMBER_CHECK(graph_->node(spec_.loss).meta.shape.empty(), ValueError,
                "program: the loss must be a scalar, its shape is ",
                shape_str(graph_->node(spec_.loss).meta.shape));
}

Plan& Program::plan_for(Mode mode, const std::vector<Tensor>& feeds) {
  std::vector<Shape> shapes;
  for (const Tensor& t : feeds) shapes.push_back(t.shape());
  auto key = std::make_pair(static_cast<int>(mode), shapes);
  auto it = plans_.find(key);
  if (it != plans_.end()) return *it->second;
  PlanSpec ps;
  ps.feeds = spec_.inputs;
  if (mode == kPredict) {
    ps.fetch = spec_.outputs;
  } else {
    EMBER_CHECK(spec_.loss >= 0, ValueError,
                "the model has no loss: call compile() with a loss before training or evaluating");
    ps.feeds.insert(ps.feeds.end(), spec_.targets.begin(), spec_.targets.end());
    ps.fetch.push_back(spec_.loss);
    ps.fetch.insert(ps.fetch.end(), spec_.metrics.begin(), spec_.metrics.end());
  }
  if (mode == kTrain) {
    ps.seeds = {spec_.loss};
    ps.param_grads = true;
    ps.training = true;
  }
  auto plan = std::make_unique<Plan>(*graph_, ps, shapes, arena_.get());
  Plan& ref = *plan;
  plans_.emplace(key, std::move(plan));
  return ref;
}

// The loss, then every element of every metric output (a metric's batch value is a scalar or,
// for metrics that keep sums such as confusion counts, a vector).
std::vector<double> Program::scalars(const Plan& plan) const {
  std::vector<double> out;
  auto read = [&](int id) {
    Tensor t = plan.value(id);
    dispatch_float(t.dtype(), "program", [&](auto v) {
      const auto* p = t.data<decltype(v)>();
      for (int64_t i = 0; i < t.size(); ++i) out.push_back(static_cast<double>(p[i]));
    });
  };
  read(spec_.loss);
  for (int id : spec_.metrics) read(id);
  return out;
}

static std::vector<Tensor> joined(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  std::vector<Tensor> out(a);
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

std::vector<double> Program::train_step(const std::vector<Tensor>& x, const std::vector<Tensor>& y,
                                        double lr) {
  EMBER_CHECK(opt_ != nullptr, ValueError,
              "the model has no optimizer: call compile() before training");
  std::vector<Tensor> feeds = joined(x, y);
  Plan& plan = plan_for(kTrain, feeds);
  arena_->zero_grads();
  try {
    plan.run(feeds, arena_.get(), {Tensor()}, rng_key(seed_, steps_++));
  } catch (const NumericError& e) {
    throw NumericError(detail::concat(e.what(), ", at training step ", steps_));
  }
  opt_->step(*arena_, lr);
  return scalars(plan);
}

std::vector<double> Program::test_step(const std::vector<Tensor>& x, const std::vector<Tensor>& y) {
  std::vector<Tensor> feeds = joined(x, y);
  Plan& plan = plan_for(kTest, feeds);
  plan.run(feeds, arena_.get(), {}, 0);
  return scalars(plan);
}

std::vector<Tensor> Program::predict_step(const std::vector<Tensor>& x) {
  Plan& plan = plan_for(kPredict, x);
  plan.run(x, arena_.get(), {}, 0);
  std::vector<Tensor> out;
  for (int id : spec_.outputs) {
    Tensor v = plan.value(id);
    Tensor copy(v.shape(), v.dtype());
    std::memcpy(copy.raw(), v.raw(), v.nbytes());
    out.push_back(copy);
  }
  return out;
}

}  // namespace ember
