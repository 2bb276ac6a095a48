// NonZero and Compress: outputs whose size depends on the data, allocated by the kernel.
#include <cstring>
#include <string>
#include <vector>

#include "backends/cpu/data_movement.h"
#include "core/op_def.h"

namespace accel::cpu {

namespace {

// Per element, whether it is nonzero. Floating-point -0.0 counts as zero, NaN as nonzero.
Result<std::vector<bool>> NonZeroMask(const Tensor& t) {
  int64_t n = t.element_count();
  size_t elem = DTypeSize(t.dtype());
  const auto* p = static_cast<const uint8_t*>(t.data());
  // Byte index of the sign bit on this little-endian target, for floating-point types.
  int sign_byte = -1;
  switch (t.dtype()) {
    case DType::kFloat32:
    case DType::kFloat64:
    case DType::kFloat16:
    case DType::kBFloat16:
      sign_byte = static_cast<int>(elem) - 1;
      break;
    default:
      break;
  }
  std::vector<bool> mask(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    bool nz = false;
    for (size_t b = 0; b < elem; ++b) {
      uint8_t byte = p[i * elem + b];
      if (static_cast<int>(b) == sign_byte) byte &= 0x7f;
      nz |= byte != 0;
    }
    mask[i] = nz;
  }
  return mask;
}

Status InferNonZero(core::InferContext& ctx) {
  const core::TensorType& in = ctx.input_type(0);
  ctx.set_output(0, DType::kInt64, {in.has_shape ? in.rank() : -1, -1});
  return Status::Ok();
}

Status ComputeNonZero(core::KernelContext& ctx, const core::Attributes& attrs, int opset) {
  const Tensor& in = ctx.input(0);
  ACCEL_ASSIGN_OR_RETURN(std::vector<bool> mask, NonZeroMask(in));
  int64_t count = 0;
  for (bool b : mask) count += b;
  int64_t rank = in.rank();
  ACCEL_ASSIGN_OR_RETURN(Tensor * out, ctx.AllocateOutput(0, {rank, count}));
  int64_t* o = out->data_as<int64_t>();
  std::vector<int64_t> pos(rank, 0);
  int64_t k = 0;
  for (size_t i = 0; i < mask.size(); ++i) {
    if (mask[i]) {
      for (int64_t d = 0; d < rank; ++d) o[d * count + k] = pos[d];
      ++k;
    }
    for (int64_t d = rank - 1; d >= 0; --d) {
      if (++pos[d] < in.shape()[d]) break;
      pos[d] = 0;
    }
  }
  return Status::Ok();
}

Status InferCompress(core::InferContext& ctx) {
  const core::TensorType& in = ctx.input_type(0);
  if (!ctx.attrs().Has("axis")) {
    ctx.set_output(0, in.dtype, {-1});
    return Status::Ok();
  }
  if (!in.has_shape) {
    ctx.set_output(0, core::TensorType::UnknownShape(in.dtype));
    return Status::Ok();
  }
  ACCEL_ASSIGN_OR_RETURN(int64_t axis, ctx.attrs().RequireInt("axis"));
  ACCEL_ASSIGN_OR_RETURN(axis, core::NormalizeAxis(axis, in.rank()));
  std::vector<int64_t> dims = in.dims;
  dims[axis] = -1;
  ctx.set_output(0, in.dtype, std::move(dims));
  return Status::Ok();
}

Status ComputeCompress(core::KernelContext& ctx, const core::Attributes& attrs, int opset) {
  const Tensor& in = ctx.input(0);
  const Tensor& cond = ctx.input(1);
  if (cond.dtype() != DType::kBool || cond.rank() != 1) {
    return InvalidModel("condition must be a 1-D bool tensor");
  }
  bool flat = !attrs.Has("axis");
  int64_t axis = 0;
  if (!flat) {
    ACCEL_ASSIGN_OR_RETURN(axis, attrs.RequireInt("axis"));
    ACCEL_ASSIGN_OR_RETURN(axis, core::NormalizeAxis(axis, in.rank()));
  }
  std::vector<int64_t> shape = flat ? std::vector<int64_t>{in.element_count()} : in.shape();
  int64_t dim = shape[axis];
  int64_t len = std::min(dim, cond.element_count());
  if (cond.element_count() > dim) {
    return InvalidModel("condition has " + std::to_string(cond.element_count()) +
                        " entries for an axis of " + std::to_string(dim));
  }
  const uint8_t* c = cond.data_as<uint8_t>();
  std::vector<int64_t> kept;
  for (int64_t i = 0; i < len; ++i) {
    if (c[i]) kept.push_back(i);
  }
  std::vector<int64_t> out_shape = shape;
  out_shape[axis] = static_cast<int64_t>(kept.size());
  ACCEL_ASSIGN_OR_RETURN(Tensor * out, ctx.AllocateOutput(0, out_shape));
  size_t elem = DTypeSize(in.dtype());
  int64_t outer = ElementCount(std::span(shape).subspan(0, axis));
  int64_t inner = ElementCount(std::span(shape).subspan(axis + 1)) * elem;
  const auto* src = static_cast<const uint8_t*>(in.data());
  auto* dst = static_cast<uint8_t*>(out->data());
  int64_t nk = static_cast<int64_t>(kept.size());
  for (int64_t o = 0; inner > 0 && o < outer; ++o) {
    for (int64_t j = 0; j < nk; ++j) {
      std::memcpy(dst + (o * nk + j) * inner, src + (o * dim + kept[j]) * inner, inner);
    }
  }
  return Status::Ok();
}

constexpr core::CreateKernelFn CreateCompress = dm::CreateFunctionKernel<ComputeCompress>;
constexpr core::CreateKernelFn CreateNonZero = dm::CreateFunctionKernel<ComputeNonZero>;

}  // namespace

const core::OpDef& NonZeroOpDef() {
  static const core::OpDef def{"NonZero", "", {9, 13}, 9, InferNonZero, CreateNonZero};
  return def;
}

const core::OpDef& CompressOpDef() {
  static const core::OpDef def{"Compress", "", {9, 11, 28}, 9, InferCompress, CreateCompress};
  return def;
}

}  // namespace accel::cpu
