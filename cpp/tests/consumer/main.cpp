// Builds a one-op graph with the installed headers and library and checks what it computes.
#include <cstdio>

#include "ember/ember.h"

int main() {
  ember::Graph g;
  const int x = g.add_input({2, 3}, ember::DType::f32, "x");
  const int y = g.add_op("relu", {}, {x});
  ember::PlanSpec spec;
  spec.feeds = {x};
  spec.fetch = {y};
  ember::Plan plan(g, spec, {{2, 3}}, nullptr);
  ember::Tensor in({2, 3}, ember::DType::f32);
  const float values[] = {-1, 2, -3, 4, -5, 6};
  for (int i = 0; i < 6; ++i) in.data<float>()[i] = values[i];
  plan.run({in}, nullptr, {}, 0);
  const float* out = plan.value(y).data<float>();
  const float expected[] = {0, 2, 0, 4, 0, 6};
  for (int i = 0; i < 6; ++i)
    if (out[i] != expected[i]) {
      std::printf("consumer: element %d is %g, expected %g\n", i, out[i], expected[i]);
      return 1;
    }
  std::printf("consumer: ok\n");
  return 0;
}
