// Helpers shared by the CPU shape / data-movement kernels (Reshape, Slice, Gather, Resize, ...).
//
// Data-movement kernels work on bytes (the element size), so every dtype works without a type
// switch; the few ops that compute on values dispatch with VisitNumeric.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "accel/status.h"
#include "accel/tensor.h"
#include "backends/cpu/small_vector.h"
#include "core/infer_context.h"
#include "core/kernel.h"
#include "core/shape_utils.h"

// Kept in their own namespace so they never collide with other kernel files' helpers.
namespace accel::cpu::dm {

// Wraps a freshly constructed kernel in the factory's return type.
template <typename K, typename... Args>
Result<std::unique_ptr<core::Kernel>> MakeKernel(Args&&... args) {
  return std::unique_ptr<core::Kernel>(std::make_unique<K>(std::forward<Args>(args)...));
}

// A kernel whose Compute is a free function: for ops with no per-node state beyond attributes
// the function re-reads (they are cheap to parse, and the shape rule has already validated them).
template <Status (*Fn)(core::KernelContext&, const core::Attributes&, int)>
class FunctionKernel final : public core::Kernel {
 public:
  FunctionKernel(const core::Attributes& attrs, int opset) : attrs_(attrs), opset_(opset) {}
  Status Compute(core::KernelContext& ctx) override { return Fn(ctx, attrs_, opset_); }

 private:
  const core::Attributes& attrs_;  // owned by the Model, which outlives every Session
  int opset_;
};

template <Status (*Fn)(core::KernelContext&, const core::Attributes&, int)>
Result<std::unique_ptr<core::Kernel>> CreateFunctionKernel(const core::KernelInit& init) {
  return MakeKernel<FunctionKernel<Fn>>(init.attrs, init.opset);
}

// Reads element i of an int32/int64 tensor as int64 (callers check the dtype beforehand).
inline int64_t IndexAt(const Tensor& t, int64_t i) {
  return t.dtype() == DType::kInt64 ? t.data_as<int64_t>()[i]
                                    : static_cast<int64_t>(t.data_as<int32_t>()[i]);
}

inline Status CheckIndexDType(const Tensor& t, const char* what) {
  if (t.dtype() != DType::kInt64 && t.dtype() != DType::kInt32) {
    return InvalidModel(std::string(what) + " must be int32 or int64, got " + DTypeName(t.dtype()));
  }
  return Status::Ok();
}

// An out-of-range data-dependent index, named with its limit.
inline Status IndexOutOfRange(const char* what, int64_t index, int64_t limit) {
  return OutOfRange(std::string(what) + " " + std::to_string(index) + " is out of range [" +
                    std::to_string(-limit) + ", " + std::to_string(limit) + ")");
}

// Maps a possibly negative data-dependent index into [0, limit) or fails with OutOfRange.
inline Result<int64_t> WrapIndex(const char* what, int64_t index, int64_t limit) {
  if (index < -limit || index >= limit) return IndexOutOfRange(what, index, limit);
  return index < 0 ? index + limit : index;
}

// GatherElements / ScatterElements: the index tensor must fit inside the data everywhere but
// along the axis, so only the index values themselves need checking.
Status CheckElementsShapes(std::span<const int64_t> data_dims, std::span<const int64_t> idx_dims,
                           int64_t axis);

// Walks `indices` (shapes checked by CheckElementsShapes) in row-major order and calls
// f(i, offset) for element i, where offset is the element offset into the data (of shape
// `data_dims`) at i's position with the coordinate along `axis` replaced by the index value.
// Index values are checked (OutOfRange) and may be negative; stops at f's first error.
template <typename F>
Status ForEachElementsIndex(const Tensor& indices, int64_t axis, std::span<const int64_t> data_dims,
                            F&& f) {
  DimVector strides(data_dims.size());
  for (size_t d = data_dims.size(), s = 1; d-- > 0;) {
    strides[d] = static_cast<int64_t>(s);
    s *= static_cast<size_t>(data_dims[d]);
  }
  const std::vector<int64_t>& dims = indices.shape();
  const int64_t limit = data_dims[axis];
  DimVector pos(dims.size(), 0);
  const int64_t n = indices.element_count();
  for (int64_t i = 0; i < n; ++i) {
    ACCEL_ASSIGN_OR_RETURN(int64_t k, WrapIndex("index", IndexAt(indices, i), limit));
    int64_t offset = 0;
    for (size_t d = 0; d < dims.size(); ++d) {
      offset += (static_cast<int64_t>(d) == axis ? k : pos[d]) * strides[d];
    }
    ACCEL_RETURN_IF_ERROR(f(i, offset));
    for (int64_t d = static_cast<int64_t>(dims.size()) - 1; d >= 0; --d) {
      if (++pos[d] < dims[d]) break;
      pos[d] = 0;
    }
  }
  return Status::Ok();
}

// core::ReadInts (same checks and messages) into `out`, whose inline capacity keeps steady runs
// free of allocations.
template <typename Ints>
Status ReadIntsInto(const Tensor& t, Ints& out) {
  if (t.rank() > 1) {
    return InvalidModel("expected a 1-D integer tensor, got shape " + ShapeToString(t.shape()));
  }
  if (t.dtype() != DType::kInt64 && t.dtype() != DType::kInt32) {
    return InvalidModel(std::string("expected an int32 or int64 tensor, got ") +
                        DTypeName(t.dtype()));
  }
  out.clear();
  for (int64_t i = 0; i < t.element_count(); ++i) out.push_back(IndexAt(t, i));
  return Status::Ok();
}

// True when every dim is known; -1 otherwise propagates "unknown".
inline bool AllKnown(std::span<const int64_t> dims) {
  for (int64_t d : dims) {
    if (d < 0) return false;
  }
  return true;
}

// Element count when every dim is known, else -1.
inline int64_t AllKnownCount(std::span<const int64_t> dims) {
  return AllKnown(dims) ? ElementCount(dims) : -1;
}

// Output i, or `scratch` allocated with the given type when the model omits that output (so a
// kernel computing several outputs together need not special-case it).
inline Result<Tensor*> OutputOrScratch(core::KernelContext& ctx, size_t i, DType dtype, Shape shape,
                                       Tensor& scratch) {
  if (ctx.has_output(i)) return ctx.Output(i);
  ACCEL_ASSIGN_OR_RETURN(scratch, Tensor::Create(dtype, std::move(shape)));
  return &scratch;
}

// Calls f(T{}) with the C++ type of a numeric dtype; Unsupported for the others.
template <typename F>
Status VisitNumeric(DType dtype, F&& f) {
  switch (dtype) {
    case DType::kFloat32:
      return f(float{});
    case DType::kFloat64:
      return f(double{});
    case DType::kInt8:
      return f(int8_t{});
    case DType::kUInt8:
      return f(uint8_t{});
    case DType::kInt16:
      return f(int16_t{});
    case DType::kUInt16:
      return f(uint16_t{});
    case DType::kInt32:
      return f(int32_t{});
    case DType::kUInt32:
      return f(uint32_t{});
    case DType::kInt64:
      return f(int64_t{});
    case DType::kUInt64:
      return f(uint64_t{});
    default:
      return Unsupported(std::string("dtype ") + DTypeName(dtype) + " is not supported");
  }
}

// Copies a strided view of `src` into dense row-major `dst`: output element (i0, i1, ...) comes
// from src + sum(ik * src_strides[k]) (byte strides; negative allowed). Adjacent dims that are
// contiguous in the source are merged so the inner loop is a memcpy whenever possible.
void StridedCopy(void* dst, const void* src, std::span<const int64_t> dims,
                 std::span<const int64_t> src_strides, size_t elem_size);

// Copies n elements of `elem_size` bytes lying `src_stride` bytes apart in src to contiguous
// dst (one row of StridedCopy; a stride of two elements, a step-2 Slice, is vectorized).
void CopyStridedRow(void* dst, const void* src, int64_t n, int64_t src_stride, size_t elem_size);

// Test hook: makes StridedCopy's 4-byte transposes use "avx512", "avx2" or "scalar" blocks, or
// ("") the widest this CPU has again. False, changing nothing, when the CPU lacks the ISA.
bool SetTransposeIsaForTesting(std::string_view isa);

// float16 / bfloat16 <-> float, for the few value-computing kernels that accept them.
float HalfToFloat(uint16_t h);
uint16_t FloatToHalf(float f);
inline float BFloat16ToFloat(uint16_t b) {
  uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}
uint16_t FloatToBFloat16(float f);

// Reads element i of any numeric tensor as double (for scalars such as Pad's constant_value).
Result<double> ScalarAsDouble(const Tensor& t, int64_t i = 0);
// Writes v, converted to t's dtype, into element i.
Status StoreFromDouble(Tensor& t, int64_t i, double v);

}  // namespace accel::cpu::dm
