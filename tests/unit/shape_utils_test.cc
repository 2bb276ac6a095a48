#include "core/shape_utils.h"

#include <catch2/catch.hpp>

namespace accel::core {
namespace {

using Dims = std::vector<int64_t>;

TEST_CASE("BroadcastShapes follows numpy rules", "[shape]") {
  // Expected values from numpy.broadcast_shapes.
  CHECK(*BroadcastShapes(Dims{2, 3, 4}, Dims{4}) == Dims{2, 3, 4});
  CHECK(*BroadcastShapes(Dims{1, 3, 1}, Dims{5, 1, 7}) == Dims{5, 3, 7});
  CHECK(*BroadcastShapes(Dims{}, Dims{2, 2}) == Dims{2, 2});
  CHECK(*BroadcastShapes(Dims{0, 1}, Dims{1, 3}) == Dims{0, 3});
  CHECK(BroadcastShapes(Dims{2, 3}, Dims{4, 3}).status().code() == StatusCode::kInvalidModel);
}

TEST_CASE("BroadcastShapes keeps unknown dims unknown unless fixed", "[shape]") {
  CHECK(*BroadcastShapes(Dims{-1, 3}, Dims{1, 3}) == Dims{-1, 3});
  CHECK(*BroadcastShapes(Dims{-1, 3}, Dims{5, 3}) == Dims{5, 3});
  CHECK(*BroadcastShapes(Dims{-1}, Dims{-1}) == Dims{-1});
}

TEST_CASE("NormalizeAxis maps negative axes and rejects out-of-range ones", "[shape]") {
  CHECK(*NormalizeAxis(-1, 4) == 3);
  CHECK(*NormalizeAxis(0, 1) == 0);
  CHECK(NormalizeAxis(4, 4).status().code() == StatusCode::kInvalidModel);
  CHECK(NormalizeAxis(-5, 4).status().code() == StatusCode::kInvalidModel);
}

TEST_CASE("ReadInts accepts int32 and int64 vectors only", "[shape]") {
  std::vector<int32_t> v32 = {3, -1, 7};
  Tensor t32 = Tensor::View(DType::kInt32, {3}, v32.data());
  CHECK(*ReadInts(t32) == Dims{3, -1, 7});
  std::vector<float> f = {1.0f};
  CHECK(!ReadInts(Tensor::View(DType::kFloat32, {1}, f.data())).ok());
}

TEST_CASE("Strides are row-major element strides", "[shape]") {
  CHECK(Strides(Dims{2, 3, 4}) == Dims{12, 4, 1});
  CHECK(Strides(Dims{}).empty());
}

}  // namespace
}  // namespace accel::core
