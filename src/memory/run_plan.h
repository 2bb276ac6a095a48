// RunPlan: what a Session computes once per set of input shapes, so that each run only
// launches kernels over planned memory.
//
// Built by BuildRunPlan (the executor's "prepare"):
// 1. Shape inference over the graph with the concrete input shapes. Small shape computations
//    (Shape, Size and nodes whose inputs are all constants or such results, up to
//    kMaxPrecomputedElements per output) are evaluated right here: their values depend only on
//    the input shapes, so they become constants of the plan and never run again. That is what
//    keeps a model with symbolic dims (batch, sequence) static once its shapes are given.
// 2. Every node is classified:
//    - precomputed: evaluated in step 1;
//    - view: Reshape, Flatten, Squeeze, Unsqueeze, Identity whose input lives in the arena or is
//      a constant: the output is a view of the same bytes, built here; the kernel never runs;
//    - static: every input and output shape is known; the kernel runs through a context whose
//      tensors are prebuilt views into the arena (no shape inference, no allocation);
//    - dynamic: some shape depends on data (NonZero, NonMaxSuppression, values fed at run
//      time...). The node runs as before the planner: per-run shape inference and heap
//      allocation of its outputs, freed after their last use. Nodes after it whose shapes are
//      then unknown are dynamic too. The zero-allocation guarantee covers plans without
//      dynamic nodes.
// 3. Memory: every output of a static node that is neither a graph output nor a view gets a
//    memory::Block sized by its physical tensor (blocked layouts included) and living from its
//    producer to its last consumer (extended over the views of it). Elementwise ops may write
//    over their input 0 when it dies there (PlanOptions::allow_inplace). memory::PlanMemory
//    places the blocks; the Session's Arena is then reserved and BindArena builds the views.
//    A Concat whose inputs are each one contiguous range of its output (concatenation over the
//    outermost non-unit dim: channels of a batch-1 tensor, in either layout) is elided: its
//    inputs become views into its output at their offsets, their producers write there, and
//    the Concat never runs (PlanOptions::concat_in_place).
//    Graph outputs are not in the arena: they are the caller's bound buffers, or tensors
//    allocated per run and handed to the caller without a copy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "accel/status.h"
#include "accel/tensor.h"
#include "core/graph.h"
#include "core/kernel.h"
#include "core/model_impl.h"
#include "memory/arena.h"
#include "memory/memory_planner.h"

namespace accel::memory {

inline constexpr int64_t kMaxPrecomputedElements = 4096;

enum class Storage : uint8_t {
  kConstant,  // a model constant or a precomputed value of the plan
  kInput,     // fed by the caller
  kArena,     // planned at offset[v]
  kView,      // a view of view_root[v] (arena or constant) at view_offset[v], prebuilt
  kOutput,    // a graph output of a static node: a bound view or allocated per run
  kDynamic,   // allocated by its (dynamic or aliasing) node per run
  // A view of a fed input (or of another such view): prebuilt with its shape and re-pointed at
  // the input's bytes when its node runs, so a run allocates nothing for it.
  kInputView,
};

enum class NodeMode : uint8_t { kPrecomputed, kView, kStatic, kDynamic };

struct RunPlan {
  std::vector<Shape> key;               // per graph input (Graph::inputs order)
  std::vector<core::TensorType> types;  // per value: logical type for these input shapes
  std::vector<Shape> physical;          // per value: run-time tensor shape where known
  std::vector<Storage> storage;         // per value
  std::vector<int> view_root;           // per value: the viewed value for kView, else -1
  std::vector<size_t> view_offset;      // per value: bytes into view_root (elided Concat inputs)
  std::vector<size_t> offset;           // per value: arena offset for kArena
  std::vector<int> last_use;            // per value: last consuming node (nodes.size() = output)
  std::vector<NodeMode> mode;           // per node
  // Per node: an output of it reaches a dynamic node, whose shapes then depend on its data, so
  // the warm-up must compute it (KernelContext::warm_up is false for it).
  std::vector<uint8_t> feeds_dynamic;
  std::vector<Tensor> values;  // per value: the tensors of a run (kept between runs)
  MemoryPlan memory;
  std::vector<int> block_value;  // per planner block: its value
  int dynamic_nodes = 0;
  int elided_concats = 0;  // Concats whose inputs were written into their output
  bool ran = false;        // a run (or the executor's warm-up) has gone through this plan
  bool warm_up = false;    // the current run is the executor's warm-up (KernelContext::warm_up)
  const std::byte* bound_base = nullptr;  // the arena BindArena built the views over
  bool arena_bound = false;
};

// Shape inference, classification and memory plan for these input shapes (per Graph::inputs;
// a defaulted input not fed has its constant's shape). Uses the executor's kernels to
// precompute shape computations. Errors omit the node label only where noted by the caller.
Result<std::unique_ptr<RunPlan>> BuildRunPlan(
    const internal::ModelImpl& model, std::span<const std::unique_ptr<core::Kernel>> kernels,
    std::vector<Shape> key, int num_threads, const PlanOptions& options);

// Points the arena values and the views of arena values at `base` (capacity >= arena_bytes).
Status BindArena(RunPlan& plan, std::byte* base);

// Runs static node n of the plan: its kernel computes over plan.values through a context
// without shape inference or allocation. Graph outputs must already be set in plan.values.
Status RunStaticNode(const core::Graph& g, size_t n, RunPlan& plan, core::Kernel& kernel,
                     int num_threads);

// The plans of one Session: the most recently used ones for distinct input shapes (LRU, at
// most `capacity`), sharing one Arena sized for the largest of them. Alternating between input
// shapes therefore costs neither a rebuild per run nor memory per shape seen.
class PlanCache {
 public:
  explicit PlanCache(size_t capacity) : capacity_(capacity < 1 ? 1 : capacity) {}

  // The plan for these shapes (per Graph::inputs), built on a miss and bound to the arena.
  // A hit allocates nothing.
  Result<RunPlan*> Get(const internal::ModelImpl& model,
                       std::span<const std::unique_ptr<core::Kernel>> kernels,
                       std::span<const Shape* const> shapes, int num_threads,
                       const PlanOptions& options);
  // The latest plan used, or nullptr.
  const RunPlan* latest() const { return plans_.empty() ? nullptr : plans_.front().get(); }
  const Arena& arena() const { return arena_; }
  size_t size() const { return plans_.size(); }

 private:
  size_t capacity_;
  std::vector<std::unique_ptr<RunPlan>> plans_;  // most recently used first
  Arena arena_{Arena::Pages::kHuge};             // reread every run: worth huge pages (arena.h)
};

// After dynamic node n ran (core::ComputeNode over plan.values): an output that aliases arena
// bytes (a Reshape of a planned value, say) is copied out, since the planner may reuse those
// bytes before the output's last use.
Status DetachFromArena(const core::Graph& g, size_t n, RunPlan& plan);

}  // namespace accel::memory
