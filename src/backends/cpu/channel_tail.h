// The partial last channel block of a float32 NCHW image, copied between the channel-blocked
// layout (nChw16c: pixel-major, 16 lanes per pixel) and the plain one (one plane per channel).
//
// oneDNN 2.6 converts channel counts that are not a multiple of 16 with its generic reorder,
// 5-8x slower than its blocked one, and generates that reorder's code per shape (0.02-0.15 ms
// each at prepare). These loops take the partial block instead: the whole tensor when it has
// fewer than 16 channels (a detection head's 4, 6 or 12 outputs), the tail of a larger one.
#pragma once

#include <cstdint>

namespace accel::cpu {

// `tail` (< 16) channels of `pixels` pixels: from one block to `tail` planes.
void TailToPlain(const float* block, float* planes, int64_t tail, int64_t pixels);

// The reverse; the block's padding lanes are written as zeros (consumers may read them).
void TailToBlocked(const float* planes, float* block, int64_t tail, int64_t pixels);

}  // namespace accel::cpu
