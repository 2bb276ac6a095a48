// Creating one node's kernel and computing it: shared by the executor (every run) and the
// optimizer's constant folding (once at load).
#pragma once

#include <memory>
#include <span>

#include "accel/status.h"
#include "accel/tensor.h"
#include "core/graph.h"
#include "core/kernel.h"
#include "core/op_def.h"

namespace accel::core {

// Creates node n's kernel through its OpDef with the graph's static types and constants.
// Exceptions from the factory become Internal errors. Messages omit the node label.
Result<std::unique_ptr<Kernel>> CreateNodeKernel(const Graph& g, size_t n, const OpDef& def,
                                                 int version, int num_threads,
                                                 Precision precision = Precision::kFloat32);

// Runs node n's shape rule on the concrete inputs in `values` (indexed like g.values), then its
// kernel, and checks the outputs against the rule. Outputs land in `values`.
Status ComputeNode(const Graph& g, size_t n, const OpDef& def, int version, Kernel& kernel,
                   std::span<Tensor> values, int num_threads);

}  // namespace accel::core
