// The CPU shape / data-movement kernels on cases the ONNX node tests do not cover: run-time
// index errors, extreme Slice bounds, shape rules at load time with unknown values, dtype-agnostic
// copies and empty outputs. Expected values are worked out by hand from the ONNX spec (numpy
// semantics), never produced by libaccel.
#include <onnx/onnx_pb.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "accel/accel.h"
#include "onnx_test_util.h"

namespace accel {
namespace {

struct In {
  std::string name;
  int elem_type;
  std::vector<int64_t> dims;  // -1: symbolic
};

// One-node model: `inputs` are graph inputs, `consts` initializers (int64 1-D), one output.
struct NodeModel {
  std::string op;
  int opset = 13;
  std::vector<In> inputs;
  std::vector<std::pair<std::string, std::vector<int64_t>>> consts;
  std::vector<std::string> node_inputs;  // "" for an omitted optional input
  std::vector<std::string> outputs = {"y"};
  std::vector<onnx::AttributeProto> attrs;

  std::string Serialize() const {
    onnx::ModelProto m;
    m.set_ir_version(8);
    m.add_opset_import()->set_version(opset);
    auto* g = m.mutable_graph();
    g->set_name(op);
    auto* n = g->add_node();
    n->set_op_type(op);
    n->set_name("n");
    for (const std::string& s : node_inputs) n->add_input(s);
    for (const std::string& s : outputs) n->add_output(s);
    for (const auto& a : attrs) *n->add_attribute() = a;
    for (const In& in : inputs) {
      testing::SetTensorType(g->add_input(), in.name, in.elem_type, in.dims,
                             testing::SameSymbol("N"));
    }
    for (const auto& [name, values] : consts) {
      *g->add_initializer() =
          testing::Int64Tensor(name, {static_cast<int64_t>(values.size())}, values);
    }
    for (const std::string& s : outputs) g->add_output()->set_name(s);
    return m.SerializeAsString();
  }
};

using testing::IntAttr;
using testing::StringAttr;

Model Load(const NodeModel& nm) { return testing::RequireModel(nm.Serialize()); }

Result<std::vector<NamedTensor>> Run(const Model& model, std::vector<NamedTensor> inputs) {
  Result<Session> session = Session::Create(model);
  REQUIRE(session.ok());
  return session->Run(inputs);
}

template <typename T>
NamedTensor Input(const std::string& name, DType dtype, Shape shape, std::vector<T> values) {
  Result<Tensor> t = Tensor::FromVector<T>(dtype, std::move(shape), values);
  REQUIRE(t.ok());
  return {name, *t};
}

template <typename T>
std::vector<T> Values(const Tensor& t) {
  auto v = t.values<T>();
  return {v.begin(), v.end()};
}

TEST_CASE("Gather reports an out-of-range index with its value and limit", "[shape_ops]") {
  NodeModel nm{
      "Gather", 13, {{"x", onnx::TensorProto::FLOAT, {3}}, {"i", onnx::TensorProto::INT64, {2}}}};
  nm.node_inputs = {"x", "i"};
  Model model = Load(nm);
  auto x = Input<float>("x", DType::kFloat32, {3}, {1, 2, 3});
  SECTION("negative indices count from the end") {
    auto out = Run(model, {x, Input<int64_t>("i", DType::kInt64, {2}, {-1, 0})});
    REQUIRE(out.ok());
    CHECK(Values<float>(out->at(0).tensor) == std::vector<float>{3, 1});
  }
  SECTION("too large") {
    auto out = Run(model, {x, Input<int64_t>("i", DType::kInt64, {2}, {0, 3})});
    REQUIRE_FALSE(out.ok());
    CHECK(out.status().code() == StatusCode::kOutOfRange);
    CHECK_THAT(out.status().message(), Catch::Contains("3") && Catch::Contains("[-3, 3)"));
  }
  SECTION("too negative") {
    auto out = Run(model, {x, Input<int64_t>("i", DType::kInt64, {2}, {-4, 0})});
    REQUIRE_FALSE(out.ok());
    CHECK(out.status().code() == StatusCode::kOutOfRange);
  }
}

TEST_CASE("GatherElements, GatherND and ScatterND check their indices", "[shape_ops]") {
  auto data = Input<float>("x", DType::kFloat32, {2, 2}, {1, 2, 3, 4});
  SECTION("GatherElements") {
    NodeModel nm{
        "GatherElements",
        13,
        {{"x", onnx::TensorProto::FLOAT, {2, 2}}, {"i", onnx::TensorProto::INT64, {2, 2}}}};
    nm.node_inputs = {"x", "i"};
    nm.attrs = {IntAttr("axis", 1)};
    Model model = Load(nm);
    auto ok = Run(model, {data, Input<int64_t>("i", DType::kInt64, {2, 2}, {1, 0, -1, 1})});
    REQUIRE(ok.ok());
    CHECK(Values<float>(ok->at(0).tensor) == std::vector<float>{2, 1, 4, 4});
    auto bad = Run(model, {data, Input<int64_t>("i", DType::kInt64, {2, 2}, {0, 0, 2, 0})});
    CHECK(bad.status().code() == StatusCode::kOutOfRange);
  }
  SECTION("GatherND") {
    NodeModel nm{
        "GatherND",
        13,
        {{"x", onnx::TensorProto::FLOAT, {2, 2}}, {"i", onnx::TensorProto::INT64, {2, 2}}}};
    nm.node_inputs = {"x", "i"};
    Model model = Load(nm);
    auto ok = Run(model, {data, Input<int64_t>("i", DType::kInt64, {2, 2}, {1, 0, 0, -1})});
    REQUIRE(ok.ok());
    CHECK(Values<float>(ok->at(0).tensor) == std::vector<float>{3, 2});
    auto bad = Run(model, {data, Input<int64_t>("i", DType::kInt64, {2, 2}, {0, 0, 0, 5})});
    CHECK(bad.status().code() == StatusCode::kOutOfRange);
  }
  SECTION("ScatterND") {
    NodeModel nm{"ScatterND",
                 13,
                 {{"x", onnx::TensorProto::FLOAT, {2, 2}},
                  {"i", onnx::TensorProto::INT64, {1, 1}},
                  {"u", onnx::TensorProto::FLOAT, {1, 2}}}};
    nm.node_inputs = {"x", "i", "u"};
    Model model = Load(nm);
    auto u = Input<float>("u", DType::kFloat32, {1, 2}, {9, 8});
    auto ok = Run(model, {data, Input<int64_t>("i", DType::kInt64, {1, 1}, {-1}), u});
    REQUIRE(ok.ok());
    CHECK(Values<float>(ok->at(0).tensor) == std::vector<float>{1, 2, 9, 8});
    auto bad = Run(model, {data, Input<int64_t>("i", DType::kInt64, {1, 1}, {2}), u});
    CHECK(bad.status().code() == StatusCode::kOutOfRange);
  }
}

TEST_CASE("Slice clamps extreme bounds and walks backwards with negative steps", "[shape_ops]") {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  NodeModel nm{"Slice",
               13,
               {{"x", onnx::TensorProto::INT32, {-1}},
                {"starts", onnx::TensorProto::INT64, {1}},
                {"ends", onnx::TensorProto::INT64, {1}},
                {"steps", onnx::TensorProto::INT64, {1}}}};
  nm.node_inputs = {"x", "starts", "ends", "", "steps"};
  Model model = Load(nm);
  auto x = Input<int32_t>("x", DType::kInt32, {5}, {0, 1, 2, 3, 4});
  auto run = [&](int64_t start, int64_t end, int64_t step) {
    auto out = Run(model, {x, Input<int64_t>("starts", DType::kInt64, {1}, {start}),
                           Input<int64_t>("ends", DType::kInt64, {1}, {end}),
                           Input<int64_t>("steps", DType::kInt64, {1}, {step})});
    INFO(out.status().ToString());
    REQUIRE(out.ok());
    return Values<int32_t>(out->at(0).tensor);
  };
  // x[::-1], x[kMax:kMin:-2], x[-100:100:3], x[3:1], x[1:kMax]
  CHECK(run(-1, kMin, -1) == std::vector<int32_t>{4, 3, 2, 1, 0});
  CHECK(run(kMax, kMin, -2) == std::vector<int32_t>{4, 2, 0});
  CHECK(run(-100, 100, 3) == std::vector<int32_t>{0, 3});
  CHECK(run(3, 1, 1).empty());
  CHECK(run(1, kMax, 1) == std::vector<int32_t>{1, 2, 3, 4});
  // Steps longer than the axis pick one element (and must not overflow).
  CHECK(run(kMax, kMin, kMin) == std::vector<int32_t>{4});
  CHECK(run(0, kMax, kMax) == std::vector<int32_t>{0});
  auto zero_step = Run(model, {x, Input<int64_t>("starts", DType::kInt64, {1}, {0}),
                               Input<int64_t>("ends", DType::kInt64, {1}, {5}),
                               Input<int64_t>("steps", DType::kInt64, {1}, {0})});
  CHECK_FALSE(zero_step.ok());
}

TEST_CASE("Reshape's shape rule keeps what it knows at load time", "[shape_ops]") {
  SECTION("constant shape with 0 and -1 over a symbolic batch") {
    NodeModel nm{"Reshape", 13, {{"x", onnx::TensorProto::FLOAT, {-1, 2, 3}}}};
    nm.consts = {{"s", {0, -1}}};
    nm.node_inputs = {"x", "s"};
    Model model = Load(nm);
    REQUIRE(model.outputs()[0].has_shape);
    CHECK(model.outputs()[0].dims == std::vector<int64_t>{-1, -1});
    auto out =
        Run(model, {Input<float>("x", DType::kFloat32, {2, 2, 3}, std::vector<float>(12, 1.0f))});
    REQUIRE(out.ok());
    CHECK(out->at(0).tensor.shape() == Shape{2, 6});
  }
  SECTION("shape fed at run time: rank from the shape input's length") {
    NodeModel nm{"Reshape",
                 13,
                 {{"x", onnx::TensorProto::FLOAT, {4}}, {"s", onnx::TensorProto::INT64, {2}}}};
    nm.node_inputs = {"x", "s"};
    Model model = Load(nm);
    CHECK(model.outputs()[0].dims == std::vector<int64_t>{-1, -1});
    auto x = Input<float>("x", DType::kFloat32, {4}, {1, 2, 3, 4});
    auto out = Run(model, {x, Input<int64_t>("s", DType::kInt64, {2}, {-1, 2})});
    REQUIRE(out.ok());
    CHECK(out->at(0).tensor.shape() == Shape{2, 2});
    CHECK(Values<float>(out->at(0).tensor) == std::vector<float>{1, 2, 3, 4});
    auto bad = Run(model, {x, Input<int64_t>("s", DType::kInt64, {2}, {3, -1})});
    CHECK_FALSE(bad.ok());
  }
}

TEST_CASE("Transpose and Resize nearest work on any element size", "[shape_ops]") {
  SECTION("Transpose uint8 [2,3] -> [3,2]") {
    NodeModel nm{"Transpose", 13, {{"x", onnx::TensorProto::UINT8, {2, 3}}}};
    nm.node_inputs = {"x"};
    Model model = Load(nm);
    auto out = Run(model, {Input<uint8_t>("x", DType::kUInt8, {2, 3}, {1, 2, 3, 4, 5, 6})});
    REQUIRE(out.ok());
    CHECK(Values<uint8_t>(out->at(0).tensor) == std::vector<uint8_t>{1, 4, 2, 5, 3, 6});
  }
  SECTION("Resize int64 nearest x2 (asymmetric, floor) equals numpy.repeat") {
    NodeModel nm{"Resize", 13, {{"x", onnx::TensorProto::INT64, {1, 1, 2, 2}}}};
    nm.consts = {{"sizes", {1, 1, 4, 4}}};
    nm.node_inputs = {"x", "", "", "sizes"};
    nm.attrs = {StringAttr("coordinate_transformation_mode", "asymmetric"),
                StringAttr("nearest_mode", "floor")};
    Model model = Load(nm);
    CHECK(model.outputs()[0].dims == std::vector<int64_t>{1, 1, 4, 4});
    auto out = Run(model, {Input<int64_t>("x", DType::kInt64, {1, 1, 2, 2}, {1, 2, 3, 4})});
    REQUIRE(out.ok());
    CHECK(Values<int64_t>(out->at(0).tensor) ==
          std::vector<int64_t>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
  }
}

TEST_CASE("Data-dependent outputs can be empty", "[shape_ops]") {
  SECTION("NonZero of all zeros is [rank, 0]") {
    NodeModel nm{"NonZero", 13, {{"x", onnx::TensorProto::FLOAT, {2, 2}}}};
    nm.node_inputs = {"x"};
    Model model = Load(nm);
    auto out = Run(model, {Input<float>("x", DType::kFloat32, {2, 2}, {0, -0.0f, 0, 0})});
    REQUIRE(out.ok());
    CHECK(out->at(0).tensor.shape() == Shape{2, 0});
  }
  SECTION("NonMaxSuppression with no boxes gives [0, 3]") {
    NodeModel nm{
        "NonMaxSuppression",
        11,
        {{"b", onnx::TensorProto::FLOAT, {1, -1, 4}}, {"s", onnx::TensorProto::FLOAT, {1, 1, -1}}}};
    nm.consts = {{"m", {10}}};
    nm.node_inputs = {"b", "s", "m"};
    Model model = Load(nm);
    auto out = Run(model, {Input<float>("b", DType::kFloat32, {1, 0, 4}, {}),
                           Input<float>("s", DType::kFloat32, {1, 1, 0}, {})});
    REQUIRE(out.ok());
    CHECK(out->at(0).tensor.shape() == Shape{0, 3});
  }
}

TEST_CASE("Invalid shapes are errors, not crashes", "[shape_ops]") {
  SECTION("TopK with k larger than the axis") {
    NodeModel nm{
        "TopK", 11, {{"x", onnx::TensorProto::FLOAT, {3}}, {"k", onnx::TensorProto::INT64, {1}}}};
    nm.node_inputs = {"x", "k"};
    nm.outputs = {"v", "i"};
    Model model = Load(nm);
    auto out = Run(model, {Input<float>("x", DType::kFloat32, {3}, {1, 2, 3}),
                           Input<int64_t>("k", DType::kInt64, {1}, {4})});
    CHECK_FALSE(out.ok());
  }
  SECTION("Expand to an incompatible shape") {
    NodeModel nm{
        "Expand", 13, {{"x", onnx::TensorProto::FLOAT, {3}}, {"s", onnx::TensorProto::INT64, {1}}}};
    nm.node_inputs = {"x", "s"};
    Model model = Load(nm);
    auto out = Run(model, {Input<float>("x", DType::kFloat32, {3}, {1, 2, 3}),
                           Input<int64_t>("s", DType::kInt64, {1}, {2})});
    CHECK_FALSE(out.ok());
  }
  SECTION("Pad that would make a dimension negative") {
    NodeModel nm{
        "Pad", 13, {{"x", onnx::TensorProto::FLOAT, {2}}, {"p", onnx::TensorProto::INT64, {2}}}};
    nm.node_inputs = {"x", "p"};
    Model model = Load(nm);
    auto x = Input<float>("x", DType::kFloat32, {2}, {1, 2});
    auto bad = Run(model, {x, Input<int64_t>("p", DType::kInt64, {2}, {-2, -1})});
    CHECK_FALSE(bad.ok());
    auto crop = Run(model, {x, Input<int64_t>("p", DType::kInt64, {2}, {-1, 2})});
    REQUIRE(crop.ok());
    CHECK(Values<float>(crop->at(0).tensor) == std::vector<float>{2, 0, 0});
  }
}

}  // namespace
}  // namespace accel
