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
//   accel_input_scale       int: 1 = Conv input 4 (after the addend's slot) is a float32 scale
//                           per input channel, [1, C, 1, 1], that multiplies input 0 before
//                           the convolution: y = conv(x * scale). Only on a group-1 Conv with
//                           constant weights and a batch of one, where it is folded into the
//                           packed weights per run (a squeeze-excitation Mul; fuse_channel_scale).
//
// MatMul also takes an optional input 2: a float32 bias [N] along the output's last axis
// (y = A x B + bias), which the optimizer fills from a following Add of a constant.
//
// Internal ops (domain "accel", version 1) that the optimizer puts in place of whole patterns;
// the CPU backend runs them whatever the model's opset:
//   accel.LayerNormalization  inputs X, Scale (optional), B (optional); attributes axis (int,
//                           first normalized axis), epsilon (float). Float32 only; otherwise the
//                           semantics of ONNX LayerNormalization-17 with output Y only, where an
//                           omitted Scale is 1. From the ReduceMean/Sub/Pow/Sqrt/Div pattern
//                           (fuse_layernorm).
//   accel.Attention         inputs Q [..., M, K], Kt [..., K, N], V [..., N, D], Mask (optional,
//                           broadcast to [..., M, N]); attribute scale (float, default 1):
//                           Y = Softmax(scale * (Q x Kt) + Mask, last axis) x V, batch dims
//                           broadcast as in MatMul. From MatMul [Mul/Div] [Add] Softmax MatMul
//                           (fuse_attention).
//   accel.ElementwiseChain  input 0 X (float32), then the chain's tensor operands, each of X's
//                           exact shape; attributes, one entry per op: ops (strings: Neg, Abs,
//                           Relu, Sigmoid, Tanh, Exp, Log, Sqrt, Erf, Floor, Ceil, Reciprocal,
//                           Add, Sub, Mul, Div, Pow), operand (ints: the input slot of a tensor
//                           operand, -1 for the scalar), scalars (floats: the scalar operand),
//                           operand_first (ints: 1 when the operand is the left-hand side).
//                           The ops apply in turn to each element of X (fuse_elementwise_chain).
//   accel.SpaceToDepth      input X [N, C, H, W], any type; attributes blocksize b (int, >= 1,
//                           dividing H and W), offsets (ints: (row, column) pairs inside the
//                           block, one per channel group g). Y [N, G*C, H/b, W/b] with
//                           Y[n, g*C + c, h, w] = X[n, c, h*b + row_g, w*b + column_g]. From a
//                           channel Concat of step-b Slices, YOLO's Focus (fuse_space_to_depth).
#pragma once

#include <string_view>

namespace accel::core {

inline constexpr std::string_view kFusedActivationAttr = "accel_activation";
inline constexpr std::string_view kFusedAlphaAttr = "accel_activation_alpha";
inline constexpr std::string_view kFusedBetaAttr = "accel_activation_beta";
inline constexpr std::string_view kFusedSumAttr = "accel_sum";
inline constexpr std::string_view kFusedInputScaleAttr = "accel_input_scale";

// The domain of the internal ops above.
inline constexpr std::string_view kAccelDomain = "accel";

// The accel_activation values, in the spelling above.
inline constexpr std::string_view kFusedActivations[] = {
    "Relu",      "LeakyRelu", "Clip", "Sigmoid",  "HardSigmoid",
    "HardSwish", "SiLU",      "Gelu", "GeluTanh", "Tanh"};

}  // namespace accel::core
