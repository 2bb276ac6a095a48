// Reshape, Flatten, Squeeze and Unsqueeze: they only change the shape, so the kernels alias the
// input buffer instead of copying it.
#include <algorithm>
#include <string>
#include <vector>

#include "backends/cpu/data_movement.h"
#include "core/op_def.h"

namespace accel::cpu {

namespace {

using core::InferContext;
using core::KernelContext;

// Reshape's output dims from the input dims (entries may be -1 at load time) and the requested
// shape. Unknown results are -1.
Result<std::vector<int64_t>> ReshapeDims(std::span<const int64_t> in,
                                         std::span<const int64_t> shape, bool allowzero) {
  std::vector<int64_t> out(shape.begin(), shape.end());
  int infer_at = -1;
  bool has_zero = false;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      if (infer_at >= 0) return InvalidModel("shape has more than one -1");
      infer_at = static_cast<int>(i);
    } else if (out[i] == 0) {
      has_zero = true;
      if (!allowzero) {
        if (i >= in.size()) {
          return InvalidModel("shape has 0 at index " + std::to_string(i) +
                              " beyond the input rank " + std::to_string(in.size()));
        }
        out[i] = in[i];
      }
    } else if (out[i] < -1) {
      return InvalidModel("shape has invalid dimension " + std::to_string(out[i]));
    }
  }
  if (allowzero && has_zero && infer_at >= 0) {
    return InvalidModel("shape has both 0 and -1 with allowzero=1");
  }
  int64_t in_count = dm::AllKnownCount(in);
  if (infer_at >= 0) {
    int64_t rest = 1;
    bool rest_known = true;
    for (size_t i = 0; i < out.size(); ++i) {
      if (static_cast<int>(i) == infer_at) continue;
      if (out[i] < 0)
        rest_known = false;
      else
        rest *= out[i];
    }
    if (in_count >= 0 && rest_known) {
      if (rest == 0 ? in_count != 0 : in_count % rest != 0) {
        return InvalidModel("cannot reshape " + ShapeToString(in) + " to " + ShapeToString(shape));
      }
      out[infer_at] = rest == 0 ? 0 : in_count / rest;
    }
  } else if (in_count >= 0 && dm::AllKnown(out) && ElementCount(out) != in_count) {
    return InvalidModel("cannot reshape " + ShapeToString(in) + " to " + ShapeToString(shape));
  }
  return out;
}

Result<std::vector<int64_t>> ReshapeTarget(const core::Attributes& attrs, int opset,
                                           const Tensor* shape_input) {
  if (opset < 5) return attrs.RequireInts("shape");
  return core::ReadInts(*shape_input);
}

Status InferReshape(InferContext& ctx) {
  DType dtype = ctx.input_type(0).dtype;
  ACCEL_ASSIGN_OR_RETURN(int64_t allowzero, ctx.attrs().GetInt("allowzero", 0));
  const Tensor* shape_value = ctx.opset() < 5 ? nullptr : ctx.input_value(1);
  if (ctx.opset() >= 5 && !shape_value) {
    if (!ctx.has_input(1)) return InvalidModel("missing input 'shape'");
    const core::TensorType& st = ctx.input_type(1);
    if (st.has_shape && st.rank() == 1 && st.dims[0] >= 0) {
      ctx.set_output(0, dtype, std::vector<int64_t>(st.dims[0], -1));
    } else {
      ctx.set_output(0, core::TensorType::UnknownShape(dtype));
    }
    return Status::Ok();
  }
  ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> shape,
                         ReshapeTarget(ctx.attrs(), ctx.opset(), shape_value));
  const core::TensorType& in = ctx.input_type(0);
  if (!in.has_shape) {
    // Only dims given explicitly are known.
    std::vector<int64_t> dims(shape.size(), -1);
    for (size_t i = 0; i < shape.size(); ++i) {
      if (shape[i] > 0 || (allowzero && shape[i] == 0)) dims[i] = shape[i];
    }
    ctx.set_output(0, dtype, std::move(dims));
    return Status::Ok();
  }
  ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> dims, ReshapeDims(in.dims, shape, allowzero != 0));
  ctx.set_output(0, dtype, std::move(dims));
  return Status::Ok();
}

Status ComputeReshape(KernelContext& ctx, const core::Attributes& attrs, int opset) {
  ACCEL_ASSIGN_OR_RETURN(int64_t allowzero, attrs.GetInt("allowzero", 0));
  const Tensor& in = ctx.input(0);
  ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> shape,
                         ReshapeTarget(attrs, opset, opset < 5 ? nullptr : &ctx.input(1)));
  ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> dims, ReshapeDims(in.shape(), shape, allowzero != 0));
  ACCEL_ASSIGN_OR_RETURN(Tensor out, in.Reshaped(std::move(dims)));
  return ctx.SetOutput(0, std::move(out));
}

// Flatten: [d0..d(axis-1)] x [d(axis)..] as a 2-D shape.
Result<std::vector<int64_t>> FlattenDims(std::span<const int64_t> in, int64_t axis) {
  int64_t rank = static_cast<int64_t>(in.size());
  if (axis < -rank || axis > rank) {
    return InvalidModel("axis " + std::to_string(axis) + " is out of range for rank " +
                        std::to_string(rank));
  }
  if (axis < 0) axis += rank;
  int64_t outer = dm::AllKnownCount(in.subspan(0, axis));
  int64_t inner = dm::AllKnownCount(in.subspan(axis));
  return std::vector<int64_t>{outer, inner};
}

Status InferFlatten(InferContext& ctx) {
  const core::TensorType& in = ctx.input_type(0);
  ACCEL_ASSIGN_OR_RETURN(int64_t axis, ctx.attrs().GetInt("axis", 1));
  if (!in.has_shape) {
    ctx.set_output(0, in.dtype, {-1, -1});
    return Status::Ok();
  }
  ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> dims, FlattenDims(in.dims, axis));
  ctx.set_output(0, in.dtype, std::move(dims));
  return Status::Ok();
}

Status ComputeFlatten(KernelContext& ctx, const core::Attributes& attrs, int opset) {
  ACCEL_ASSIGN_OR_RETURN(int64_t axis, attrs.GetInt("axis", 1));
  const Tensor& in = ctx.input(0);
  ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> dims, FlattenDims(in.shape(), axis));
  ACCEL_ASSIGN_OR_RETURN(Tensor out, in.Reshaped(std::move(dims)));
  return ctx.SetOutput(0, std::move(out));
}

// Squeeze / Unsqueeze axes: an attribute before opset 13, the optional input 1 from 13.
// *known is false when the axes input exists but its value is not known yet.
Result<std::vector<int64_t>> AxesOf(const core::Attributes& attrs, int opset, bool has_input,
                                    const Tensor* value, bool* known) {
  *known = true;
  if (opset < 13) return attrs.GetInts("axes");
  if (!has_input) return std::vector<int64_t>{};
  if (!value) {
    *known = false;
    return std::vector<int64_t>{};
  }
  return core::ReadInts(*value);
}

Result<std::vector<int64_t>> SqueezeDims(std::span<const int64_t> in,
                                         std::span<const int64_t> axes) {
  int64_t rank = static_cast<int64_t>(in.size());
  std::vector<bool> drop(in.size(), false);
  if (axes.empty()) {
    for (size_t i = 0; i < in.size(); ++i) {
      if (in[i] < 0) return InvalidModel("unknown dim");  // caller handles load time
      drop[i] = in[i] == 1;
    }
  }
  for (int64_t a : axes) {
    ACCEL_ASSIGN_OR_RETURN(int64_t axis, core::NormalizeAxis(a, rank));
    if (drop[axis]) return InvalidModel("axis " + std::to_string(a) + " is repeated");
    if (in[axis] >= 0 && in[axis] != 1) {
      return InvalidModel("cannot squeeze axis " + std::to_string(a) + " of size " +
                          std::to_string(in[axis]));
    }
    drop[axis] = true;
  }
  std::vector<int64_t> out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (!drop[i]) out.push_back(in[i]);
  }
  return out;
}

Status InferSqueeze(InferContext& ctx) {
  const core::TensorType& in = ctx.input_type(0);
  bool known = false;
  ACCEL_ASSIGN_OR_RETURN(
      std::vector<int64_t> axes,
      AxesOf(ctx.attrs(), ctx.opset(), ctx.has_input(1), ctx.input_value(1), &known));
  if (!in.has_shape || !known || (axes.empty() && !dm::AllKnown(in.dims))) {
    ctx.set_output(0, core::TensorType::UnknownShape(in.dtype));
    return Status::Ok();
  }
  ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> dims, SqueezeDims(in.dims, axes));
  ctx.set_output(0, in.dtype, std::move(dims));
  return Status::Ok();
}

Status ComputeSqueeze(KernelContext& ctx, const core::Attributes& attrs, int opset) {
  const Tensor& in = ctx.input(0);
  bool known = false;
  const Tensor* axes_value = ctx.has_input(1) ? &ctx.input(1) : nullptr;
  ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> axes,
                         AxesOf(attrs, opset, ctx.has_input(1), axes_value, &known));
  ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> dims, SqueezeDims(in.shape(), axes));
  ACCEL_ASSIGN_OR_RETURN(Tensor out, in.Reshaped(std::move(dims)));
  return ctx.SetOutput(0, std::move(out));
}

Result<std::vector<int64_t>> UnsqueezeDims(std::span<const int64_t> in,
                                           std::span<const int64_t> axes) {
  int64_t rank = static_cast<int64_t>(in.size() + axes.size());
  std::vector<bool> inserted(static_cast<size_t>(rank), false);
  for (int64_t a : axes) {
    ACCEL_ASSIGN_OR_RETURN(int64_t axis, core::NormalizeAxis(a, rank));
    if (inserted[axis]) return InvalidModel("axis " + std::to_string(a) + " is repeated");
    inserted[axis] = true;
  }
  std::vector<int64_t> out;
  size_t next = 0;
  for (int64_t i = 0; i < rank; ++i) out.push_back(inserted[i] ? 1 : in[next++]);
  return out;
}

Status InferUnsqueeze(InferContext& ctx) {
  const core::TensorType& in = ctx.input_type(0);
  bool known = false;
  ACCEL_ASSIGN_OR_RETURN(
      std::vector<int64_t> axes,
      AxesOf(ctx.attrs(), ctx.opset(), ctx.has_input(1), ctx.input_value(1), &known));
  if (known && axes.empty()) return InvalidModel("axes is missing or empty");
  if (!in.has_shape || !known) {
    ctx.set_output(0, core::TensorType::UnknownShape(in.dtype));
    return Status::Ok();
  }
  ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> dims, UnsqueezeDims(in.dims, axes));
  ctx.set_output(0, in.dtype, std::move(dims));
  return Status::Ok();
}

Status ComputeUnsqueeze(KernelContext& ctx, const core::Attributes& attrs, int opset) {
  const Tensor& in = ctx.input(0);
  bool known = false;
  const Tensor* axes_value = ctx.has_input(1) ? &ctx.input(1) : nullptr;
  ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> axes,
                         AxesOf(attrs, opset, ctx.has_input(1), axes_value, &known));
  ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> dims, UnsqueezeDims(in.shape(), axes));
  ACCEL_ASSIGN_OR_RETURN(Tensor out, in.Reshaped(std::move(dims)));
  return ctx.SetOutput(0, std::move(out));
}

constexpr core::CreateKernelFn CreateFlatten = dm::CreateFunctionKernel<ComputeFlatten>;
constexpr core::CreateKernelFn CreateReshape = dm::CreateFunctionKernel<ComputeReshape>;
constexpr core::CreateKernelFn CreateSqueeze = dm::CreateFunctionKernel<ComputeSqueeze>;
constexpr core::CreateKernelFn CreateUnsqueeze = dm::CreateFunctionKernel<ComputeUnsqueeze>;

}  // namespace

const core::OpDef& ReshapeOpDef() {
  static const core::OpDef def{
      "Reshape", "", {1, 5, 13, 14, 19, 21, 23, 24, 25}, 1, InferReshape, CreateReshape,
  };
  return def;
}

const core::OpDef& FlattenOpDef() {
  static const core::OpDef def{
      "Flatten", "", {1, 9, 11, 13, 21, 23, 24, 25}, 1, InferFlatten, CreateFlatten,
  };
  return def;
}

const core::OpDef& SqueezeOpDef() {
  static const core::OpDef def{
      "Squeeze", "", {1, 11, 13, 21, 23, 24, 25}, 1, InferSqueeze, CreateSqueeze,
  };
  return def;
}

const core::OpDef& UnsqueezeOpDef() {
  static const core::OpDef def{
      "Unsqueeze", "", {1, 11, 13, 21, 23, 24, 25}, 1, InferUnsqueeze, CreateUnsqueeze,
  };
  return def;
}

}  // namespace accel::cpu
