#include "ember/graph.h"

namespace ember {

int Graph::add_input(Shape shape, DType dtype, std::string name) {
  Node n;
  n.kind = NodeKind::input;
  n.name = std::move(name);
  n.meta = {std::move(shape), dtype};
  nodes_.push_back(std::move(n));
  inputs_.push_back(size() - 1);
  return size() - 1;
}

int Graph::add_param(int index, Shape shape, DType dtype, std::string name) {
  EMBER_CHECK(is_concrete(shape), ValueError, "parameter '", name, "': shape ", shape_str(shape),
              " must be fully known");
  Node n;
  n.kind = NodeKind::param;
  n.name = std::move(name);
  n.param = index;
  n.meta = {std::move(shape), dtype};
  nodes_.push_back(std::move(n));
  return size() - 1;
}

int Graph::add_constant(Tensor value, std::string name) {
  Node n;
  n.kind = NodeKind::constant;
  n.name = std::move(name);
  n.meta = {value.shape(), value.dtype()};
  n.value = std::move(value);
  nodes_.push_back(std::move(n));
  return size() - 1;
}

int Graph::add_op(const std::string& op, Attrs attrs, std::vector<int> inputs, std::string name) {
  const OpDef& def = OpRegistry::instance().get(op);
  int count = static_cast<int>(inputs.size());
  EMBER_CHECK(count >= def.min_inputs && (def.max_inputs < 0 || count <= def.max_inputs),
              ValueError, "op '", op, "': expected ", def.min_inputs,
              def.max_inputs == def.min_inputs ? "" : " or more", " inputs, received ", count);
  std::vector<TensorMeta> metas;
  for (int id : inputs) {
    EMBER_CHECK(id >= 0 && id < size(), IndexError, "op '", op, "': input node ", id,
                " does not exist");
    metas.push_back(nodes_[id].meta);
  }
  Node n;
  n.kind = NodeKind::op;
  n.op = op;
  n.def = &def;
  n.meta = def.infer(metas, attrs);
  n.name = std::move(name);
  n.attrs = std::move(attrs);
  n.inputs = std::move(inputs);
  nodes_.push_back(std::move(n));
  return size() - 1;
}

const Node& Graph::node(int id) const {
  EMBER_CHECK(id >= 0 && id < size(), IndexError, "graph: node ", id, " does not exist (",
              size(), " nodes)");
  return nodes_[id];
}

}  // namespace ember
