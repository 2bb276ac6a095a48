// Runs a bound graph node by node on the CPU backend.
//
// Kernels are created once per executor (per Session). Shape-time and pointer-time are
// separate: Prepare (explicit, or on the first run with new input shapes) infers every shape,
// precomputes shape subgraphs and plans the intermediate tensors into one arena
// (memory/run_plan.h); the plans of the latest input shapes are kept in an LRU cache. A run
// then binds inputs and outputs and launches the kernels over the planned tensors. Nodes whose
// shapes depend on data fall back to per-run inference and allocation (see run_plan.h).
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "accel/status.h"
#include "accel/tensor.h"
#include "core/kernel.h"
#include "core/model_impl.h"
#include "core/profiler.h"
#include "memory/run_plan.h"

namespace accel::core {

struct ExecutorOptions {
  int num_threads = 1;
  size_t plan_cache_size = 4;
  bool inplace = true;          // let elementwise ops overwrite a dying input
  bool concat_in_place = true;  // let a Concat's producers write into its output
};

class Executor {
 public:
  static Result<std::unique_ptr<Executor>> Create(std::shared_ptr<const internal::ModelImpl> model,
                                                  const ExecutorOptions& options);

  // Plans for these input shapes (per Graph::inputs, nullptr = the default constant's shape),
  // then warms up (WarmUp), so the first run with these shapes costs what later ones do.
  Status Prepare(std::span<const Shape* const> shapes);

  // Runs with caller inputs (checked by name, dtype and shape). Each entry of `outputs` names a
  // graph output; an entry whose tensor is a view (bound) receives the result in its memory
  // (dtype and shape must match this run's output), an empty one gets a new owning tensor.
  // With every output bound and shapes seen before, a run allocates nothing on the heap
  // (unless the plan has dynamic nodes).
  Status Run(std::span<const NamedTensor> inputs, std::span<NamedTensor> outputs);

  const internal::ModelImpl& model() const { return *model_; }
  int num_threads() const { return options_.num_threads; }
  const Kernel& kernel(size_t node) const { return *kernels_[node]; }
  // The plan of the latest Prepare or run (nullptr before any) and the arena behind it.
  const memory::RunPlan* latest_plan() const { return plans_.latest(); }
  const memory::Arena& arena() const { return plans_.arena(); }
  // Kernels the latest Prepare set up ahead of its warm-up (see Precompile).
  size_t precompiled_kernels() const { return precompiled_kernels_; }

  // Profiling: while on, every run adds each executed node's wall time to timings()[node].
  void EnableProfiling() { timings_.assign(model_->graph.nodes.size(), {}); }
  std::span<const NodeTiming> timings() const { return timings_; }
  void ResetTimings() { timings_.assign(timings_.size(), {}); }

 private:
  Executor(std::shared_ptr<const internal::ModelImpl> model, const ExecutorOptions& options)
      : model_(std::move(model)), options_(options), plans_(options.plan_cache_size) {}
  // Kernels build their oneDNN primitives, pack their weights (weight cache) and time
  // implementation candidates on first use. One run on zero inputs of the planned shapes does
  // all of that at prepare time, so no frame pays for it. A failing warm-up (an op that rejects
  // zeros, such as Range with step 0) is ignored: the first real run reports the error.
  void WarmUp();
  // Before the warm-up, with two threads or more: the kernels of static nodes create their
  // oneDNN primitives (Kernel::Precompile) on all of the Session's OpenMP threads at once, since
  // the JIT code generation is most of a prepare. The warm-up then finds them made (or, for choices
  // it still times, in oneDNN's primitive cache).
  void Precompile(const memory::RunPlan& plan);
  Status BindInputs(std::span<const NamedTensor> inputs);
  Status BindOutputs(memory::RunPlan& plan, std::span<NamedTensor> outputs);
  Status RunNode(size_t n, memory::RunPlan& plan);
  Status RunNodeTimed(size_t n, memory::RunPlan& plan);
  Status CollectOutputs(memory::RunPlan& plan, std::span<NamedTensor> outputs);

  std::shared_ptr<const internal::ModelImpl> model_;
  ExecutorOptions options_;
  std::vector<std::unique_ptr<Kernel>> kernels_;  // per node
  memory::PlanCache plans_;
  // Per run, per graph input: the tensor bound to it and its shape (sized once at Create).
  std::vector<const Tensor*> bound_;
  std::vector<const Shape*> bound_shapes_;
  std::vector<int> output_values_;   // per requested output of the current run
  std::vector<NodeTiming> timings_;  // per node while profiling, else empty
  size_t precompiled_kernels_ = 0;
};

}  // namespace accel::core
