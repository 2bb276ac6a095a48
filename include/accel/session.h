// accel::Session: runs a Model.
//
// Thread rules: a Session is used by one thread at a time (it owns the activations and the
// per-shape kernel state of its runs), not necessarily the one that created it: create it on a
// loading thread and run it on a worker, say. Each thread that runs Sessions keeps one scratch
// buffer for oneDNN until it ends, as large as the largest need of the primitives it ran
// (resnet50: 10 MiB, for Winograd); the first run on a new thread allocates it. To run one Model on
// several threads concurrently, create one Session per thread from the same Model; they share the
// Model's weights.
#pragma once

#include <cstddef>
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
  // Threads used inside one run, and by the prepare (kernel compilation, weight packing,
  // implementation timing). 0 = the number of physical cores.
  int num_threads = 0;
  // Times every node of every run for Session::Profile(). Off (the default), the only cost is
  // one branch per node per run; on, two clock reads per node and a check of its input shapes.
  bool enable_profiling = false;
  // Memory plans kept for distinct sets of input shapes (least recently used dropped first);
  // values below 1 count as 1. All plans share one arena sized for the largest.
  int plan_cache_size = 4;
  // Lets an elementwise op write its output over an input that dies there (a smaller arena,
  // same results). Off only to compare.
  bool inplace_reuse = true;
  // Lets the producers of a Concat's inputs write straight into its output where each input is
  // one contiguous range of it (channels of a batch-1 tensor): the Concat then copies nothing.
  // Off only to compare.
  bool concat_in_place = true;
};

// What the memory plan of a Session's latest input shapes costs; see Session::memory_info.
struct MemoryInfo {
  bool prepared = false;  // false before Prepare or the first run
  // Bytes of the arena the intermediate tensors are planned into.
  size_t arena_bytes = 0;
  // The largest sum of intermediate tensors live at once (64-byte rounded): no placement of
  // these tensors can use less. arena_bytes / arena_lower_bound_bytes is the planner's waste.
  size_t arena_lower_bound_bytes = 0;
  // Bytes actually reserved: the largest plan of this Session so far (2 MiB rounded when it is
  // large enough to be mapped for huge pages).
  size_t arena_reserved_bytes = 0;
  int planned_tensors = 0;  // intermediate tensors placed in the arena
  int inplace_tensors = 0;  // of those, written over their elementwise op's dying input
  int elided_concats = 0;   // Concats whose inputs were computed into their output
  // Nodes whose output shapes depend on data (NonZero, NonMaxSuppression, ...): they run with
  // per-run shape inference and allocate their outputs on the heap in every run.
  int dynamic_nodes = 0;
  // The Model's constants as stored (weights, biases, folded constants), and the packed copies
  // of them that oneDNN kernels read (shared by every Session and Model with the same weights;
  // 0 until a prepare or run has packed them). Known before the first run.
  size_t weights_bytes = 0;
  size_t packed_weights_bytes = 0;
};

// An input's name and the shape to plan for (Session::Prepare).
struct InputShape {
  std::string name;
  Shape shape;
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

  // IO binding. Runs once and writes the outputs named in `outputs` into their tensors: an entry
  // holding a view (Tensor::View over caller memory) receives the result in place (its dtype
  // and shape must be the output's for these inputs), an empty entry gets a new owning tensor.
  // Once the input shapes have been prepared (or run once), a run with every output bound
  // allocates nothing in the executor; data-dependent nodes (MemoryInfo::dynamic_nodes), some
  // kernels' small temporaries and oneDNN's own per-call blocks still do (README, Memory).
  Status Run(std::span<const NamedTensor> inputs, std::span<NamedTensor> outputs);

  // Infers every shape for these input shapes and plans the intermediate tensors into the
  // arena (reserved and pre-faulted here), so the first run costs no more than later ones.
  // Inputs not listed use the model's shape, which must then be fully fixed. Create already
  // prepares when every input shape is fixed. Runs with new shapes prepare on their own.
  Status Prepare(std::span<const InputShape> shapes = {});
  // The plan of the latest Prepare or run.
  MemoryInfo memory_info() const;

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
