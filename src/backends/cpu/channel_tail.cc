#include "backends/cpu/channel_tail.h"

#include "core/layout.h"

namespace accel::cpu {

void TailToPlain(const float* block, float* planes, int64_t tail, int64_t pixels) {
  for (int64_t p = 0; p < pixels; ++p) {
    for (int64_t l = 0; l < tail; ++l) planes[l * pixels + p] = block[p * core::kChannelBlock + l];
  }
}

void TailToBlocked(const float* planes, float* block, int64_t tail, int64_t pixels) {
  for (int64_t p = 0; p < pixels; ++p) {
    for (int64_t l = 0; l < core::kChannelBlock; ++l) {
      block[p * core::kChannelBlock + l] = l < tail ? planes[l * pixels + p] : 0.0f;
    }
  }
}

}  // namespace accel::cpu
