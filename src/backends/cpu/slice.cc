// Slice: a strided view of the input (negative steps and clamped bounds), copied densely.
#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "backends/cpu/data_movement.h"
#include "core/op_def.h"

namespace accel::cpu {

namespace {

// Inline up to rank 8 (small_vector.h): kernels fill these every run without allocating.
struct SliceParams {
  DimVector starts, ends, axes, steps;
};

// Per output axis: first source index, step and count.
struct AxisRange {
  int64_t start = 0;
  int64_t step = 1;
  int64_t count = 0;
};
using AxisRanges = SmallVector<AxisRange, kInlineRank>;

// Reads starts/ends/axes/steps from attributes (before 10) or inputs 1..4 (from 10).
// Returns false in *known when an input value is not known yet.
Status ReadParams(const core::Attributes& attrs, int opset, std::span<const Tensor* const> inputs,
                  SliceParams& p) {
  p = SliceParams();
  if (opset < 10) {
    ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> starts, attrs.RequireInts("starts"));
    ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> ends, attrs.RequireInts("ends"));
    ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> axes, attrs.GetInts("axes"));
    p.starts = DimVector(std::span<const int64_t>(starts));
    p.ends = DimVector(std::span<const int64_t>(ends));
    p.axes = DimVector(std::span<const int64_t>(axes));
    return Status::Ok();
  }
  DimVector* targets[] = {&p.starts, &p.ends, &p.axes, &p.steps};
  for (size_t i = 0; i < 4; ++i) {
    if (i + 1 >= inputs.size() || !inputs[i + 1]) continue;
    ACCEL_RETURN_IF_ERROR(dm::ReadIntsInto(*inputs[i + 1], *targets[i]));
  }
  return Status::Ok();
}

// Resolves the parameters against concrete input dims (-1 where unknown gives count -1).
Status Resolve(const SliceParams& p, std::span<const int64_t> dims, AxisRanges& ranges) {
  int64_t rank = static_cast<int64_t>(dims.size());
  size_t n = p.starts.size();
  if (p.ends.size() != n || (!p.axes.empty() && p.axes.size() != n) ||
      (!p.steps.empty() && p.steps.size() != n)) {
    return InvalidModel("starts, ends, axes and steps have different lengths");
  }
  ranges.assign(dims.size(), AxisRange{});
  SmallVector<uint8_t, kInlineRank> seen(dims.size(), 0);
  for (size_t d = 0; d < dims.size(); ++d) ranges[d].count = dims[d];
  for (size_t i = 0; i < n; ++i) {
    int64_t axis = p.axes.empty() ? static_cast<int64_t>(i) : p.axes[i];
    ACCEL_ASSIGN_OR_RETURN(axis, core::NormalizeAxis(axis, rank));
    if (seen[axis]) return InvalidModel("axis " + std::to_string(axis) + " is repeated");
    seen[axis] = true;
    int64_t step = p.steps.empty() ? 1 : p.steps[i];
    if (step == 0) return InvalidModel("step is 0");
    int64_t dim = dims[axis];
    AxisRange& r = ranges[axis];
    if (dim < 0) {
      r.count = -1;
      continue;
    }
    // A step longer than the axis selects at most one element either way; clamping it keeps
    // -step and step * stride from overflowing.
    int64_t max_step = std::max<int64_t>(dim, 1);
    step = std::clamp<int64_t>(step, -max_step, max_step);
    r.step = step;
    int64_t start = p.starts[i];
    int64_t end = p.ends[i];
    if (start < 0) start += dim;
    if (end < 0) end += dim;
    if (step > 0) {
      start = std::clamp<int64_t>(start, 0, dim);
      end = std::clamp<int64_t>(end, 0, dim);
      r.count = end > start ? (end - start - 1) / step + 1 : 0;
    } else {
      start = std::clamp<int64_t>(start, 0, dim - 1);
      end = std::clamp<int64_t>(end, -1, dim - 1);
      r.count = start > end ? (start - end - 1) / -step + 1 : 0;
    }
    r.start = start;
  }
  return Status::Ok();
}

std::vector<const Tensor*> InferInputs(const core::InferContext& ctx) {
  std::vector<const Tensor*> v(ctx.num_inputs(), nullptr);
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (ctx.has_input(i)) v[i] = ctx.input_value(i);
  }
  return v;
}

Status InferSlice(core::InferContext& ctx) {
  const core::TensorType& in = ctx.input_type(0);
  bool known = true;
  for (size_t i = 1; i < ctx.num_inputs(); ++i) {
    if (ctx.has_input(i) && !ctx.input_value(i)) known = false;
  }
  if (!in.has_shape) {
    ctx.set_output(0, core::TensorType::UnknownShape(in.dtype));
    return Status::Ok();
  }
  if (!known) {
    // Only the rank is known. (Axes not sliced keep their size, but which ones those are is
    // itself data-dependent.)
    ctx.set_output(0, in.dtype, std::vector<int64_t>(in.dims.size(), -1));
    return Status::Ok();
  }
  std::vector<const Tensor*> inputs = InferInputs(ctx);
  SliceParams p;
  ACCEL_RETURN_IF_ERROR(ReadParams(ctx.attrs(), ctx.opset(), inputs, p));
  AxisRanges ranges;
  ACCEL_RETURN_IF_ERROR(Resolve(p, in.dims, ranges));
  std::vector<int64_t> dims;
  for (const AxisRange& r : ranges) dims.push_back(r.count);
  ctx.set_output(0, in.dtype, std::move(dims));
  return Status::Ok();
}

// Parameters and ranges live in the kernel, so steady runs reuse them without allocating.
class SliceKernel final : public core::Kernel {
 public:
  SliceKernel(const core::Attributes& attrs, int opset) : attrs_(attrs), opset_(opset) {}

  Status Compute(core::KernelContext& ctx) override {
    const Tensor& in = ctx.input(0);
    const Tensor* inputs[5] = {};
    const size_t num_inputs = std::min<size_t>(ctx.num_inputs(), 5);
    for (size_t i = 0; i < num_inputs; ++i) {
      if (ctx.has_input(i)) inputs[i] = &ctx.input(i);
    }
    // Before opset 10 the parameters are attributes: read once.
    if (opset_ >= 10 || !attrs_read_) {
      ACCEL_RETURN_IF_ERROR(ReadParams(attrs_, opset_, std::span(inputs, num_inputs), params_));
      attrs_read_ = true;
    }
    ACCEL_RETURN_IF_ERROR(Resolve(params_, in.shape(), ranges_));
    ACCEL_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0));
    if (out->element_count() == 0) return Status::Ok();
    const int64_t elem = static_cast<int64_t>(DTypeSize(in.dtype()));
    dims_.clear();
    strides_.clear();
    int64_t offset = 0;
    int64_t in_stride = elem;  // bytes, innermost first
    for (size_t d = ranges_.size(); d-- > 0;) {
      offset += ranges_[d].start * in_stride;
      dims_.push_back(ranges_[d].count);
      strides_.push_back(ranges_[d].step * in_stride);
      in_stride *= in.shape()[d];
    }
    std::reverse(dims_.begin(), dims_.end());
    std::reverse(strides_.begin(), strides_.end());
    dm::StridedCopy(out->data(), static_cast<const uint8_t*>(in.data()) + offset, dims_, strides_,
                    static_cast<size_t>(elem));
    return Status::Ok();
  }

 private:
  const core::Attributes& attrs_;  // owned by the Model, which outlives every Session
  int opset_;
  bool attrs_read_ = false;
  SliceParams params_;
  AxisRanges ranges_;
  DimVector dims_;
  DimVector strides_;
};

Result<std::unique_ptr<core::Kernel>> CreateSlice(const core::KernelInit& init) {
  return dm::MakeKernel<SliceKernel>(init.attrs, init.opset);
}

}  // namespace

const core::OpDef& SliceOpDef() {
  static const core::OpDef def{"Slice", "", {1, 10, 11, 13}, 1, InferSlice, CreateSlice};
  return def;
}

}  // namespace accel::cpu
