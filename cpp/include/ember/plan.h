// A Plan compiles a graph for concrete input shapes: it infers every shape, keeps only the nodes
// the requested values and gradients need, orders forward then backward, and packs every
// intermediate buffer into one workspace by liveness (buffers whose lifetimes do not overlap
// share memory). Running it does no allocation.
#pragma once
#include <map>
#include <memory>
#include <vector>

#include "ember/arena.h"
#include "ember/graph.h"

namespace ember {

struct PlanSpec {
  std::vector<int> feeds;        // input nodes given to run(), in this order
  std::vector<int> fetch;        // nodes whose values are read after run()
  std::vector<int> seeds;        // nodes that receive an external gradient (empty: no backward)
  std::vector<int> wrt;          // input nodes whose gradients are read after run()
  bool param_grads = false;      // accumulate gradients of trainable params into the arena
  bool training = false;         // dropout and friends behave as in training
};

class Plan {
 public:
  Plan(const Graph& graph, PlanSpec spec, const std::vector<Shape>& feed_shapes,
       const ParamArena* arena);
  ~Plan();
  // seed_grads: one per spec.seeds; an empty Tensor means "ones" (a scalar loss).
  void run(const std::vector<Tensor>& feeds, const ParamArena* arena,
           const std::vector<Tensor>& seed_grads, uint64_t seed);
  Tensor value(int node) const;
  Tensor grad(int node) const;
  size_t workspace_bytes() const;
  size_t naive_bytes() const;  // what one buffer per value would take; for the memory report

  struct Impl;
 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ember
