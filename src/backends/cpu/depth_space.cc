// DepthToSpace and SpaceToDepth: fixed reshape-transpose-reshape patterns, done as one strided
// copy. Also accel.SpaceToDepth, SpaceToDepth with the channel groups in any order (YOLO's Focus
// stem: four step-2 Slices and a Concat, fuse_space_to_depth).
#include <string>
#include <vector>

#include "backends/cpu/data_movement.h"
#include "core/op_def.h"

namespace accel::cpu {

namespace {

Result<int64_t> BlockSize(const core::Attributes& attrs) {
  ACCEL_ASSIGN_OR_RETURN(int64_t b, attrs.RequireInt("blocksize"));
  // The upper bound keeps blocksize^2 far from overflowing.
  if (b <= 0 || b > (int64_t{1} << 20)) {
    return InvalidModel("blocksize " + std::to_string(b) + " is out of range");
  }
  return b;
}

// CRD when the mode says so; DCR otherwise (the default of both ops).
Result<bool> IsCrd(const core::Attributes& attrs) {
  ACCEL_ASSIGN_OR_RETURN(std::string mode, attrs.GetString("mode", "DCR"));
  if (mode != "DCR" && mode != "CRD") return InvalidModel("unknown mode '" + mode + "'");
  return mode == "CRD";
}

Result<std::vector<int64_t>> DepthToSpaceDims(std::span<const int64_t> in, int64_t b) {
  if (in.size() != 4) return InvalidModel("input must be 4-D (NCHW)");
  if (in[1] >= 0 && in[1] % (b * b) != 0) {
    return InvalidModel("channels " + std::to_string(in[1]) + " are not divisible by blocksize^2");
  }
  auto mul = [](int64_t d, int64_t f) { return d < 0 ? -1 : d * f; };
  return std::vector<int64_t>{in[0], in[1] < 0 ? -1 : in[1] / (b * b), mul(in[2], b),
                              mul(in[3], b)};
}

Result<std::vector<int64_t>> SpaceToDepthDims(std::span<const int64_t> in, int64_t b) {
  if (in.size() != 4) return InvalidModel("input must be 4-D (NCHW)");
  for (int i = 2; i < 4; ++i) {
    if (in[i] >= 0 && in[i] % b != 0) {
      return InvalidModel("spatial dim " + std::to_string(in[i]) +
                          " is not divisible by blocksize");
    }
  }
  return std::vector<int64_t>{in[0], in[1] < 0 ? -1 : in[1] * b * b, in[2] < 0 ? -1 : in[2] / b,
                              in[3] < 0 ? -1 : in[3] / b};
}

template <Result<std::vector<int64_t>> (*DimsFn)(std::span<const int64_t>, int64_t)>
Status InferBlocks(core::InferContext& ctx) {
  const core::TensorType& in = ctx.input_type(0);
  ACCEL_ASSIGN_OR_RETURN(int64_t b, BlockSize(ctx.attrs()));
  ACCEL_RETURN_IF_ERROR(IsCrd(ctx.attrs()).status());
  if (!in.has_shape) {
    ctx.set_output(0, in.dtype, {-1, -1, -1, -1});
    return Status::Ok();
  }
  ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> dims, DimsFn(in.dims, b));
  ctx.set_output(0, in.dtype, std::move(dims));
  return Status::Ok();
}

Status ComputeDepthToSpace(core::KernelContext& ctx, const core::Attributes& attrs, int opset) {
  const Tensor& in = ctx.input(0);
  ACCEL_ASSIGN_OR_RETURN(int64_t b, BlockSize(attrs));
  ACCEL_ASSIGN_OR_RETURN(bool crd, IsCrd(attrs));
  ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> od, DepthToSpaceDims(in.shape(), b));
  ACCEL_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0));
  int64_t e = static_cast<int64_t>(DTypeSize(in.dtype()));
  int64_t c = od[1], h = in.shape()[2], w = in.shape()[3];
  int64_t hw = h * w;
  // Input channel index = b1*b*c + b2*c + ci (DCR) or ci*b*b + b1*b + b2 (CRD).
  int64_t s_b1 = crd ? b * hw : b * c * hw;
  int64_t s_b2 = crd ? hw : c * hw;
  int64_t s_c = crd ? b * b * hw : hw;
  std::vector<int64_t> dims = {od[0], c, h, b, w, b};
  std::vector<int64_t> strides = {in.shape()[1] * hw * e, s_c * e, w * e, s_b1 * e, e, s_b2 * e};
  dm::StridedCopy(out->data(), in.data(), dims, strides, static_cast<size_t>(e));
  return Status::Ok();
}

Status ComputeSpaceToDepth(core::KernelContext& ctx, const core::Attributes& attrs, int opset) {
  const Tensor& in = ctx.input(0);
  ACCEL_ASSIGN_OR_RETURN(int64_t b, BlockSize(attrs));
  ACCEL_ASSIGN_OR_RETURN(bool crd, IsCrd(attrs));
  ACCEL_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0));
  int64_t e = static_cast<int64_t>(DTypeSize(in.dtype()));
  int64_t n = in.shape()[0], c = in.shape()[1], h = in.shape()[2], w = in.shape()[3];
  // Input viewed as [n, c, h/b, b1, w/b, b2].
  int64_t s_n = c * h * w, s_c = h * w, s_h = b * w, s_b1 = w, s_w = b, s_b2 = 1;
  std::vector<int64_t> dims, strides;
  if (crd) {  // output channel = ci*b*b + b1*b + b2
    dims = {n, c, b, b, h / b, w / b};
    strides = {s_n, s_c, s_b1, s_b2, s_h, s_w};
  } else {  // output channel = b1*b*c + b2*c + ci
    dims = {n, b, b, c, h / b, w / b};
    strides = {s_n, s_b1, s_b2, s_c, s_h, s_w};
  }
  for (int64_t& s : strides) s *= e;
  dm::StridedCopy(out->data(), in.data(), dims, strides, static_cast<size_t>(e));
  return Status::Ok();
}

// accel.SpaceToDepth's offsets: (row, column) pairs inside the block, one per channel group.
Result<std::vector<int64_t>> GroupOffsets(const core::Attributes& attrs, int64_t b) {
  ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> offsets, attrs.RequireInts("offsets"));
  if (offsets.empty() || offsets.size() % 2 != 0) {
    return InvalidModel("offsets must hold (row, column) pairs");
  }
  for (int64_t o : offsets) {
    if (o < 0 || o >= b) {
      return InvalidModel("offset " + std::to_string(o) + " is outside the block");
    }
  }
  return offsets;
}

Status InferGroupedSpaceToDepth(core::InferContext& ctx) {
  const core::TensorType& in = ctx.input_type(0);
  ACCEL_ASSIGN_OR_RETURN(int64_t b, BlockSize(ctx.attrs()));
  ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> offsets, GroupOffsets(ctx.attrs(), b));
  if (!in.has_shape) {
    ctx.set_output(0, in.dtype, {-1, -1, -1, -1});
    return Status::Ok();
  }
  ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> dims, SpaceToDepthDims(in.dims, b));
  const int64_t groups = static_cast<int64_t>(offsets.size() / 2);
  dims[1] = in.dims[1] < 0 ? -1 : in.dims[1] * groups;
  ctx.set_output(0, in.dtype, std::move(dims));
  return Status::Ok();
}

// Output row (n, g*C + c, h) = input row (n, c, h*b + r_g) from column c_g on, every b-th
// element. One task per (n, c, h) handles all groups, so the b input rows it reads are read once.
Status ComputeGroupedSpaceToDepth(core::KernelContext& ctx, const core::Attributes& attrs,
                                  int opset) {
  const Tensor& in = ctx.input(0);
  ACCEL_ASSIGN_OR_RETURN(int64_t b, BlockSize(attrs));
  ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> offsets, GroupOffsets(attrs, b));
  ACCEL_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0));
  const size_t e = DTypeSize(in.dtype());
  const int64_t n = in.shape()[0], c = in.shape()[1], h = in.shape()[2], w = in.shape()[3];
  const int64_t ho = h / b, wo = w / b, groups = static_cast<int64_t>(offsets.size() / 2);
  const auto* src = static_cast<const std::byte*>(in.data());
  auto* dst = static_cast<std::byte*>(out->data());
  const int64_t tasks = n * c * ho;
  const bool parallel = tasks > 1 && out->byte_size() >= (size_t{1} << 16);
#pragma omp parallel for if (parallel)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t row = t % ho, ch = (t / ho) % c, img = t / (ho * c);
    const std::byte* block = src + ((img * c + ch) * h + row * b) * w * static_cast<int64_t>(e);
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t r = offsets[2 * g], col = offsets[2 * g + 1];
      std::byte* o =
          dst + (((img * groups + g) * c + ch) * ho + row) * wo * static_cast<int64_t>(e);
      dm::CopyStridedRow(o, block + (r * w + col) * static_cast<int64_t>(e), wo,
                         b * static_cast<int64_t>(e), e);
    }
  }
  return Status::Ok();
}

constexpr core::CreateKernelFn CreateDepthToSpace = dm::CreateFunctionKernel<ComputeDepthToSpace>;
constexpr core::CreateKernelFn CreateSpaceToDepth = dm::CreateFunctionKernel<ComputeSpaceToDepth>;
constexpr core::CreateKernelFn CreateGroupedSpaceToDepth =
    dm::CreateFunctionKernel<ComputeGroupedSpaceToDepth>;

}  // namespace

const core::OpDef& DepthToSpaceOpDef() {
  static const core::OpDef def{
      "DepthToSpace", "", {1, 11, 13, 28}, 1, InferBlocks<DepthToSpaceDims>, CreateDepthToSpace,
  };
  return def;
}

const core::OpDef& SpaceToDepthOpDef() {
  static const core::OpDef def{
      "SpaceToDepth", "", {1, 13, 28}, 1, InferBlocks<SpaceToDepthDims>, CreateSpaceToDepth,
  };
  return def;
}

const core::OpDef& AccelSpaceToDepthOpDef() {
  static const core::OpDef def{
      "SpaceToDepth", "accel", {1}, 1, InferGroupedSpaceToDepth, CreateGroupedSpaceToDepth,
  };
  return def;
}

}  // namespace accel::cpu
