// Pattern checks shared by the post-op fusion passes (fuse_activation, fuse_residual_add).
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "core/fused_ops.h"
#include "core/graph.h"

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

}  // namespace accel::core::fusion
