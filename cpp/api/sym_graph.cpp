#include "sym_graph.h"

#include <utility>

namespace ember::api {

int SymGraph::input(const Shape& shape, DType dtype, const std::string& name) {
  SymNode n;
  n.kind = NodeKind::input;
  n.name = name;
  n.meta = {shape, dtype};
  nodes_.push_back(std::move(n));
  return size() - 1;
}

int SymGraph::param(int weight, const Shape& shape, DType dtype, const std::string& path) {
  SymNode n;
  n.kind = NodeKind::param;
  n.weight = weight;
  n.name = path;
  n.meta = {shape, dtype};
  nodes_.push_back(std::move(n));
  return size() - 1;
}

int SymGraph::constant(Tensor value) {
  SymNode n;
  n.kind = NodeKind::constant;
  n.meta = {value.shape(), value.dtype()};
  n.value = std::move(value);
  nodes_.push_back(std::move(n));
  return size() - 1;
}

int SymGraph::scalar(double v, DType dtype) {
  Tensor t(Shape{}, dtype);
  dispatch_float(dtype, "constant", [&](auto tag) {
    *t.data<decltype(tag)>() = static_cast<decltype(tag)>(v);
  });
  return constant(std::move(t));
}

int SymGraph::op(const std::string& op, Attrs attrs, std::vector<int> inputs,
                 const std::string& layer) {
  const OpDef& def = OpRegistry::instance().get(op);
  const int count = static_cast<int>(inputs.size());
  EMBER_CHECK(count >= def.min_inputs && (def.max_inputs < 0 || count <= def.max_inputs),
              ValueError, "op '", op, "': expected ", def.min_inputs,
              def.max_inputs == def.min_inputs ? "" : " or more", " inputs, received ", count);
  std::vector<TensorMeta> metas;
  metas.reserve(inputs.size());
  for (int id : inputs) metas.push_back(meta(id));
  SymNode n;
  n.kind = NodeKind::op;
  n.op = op;
  n.meta = def.infer(metas, attrs);
  n.attrs = std::move(attrs);
  n.inputs = std::move(inputs);
  n.name = layer;
  nodes_.push_back(std::move(n));
  return size() - 1;
}

void SymGraph::truncate(int size) {
  if (size < this->size()) nodes_.resize(static_cast<size_t>(size));
}

int Lowering::lower(int id) {
  auto found = ids_.find(id);
  if (found != ids_.end()) return found->second;
  std::vector<std::pair<int, bool>> stack{{id, false}};
  while (!stack.empty()) {
    auto [t, expanded] = stack.back();
    stack.pop_back();
    if (ids_.count(t)) continue;
    const SymNode& n = sym_.node(t);
    if (n.kind == NodeKind::op && !expanded) {
      stack.emplace_back(t, true);
      for (int i : n.inputs)
        if (!ids_.count(i)) stack.emplace_back(i, false);
      continue;
    }
    ids_[t] = add(t);
  }
  return ids_.at(id);
}

int Lowering::add(int id) {
  const SymNode& n = sym_.node(id);
  switch (n.kind) {
    case NodeKind::input: return graph_.add_input(n.meta.shape, n.meta.dtype, n.name);
    case NodeKind::constant: return graph_.add_constant(n.value, n.name);
    case NodeKind::param: return graph_.add_param(n.weight, n.meta.shape, n.meta.dtype, n.name);
    case NodeKind::op: break;
  }
  std::vector<int> inputs;
  inputs.reserve(n.inputs.size());
  for (int i : n.inputs) inputs.push_back(ids_.at(i));
  return graph_.add_op(n.op, n.attrs, std::move(inputs), n.name);
}

}  // namespace ember::api
