// The interface between the executor and an op's implementation on a backend.
//
// A backend creates one Kernel per node when a Session is created (attributes parsed, constant
// weights prepared once). Compute() then runs once per Session::Run with concrete tensors.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "accel/model.h"
#include "accel/status.h"
#include "accel/tensor.h"
#include "core/attributes.h"
#include "core/graph.h"
#include "core/layout.h"

namespace accel::core {

// What a kernel factory sees: the node, its static input types and its constant inputs.
struct KernelInit {
  const Node& node;
  const Attributes& attrs;
  int opset;  // the op version in force, resolved from the model's opset
  std::vector<const TensorType*> input_types;  // nullptr for omitted inputs
  std::vector<const Tensor*> constant_inputs;  // nullptr where the input is not a constant
  std::vector<const TensorType*> output_types;
  int num_threads;
  // Layouts the layout pass chose for each input and output (kPlain for omitted ones). A
  // kernel whose OpDef does not declare layout support only ever sees kPlain.
  std::vector<Layout> input_layouts;
  std::vector<Layout> output_layouts;
  // LoadOptions::precision: the compute-heavy kernels may read inputs and weights in bfloat16.
  Precision precision = Precision::kFloat32;

  bool has_input(size_t i) const { return i < input_types.size() && input_types[i]; }
};

// The per-run view a kernel computes through.
class KernelContext {
 public:
  virtual ~KernelContext() = default;

  virtual size_t num_inputs() const = 0;
  // False for an omitted optional input.
  virtual bool has_input(size_t i) const = 0;
  virtual const Tensor& input(size_t i) const = 0;
  // The logical shape of input i; for a blocked input, input(i).shape() is the physical one.
  virtual const Shape& input_shape(size_t i) const = 0;

  virtual size_t num_outputs() const = 0;
  // False for an omitted optional output (the kernel may skip computing it).
  virtual bool has_output(size_t i) const = 0;
  // The logical shape the op's shape rule inferred for output i in this run (-1 where the rule
  // could not tell).
  virtual const Shape& output_shape(size_t i) const = 0;
  // The output buffer, allocated on first call with the shape the op's shape rule inferred
  // for this run (physical for a blocked output). Fails if the rule could not infer it
  // (data-dependent shapes): such kernels call AllocateOutput instead.
  virtual Result<Tensor*> Output(size_t i) = 0;
  // Allocates output i with the shape the kernel computed (dtype from the shape rule).
  virtual Result<Tensor*> AllocateOutput(size_t i, Shape shape) = 0;
  // Makes output i alias an existing tensor (Reshape, Identity, Squeeze: no copy).
  virtual Status SetOutput(size_t i, Tensor tensor) = 0;

  virtual int num_threads() const = 0;
  // True in the executor's warm-up run (Executor::WarmUp), except for nodes whose results a
  // data-dependent node reads: the kernel should set itself up for these shapes (primitives,
  // packed weights, anything a later run would otherwise allocate) and may skip the
  // computation, whose results are discarded.
  virtual bool warm_up() const { return false; }
};

// The logical shapes a kernel will run with, known before its first run (Kernel::Precompile).
struct KernelShapes {
  std::vector<const Shape*> inputs;  // nullptr for omitted inputs
  std::vector<const Shape*> outputs;
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual Status Compute(KernelContext& ctx) = 0;
  // Creates ahead of the first Compute with these shapes what that Compute would create: oneDNN
  // primitives, whose JIT code generation is most of a Session's prepare time. The executor
  // calls it for several kernels at once on the Session's threads, so it may touch only this
  // kernel and thread-safe state, and it computes and packs nothing. Best effort: what fails or
  // is skipped here is done, and reported, by the first Compute. True when the kernel is now
  // set up for these shapes.
  virtual bool Precompile(const KernelShapes& /*shapes*/) { return false; }
  // For profiles (Session::Profile): the implementation this kernel runs when the op type does
  // not tell, e.g. the oneDNN primitive chosen for the latest shapes ("brgconv:avx2"); "" by
  // default.
  virtual std::string Describe() const { return ""; }
};

using CreateKernelFn = Result<std::unique_ptr<Kernel>> (*)(const KernelInit& init);

}  // namespace accel::core
