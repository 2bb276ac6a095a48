#include "core/graph_inference.h"

namespace accel::core {

namespace {

// Keeps what each side knows: the rule's dims where known, else the declared ones.
TensorType Merge(const TensorType& declared, TensorType inferred) {
  if (inferred.dtype == DType::kUndefined) inferred.dtype = declared.dtype;
  if (!inferred.has_shape) {
    return declared.has_shape ? TensorType{inferred.dtype, true, declared.dims, declared.dim_names}
                              : inferred;
  }
  if (declared.has_shape && declared.rank() == inferred.rank()) {
    for (size_t i = 0; i < inferred.dims.size(); ++i) {
      if (inferred.dims[i] < 0) inferred.dims[i] = declared.dims[i];
    }
    if (inferred.dim_names.empty()) inferred.dim_names = declared.dim_names;
  }
  return inferred;
}

}  // namespace

Status InferGraphTypes(Graph& graph, std::span<const OpDef* const> defs,
                       std::span<const int> versions) {
  for (Value& v : graph.values) {
    if (v.constant) v.type = TensorType::Known(v.constant->dtype(), v.constant->shape());
  }
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    const Node& node = graph.nodes[n];
    std::vector<const TensorType*> types;
    std::vector<const Tensor*> consts;
    for (int in : node.inputs) {
      types.push_back(in == kNoValue ? nullptr : &graph.values[in].type);
      consts.push_back(in == kNoValue || !graph.values[in].constant ? nullptr
                                                                    : &*graph.values[in].constant);
    }
    InferContext ctx(node.attrs, versions[n], std::move(types), std::move(consts),
                     node.outputs.size());
    Status s = defs[n]->infer(ctx);
    if (!s.ok()) return Status(s.code(), graph.NodeLabel(n) + ": " + s.message());
    for (size_t i = 0; i < node.outputs.size(); ++i) {
      if (node.outputs[i] == kNoValue) continue;
      Value& out = graph.values[node.outputs[i]];
      out.type = Merge(out.type, ctx.outputs()[i]);
    }
  }
  return Status::Ok();
}

}  // namespace accel::core
