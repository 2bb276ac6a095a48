#include "core/profiler.h"

#include "core/fused_ops.h"

namespace accel::core {

void NodeTiming::RecordInputs(const Node& node, std::span<const Tensor> values) {
  input_shapes.resize(node.inputs.size());
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    const int v = node.inputs[i];
    if (v == kNoValue) {
      input_shapes[i].reset();
    } else if (input_shapes[i] != values[v].shape()) {
      input_shapes[i] = values[v].shape();
    }
  }
}

std::string FusedOpType(const Node& node) {
  std::string name = node.domain.empty() ? node.op_type : node.domain + "." + node.op_type;
  // An accel.ElementwiseChain lists the ops it runs.
  if (!node.domain.empty() && node.attrs.Has("ops")) {
    Result<std::vector<std::string>> ops = node.attrs.GetStrings("ops");
    for (size_t i = 0; ops.ok() && i < ops->size(); ++i) {
      name += (i == 0 ? "(" : "+") + (*ops)[i] + (i + 1 == ops->size() ? ")" : "");
    }
  }
  if (node.op_type == "MatMul" && node.inputs.size() > 2 && node.inputs[2] != kNoValue) {
    name += "+Add";
  }
  Result<std::string> activation = node.attrs.GetString(kFusedActivationAttr, "");
  Result<int64_t> sum = node.attrs.GetInt(kFusedSumAttr, 0);
  const bool sum_before = sum.ok() && *sum == 1, sum_after = sum.ok() && *sum == 2;
  // A fused input scale multiplies before the op.
  if (node.attrs.Has(kFusedInputScaleAttr)) name = "Mul+" + name;
  if (sum_before) name += "+Add";
  if (activation.ok() && !activation->empty()) name += "+" + *activation;
  if (sum_after) name += "+Add";
  return name;
}

std::string InputShapesText(std::span<const std::optional<Shape>> shapes) {
  std::string text;
  for (size_t i = 0; i < shapes.size(); ++i) {
    if (i > 0) text += ", ";
    if (!shapes[i]) {
      text += "-";
    } else if (shapes[i]->empty()) {
      text += "scalar";
    } else {
      for (size_t d = 0; d < shapes[i]->size(); ++d) {
        text += (d > 0 ? "x" : "") + std::to_string((*shapes[i])[d]);
      }
    }
  }
  return text;
}

}  // namespace accel::core
