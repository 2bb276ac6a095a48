// Pattern checks shared by the post-op fusion passes (fuse_activation, fuse_residual_add).
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

#include "core/fused_ops.h"
#include "core/graph.h"
#include "core/optimizer.h"

namespace accel::core::fusion {

// Conv, Gemm and MatMul of the default domain carry fused post-ops (core/fused_ops.h).
inline bool IsPostOpHost(const Node& node) {
  return node.domain.empty() && node.outputs.size() == 1 &&
         (node.op_type == "Conv" || node.op_type == "Gemm" || node.op_type == "MatMul");
}

// Where a host's fused addend goes: after the op's own inputs and MatMul's fused bias.
inline size_t AddendSlot(const Node&) { return 3; }

inline bool HasActivation(const Node& node) { return node.attrs.Has(kFusedActivationAttr); }
inline bool HasSum(const Node& node) { return node.attrs.Has(kFusedSumAttr); }

// A default-domain node of type `op` with one output.
inline bool IsOp(const Node& node, std::string_view op) {
  return node.domain.empty() && node.op_type == op && node.outputs.size() == 1;
}

// The node reading `v` when it is the only reader (and `v` is not a graph output), else -1.
inline int SoleConsumer(const ValueUses& uses, int v) {
  const std::vector<ValueUse>& c = uses.consumers(v);
  if (c.size() != 1 || uses.is_graph_output(v)) return -1;
  return c[0].node;
}

inline bool IsFloat32(const Graph& g, int v) {
  return v != kNoValue && g.values[v].type.dtype == DType::kFloat32;
}

// The value of a float32 constant of one element that the caller cannot override.
inline std::optional<float> ScalarConstant(const Graph& g, int v) {
  if (v == kNoValue || !g.values[v].constant) return std::nullopt;
  for (int in : g.inputs) {
    if (in == v) return std::nullopt;
  }
  const Tensor& t = *g.values[v].constant;
  if (t.dtype() != DType::kFloat32 || t.element_count() != 1) return std::nullopt;
  return t.data_as<float>()[0];
}

// Whether a constant is `want` up to the rounding of its decimal spelling in exporters.
inline bool IsConstantNear(const Graph& g, int v, float want) {
  std::optional<float> c = ScalarConstant(g, v);
  if (!c) return false;
  const float diff = *c > want ? *c - want : want - *c;
  return diff <= 1e-6f * (want < 0 ? -want : want) + 1e-7f;
}

// The input of a two-input node other than `v`, or kNoValue when `v` is not exactly one of them.
inline int OtherInput(const Node& node, int v) {
  if (node.inputs.size() != 2) return kNoValue;
  if (node.inputs[0] == v && node.inputs[1] != v) return node.inputs[1];
  if (node.inputs[1] == v && node.inputs[0] != v) return node.inputs[0];
  return kNoValue;
}

// Same rank and dims, where a dim unknown on one side must be unknown on the other: Add never
// broadcasts between them as far as load-time types can tell (the kernel checks the run).
inline bool SameShape(const TensorType& a, const TensorType& b) {
  return a.has_shape && b.has_shape && a.dims == b.dims;
}

// When `y` only feeds an Add whose other operand has y's exact shape (a residual connection),
// returns that operand and sets `add_node`; else kNoValue.
inline int FusableAddend(const Graph& g, const ValueUses& uses, const PassContext& ctx, int y,
                         int* add_node) {
  if (uses.is_graph_output(y) || uses.consumers(y).size() != 1) return kNoValue;
  const int a = uses.consumers(y)[0].node;
  const Node& add = g.nodes[a];
  if (ctx.IsRemoved(a) || !add.domain.empty() || add.op_type != "Add" || add.outputs.size() != 1) {
    return kNoValue;
  }
  const int r = OtherInput(add, y);
  const int z = add.outputs[0];
  if (r == kNoValue || !IsFloat32(g, r) || !IsFloat32(g, z)) return kNoValue;
  const TensorType& yt = g.values[y].type;
  if (!SameShape(yt, g.values[r].type) || !SameShape(yt, g.values[z].type)) return kNoValue;
  // Before opset 7 Add broadcasts only by attribute; a broadcast there is no residual.
  if (add.attrs.Has("broadcast") || add.attrs.Has("axis")) return kNoValue;
  *add_node = a;
  return r;
}

}  // namespace accel::core::fusion
