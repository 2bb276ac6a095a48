#include "core/node_eval.h"

#include <exception>
#include <string>

#include "core/infer_context.h"

namespace accel::core {

namespace {

// The channel count of a blocked value: its physical shape no longer tells it.
int64_t BlockedChannels(const Value& v) {
  return v.layout == Layout::kBlocked ? v.type.dims[1] : 0;
}

class NodeContext final : public KernelContext {
 public:
  NodeContext(const Graph& g, const Node& node, std::span<Tensor> values,
              const std::vector<TensorType>& in_types, const std::vector<TensorType>& types,
              int num_threads)
      : graph_(g),
        node_(node),
        values_(values),
        in_types_(in_types),
        types_(types),
        num_threads_(num_threads) {}

  size_t num_inputs() const override { return node_.inputs.size(); }
  bool has_input(size_t i) const override {
    return i < node_.inputs.size() && node_.inputs[i] != kNoValue;
  }
  const Tensor& input(size_t i) const override { return values_[node_.inputs[i]]; }
  const Shape& input_shape(size_t i) const override { return in_types_[i].dims; }
  size_t num_outputs() const override { return node_.outputs.size(); }
  const Shape& output_shape(size_t i) const override { return types_[i].dims; }
  bool has_output(size_t i) const override {
    return i < node_.outputs.size() && node_.outputs[i] != kNoValue;
  }

  Result<Tensor*> Output(size_t i) override {
    if (!has_output(i)) return Internal("output " + std::to_string(i) + " is not wanted");
    Tensor& t = values_[node_.outputs[i]];
    if (!t.empty()) return &t;
    if (!types_[i].fully_known()) {
      return Internal("output " + std::to_string(i) + " has no inferred shape (" +
                      types_[i].ToString() + "); the kernel must allocate it");
    }
    ACCEL_ASSIGN_OR_RETURN(
        t, Tensor::Create(types_[i].dtype, PhysicalShape(layout(i), types_[i].dims)));
    return &t;
  }

  Result<Tensor*> AllocateOutput(size_t i, Shape shape) override {
    if (!has_output(i)) return Internal("output " + std::to_string(i) + " is not wanted");
    Tensor& t = values_[node_.outputs[i]];
    ACCEL_ASSIGN_OR_RETURN(t, Tensor::Create(types_[i].dtype, PhysicalShape(layout(i), shape)));
    return &t;
  }

  Status SetOutput(size_t i, Tensor tensor) override {
    if (!has_output(i)) return Status::Ok();
    values_[node_.outputs[i]] = std::move(tensor);
    return Status::Ok();
  }

  int num_threads() const override { return num_threads_; }

 private:
  Layout layout(size_t output) const { return graph_.values[node_.outputs[output]].layout; }

  const Graph& graph_;
  const Node& node_;
  std::span<Tensor> values_;
  const std::vector<TensorType>& in_types_;
  const std::vector<TensorType>& types_;
  int num_threads_;
};

}  // namespace

Result<std::unique_ptr<Kernel>> CreateNodeKernel(const Graph& g, size_t n, const OpDef& def,
                                                 int version, int num_threads,
                                                 Precision precision) {
  const Node& node = g.nodes[n];
  KernelInit init{node, node.attrs, version, {}, {}, {}, num_threads, {}, {}};
  init.precision = precision;
  for (int in : node.inputs) {
    init.input_types.push_back(in == kNoValue ? nullptr : &g.values[in].type);
    init.constant_inputs.push_back(
        in == kNoValue || !g.values[in].constant ? nullptr : &*g.values[in].constant);
    init.input_layouts.push_back(in == kNoValue ? Layout::kPlain : g.values[in].layout);
  }
  for (int out : node.outputs) {
    init.output_types.push_back(out == kNoValue ? nullptr : &g.values[out].type);
    init.output_layouts.push_back(out == kNoValue ? Layout::kPlain : g.values[out].layout);
  }
  try {
    return def.create(init);
  } catch (const std::exception& e) {
    return Internal(std::string("creating kernel: ") + e.what());
  }
}

Status ComputeNode(const Graph& g, size_t n, const OpDef& def, int version, Kernel& kernel,
                   std::span<Tensor> values, int num_threads) {
  const Node& node = g.nodes[n];
  std::vector<TensorType> in_types(node.inputs.size());
  std::vector<const TensorType*> type_ptrs(node.inputs.size(), nullptr);
  std::vector<const Tensor*> value_ptrs(node.inputs.size(), nullptr);
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    if (node.inputs[i] == kNoValue) continue;
    const Tensor& t = values[node.inputs[i]];
    const Value& v = g.values[node.inputs[i]];
    in_types[i] =
        TensorType::Known(t.dtype(), LogicalShape(v.layout, t.shape(), BlockedChannels(v)));
    type_ptrs[i] = &in_types[i];
    // Shape rules read values only of plain (shape-like) tensors.
    value_ptrs[i] = v.layout == Layout::kPlain ? &t : nullptr;
  }
  InferContext infer(node.attrs, version, std::move(type_ptrs), std::move(value_ptrs),
                     node.outputs.size());
  ACCEL_RETURN_IF_ERROR(def.infer(infer));
  NodeContext ctx(g, node, values, in_types, infer.outputs(), num_threads);
  ACCEL_RETURN_IF_ERROR(kernel.Compute(ctx));
  for (size_t i = 0; i < node.outputs.size(); ++i) {
    if (node.outputs[i] == kNoValue) continue;
    const Tensor& t = values[node.outputs[i]];
    if (t.empty()) return Internal("output " + std::to_string(i) + " was not produced");
    const TensorType& want = infer.outputs()[i];
    if (want.dtype != DType::kUndefined && t.dtype() != want.dtype) {
      return Internal("output " + std::to_string(i) + " has dtype " + DTypeName(t.dtype()) +
                      ", its shape rule says " + DTypeName(want.dtype));
    }
    if (want.fully_known() &&
        t.shape() != PhysicalShape(g.values[node.outputs[i]].layout, want.dims)) {
      return Internal("output " + std::to_string(i) + " has shape " + ShapeToString(t.shape()) +
                      ", its shape rule says " + ShapeToString(want.dims));
    }
  }
  return Status::Ok();
}

}  // namespace accel::core
