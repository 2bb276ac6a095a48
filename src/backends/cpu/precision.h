// How the oneDNN kernels of the compute-heavy ops (Conv, ConvTranspose, Gemm, MatMul) honour
// LoadOptions::precision.
//
// oneDNN 2.6 ignores primitive_attr::set_fpmath_mode(bf16) for these primitives (they keep
// their f32 kernels; measured with ONEDNN_VERBOSE). bf16 arithmetic takes bf16 memory: src and
// weights are described as bf16, dst (and bias) stay f32 so neighbouring ops see float32.
// WeightedPrimitive converts src with a reorder around each run (cheap when the layout stays
// the same: ~0.02 ms for 300k values) and constant weights once; a 3x3 conv then runs ~1.9x
// faster, a 1x1 one ~1.5-2x.
#pragma once

#include <cstdint>
#include <dnnl.hpp>

#include "accel/model.h"

namespace accel::cpu {

// The data type a primitive reads src and weights in for `precision`.
inline dnnl::memory::data_type ComputeType(Precision precision) {
  return precision == Precision::kBFloat16 ? dnnl::memory::data_type::bf16
                                           : dnnl::memory::data_type::f32;
}

// `md` (an f32 descriptor) read in `precision`: same dims and layout, the compute data type.
inline dnnl::memory::desc InComputeType(dnnl::memory::desc md, Precision precision) {
  if (precision == Precision::kFloat32 || md.is_zero()) return md;
  // Strides and blocks count elements, not bytes, so only the type changes (oneDNN 2.x has no
  // API for this; its C descriptor is public).
  md.data.data_type = dnnl::memory::convert_to_c(ComputeType(precision));
  return md;
}

// The precision a (transposed) convolution with `group` groups from `in_channels` to
// `out_channels` channels and `kernel_elements` taps per channel runs in. One with few
// multiply-adds per output value (at most 16 input channels per group and under 64 products:
// depthwise convs, 1x1 ones over 16 channels, a 3x3 one over 3 colour channels) stays float32: it
// is bound by memory, not arithmetic, so converting its input costs more than bf16 saves. Measured
// at 1 thread, float32 vs bf16 with its reorders: depthwise 3x3 on 144x56x56 0.21 vs 0.20 + 0.03
// ms; 1x1 16->96 on 112x112 2.0 vs 2.2 ms; 3x3 3->32 stride 2 on 224x224 0.20 vs 0.23 ms. More taps
// pay even over few channels: 3x3 12->16 on 208x208 (yolox_nano's first conv) 1.46 vs 0.90 ms, 7x7
// 3->64 stride 2 on 224x224 (resnet's) 2.13 vs 1.53 ms, 3x3 16->16 on 104x104 0.43 vs 0.26 ms.
// The input conversion is paid per input value, so a conv that uses each input value in few
// products stays float32 too: a 1x1 conv from and to at most 64 channels (FastestDet's 24->24
// on 44x44 0.021 vs 0.036 ms and 48->48 on 22x22 0.030 vs 0.038, yolox_nano's 32->16 on
// 104x104 0.08 vs 0.12, at 2 threads) and one with under 16 outputs per input (detection heads'
// 64->1 and 64->4). A 1x1 conv that expands few channels into many pays (mobilenet_v2's 32->192
// 0.061 vs 0.045 ms, efficientnet's 24->144 on 56x56 0.22 vs 0.17).
inline Precision ConvPrecision(Precision requested, int64_t group, int64_t in_channels,
                               int64_t out_channels, int64_t kernel_elements) {
  constexpr int64_t kMaxFloat32ChannelsPerGroup = 16;
  constexpr int64_t kMinBf16ProductsPerOutput = 64;
  constexpr int64_t kMinBf16UsesPerInput = 16;
  const int64_t per_group = in_channels / group;
  const bool light = per_group <= kMaxFloat32ChannelsPerGroup &&
                     per_group * kernel_elements < kMinBf16ProductsPerOutput;
  const int64_t out_per_group = out_channels / group;
  const bool narrow = kernel_elements == 1 && per_group < kMinBf16ProductsPerOutput &&
                      out_per_group <= kMinBf16ProductsPerOutput;
  const bool few_outputs = out_per_group * kernel_elements < kMinBf16UsesPerInput;
  return light || narrow || few_outputs ? Precision::kFloat32 : requested;
}

}  // namespace accel::cpu
