// Memory layouts of 4-D activations, and which layouts an op can consume and produce.
//
// A value is either plain (dense row-major, NCHW for images) or channel-blocked, oneDNN's
// nChw16c: channels are split into blocks of kChannelBlock, each pixel's block contiguous, and
// the last block zero-padded. oneDNN's jit convolution and pooling kernels run on the blocked
// layout directly, so keeping activations blocked from one such op to the next saves a
// transpose of every tensor on the way in and out (see passes/propagate_layouts.cc).
//
// Shape rules and the graph keep seeing the logical NCHW shape; only tensors at run time have
// the physical shape [N, ceil(C/16), H, W, 16], whose element count includes the padding.
#pragma once

#include <cstdint>
#include <span>

#include "accel/tensor.h"

namespace accel::core {

enum class Layout : uint8_t {
  kPlain,
  kBlocked,  // nChw16c
};

inline constexpr int64_t kChannelBlock = 16;

const char* LayoutName(Layout layout);  // "plain", "nChw16c"

// The run-time tensor shape of a value with this logical shape (rank 4 when blocked).
Shape PhysicalShape(Layout layout, std::span<const int64_t> logical);
// The logical shape back from a physical one; `channels` is the value's channel count, which
// the padded physical shape no longer tells.
Shape LogicalShape(Layout layout, std::span<const int64_t> physical, int64_t channels);

// What an op does with layouts; the layout pass only hands blocked data to ops that say so.
enum class LayoutSupport : uint8_t {
  kPlainOnly,
  // Input 0 and the output may be blocked independently (Conv); a fused sum addend follows the
  // output's layout.
  kConv,
  // Input 0 and output 0 share one layout (pooling).
  kSpatial,
  // Every element is computed independently and f(0) == 0 padding stays harmless: data inputs
  // and the output share one layout when their logical shapes broadcast per channel.
  kElementwise,
  // Concat along channels: inputs and output share one layout.
  kConcat,
  // The layout conversion op itself.
  kReorder,
  // Channels picked from inputs concatenated along channels (accel.ChannelPick): inputs and
  // output share one layout.
  kChannelPick,
};

}  // namespace accel::core
