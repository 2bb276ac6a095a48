// TopK: the k largest (or smallest) elements along an axis, with their indices. Ties go to the
// lower index, as the spec requires.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "backends/cpu/data_movement.h"
#include "core/op_def.h"

namespace accel::cpu {

namespace {

// k from the attribute (opset 1) or the 1-element input (from 10); *known false if not yet.
Result<int64_t> ReadK(const core::Attributes& attrs, int opset, const Tensor* k_input,
                      bool* known) {
  *known = true;
  if (opset < 10) return attrs.RequireInt("k");
  if (!k_input) {
    *known = false;
    return int64_t{-1};
  }
  ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> k, core::ReadInts(*k_input));
  if (k.size() != 1) return InvalidModel("K must have exactly one element");
  return k[0];
}

Status InferTopK(core::InferContext& ctx) {
  const core::TensorType& in = ctx.input_type(0);
  bool known = false;
  ACCEL_ASSIGN_OR_RETURN(int64_t k, ReadK(ctx.attrs(), ctx.opset(), ctx.input_value(1), &known));
  if (!in.has_shape) {
    ctx.set_output(0, core::TensorType::UnknownShape(in.dtype));
    ctx.set_output(1, core::TensorType::UnknownShape(DType::kInt64));
    return Status::Ok();
  }
  ACCEL_ASSIGN_OR_RETURN(int64_t axis, ctx.attrs().GetInt("axis", -1));
  ACCEL_ASSIGN_OR_RETURN(axis, core::NormalizeAxis(axis, in.rank()));
  if (known && (k < 0 || (in.dims[axis] >= 0 && k > in.dims[axis]))) {
    return InvalidModel("k " + std::to_string(k) + " is out of range for an axis of " +
                        std::to_string(in.dims[axis]));
  }
  std::vector<int64_t> dims = in.dims;
  dims[axis] = k;
  ctx.set_output(0, in.dtype, dims);
  ctx.set_output(1, DType::kInt64, std::move(dims));
  return Status::Ok();
}

template <typename T>
bool IsNan(T v) {
  if constexpr (std::is_floating_point_v<T>) {
    return std::isnan(v);
  } else {
    return false;
  }
}

template <typename T>
void TopKSlices(const T* x, T* values, int64_t* indices, int64_t outer, int64_t dim, int64_t inner,
                int64_t k, bool largest) {
  // NaN sorts as the largest value (numpy's convention), ties by lower index.
  auto before = [largest](const std::pair<T, int64_t>& a, const std::pair<T, int64_t>& b) {
    bool an = IsNan(a.first), bn = IsNan(b.first);
    if (an || bn) {
      if (an && bn) return a.second < b.second;
      return largest ? an : bn;
    }
    if (a.first != b.first) return largest ? a.first > b.first : a.first < b.first;
    return a.second < b.second;
  };
  std::vector<std::pair<T, int64_t>> row(static_cast<size_t>(dim));
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const T* src = x + o * dim * inner + i;
      for (int64_t j = 0; j < dim; ++j) row[j] = {src[j * inner], j};
      std::partial_sort(row.begin(), row.begin() + k, row.end(), before);
      for (int64_t j = 0; j < k; ++j) {
        int64_t at = o * k * inner + j * inner + i;
        values[at] = row[j].first;
        indices[at] = row[j].second;
      }
    }
  }
}

Status ComputeTopK(core::KernelContext& ctx, const core::Attributes& attrs, int opset) {
  const Tensor& x = ctx.input(0);
  bool known = false;
  ACCEL_ASSIGN_OR_RETURN(int64_t k,
                         ReadK(attrs, opset, ctx.has_input(1) ? &ctx.input(1) : nullptr, &known));
  ACCEL_ASSIGN_OR_RETURN(int64_t axis, attrs.GetInt("axis", -1));
  ACCEL_ASSIGN_OR_RETURN(axis, core::NormalizeAxis(axis, x.rank()));
  ACCEL_ASSIGN_OR_RETURN(int64_t largest, attrs.GetInt("largest", 1));
  int64_t dim = x.shape()[axis];
  if (k < 0 || k > dim) return InvalidModel("k " + std::to_string(k) + " is out of range");
  std::vector<int64_t> dims = x.shape();
  dims[axis] = k;
  Tensor scratch_values, scratch_indices;
  ACCEL_ASSIGN_OR_RETURN(Tensor * values,
                         dm::OutputOrScratch(ctx, 0, x.dtype(), dims, scratch_values));
  ACCEL_ASSIGN_OR_RETURN(Tensor * indices,
                         dm::OutputOrScratch(ctx, 1, DType::kInt64, dims, scratch_indices));
  int64_t outer = ElementCount(std::span(x.shape()).subspan(0, axis));
  int64_t inner = ElementCount(std::span(x.shape()).subspan(axis + 1));
  // `sorted` = 0 allows any order; sorted output is one valid order.
  return dm::VisitNumeric(x.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    TopKSlices<T>(x.data_as<T>(), values->data_as<T>(), indices->data_as<int64_t>(), outer, dim,
                  inner, k, largest != 0);
    return Status::Ok();
  });
}

constexpr core::CreateKernelFn CreateTopK = dm::CreateFunctionKernel<ComputeTopK>;

}  // namespace

const core::OpDef& TopKOpDef() {
  static const core::OpDef def{"TopK", "", {1, 10, 11, 24}, 1, InferTopK, CreateTopK};
  return def;
}

}  // namespace accel::cpu
