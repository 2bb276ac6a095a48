#include "core/graph.h"

#include <algorithm>
#include <deque>
#include <iterator>
#include <string_view>

namespace accel::core {

bool IsRandomOp(const Node& node) {
  constexpr std::string_view kOps[] = {"RandomNormal",      "RandomUniform", "RandomNormalLike",
                                       "RandomUniformLike", "Multinomial",   "Bernoulli"};
  return std::find(std::begin(kOps), std::end(kOps), node.op_type) != std::end(kOps);
}

bool TensorType::fully_known() const {
  if (!has_shape) return false;
  for (int64_t d : dims) {
    if (d < 0) return false;
  }
  return true;
}

std::string TensorType::ToString() const {
  return std::string(DTypeName(dtype)) + (has_shape ? ShapeToString(dims) : "[*]");
}

int Graph::GetOrAddValue(const std::string& name) {
  auto [it, inserted] = index_.try_emplace(name, static_cast<int>(values.size()));
  if (inserted) values.push_back(Value{name, {}, std::nullopt, kNoValue});
  return it->second;
}

int Graph::FindValue(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? kNoValue : it->second;
}

std::string Graph::NodeLabel(size_t node_index) const {
  if (node_index >= nodes.size()) return "node #" + std::to_string(node_index);
  const Node& n = nodes[node_index];
  std::string name = n.name.empty() ? "#" + std::to_string(node_index) : "'" + n.name + "'";
  return "node " + name + " (" + (n.domain.empty() ? "" : n.domain + ".") + n.op_type + ")";
}

Status Graph::SortTopologically() {
  const int num_values = static_cast<int>(values.size());
  for (Value& v : values) v.producer = kNoValue;
  std::vector<bool> is_input(values.size(), false);
  for (int v : inputs) {
    if (v < 0 || v >= num_values) return InvalidModel("graph input index out of range");
    is_input[v] = true;
  }
  for (int v : outputs) {
    if (v < 0 || v >= num_values) return InvalidModel("graph output index out of range");
  }
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (int out : nodes[i].outputs) {
      if (out == kNoValue) continue;
      if (out < 0 || out >= num_values) {
        return InvalidModel(NodeLabel(i) + ": output index out of range");
      }
      if (values[out].producer != kNoValue || values[out].constant) {
        return InvalidModel(NodeLabel(i) + ": output '" + values[out].name +
                            "' is already produced by " +
                            (values[out].constant ? std::string("an initializer")
                                                  : NodeLabel(values[out].producer)));
      }
      // The caller's tensor and the node's result would both claim the value.
      if (is_input[out]) {
        return InvalidModel(NodeLabel(i) + ": output '" + values[out].name +
                            "' is also a graph input");
      }
      values[out].producer = static_cast<int>(i);
    }
  }

  // Kahn's algorithm, stable: among ready nodes keep the file order.
  std::vector<int> pending(nodes.size(), 0);
  std::vector<std::vector<int>> consumers(values.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (int in : nodes[i].inputs) {
      if (in == kNoValue) continue;
      if (in < 0 || in >= num_values) {
        return InvalidModel(NodeLabel(i) + ": input index out of range");
      }
      const Value& v = values[in];
      if (v.producer == kNoValue) {
        if (!v.constant && !is_input[in]) {
          return InvalidModel(NodeLabel(i) + ": input '" + v.name +
                              "' is not a graph input, an initializer or any node's output");
        }
        continue;
      }
      ++pending[i];
      consumers[in].push_back(static_cast<int>(i));
    }
  }
  std::deque<int> ready;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (pending[i] == 0) ready.push_back(static_cast<int>(i));
  }
  std::vector<int> order;
  order.reserve(nodes.size());
  while (!ready.empty()) {
    int n = ready.front();
    ready.pop_front();
    order.push_back(n);
    for (int out : nodes[n].outputs) {
      if (out == kNoValue) continue;
      for (int c : consumers[out]) {
        if (--pending[c] == 0) ready.push_back(c);
      }
    }
  }
  if (order.size() != nodes.size()) {
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (pending[i] > 0) {
        return InvalidModel("the graph has a cycle through " + NodeLabel(i));
      }
    }
  }
  std::vector<Node> sorted;
  sorted.reserve(nodes.size());
  for (int n : order) sorted.push_back(std::move(nodes[n]));
  nodes = std::move(sorted);
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (int out : nodes[i].outputs) {
      if (out != kNoValue) values[out].producer = static_cast<int>(i);
    }
  }
  for (int out : outputs) {
    const Value& v = values[out];
    if (v.producer == kNoValue && !v.constant && !is_input[out]) {
      return InvalidModel("graph output '" + v.name + "' is not produced by any node");
    }
  }
  return Status::Ok();
}

}  // namespace accel::core
