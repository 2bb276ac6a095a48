// Session-level behaviour on small hand-built ONNX models: input checking, errors naming the
// tensor and node, data-dependent index checks, thread option, outputs that alias constants.
#include <onnx/onnx_pb.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "accel/accel.h"
#include "onnx_test_util.h"

namespace accel {
namespace {

using testing::AddNode;
using testing::RequireModel;
using testing::SameSymbol;
using testing::SetTensorType;

// y = Relu(x) with x float[N,3].
std::string ReluModel() {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  auto* g = m.mutable_graph();
  g->set_name("relu");
  AddNode(m, "relu1", "Relu", {"x"}, {"y"});
  SetTensorType(g->add_input(), "x", onnx::TensorProto::FLOAT, {-1, 3}, SameSymbol("N"));
  SetTensorType(g->add_output(), "y", onnx::TensorProto::FLOAT, {-1, 3}, SameSymbol("N"));
  return m.SerializeAsString();
}

// y = Gather(data, idx, axis=0) with data a float[3] initializer and idx int64[1] an input.
std::string GatherModel() {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  auto* g = m.mutable_graph();
  g->set_name("gather");
  *g->add_initializer() = testing::FloatTensor("data", {3}, {1.0f, 2.0f, 3.0f});
  AddNode(m, "pick", "Gather", {"data", "idx"}, {"y"});
  SetTensorType(g->add_input(), "idx", onnx::TensorProto::INT64, {1}, SameSymbol("N"));
  SetTensorType(g->add_output(), "y", onnx::TensorProto::FLOAT, {1}, SameSymbol("N"));
  return m.SerializeAsString();
}

TEST_CASE("Model metadata keeps symbolic dims", "[session]") {
  Model model = RequireModel(ReluModel());
  REQUIRE(model.inputs().size() == 1);
  CHECK(model.inputs()[0].name == "x");
  CHECK(model.inputs()[0].dtype == DType::kFloat32);
  CHECK(model.inputs()[0].dims == std::vector<int64_t>{-1, 3});
  CHECK(model.inputs()[0].dim_names[0] == "N");
}

TEST_CASE("Run computes with views and owning tensors and any batch size", "[session]") {
  Model model = RequireModel(ReluModel());
  Result<Session> session = Session::Create(model, {.num_threads = 1});
  REQUIRE(session.ok());
  CHECK(session->num_threads() == 1);
  for (int64_t batch : {1, 4, 2}) {
    std::vector<float> x(static_cast<size_t>(batch * 3));
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i) - 4.0f;
    std::vector<NamedTensor> inputs = {{"x", Tensor::View(DType::kFloat32, {batch, 3}, x.data())}};
    auto out = session->Run(inputs);
    INFO(out.status().ToString());
    REQUIRE(out.ok());
    REQUIRE(out->size() == 1);
    const Tensor& y = (*out)[0].tensor;
    CHECK(y.shape() == Shape{batch, 3});
    for (size_t i = 0; i < x.size(); ++i) CHECK(y.data_as<float>()[i] == std::max(x[i], 0.0f));
  }
}

TEST_CASE("Wrong inputs are reported by name, never crash", "[session]") {
  Model model = RequireModel(ReluModel());
  Session session = std::move(Session::Create(model).value());
  std::vector<float> x(6, 1.0f);
  std::vector<int32_t> xi(6, 1);

  std::vector<NamedTensor> wrong_name = {{"z", Tensor::View(DType::kFloat32, {2, 3}, x.data())}};
  auto r = session.Run(wrong_name);
  CHECK(r.status().code() == StatusCode::kInvalidArgument);
  CHECK(r.status().message().find("'z'") != std::string::npos);

  std::vector<NamedTensor> wrong_dtype = {{"x", Tensor::View(DType::kInt32, {2, 3}, xi.data())}};
  r = session.Run(wrong_dtype);
  CHECK(r.status().code() == StatusCode::kInvalidArgument);
  CHECK(r.status().message().find("int32") != std::string::npos);

  std::vector<NamedTensor> wrong_shape = {{"x", Tensor::View(DType::kFloat32, {3, 2}, x.data())}};
  r = session.Run(wrong_shape);
  CHECK(r.status().code() == StatusCode::kInvalidArgument);
  CHECK(r.status().message().find("[3,2]") != std::string::npos);

  r = session.Run(std::span<const NamedTensor>());
  CHECK(r.status().code() == StatusCode::kInvalidArgument);
  CHECK(r.status().message().find("missing input 'x'") != std::string::npos);

  std::vector<NamedTensor> twice = {{"x", Tensor::View(DType::kFloat32, {2, 3}, x.data())},
                                    {"x", Tensor::View(DType::kFloat32, {2, 3}, x.data())}};
  CHECK(session.Run(twice).status().code() == StatusCode::kInvalidArgument);

  std::vector<std::string> bad_output = {"nope"};
  std::vector<NamedTensor> good = {{"x", Tensor::View(DType::kFloat32, {2, 3}, x.data())}};
  CHECK(session.Run(good, bad_output).status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("A data-dependent index out of range is an error naming the node", "[session]") {
  Model model = RequireModel(GatherModel());
  Session session = std::move(Session::Create(model).value());
  std::vector<int64_t> idx = {2};
  std::vector<NamedTensor> ok_in = {{"idx", Tensor::View(DType::kInt64, {1}, idx.data())}};
  auto ok = session.Run(ok_in);
  REQUIRE(ok.ok());
  CHECK((*ok)[0].tensor.data_as<float>()[0] == 3.0f);

  for (int64_t bad : {int64_t{3}, int64_t{-4}, int64_t{1} << 40}) {
    idx[0] = bad;
    auto r = session.Run(ok_in);
    CHECK(r.status().code() == StatusCode::kOutOfRange);
    CHECK(r.status().message().find("'pick'") != std::string::npos);
  }
}

TEST_CASE("Feeding an initializer that is not a graph input is an unknown input", "[session]") {
  // "data" is a plain initializer: it was never overridable, so the error must not suggest
  // that a lower optimization level would make it feedable.
  for (int level : {0, 2}) {
    LoadOptions options;
    options.optimization_level = level;
    Model model = testing::RequireModel(GatherModel(), options);
    Session session = std::move(Session::Create(model).value());
    std::vector<int64_t> idx = {0};
    std::vector<float> data = {1, 2, 3};
    std::vector<NamedTensor> in = {{"idx", Tensor::View(DType::kInt64, {1}, idx.data())},
                                   {"data", Tensor::View(DType::kFloat32, {3}, data.data())}};
    auto r = session.Run(in);
    CHECK(r.status().code() == StatusCode::kInvalidArgument);
    CHECK(r.status().message().find("unknown input 'data'") != std::string::npos);
  }
}

TEST_CASE("Negative thread counts are rejected", "[session]") {
  Model model = RequireModel(ReluModel());
  CHECK(Session::Create(model, {.num_threads = -1}).status().code() ==
        StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace accel

namespace accel {
namespace {

TEST_CASE("An op version older than the kernel implements is refused naming op and opset",
          "[session]") {
  // Split-1 took its split sizes from an optional second input, which libaccel does not
  // implement; the model must be refused rather than run with the wrong semantics.
  onnx::ModelProto m;
  m.set_ir_version(3);
  m.add_opset_import()->set_version(1);
  auto* g = m.mutable_graph();
  g->set_name("old_split");
  auto* n = g->add_node();
  n->set_op_type("Split");
  n->add_input("a");
  n->add_output("y0");
  n->add_output("y1");
  SetTensorType(g->add_input(), "a", onnx::TensorProto::FLOAT, {4}, SameSymbol("N"));
  SetTensorType(g->add_output(), "y0", onnx::TensorProto::FLOAT, {2}, SameSymbol("N"));
  SetTensorType(g->add_output(), "y1", onnx::TensorProto::FLOAT, {2}, SameSymbol("N"));
  std::string bytes = m.SerializeAsString();
  Result<Model> model = Model::LoadFromBuffer(std::as_bytes(std::span(bytes)));
  CHECK(model.status().code() == StatusCode::kUnsupported);
  CHECK(model.status().message().find("Split") != std::string::npos);
  CHECK(model.status().message().find("opset 1") != std::string::npos);
}

}  // namespace
}  // namespace accel
