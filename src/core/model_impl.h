// What accel::Model holds: the validated graph with every node bound to its OpDef.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "accel/model.h"
#include "core/graph.h"
#include "core/op_def.h"
#include "core/optimizer.h"

namespace accel::memory {
class ModelWeights;
}

namespace accel::internal {

struct ModelImpl {
  core::Graph graph;
  std::vector<const core::OpDef*> op_defs;  // per node, same order as graph.nodes
  std::vector<int> op_versions;             // per node: the op version in force
  std::vector<ValueInfo> inputs;            // caller-fed inputs (no initializer default)
  std::vector<ValueInfo> outputs;
  // Leases on the process-wide shared constants and the weight cache file (memory/).
  std::shared_ptr<memory::ModelWeights> weights;
  std::vector<core::PassReport> optimizer_report;  // per pass run at load, in order
  // Overridable initializers (graph inputs with a default) that the optimizer folded away:
  // feeding one is refused with an explanation instead of "unknown input".
  std::vector<std::string> folded_inputs;
  Precision precision = Precision::kFloat32;  // LoadOptions::precision, checked against the CPU
};

// Binds each node to the CPU backend's OpDef and resolves its version. Reports every
// unsupported op of the graph in one error, not just the first.
Status BindOps(ModelImpl& model);

// Builds ModelImpl from an imported graph: bind ops, infer types, optimize (per the options'
// level and disabled passes), fill input/output metadata.
Result<ModelImpl> FinishModel(core::Graph graph, const LoadOptions& options = {});

}  // namespace accel::internal
