// Tensors passed into and out of libaccel.
//
// A Tensor is a dtype, a shape and a pointer to dense row-major data. It either owns its buffer
// (shared, reference counted: copying a Tensor is cheap and aliases the same bytes) or is a view
// over memory the caller owns and keeps alive.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "accel/status.h"

namespace accel {

// Element types. The numeric values match ONNX's TensorProto.DataType so that importers can map
// them directly; only the listed types exist in libaccel.
enum class DType : int {
  kUndefined = 0,
  kFloat32 = 1,
  kUInt8 = 2,
  kInt8 = 3,
  kUInt16 = 4,
  kInt16 = 5,
  kInt32 = 6,
  kInt64 = 7,
  kBool = 9,
  kFloat16 = 10,
  kFloat64 = 11,
  kUInt32 = 12,
  kUInt64 = 13,
  kBFloat16 = 16,
};

// Bytes per element; 0 for kUndefined.
size_t DTypeSize(DType dtype);
// "float32", "int64", ...
const char* DTypeName(DType dtype);

// Dimensions, outermost first.
using Shape = std::vector<int64_t>;

// Number of elements of a shape (1 for a scalar of rank 0).
int64_t ElementCount(std::span<const int64_t> shape);
// "[1,3,224,224]"
std::string ShapeToString(std::span<const int64_t> shape);

namespace internal {
struct TensorAccess;  // libaccel's internal access (src/core/tensor_access.h)
}  // namespace internal

class Tensor {
 public:
  // An empty tensor: dtype kUndefined, no data.
  Tensor() = default;

  // Allocates an owning tensor (64-byte aligned, contents uninitialized). Fails on negative
  // dims, size overflow or out of memory.
  static Result<Tensor> Create(DType dtype, Shape shape);
  // Like Create, with every byte zero.
  static Result<Tensor> Zeros(DType dtype, Shape shape);
  // Wraps caller memory without copying. The caller keeps `data` alive and suitably aligned for
  // `dtype` while libaccel uses the tensor.
  static Tensor View(DType dtype, Shape shape, void* data);
  // Const overload: libaccel never writes through an input view.
  static Tensor View(DType dtype, Shape shape, const void* data);
  // Copies `values` into a new owning tensor; values.size() must equal the shape's element count.
  template <typename T>
  static Result<Tensor> FromVector(DType dtype, Shape shape, std::span<const T> values);

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
  int64_t element_count() const { return ElementCount(shape_); }
  size_t byte_size() const { return static_cast<size_t>(element_count()) * DTypeSize(dtype_); }
  bool empty() const { return dtype_ == DType::kUndefined; }
  // True when this tensor wraps caller memory instead of owning a buffer.
  bool is_view() const { return !owner_ && data_ != nullptr; }

  void* data() { return data_; }
  const void* data() const { return data_; }
  template <typename T>
  T* data_as() {
    return static_cast<T*>(data_);
  }
  template <typename T>
  const T* data_as() const {
    return static_cast<const T*>(data_);
  }
  template <typename T>
  std::span<const T> values() const {
    return {data_as<T>(), static_cast<size_t>(element_count())};
  }
  template <typename T>
  std::span<T> values() {
    return {data_as<T>(), static_cast<size_t>(element_count())};
  }

  // A new owning tensor with a copy of the bytes.
  Result<Tensor> Clone() const;
  // Same bytes, another shape with the same element count (aliases this tensor's buffer).
  Result<Tensor> Reshaped(Shape shape) const;

 private:
  friend struct internal::TensorAccess;
  DType dtype_ = DType::kUndefined;
  Shape shape_;
  void* data_ = nullptr;
  std::shared_ptr<void> owner_;  // null for views
};

template <typename T>
Result<Tensor> Tensor::FromVector(DType dtype, Shape shape, std::span<const T> values) {
  if (sizeof(T) != DTypeSize(dtype)) return InvalidArgument("FromVector: element size mismatch");
  if (ElementCount(shape) != static_cast<int64_t>(values.size())) {
    return InvalidArgument("FromVector: " + std::to_string(values.size()) +
                           " values do not fill shape " + ShapeToString(shape));
  }
  ACCEL_ASSIGN_OR_RETURN(Tensor t, Create(dtype, std::move(shape)));
  if (!values.empty()) std::copy(values.begin(), values.end(), t.data_as<T>());
  return t;
}

// A tensor with the graph input/output name it belongs to.
struct NamedTensor {
  std::string name;
  Tensor tensor;
};

}  // namespace accel
