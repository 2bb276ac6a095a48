// The importer's block for initializer bytes (core/constant_block.h): the tensors carved from it
// hold exactly the file's bytes, and a mostly dead block is compacted away.
#include "core/constant_block.h"

#include <onnx/onnx_pb.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <string>

#include "core/onnx_importer.h"
#include "onnx_test_util.h"

namespace accel {
namespace {

// A model whose initializers are stored as raw_data (as exporters write them): four float
// weights of 1 MiB, 256 KiB, 3 floats and 1 MiB, and one int64 tensor in its typed field.
std::string RawWeightsModel() {
  testing::GraphBuilder b(13, /*seed=*/5);
  b.Input("x", {1024});
  b.Node("Add", {"x", b.Weight("w0", {256, 1024})}, "a0");
  b.Node("Add", {"a0", b.Weight("w1", {64, 1024})}, "a1");
  b.Node("Add", {"a1", b.Weight("w2", {3, 1}, 2.0f, 3.0f)}, "a2");
  b.Node("Add", {"a2", b.Weight("w3", {256, 1024})}, "a3");
  b.Node("Reshape", {"a3", b.Ints("shape", {2}, {-1, 1})}, "y");
  b.Output("y");
  for (onnx::TensorProto& t : *b.m.mutable_graph()->mutable_initializer()) {
    if (t.data_type() != onnx::TensorProto::FLOAT) continue;
    t.set_raw_data(t.float_data().data(), t.float_data_size() * sizeof(float));
    t.clear_float_data();
  }
  return b.Bytes();
}

core::Graph Import(const std::string& bytes) {
  Result<core::Graph> g = core::ImportOnnx(std::as_bytes(std::span(bytes)), {});
  INFO(g.status().ToString());
  REQUIRE(g.ok());
  return std::move(g).value();
}

bool Inside(const Tensor& t, std::span<const std::byte> block) {
  const auto* p = static_cast<const std::byte*>(t.data());
  return p >= block.data() && p < block.data() + block.size();
}

TEST_CASE("Raw initializers share one block and hold the file's bytes", "[onnx_importer]") {
  const std::string bytes = RawWeightsModel();
  onnx::ModelProto proto;
  REQUIRE(proto.ParseFromString(bytes));
  core::Graph g = Import(bytes);
  REQUIRE(g.constant_block.size() >= (size_t{9} << 18));
  for (const onnx::TensorProto& init : proto.graph().initializer()) {
    INFO(init.name());
    const core::Value& v = g.values[g.FindValue(init.name())];
    REQUIRE(v.constant);
    const Tensor& t = *v.constant;
    CHECK(reinterpret_cast<uintptr_t>(t.data()) % 64 == 0);
    if (init.has_raw_data()) {
      CHECK(Inside(t, g.constant_block));
      REQUIRE(t.byte_size() == init.raw_data().size());
      CHECK(std::memcmp(t.data(), init.raw_data().data(), t.byte_size()) == 0);
    } else {
      CHECK_FALSE(Inside(t, g.constant_block));  // typed field: its own allocation
      CHECK(t.values<int64_t>()[0] == init.int64_data(0));
    }
  }
}

TEST_CASE("A mostly dead constant block is compacted, a mostly live one kept", "[onnx_importer]") {
  core::Graph g = Import(RawWeightsModel());
  const std::span<const std::byte> block = g.constant_block;
  auto constant = [&](const char* name) -> std::optional<Tensor>& {
    return g.values[g.FindValue(name)].constant;
  };
  // w0 dead (1 of 2.25 MiB): less than three quarters is live, so all survivors move.
  constant("w0").reset();
  const std::vector<float> w1(constant("w1")->values<float>().begin(),
                              constant("w1")->values<float>().end());
  REQUIRE(core::CompactConstantBlock(g).ok());
  CHECK(g.constant_block.empty());
  for (const char* name : {"w1", "w2", "w3"}) {
    INFO(name);
    CHECK_FALSE(Inside(*constant(name), block));
  }
  CHECK(std::equal(w1.begin(), w1.end(), constant("w1")->values<float>().begin()));

  core::Graph live = Import(RawWeightsModel());
  const std::span<const std::byte> live_block = live.constant_block;
  live.values[live.FindValue("w2")].constant.reset();  // 12 bytes dead: nothing moves
  REQUIRE(core::CompactConstantBlock(live).ok());
  CHECK(Inside(*live.values[live.FindValue("w0")].constant, live_block));
}

}  // namespace
}  // namespace accel
