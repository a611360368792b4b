// The symbolic graph a Model records while it is being defined, and its lowering into the
// core's Graph. It mirrors Python's recording (backend/symbolic.py) and lowering
// (backend/lowering.py) exactly, node for node: the same ops with the same attributes and
// inputs, lowered in the same order, so that graph node ids, and with them the per-node random
// streams of dropout, equal Python's. A model trained here and in Python draws the same masks.
#pragma once
#include <string>
#include <unordered_map>
#include <vector>

#include "ember/graph.h"

namespace ember::api {

struct SymNode {
  NodeKind kind = NodeKind::op;
  std::string op;
  Attrs attrs;
  std::vector<int> inputs;
  int weight = -1;  // param nodes: index into the model's weights
  Tensor value;     // constants
  std::string name;  // ops: the layer that recorded them; inputs and params: their name
  TensorMeta meta;
};

class SymGraph {
 public:
  int input(const Shape& shape, DType dtype, const std::string& name);
  int param(int weight, const Shape& shape, DType dtype, const std::string& path);
  int constant(Tensor value);
  int scalar(double v, DType dtype);  // a 0-d constant, as Python turns a number into
  // Records an op after running its shape inference: a bad model fails when it is defined.
  int op(const std::string& op, Attrs attrs, std::vector<int> inputs, const std::string& layer);

  // References into the graph die when a node is added: layers copy what they keep.
  const SymNode& node(int id) const { return nodes_.at(static_cast<size_t>(id)); }
  TensorMeta meta(int id) const { return node(id).meta; }
  int size() const { return static_cast<int>(nodes_.size()); }
  void truncate(int size);  // undoes a failed layer call

 private:
  std::vector<SymNode> nodes_;
};

// Adds symbolic nodes (and everything they depend on) to one core Graph, as Python's
// GraphBuilder.lower: an iterative post-order walk whose stack visits an op's inputs last to
// first.
class Lowering {
 public:
  Lowering(const SymGraph& sym, Graph& graph) : sym_(sym), graph_(graph) {}
  int lower(int id);

 private:
  int add(int id);
  const SymGraph& sym_;
  Graph& graph_;
  std::unordered_map<int, int> ids_;
};

}  // namespace ember::api
