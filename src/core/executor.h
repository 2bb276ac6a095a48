// Runs a bound graph node by node on the CPU backend.
//
// Kernels are created once per executor (per Session). Each run infers the concrete output
// types with the nodes' shape rules, lets kernels allocate outputs lazily and releases each
// intermediate tensor after its last consumer.
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

namespace accel::core {

class Executor {
 public:
  static Result<std::unique_ptr<Executor>> Create(std::shared_ptr<const internal::ModelImpl> model,
                                                  int num_threads);

  // Runs with caller inputs (checked by name, dtype and shape) and returns the values of the
  // requested graph values (indices into graph.values) in order.
  Result<std::vector<Tensor>> Run(std::span<const NamedTensor> inputs, std::span<const int> wanted);

  const internal::ModelImpl& model() const { return *model_; }
  int num_threads() const { return num_threads_; }
  const Kernel& kernel(size_t node) const { return *kernels_[node]; }

  // Profiling: while on, every run adds each executed node's wall time to timings()[node].
  void EnableProfiling() { timings_.assign(model_->graph.nodes.size(), {}); }
  std::span<const NodeTiming> timings() const { return timings_; }
  void ResetTimings() { timings_.assign(timings_.size(), {}); }

 private:
  Executor(std::shared_ptr<const internal::ModelImpl> model, int num_threads)
      : model_(std::move(model)), num_threads_(num_threads) {}
  Status BindInputs(std::span<const NamedTensor> inputs, std::vector<Tensor>& values) const;
  Status RunNode(size_t n, std::vector<Tensor>& values);
  Status RunNodeTimed(size_t n, std::vector<Tensor>& values);

  std::shared_ptr<const internal::ModelImpl> model_;
  int num_threads_;
  std::vector<std::unique_ptr<Kernel>> kernels_;  // per node
  std::vector<int> last_use_;                     // per value: last consuming node, -1 if none
  std::vector<NodeTiming> timings_;               // per node while profiling, else empty
};

}  // namespace accel::core
