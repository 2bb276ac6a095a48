// accel::Session: runs a Model.
//
// Thread rules: a Session is used by one thread at a time (it owns the activations and the
// per-shape kernel state of its runs). To run one Model on several threads concurrently, create
// one Session per thread from the same Model; they share the Model's weights.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "accel/model.h"
#include "accel/status.h"
#include "accel/tensor.h"

namespace accel {

namespace internal {
class SessionImpl;
}

struct SessionOptions {
  // Threads used inside one run. 0 = the number of physical cores.
  int num_threads = 0;
  // Times every node of every run for Session::Profile(). Off (the default), the only cost is
  // one branch per node per run; on, two clock reads per node and a check of its input shapes.
  bool enable_profiling = false;
};

// The wall time one node of the optimized graph took, summed over the profiled runs.
struct NodeProfile {
  std::string node;  // the node's name; unnamed nodes are shown as "#<index>"
  // The op type with what the optimizer fused into it, in execution order: "Conv",
  // "Conv+Relu", "Conv+Add+Relu" (a residual Add before the activation), "MatMul+Add" (bias).
  std::string op_type;
  // The input shapes of the latest run as stored ("1x3x224x224, 32x3x3x3"; "-" for an omitted
  // input; a channel-blocked tensor shows its physical 5-D shape), then, where the kernel
  // reports it, " | " and the implementation it runs (e.g. the oneDNN primitive chosen).
  std::string detail;
  int64_t runs = 0;  // how many runs executed this node (a run that failed earlier did not)
  double total_ms = 0;
};

class Session {
 public:
  static Result<Session> Create(const Model& model, const SessionOptions& options = {});

  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;
  ~Session();

  // Runs the model once. Every model input that has no default (initializer) must be given by
  // name; inputs may be owning tensors or views over caller memory. Returns all model outputs,
  // in the order of Model::outputs(), as owning tensors.
  Result<std::vector<NamedTensor>> Run(std::span<const NamedTensor> inputs);
  // Same, returning only the named outputs, in the order given.
  Result<std::vector<NamedTensor>> Run(std::span<const NamedTensor> inputs,
                                       std::span<const std::string> output_names);

  const Model& model() const;
  int num_threads() const;

  // Per-node wall times (steady clock, around each kernel's shape check and compute) summed
  // over the runs since Create or the last ResetProfile, in execution order; nodes no run
  // reached are left out. Empty when SessionOptions::enable_profiling was off. The times of a
  // run add up to less than its wall time: input checks, output copies and the release of
  // intermediates are not counted in any node.
  std::vector<NodeProfile> Profile() const;
  void ResetProfile();

 private:
  explicit Session(std::unique_ptr<internal::SessionImpl> impl);
  std::unique_ptr<internal::SessionImpl> impl_;
};

}  // namespace accel
