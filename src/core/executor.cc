#include "core/executor.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <exception>

#include "core/node_eval.h"

namespace accel::core {

namespace {

using memory::NodeMode;
using memory::RunPlan;
using memory::Storage;

Status WithNode(const Graph& g, size_t n, const Status& s) {
  if (s.ok()) return s;
  return Status(s.code(), g.NodeLabel(n) + ": " + s.message());
}

// Index into g.outputs of the output named `name`, or -1.
int FindOutput(const Graph& g, const std::string& name) {
  const int v = g.FindValue(name);
  for (size_t i = 0; v != kNoValue && i < g.outputs.size(); ++i) {
    if (g.outputs[i] == v) return v;
  }
  return -1;
}

}  // namespace

Result<std::unique_ptr<Executor>> Executor::Create(std::shared_ptr<const internal::ModelImpl> model,
                                                   const ExecutorOptions& options) {
  std::unique_ptr<Executor> ex(new Executor(std::move(model), options));
  const Graph& g = ex->model_->graph;
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    Result<std::unique_ptr<Kernel>> kernel =
        CreateNodeKernel(g, n, *ex->model_->op_defs[n], ex->model_->op_versions[n],
                         options.num_threads, ex->model_->precision);
    if (!kernel.ok()) return WithNode(g, n, kernel.status());
    ex->kernels_.push_back(std::move(kernel).value());
  }
  ex->bound_.assign(g.inputs.size(), nullptr);
  ex->bound_shapes_.assign(g.inputs.size(), nullptr);
  ex->output_values_.reserve(g.outputs.size());
  return ex;
}

Status Executor::Prepare(std::span<const Shape* const> shapes) {
  const Graph& g = model_->graph;
  for (size_t k = 0; k < g.inputs.size(); ++k) {
    if (shapes[k] == nullptr) {
      const Value& v = g.values[g.inputs[k]];
      if (!v.constant) return InvalidArgument("no shape for input '" + v.name + "'");
      bound_shapes_[k] = &v.constant->shape();
    } else {
      bound_shapes_[k] = shapes[k];
    }
  }
  ACCEL_ASSIGN_OR_RETURN(
      memory::RunPlan * plan,
      plans_.Get(*model_, kernels_, bound_shapes_, options_.num_threads,
                 {.allow_inplace = options_.inplace, .concat_in_place = options_.concat_in_place}));
  if (!plan->ran) {
    Precompile(*plan);
    plan->warm_up = true;
    WarmUp();
    plan->warm_up = false;
  }
  return Status::Ok();
}

void Executor::Precompile(const RunPlan& plan) {
  const int threads = options_.num_threads;
  precompiled_kernels_ = 0;
  if (threads < 2) return;
  const Graph& g = model_->graph;
  std::vector<std::pair<size_t, KernelShapes>> work;
  auto shape_of = [&](int v) { return v == kNoValue ? nullptr : &plan.types[v].dims; };
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    if (plan.mode[n] != NodeMode::kStatic) continue;
    KernelShapes shapes;
    for (int v : g.nodes[n].inputs) shapes.inputs.push_back(shape_of(v));
    for (int v : g.nodes[n].outputs) shapes.outputs.push_back(shape_of(v));
    work.emplace_back(n, std::move(shapes));
  }
  std::atomic<size_t> next = 0, done = 0;
  // The Session's own OpenMP team shares the work. Its worker threads start here, while every
  // thread has work, instead of at the warm-up's first parallel region, where the calling thread
  // would wait at a barrier for a worker that Linux may have queued on its own CPU (on a 2-vCPU
  // VM, up to ~20 ms). 2 threads, median of 15 fresh processes, helper std::threads -> team:
  // ultraface 24.7 -> 15.1 ms, fastestdet 26.0 -> 14.6, squeezenet1_1 24.1 -> 19.3.
#pragma omp parallel num_threads(threads)
  {
    // oneDNN sizes a primitive for, and caches it under, the creating thread's
    // omp_get_max_threads(): the Session's count, as where the warm-up runs (Run sets it).
    omp_set_num_threads(threads);
    for (size_t i; (i = next.fetch_add(1)) < work.size();) {
      try {
        if (kernels_[work[i].first]->Precompile(work[i].second)) done.fetch_add(1);
      } catch (...) {
        // Best effort (and nothing may leave a parallel region): the warm-up redoes this
        // kernel's set-up and reports what fails.
      }
    }
  }
  precompiled_kernels_ = done;
}

void Executor::WarmUp() {
  const Graph& g = model_->graph;
  std::vector<NamedTensor> inputs;
  for (size_t k = 0; k < g.inputs.size(); ++k) {
    const Value& v = g.values[g.inputs[k]];
    // A defaulted input runs on its constant unless Prepare was given a shape for it.
    if (v.constant && bound_shapes_[k] == &v.constant->shape()) continue;
    Result<Tensor> zeros = Tensor::Zeros(v.type.dtype, *bound_shapes_[k]);
    if (!zeros.ok()) return;
    inputs.push_back({v.name, *std::move(zeros)});
  }
  // Whatever goes wrong here is reported by the first real run, with real inputs.
  (void)Run(inputs, {});
  if (!timings_.empty()) ResetTimings();
}

Status Executor::BindInputs(std::span<const NamedTensor> inputs) {
  const Graph& g = model_->graph;
  std::ranges::fill(bound_, nullptr);
  for (const NamedTensor& in : inputs) {
    const int v = g.FindValue(in.name);
    size_t k = 0;
    while (k < g.inputs.size() && g.inputs[k] != v) ++k;
    if (std::ranges::count(model_->folded_inputs, in.name)) {
      return InvalidArgument("input '" + in.name +
                             "' is a constant of the optimized model and cannot be fed; load "
                             "with optimization_level 0 or disable pass fold_batchnorm to "
                             "override it");
    }
    if (v == kNoValue || k == g.inputs.size()) {
      std::string names;
      for (const ValueInfo& info : model_->inputs) names += (names.empty() ? "" : ", ") + info.name;
      return InvalidArgument("unknown input '" + in.name + "'; the model's inputs are: " + names);
    }
    if (bound_[k]) return InvalidArgument("input '" + in.name + "' is given twice");
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
    bound_[k] = &t;
  }
  for (size_t k = 0; k < g.inputs.size(); ++k) {
    const Value& v = g.values[g.inputs[k]];
    if (!bound_[k]) {
      if (!v.constant) {
        return InvalidArgument("missing input '" + v.name + "' (" + v.type.ToString() + ")");
      }
      bound_[k] = &*v.constant;
    }
    bound_shapes_[k] = &bound_[k]->shape();
  }
  return Status::Ok();
}

Status Executor::BindOutputs(RunPlan& plan, std::span<NamedTensor> outputs) {
  const Graph& g = model_->graph;
  output_values_.clear();
  for (const NamedTensor& out : outputs) {
    const int v = FindOutput(g, out.name);
    if (v < 0) return InvalidArgument("unknown output '" + out.name + "'");
    output_values_.push_back(v);
    const Tensor& bound = out.tensor;
    if (!bound.empty() && (bound.data() == nullptr && bound.byte_size() > 0)) {
      return InvalidArgument("output '" + out.name + "' is bound to a tensor without data");
    }
    if (!bound.empty() && plan.types[v].fully_known() &&
        (bound.dtype() != plan.types[v].dtype || bound.shape() != plan.types[v].dims)) {
      return InvalidArgument("output '" + out.name + "' is bound to " + DTypeName(bound.dtype()) +
                             ShapeToString(bound.shape()) + ", this run produces " +
                             plan.types[v].ToString());
    }
  }
  // Outputs of static nodes are computed straight into the caller's buffer or a new tensor.
  for (int v : g.outputs) {
    if (plan.storage[v] != Storage::kOutput) continue;
    Tensor* target = nullptr;
    for (size_t i = 0; i < outputs.size(); ++i) {
      if (output_values_[i] == v) target = &outputs[i].tensor;
    }
    if (target && !target->empty()) {
      plan.values[v] = *target;
    } else if (plan.values[v].empty() || plan.values[v].is_view() || target) {
      // Unrequested outputs keep one tensor across runs; requested ones go to the caller.
      ACCEL_ASSIGN_OR_RETURN(plan.values[v], Tensor::Create(plan.types[v].dtype, plan.physical[v]));
    }
  }
  return Status::Ok();
}

Status Executor::RunNode(size_t n, RunPlan& plan) {
  const Graph& g = model_->graph;
  switch (plan.mode[n]) {
    case NodeMode::kPrecomputed:
    case NodeMode::kView:
      return Status::Ok();
    case NodeMode::kStatic:
      return memory::RunStaticNode(g, n, plan, *kernels_[n], options_.num_threads);
    case NodeMode::kDynamic:
      ACCEL_RETURN_IF_ERROR(ComputeNode(g, n, *model_->op_defs[n], model_->op_versions[n],
                                        *kernels_[n], plan.values, options_.num_threads));
      return memory::DetachFromArena(g, n, plan);
  }
  return Status::Ok();
}

Status Executor::RunNodeTimed(size_t n, RunPlan& plan) {
  NodeTiming& timing = timings_[n];
  timing.RecordInputs(model_->graph.nodes[n], plan.values);
  const auto start = std::chrono::steady_clock::now();
  Status s = RunNode(n, plan);
  timing.total += std::chrono::steady_clock::now() - start;
  ++timing.runs;
  return s;
}

Status Executor::CollectOutputs(RunPlan& plan, std::span<NamedTensor> outputs) {
  for (size_t i = 0; i < outputs.size(); ++i) {
    const int v = output_values_[i];
    const Tensor& t = plan.values[v];
    Tensor& target = outputs[i].tensor;
    if (!target.empty()) {
      if (target.data() == t.data()) continue;
      if (target.dtype() != t.dtype() || target.shape() != t.shape()) {
        return InvalidArgument("output '" + outputs[i].name + "' is bound to " +
                               DTypeName(target.dtype()) + ShapeToString(target.shape()) +
                               ", this run produced " + DTypeName(t.dtype()) +
                               ShapeToString(t.shape()));
      }
      if (t.byte_size() > 0) std::memcpy(target.data(), t.data(), t.byte_size());
    } else if (plan.storage[v] == Storage::kConstant || t.is_view()) {
      // The caller gets its own bytes, never the model's constants or its own input's.
      ACCEL_ASSIGN_OR_RETURN(target, t.Clone());
    } else {
      target = t;
    }
  }
  return Status::Ok();
}

Status Executor::Run(std::span<const NamedTensor> inputs, std::span<NamedTensor> outputs) {
  const Graph& g = model_->graph;
  ACCEL_RETURN_IF_ERROR(BindInputs(inputs));
  ACCEL_ASSIGN_OR_RETURN(
      RunPlan * plan,
      plans_.Get(*model_, kernels_, bound_shapes_, options_.num_threads,
                 {.allow_inplace = options_.inplace, .concat_in_place = options_.concat_in_place}));
  for (size_t k = 0; k < g.inputs.size(); ++k) plan->values[g.inputs[k]] = *bound_[k];
  plan->ran = true;
  Status status = BindOutputs(*plan, outputs);
  omp_set_num_threads(options_.num_threads);
  for (size_t n = 0; status.ok() && n < g.nodes.size(); ++n) {
    try {
      status = timings_.empty() ? RunNode(n, *plan) : RunNodeTimed(n, *plan);
    } catch (const std::exception& e) {
      status = Internal(e.what());
    }
    status = WithNode(g, n, status);
    for (int in : g.nodes[n].inputs) {
      if (in != kNoValue && plan->last_use[in] == static_cast<int>(n) &&
          plan->storage[in] == Storage::kDynamic) {
        plan->values[in] = Tensor();
      }
    }
  }
  if (status.ok()) status = CollectOutputs(*plan, outputs);
  // Drop what this run allocated or was given, so nothing of it outlives the run here.
  for (size_t v = 0; v < plan->values.size(); ++v) {
    const Storage storage = plan->storage[v];
    if (storage == Storage::kDynamic) {
      plan->values[v] = Tensor();
    } else if (storage == Storage::kOutput && !plan->values[v].is_view()) {
      bool handed_out = false;
      for (int o : output_values_) handed_out |= o == static_cast<int>(v);
      if (handed_out) plan->values[v] = Tensor();
    }
  }
  return status;
}

}  // namespace accel::core
