// OneHot: indices outside [-depth, depth) give an all-off row, as the spec says (not an error).
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "backends/cpu/data_movement.h"
#include "core/op_def.h"

namespace accel::cpu {

namespace {

Result<int64_t> ReadDepth(const Tensor& depth) {
  if (depth.element_count() != 1) return InvalidModel("depth must have exactly one element");
  ACCEL_ASSIGN_OR_RETURN(double d, dm::ScalarAsDouble(depth));
  if (!(d >= 1 && d <= static_cast<double>(int64_t{1} << 40))) {
    return InvalidModel("depth " + std::to_string(d) + " is out of range");
  }
  return static_cast<int64_t>(d);
}

Status InferOneHot(core::InferContext& ctx) {
  const core::TensorType& indices = ctx.input_type(0);
  DType dtype = ctx.input_type(2).dtype;
  if (!indices.has_shape) {
    ctx.set_output(0, core::TensorType::UnknownShape(dtype));
    return Status::Ok();
  }
  ACCEL_ASSIGN_OR_RETURN(int64_t axis, ctx.attrs().GetInt("axis", -1));
  ACCEL_ASSIGN_OR_RETURN(axis, core::NormalizeAxis(axis, indices.rank() + 1));
  int64_t depth = -1;
  if (const Tensor* d = ctx.input_value(1)) {
    ACCEL_ASSIGN_OR_RETURN(depth, ReadDepth(*d));
  }
  std::vector<int64_t> dims = indices.dims;
  dims.insert(dims.begin() + axis, depth);
  ctx.set_output(0, dtype, std::move(dims));
  return Status::Ok();
}

Status ComputeOneHot(core::KernelContext& ctx, const core::Attributes& attrs, int opset) {
  const Tensor& indices = ctx.input(0);
  const Tensor& values = ctx.input(2);
  if (values.element_count() != 2) return InvalidModel("values must have two elements");
  ACCEL_ASSIGN_OR_RETURN(int64_t depth, ReadDepth(ctx.input(1)));
  ACCEL_ASSIGN_OR_RETURN(int64_t axis, attrs.GetInt("axis", -1));
  ACCEL_ASSIGN_OR_RETURN(axis, core::NormalizeAxis(axis, indices.rank() + 1));
  ACCEL_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0));
  size_t elem = DTypeSize(values.dtype());
  const auto* off = static_cast<const uint8_t*>(values.data());
  const uint8_t* on = off + elem;
  auto* dst = static_cast<uint8_t*>(out->data());
  int64_t total = out->element_count();
  for (int64_t i = 0; i < total; ++i) std::memcpy(dst + i * elem, off, elem);
  int64_t outer = ElementCount(std::span(indices.shape()).subspan(0, axis));
  int64_t inner = ElementCount(std::span(indices.shape()).subspan(axis));
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      ACCEL_ASSIGN_OR_RETURN(double v, dm::ScalarAsDouble(indices, o * inner + i));
      // Compared as double first so a huge or NaN index never reaches the integer cast.
      if (!(v > -static_cast<double>(depth) - 1 && v < static_cast<double>(depth))) continue;
      auto k = static_cast<int64_t>(v);
      if (k < -depth || k >= depth) continue;
      if (k < 0) k += depth;
      std::memcpy(dst + ((o * depth + k) * inner + i) * elem, on, elem);
    }
  }
  return Status::Ok();
}

constexpr core::CreateKernelFn CreateOneHot = dm::CreateFunctionKernel<ComputeOneHot>;

}  // namespace

const core::OpDef& OneHotOpDef() {
  static const core::OpDef def{"OneHot", "", {9, 11, 28}, 9, InferOneHot, CreateOneHot};
  return def;
}

}  // namespace accel::cpu
