#include "core/optimizer.h"

#include <algorithm>

#include "core/graph_inference.h"
#include "core/model_impl.h"

namespace accel::core {

namespace {

using PassFn = Status (*)(Graph&, PassContext&);

struct PassEntry {
  const char* name;
  int level;
  PassFn run;
  // Rounds the pass may run, with types re-inferred in between. Folding needs more than one: a
  // Reshape whose shape subgraph folded only gets a known output type after re-inference, and
  // only then can the Shape of that output (the next block's subgraph) fold.
  int max_rounds = 1;
};

// Pass order. Folding first: a Reshape whose shape subgraph folds may turn out to be a no-op,
// and folding already removes no-ops over constants. Dead-code elimination then drops what
// both left unused, so the pattern passes after it see the plain graph.
constexpr PassEntry kPasses[] = {
    {"constant_folding", 1, RunConstantFolding, 8},
    {"eliminate_noops", 1, RunEliminateNoOps},
    {"merge_duplicate_nodes", 1, RunMergeDuplicateNodes},
    {"dead_code_elimination", 1, RunDeadCodeElimination},
    {"fold_batchnorm", 1, RunFoldBatchNorm},
    {"fuse_matmul_bias", 2, RunFuseMatMulBias},
    {"fuse_residual_add", 2, RunFuseResidualAdd},
    {"fuse_activation", 2, RunFuseActivation},
    {"fuse_activation_add", 2, RunFuseActivationAdd},
    // After fuse_activation: the scale is usually a Conv+Sigmoid's output.
    {"fuse_channel_scale", 2, RunFuseChannelScale},
    // After the post-op fusions, so these never take an activation a MatMul could absorb.
    {"fuse_layernorm", 2, RunFuseLayerNorm},
    {"fuse_attention", 2, RunFuseAttention},
    {"fuse_elementwise_chain", 2, RunFuseElementwiseChain},
    {"fuse_space_to_depth", 2, RunFuseSpaceToDepth},
    // Last: it decides layouts for the final set of nodes.
    {"propagate_layouts", 2, RunPropagateLayouts},
};

constexpr int kMaxLevel = 2;

Status Rebind(internal::ModelImpl& model) {
  ACCEL_RETURN_IF_ERROR(model.graph.SortTopologically());
  ACCEL_RETURN_IF_ERROR(internal::BindOps(model));
  return InferGraphTypes(model.graph, model.op_defs, model.op_versions);
}

}  // namespace

const OpDef* PassContext::op_def(size_t n) const {
  return n < model_.op_defs.size() ? model_.op_defs[n] : nullptr;
}

int PassContext::op_version(size_t n) const {
  return n < model_.op_versions.size() ? model_.op_versions[n] : 0;
}

Precision PassContext::precision() const { return model_.precision; }

void PassContext::RemoveNode(size_t n) {
  if (removed_.size() <= n) removed_.resize(n + 1, false);
  removed_[n] = true;
}

ValueUses::ValueUses(const Graph& g)
    : consumers_(g.values.size()),
      is_output_(g.values.size(), false),
      is_input_(g.values.size(), false) {
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    const std::vector<int>& ins = g.nodes[n].inputs;
    for (size_t i = 0; i < ins.size(); ++i) {
      if (ins[i] != kNoValue) {
        consumers_[ins[i]].push_back({static_cast<int>(n), static_cast<int>(i)});
      }
    }
  }
  for (int v : g.outputs) is_output_[v] = true;
  for (int v : g.inputs) is_input_[v] = true;
}

bool ValueUses::OnlyUsedBy(int value, int node) const {
  if (is_output_[value]) return false;
  for (const ValueUse& use : consumers_[value]) {
    if (use.node != node) return false;
  }
  return true;
}

void ReplaceAllUses(Graph& g, int from, int to) {
  for (Node& node : g.nodes) {
    std::replace(node.inputs.begin(), node.inputs.end(), from, to);
  }
}

int AddUniqueValue(Graph& g, const std::string& base) {
  std::string name = base;
  for (int i = 1; g.FindValue(name) != kNoValue; ++i) name = base + "_" + std::to_string(i);
  return g.GetOrAddValue(name);
}

bool IsFixedConstant(const Graph& g, int v) {
  if (v == kNoValue || !g.values[v].constant) return false;
  return std::find(g.inputs.begin(), g.inputs.end(), v) == g.inputs.end();
}

void EraseNodes(Graph& g, const std::vector<bool>& remove) {
  std::vector<Node> kept;
  kept.reserve(g.nodes.size());
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    if (n >= remove.size() || !remove[n]) kept.push_back(std::move(g.nodes[n]));
  }
  g.nodes = std::move(kept);
}

void ReleaseUnusedConstants(Graph& g) {
  std::vector<bool> used(g.values.size(), false);
  for (const Node& node : g.nodes) {
    for (int in : node.inputs) {
      if (in != kNoValue) used[in] = true;
    }
  }
  for (int v : g.inputs) used[v] = true;
  for (int v : g.outputs) used[v] = true;
  for (size_t v = 0; v < g.values.size(); ++v) {
    if (!used[v]) g.values[v].constant.reset();
  }
}

std::vector<PassInfo> ListPasses() {
  std::vector<PassInfo> passes;
  for (const PassEntry& p : kPasses) passes.push_back({p.name, p.level});
  return passes;
}

Status Optimize(internal::ModelImpl& model, const OptimizerOptions& options,
                std::vector<PassReport>& report) {
  if (options.level < 0 || options.level > kMaxLevel) {
    return InvalidArgument("optimization_level must be 0.." + std::to_string(kMaxLevel) + ", got " +
                           std::to_string(options.level));
  }
  for (const std::string& name : options.disabled_passes) {
    bool known = false;
    for (const PassEntry& p : kPasses) known |= name == p.name;
    if (!known) {
      std::string names;
      for (const PassEntry& p : kPasses) names += (names.empty() ? "" : ", ") + std::string(p.name);
      return InvalidArgument("unknown optimizer pass '" + name + "'; the passes are: " + names);
    }
  }
  bool changed = false;
  for (const PassEntry& p : kPasses) {
    if (p.level > options.level) continue;
    const std::vector<std::string>& off = options.disabled_passes;
    if (std::find(off.begin(), off.end(), p.name) != off.end()) continue;
    int rewrites = 0;
    for (int round = 0; round < p.max_rounds; ++round) {
      PassContext ctx(model);
      Status s = p.run(model.graph, ctx);
      if (!s.ok())
        return Status(s.code(), std::string("optimizer pass ") + p.name + ": " + s.message());
      if (ctx.rewrites() == 0) break;
      rewrites += ctx.rewrites();
      changed = true;
      EraseNodes(model.graph, ctx.removed());
      s = Rebind(model);
      if (!s.ok()) {
        return Status(s.code(), std::string("after optimizer pass ") + p.name + ": " + s.message());
      }
    }
    report.push_back({p.name, rewrites});
  }
  if (changed) ReleaseUnusedConstants(model.graph);
  return Status::Ok();
}

}  // namespace accel::core
