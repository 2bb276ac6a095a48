// Session profiling (SessionOptions::enable_profiling, Session::Profile): which nodes are
// reported, how often, under which fused name, and that the times are bounded by the measured
// wall time of the runs.
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "accel/accel.h"
#include "core/model_impl.h"
#include "onnx_test_util.h"

namespace accel {
namespace {

// x [1,4,6,6] -> Conv -> Relu -> Conv -> Add(residual) -> Relu -> Transpose -> out. At level 2
// the optimizer makes it Conv+Relu, Conv+Add+Relu, Transpose.
testing::GraphBuilder ResidualBlock() {
  testing::GraphBuilder b(/*opset=*/17, /*seed=*/7);
  b.Input("x", {1, 4, 6, 6});
  auto conv = [&b](const std::string& in, const std::string& out) {
    onnx::NodeProto* n =
        b.Node("Conv", {in, b.Weight(out + "_w", {4, 4, 3, 3}), b.Weight(out + "_b", {4})}, out);
    *n->add_attribute() = testing::IntsAttr("pads", {1, 1, 1, 1});
  };
  conv("x", "c1");
  b.Node("Relu", {"c1"}, "r1");
  conv("r1", "c2");
  b.Node("Add", {"c2", "r1"}, "sum");
  b.Node("Relu", {"sum"}, "r2");
  *b.Node("Transpose", {"r2"}, "out")->add_attribute() = testing::IntsAttr("perm", {0, 2, 3, 1});
  b.Output("out");
  return b;
}

Session RequireSession(const Model& model, bool profiling) {
  SessionOptions options;
  options.num_threads = 1;
  options.enable_profiling = profiling;
  Result<Session> session = Session::Create(model, options);
  INFO(session.status().ToString());
  REQUIRE(session.ok());
  return std::move(*session);
}

// Runs `count` times; returns the summed wall time of the Run calls in ms.
double RunTimes(Session& session, int count) {
  std::vector<float> x(1 * 4 * 6 * 6, 0.5f);
  std::vector<NamedTensor> inputs = {
      {"x", Tensor::View(DType::kFloat32, Shape{1, 4, 6, 6}, x.data())}};
  double total_ms = 0;
  for (int i = 0; i < count; ++i) {
    auto start = std::chrono::steady_clock::now();
    Result<std::vector<NamedTensor>> out = session.Run(inputs);
    total_ms +=
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    INFO(out.status().ToString());
    REQUIRE(out.ok());
  }
  return total_ms;
}

std::vector<std::string> OpTypes(const std::vector<NodeProfile>& profile) {
  std::vector<std::string> types;
  for (const NodeProfile& p : profile) types.push_back(p.op_type);
  return types;
}

TEST_CASE("Profiling reports every node once per run, within the runs' wall time", "[profile]") {
  Model model = ResidualBlock().Require(2);
  Session session = RequireSession(model, true);
  const double wall_ms = RunTimes(session, 3);
  std::vector<NodeProfile> profile = session.Profile();

  const core::Graph& g = model.internal_impl().graph;
  REQUIRE(profile.size() == g.nodes.size());
  std::set<std::string> names;
  double sum_ms = 0;
  for (size_t n = 0; n < profile.size(); ++n) {
    INFO(profile[n].node);
    CHECK(profile[n].node == g.nodes[n].name);
    CHECK(profile[n].runs == 3);
    CHECK(profile[n].total_ms >= 0);
    names.insert(profile[n].node);
    sum_ms += profile[n].total_ms;
  }
  CHECK(names.size() == profile.size());
  CHECK(sum_ms > 0);
  CHECK(sum_ms <= wall_ms);

  // What the optimizer fused shows in the op type; the Conv weights and bias are not fusions.
  std::vector<std::string> types = OpTypes(profile);
  CHECK(std::count(types.begin(), types.end(), "Conv+Relu") == 1);
  CHECK(std::count(types.begin(), types.end(), "Conv+Add+Relu") == 1);
  CHECK(std::count(types.begin(), types.end(), "Transpose") == 1);

  SECTION("ResetProfile starts the count again") {
    session.ResetProfile();
    CHECK(session.Profile().empty());
    RunTimes(session, 1);
    profile = session.Profile();
    REQUIRE(profile.size() == g.nodes.size());
    for (const NodeProfile& p : profile) CHECK(p.runs == 1);
  }
}

TEST_CASE("Profiling an unoptimized model shows plain op types and input shapes", "[profile]") {
  Model model = ResidualBlock().Require(0);
  Session session = RequireSession(model, true);
  RunTimes(session, 2);
  std::vector<NodeProfile> profile = session.Profile();
  CHECK(OpTypes(profile) ==
        std::vector<std::string>{"Conv", "Relu", "Conv", "Add", "Relu", "Transpose"});
  REQUIRE(!profile.empty());
  CHECK(profile[0].node == "c1_node");
  CHECK(profile[0].detail.rfind("1x4x6x6, 4x4x3x3, 4", 0) == 0);
  CHECK(profile[3].detail.rfind("1x4x6x6, 1x4x6x6", 0) == 0);
}

TEST_CASE("Unnamed nodes are reported by their index", "[profile]") {
  testing::OneNodeModel m("Relu", 17);
  m.node->clear_name();
  m.Input("x", onnx::TensorProto::FLOAT, {2, 3});
  m.Output("y");
  Result<Model> model = m.Load();
  REQUIRE(model.ok());
  Session session = RequireSession(*model, true);
  std::vector<float> x(6, -1.0f);
  std::vector<NamedTensor> inputs = {{"x", Tensor::View(DType::kFloat32, Shape{2, 3}, x.data())}};
  REQUIRE(session.Run(inputs).ok());
  std::vector<NodeProfile> profile = session.Profile();
  REQUIRE(profile.size() == 1);
  CHECK(profile[0].node == "#0");
  CHECK(profile[0].op_type == "Relu");
  CHECK(profile[0].detail.rfind("2x3", 0) == 0);
}

TEST_CASE("A oneDNN kernel names its implementation in the detail", "[profile]") {
  testing::OneNodeModel m("MatMul", 17);
  m.Input("a", onnx::TensorProto::FLOAT, {2, 3});
  m.Constant("b", {3, 4}, std::vector<float>(12, 0.25f));
  m.Output("y");
  Result<Model> model = m.Load();
  REQUIRE(model.ok());
  Session session = RequireSession(*model, true);
  std::vector<float> a(6, 1.0f);
  std::vector<NamedTensor> inputs = {{"a", Tensor::View(DType::kFloat32, Shape{2, 3}, a.data())}};
  REQUIRE(session.Run(inputs).ok());
  std::vector<NodeProfile> profile = session.Profile();
  REQUIRE(profile.size() == 1);
  INFO(profile[0].detail);
  const size_t bar = profile[0].detail.find(" | ");
  REQUIRE(bar != std::string::npos);
  CHECK(profile[0].detail.substr(0, bar) == "2x3, 3x4");
  CHECK(profile[0].detail.size() > bar + 3);
}

TEST_CASE("Without enable_profiling the profile stays empty", "[profile]") {
  Model model = ResidualBlock().Require(2);
  Session session = RequireSession(model, false);
  RunTimes(session, 2);
  CHECK(session.Profile().empty());
  session.ResetProfile();
  CHECK(session.Profile().empty());
}

}  // namespace
}  // namespace accel
