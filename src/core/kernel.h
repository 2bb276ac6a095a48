// The interface between the executor and an op's implementation on a backend.
//
// A backend creates one Kernel per node when a Session is created (attributes parsed, constant
// weights prepared once). Compute() then runs once per Session::Run with concrete tensors.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "accel/model.h"
#include "accel/status.h"
#include "accel/tensor.h"
#include "core/attributes.h"
#include "core/graph.h"

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

  virtual size_t num_outputs() const = 0;
  // False for an omitted optional output (the kernel may skip computing it).
  virtual bool has_output(size_t i) const = 0;
  // The output buffer, allocated on first call with the shape the op's shape rule inferred
  // for this run. Fails if the rule could not infer it (data-dependent shapes): such kernels
  // call AllocateOutput instead.
  virtual Result<Tensor*> Output(size_t i) = 0;
  // Allocates output i with the shape the kernel computed (dtype from the shape rule).
  virtual Result<Tensor*> AllocateOutput(size_t i, Shape shape) = 0;
  // Makes output i alias an existing tensor (Reshape, Identity, Squeeze: no copy).
  virtual Status SetOutput(size_t i, Tensor tensor) = 0;

  virtual int num_threads() const = 0;
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual Status Compute(KernelContext& ctx) = 0;
};

using CreateKernelFn = Result<std::unique_ptr<Kernel>> (*)(const KernelInit& init);

}  // namespace accel::core
