// Copies a float32 NCHW tensor between the plain and the channel-blocked layout (core/layout.h):
// the Reorder kernel's work, and a primitive's blocked result into a plain output.
//
// oneDNN 2.6 converts a channel count that is not a multiple of 16 with its generic reorder,
// 5-8x slower than its blocked one (58x52x52 to plain: ~110 vs ~16 us), and generates that
// reorder's code per shape at prepare (0.02-0.15 ms each). So oneDNN's blocked reorder takes the
// whole blocks of each image and a loop here the partial last block: all of a tensor with fewer
// than 16 channels (a detection head's 4, 6 or 12 outputs), which then needs no oneDNN reorder.
#pragma once

#include <dnnl.hpp>
#include <optional>

#include "accel/status.h"
#include "accel/tensor.h"
#include "core/layout.h"

namespace accel::cpu {

class LayoutCopy {
 public:
  LayoutCopy(core::Layout from, core::Layout to) : from_(from), to_(to) {}

  // Sets the copy up for tensors of the logical shape `shape` (NCHW for a blocked side).
  Status Prepare(const Shape& shape);
  // The shape of the last successful Prepare.
  const std::optional<Shape>& prepared() const { return prepared_; }
  // Copies `src` (in `from`) into `dst` (in `to`), both of the prepared shape, and waits for it.
  void Run(const float* src, float* dst);

 private:
  core::Layout from_, to_;
  std::optional<Shape> prepared_;
  int64_t channels_ = 0, tail_ = 0;  // tail_: channels in the partial last block
  int64_t images_ = 0, pixels_ = 0, blocks_ = 0;
  dnnl::reorder reorder_;  // the whole tensor, or (with a tail) one image's whole blocks
  dnnl::memory src_, dst_;
};

}  // namespace accel::cpu
