#include "core/shape_utils.h"

#include <algorithm>
#include <string>

namespace accel::core {

Result<std::vector<int64_t>> BroadcastShapes(std::span<const int64_t> a,
                                             std::span<const int64_t> b) {
  size_t rank = std::max(a.size(), b.size());
  std::vector<int64_t> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da == db) {
      out[i] = da;
    } else if (da == 1) {
      out[i] = db;
    } else if (db == 1) {
      out[i] = da;
    } else if (da < 0 || db < 0) {
      // One side unknown: a known dim > 1 fixes the result (a valid model must match it).
      out[i] = std::max(da, db);
    } else {
      return InvalidModel("shapes " + ShapeToString(a) + " and " + ShapeToString(b) +
                          " cannot be broadcast");
    }
  }
  return out;
}

Result<TensorType> BroadcastTypes(DType dtype, std::span<const TensorType* const> inputs) {
  std::vector<int64_t> dims;
  for (const TensorType* t : inputs) {
    if (!t) continue;
    if (!t->has_shape) return TensorType::UnknownShape(dtype);
    ACCEL_ASSIGN_OR_RETURN(dims, BroadcastShapes(dims, t->dims));
  }
  return TensorType::Known(dtype, std::move(dims));
}

Result<int64_t> NormalizeAxis(int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank) {
    return InvalidModel("axis " + std::to_string(axis) + " is out of range for rank " +
                        std::to_string(rank));
  }
  return axis < 0 ? axis + rank : axis;
}

Result<std::vector<int64_t>> ReadInts(const Tensor& t) {
  if (t.rank() > 1) {
    return InvalidModel("expected a 1-D integer tensor, got shape " + ShapeToString(t.shape()));
  }
  std::vector<int64_t> out(static_cast<size_t>(t.element_count()));
  if (t.dtype() == DType::kInt64) {
    std::copy_n(t.data_as<int64_t>(), out.size(), out.begin());
  } else if (t.dtype() == DType::kInt32) {
    std::copy_n(t.data_as<int32_t>(), out.size(), out.begin());
  } else {
    return InvalidModel(std::string("expected an int32 or int64 tensor, got ") +
                        DTypeName(t.dtype()));
  }
  return out;
}

std::vector<int64_t> Strides(std::span<const int64_t> shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

}  // namespace accel::core
