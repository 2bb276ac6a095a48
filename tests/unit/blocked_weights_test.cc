// PackBlockedWeights against oneDNN's own reorder: the same bytes, padding included.
#include "backends/cpu/blocked_weights.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <random>
#include <vector>

#include "backends/cpu/dnnl_context.h"
#include "onnx_test_util.h"

namespace accel::cpu {
namespace {

using dnnl::memory;
using Tag = memory::format_tag;

TEST_CASE("Blocked weights match oneDNN's reorder", "[weights]") {
  struct Case {
    memory::dims dims;
    Tag plain, blocked;
  };
  const Case cases[] = {
      {{64, 32, 3, 3}, Tag::oihw, Tag::OIhw16i16o},  // whole blocks
      {{40, 24, 1, 1}, Tag::oihw, Tag::OIhw16i16o},  // both channel counts padded
      {{16, 3, 3, 3}, Tag::oihw, Tag::Ohwi16o},      // a first layer's plain-input weights
      {{20, 6, 5, 5}, Tag::oihw, Tag::OIhw8i8o},
      {{24, 1, 1, 3, 3}, Tag::goihw, Tag::Goihw16g},  // depthwise, 24 groups padded to 32
      {{2, 24, 8, 3, 3}, Tag::goihw, Tag::gOIhw16i16o},
      {{48, 20, 3, 3}, Tag::oihw, Tag::OIhw4i16o4i},  // one dim in two inner blocks
      {{100, 70}, Tag::ab, Tag::AB16b16a},
      {{4, 9000}, Tag::ab, Tag::AB16b16a},            // a row longer than the combined inner table
      {{96, 128, 1, 1}, Tag::oihw, Tag::OIhw16i16o},  // rows of several output channels
  };
  unsigned seed = 1;
  for (const Case& c : cases) {
    INFO("dims " << c.dims.size() << "D, first " << c.dims[0]);
    const memory::desc user(c.dims, memory::data_type::f32, c.plain);
    const memory::desc want(c.dims, memory::data_type::f32, c.blocked);
    std::vector<float> w = testing::RandomFloats(user.get_size() / sizeof(float), seed++);
    std::vector<std::byte> ours(want.get_size(), std::byte{0x55});
    std::vector<std::byte> theirs(want.get_size(), std::byte{0x55});
    REQUIRE(PackBlockedWeights(user, w.data(), want, ours.data()));
    memory src(user, CpuEngine(), w.data()), dst(want, CpuEngine(), theirs.data());
    dnnl::stream stream(CpuEngine());
    dnnl::reorder(src, dst).execute(stream, src, dst);
    stream.wait();
    CHECK(std::memcmp(ours.data(), theirs.data(), ours.size()) == 0);
  }
}

TEST_CASE("Blocked weights refuse what they do not handle", "[weights]") {
  const memory::dims dims = {32, 16, 3, 3};
  const memory::desc user(dims, memory::data_type::f32, Tag::oihw);
  std::vector<float> w(user.get_size() / sizeof(float), 1.0f);
  std::vector<std::byte> out(user.get_size() * 2);
  // bf16 weights: converted by oneDNN's reorder.
  CHECK_FALSE(PackBlockedWeights(
      user, w.data(), memory::desc(dims, memory::data_type::bf16, Tag::OIhw16i16o), out.data()));
  // A source that is not dense row-major.
  CHECK_FALSE(PackBlockedWeights(memory::desc(dims, memory::data_type::f32, Tag::ohwi), w.data(),
                                 memory::desc(dims, memory::data_type::f32, Tag::OIhw16i16o),
                                 out.data()));
  // Larger than kMaxPackedElements: oneDNN's parallel reorder is faster there.
  const memory::dims big = {512, 512, 3, 3};
  std::vector<float> wb(512 * 512 * 9, 1.0f);
  std::vector<std::byte> ob(memory::desc(big, memory::data_type::f32, Tag::OIhw16i16o).get_size());
  CHECK_FALSE(PackBlockedWeights(memory::desc(big, memory::data_type::f32, Tag::oihw), wb.data(),
                                 memory::desc(big, memory::data_type::f32, Tag::OIhw16i16o),
                                 ob.data()));
}

}  // namespace
}  // namespace accel::cpu
