// Sliding-window geometry shared by Conv, ConvTranspose and the pooling ops: kernel_shape,
// strides, dilations, pads and auto_pad, and the output sizes they imply.
//
// Unknown spatial sizes (-1, load-time shapes) give unknown output sizes and pads; the kernels
// resolve the window again with concrete shapes on every shape change.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "accel/status.h"
#include "core/attributes.h"
#include "core/infer_context.h"

namespace accel::cpu {

enum class AutoPad { kNotSet, kSameUpper, kSameLower, kValid };

// The window attributes as written in the node, before the spatial rank is known.
struct WindowAttrs {
  AutoPad auto_pad = AutoPad::kNotSet;
  std::vector<int64_t> kernel;     // empty: taken from the weights (Conv, ConvTranspose)
  std::vector<int64_t> strides;    // empty: all 1
  std::vector<int64_t> dilations;  // empty: all 1
  std::vector<int64_t> pads;       // [begin..., end...]; empty: all 0
  bool ceil_mode = false;
};

// Reads auto_pad, kernel_shape, strides, dilations, pads and ceil_mode (each where present)
// and checks their values; lengths are checked by Resolve*Window once the rank is known.
Result<WindowAttrs> ParseWindowAttrs(const core::Attributes& attrs);

// The window along every spatial axis, with the output size it produces.
struct Window {
  std::vector<int64_t> kernel;
  std::vector<int64_t> strides;
  std::vector<int64_t> dilations;
  std::vector<int64_t> pad_begin;  // -1 where the input size is unknown
  std::vector<int64_t> pad_end;    // may be negative for ConvTranspose (extra output at the end)
  std::vector<int64_t> output;     // spatial output sizes, -1 where unknown

  size_t rank() const { return kernel.size(); }
  // Extent of the dilated kernel along axis i.
  int64_t extent(size_t i) const { return (kernel[i] - 1) * dilations[i] + 1; }
};

// Window of a forward sliding op (Conv, pooling) over `input` spatial sizes. `kernel` is the
// kernel shape from the weights when the attribute is absent (empty for pooling). Fails when
// lengths disagree with the spatial rank or the input is smaller than the dilated kernel.
Result<Window> ResolveWindow(const WindowAttrs& attrs, std::span<const int64_t> input,
                             std::span<const int64_t> kernel);

// Window of ConvTranspose: output_padding and output_shape are read from `attrs` here.
Result<Window> ResolveTransposeWindow(const WindowAttrs& window, const core::Attributes& attrs,
                                      std::span<const int64_t> input,
                                      std::span<const int64_t> kernel);

std::string DimsToString(std::span<const int64_t> dims);

// Conv and ConvTranspose: the window attributes and `group` (checked positive).
struct ConvAttrs {
  WindowAttrs window;
  int64_t group = 1;
};

Result<ConvAttrs> ParseConvAttrs(const core::Attributes& attrs);

// What the Conv and ConvTranspose shape rules read and check alike, in this order: inputs X and
// W present, the attributes, and a rank of 3 or more that X and W share (`rank` -1 when neither
// shape is known). `op` names the op in the messages.
struct ConvNode {
  ConvAttrs attrs;
  int64_t rank = -1;
  // Spatial sizes of X and of W's kernel, -1 where unknown (empty while the rank is unknown).
  std::vector<int64_t> input, kernel;

  // Whether the kernel sizes are known, from kernel_shape or from W's shape.
  bool kernel_known() const;
};

Result<ConvNode> ReadConvNode(const core::InferContext& ctx, const std::string& op);

// Checks the optional bias (input 2) is a vector of `maps` output channels (-1: unknown).
Status CheckConvBias(const core::InferContext& ctx, int64_t maps);

}  // namespace accel::cpu
