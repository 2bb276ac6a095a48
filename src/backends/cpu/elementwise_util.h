// Helpers shared by the CPU elementwise, reduction and normalization kernels: dtype dispatch,
// numpy broadcasting plans and axis layouts.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "accel/status.h"
#include "accel/tensor.h"
#include "backends/cpu/small_vector.h"
#include "core/graph.h"
#include "core/layout.h"

namespace accel::cpu {

// Loops shorter than this run on one thread: the OpenMP fork costs more than the work.
inline constexpr int64_t kParallelMinElements = 1 << 15;

template <typename T>
constexpr DType DTypeOf();
template <>
constexpr DType DTypeOf<float>() {
  return DType::kFloat32;
}
template <>
constexpr DType DTypeOf<double>() {
  return DType::kFloat64;
}
template <>
constexpr DType DTypeOf<int8_t>() {
  return DType::kInt8;
}
template <>
constexpr DType DTypeOf<uint8_t>() {
  return DType::kUInt8;
}
template <>
constexpr DType DTypeOf<int16_t>() {
  return DType::kInt16;
}
template <>
constexpr DType DTypeOf<uint16_t>() {
  return DType::kUInt16;
}
template <>
constexpr DType DTypeOf<int32_t>() {
  return DType::kInt32;
}
template <>
constexpr DType DTypeOf<uint32_t>() {
  return DType::kUInt32;
}
template <>
constexpr DType DTypeOf<int64_t>() {
  return DType::kInt64;
}
template <>
constexpr DType DTypeOf<uint64_t>() {
  return DType::kUInt64;
}
template <>
constexpr DType DTypeOf<bool>() {
  return DType::kBool;
}

template <typename T>
struct DTypeTag {
  using type = T;
};

template <typename... Ts>
struct TypeList {};

// Calls f(DTypeTag<T>{}) for the C++ type T of `dtype` when T is in Types; false otherwise.
template <typename... Ts, typename F>
bool VisitDType(TypeList<Ts...>, DType dtype, F&& f) {
  bool found = false;
  auto try_one = [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (!found && dtype == DTypeOf<T>()) {
      found = true;
      f(tag);
    }
  };
  (try_one(DTypeTag<Ts>{}), ...);
  return found;
}

using FloatTypes = TypeList<float, double>;
using SignedTypes = TypeList<float, double, int8_t, int16_t, int32_t, int64_t>;
using NumericTypes = TypeList<float, double, int8_t, uint8_t, int16_t, uint16_t, int32_t, uint32_t,
                              int64_t, uint64_t>;
using IntegerTypes =
    TypeList<int8_t, uint8_t, int16_t, uint16_t, int32_t, uint32_t, int64_t, uint64_t>;
using BoolTypes = TypeList<bool>;

inline Status UnsupportedDType(DType dtype) {
  return Unsupported(std::string("dtype ") + DTypeName(dtype) + " is not supported");
}

// How N inputs map onto a broadcast output, with adjacent dims merged wherever every input
// agrees on contiguity. After merging, each input's innermost stride is 0 or 1, so kernels run
// plain inner loops and only do index arithmetic once per row.
// Inline up to rank 8 (small_vector.h), so building a plan per run allocates nothing.
template <size_t N>
struct BroadcastPlan {
  DimVector dims;  // merged output dims, innermost last (never empty)
  SmallVector<std::array<int64_t, N>, kInlineRank> strides;  // per merged dim, per input; 0 = bcast

  int64_t inner() const { return dims.back(); }
  int64_t rows() const {
    int64_t r = 1;
    for (size_t i = 0; i + 1 < dims.size(); ++i) r *= dims[i];
    return r;
  }
  // Element offsets of each input at the start of output row `row`.
  std::array<int64_t, N> RowOffsets(int64_t row) const {
    std::array<int64_t, N> off{};
    for (size_t d = dims.size() - 1; d-- > 0;) {
      int64_t idx = row % dims[d];
      row /= dims[d];
      for (size_t k = 0; k < N; ++k) off[k] += idx * strides[d][k];
    }
    return off;
  }
};

// Plans the broadcast of `inputs` to `out` (which must already be their broadcast shape or a
// shape they broadcast to).
template <size_t N>
BroadcastPlan<N> MakeBroadcastPlan(std::span<const int64_t> out,
                                   const std::array<std::span<const int64_t>, N>& inputs) {
  size_t rank = out.size();
  BroadcastPlan<N> plan;
  SmallVector<std::array<int64_t, N>, kInlineRank> strides(rank);
  for (size_t k = 0; k < N; ++k) {
    std::span<const int64_t> s = inputs[k];
    int64_t stride = 1;
    for (size_t i = rank; i-- > 0;) {
      size_t pad = rank - s.size();
      int64_t dim = i < pad ? 1 : s[i - pad];
      strides[i][k] = dim == 1 ? 0 : stride;
      stride *= dim;
    }
  }
  for (size_t i = 0; i < rank; ++i) {
    if (out[i] == 1) continue;
    bool merge = !plan.dims.empty();
    for (size_t k = 0; merge && k < N; ++k) {
      merge = plan.strides.back()[k] == strides[i][k] * out[i];
    }
    if (merge) {
      plan.dims.back() *= out[i];
      plan.strides.back() = strides[i];
    } else {
      plan.dims.push_back(out[i]);
      plan.strides.push_back(strides[i]);
    }
  }
  if (plan.dims.empty()) {
    plan.dims.push_back(1);
    plan.strides.push_back({});
  }
  return plan;
}

template <size_t N>
BroadcastPlan<N> MakeBroadcastPlan(std::span<const int64_t> out,
                                   const std::array<const Shape*, N>& inputs) {
  std::array<std::span<const int64_t>, N> spans;
  for (size_t k = 0; k < N; ++k) spans[k] = *inputs[k];
  return MakeBroadcastPlan<N>(out, spans);
}

// Runs row_fn(offsets, out_offset, n) over the plan in parallel units of about kChunk
// elements: pieces of one long row, or runs of whole short rows. row_fn gets the element offset
// of each input, the output offset and the run length; input k advances by
// plan.strides.back()[k] (0 or 1) per element.
template <size_t N, typename RowFn>
void ForEachRun(const BroadcastPlan<N>& plan, RowFn&& row_fn) {
  constexpr int64_t kChunk = 1 << 14;
  const int64_t inner = plan.inner();
  const int64_t rows = plan.rows();
  if (rows == 0 || inner == 0) return;
  const std::array<int64_t, N> inner_stride = plan.strides.back();
  const bool parallel = rows * inner >= kParallelMinElements;
  if (inner >= kChunk) {
    const int64_t chunks_per_row = (inner + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t u = 0; u < rows * chunks_per_row; ++u) {
      const int64_t row = u / chunks_per_row;
      const int64_t begin = (u % chunks_per_row) * kChunk;
      std::array<int64_t, N> off = plan.RowOffsets(row);
      for (size_t k = 0; k < N; ++k) off[k] += begin * inner_stride[k];
      row_fn(off, row * inner + begin, std::min(kChunk, inner - begin));
    }
    return;
  }
  // Short rows: offsets are computed once per unit, then stepped like an odometer.
  const int64_t rows_per_unit = std::max<int64_t>(1, kChunk / inner);
  const int64_t units = (rows + rows_per_unit - 1) / rows_per_unit;
  const size_t outer_dims = plan.dims.size() - 1;
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t u = 0; u < units; ++u) {
    const int64_t first = u * rows_per_unit;
    const int64_t last = std::min(rows, first + rows_per_unit);
    std::array<int64_t, N> off = plan.RowOffsets(first);
    DimVector idx(outer_dims);
    for (size_t d = outer_dims, rest = static_cast<size_t>(first); d-- > 0;) {
      idx[d] = static_cast<int64_t>(rest) % plan.dims[d];
      rest /= static_cast<size_t>(plan.dims[d]);
    }
    for (int64_t row = first; row < last; ++row) {
      row_fn(off, row * inner, inner);
      for (size_t d = outer_dims; d-- > 0;) {
        for (size_t k = 0; k < N; ++k) off[k] += plan.strides[d][k];
        if (++idx[d] < plan.dims[d]) break;
        for (size_t k = 0; k < N; ++k) off[k] -= plan.strides[d][k] * plan.dims[d];
        idx[d] = 0;
      }
    }
  }
}

// A tensor seen as [outer, axis, inner] around one axis.
struct AxisLayout {
  int64_t outer = 1;
  int64_t axis = 1;
  int64_t inner = 1;
};

inline AxisLayout LayoutAround(std::span<const int64_t> dims, int64_t axis) {
  AxisLayout l;
  for (int64_t i = 0; i < static_cast<int64_t>(dims.size()); ++i) {
    if (i < axis) {
      l.outer *= dims[i];
    } else if (i == axis) {
      l.axis = dims[i];
    } else {
      l.inner *= dims[i];
    }
  }
  return l;
}

// exp(x) for x in [-87.3, 88.3] (clamped), ~2 ulp: Cephes' polynomial on x - n*ln2, scaled by
// 2^n through the exponent bits. Branch-free, so loops calling it vectorize; always inlined so that
// [[gnu::target]] (AVX2/AVX-512) loops get it compiled for their target.
[[gnu::always_inline]] inline float ClampedExp(float x) {
  // Ternaries, not std::min/max: those would not inline into the target-specific loops.
  x = x < -87.3f ? -87.3f : x;
  x = x > 88.3f ? 88.3f : x;
  const float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float n = (x * 1.44269504088896341f + kRound) - kRound;
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  return p * __builtin_bit_cast(float, bits);
}

// Reads a scalar (or one-element) tensor of any numeric dtype as double.
Result<double> ReadScalarAsDouble(const Tensor& t);

// The elementwise ops that may run on channel-blocked data (core/layout.h): each element is
// computed on its own, and the zero padding of a blocked tensor stays finite through them (no
// Log, Div or Reciprocal: an infinite padding lane would poison a following convolution).
constexpr core::LayoutSupport ElementwiseLayouts(std::string_view op) {
  constexpr std::string_view kBlockable[] = {
      "Abs",       "Add",       "Celu",    "Elu",      "Erf",  "Gelu", "HardSigmoid",
      "HardSwish", "LeakyRelu", "Max",     "Min",      "Mish", "Mul",  "Neg",
      "Relu",      "Selu",      "Sigmoid", "Softplus", "Sub",  "Sum",  "Tanh"};
  for (std::string_view name : kBlockable) {
    if (name == op) return core::LayoutSupport::kElementwise;
  }
  return core::LayoutSupport::kPlainOnly;
}

}  // namespace accel::cpu

#define ACCEL_UNPAREN(...) __VA_ARGS__

// The tail of the per-op macros of unary.cc and binary.cc, which are expanded inside an
// anonymous namespace: defines <Name>OpDef() (outside it) over the shape rule Infer<Name##Op> and
// the factory Create<Name##Op>. Versions is a parenthesized list.
#define ACCEL_ELEMENTWISE_OPDEF(Name, Versions, MinVersion, Infer, Create) \
  }                                                                        \
  const core::OpDef& Name##OpDef() {                                       \
    static const core::OpDef def{#Name,                                    \
                                 "",                                       \
                                 {ACCEL_UNPAREN Versions},                 \
                                 MinVersion,                               \
                                 &Infer<Name##Op>,                         \
                                 &Create<Name##Op>,                        \
                                 ElementwiseLayouts(#Name)};               \
    return def;                                                            \
  }                                                                        \
  namespace {
