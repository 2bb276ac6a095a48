// Expand and Tile: repetition expressed as a strided copy (stride 0 repeats).
#include <string>
#include <vector>

#include "backends/cpu/data_movement.h"
#include "backends/cpu/small_vector.h"
#include "core/op_def.h"

namespace accel::cpu {

namespace {

Status InferExpand(core::InferContext& ctx) {
  const core::TensorType& in = ctx.input_type(0);
  const Tensor* shape = ctx.input_value(1);
  if (!shape) {
    const core::TensorType& st = ctx.input_type(1);
    if (in.has_shape && st.has_shape && st.rank() == 1 && st.dims[0] >= 0) {
      ctx.set_output(0, in.dtype,
                     std::vector<int64_t>(std::max<int64_t>(st.dims[0], in.rank()), -1));
    } else {
      ctx.set_output(0, core::TensorType::UnknownShape(in.dtype));
    }
    return Status::Ok();
  }
  ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> target, core::ReadInts(*shape));
  for (int64_t d : target) {
    if (d < 0) return InvalidModel("shape has negative dimension " + std::to_string(d));
  }
  if (!in.has_shape) {
    ctx.set_output(0, core::TensorType::UnknownShape(in.dtype));
    return Status::Ok();
  }
  ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> dims, core::BroadcastShapes(in.dims, target));
  ctx.set_output(0, in.dtype, std::move(dims));
  return Status::Ok();
}

Status ComputeExpand(core::KernelContext& ctx, const core::Attributes& attrs, int opset) {
  const Tensor& in = ctx.input(0);
  ACCEL_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0));
  int64_t elem = static_cast<int64_t>(DTypeSize(in.dtype()));
  const size_t offset = out->shape().size() - in.shape().size();
  // Inline up to rank 8: a steady run allocates nothing.
  DimVector strides(out->shape().size(), 0);
  int64_t step = elem;
  for (size_t d = in.shape().size(); d-- > 0;) {
    strides[d + offset] = in.shape()[d] == 1 ? 0 : step;
    step *= in.shape()[d];
  }
  dm::StridedCopy(out->data(), in.data(), out->shape(), strides, static_cast<size_t>(elem));
  return Status::Ok();
}

Status InferTile(core::InferContext& ctx) {
  const core::TensorType& in = ctx.input_type(0);
  const Tensor* repeats = ctx.input_value(1);
  if (!in.has_shape) {
    ctx.set_output(0, core::TensorType::UnknownShape(in.dtype));
    return Status::Ok();
  }
  if (!repeats) {
    ctx.set_output(0, in.dtype, std::vector<int64_t>(in.dims.size(), -1));
    return Status::Ok();
  }
  ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> reps, core::ReadInts(*repeats));
  if (reps.size() != in.dims.size()) {
    return InvalidModel("repeats has " + std::to_string(reps.size()) + " entries for rank " +
                        std::to_string(in.dims.size()));
  }
  std::vector<int64_t> dims;
  for (size_t d = 0; d < reps.size(); ++d) {
    if (reps[d] < 0) return InvalidModel("repeats has negative value " + std::to_string(reps[d]));
    dims.push_back(in.dims[d] < 0 ? -1 : in.dims[d] * reps[d]);
  }
  ctx.set_output(0, in.dtype, std::move(dims));
  return Status::Ok();
}

Status ComputeTile(core::KernelContext& ctx, const core::Attributes& attrs, int opset) {
  const Tensor& in = ctx.input(0);
  ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> reps, core::ReadInts(ctx.input(1)));
  ACCEL_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0));
  if (reps.size() != in.shape().size()) return InvalidModel("repeats does not match the rank");
  // Output dim d of size r*n is viewed as [r, n]: the repeat axis has stride 0.
  int64_t elem = static_cast<int64_t>(DTypeSize(in.dtype()));
  std::vector<int64_t> in_strides = core::Strides(in.shape());
  std::vector<int64_t> dims, strides;
  for (size_t d = 0; d < reps.size(); ++d) {
    dims.push_back(reps[d]);
    strides.push_back(0);
    dims.push_back(in.shape()[d]);
    strides.push_back(in_strides[d] * elem);
  }
  dm::StridedCopy(out->data(), in.data(), dims, strides, static_cast<size_t>(elem));
  return Status::Ok();
}

constexpr core::CreateKernelFn CreateExpand = dm::CreateFunctionKernel<ComputeExpand>;
constexpr core::CreateKernelFn CreateTile = dm::CreateFunctionKernel<ComputeTile>;

}  // namespace

const core::OpDef& ExpandOpDef() {
  static const core::OpDef def{"Expand", "", {8, 13}, 8, InferExpand, CreateExpand};
  return def;
}

const core::OpDef& TileOpDef() {
  static const core::OpDef def{"Tile", "", {1, 6, 13}, 6, InferTile, CreateTile};
  return def;
}

}  // namespace accel::cpu
