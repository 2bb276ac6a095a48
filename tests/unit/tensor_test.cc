#include "accel/tensor.h"

#include <catch2/catch.hpp>
#include <cstdint>

namespace accel {
namespace {

TEST_CASE("Tensor::Create allocates aligned owning storage", "[tensor]") {
  Result<Tensor> t = Tensor::Create(DType::kFloat32, {2, 3});
  REQUIRE(t.ok());
  CHECK(t->byte_size() == 24);
  CHECK(!t->is_view());
  CHECK(reinterpret_cast<uintptr_t>(t->data()) % 64 == 0);
}

TEST_CASE("Tensor::Zeros is aligned and zero, small and large", "[tensor]") {
  // Large: beyond malloc's mmap threshold, where calloc does not write fresh pages itself. Each
  // round dirties its tensor before freeing it, so a block the next round reuses shows old bytes
  // unless it is zeroed.
  for (int64_t n : {int64_t{3}, int64_t{1} << 20}) {
    for (int round = 0; round < 3; ++round) {
      Result<Tensor> t = Tensor::Zeros(DType::kFloat32, {n});
      REQUIRE(t.ok());
      CHECK(reinterpret_cast<uintptr_t>(t->data()) % 64 == 0);
      CHECK(t->byte_size() == static_cast<size_t>(n) * 4);
      int64_t nonzero = 0;
      for (float& v : t->values<float>()) {
        nonzero += v != 0.0f;
        v = 7.0f;
      }
      CHECK(nonzero == 0);
    }
  }
  CHECK(Tensor::Zeros(DType::kFloat32, {2, -1}).status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("Tensor::Create rejects negative, overflowing and undefined shapes", "[tensor]") {
  CHECK(Tensor::Create(DType::kFloat32, {2, -1}).status().code() == StatusCode::kInvalidArgument);
  CHECK(Tensor::Create(DType::kFloat32, {int64_t{1} << 40, int64_t{1} << 40}).status().code() ==
        StatusCode::kInvalidArgument);
  CHECK(!Tensor::Create(DType::kUndefined, {1}).ok());
}

TEST_CASE("Copies alias, Clone copies, Reshaped keeps the element count", "[tensor]") {
  std::vector<float> v = {1, 2, 3, 4};
  Result<Tensor> t = Tensor::FromVector<float>(DType::kFloat32, {2, 2}, v);
  REQUIRE(t.ok());
  Tensor alias = *t;
  Result<Tensor> clone = t->Clone();
  REQUIRE(clone.ok());
  alias.data_as<float>()[0] = 9;
  CHECK(t->data_as<float>()[0] == 9);
  CHECK(clone->data_as<float>()[0] == 1);
  CHECK(t->Reshaped({4})->shape() == Shape{4});
  CHECK(!t->Reshaped({3}).ok());
}

TEST_CASE("Views wrap caller memory without owning it", "[tensor]") {
  std::vector<int64_t> v = {5, 6};
  Tensor t = Tensor::View(DType::kInt64, {2}, v.data());
  CHECK(t.is_view());
  CHECK(t.values<int64_t>()[1] == 6);
}

}  // namespace
}  // namespace accel
