// memory::HashBytes: every ISA's version computes the same value, and the value depends on the
// order of the data at every scale it is processed in (words, stripes, blocks of stripes).
#include "memory/hash.h"

#include <catch2/catch.hpp>
#include <random>
#include <vector>

namespace accel {
namespace {

std::vector<std::byte> RandomBytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<std::byte> v(n);
  for (std::byte& b : v) b = static_cast<std::byte>(rng());
  return v;
}

TEST_CASE("HashBytes equals its scalar version at every length", "[hash]") {
  const std::vector<std::byte> data = RandomBytes(5000, 1);
  for (size_t n = 0; n <= data.size(); n += (n < 300 ? 1 : 97)) {
    INFO("length " << n);
    const std::span<const std::byte> part = std::span(data).first(n);
    CHECK(memory::HashBytes(part, n) == memory::HashBytesBaseline(part, n));
  }
}

TEST_CASE("HashBytes changes when words, stripes or blocks trade places", "[hash]") {
  const std::vector<std::byte> data = RandomBytes(4 * 1024, 2);
  const memory::Hash128 h = memory::HashBytes(data);
  // Byte ranges swapped: two 8-byte words inside a stripe, two 64-byte stripes inside a block
  // of 1 KiB, and two whole blocks.
  const size_t sizes[] = {8, 64, 1024};
  for (size_t size : sizes) {
    INFO("swapped " << size << " bytes");
    std::vector<std::byte> swapped = data;
    std::swap_ranges(swapped.begin(), swapped.begin() + size, swapped.begin() + size);
    CHECK_FALSE(memory::HashBytes(swapped) == h);
  }
  // The same 64 bytes repeated: each copy still counts.
  const std::vector<std::byte> one(64, std::byte{7});
  std::vector<std::byte> two(128, std::byte{7});
  CHECK_FALSE(memory::HashBytes(one) == memory::HashBytes(two));
  const std::vector<std::byte> zeros(64, std::byte{0});
  CHECK_FALSE(memory::HashBytes(zeros) == memory::HashBytes(std::span(zeros).first(63)));
}

}  // namespace
}  // namespace accel
