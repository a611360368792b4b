#include "ember/eager.h"

#include <cstring>

#include "ember/plan.h"

namespace ember {

Tensor run_op(const std::string& op, const Attrs& attrs, const std::vector<Tensor>& inputs,
              uint64_t seed) {
  Graph g;
  std::vector<int> ids;
  std::vector<Shape> shapes;
  for (size_t i = 0; i < inputs.size(); ++i) {
    ids.push_back(g.add_input(inputs[i].shape(), inputs[i].dtype(), ""));
    shapes.push_back(inputs[i].shape());
  }
  int out = g.add_op(op, attrs, ids);
  PlanSpec spec;
  spec.feeds = ids;
  spec.fetch = {out};
  Plan plan(g, spec, shapes, nullptr);
  plan.run(inputs, nullptr, {}, seed);
  Tensor v = plan.value(out);
  Tensor result(v.shape(), v.dtype());
  std::memcpy(result.raw(), v.raw(), v.nbytes());
  return result;
}

}  // namespace ember
