// The fused post-ops of Conv, Gemm and MatMul nodes (attributes documented in core/fused_ops.h)
// turned into oneDNN post-ops, plus what the shape rules and kernels need around them.
#pragma once

#include <dnnl.hpp>
#include <span>
#include <string>

#include "accel/status.h"
#include "accel/tensor.h"
#include "core/attributes.h"
#include "core/infer_context.h"

namespace accel::cpu {

enum class FusedActivation {
  kNone,
  kRelu,
  kLeakyRelu,
  kClip,
  kSigmoid,
  kHardSigmoid,
  kHardSwish,
  kSiLU,
  kGelu,
  kGeluTanh,
  kTanh
};

struct FusedPostOps {
  FusedActivation activation = FusedActivation::kNone;
  float alpha = 0.0f;
  float beta = 0.0f;
  bool sum = false;  // an addend input follows the op's own inputs
  // The addend comes after the activation (accel_sum 2): y = act(op) + addend.
  bool sum_after_activation = false;

  bool empty() const { return activation == FusedActivation::kNone && !sum; }
};

// Reads the accel_* attributes; an unknown activation name or accel_sum other than 0/1 is an
// InvalidModel error.
Result<FusedPostOps> ParseFusedPostOps(const core::Attributes& attrs);

// Appends the sum (scale 1, when `ops.sum`) and the activation to `post_ops`, in their order.
void AppendFusedPostOps(const FusedPostOps& ops, dnnl::post_ops& post_ops);

// Shape rule part: when `ops.sum`, input `index` must be present, have the output's dtype and
// agree with the output dims where both are known.
Status CheckFusedAddend(const core::InferContext& ctx, const FusedPostOps& ops, size_t index,
                        const core::TensorType& output);

// Kernel part: fails unless the addend is float32 of dst's exact shape.
Status CheckFusedAddend(const Tensor& addend, const Tensor& dst);

// Checks the addend, then copies it into `dst` (the sum post-op adds what dst holds).
Status CopyFusedAddend(const Tensor& addend, Tensor& dst);

// Applies the activation in place without oneDNN, for outputs no primitive computes (an empty
// inner dimension).
void ApplyFusedActivation(const FusedPostOps& ops, std::span<float> data);

// The same for `data` holding the op's result only: activation and addend in their order.
void ApplyFusedPostOps(const FusedPostOps& ops, std::span<float> data, const Tensor* addend);

// y = SiLU(y) (+ addend, when given) in place, vectorized and threaded. oneDNN 2.6's swish
// post-op costs a convolution more than this separate pass over its output (a 64-channel 1x1
// conv at 52x52: 0.36 ms fused, 0.27 ms with this pass, 0.23 ms without SiLU).
void SiluInPlace(std::span<float> y, const float* addend);

// y += addend (y's size) in place, threaded: a residual added after the primitive.
void AddInPlace(std::span<float> y, const float* addend);

}  // namespace accel::cpu
