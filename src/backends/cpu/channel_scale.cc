#include "backends/cpu/channel_scale.h"

#include <algorithm>

#include "backends/cpu/blocked_weights.h"
#include "backends/cpu/dnnl_context.h"

namespace accel::cpu {

Status ChannelScaledWeights::Prepare(const dnnl::memory::desc& user,
                                     const dnnl::memory::desc& want) {
  using dt = dnnl::memory::data_type;
  const dnnl::memory::dims dims = user.dims();
  if (dims.size() < 2 || user.data_type() != dt::f32 || want.data_type() != dt::f32 ||
      want.data.format_kind != dnnl_blocked) {
    return Unsupported("a per-channel input scale needs float32 weights in a blocked layout");
  }
  // The plain weights' channel numbers: [O, C, k...] row-major, channel = (i / inner) % C.
  const int64_t channels = dims[1];
  int64_t inner = 1;
  for (size_t d = 2; d < dims.size(); ++d) inner *= dims[d];
  std::vector<float> plain(user.get_size() / sizeof(float));
  for (size_t i = 0; i < plain.size(); ++i) {
    plain[i] = static_cast<float>((static_cast<int64_t>(i) / inner) % channels);
  }
  const size_t count = want.get_size() / sizeof(float);
  std::vector<float> packed(count, 0.0f);
  if (user == want) {
    packed = plain;
  } else if (!PackBlockedWeights(user, plain.data(), want, packed.data())) {
    dnnl::memory from(user, CpuEngine(), plain.data()), to(want, CpuEngine(), packed.data());
    dnnl::reorder(from, to).execute(ThreadStream(), from, to);
    ThreadStream().wait();
  }
  // Padding holds zero weights, which any channel's scale leaves zero.
  channels_.resize(count);
  std::transform(packed.begin(), packed.end(), channels_.begin(),
                 [](float c) { return static_cast<int32_t>(c); });
  const size_t groups = count / kGroup;
  group_channel_.assign(groups, -1);
  bool all_uniform = count % kGroup == 0;
  for (size_t g = 0; g < groups; ++g) {
    const auto first = channels_.begin() + static_cast<ptrdiff_t>(g * kGroup);
    if (std::all_of(first, first + kGroup, [&](int32_t c) { return c == *first; })) {
      group_channel_[g] = *first;
    } else {
      all_uniform = false;
    }
  }
  if (all_uniform) channels_.clear();
  ACCEL_ASSIGN_OR_RETURN(scaled_,
                         Tensor::Create(DType::kFloat32, Shape{static_cast<int64_t>(count)}));
  return Status::Ok();
}

const float* ChannelScaledWeights::Apply(const float* packed, const float* scale) {
  float* out = scaled_.data_as<float>();
  const int64_t count = scaled_.element_count();
  const int64_t groups = static_cast<int64_t>(group_channel_.size());
  for (int64_t g = 0; g < groups; ++g) {
    const int64_t at = g * kGroup;
    if (group_channel_[g] >= 0) {
      const float s = scale[group_channel_[g]];
      for (int64_t k = 0; k < kGroup; ++k) out[at + k] = packed[at + k] * s;
    } else {
      for (int64_t k = 0; k < kGroup; ++k) out[at + k] = packed[at + k] * scale[channels_[at + k]];
    }
  }
  for (int64_t j = groups * kGroup; j < count; ++j) out[j] = packed[j] * scale[channels_[j]];
  return out;
}

}  // namespace accel::cpu
