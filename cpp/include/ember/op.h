// The single definition of an op: its arity, shape inference, forward and backward. Every op
// lives in one file under src/ops/ and registers itself with EMBER_REGISTER_OP. The graph, the
// planner and the eager path find ops only through this registry.
#pragma once
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "ember/attrs.h"
#include "ember/tensor.h"

namespace ember {

struct TensorMeta {
  Shape shape;
  DType dtype = DType::f32;
};

// What forward sees. `output` is preallocated with the inferred shape and dtype. `aux` is an
// op-private buffer (size from OpDef::aux_bytes) that lives from forward to backward.
struct OpContext {
  std::vector<const Tensor*> inputs;
  Tensor* output = nullptr;
  const Attrs* attrs = nullptr;
  Tensor* aux = nullptr;
  Tensor* scratch = nullptr;  // temporary memory of this step (OpDef::*scratch_bytes)
  bool training = false;
  uint64_t seed = 0;  // random stream of this node for this step (counter-based RNG key)
  const Tensor& in(int i) const { return *inputs[i]; }
};

// What backward sees: the forward context plus the output's gradient and one slot per input.
// grad_in[i] is null when input i needs no gradient. accumulate[i] says whether to add (+=)
// into the slot or assign (=) to it: the planner assigns on the first write of an activation
// gradient and accumulates into parameter gradients and later writes.
struct GradContext : OpContext {
  const Tensor* grad_out = nullptr;
  std::vector<Tensor*> grad_in;
  std::vector<bool> accumulate;
  bool wants(int i) const { return grad_in[i] != nullptr; }
  // wants(i) for every input: what OpDef::scratch_bytes was asked with.
  std::vector<bool> wanted() const {
    std::vector<bool> w(grad_in.size());
    for (size_t i = 0; i < w.size(); ++i) w[i] = grad_in[i] != nullptr;
    return w;
  }
};

struct OpDef {
  std::string name;
  int min_inputs = 1;
  int max_inputs = 1;  // -1: variadic
  // Shape/dtype of the output from the inputs' (shapes may hold kUnknown extents). Throws
  // ValueError/TypeError naming the op, the expected and the received.
  std::function<TensorMeta(const std::vector<TensorMeta>&, const Attrs&)> infer;
  std::function<void(OpContext&)> forward;
  // Null when the op is not differentiable (metrics, argmax): no gradient flows through it.
  std::function<void(GradContext&)> backward;
  // Bytes of op-private memory kept from forward to backward (concrete shapes); null = none.
  std::function<size_t(const std::vector<TensorMeta>&, const Attrs&, bool training)> aux_bytes;
  // Bytes of temporary memory forward / backward needs (freed right after); null = none.
  // Backward's is asked with `wants`, one flag per input: whether that input's gradient is
  // computed (GradContext::wanted() in backward), so an op plans only for the paths it runs.
  std::function<size_t(const std::vector<TensorMeta>&, const Attrs&)> forward_scratch_bytes;
  std::function<size_t(const std::vector<TensorMeta>&, const Attrs&,
                       const std::vector<bool>& wants)>
      scratch_bytes;
  // Inputs whose gradient is never defined (labels, indices): the planner never asks for them.
  std::vector<int> nondiff_inputs;
};

class OpRegistry {
 public:
  static OpRegistry& instance();
  void add(OpDef def);
  const OpDef& get(const std::string& name) const;  // ValueError listing known ops
  bool has(const std::string& name) const;
  std::vector<std::string> names() const;

 private:
  std::deque<OpDef> defs_;  // deque: graph nodes keep pointers to definitions
};

struct OpRegistrar {
  explicit OpRegistrar(OpDef (*make)()) { OpRegistry::instance().add(make()); }
};

#define EMBER_CONCAT_INNER(a, b) a##b
#define EMBER_CONCAT(a, b) EMBER_CONCAT_INNER(a, b)
// EMBER_REGISTER_OP(make_relu);  where `OpDef make_relu()` builds the definition.
#define EMBER_REGISTER_OP(fn) \
  static ::ember::OpRegistrar EMBER_CONCAT(ember_op_registrar_, __LINE__)(fn)

// Stores v into *dst, adding when accumulate is set: the one place backward kernels write grads.
template <class T>
inline void store_grad(T* dst, T v, bool accumulate) {
  if (accumulate) *dst += v; else *dst = v;
}

}  // namespace ember
