#include "core/executor.h"

#include <omp.h>

#include <exception>

#include "core/infer_context.h"

namespace accel::core {

namespace {

class NodeContext final : public KernelContext {
 public:
  NodeContext(const Node& node, std::vector<Tensor>& values, const std::vector<TensorType>& types,
              int num_threads)
      : node_(node), values_(values), types_(types), num_threads_(num_threads) {}

  size_t num_inputs() const override { return node_.inputs.size(); }
  bool has_input(size_t i) const override {
    return i < node_.inputs.size() && node_.inputs[i] != kNoValue;
  }
  const Tensor& input(size_t i) const override { return values_[node_.inputs[i]]; }
  size_t num_outputs() const override { return node_.outputs.size(); }
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
    ACCEL_ASSIGN_OR_RETURN(t, Tensor::Create(types_[i].dtype, types_[i].dims));
    return &t;
  }

  Result<Tensor*> AllocateOutput(size_t i, Shape shape) override {
    if (!has_output(i)) return Internal("output " + std::to_string(i) + " is not wanted");
    Tensor& t = values_[node_.outputs[i]];
    ACCEL_ASSIGN_OR_RETURN(t, Tensor::Create(types_[i].dtype, std::move(shape)));
    return &t;
  }

  Status SetOutput(size_t i, Tensor tensor) override {
    if (!has_output(i)) return Status::Ok();
    values_[node_.outputs[i]] = std::move(tensor);
    return Status::Ok();
  }

  int num_threads() const override { return num_threads_; }

 private:
  const Node& node_;
  std::vector<Tensor>& values_;
  const std::vector<TensorType>& types_;
  int num_threads_;
};

Status WithNode(const Graph& g, size_t n, const Status& s) {
  if (s.ok()) return s;
  return Status(s.code(), g.NodeLabel(n) + ": " + s.message());
}

}  // namespace

Result<std::unique_ptr<Executor>> Executor::Create(std::shared_ptr<const internal::ModelImpl> model,
                                                   int num_threads) {
  std::unique_ptr<Executor> ex(new Executor(std::move(model), num_threads));
  const Graph& g = ex->model_->graph;
  ex->last_use_.assign(g.values.size(), -1);
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    for (int in : g.nodes[n].inputs) {
      if (in != kNoValue) ex->last_use_[in] = static_cast<int>(n);
    }
  }
  for (int out : g.outputs) ex->last_use_[out] = static_cast<int>(g.nodes.size());

  for (size_t n = 0; n < g.nodes.size(); ++n) {
    const Node& node = g.nodes[n];
    KernelInit init{node, node.attrs, ex->model_->op_versions[n], {}, {}, {}, num_threads};
    for (int in : node.inputs) {
      init.input_types.push_back(in == kNoValue ? nullptr : &g.values[in].type);
      init.constant_inputs.push_back(
          in == kNoValue || !g.values[in].constant ? nullptr : &*g.values[in].constant);
    }
    for (int out : node.outputs) {
      init.output_types.push_back(out == kNoValue ? nullptr : &g.values[out].type);
    }
    Result<std::unique_ptr<Kernel>> kernel = Status(StatusCode::kInternal, "not created");
    try {
      kernel = ex->model_->op_defs[n]->create(init);
    } catch (const std::exception& e) {
      kernel = Internal(std::string("creating kernel: ") + e.what());
    }
    if (!kernel.ok()) return WithNode(g, n, kernel.status());
    ex->kernels_.push_back(std::move(kernel).value());
  }
  return ex;
}

Status Executor::BindInputs(std::span<const NamedTensor> inputs,
                            std::vector<Tensor>& values) const {
  const Graph& g = model_->graph;
  std::vector<bool> fed(g.values.size(), false);
  for (const NamedTensor& in : inputs) {
    int v = g.FindValue(in.name);
    bool is_input = false;
    for (int gi : g.inputs) is_input |= gi == v;
    if (v == kNoValue || !is_input) {
      std::string names;
      for (const ValueInfo& info : model_->inputs) names += (names.empty() ? "" : ", ") + info.name;
      return InvalidArgument("unknown input '" + in.name + "'; the model's inputs are: " + names);
    }
    if (fed[v]) return InvalidArgument("input '" + in.name + "' is given twice");
    const TensorType& type = g.values[v].type;
    const Tensor& t = in.tensor;
    if (t.dtype() != type.dtype) {
      return InvalidArgument("input '" + in.name + "' has dtype " + DTypeName(t.dtype()) +
                             ", the model expects " + DTypeName(type.dtype));
    }
    if (type.has_shape) {
      bool match = t.rank() == type.rank();
      for (size_t i = 0; match && i < type.dims.size(); ++i) {
        match = type.dims[i] < 0 || type.dims[i] == t.shape()[i];
      }
      if (!match) {
        return InvalidArgument("input '" + in.name + "' has shape " + ShapeToString(t.shape()) +
                               ", the model expects " + ShapeToString(type.dims));
      }
    }
    for (int64_t d : t.shape()) {
      if (d < 0) return InvalidArgument("input '" + in.name + "' has a negative dimension");
    }
    if (t.data() == nullptr && t.element_count() > 0) {
      return InvalidArgument("input '" + in.name + "' has no data");
    }
    values[v] = t;
    fed[v] = true;
  }
  for (int v : g.inputs) {
    if (!fed[v] && !g.values[v].constant) {
      return InvalidArgument("missing input '" + g.values[v].name + "' (" +
                             g.values[v].type.ToString() + ")");
    }
  }
  return Status::Ok();
}

Status Executor::RunNode(size_t n, std::vector<Tensor>& values) {
  const internal::ModelImpl& m = *model_;
  const Node& node = m.graph.nodes[n];
  std::vector<TensorType> in_types(node.inputs.size());
  std::vector<const TensorType*> type_ptrs(node.inputs.size(), nullptr);
  std::vector<const Tensor*> value_ptrs(node.inputs.size(), nullptr);
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    if (node.inputs[i] == kNoValue) continue;
    const Tensor& t = values[node.inputs[i]];
    in_types[i] = TensorType::Known(t.dtype(), t.shape());
    type_ptrs[i] = &in_types[i];
    value_ptrs[i] = &t;
  }
  InferContext infer(node.attrs, m.op_versions[n], std::move(type_ptrs), std::move(value_ptrs),
                     node.outputs.size());
  ACCEL_RETURN_IF_ERROR(m.op_defs[n]->infer(infer));
  NodeContext ctx(node, values, infer.outputs(), num_threads_);
  ACCEL_RETURN_IF_ERROR(kernels_[n]->Compute(ctx));
  for (size_t i = 0; i < node.outputs.size(); ++i) {
    if (node.outputs[i] == kNoValue) continue;
    const Tensor& t = values[node.outputs[i]];
    if (t.empty()) return Internal("output " + std::to_string(i) + " was not produced");
    const TensorType& want = infer.outputs()[i];
    if (want.dtype != DType::kUndefined && t.dtype() != want.dtype) {
      return Internal("output " + std::to_string(i) + " has dtype " + DTypeName(t.dtype()) +
                      ", its shape rule says " + DTypeName(want.dtype));
    }
    if (want.fully_known() && t.shape() != want.dims) {
      return Internal("output " + std::to_string(i) + " has shape " + ShapeToString(t.shape()) +
                      ", its shape rule says " + ShapeToString(want.dims));
    }
  }
  return Status::Ok();
}

Result<std::vector<Tensor>> Executor::Run(std::span<const NamedTensor> inputs,
                                          std::span<const int> wanted) {
  const Graph& g = model_->graph;
  std::vector<Tensor> values(g.values.size());
  for (size_t v = 0; v < g.values.size(); ++v) {
    if (g.values[v].constant) values[v] = *g.values[v].constant;
  }
  ACCEL_RETURN_IF_ERROR(BindInputs(inputs, values));
  omp_set_num_threads(num_threads_);
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    Status s;
    try {
      s = RunNode(n, values);
    } catch (const std::exception& e) {
      s = Internal(e.what());
    }
    ACCEL_RETURN_IF_ERROR(WithNode(g, n, s));
    for (int in : g.nodes[n].inputs) {
      if (in != kNoValue && last_use_[in] == static_cast<int>(n)) values[in] = Tensor();
    }
  }
  std::vector<Tensor> out;
  out.reserve(wanted.size());
  for (int v : wanted) out.push_back(values[v]);
  return out;
}

}  // namespace accel::core
