// Conv/Gemm/MatMul followed by an activation -> one node with the activation as a oneDNN
// post-op (core/fused_ops.h). Matches the single activation ops, SiLU written as
// x * Sigmoid(x), and Gelu written with Erf in the forms exporters produce:
//   (x * (Erf(x / sqrt2) + 1)) * 0.5,  x * ((Erf(x / sqrt2) + 1) * 0.5),
//   (x * 0.5) * (Erf(x / sqrt2) + 1),  with x * (1 / sqrt2) in place of x / sqrt2.
// The host's output must feed only the pattern, and every value in it must be float32.
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "core/optimizer.h"
#include "core/passes/fusion_util.h"

namespace accel::core {

namespace {

using fusion::IsConstantNear;
using fusion::IsFloat32;
using fusion::IsOp;
using fusion::OtherInput;
using fusion::ScalarConstant;
using fusion::SoleConsumer;

struct Match {
  std::string activation;
  float alpha = 0.0f;
  float beta = 0.0f;
  int output = kNoValue;   // the pattern's result, which the host produces from now on
  std::vector<int> nodes;  // the pattern's nodes, removed once fused
};

// A two-input node computing `v` op constant, with the constant near `want`.
bool IsBinaryWithConstant(const Graph& g, const Node& node, const char* op, int v, float want) {
  if (!IsOp(node, op)) return false;
  const int other = OtherInput(node, v);
  // Div is not commutative: v must be the dividend.
  if (std::string_view(op) == "Div" && (other == kNoValue || node.inputs[0] != v)) return false;
  return other != kNoValue && IsConstantNear(g, other, want);
}

std::optional<Match> MatchSingle(const Graph& g, const PassContext& ctx, int n, int y) {
  const Node& a = g.nodes[n];
  if (!a.domain.empty() || a.outputs.size() != 1 || a.inputs.empty() || a.inputs[0] != y) {
    return std::nullopt;
  }
  Match m;
  m.output = a.outputs[0];
  m.nodes = {n};
  const std::string& op = a.op_type;
  if (op == "Relu" || op == "Sigmoid" || op == "Tanh" || op == "HardSwish") {
    m.activation = op;
  } else if (op == "LeakyRelu") {
    m.activation = op;
    Result<float> alpha = a.attrs.GetFloat("alpha", 0.01f);
    if (!alpha.ok()) return std::nullopt;
    m.alpha = *alpha;
  } else if (op == "HardSigmoid") {
    m.activation = op;
    Result<float> alpha = a.attrs.GetFloat("alpha", 0.2f);
    Result<float> beta = a.attrs.GetFloat("beta", 0.5f);
    if (!alpha.ok() || !beta.ok()) return std::nullopt;
    m.alpha = *alpha;
    m.beta = *beta;
  } else if (op == "Clip") {
    m.activation = op;
    const float inf = std::numeric_limits<float>::infinity();
    if (ctx.op_version(n) < 11) {
      Result<float> lo = a.attrs.GetFloat("min", -inf);
      Result<float> hi = a.attrs.GetFloat("max", inf);
      if (!lo.ok() || !hi.ok()) return std::nullopt;
      m.alpha = *lo;
      m.beta = *hi;
    } else {
      // Bounds must be constants fixed at load time; an omitted bound is no bound.
      m.alpha = -inf;
      m.beta = inf;
      for (size_t i = 1; i < a.inputs.size() && i < 3; ++i) {
        if (a.inputs[i] == kNoValue) continue;
        std::optional<float> bound = ScalarConstant(g, a.inputs[i]);
        if (!bound) return std::nullopt;
        (i == 1 ? m.alpha : m.beta) = *bound;
      }
      if (a.inputs.size() > 3) return std::nullopt;
    }
    // Crossed or NaN bounds: leave the reference semantics to the Clip kernel.
    if (!(m.alpha <= m.beta)) return std::nullopt;
  } else if (op == "Gelu") {
    Result<std::string> approximate = a.attrs.GetString("approximate", "none");
    if (!approximate.ok()) return std::nullopt;
    if (*approximate == "none") {
      m.activation = "Gelu";
    } else if (*approximate == "tanh") {
      m.activation = "GeluTanh";
    } else {
      return std::nullopt;
    }
  } else {
    return std::nullopt;
  }
  if (a.inputs.size() != 1 && op != "Clip") return std::nullopt;
  return m;
}

// x * Sigmoid(x), where `first`/`second` are the two nodes reading x.
std::optional<Match> MatchSiLU(const Graph& g, const ValueUses& uses, int first, int second,
                               int y) {
  for (int s : {first, second}) {
    const int mul = s == first ? second : first;
    const Node& sig = g.nodes[s];
    if (!IsOp(sig, "Sigmoid") || sig.inputs.size() != 1 || sig.inputs[0] != y) continue;
    if (SoleConsumer(uses, sig.outputs[0]) != mul) continue;
    const Node& prod = g.nodes[mul];
    if (!IsOp(prod, "Mul") || OtherInput(prod, sig.outputs[0]) != y) continue;
    return Match{.activation = "SiLU", .output = prod.outputs[0], .nodes = {s, mul}};
  }
  return std::nullopt;
}

// The Erf forms of Gelu listed at the top, where `first`/`second` are the two nodes reading x.
std::optional<Match> MatchGeluErf(const Graph& g, const ValueUses& uses, int first, int second,
                                  int y) {
  constexpr float kSqrt2 = 1.41421356f;
  constexpr float kInvSqrt2 = 0.70710678f;
  for (int d : {first, second}) {
    const int q = d == first ? second : first;
    const Node& scale = g.nodes[d];
    if (!IsBinaryWithConstant(g, scale, "Div", y, kSqrt2) &&
        !IsBinaryWithConstant(g, scale, "Mul", y, kInvSqrt2)) {
      continue;
    }
    const int e = SoleConsumer(uses, scale.outputs[0]);
    if (e < 0 || !IsOp(g.nodes[e], "Erf") || g.nodes[e].inputs.size() != 1) continue;
    const int a1 = SoleConsumer(uses, g.nodes[e].outputs[0]);
    if (a1 < 0 || !IsBinaryWithConstant(g, g.nodes[a1], "Add", g.nodes[e].outputs[0], 1.0f)) {
      continue;
    }
    const int sum = g.nodes[a1].outputs[0];  // 1 + erf(x / sqrt2)
    const int p = SoleConsumer(uses, sum);
    if (p < 0) continue;
    const Node& qn = g.nodes[q];
    std::vector<int> nodes = {d, e, a1};
    if (p == q && IsOp(qn, "Mul") && OtherInput(qn, sum) == y) {
      // (x * sum) * 0.5
      const int r = SoleConsumer(uses, qn.outputs[0]);
      if (r < 0 || !IsBinaryWithConstant(g, g.nodes[r], "Mul", qn.outputs[0], 0.5f)) continue;
      nodes.insert(nodes.end(), {q, r});
      return Match{.activation = "Gelu", .output = g.nodes[r].outputs[0], .nodes = nodes};
    }
    if (IsBinaryWithConstant(g, g.nodes[p], "Mul", sum, 0.5f)) {
      // x * (sum * 0.5)
      const int half = g.nodes[p].outputs[0];
      if (SoleConsumer(uses, half) != q || !IsOp(qn, "Mul") || OtherInput(qn, half) != y) continue;
      nodes.insert(nodes.end(), {p, q});
      return Match{.activation = "Gelu", .output = qn.outputs[0], .nodes = nodes};
    }
    if (IsBinaryWithConstant(g, qn, "Mul", y, 0.5f)) {
      // (x * 0.5) * sum
      if (SoleConsumer(uses, qn.outputs[0]) != p || !IsOp(g.nodes[p], "Mul") ||
          OtherInput(g.nodes[p], qn.outputs[0]) != sum) {
        continue;
      }
      nodes.insert(nodes.end(), {q, p});
      return Match{.activation = "Gelu", .output = g.nodes[p].outputs[0], .nodes = nodes};
    }
  }
  return std::nullopt;
}

std::optional<Match> MatchActivation(const Graph& g, const ValueUses& uses, const PassContext& ctx,
                                     int y) {
  if (uses.is_graph_output(y)) return std::nullopt;
  const std::vector<ValueUse>& c = uses.consumers(y);
  if (c.size() == 1) return MatchSingle(g, ctx, c[0].node, y);
  if (c.size() != 2 || c[0].node == c[1].node) return std::nullopt;
  if (auto m = MatchSiLU(g, uses, c[0].node, c[1].node, y)) return m;
  return MatchGeluErf(g, uses, c[0].node, c[1].node, y);
}

}  // namespace

Status RunFuseActivation(Graph& g, PassContext& ctx) {
  const ValueUses uses(g);
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    Node& host = g.nodes[n];
    if (ctx.IsRemoved(n) || !fusion::IsPostOpHost(host) || fusion::HasActivation(host)) continue;
    const int y = host.outputs[0];
    if (!IsFloat32(g, y)) continue;
    std::optional<Match> m = MatchActivation(g, uses, ctx, y);
    if (!m) continue;
    bool ok = IsFloat32(g, m->output);
    for (int node : m->nodes) ok = ok && !ctx.IsRemoved(node);
    if (!ok) continue;
    host.attrs.Set(std::string(kFusedActivationAttr), m->activation);
    if (m->alpha != 0.0f) host.attrs.Set(std::string(kFusedAlphaAttr), m->alpha);
    if (m->beta != 0.0f) host.attrs.Set(std::string(kFusedBetaAttr), m->beta);
    host.outputs[0] = m->output;
    for (int node : m->nodes) ctx.RemoveNode(node);
    ctx.CountRewrite();
  }
  return Status::Ok();
}

}  // namespace accel::core
