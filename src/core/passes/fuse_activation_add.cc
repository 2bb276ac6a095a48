// Conv/MatMul with a fused activation whose output only feeds a residual Add (same-shaped other
// operand) -> the Add joins as a sum post-op after the activation (accel_sum 2 in
// core/fused_ops.h): y = act(conv(x)) + r, the CSP bottleneck of YOLOX. Runs after
// fuse_activation. Gemm is left out: its C already takes the sum before the activation.
#include <string>

#include "core/optimizer.h"
#include "core/passes/fusion_util.h"

namespace accel::core {

Status RunFuseActivationAdd(Graph& g, PassContext& ctx) {
  const ValueUses uses(g);
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    Node& host = g.nodes[n];
    if (ctx.IsRemoved(n) || !fusion::IsPostOpHost(host) || host.op_type == "Gemm" ||
        !fusion::HasActivation(host) || fusion::HasSum(host)) {
      continue;
    }
    const int y = host.outputs[0];
    if (!fusion::IsFloat32(g, y)) continue;
    int add = -1;
    const int r = fusion::FusableAddend(g, uses, ctx, y, &add);
    const size_t slot = fusion::AddendSlot(host);
    if (r == kNoValue || host.inputs.size() > slot) continue;
    host.inputs.resize(slot, kNoValue);
    host.inputs.push_back(r);
    host.attrs.Set(std::string(kFusedSumAttr), int64_t{2});
    host.outputs[0] = g.nodes[add].outputs[0];
    ctx.RemoveNode(add);
    ctx.CountRewrite();
  }
  return Status::Ok();
}

}  // namespace accel::core
