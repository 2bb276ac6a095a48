// ScatterND and ScatterElements: the output is a copy of data with indexed elements replaced
// (or combined with the `reduction`). Indices are data and bounds-checked.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "backends/cpu/data_movement.h"
#include "core/op_def.h"

namespace accel::cpu {

namespace {

enum class Reduction { kNone, kAdd, kMul, kMax, kMin };

Result<Reduction> ParseReduction(const core::Attributes& attrs, int opset) {
  ACCEL_ASSIGN_OR_RETURN(std::string r, attrs.GetString("reduction", "none"));
  if (r == "none") return Reduction::kNone;
  if (r == "add" && opset >= 16) return Reduction::kAdd;
  if (r == "mul" && opset >= 16) return Reduction::kMul;
  if (r == "max" && opset >= 18) return Reduction::kMax;
  if (r == "min" && opset >= 18) return Reduction::kMin;
  return InvalidModel("unknown reduction '" + r + "'");
}

template <typename T>
void Combine(T* dst, const T* src, int64_t n, Reduction r) {
  for (int64_t i = 0; i < n; ++i) {
    switch (r) {
      case Reduction::kNone:
        dst[i] = src[i];
        break;
      case Reduction::kAdd:
        dst[i] = static_cast<T>(dst[i] + src[i]);
        break;
      case Reduction::kMul:
        dst[i] = static_cast<T>(dst[i] * src[i]);
        break;
      case Reduction::kMax:
        dst[i] = std::max(dst[i], src[i]);
        break;
      case Reduction::kMin:
        dst[i] = std::min(dst[i], src[i]);
        break;
    }
  }
}

// Applies `n` elements of `src` to `dst`: a byte copy without reduction, else typed arithmetic.
Status Apply(void* dst, const void* src, int64_t n, DType dtype, Reduction r) {
  if (r == Reduction::kNone) {
    std::memcpy(dst, src, n * DTypeSize(dtype));
    return Status::Ok();
  }
  if (dtype == DType::kBool) {
    // Logical or/and for add/mul, as numpy does; max/min agree with or/and.
    auto* d = static_cast<uint8_t*>(dst);
    const auto* s = static_cast<const uint8_t*>(src);
    bool is_or = r == Reduction::kAdd || r == Reduction::kMax;
    for (int64_t i = 0; i < n; ++i) d[i] = is_or ? (d[i] || s[i]) : (d[i] && s[i]);
    return Status::Ok();
  }
  return dm::VisitNumeric(dtype, [&](auto tag) -> Status {
    using T = decltype(tag);
    Combine(static_cast<T*>(dst), static_cast<const T*>(src), n, r);
    return Status::Ok();
  });
}

Status InferSameAsData(core::InferContext& ctx) {
  ACCEL_RETURN_IF_ERROR(ParseReduction(ctx.attrs(), ctx.opset()).status());
  ctx.set_output(0, ctx.input_type(0));
  return Status::Ok();
}

// The checks both scatters start with; returns the reduction.
Result<Reduction> CheckScatterInputs(const Tensor& data, const Tensor& indices,
                                     const Tensor& updates, const core::Attributes& attrs,
                                     int opset) {
  ACCEL_RETURN_IF_ERROR(dm::CheckIndexDType(indices, "indices"));
  ACCEL_ASSIGN_OR_RETURN(Reduction red, ParseReduction(attrs, opset));
  if (updates.dtype() != data.dtype()) return InvalidModel("updates dtype differs from data");
  return red;
}

Status ComputeScatterND(core::KernelContext& ctx, const core::Attributes& attrs, int opset) {
  const Tensor& data = ctx.input(0);
  const Tensor& indices = ctx.input(1);
  const Tensor& updates = ctx.input(2);
  ACCEL_ASSIGN_OR_RETURN(Reduction red, CheckScatterInputs(data, indices, updates, attrs, opset));
  const std::vector<int64_t>& ds = data.shape();
  const std::vector<int64_t>& is = indices.shape();
  int64_t q = indices.rank();
  if (q < 1) return InvalidModel("indices must have rank >= 1");
  int64_t m = is.back();
  if (m < 0 || m > data.rank()) {
    return InvalidModel("indices last dim " + std::to_string(m) + " exceeds data rank " +
                        std::to_string(data.rank()));
  }
  // updates.shape must be indices.shape[:-1] + data.shape[m:].
  std::vector<int64_t> want(is.begin(), is.end() - 1);
  want.insert(want.end(), ds.begin() + m, ds.end());
  if (updates.shape() != want) {
    return InvalidModel("updates shape " + ShapeToString(updates.shape()) + " should be " +
                        ShapeToString(want));
  }
  ACCEL_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0));
  if (data.byte_size()) std::memcpy(out->data(), data.data(), data.byte_size());
  size_t elem = DTypeSize(data.dtype());
  std::vector<int64_t> strides = core::Strides(ds);
  int64_t slice = ElementCount(std::span(ds).subspan(m));
  int64_t tuples = ElementCount(std::span(is).subspan(0, q - 1));
  auto* dst = static_cast<uint8_t*>(out->data());
  const auto* src = static_cast<const uint8_t*>(updates.data());
  for (int64_t t = 0; t < tuples; ++t) {
    int64_t offset = 0;
    for (int64_t k = 0; k < m; ++k) {
      ACCEL_ASSIGN_OR_RETURN(int64_t v,
                             dm::WrapIndex("index", dm::IndexAt(indices, t * m + k), ds[k]));
      offset += v * strides[k];
    }
    ACCEL_RETURN_IF_ERROR(
        Apply(dst + offset * elem, src + t * slice * elem, slice, data.dtype(), red));
  }
  return Status::Ok();
}

Status ComputeScatterElements(core::KernelContext& ctx, const core::Attributes& attrs, int opset) {
  const Tensor& data = ctx.input(0);
  const Tensor& indices = ctx.input(1);
  const Tensor& updates = ctx.input(2);
  ACCEL_ASSIGN_OR_RETURN(Reduction red, CheckScatterInputs(data, indices, updates, attrs, opset));
  if (updates.shape() != indices.shape()) {
    return InvalidModel("updates shape " + ShapeToString(updates.shape()) +
                        " differs from indices shape " + ShapeToString(indices.shape()));
  }
  ACCEL_ASSIGN_OR_RETURN(int64_t axis, attrs.GetInt("axis", 0));
  ACCEL_ASSIGN_OR_RETURN(axis, core::NormalizeAxis(axis, data.rank()));
  ACCEL_RETURN_IF_ERROR(dm::CheckElementsShapes(data.shape(), indices.shape(), axis));
  ACCEL_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0));
  if (data.byte_size()) std::memcpy(out->data(), data.data(), data.byte_size());
  size_t elem = DTypeSize(data.dtype());
  auto* dst = static_cast<uint8_t*>(out->data());
  const auto* src = static_cast<const uint8_t*>(updates.data());
  return dm::ForEachElementsIndex(indices, axis, data.shape(), [&](int64_t i, int64_t offset) {
    return Apply(dst + offset * elem, src + i * elem, 1, data.dtype(), red);
  });
}

constexpr core::CreateKernelFn CreateScatterElements =
    dm::CreateFunctionKernel<ComputeScatterElements>;
constexpr core::CreateKernelFn CreateScatterND = dm::CreateFunctionKernel<ComputeScatterND>;

}  // namespace

const core::OpDef& ScatterNDOpDef() {
  static const core::OpDef def{
      "ScatterND", "", {11, 13, 16, 18}, 11, InferSameAsData, CreateScatterND,
  };
  return def;
}

const core::OpDef& ScatterElementsOpDef() {
  static const core::OpDef def{
      "ScatterElements", "", {11, 13, 16, 18}, 11, InferSameAsData, CreateScatterElements,
  };
  return def;
}

// The deprecated Scatter (9, 11) is ScatterElements without reduction.
const core::OpDef& ScatterOpDef() {
  static const core::OpDef def{"Scatter", "", {9, 11}, 9, InferSameAsData, CreateScatterElements};
  return def;
}

}  // namespace accel::cpu
