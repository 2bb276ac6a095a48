// Per-node wall-time accounting behind Session profiling (SessionOptions::enable_profiling).
//
// The executor keeps one NodeTiming per node and fills it only while profiling is on; the
// names and details users see are built from it on request, never during a run.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "accel/tensor.h"
#include "core/graph.h"

namespace accel::core {

struct NodeTiming {
  int64_t runs = 0;
  std::chrono::nanoseconds total{0};
  // The input shapes of the latest run (nullopt for omitted inputs), as the tensors are stored:
  // a channel-blocked input shows its physical shape.
  std::vector<std::optional<Shape>> input_shapes;

  // Remembers the shapes of the node's inputs; reallocates only when they change.
  void RecordInputs(const Node& node, std::span<const Tensor> values);
};

// The op type with what the optimizer fused into the node (core/fused_ops.h), in execution
// order: "Conv+Relu", "Conv+Add+Relu" (accel_sum 1), "Conv+SiLU+Add" (accel_sum 2),
// "MatMul+Add" (bias input). Plain nodes keep their op type; other domains are prefixed
// ("accel.Attention"), and accel.ElementwiseChain lists its ops ("...(Mul+Add+Sigmoid)").
std::string FusedOpType(const Node& node);

// "1x3x224x224, 32x3x3x3" (omitted inputs as "-"; scalars as "scalar").
std::string InputShapesText(std::span<const std::optional<Shape>> shapes);

}  // namespace accel::core
