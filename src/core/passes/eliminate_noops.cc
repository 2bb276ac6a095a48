// Removes nodes whose output equals their first input: Identity, Dropout at inference (mask
// unused), Cast to the same type, shape ops that keep the shape, Transpose with the identity
// permutation, Pad by zero, Concat of one input.
#include <algorithm>

#include "core/optimizer.h"

namespace accel::core {

namespace {

bool AllZero(const Tensor& t) {
  if (t.dtype() != DType::kInt64) return false;
  std::span<const int64_t> v = t.values<int64_t>();
  return std::all_of(v.begin(), v.end(), [](int64_t x) { return x == 0; });
}

bool IsIdentityPerm(const Node& node, const TensorType& in) {
  Result<std::vector<int64_t>> perm = node.attrs.GetInts("perm");
  if (!perm.ok()) return false;
  // No perm reverses the axes: the identity only up to rank 1.
  if (perm->empty()) return in.has_shape && in.rank() <= 1;
  for (size_t i = 0; i < perm->size(); ++i) {
    if ((*perm)[i] != static_cast<int64_t>(i)) return false;
  }
  return true;
}

bool IsDropoutNoOp(const Graph& g, const Node& node, const ValueUses& uses) {
  if (node.outputs.size() > 1 && node.outputs[1] != kNoValue) {
    int mask = node.outputs[1];
    if (!uses.consumers(mask).empty() || uses.is_graph_output(mask)) return false;
  }
  // Dropout-12+: training_mode must be absent or a constant false.
  if (node.inputs.size() > 2 && node.inputs[2] != kNoValue) {
    int mode = node.inputs[2];
    if (!IsFixedConstant(g, mode)) return false;
    const Tensor& t = *g.values[mode].constant;
    if (t.dtype() != DType::kBool || t.element_count() != 1 || t.values<bool>()[0]) return false;
  }
  // Before opset 7 is_test=0 asked for training, which libaccel's kernel never does either.
  return true;
}

bool IsNoOp(const Graph& g, const Node& node, const ValueUses& uses) {
  if (!node.domain.empty() || node.inputs.empty() || node.inputs[0] == kNoValue ||
      node.outputs.empty() || node.outputs[0] == kNoValue) {
    return false;
  }
  const TensorType& in = g.values[node.inputs[0]].type;
  const TensorType& out = g.values[node.outputs[0]].type;
  if (in.dtype == DType::kUndefined || in.dtype != out.dtype) return false;
  // Every other output must be unused (only Dropout has one).
  for (size_t i = 1; i < node.outputs.size(); ++i) {
    int v = node.outputs[i];
    if (v != kNoValue && (!uses.consumers(v).empty() || uses.is_graph_output(v))) {
      if (node.op_type != "Dropout") return false;
    }
  }
  const std::string& op = node.op_type;
  if (op == "Identity") return true;
  if (op == "Dropout") return IsDropoutNoOp(g, node, uses);
  if (op == "Cast") {
    Result<int64_t> to = node.attrs.GetInt("to", 0);
    return to.ok() && *to == static_cast<int64_t>(in.dtype);
  }
  if (op == "Reshape" || op == "Flatten" || op == "Squeeze" || op == "Unsqueeze" ||
      op == "Expand") {
    return in.fully_known() && out.fully_known() && in.dims == out.dims;
  }
  if (op == "Transpose") return IsIdentityPerm(node, in);
  if (op == "Pad") {
    if (node.inputs.size() > 1 && node.inputs[1] != kNoValue) {
      return IsFixedConstant(g, node.inputs[1]) && AllZero(*g.values[node.inputs[1]].constant);
    }
    Result<std::vector<int64_t>> pads = node.attrs.GetInts("pads");
    return node.opset < 11 && pads.ok() && !pads->empty() &&
           std::all_of(pads->begin(), pads->end(), [](int64_t p) { return p == 0; });
  }
  if (op == "Concat") return node.inputs.size() == 1;
  return false;
}

}  // namespace

Status RunEliminateNoOps(Graph& g, PassContext& ctx) {
  ValueUses uses(g);
  std::vector<bool> is_output(g.values.size(), false);
  std::vector<bool> is_input(g.values.size(), false);
  for (int v : g.outputs) is_output[v] = true;
  for (int v : g.inputs) is_input[v] = true;
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    if (!IsNoOp(g, g.nodes[n], uses)) continue;
    const int x = g.nodes[n].inputs[0];
    const int y = g.nodes[n].outputs[0];
    if (!is_output[y]) {
      ReplaceAllUses(g, y, x);
    } else {
      // y keeps its name for the caller: x's producer writes y directly, x's readers read y.
      // Not possible when x is itself fed, constant or returned.
      const int p = g.values[x].producer;
      if (p == kNoValue || is_input[x] || is_output[x] || g.values[x].constant) continue;
      std::vector<int>& outs = g.nodes[p].outputs;
      std::replace(outs.begin(), outs.end(), x, y);
      ReplaceAllUses(g, x, y);
      g.values[y].producer = p;
      g.values[x].producer = kNoValue;
    }
    ctx.RemoveNode(n);
    ctx.CountRewrite();
  }
  return Status::Ok();
}

}  // namespace accel::core
