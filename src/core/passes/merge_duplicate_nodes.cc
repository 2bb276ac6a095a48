// Common-subexpression elimination: merges nodes that compute the same thing (same op, version,
// attributes and inputs). Exporters repeat work that source code wrote twice: YOLO's Focus stem
// slices the image rows `x[..., ::2, :]` once for each of two column slices, so half of its Slice
// nodes copy the same rows again. Small constant inputs count as equal when their contents are
// (exporters give each use its own Constant node).
#include <cstring>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <variant>
#include <vector>

#include "core/optimizer.h"

namespace accel::core {

namespace {

// Constants larger than this keep their own identity: hashing every weight at load would cost
// more than the rare duplicate saves.
constexpr size_t kMaxComparedConstantBytes = 1024;

bool SameTensor(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         std::memcmp(a.data(), b.data(), a.byte_size()) == 0;
}

// Floats compare bitwise, so NaN attributes equal themselves.
bool SameAttribute(const AttributeValue& a, const AttributeValue& b) {
  if (a.index() != b.index()) return false;
  return std::visit(
      [&b](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        const T& y = std::get<T>(b);
        if constexpr (std::is_same_v<T, Tensor>) {
          return SameTensor(x, y);
        } else if constexpr (std::is_same_v<T, float>) {
          return std::memcmp(&x, &y, sizeof(float)) == 0;
        } else if constexpr (std::is_same_v<T, std::vector<float>>) {
          return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * 4) == 0;
        } else {
          return x == y;
        }
      },
      a);
}

bool SameAttributes(const Attributes& a, const Attributes& b) {
  if (a.all().size() != b.all().size()) return false;
  for (auto ia = a.all().begin(), ib = b.all().begin(); ia != a.all().end(); ++ia, ++ib) {
    if (ia->first != ib->first || !SameAttribute(ia->second, ib->second)) return false;
  }
  return true;
}

// For each value, the first value known to hold the same data: small fixed constants with
// equal contents share one id, every other value is its own.
std::vector<int> ConstantIds(const Graph& g) {
  std::vector<int> id(g.values.size());
  std::unordered_map<std::string, std::vector<int>> by_content;
  for (size_t v = 0; v < g.values.size(); ++v) {
    id[v] = static_cast<int>(v);
    if (!IsFixedConstant(g, static_cast<int>(v))) continue;
    const Tensor& t = *g.values[v].constant;
    if (t.byte_size() > kMaxComparedConstantBytes) continue;
    std::string key(static_cast<const char*>(t.data()), t.byte_size());
    key += static_cast<char>(t.dtype());
    std::vector<int>& same = by_content[key];
    for (int other : same) {
      if (SameTensor(t, *g.values[other].constant)) {
        id[v] = other;
        break;
      }
    }
    if (id[v] == static_cast<int>(v)) same.push_back(static_cast<int>(v));
  }
  return id;
}

}  // namespace

Status RunMergeDuplicateNodes(Graph& g, PassContext& ctx) {
  std::vector<int> id = ConstantIds(g);
  ValueUses uses(g);
  // Earlier nodes by op type and input ids; a hit is confirmed by comparing the rest.
  std::unordered_map<std::string, std::vector<size_t>> seen;
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    Node& node = g.nodes[n];
    // Inputs read through merged nodes' outputs now read the kept node's.
    for (int& in : node.inputs) {
      if (in != kNoValue && id[in] != in && !g.values[in].constant) in = id[in];
    }
    // Only ONNX ops: their semantics are known to depend on nothing but inputs and attributes.
    if (!node.domain.empty() || IsRandomOp(node) || node.inputs.empty()) continue;
    std::string key = node.op_type + '|' + std::to_string(node.opset);
    for (int in : node.inputs) key += '|' + std::to_string(in == kNoValue ? kNoValue : id[in]);
    std::vector<size_t>& candidates = seen[key];
    size_t match = g.nodes.size();
    for (size_t m : candidates) {
      const Node& kept = g.nodes[m];
      if (kept.outputs.size() != node.outputs.size() || !SameAttributes(kept.attrs, node.attrs)) {
        continue;
      }
      bool same_outputs = true;
      for (size_t i = 0; i < node.outputs.size(); ++i) {
        int out = node.outputs[i];
        // A graph output keeps its own producer; an output only the kept node computes (this
        // one omits it) is fine, the reverse is not.
        if (out != kNoValue && (uses.is_graph_output(out) || kept.outputs[i] == kNoValue)) {
          same_outputs = false;
        }
      }
      if (same_outputs) {
        match = m;
        break;
      }
    }
    if (match == g.nodes.size()) {
      candidates.push_back(n);
      continue;
    }
    for (size_t i = 0; i < node.outputs.size(); ++i) {
      if (node.outputs[i] != kNoValue) id[node.outputs[i]] = g.nodes[match].outputs[i];
    }
    ctx.RemoveNode(n);
    ctx.CountRewrite();
  }
  return Status::Ok();
}

}  // namespace accel::core
