// MatMul followed by an Add of a constant vector along the last axis (a linear layer as
// exporters write it for inputs of rank > 2) -> one MatMul with a bias input (core/fused_ops.h),
// which oneDNN's matmul adds in the same pass. Runs before the residual and activation fusions
// so that MatMul + bias + Gelu and MatMul + bias + residual Add fuse completely.
#include <string>

#include "core/optimizer.h"
#include "core/passes/fusion_util.h"

namespace accel::core {

namespace {

constexpr size_t kBiasSlot = 2;

// A fixed float32 constant shaped [N] or [1, ..., 1, N] with rank at most `rank`.
bool IsLastAxisVector(const Graph& g, int v, int64_t n, int64_t rank) {
  if (!IsFixedConstant(g, v) || !fusion::IsFloat32(g, v)) return false;
  const Shape& dims = g.values[v].constant->shape();
  if (dims.empty() || static_cast<int64_t>(dims.size()) > rank || dims.back() != n) return false;
  for (size_t i = 0; i + 1 < dims.size(); ++i) {
    if (dims[i] != 1) return false;
  }
  return true;
}

}  // namespace

Status RunFuseMatMulBias(Graph& g, PassContext& ctx) {
  const ValueUses uses(g);
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    const Node& mm = g.nodes[n];
    if (ctx.IsRemoved(n) || !mm.domain.empty() || mm.op_type != "MatMul" || mm.inputs.size() != 2 ||
        mm.outputs.size() != 1 || fusion::HasActivation(mm) || fusion::HasSum(mm)) {
      continue;
    }
    const int a = mm.inputs[0], b = mm.inputs[1], y = mm.outputs[0];
    const TensorType& yt = g.values[y].type;
    // With 1-D operands the last output axis is not B's columns; leave those alone.
    if (!fusion::IsFloat32(g, y) || !yt.has_shape || yt.rank() < 2 || yt.dims.back() < 0 ||
        g.values[a].type.rank() < 2 || g.values[b].type.rank() < 2) {
      continue;
    }
    if (uses.is_graph_output(y) || uses.consumers(y).size() != 1) continue;
    const int add = uses.consumers(y)[0].node;
    const Node& add_node = g.nodes[add];
    if (ctx.IsRemoved(add) || !add_node.domain.empty() || add_node.op_type != "Add" ||
        add_node.outputs.size() != 1 || add_node.attrs.Has("broadcast")) {
      continue;
    }
    const int c = fusion::OtherInput(add_node, y);
    const int z = add_node.outputs[0];
    if (c == kNoValue || !IsLastAxisVector(g, c, yt.dims.back(), yt.rank()) ||
        g.values[z].type.dims != yt.dims || !fusion::IsFloat32(g, z)) {
      continue;
    }
    Result<Tensor> copy = g.values[c].constant->Clone();
    if (!copy.ok()) return copy.status();
    ACCEL_ASSIGN_OR_RETURN(Tensor bias, copy->Reshaped({yt.dims.back()}));
    const int bias_value = AddUniqueValue(g, g.values[c].name + "_bias");
    g.values[bias_value].type = TensorType::Known(DType::kFloat32, {yt.dims.back()});
    g.values[bias_value].constant = std::move(bias);
    Node& host = g.nodes[n];
    host.inputs.resize(kBiasSlot, kNoValue);
    host.inputs.push_back(bias_value);
    host.outputs[0] = z;
    ctx.RemoveNode(add);
    ctx.CountRewrite();
  }
  return Status::Ok();
}

}  // namespace accel::core
