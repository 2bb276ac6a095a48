// Static type and shape inference over a whole graph, with each node's shape rule.
#pragma once

#include <span>

#include "accel/status.h"
#include "core/graph.h"
#include "core/op_def.h"

namespace accel::core {

// Runs each node's rule in topological order and stores the result in the output Values.
// A type the model declared (value_info) is kept where the rule knows less. Errors name the node.
Status InferGraphTypes(Graph& graph, std::span<const OpDef* const> defs,
                       std::span<const int> versions);

}  // namespace accel::core
