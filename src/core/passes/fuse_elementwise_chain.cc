// Chains of float32 elementwise ops -> one accel.ElementwiseChain node (core/fused_ops.h), so
// the data makes one trip through memory instead of one per op. A chain is >= 2 ops where
// each op's result feeds only the next op, each op is unary or binary with the other operand
// a constant scalar or a tensor of exactly the chain's shape, and no op broadcasts the chain
// value up. Runs after the post-op fusions, so activations a Conv/Gemm/MatMul absorbs are gone
// by then. 4-D chains are left alone: the layout pass may keep those activations blocked
// between oneDNN ops, which the fused node (plain layout only) would interrupt.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/fused_ops.h"
#include "core/optimizer.h"
#include "core/passes/fusion_util.h"

namespace accel::core {

namespace {

using fusion::IsFloat32;
using fusion::SameShape;
using fusion::ScalarConstant;
using fusion::SoleConsumer;

constexpr std::string_view kUnary[] = {"Neg", "Abs",  "Relu", "Sigmoid", "Tanh", "Exp",
                                       "Log", "Sqrt", "Erf",  "Floor",   "Ceil", "Reciprocal"};
constexpr std::string_view kBinary[] = {"Add", "Sub", "Mul", "Div", "Pow"};

template <size_t N>
bool OneOf(std::string_view op, const std::string_view (&list)[N]) {
  for (std::string_view s : list) {
    if (s == op) return true;
  }
  return false;
}

// Shapes equal on every run: each dim known and equal, or unknown on both sides under one
// symbolic name. Two unknown dims alone may differ at run time (one may be 1 and broadcast).
bool SurelySameShape(const TensorType& a, const TensorType& b) {
  if (!SameShape(a, b)) return false;
  for (size_t i = 0; i < a.dims.size(); ++i) {
    if (a.dims[i] >= 0) continue;
    const bool named = i < a.dim_names.size() && i < b.dim_names.size() &&
                       !a.dim_names[i].empty() && a.dim_names[i] == b.dim_names[i];
    if (!named) return false;
  }
  return true;
}

// One op of the chain.
struct Step {
  int node = -1;
  std::string op;
  int tensor = kNoValue;  // a tensor operand, or kNoValue
  float scalar = 0.0f;
  bool operand_first = false;
};

// The step `node` applies to the chain value `v`, or nullopt when it cannot join a chain. Every
// chain value has the shape of the chain's input `x` (scalars never broadcast it up, tensor
// operands have x's shape), so tensor operands are compared with x, whose dims may carry names.
std::optional<Step> StepFor(const Graph& g, int n, int v, int x) {
  const Node& node = g.nodes[n];
  if (!node.domain.empty() || node.outputs.size() != 1 || node.attrs.Has("broadcast")) {
    return std::nullopt;
  }
  const int y = node.outputs[0];
  if (!IsFloat32(g, y) || !SameShape(g.values[v].type, g.values[y].type)) return std::nullopt;
  Step s;
  s.node = n;
  s.op = node.op_type;
  if (OneOf(node.op_type, kUnary)) {
    if (node.inputs.size() != 1 || node.inputs[0] != v || !node.attrs.all().empty()) {
      return std::nullopt;
    }
    return s;
  }
  if (!OneOf(node.op_type, kBinary) || node.inputs.size() != 2) return std::nullopt;
  const int other = node.inputs[0] == v ? node.inputs[1] : node.inputs[0];
  if (other == v || (node.inputs[0] != v && node.inputs[1] != v)) return std::nullopt;
  s.operand_first = node.inputs[1] == v;
  if (std::optional<float> c = ScalarConstant(g, other)) {
    // A scalar of higher rank would broadcast the chain value up.
    if (g.values[other].constant->rank() > g.values[v].type.rank()) return std::nullopt;
    s.scalar = *c;
    return s;
  }
  if (!IsFloat32(g, other) || !SurelySameShape(g.values[x].type, g.values[other].type)) {
    return std::nullopt;
  }
  s.tensor = other;
  return s;
}

// The chain value a node would start from: its only non-constant input, or input 0.
int ChainInput(const Graph& g, const Node& node) {
  if (node.inputs.size() == 2 && ScalarConstant(g, node.inputs[0])) return node.inputs[1];
  return node.inputs.empty() ? kNoValue : node.inputs[0];
}

}  // namespace

Status RunFuseElementwiseChain(Graph& g, PassContext& ctx) {
  const ValueUses uses(g);
  const size_t count = g.nodes.size();
  std::vector<bool> claimed(count, false);
  for (size_t n = 0; n < count; ++n) {
    if (ctx.IsRemoved(n) || claimed[n]) continue;
    const int x = ChainInput(g, g.nodes[n]);
    if (x == kNoValue || !IsFloat32(g, x) || !g.values[x].type.has_shape ||
        g.values[x].type.rank() == 4) {
      continue;
    }
    std::optional<Step> first = StepFor(g, static_cast<int>(n), x, x);
    if (!first) continue;
    std::vector<Step> chain = {*first};
    int y = g.nodes[n].outputs[0];
    for (int next = SoleConsumer(uses, y); next >= 0; next = SoleConsumer(uses, y)) {
      if (ctx.IsRemoved(next) || claimed[next]) break;
      std::optional<Step> s = StepFor(g, next, y, x);
      if (!s) break;
      chain.push_back(*s);
      y = g.nodes[next].outputs[0];
    }
    if (chain.size() < 2) continue;
    Node fused;
    fused.name = g.nodes[chain.back().node].name;
    fused.op_type = "ElementwiseChain";
    fused.domain = std::string(kAccelDomain);
    fused.opset = 1;
    fused.inputs = {x};
    fused.outputs = {y};
    std::vector<std::string> ops;
    std::vector<int64_t> operand;
    std::vector<float> scalars;
    std::vector<int64_t> operand_first;
    for (const Step& s : chain) {
      ops.push_back(s.op);
      if (s.tensor != kNoValue) {
        operand.push_back(static_cast<int64_t>(fused.inputs.size()));
        fused.inputs.push_back(s.tensor);
      } else {
        operand.push_back(-1);
      }
      scalars.push_back(s.scalar);
      operand_first.push_back(s.operand_first ? 1 : 0);
      claimed[s.node] = true;
      ctx.RemoveNode(s.node);
    }
    fused.attrs.Set("ops", std::move(ops));
    fused.attrs.Set("operand", std::move(operand));
    fused.attrs.Set("scalars", std::move(scalars));
    fused.attrs.Set("operand_first", std::move(operand_first));
    g.nodes.push_back(std::move(fused));
    ctx.CountRewrite();
  }
  return Status::Ok();
}

}  // namespace accel::core
