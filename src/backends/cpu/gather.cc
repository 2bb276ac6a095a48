// Gather, GatherElements and GatherND. Indices are data: each one is bounds-checked (negative
// values count from the end) before any copy.
#include <cstring>
#include <string>
#include <vector>

#include "backends/cpu/data_movement.h"
#include "core/op_def.h"

namespace accel::cpu {

namespace {

// ---- Gather ----

Status InferGather(core::InferContext& ctx) {
  const core::TensorType& data = ctx.input_type(0);
  const core::TensorType& indices = ctx.input_type(1);
  if (indices.dtype != DType::kInt32 && indices.dtype != DType::kInt64) {
    return InvalidModel("indices must be int32 or int64");
  }
  if (!data.has_shape || !indices.has_shape) {
    ctx.set_output(0, core::TensorType::UnknownShape(data.dtype));
    return Status::Ok();
  }
  ACCEL_ASSIGN_OR_RETURN(int64_t axis, ctx.attrs().GetInt("axis", 0));
  ACCEL_ASSIGN_OR_RETURN(axis, core::NormalizeAxis(axis, data.rank()));
  std::vector<int64_t> dims(data.dims.begin(), data.dims.begin() + axis);
  dims.insert(dims.end(), indices.dims.begin(), indices.dims.end());
  dims.insert(dims.end(), data.dims.begin() + axis + 1, data.dims.end());
  ctx.set_output(0, data.dtype, std::move(dims));
  return Status::Ok();
}

// Checks every index against `limit` (the copy then wraps them without checks).
Status CheckIndices(const Tensor& indices, int64_t limit) {
  for (int64_t i = 0; i < indices.element_count(); ++i) {
    ACCEL_RETURN_IF_ERROR(dm::WrapIndex("index", dm::IndexAt(indices, i), limit).status());
  }
  return Status::Ok();
}

Status ComputeGather(core::KernelContext& ctx, const core::Attributes& attrs, int opset) {
  const Tensor& data = ctx.input(0);
  ACCEL_ASSIGN_OR_RETURN(int64_t axis, attrs.GetInt("axis", 0));
  ACCEL_ASSIGN_OR_RETURN(axis, core::NormalizeAxis(axis, data.rank()));
  int64_t dim = data.shape()[axis];
  ACCEL_RETURN_IF_ERROR(dm::CheckIndexDType(ctx.input(1), "indices"));
  const Tensor& indices = ctx.input(1);
  ACCEL_RETURN_IF_ERROR(CheckIndices(indices, dim));
  ACCEL_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0));
  size_t elem = DTypeSize(data.dtype());
  int64_t outer = ElementCount(std::span(data.shape()).subspan(0, axis));
  int64_t inner = ElementCount(std::span(data.shape()).subspan(axis + 1)) * elem;
  const auto* src = static_cast<const uint8_t*>(data.data());
  auto* dst = static_cast<uint8_t*>(out->data());
  int64_t n = indices.element_count();
  if (inner == 0) return Status::Ok();
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t j = 0; j < n; ++j) {
      int64_t k = dm::IndexAt(indices, j);
      if (k < 0) k += dim;
      std::memcpy(dst + (o * n + j) * inner, src + (o * dim + k) * inner, inner);
    }
  }
  return Status::Ok();
}

// ---- GatherElements ----

Status InferGatherElements(core::InferContext& ctx) {
  const core::TensorType& data = ctx.input_type(0);
  const core::TensorType& indices = ctx.input_type(1);
  if (data.has_shape && indices.has_shape && data.rank() != indices.rank()) {
    return InvalidModel("data and indices have different ranks");
  }
  if (data.has_shape) {
    ACCEL_ASSIGN_OR_RETURN(int64_t axis, ctx.attrs().GetInt("axis", 0));
    ACCEL_RETURN_IF_ERROR(core::NormalizeAxis(axis, data.rank()).status());
  }
  ctx.set_output(0, indices.has_shape ? core::TensorType::Known(data.dtype, indices.dims)
                                      : core::TensorType::UnknownShape(data.dtype));
  return Status::Ok();
}

Status ComputeGatherElements(core::KernelContext& ctx, const core::Attributes& attrs, int opset) {
  const Tensor& data = ctx.input(0);
  const Tensor& indices = ctx.input(1);
  ACCEL_RETURN_IF_ERROR(dm::CheckIndexDType(indices, "indices"));
  ACCEL_ASSIGN_OR_RETURN(int64_t axis, attrs.GetInt("axis", 0));
  ACCEL_ASSIGN_OR_RETURN(axis, core::NormalizeAxis(axis, data.rank()));
  ACCEL_RETURN_IF_ERROR(dm::CheckElementsShapes(data.shape(), indices.shape(), axis));
  ACCEL_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0));
  size_t elem = DTypeSize(data.dtype());
  const auto* src = static_cast<const uint8_t*>(data.data());
  auto* dst = static_cast<uint8_t*>(out->data());
  return dm::ForEachElementsIndex(indices, axis, data.shape(), [&](int64_t i, int64_t offset) {
    std::memcpy(dst + i * elem, src + offset * elem, elem);
    return Status::Ok();
  });
}

// ---- GatherND ----

struct NdShape {
  int64_t batch = 1;        // product of the batch dims
  int64_t tuples = 1;       // index tuples per batch
  int64_t m = 0;            // entries per tuple
  int64_t slice = 1;        // elements copied per tuple
  int64_t batch_block = 1;  // data elements per batch
};

Result<NdShape> NdLayout(std::span<const int64_t> data, std::span<const int64_t> idx, int64_t b) {
  int64_t r = static_cast<int64_t>(data.size());
  int64_t q = static_cast<int64_t>(idx.size());
  if (b < 0 || b >= std::min(r, q)) {
    return InvalidModel("batch_dims " + std::to_string(b) + " must be less than both ranks");
  }
  if (q < 1) return InvalidModel("indices must have rank >= 1");
  NdShape s;
  s.m = idx[q - 1];
  if (s.m < 1 || s.m > r - b) {
    return InvalidModel("indices last dim " + std::to_string(s.m) + " must be in [1, " +
                        std::to_string(r - b) + "]");
  }
  for (int64_t i = 0; i < b; ++i) {
    if (data[i] != idx[i]) return InvalidModel("batch dims of data and indices differ");
    s.batch *= data[i];
  }
  for (int64_t i = b; i < q - 1; ++i) s.tuples *= idx[i];
  for (int64_t i = b + s.m; i < r; ++i) s.slice *= data[i];
  for (int64_t i = b; i < r; ++i) s.batch_block *= data[i];
  return s;
}

Status InferGatherND(core::InferContext& ctx) {
  const core::TensorType& data = ctx.input_type(0);
  const core::TensorType& indices = ctx.input_type(1);
  ACCEL_ASSIGN_OR_RETURN(int64_t b, ctx.attrs().GetInt("batch_dims", 0));
  if (!data.has_shape || !indices.has_shape || indices.dims.empty() || indices.dims.back() < 0) {
    ctx.set_output(0, core::TensorType::UnknownShape(data.dtype));
    return Status::Ok();
  }
  int64_t m = indices.dims.back();
  if (b < 0 || m < 1 || b + m > data.rank() || b >= indices.rank()) {
    return InvalidModel("indices shape " + ShapeToString(indices.dims) + " with batch_dims " +
                        std::to_string(b) + " does not fit data shape " + ShapeToString(data.dims));
  }
  std::vector<int64_t> dims(indices.dims.begin(), indices.dims.end() - 1);
  dims.insert(dims.end(), data.dims.begin() + b + m, data.dims.end());
  ctx.set_output(0, data.dtype, std::move(dims));
  return Status::Ok();
}

Status ComputeGatherND(core::KernelContext& ctx, const core::Attributes& attrs, int opset) {
  const Tensor& data = ctx.input(0);
  const Tensor& indices = ctx.input(1);
  ACCEL_RETURN_IF_ERROR(dm::CheckIndexDType(indices, "indices"));
  ACCEL_ASSIGN_OR_RETURN(int64_t b, attrs.GetInt("batch_dims", 0));
  ACCEL_ASSIGN_OR_RETURN(NdShape s, NdLayout(data.shape(), indices.shape(), b));
  ACCEL_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0));
  size_t elem = DTypeSize(data.dtype());
  std::vector<int64_t> strides = core::Strides(data.shape());
  const auto* src = static_cast<const uint8_t*>(data.data());
  auto* dst = static_cast<uint8_t*>(out->data());
  for (int64_t bi = 0; bi < s.batch; ++bi) {
    for (int64_t t = 0; t < s.tuples; ++t) {
      int64_t tuple = bi * s.tuples + t;
      int64_t offset = bi * s.batch_block;
      for (int64_t k = 0; k < s.m; ++k) {
        int64_t limit = data.shape()[b + k];
        ACCEL_ASSIGN_OR_RETURN(
            int64_t v, dm::WrapIndex("index", dm::IndexAt(indices, tuple * s.m + k), limit));
        offset += v * strides[b + k];
      }
      std::memcpy(dst + tuple * s.slice * elem, src + offset * elem, s.slice * elem);
    }
  }
  return Status::Ok();
}

constexpr core::CreateKernelFn CreateGather = dm::CreateFunctionKernel<ComputeGather>;
constexpr core::CreateKernelFn CreateGatherElements =
    dm::CreateFunctionKernel<ComputeGatherElements>;
constexpr core::CreateKernelFn CreateGatherND = dm::CreateFunctionKernel<ComputeGatherND>;

}  // namespace

const core::OpDef& GatherOpDef() {
  static const core::OpDef def{"Gather", "", {1, 11, 13}, 1, InferGather, CreateGather};
  return def;
}

const core::OpDef& GatherElementsOpDef() {
  static const core::OpDef def{
      "GatherElements", "", {11, 13}, 11, InferGatherElements, CreateGatherElements,
  };
  return def;
}

const core::OpDef& GatherNDOpDef() {
  static const core::OpDef def{"GatherND", "", {11, 12, 13}, 11, InferGatherND, CreateGatherND};
  return def;
}

}  // namespace accel::cpu
