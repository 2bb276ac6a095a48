// Mul(scale [1,C,1,1], x [1,C,H,W]) feeding only a 1x1 group-1 Conv -> the Conv takes x and
// the scale (accel_input_scale in core/fused_ops.h). conv(x * s, W) = conv(x, W * s): the kernel
// scales its packed weights per run, O*C multiplications, instead of a pass over all of x. This
// is the squeeze-excitation block of EfficientNet and MobileNetV3, whose Mul writes a full
// activation only for the projection conv to read it once.
#include <optional>
#include <string>

#include "core/optimizer.h"
#include "core/passes/fusion_util.h"

namespace accel::core {

namespace {

bool KnownShape(const Graph& g, int v, size_t rank) {
  const TensorType& t = g.values[v].type;
  return t.fully_known() && t.dims.size() == rank;
}

// The 1x1 group-1 Conv with constant weights [O, C, 1, 1] that reads `y` as its input 0.
bool IsPointwiseConv(const Graph& g, const Node& conv, int y) {
  if (!fusion::IsOp(conv, "Conv") || conv.inputs.size() < 2 || conv.inputs[0] != y) return false;
  if (conv.attrs.Has(kFusedInputScaleAttr) || !IsFixedConstant(g, conv.inputs[1])) return false;
  Result<int64_t> group = conv.attrs.GetInt("group", 1);
  const Tensor& w = *g.values[conv.inputs[1]].constant;
  return group.ok() && *group == 1 && w.dtype() == DType::kFloat32 && w.shape().size() == 4 &&
         w.shape()[2] == 1 && w.shape()[3] == 1;
}

// Which operand of the Mul is the per-channel scale of x (the other one), if either is.
std::optional<int> ScaleOperand(const Graph& g, const Node& mul) {
  for (int s = 0; s < 2; ++s) {
    const int scale = mul.inputs[s], x = mul.inputs[1 - s];
    if (!fusion::IsFloat32(g, scale) || !fusion::IsFloat32(g, x)) continue;
    if (!KnownShape(g, scale, 4) || !KnownShape(g, x, 4)) continue;
    const Shape& sd = g.values[scale].type.dims;
    const Shape& xd = g.values[x].type.dims;
    // One image: the weights are shared, so a scale per image cannot go into them.
    if (xd[0] == 1 && sd == Shape({1, xd[1], 1, 1})) return s;
  }
  return std::nullopt;
}

}  // namespace

Status RunFuseChannelScale(Graph& g, PassContext& ctx) {
  // The scaled weights are float32: bf16 packs them in another layout.
  if (ctx.precision() != Precision::kFloat32) return Status::Ok();
  const ValueUses uses(g);
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    const Node& mul = g.nodes[n];
    if (ctx.IsRemoved(n) || !fusion::IsOp(mul, "Mul") || mul.inputs.size() != 2) continue;
    const std::optional<int> s = ScaleOperand(g, mul);
    if (!s) continue;
    const int y = mul.outputs[0];
    const int c = fusion::SoleConsumer(uses, y);
    if (c < 0 || ctx.IsRemoved(c) || !IsPointwiseConv(g, g.nodes[c], y)) continue;
    const int scale = mul.inputs[*s], x = mul.inputs[1 - *s];
    // Scaling the weights must cost less than the pass over x it replaces: O*C against C*H*W
    // multiplications (EfficientNet's last stages have more weights than pixels).
    const Shape& xd = g.values[x].type.dims;
    const int64_t maps = g.values[g.nodes[c].inputs[1]].constant->shape()[0];
    if (maps > xd[2] * xd[3]) continue;
    Node& conv = g.nodes[c];
    conv.inputs[0] = x;
    if (conv.inputs.size() < 5) conv.inputs.resize(5, kNoValue);
    conv.inputs[4] = scale;
    conv.attrs.Set(std::string(kFusedInputScaleAttr), int64_t{1});
    ctx.RemoveNode(n);
    ctx.CountRewrite();
  }
  return Status::Ok();
}

}  // namespace accel::core
