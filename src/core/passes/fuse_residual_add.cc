// Conv/Gemm/MatMul whose output only feeds an Add with a same-shaped other operand (a residual
// connection) -> one node that adds the operand through oneDNN's sum post-op (accel_sum in
// core/fused_ops.h). Runs before fuse_activation so a following Relu still fuses:
// Relu(Conv(x) + r) becomes one node.
#include <string>
#include <vector>

#include "core/optimizer.h"
#include "core/passes/fusion_util.h"

namespace accel::core {

namespace {

// Same rank and dims, where a dim unknown on one side must be unknown on the other: Add never
// broadcasts between them as far as load-time types can tell (the kernel checks the run).
bool SameShape(const TensorType& a, const TensorType& b) {
  return a.has_shape && b.has_shape && a.dims == b.dims;
}

// Whether the Add reading `y` (from `host`) can fold into the host; returns the other operand.
int FusableAddend(const Graph& g, const ValueUses& uses, const PassContext& ctx, int y,
                  int* add_node) {
  if (uses.is_graph_output(y) || uses.consumers(y).size() != 1) return kNoValue;
  const int a = uses.consumers(y)[0].node;
  const Node& add = g.nodes[a];
  if (ctx.IsRemoved(a) || !add.domain.empty() || add.op_type != "Add" || add.outputs.size() != 1) {
    return kNoValue;
  }
  const int r = fusion::OtherInput(add, y);
  const int z = add.outputs[0];
  if (r == kNoValue || !fusion::IsFloat32(g, r) || !fusion::IsFloat32(g, z)) return kNoValue;
  const TensorType& yt = g.values[y].type;
  if (!SameShape(yt, g.values[r].type) || !SameShape(yt, g.values[z].type)) return kNoValue;
  // Before opset 7 Add broadcasts only by attribute; a broadcast there is no residual.
  if (add.attrs.Has("broadcast") || add.attrs.Has("axis")) return kNoValue;
  *add_node = a;
  return r;
}

}  // namespace

Status RunFuseResidualAdd(Graph& g, PassContext& ctx) {
  const ValueUses uses(g);
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    Node& host = g.nodes[n];
    if (ctx.IsRemoved(n) || !fusion::IsPostOpHost(host) || fusion::HasSum(host) ||
        fusion::HasActivation(host)) {
      continue;
    }
    const int y = host.outputs[0];
    if (!fusion::IsFloat32(g, y)) continue;
    int add = -1;
    const int r = FusableAddend(g, uses, ctx, y, &add);
    if (r == kNoValue) continue;
    const size_t slot = fusion::AddendSlot(host);
    // Never clobber an input the op already has in the addend's slot.
    if (host.inputs.size() > slot) continue;
    host.inputs.resize(slot, kNoValue);
    host.inputs.push_back(r);
    host.attrs.Set(std::string(kFusedSumAttr), int64_t{1});
    host.outputs[0] = g.nodes[add].outputs[0];
    ctx.RemoveNode(add);
    ctx.CountRewrite();
  }
  return Status::Ok();
}

}  // namespace accel::core
