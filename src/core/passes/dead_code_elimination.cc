// Removes nodes none of whose outputs reach a graph output.
#include "core/optimizer.h"

namespace accel::core {

Status RunDeadCodeElimination(Graph& g, PassContext& ctx) {
  std::vector<bool> live(g.values.size(), false);
  for (int v : g.outputs) live[v] = true;
  // Nodes are in topological order, so one backward sweep sees every consumer before its
  // producer.
  for (size_t n = g.nodes.size(); n-- > 0;) {
    const Node& node = g.nodes[n];
    bool needed = false;
    for (int out : node.outputs) needed |= out != kNoValue && live[out];
    if (!needed) {
      ctx.RemoveNode(n);
      ctx.CountRewrite();
      continue;
    }
    for (int in : node.inputs) {
      if (in != kNoValue) live[in] = true;
    }
  }
  return Status::Ok();
}

}  // namespace accel::core
