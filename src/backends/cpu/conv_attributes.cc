#include "backends/cpu/conv_attributes.h"

#include <algorithm>

namespace accel::cpu {

namespace {

Status CheckPositive(const std::vector<int64_t>& v, const char* name) {
  for (int64_t x : v) {
    if (x < 1) return InvalidModel(std::string(name) + " must be positive, got " + DimsToString(v));
  }
  return Status::Ok();
}

// `v` must be empty (defaulting to `fill`) or have `rank` entries.
Result<std::vector<int64_t>> PerAxis(const std::vector<int64_t>& v, size_t rank, int64_t fill,
                                     const char* name) {
  if (v.empty()) return std::vector<int64_t>(rank, fill);
  if (v.size() != rank) {
    return InvalidModel(std::string(name) + " " + DimsToString(v) + " has " +
                        std::to_string(v.size()) + " values for " + std::to_string(rank) +
                        " spatial axes");
  }
  return v;
}

int64_t CeilDiv(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }
int64_t FloorDiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// Splits a total padding between both ends as SAME_UPPER / SAME_LOWER ask.
void SplitPad(AutoPad mode, int64_t total, int64_t& begin, int64_t& end) {
  int64_t small = total / 2;
  begin = mode == AutoPad::kSameLower ? total - small : small;
  end = total - begin;
}

// Kernel, strides and dilations for `rank` axes; pads sized but not yet resolved.
Result<Window> BaseWindow(const WindowAttrs& attrs, size_t rank, std::span<const int64_t> kernel) {
  Window w;
  if (!attrs.kernel.empty()) {
    ACCEL_ASSIGN_OR_RETURN(w.kernel, PerAxis(attrs.kernel, rank, 1, "kernel_shape"));
    for (size_t i = 0; i < kernel.size() && i < rank; ++i) {
      if (kernel[i] >= 0 && kernel[i] != w.kernel[i]) {
        return InvalidModel("kernel_shape " + DimsToString(attrs.kernel) +
                            " does not match the weights' spatial shape " + DimsToString(kernel));
      }
    }
  } else if (kernel.size() == rank) {
    w.kernel.assign(kernel.begin(), kernel.end());
  } else {
    return InvalidModel("kernel_shape is required");
  }
  ACCEL_ASSIGN_OR_RETURN(w.strides, PerAxis(attrs.strides, rank, 1, "strides"));
  ACCEL_ASSIGN_OR_RETURN(w.dilations, PerAxis(attrs.dilations, rank, 1, "dilations"));
  ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> pads, PerAxis(attrs.pads, 2 * rank, 0, "pads"));
  w.pad_begin.assign(pads.begin(), pads.begin() + rank);
  w.pad_end.assign(pads.begin() + rank, pads.end());
  w.output.assign(rank, -1);
  return w;
}

}  // namespace

std::string DimsToString(std::span<const int64_t> dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(dims[i]);
  }
  return s + "]";
}

Result<WindowAttrs> ParseWindowAttrs(const core::Attributes& attrs) {
  WindowAttrs w;
  ACCEL_ASSIGN_OR_RETURN(std::string auto_pad, attrs.GetString("auto_pad", "NOTSET"));
  if (auto_pad == "NOTSET" || auto_pad.empty()) {
    w.auto_pad = AutoPad::kNotSet;
  } else if (auto_pad == "SAME_UPPER") {
    w.auto_pad = AutoPad::kSameUpper;
  } else if (auto_pad == "SAME_LOWER") {
    w.auto_pad = AutoPad::kSameLower;
  } else if (auto_pad == "VALID") {
    w.auto_pad = AutoPad::kValid;
  } else {
    return InvalidModel("unknown auto_pad '" + auto_pad + "'");
  }
  ACCEL_ASSIGN_OR_RETURN(w.kernel, attrs.GetInts("kernel_shape"));
  ACCEL_ASSIGN_OR_RETURN(w.strides, attrs.GetInts("strides"));
  ACCEL_ASSIGN_OR_RETURN(w.dilations, attrs.GetInts("dilations"));
  ACCEL_ASSIGN_OR_RETURN(w.pads, attrs.GetInts("pads"));
  ACCEL_ASSIGN_OR_RETURN(int64_t ceil_mode, attrs.GetInt("ceil_mode", 0));
  w.ceil_mode = ceil_mode != 0;
  ACCEL_RETURN_IF_ERROR(CheckPositive(w.kernel, "kernel_shape"));
  ACCEL_RETURN_IF_ERROR(CheckPositive(w.strides, "strides"));
  ACCEL_RETURN_IF_ERROR(CheckPositive(w.dilations, "dilations"));
  for (int64_t p : w.pads) {
    if (p < 0) return InvalidModel("pads must not be negative, got " + DimsToString(w.pads));
  }
  if (w.pads.size() % 2 != 0) {
    return InvalidModel("pads " + DimsToString(w.pads) + " must have an even length");
  }
  return w;
}

Result<Window> ResolveWindow(const WindowAttrs& attrs, std::span<const int64_t> input,
                             std::span<const int64_t> kernel) {
  ACCEL_ASSIGN_OR_RETURN(Window w, BaseWindow(attrs, input.size(), kernel));
  for (size_t i = 0; i < w.rank(); ++i) {
    const int64_t in = input[i];
    const int64_t ext = w.extent(i);
    const int64_t s = w.strides[i];
    if (attrs.auto_pad == AutoPad::kSameUpper || attrs.auto_pad == AutoPad::kSameLower) {
      if (in < 0) {
        w.pad_begin[i] = w.pad_end[i] = -1;
        continue;
      }
      w.output[i] = CeilDiv(in, s);
      int64_t total = std::max<int64_t>(0, (w.output[i] - 1) * s + ext - in);
      SplitPad(attrs.auto_pad, total, w.pad_begin[i], w.pad_end[i]);
      continue;
    }
    if (attrs.auto_pad == AutoPad::kValid) w.pad_begin[i] = w.pad_end[i] = 0;
    if (in < 0) continue;
    const int64_t span = in + w.pad_begin[i] + w.pad_end[i] - ext;
    if (span < 0) {
      return InvalidArgument("spatial size " + std::to_string(in) + " (axis " + std::to_string(i) +
                             ", padded by " + std::to_string(w.pad_begin[i]) + "+" +
                             std::to_string(w.pad_end[i]) +
                             ") is smaller than the dilated kernel " + std::to_string(ext));
    }
    int64_t out = (attrs.ceil_mode ? CeilDiv(span, s) : FloorDiv(span, s)) + 1;
    // A window that would start in the end padding is dropped (ONNX and PyTorch agree).
    if (attrs.ceil_mode && (out - 1) * s >= in + w.pad_begin[i]) --out;
    w.output[i] = out;
  }
  return w;
}

Result<Window> ResolveTransposeWindow(const WindowAttrs& attrs, const core::Attributes& node,
                                      std::span<const int64_t> input,
                                      std::span<const int64_t> kernel) {
  const size_t rank = input.size();
  ACCEL_ASSIGN_OR_RETURN(Window w, BaseWindow(attrs, rank, kernel));
  ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> out_pad_attr, node.GetInts("output_padding"));
  ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> out_pad,
                         PerAxis(out_pad_attr, rank, 0, "output_padding"));
  ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> out_shape, node.GetInts("output_shape"));
  // Some exporters write the full output shape (N, C, spatial...): keep the spatial tail.
  if (out_shape.size() == rank + 2) out_shape.erase(out_shape.begin(), out_shape.begin() + 2);
  if (!out_shape.empty() && out_shape.size() != rank) {
    return InvalidModel("output_shape " + DimsToString(out_shape) + " does not have " +
                        std::to_string(rank) + " spatial sizes");
  }
  for (size_t i = 0; i < rank; ++i) {
    if (out_pad[i] < 0 || (out_pad[i] >= w.strides[i] && out_pad[i] >= w.dilations[i])) {
      return InvalidModel("output_padding " + DimsToString(out_pad) +
                          " must be below the stride or dilation");
    }
    if (!out_shape.empty() && out_shape[i] < 1) {
      return InvalidModel("output_shape " + DimsToString(out_shape) + " must be positive");
    }
    const int64_t in = input[i];
    if (in < 0) {
      w.pad_begin[i] = w.pad_end[i] = -1;
      if (!out_shape.empty()) w.output[i] = out_shape[i];
      continue;
    }
    const int64_t natural = w.strides[i] * (in - 1) + w.extent(i);
    const bool same =
        attrs.auto_pad == AutoPad::kSameUpper || attrs.auto_pad == AutoPad::kSameLower;
    if (!out_shape.empty() || same) {
      const int64_t target = !out_shape.empty() ? out_shape[i] : in * w.strides[i];
      const int64_t total = natural + out_pad[i] - target;
      if (total < 0) {
        // A larger output than the kernel covers: the extra elements go at the end, exactly
        // like output_padding does.
        w.pad_begin[i] = 0;
        w.pad_end[i] = total;
      } else {
        SplitPad(attrs.auto_pad == AutoPad::kSameUpper ? AutoPad::kSameUpper : AutoPad::kSameLower,
                 total, w.pad_begin[i], w.pad_end[i]);
      }
    } else if (attrs.auto_pad == AutoPad::kValid) {
      w.pad_begin[i] = w.pad_end[i] = 0;
    }
    // output_padding is extra output at the end: fold it into the end pad, which may then be
    // negative.
    w.pad_end[i] -= out_pad[i];
    w.output[i] = natural - w.pad_begin[i] - w.pad_end[i];
    if (w.output[i] < 1) {
      return InvalidModel("ConvTranspose output size along axis " + std::to_string(i) +
                          " would be " + std::to_string(w.output[i]));
    }
  }
  return w;
}

Result<ConvAttrs> ParseConvAttrs(const core::Attributes& attrs) {
  ConvAttrs conv;
  ACCEL_ASSIGN_OR_RETURN(conv.window, ParseWindowAttrs(attrs));
  ACCEL_ASSIGN_OR_RETURN(conv.group, attrs.GetInt("group", 1));
  if (conv.group < 1) {
    return InvalidModel("group must be positive, got " + std::to_string(conv.group));
  }
  return conv;
}

Result<ConvNode> ReadConvNode(const core::InferContext& ctx, const std::string& op) {
  if (ctx.num_inputs() < 2 || !ctx.has_input(0) || !ctx.has_input(1)) {
    return InvalidModel(op + " needs inputs X and W");
  }
  const core::TensorType& x = ctx.input_type(0);
  const core::TensorType& w = ctx.input_type(1);
  ConvNode node;
  ACCEL_ASSIGN_OR_RETURN(node.attrs, ParseConvAttrs(ctx.attrs()));
  node.rank = x.has_shape ? x.rank() : w.has_shape ? w.rank() : -1;
  if (node.rank < 0) return node;
  if (node.rank < 3) {
    return InvalidModel(op + " input must have rank 3 or more, got " + x.ToString());
  }
  if (x.has_shape && w.has_shape && x.rank() != w.rank()) {
    return InvalidModel(op + " input " + x.ToString() + " and weights " + w.ToString() +
                        " differ in rank");
  }
  node.input.assign(node.rank - 2, -1);
  node.kernel.assign(node.rank - 2, -1);
  if (x.has_shape) node.input.assign(x.dims.begin() + 2, x.dims.end());
  if (w.has_shape) node.kernel.assign(w.dims.begin() + 2, w.dims.end());
  return node;
}

bool ConvNode::kernel_known() const {
  return !attrs.window.kernel.empty() ||
         std::ranges::none_of(kernel, [](int64_t k) { return k < 0; });
}

Status CheckConvBias(const core::InferContext& ctx, int64_t maps) {
  if (!ctx.has_input(2)) return Status::Ok();
  const core::TensorType& b = ctx.input_type(2);
  if (b.has_shape && (b.rank() != 1 || (maps >= 0 && b.dims[0] >= 0 && b.dims[0] != maps))) {
    return InvalidModel("bias " + b.ToString() + " must be a vector of the " +
                        std::to_string(maps) + " output channels");
  }
  return Status::Ok();
}

}  // namespace accel::cpu
