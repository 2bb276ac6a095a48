// Conv/Gemm/MatMul whose output only feeds an Add with a same-shaped other operand (a residual
// connection) -> one node that adds the operand through oneDNN's sum post-op (accel_sum in
// core/fused_ops.h). Runs before fuse_activation so a following Relu still fuses:
// Relu(Conv(x) + r) becomes one node.
#include <string>
#include <vector>

#include "core/optimizer.h"
#include "core/passes/fusion_util.h"

namespace accel::core {

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
    const int r = fusion::FusableAddend(g, uses, ctx, y, &add);
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
