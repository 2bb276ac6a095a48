// Internal node attributes through which the graph optimizer fuses work into Conv, Gemm and
// MatMul nodes; the CPU kernels run them as oneDNN post-ops. Only the optimizer sets them.
//
//   accel_activation        string: the activation applied to the output, one of
//                           Relu, LeakyRelu (alpha = slope), Clip (alpha = min, beta = max),
//                           Sigmoid, HardSigmoid (y = clip(alpha * x + beta, 0, 1)), HardSwish,
//                           SiLU (x * sigmoid(x)), Gelu (erf form), GeluTanh (tanh form), Tanh.
//   accel_activation_alpha  float: the activation's first parameter (default 0)
//   accel_activation_beta   float: the activation's second parameter (default 0)
//   accel_sum               int: 1 = input 3 (after the op's inputs; omitted optional inputs
//                           before it stay empty), of the output's exact shape, is added to the
//                           output before the activation: y = act(op(...) + addend);
//                           2 = the same input added after it: y = act(op(...)) + addend
//                           (Conv and MatMul only).
//
// MatMul also takes an optional input 2: a float32 bias [N] along the output's last axis
// (y = A x B + bias), which the optimizer fills from a following Add of a constant.
#pragma once

#include <string_view>

namespace accel::core {

inline constexpr std::string_view kFusedActivationAttr = "accel_activation";
inline constexpr std::string_view kFusedAlphaAttr = "accel_activation_alpha";
inline constexpr std::string_view kFusedBetaAttr = "accel_activation_beta";
inline constexpr std::string_view kFusedSumAttr = "accel_sum";

// The accel_activation values, in the spelling above.
inline constexpr std::string_view kFusedActivations[] = {
    "Relu",      "LeakyRelu", "Clip", "Sigmoid",  "HardSigmoid",
    "HardSwish", "SiLU",      "Gelu", "GeluTanh", "Tanh"};

}  // namespace accel::core
