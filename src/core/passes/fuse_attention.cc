// Scaled dot-product attention -> one accel.Attention node (core/fused_ops.h):
//   [Q' = Q * c or Q / c]  S = MatMul(Q', Kt)  [S * c or S / c]  [S + Mask]
//   P = Softmax(S, last axis)  Y = MatMul(P, V)
// The scales are constant scalars and fold into one factor on the scores. Fused only for
// float32 operands of known rank >= 2, a Mask whose rank does not exceed the scores' (it may
// not broadcast them up), and when every intermediate value feeds only the pattern.
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "core/fused_ops.h"
#include "core/optimizer.h"
#include "core/passes/fusion_util.h"
#include "core/shape_utils.h"

namespace accel::core {

namespace {

using fusion::IsFloat32;
using fusion::IsOp;
using fusion::OtherInput;
using fusion::ScalarConstant;
using fusion::SoleConsumer;

int64_t RankOf(const Graph& g, int v) {
  return g.values[v].type.has_shape ? g.values[v].type.rank() : -1;
}

// The factor `node` applies to `v` when it is v * c, c * v or v / c with c a finite, non-zero
// constant scalar; nullopt otherwise.
std::optional<float> ScaleBy(const Graph& g, const Node& node, int v) {
  const bool mul = IsOp(node, "Mul");
  if (!mul && !IsOp(node, "Div")) return std::nullopt;
  const int other = OtherInput(node, v);
  if (other == kNoValue || (!mul && node.inputs[0] != v)) return std::nullopt;
  std::optional<float> c = ScalarConstant(g, other);
  if (!c || !(*c != 0.0f) || !std::isfinite(*c)) return std::nullopt;
  // A constant of rank above v's would broadcast v up.
  if (g.values[other].constant->rank() > RankOf(g, v)) return std::nullopt;
  return mul ? *c : 1.0f / *c;
}

struct Match {
  int q = kNoValue;
  int kt = kNoValue;
  int v = kNoValue;
  int mask = kNoValue;
  float scale = 1.0f;
  int output = kNoValue;
  std::vector<int> nodes;
};

bool IsPlainMatMul(const Graph& g, const Node& node) {
  if (!IsOp(node, "MatMul") || node.inputs.size() != 2) return false;
  for (int in : node.inputs) {
    if (!IsFloat32(g, in) || RankOf(g, in) < 2) return false;
  }
  return IsFloat32(g, node.outputs[0]);
}

std::optional<Match> MatchAt(const Graph& g, const ValueUses& uses, const PassContext& ctx,
                             int mm1) {
  const Node& first = g.nodes[mm1];
  if (!IsPlainMatMul(g, first)) return std::nullopt;
  Match m;
  m.q = first.inputs[0];
  m.kt = first.inputs[1];
  m.nodes = {mm1};
  int s = first.outputs[0];
  const int64_t rank = RankOf(g, s);
  if (rank < 2) return std::nullopt;
  // A scale on Q whose result only feeds this MatMul.
  const int qp = g.values[m.q].producer;
  if (qp >= 0 && !ctx.IsRemoved(qp) && SoleConsumer(uses, m.q) == mm1) {
    const Node& pn = g.nodes[qp];
    for (int in : pn.inputs) {
      std::optional<float> c = in != kNoValue && IsFloat32(g, in) && RankOf(g, in) == RankOf(g, m.q)
                                   ? ScaleBy(g, pn, in)
                                   : std::nullopt;
      if (!c) continue;
      m.scale *= *c;
      m.q = in;
      m.nodes.push_back(qp);
      break;
    }
  }
  int next = SoleConsumer(uses, s);
  // Scales on the scores.
  while (next >= 0) {
    std::optional<float> c = ScaleBy(g, g.nodes[next], s);
    if (!c) break;
    m.scale *= *c;
    m.nodes.push_back(next);
    s = g.nodes[next].outputs[0];
    next = SoleConsumer(uses, s);
  }
  if (next < 0) return std::nullopt;
  if (IsOp(g.nodes[next], "Add")) {
    const int mask = OtherInput(g.nodes[next], s);
    if (mask == kNoValue || !IsFloat32(g, mask)) return std::nullopt;
    const int64_t mask_rank = RankOf(g, mask);
    if (mask_rank < 0 || mask_rank > rank || g.nodes[next].attrs.Has("broadcast")) {
      return std::nullopt;
    }
    m.mask = mask;
    m.nodes.push_back(next);
    s = g.nodes[next].outputs[0];
    if (RankOf(g, s) != rank) return std::nullopt;
    next = SoleConsumer(uses, s);
    if (next < 0) return std::nullopt;
  }
  const Node& softmax = g.nodes[next];
  if (!IsOp(softmax, "Softmax") || softmax.inputs.size() != 1) return std::nullopt;
  // Before opset 13 Softmax flattens from `axis` (default 1) on, which is the last axis only
  // when axis is the last one.
  Result<int64_t> axis = softmax.attrs.GetInt("axis", ctx.op_version(next) < 13 ? 1 : -1);
  if (!axis.ok()) return std::nullopt;
  Result<int64_t> norm = NormalizeAxis(*axis, rank);
  if (!norm.ok() || *norm != rank - 1) return std::nullopt;
  m.nodes.push_back(next);
  const int p = softmax.outputs[0];
  const int mm2 = SoleConsumer(uses, p);
  if (mm2 < 0 || !IsPlainMatMul(g, g.nodes[mm2]) || g.nodes[mm2].inputs[0] != p ||
      g.nodes[mm2].inputs[1] == p) {
    return std::nullopt;
  }
  m.v = g.nodes[mm2].inputs[1];
  m.nodes.push_back(mm2);
  m.output = g.nodes[mm2].outputs[0];
  for (int n : m.nodes) {
    if (ctx.IsRemoved(n) || !IsFloat32(g, g.nodes[n].outputs[0])) return std::nullopt;
    // A fused post-op on either MatMul is not part of this pattern.
    if (g.nodes[n].attrs.Has(kFusedActivationAttr) || g.nodes[n].attrs.Has(kFusedSumAttr)) {
      return std::nullopt;
    }
  }
  return m;
}

}  // namespace

Status RunFuseAttention(Graph& g, PassContext& ctx) {
  const ValueUses uses(g);
  const size_t count = g.nodes.size();
  for (size_t n = 0; n < count; ++n) {
    if (ctx.IsRemoved(n)) continue;
    std::optional<Match> m = MatchAt(g, uses, ctx, static_cast<int>(n));
    if (!m) continue;
    Node fused;
    fused.name = g.nodes[m->nodes.back()].name;
    fused.op_type = "Attention";
    fused.domain = std::string(kAccelDomain);
    fused.opset = 1;
    fused.inputs = {m->q, m->kt, m->v};
    if (m->mask != kNoValue) fused.inputs.push_back(m->mask);
    fused.outputs = {m->output};
    fused.attrs.Set("scale", m->scale);
    for (int r : m->nodes) ctx.RemoveNode(r);
    g.nodes.push_back(std::move(fused));
    ctx.CountRewrite();
  }
  return Status::Ok();
}

}  // namespace accel::core
