// Winograd F(2x2, 3x3) weights for oneDNN's float32 Winograd convolution, transformed here
// rather than by oneDNN's own weight reorder. oneDNN 2.6 transforms one weight at a time without
// vectorizing (about 20 ns per weight: 240 ms of resnet18's first run); this pass does 16 output
// channels per vector and is ~10x faster, which keeps packing out of the load-time budget.
#pragma once

#include <dnnl.hpp>

namespace accel::cpu {

// Writes `oihw` (float32 [OC, IC, 3, 3], plain layout `user`) into `out` (want.get_size() bytes)
// in the Winograd layout `want` that a convolution primitive asked for. Returns false, writing
// nothing, for descriptions it does not handle (the 4x3 variant, int8 layouts, groups); a
// oneDNN reorder must then do the work.
bool PackWinogradWeights(const dnnl::memory::desc& user, const void* oihw,
                         const dnnl::memory::desc& want, void* out);

}  // namespace accel::cpu
