// A graph of op nodes, built once (from Python or C++) and compiled into Plans per input shape.
// Nodes are appended in a valid topological order: an op's inputs always exist before it.
#pragma once
#include <string>
#include <vector>

#include "ember/op.h"

namespace ember {

enum class NodeKind { input, param, constant, op };

struct Node {
  NodeKind kind = NodeKind::op;
  std::string name;
  std::string op;            // op nodes: the registered op name
  Attrs attrs;
  std::vector<int> inputs;   // op nodes: ids of the input nodes
  TensorMeta meta;           // symbolic: extents may be kUnknown
  int param = -1;            // param nodes: index of the arena segment
  Tensor value;              // constant nodes
  const OpDef* def = nullptr;
};

class Graph {
 public:
  int add_input(Shape shape, DType dtype, std::string name);
  int add_param(int index, Shape shape, DType dtype, std::string name);
  int add_constant(Tensor value, std::string name);
  // Runs the op's shape inference now, so a bad model fails when it is built, not when it runs.
  int add_op(const std::string& op, Attrs attrs, std::vector<int> inputs, std::string name = "");

  const Node& node(int id) const;
  int size() const { return static_cast<int>(nodes_.size()); }
  const std::vector<int>& input_ids() const { return inputs_; }

 private:
  std::vector<Node> nodes_;
  std::vector<int> inputs_;
};

}  // namespace ember
