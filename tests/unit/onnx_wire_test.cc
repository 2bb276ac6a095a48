// SplitRawData (core/onnx_wire.h) against protobuf's own parse of the same bytes.
#include "core/onnx_wire.h"

#include <onnx/onnx_pb.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "onnx_test_util.h"

namespace accel::core {
namespace {

std::span<const std::byte> Bytes(const std::string& s) { return std::as_bytes(std::span(s)); }

onnx::ModelProto MixedModel() {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  onnx::GraphProto* g = m.mutable_graph();
  g->set_name("g");
  *g->add_initializer() = testing::FloatTensor("raw", {2, 3}, {1, 2, 3, 4, 5, 6});  // raw_data
  onnx::TensorProto* typed = g->add_initializer();  // typed field, no raw_data
  typed->set_name("typed");
  typed->set_data_type(onnx::TensorProto::INT64);
  typed->add_dims(2);
  typed->add_int64_data(7);
  typed->add_int64_data(8);
  onnx::TensorProto* empty = g->add_initializer();  // raw_data present but empty
  empty->set_name("empty");
  empty->set_data_type(onnx::TensorProto::FLOAT);
  empty->add_dims(0);
  empty->set_raw_data("");
  testing::AddNode(m, "n", "Add", {"raw", "raw"}, {"y"});
  m.set_producer_name("after the graph");
  return m;
}

TEST_CASE("SplitRawData keeps the structure and hands out each initializer's raw bytes",
          "[onnx_wire]") {
  const onnx::ModelProto original = MixedModel();
  const std::string bytes = original.SerializeAsString();
  std::optional<SplitModel> split = SplitRawData(Bytes(bytes));
  REQUIRE(split.has_value());
  onnx::ModelProto parsed;
  REQUIRE(parsed.ParseFromString(split->structure));
  REQUIRE(split->raw_data.size() == 3);
  CHECK(std::string(reinterpret_cast<const char*>(split->raw_data[0].data()),
                    split->raw_data[0].size()) == original.graph().initializer(0).raw_data());
  CHECK(split->raw_data[1].data() == nullptr);  // no raw_data field at all
  CHECK(split->raw_data[2].data() != nullptr);  // an empty one
  CHECK(split->raw_data[2].empty());
  // Everything but raw_data survives, initializers in their order.
  onnx::ModelProto want = original;
  for (onnx::TensorProto& t : *want.mutable_graph()->mutable_initializer()) t.clear_raw_data();
  CHECK(parsed.SerializeAsString() == want.SerializeAsString());
}

TEST_CASE("SplitRawData refuses malformed bytes without reading past them", "[onnx_wire]") {
  const std::string bytes = MixedModel().SerializeAsString();
  // Every truncation: either refused, or (cut at a field boundary) a structure protobuf accepts.
  for (size_t n = 0; n < bytes.size(); ++n) {
    const std::string cut = bytes.substr(0, n);
    std::optional<SplitModel> split = SplitRawData(Bytes(cut));
    if (split) {
      onnx::ModelProto m;
      CHECK(m.ParseFromString(split->structure) == m.ParseFromString(cut));
    }
  }
  // Bad wire types, overlong varints and lengths past the end.
  for (const std::string& bad : {std::string("\x3b"), std::string("\x0a\xff\xff\xff\xff\x0f"),
                                 std::string(11, '\x80'), std::string("\x3a\x05\x2a\x10")}) {
    CHECK_FALSE(SplitRawData(Bytes(bad)).has_value());
  }
}

}  // namespace
}  // namespace accel::core
