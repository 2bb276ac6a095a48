// Evaluates nodes whose inputs are all constants once at load, with the CPU kernel, and replaces
// them by their results. Shape (and Size) of a value whose static shape is fully known folds
// too, which makes whole shape subgraphs (Shape -> Gather -> Concat -> Reshape) constant.
#include <algorithm>
#include <cstdint>
#include <exception>

#include "core/node_eval.h"
#include "core/optimizer.h"

namespace accel::core {

namespace {

// A folded result may not grow the model by more than this unless an input is as big.
constexpr size_t kMaxFoldedBytes = size_t{16} << 20;

// Shape and Size need only the input's static shape, not its contents.
Result<Tensor> FoldShapeOf(const Node& node, const TensorType& in) {
  const int64_t rank = in.rank();
  if (node.op_type == "Size") {
    int64_t n = ElementCount(in.dims);
    return Tensor::FromVector<int64_t>(DType::kInt64, {}, std::span(&n, 1));
  }
  ACCEL_ASSIGN_OR_RETURN(int64_t start, node.attrs.GetInt("start", 0));
  ACCEL_ASSIGN_OR_RETURN(int64_t end, node.attrs.GetInt("end", rank));
  if (start < 0) start += rank;
  if (end < 0) end += rank;
  start = std::clamp<int64_t>(start, 0, rank);
  end = std::clamp<int64_t>(end, start, rank);
  std::vector<int64_t> dims(in.dims.begin() + start, in.dims.begin() + end);
  return Tensor::FromVector<int64_t>(DType::kInt64, {static_cast<int64_t>(dims.size())},
                                     std::span<const int64_t>(dims));
}

bool IsShapeOfKnown(const Graph& g, const Node& node) {
  if (!node.domain.empty() || (node.op_type != "Shape" && node.op_type != "Size")) return false;
  if (node.inputs.size() != 1 || node.inputs[0] == kNoValue || node.outputs.size() != 1) {
    return false;
  }
  return g.values[node.inputs[0]].type.fully_known();
}

// Evaluates node n with its kernel; an empty vector when it cannot or should not be folded.
std::vector<Tensor> Evaluate(const Graph& g, size_t n, const PassContext& ctx,
                             std::vector<Tensor>& scratch) {
  const Node& node = g.nodes[n];
  const OpDef* def = ctx.op_def(n);
  if (!def || IsRandomOp(node)) return {};
  size_t largest_input = 0;
  for (int in : node.inputs) {
    if (in == kNoValue) continue;
    if (!IsFixedConstant(g, in)) return {};
    largest_input = std::max(largest_input, g.values[in].constant->byte_size());
  }
  const size_t limit = std::max(kMaxFoldedBytes, largest_input);
  for (int out : node.outputs) {
    if (out == kNoValue) continue;
    const TensorType& t = g.values[out].type;
    if (t.fully_known() && ElementCount(t.dims) * DTypeSize(t.dtype) > limit) return {};
  }
  for (int in : node.inputs) {
    if (in != kNoValue) scratch[in] = *g.values[in].constant;
  }
  for (int out : node.outputs) {
    if (out != kNoValue) scratch[out] = Tensor();
  }
  // A node that fails here fails the same way at run time, where the error is reported.
  try {
    Result<std::unique_ptr<Kernel>> kernel =
        CreateNodeKernel(g, n, *def, ctx.op_version(n), /*num_threads=*/1);
    if (!kernel.ok()) return {};
    if (!ComputeNode(g, n, *def, ctx.op_version(n), **kernel, scratch, 1).ok()) return {};
  } catch (const std::exception&) {
    return {};
  }
  std::vector<Tensor> results;
  for (int out : node.outputs) {
    if (out == kNoValue) {
      results.emplace_back();
      continue;
    }
    Tensor t = std::move(scratch[out]);
    if (t.byte_size() > limit) return {};
    results.push_back(std::move(t));
  }
  return results;
}

}  // namespace

Status RunConstantFolding(Graph& g, PassContext& ctx) {
  std::vector<Tensor> scratch(g.values.size());
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    const Node& node = g.nodes[n];
    if (node.outputs.empty()) continue;
    std::vector<Tensor> results;
    if (IsShapeOfKnown(g, node)) {
      Result<Tensor> t = FoldShapeOf(node, g.values[node.inputs[0]].type);
      if (t.ok()) results.push_back(std::move(t).value());
    } else {
      results = Evaluate(g, n, ctx, scratch);
    }
    if (results.empty()) continue;
    for (size_t i = 0; i < node.outputs.size(); ++i) {
      if (node.outputs[i] == kNoValue) continue;
      Value& out = g.values[node.outputs[i]];
      Tensor& t = results[i];
      // A view would alias memory the model does not own.
      if (t.is_view()) {
        ACCEL_ASSIGN_OR_RETURN(t, t.Clone());
      }
      out.type = TensorType::Known(t.dtype(), t.shape());
      out.constant = std::move(t);
      out.producer = kNoValue;
    }
    ctx.RemoveNode(n);
    ctx.CountRewrite();
  }
  return Status::Ok();
}

}  // namespace accel::core
