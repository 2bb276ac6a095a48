#include "core/executor.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <exception>

#include "core/node_eval.h"

namespace accel::core {

namespace {

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
    Result<std::unique_ptr<Kernel>> kernel =
        CreateNodeKernel(g, n, *ex->model_->op_defs[n], ex->model_->op_versions[n], num_threads,
                         ex->model_->precision);
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
    if (std::ranges::count(model_->folded_inputs, in.name)) {
      return InvalidArgument("input '" + in.name +
                             "' is a constant of the optimized model and cannot be fed; load "
                             "with optimization_level 0 or disable pass fold_batchnorm to "
                             "override it");
    }
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
  return ComputeNode(model_->graph, n, *model_->op_defs[n], model_->op_versions[n], *kernels_[n],
                     values, num_threads_);
}

Status Executor::RunNodeTimed(size_t n, std::vector<Tensor>& values) {
  NodeTiming& timing = timings_[n];
  timing.RecordInputs(model_->graph.nodes[n], values);
  const auto start = std::chrono::steady_clock::now();
  Status s = RunNode(n, values);
  timing.total += std::chrono::steady_clock::now() - start;
  ++timing.runs;
  return s;
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
      s = timings_.empty() ? RunNode(n, values) : RunNodeTimed(n, values);
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
