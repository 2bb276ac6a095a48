// The intermediate representation every importer produces and every later step consumes.
//
// A Graph is a list of Nodes over a table of Values (tensors), addressed by index. Nodes are kept
// in topological order once SortTopologically() succeeded; later passes preserve that order.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "accel/status.h"
#include "accel/tensor.h"
#include "core/attributes.h"
#include "core/layout.h"

namespace accel::core {

// Static type of a value: dtype and, when known, shape. Unknown dims are -1.
struct TensorType {
  DType dtype = DType::kUndefined;
  bool has_shape = false;  // false: even the rank is unknown
  std::vector<int64_t> dims;
  std::vector<std::string> dim_names;  // symbolic names where the model gives them, else ""

  static TensorType Known(DType dtype, std::vector<int64_t> dims) {
    return {dtype, true, std::move(dims), {}};
  }
  static TensorType UnknownShape(DType dtype) { return {dtype, false, {}, {}}; }
  int64_t rank() const { return static_cast<int64_t>(dims.size()); }
  // Every dim is known (has_shape and no -1).
  bool fully_known() const;
  std::string ToString() const;  // "float32[1,3,?,?]" or "float32[*]"
};

inline constexpr int kNoValue = -1;  // an omitted optional input or output

struct Value {
  std::string name;
  TensorType type;
  std::optional<Tensor> constant;  // initializers (and, later, folded constants)
  int producer = kNoValue;         // index of the producing node, kNoValue for inputs/constants
  Layout layout = Layout::kPlain;  // set by the layout pass; graph inputs and outputs stay plain
};

struct Node {
  std::string name;
  std::string op_type;
  std::string domain;        // "" for the default ONNX domain
  int opset = 0;             // the model's opset for this node's domain
  std::vector<int> inputs;   // value indices; kNoValue for an omitted optional input
  std::vector<int> outputs;  // value indices; kNoValue for an omitted optional output
  Attributes attrs;
};

// An op whose output is random (RandomNormal, RandomUniform, their -Like forms, Multinomial,
// Bernoulli): it is never folded, merged with a twin or computed once for all runs.
bool IsRandomOp(const Node& node);

class Graph {
 public:
  std::vector<Node> nodes;
  std::vector<Value> values;
  std::vector<int> inputs;   // values fed by the caller (some may also hold a default constant)
  std::vector<int> outputs;  // values returned to the caller
  // The importer's block of initializer bytes (constant_block.h), for CompactConstantBlock;
  // only compared against, never read through (it may have been freed).
  std::span<const std::byte> constant_block;

  // Returns the index of the value named `name`, creating it if needed.
  int GetOrAddValue(const std::string& name);
  // Index of the value named `name`, or kNoValue.
  int FindValue(const std::string& name) const;

  // Orders nodes so every input is produced before use; fails naming a node on a cycle,
  // a value produced twice or a value that nothing produces. Sets Value::producer.
  Status SortTopologically();

  // "node 'conv1' (Conv)" for messages; nodes without a name are shown by their index.
  std::string NodeLabel(size_t node_index) const;

 private:
  std::unordered_map<std::string, int> index_;
};

}  // namespace accel::core
