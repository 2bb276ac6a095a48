// Trilu: keeps the upper (or lower) triangle of the last two dims, offset by k; zeroes the rest.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "backends/cpu/data_movement.h"
#include "core/op_def.h"

namespace accel::cpu {

namespace {

Status InferTrilu(core::InferContext& ctx) {
  const core::TensorType& in = ctx.input_type(0);
  if (in.has_shape && in.rank() < 2) return InvalidModel("input must have rank >= 2");
  ctx.set_output(0, in);
  return Status::Ok();
}

Status ComputeTrilu(core::KernelContext& ctx, const core::Attributes& attrs, int opset) {
  const Tensor& in = ctx.input(0);
  int64_t k = 0;
  if (ctx.has_input(1)) {
    ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> kv, core::ReadInts(ctx.input(1)));
    if (kv.size() != 1) return InvalidModel("k must have exactly one element");
    k = kv[0];
  }
  ACCEL_ASSIGN_OR_RETURN(int64_t upper, attrs.GetInt("upper", 1));
  ACCEL_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0));
  if (in.rank() < 2) return InvalidModel("input must have rank >= 2");
  size_t elem = DTypeSize(in.dtype());
  int64_t rows = in.shape()[in.rank() - 2];
  int64_t cols = in.shape()[in.rank() - 1];
  int64_t mats = rows * cols == 0 ? 0 : in.element_count() / (rows * cols);
  // Clamped so huge |k| cannot overflow the column arithmetic.
  k = std::clamp<int64_t>(k, -rows - 1, cols + 1);
  const auto* src = static_cast<const uint8_t*>(in.data());
  auto* dst = static_cast<uint8_t*>(out->data());
  if (in.byte_size()) std::memcpy(dst, src, in.byte_size());
  for (int64_t m = 0; m < mats; ++m) {
    for (int64_t i = 0; i < rows; ++i) {
      uint8_t* row = dst + (m * rows + i) * cols * elem;
      // Upper keeps j >= i + k; lower keeps j <= i + k.
      int64_t edge = std::clamp<int64_t>(upper ? i + k : i + k + 1, 0, cols);
      if (upper) {
        std::memset(row, 0, edge * elem);
      } else {
        std::memset(row + edge * elem, 0, (cols - edge) * elem);
      }
    }
  }
  return Status::Ok();
}

constexpr core::CreateKernelFn CreateTrilu = dm::CreateFunctionKernel<ComputeTrilu>;

}  // namespace

const core::OpDef& TriluOpDef() {
  static const core::OpDef def{"Trilu", "", {14}, 14, InferTrilu, CreateTrilu};
  return def;
}

}  // namespace accel::cpu
