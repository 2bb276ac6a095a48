// The graph optimizer: an ordered table of passes run by FinishModel between the first
// type inference and the final bind + inference.
//
// A pass is a function `Status Run<Pass>(Graph&, PassContext&)` listed once in the table in
// optimizer.cc with its name (for LoadOptions::disabled_passes and --disable-pass) and level
// (LoadOptions::optimization_level: 0 none, 1 basic, 2 all). A pass may rewrite nodes, append
// nodes and add values, and removes nodes only through PassContext::RemoveNode, so node indices
// stay stable while it runs. After a pass that counted rewrites the runner erases the removed
// nodes, sorts the graph topologically again and rebinds + re-infers types, so every pass starts
// from a consistent, bound, typed graph.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "accel/model.h"
#include "accel/status.h"
#include "core/graph.h"
#include "core/op_def.h"

namespace accel::internal {
struct ModelImpl;
}

namespace accel::core {

class PassContext {
 public:
  explicit PassContext(const internal::ModelImpl& model) : model_(model) {}

  // The OpDef and op version bound to node n when the pass started (nullptr for nodes the
  // pass appended).
  const OpDef* op_def(size_t n) const;
  int op_version(size_t n) const;
  // LoadOptions::precision of the model.
  Precision precision() const;

  // Every rewrite a pass makes must be counted: a pass that counted none leaves the graph
  // exactly as it found it. The count is what `accel inspect` reports.
  void CountRewrite(int n = 1) { rewrites_ += n; }
  int rewrites() const { return rewrites_; }

  // Marks node n for removal after the pass; its outputs must no longer be used by then.
  void RemoveNode(size_t n);
  bool IsRemoved(size_t n) const { return n < removed_.size() && removed_[n]; }
  const std::vector<bool>& removed() const { return removed_; }

 private:
  const internal::ModelImpl& model_;
  int rewrites_ = 0;
  std::vector<bool> removed_;
};

// Who reads each value: a snapshot of the graph when built. Passes that rewire inputs keep it
// current through ReplaceInput/ReplaceAllUses below or rebuild it.
struct ValueUse {
  int node;
  int input;  // input slot in that node
};

class ValueUses {
 public:
  explicit ValueUses(const Graph& g);
  const std::vector<ValueUse>& consumers(int value) const { return consumers_[value]; }
  bool is_graph_output(int value) const { return is_output_[value]; }
  bool is_graph_input(int value) const { return is_input_[value]; }
  // No consumer other than `node` and not a graph output: the value may be fused away.
  bool OnlyUsedBy(int value, int node) const;

 private:
  std::vector<std::vector<ValueUse>> consumers_;
  std::vector<bool> is_output_;
  std::vector<bool> is_input_;
};

// Points every node input that reads `from` at `to` (graph outputs are not touched).
void ReplaceAllUses(Graph& g, int from, int to);

// A new value named after `base`, made unique within the graph.
int AddUniqueValue(Graph& g, const std::string& base);

// True when value v holds a constant the caller cannot override (an initializer that is not
// also a graph input, or a folded constant).
bool IsFixedConstant(const Graph& g, int v);

// Removes the nodes flagged in `remove`, keeping the others' order.
void EraseNodes(Graph& g, const std::vector<bool>& remove);

// Drops the constant payload of values no node reads and that are not graph inputs or outputs
// (weights replaced by folded copies), so the model does not keep both.
void ReleaseUnusedConstants(Graph& g);

// What one pass did: how many rewrites it counted.
struct PassReport {
  std::string name;
  int rewrites = 0;
};

struct OptimizerOptions {
  int level = 2;
  std::vector<std::string> disabled_passes;
};

// Names of all passes in table order, with their level.
struct PassInfo {
  const char* name;
  int level;
};
std::vector<PassInfo> ListPasses();

// Runs the enabled passes over a bound, typed model and leaves it bound and typed. Fails with
// InvalidArgument on an unknown pass name or level.
Status Optimize(internal::ModelImpl& model, const OptimizerOptions& options,
                std::vector<PassReport>& report);

// The passes (one file each in src/core/passes/).
Status RunEliminateNoOps(Graph& g, PassContext& ctx);
Status RunConstantFolding(Graph& g, PassContext& ctx);
Status RunMergeDuplicateNodes(Graph& g, PassContext& ctx);
Status RunDeadCodeElimination(Graph& g, PassContext& ctx);
Status RunFoldBatchNorm(Graph& g, PassContext& ctx);
Status RunFuseMatMulBias(Graph& g, PassContext& ctx);
Status RunFuseResidualAdd(Graph& g, PassContext& ctx);
Status RunFuseActivation(Graph& g, PassContext& ctx);
Status RunFuseActivationAdd(Graph& g, PassContext& ctx);
Status RunFuseChannelScale(Graph& g, PassContext& ctx);
Status RunFuseLayerNorm(Graph& g, PassContext& ctx);
Status RunFuseAttention(Graph& g, PassContext& ctx);
Status RunFuseElementwiseChain(Graph& g, PassContext& ctx);
Status RunFuseSpaceToDepth(Graph& g, PassContext& ctx);
Status RunPropagateLayouts(Graph& g, PassContext& ctx);

}  // namespace accel::core
