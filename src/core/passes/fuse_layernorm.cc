// The decomposed layer normalization that exporters write before opset 17 -> one
// accel.LayerNormalization node (core/fused_ops.h):
//   m = ReduceMean(x, trailing axes); d = x - m; v = ReduceMean(d^2); s = Sqrt(v + eps);
//   n = d / s  (or d * Reciprocal(s), d * (1 / s));  [y = n * gamma]  [y = y + beta]
// with d^2 as Pow(d, 2) or d * d. Fused only for float32 x of known rank, axes that are exactly
// the trailing ones, a constant scalar eps, and constant gamma/beta whose shape is the
// normalized dims (so the Mul/Add never broadcast x). Every intermediate value must feed only
// the pattern. The pass also moves ONNX LayerNormalization nodes of the same restricted form
// onto accel.LayerNormalization, whose float32 kernel is the faster one.
#include <optional>
#include <string>
#include <vector>

#include "core/fused_ops.h"
#include "core/optimizer.h"
#include "core/passes/fusion_util.h"
#include "core/shape_utils.h"

namespace accel::core {

namespace {

using fusion::IsConstantNear;
using fusion::IsFloat32;
using fusion::IsOp;
using fusion::OtherInput;
using fusion::ScalarConstant;
using fusion::SoleConsumer;

// The first normalized axis when `node` is a keepdims ReduceMean over exactly the trailing
// axes of its float32 input of known rank; nullopt otherwise.
std::optional<int64_t> TrailingReduceMean(const Graph& g, const Node& node) {
  if (!IsOp(node, "ReduceMean") || node.inputs.empty()) return std::nullopt;
  const int x = node.inputs[0];
  if (!IsFloat32(g, x) || !g.values[x].type.has_shape) return std::nullopt;
  Result<int64_t> keepdims = node.attrs.GetInt("keepdims", 1);
  if (!keepdims.ok() || *keepdims != 1) return std::nullopt;
  Result<std::vector<int64_t>> axes = node.attrs.GetInts("axes");
  if (!axes.ok()) return std::nullopt;
  if (node.inputs.size() > 1 && node.inputs[1] != kNoValue) {
    // Opset 18: axes is an input, which must be a fixed constant.
    const int a = node.inputs[1];
    if (!IsFixedConstant(g, a)) return std::nullopt;
    axes = ReadInts(*g.values[a].constant);
    if (!axes.ok()) return std::nullopt;
  }
  if (node.inputs.size() > 2 || axes->empty()) return std::nullopt;
  const int64_t rank = g.values[x].type.rank();
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  for (int64_t a : *axes) {
    Result<int64_t> axis = NormalizeAxis(a, rank);
    if (!axis.ok() || seen[*axis]) return std::nullopt;
    seen[*axis] = true;
  }
  const int64_t first = rank - static_cast<int64_t>(axes->size());
  for (int64_t i = first; i < rank; ++i) {
    if (!seen[i]) return std::nullopt;
  }
  return first;
}

// A fixed float32 constant whose shape, without leading 1s, is x's dims from `axis` on. An
// unknown dim of x only matches a constant dim above 1 (the unfused op would fail otherwise).
bool IsNormalizedParam(const Graph& g, int p, int x, int64_t axis) {
  if (!IsFixedConstant(g, p) || !IsFloat32(g, p)) return false;
  const Shape& shape = g.values[p].constant->shape();
  size_t lead = 0;
  while (lead < shape.size() && shape[lead] == 1) ++lead;
  const std::vector<int64_t>& xd = g.values[x].type.dims;
  const size_t norm = xd.size() - static_cast<size_t>(axis);
  if (shape.size() - lead > norm) return false;
  // Leading 1s beyond the normalized rank would raise the output's rank.
  if (shape.size() > xd.size()) return false;
  // Fewer dims than normalized ones: broadcasting over a normalized dim, not a per-element
  // parameter; left unfused.
  if (shape.size() - lead != norm) return false;
  for (size_t i = 0; i < norm; ++i) {
    const int64_t want = xd[static_cast<size_t>(axis) + i];
    const int64_t have = shape[lead + i];
    if (want >= 0 ? have != want : have <= 1) return false;
  }
  return true;
}

struct Match {
  int x = kNoValue;
  int64_t axis = 0;
  float epsilon = 0;
  int gamma = kNoValue;
  int beta = kNoValue;
  int output = kNoValue;
  std::vector<int> nodes;
};

// d / s, d * Reciprocal(s) or d * Div(1, s): returns the normalized value's producer, or -1.
// Appends the nodes it used to `nodes`.
int MatchNormalize(const Graph& g, const ValueUses& uses, int d, int s, int consumer,
                   std::vector<int>& nodes) {
  const Node& c = g.nodes[consumer];
  if (IsOp(c, "Div") && c.inputs.size() == 2 && c.inputs[0] == d && c.inputs[1] == s) {
    return consumer;
  }
  // Otherwise s must feed a reciprocal that feeds this Mul.
  const int r = SoleConsumer(uses, s);
  if (r < 0) return -1;
  const Node& rn = g.nodes[r];
  const bool reciprocal = IsOp(rn, "Reciprocal") && rn.inputs.size() == 1;
  const bool one_over = IsOp(rn, "Div") && rn.inputs.size() == 2 && rn.inputs[1] == s &&
                        IsConstantNear(g, rn.inputs[0], 1.0f);
  if (!reciprocal && !one_over) return -1;
  if (!IsOp(c, "Mul") || OtherInput(c, d) != rn.outputs[0]) return -1;
  if (SoleConsumer(uses, rn.outputs[0]) != consumer) return -1;
  nodes.push_back(r);
  return consumer;
}

std::optional<Match> MatchAt(const Graph& g, const ValueUses& uses, const PassContext& ctx,
                             int r1) {
  const Node& mean_node = g.nodes[r1];
  std::optional<int64_t> axis = TrailingReduceMean(g, mean_node);
  if (!axis) return std::nullopt;
  Match m;
  m.x = mean_node.inputs[0];
  m.axis = *axis;
  const int mean = mean_node.outputs[0];
  const int sub = SoleConsumer(uses, mean);
  if (sub < 0 || !IsOp(g.nodes[sub], "Sub")) return std::nullopt;
  if (g.nodes[sub].inputs.size() != 2 || g.nodes[sub].inputs[0] != m.x ||
      g.nodes[sub].inputs[1] != mean) {
    return std::nullopt;
  }
  const int d = g.nodes[sub].outputs[0];
  if (!IsFloat32(g, d) || uses.is_graph_output(d)) return std::nullopt;
  // d feeds the square and the normalization, nothing else (the square may read it twice).
  int square = -1;
  int normalize = -1;
  for (const ValueUse& use : uses.consumers(d)) {
    const Node& c = g.nodes[use.node];
    const bool is_square =
        (IsOp(c, "Pow") && c.inputs.size() == 2 && c.inputs[0] == d &&
         IsConstantNear(g, c.inputs[1], 2.0f)) ||
        (IsOp(c, "Mul") && c.inputs.size() == 2 && c.inputs[0] == d && c.inputs[1] == d);
    if (is_square && (square < 0 || square == use.node)) {
      square = use.node;
    } else if (normalize < 0) {
      normalize = use.node;
    } else {
      return std::nullopt;
    }
  }
  if (square < 0 || normalize < 0) return std::nullopt;
  const int r2 = SoleConsumer(uses, g.nodes[square].outputs[0]);
  if (r2 < 0) return std::nullopt;
  std::optional<int64_t> axis2 = TrailingReduceMean(g, g.nodes[r2]);
  if (!axis2 || *axis2 != m.axis) return std::nullopt;
  const int add = SoleConsumer(uses, g.nodes[r2].outputs[0]);
  if (add < 0 || !IsOp(g.nodes[add], "Add")) return std::nullopt;
  std::optional<float> eps = ScalarConstant(g, OtherInput(g.nodes[add], g.nodes[r2].outputs[0]));
  if (!eps || !(*eps >= 0.0f)) return std::nullopt;
  m.epsilon = *eps;
  const int sqrt = SoleConsumer(uses, g.nodes[add].outputs[0]);
  if (sqrt < 0 || !IsOp(g.nodes[sqrt], "Sqrt") || g.nodes[sqrt].inputs.size() != 1) {
    return std::nullopt;
  }
  m.nodes = {r1, sub, square, r2, add, sqrt};
  const int norm = MatchNormalize(g, uses, d, g.nodes[sqrt].outputs[0], normalize, m.nodes);
  if (norm < 0) return std::nullopt;
  m.nodes.push_back(norm);
  m.output = g.nodes[norm].outputs[0];
  // Optional scale, then optional bias.
  const int mul = SoleConsumer(uses, m.output);
  if (mul >= 0 && IsOp(g.nodes[mul], "Mul")) {
    const int gamma = OtherInput(g.nodes[mul], m.output);
    if (gamma != kNoValue && IsNormalizedParam(g, gamma, m.x, m.axis)) {
      m.gamma = gamma;
      m.nodes.push_back(mul);
      m.output = g.nodes[mul].outputs[0];
    }
  }
  const int bias = SoleConsumer(uses, m.output);
  if (bias >= 0 && IsOp(g.nodes[bias], "Add")) {
    const int beta = OtherInput(g.nodes[bias], m.output);
    if (beta != kNoValue && IsNormalizedParam(g, beta, m.x, m.axis)) {
      m.beta = beta;
      m.nodes.push_back(bias);
      m.output = g.nodes[bias].outputs[0];
    }
  }
  for (int n : m.nodes) {
    if (ctx.IsRemoved(n) || g.nodes[n].outputs.size() != 1) return std::nullopt;
    if (!IsFloat32(g, g.nodes[n].outputs[0])) return std::nullopt;
    // Before opset 7 binary ops broadcast only by attribute.
    if (g.nodes[n].attrs.Has("broadcast")) return std::nullopt;
  }
  return m;
}

// ONNX LayerNormalization (opset 17) with float32 stash whose statistics outputs nobody reads
// and whose Scale/B have the normalized shape: the same op, run by the float32 kernel of
// accel.LayerNormalization instead of the general one (double accumulation, any broadcast).
bool RetargetOnnxLayerNorm(Graph& g, const ValueUses& uses, Node& node) {
  if (!node.domain.empty() || node.op_type != "LayerNormalization" || node.inputs.size() < 2 ||
      node.outputs.empty()) {
    return false;
  }
  const int x = node.inputs[0];
  if (!IsFloat32(g, x) || !g.values[x].type.has_shape || !IsFloat32(g, node.outputs[0])) {
    return false;
  }
  Result<int64_t> stash = node.attrs.GetInt("stash_type", 1);
  Result<int64_t> axis = node.attrs.GetInt("axis", -1);
  Result<float> eps = node.attrs.GetFloat("epsilon", 1e-5f);
  if (!stash.ok() || *stash != 1 || !axis.ok() || !eps.ok() || !(*eps >= 0.0f)) return false;
  Result<int64_t> first = NormalizeAxis(*axis, g.values[x].type.rank());
  if (!first.ok()) return false;
  for (size_t i = 1; i < node.inputs.size() && i < 3; ++i) {
    if (node.inputs[i] == kNoValue && i == 2) continue;
    if (!IsNormalizedParam(g, node.inputs[i], x, *first)) return false;
  }
  for (size_t i = 1; i < node.outputs.size(); ++i) {
    const int v = node.outputs[i];
    if (v != kNoValue && (uses.is_graph_output(v) || !uses.consumers(v).empty())) return false;
  }
  node.domain = std::string(kAccelDomain);
  node.opset = 1;
  node.outputs.resize(1);
  node.attrs = Attributes();
  node.attrs.Set("axis", *first);
  node.attrs.Set("epsilon", *eps);
  return true;
}

}  // namespace

Status RunFuseLayerNorm(Graph& g, PassContext& ctx) {
  const ValueUses uses(g);
  const size_t count = g.nodes.size();
  for (size_t n = 0; n < count; ++n) {
    if (ctx.IsRemoved(n)) continue;
    if (RetargetOnnxLayerNorm(g, uses, g.nodes[n])) {
      ctx.CountRewrite();
      continue;
    }
    std::optional<Match> m = MatchAt(g, uses, ctx, static_cast<int>(n));
    if (!m) continue;
    Node fused;
    fused.name = g.nodes[m->nodes.back()].name;
    fused.op_type = "LayerNormalization";
    fused.domain = std::string(kAccelDomain);
    fused.opset = 1;
    fused.inputs = {m->x, m->gamma, m->beta};
    while (fused.inputs.back() == kNoValue) fused.inputs.pop_back();
    fused.outputs = {m->output};
    fused.attrs.Set("axis", m->axis);
    fused.attrs.Set("epsilon", m->epsilon);
    for (int r : m->nodes) ctx.RemoveNode(r);
    g.nodes.push_back(std::move(fused));
    ctx.CountRewrite();
  }
  return Status::Ok();
}

}  // namespace accel::core
