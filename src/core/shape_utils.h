// Shape arithmetic shared by shape rules and kernels. Unknown dims are -1 throughout.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "accel/status.h"
#include "accel/tensor.h"
#include "core/graph.h"

namespace accel::core {

// Numpy-style multidirectional broadcast of two shapes; an unknown dim stays unknown unless the
// other side fixes it (> 1). Fails when two known dims differ and neither is 1.
Result<std::vector<int64_t>> BroadcastShapes(std::span<const int64_t> a,
                                             std::span<const int64_t> b);
// Broadcast of several input types; unknown rank anywhere gives an unknown shape.
Result<TensorType> BroadcastTypes(DType dtype, std::span<const TensorType* const> inputs);

// Maps a possibly negative axis into [0, rank); fails naming the axis when out of range.
Result<int64_t> NormalizeAxis(int64_t axis, int64_t rank);

// Reads a 1-D integer tensor (int32 or int64) into int64 values (Reshape shapes, Slice starts).
Result<std::vector<int64_t>> ReadInts(const Tensor& t);

// Row-major strides of a shape, in elements.
std::vector<int64_t> Strides(std::span<const int64_t> shape);

}  // namespace accel::core
