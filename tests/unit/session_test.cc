// Session-level behaviour on small hand-built ONNX models: input checking, errors naming the
// tensor and node, data-dependent index checks, thread option, outputs that alias constants,
// runs on another thread than the one that made the Session.
#include <onnx/onnx_pb.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <thread>
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

// Three 3x3 convolutions over 128 channels at 28x28 (resnet's layer2, where oneDNN's F(4x4, 3x3)
// Winograd kernel wins on this machine; it needs scratch memory), a 1x1 one and a max pool.
testing::GraphBuilder ScratchConvs() {
  testing::GraphBuilder b(13, 21);
  b.Input("x", {1, 128, 28, 28});
  std::string cur = "x";
  for (int i = 0; i < 3; ++i) {
    const std::string out = "c" + std::to_string(i);
    onnx::NodeProto* conv =
        b.Node("Conv", {cur, b.Weight(out + "_w", {128, 128, 3, 3}, -0.03f, 0.03f)}, out);
    *conv->add_attribute() = testing::IntsAttr("pads", {1, 1, 1, 1});
    cur = out;
  }
  b.Node("Conv", {cur, b.Weight("p_w", {8, 128, 1, 1}, -0.1f, 0.1f)}, "p");
  onnx::NodeProto* pool = b.Node("MaxPool", {"p"}, "y");
  *pool->add_attribute() = testing::IntsAttr("kernel_shape", {3, 3});
  *pool->add_attribute() = testing::IntsAttr("pads", {1, 1, 1, 1});
  b.Output("y");
  return b;
}

TEST_CASE("A Session made on one thread runs on others, one at a time", "[session]") {
  // oneDNN keeps its default scratch memory per creating thread: a run elsewhere crashed.
  const testing::GraphBuilder b = ScratchConvs();
  // Optimized (blocked layouts, Winograd) and not (plain layouts: im2col and pooling scratch).
  const int level = GENERATE(2, 0);
  const Model model = b.Require(level);
  std::vector<float> x(128 * 28 * 28);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 7919) % 200) / 100 - 1;
  const std::vector<NamedTensor> inputs = {
      {"x", Tensor::View(DType::kFloat32, Shape{1, 128, 28, 28}, x.data())}};
  auto values = [](const Result<std::vector<NamedTensor>>& out) {
    std::span<const float> v = (*out)[0].tensor.values<float>();
    return std::vector<float>(v.begin(), v.end());
  };
  // The reference: the unoptimized graph on this thread.
  Result<Session> reference = Session::Create(b.Require(0), {.num_threads = 1});
  REQUIRE(reference.ok());
  Result<std::vector<NamedTensor>> want_out = reference->Run(inputs);
  REQUIRE(want_out.ok());
  const std::vector<float> want = values(want_out);
  for (int threads : {1, 2}) {
    DYNAMIC_SECTION("level " << level << ", " << threads << " threads") {
      Result<Session> session = Session::Create(model, {.num_threads = threads});
      REQUIRE(session.ok());
      std::vector<float> got[2];
      for (std::vector<float>& g : got) {
        std::thread([&] {
          Result<std::vector<NamedTensor>> out = session->Run(inputs);
          if (out.ok()) g = values(out);
        }).join();
      }
      for (const std::vector<float>& g : got) {
        REQUIRE(g.size() == want.size());
        int bad = 0;
        for (size_t i = 0; i < g.size(); ++i) {
          if (!(std::abs(g[i] - want[i]) <= 1e-4f + 1e-4f * std::abs(want[i]))) ++bad;
        }
        CHECK(bad == 0);
      }
    }
  }
}

}  // namespace
}  // namespace accel
