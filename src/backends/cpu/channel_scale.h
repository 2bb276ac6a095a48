// A convolution input scaled per channel (accel_input_scale: a squeeze-excitation Mul that the
// optimizer folded into the following 1x1 conv), applied to the packed weights instead:
// conv(x * s, W) = conv(x, W * s) for group 1. Per run that is one multiplication per weight
// (a few thousand in EfficientNet's early stages) instead of one per input element (~400K).
#pragma once

#include <cstdint>
#include <dnnl.hpp>
#include <vector>

#include "accel/status.h"
#include "accel/tensor.h"

namespace accel::cpu {

class ChannelScaledWeights {
 public:
  // Learns which input channel (axis 1 of the plain float32 `user` weights) every element of
  // the packed float32 layout `want` holds, by packing the channel numbers themselves.
  Status Prepare(const dnnl::memory::desc& user, const dnnl::memory::desc& want);

  // packed[j] * scale[channel of j] for the weights packed in `want`'s layout; returns the
  // scaled copy (owned here, valid until the next call).
  const float* Apply(const float* packed, const float* scale);

 private:
  static constexpr int64_t kGroup = 16;
  // The channel of each group of kGroup packed elements, or -1 when they differ; then
  // channels_ holds one per element. Blocked weight layouts keep 16 output channels of one
  // input channel together, so nearly every group is uniform.
  std::vector<int32_t> group_channel_;
  std::vector<int32_t> channels_;
  Tensor scaled_;
};

}  // namespace accel::cpu
