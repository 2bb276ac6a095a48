// Executor::Prepare. Kernel::Precompile: with two threads, the convolution kernels are set up on
// both threads before the warm-up; checks how many kernels it set up and that the outputs then
// equal the unoptimized single-threaded run within fp32 tolerance. The warm-up lets kernels skip
// their computation except where a data-dependent node reads the result.
#include <catch2/catch.hpp>
#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "accel/accel.h"
#include "core/executor.h"
#include "core/model_impl.h"
#include "onnx_test_util.h"

namespace accel {
namespace {

struct Builder : testing::GraphBuilder {
  Builder() : GraphBuilder(13, /*seed=*/11) {}
  void Conv(const std::string& x, int64_t in_c, int64_t out_c, int64_t k, int64_t group,
            const std::string& out) {
    onnx::NodeProto* node = Node(
        "Conv", {x, Weight(out + "_w", {out_c, in_c / group, k, k}), Weight(out + "_b", {out_c})},
        out + "_pre");
    *node->add_attribute() = testing::IntsAttr("pads", {k / 2, k / 2, k / 2, k / 2});
    *node->add_attribute() = testing::IntAttr("group", group);
    Node("Relu", {out + "_pre"}, out);
  }
};

// Four convolutions: a 3x3 one over 16 channels (a Winograd candidate, chosen by timing), a 1x1,
// a depthwise 3x3 and a final 1x1 to plain output.
Builder FourConvs() {
  Builder b;
  b.Input("x", {1, 16, 20, 20});
  b.Conv("x", 16, 32, 3, 1, "a");
  b.Conv("a", 32, 32, 1, 1, "b");
  b.Conv("b", 32, 32, 3, 32, "c");
  b.Conv("c", 32, 8, 1, 1, "out");
  b.Output("out");
  return b;
}

std::vector<float> Run(core::Executor& executor, const std::vector<float>& x) {
  std::vector<float> in = x;
  std::vector<NamedTensor> inputs = {
      {"x", Tensor::View(DType::kFloat32, Shape{1, 16, 20, 20}, in.data())}};
  std::vector<NamedTensor> outputs = {{"out", Tensor()}};
  Status status = executor.Run(inputs, outputs);
  INFO(status.ToString());
  REQUIRE(status.ok());
  std::span<const float> v = outputs[0].tensor.values<float>();
  return {v.begin(), v.end()};
}

TEST_CASE("Prepare sets up the conv kernels on all threads before the warm-up", "[session]") {
  const Builder b = FourConvs();
  const Model model = b.Require(2);
  auto impl = std::make_shared<const internal::ModelImpl>(model.internal_impl());
  const Shape shape = {1, 16, 20, 20};
  const Shape* shapes[] = {&shape};

  std::mt19937 rng(3);
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  std::vector<float> x(16 * 20 * 20);
  for (float& v : x) v = dist(rng);
  // The reference: the unoptimized graph (ONNX Conv and Relu nodes), one thread.
  Result<Session> reference = Session::Create(b.Require(0), {.num_threads = 1});
  REQUIRE(reference.ok());
  const std::vector<NamedTensor> feed = {{"x", Tensor::View(DType::kFloat32, shape, x.data())}};
  Result<std::vector<NamedTensor>> want_out = reference->Run(feed);
  REQUIRE(want_out.ok());
  std::span<const float> want = (*want_out)[0].tensor.values<float>();

  auto check = [&](core::Executor& executor) {
    std::vector<float> got = Run(executor, x);
    REQUIRE(got.size() == want.size());
    int bad = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      if (!(std::abs(got[i] - want[i]) <= 1e-4f + 1e-4f * std::abs(want[i]))) ++bad;
    }
    CHECK(bad == 0);
  };

  Result<std::unique_ptr<core::Executor>> one = core::Executor::Create(impl, {.num_threads = 1});
  REQUIRE(one.ok());
  REQUIRE((*one)->Prepare(shapes).ok());
  CHECK((*one)->precompiled_kernels() == 0);  // one thread: the warm-up does it all
  check(**one);

  // The Winograd candidate's choice was timed above at one thread; at two it is timed again, by
  // the warm-up, so Precompile sets up the other three. Then the choice is known.
  Result<std::unique_ptr<core::Executor>> two = core::Executor::Create(impl, {.num_threads = 2});
  REQUIRE(two.ok());
  REQUIRE((*two)->Prepare(shapes).ok());
  CHECK((*two)->precompiled_kernels() >= 3);  // 4 if another test timed that conv
  check(**two);

  Result<std::unique_ptr<core::Executor>> again = core::Executor::Create(impl, {.num_threads = 2});
  REQUIRE(again.ok());
  REQUIRE((*again)->Prepare(shapes).ok());
  CHECK((*again)->precompiled_kernels() == 4);
  check(**again);
}

TEST_CASE("The warm-up computes what a data-dependent node reads, and only that", "[session]") {
  testing::GraphBuilder b(13, 1);
  b.Input("x", {2, 3});
  b.Node("Relu", {"x"}, "r");
  b.Node("NonZero", {"r"}, "nz");  // its output shape depends on r's values
  b.Node("Neg", {"x"}, "y");
  b.Output("nz", onnx::TensorProto::INT64);
  b.Output("y");
  const Model model = b.Require(0);
  auto impl = std::make_shared<const internal::ModelImpl>(model.internal_impl());
  Result<std::unique_ptr<core::Executor>> ex = core::Executor::Create(impl, {.num_threads = 1});
  REQUIRE(ex.ok());
  const Shape shape = {2, 3};
  const Shape* shapes[] = {&shape};
  REQUIRE((*ex)->Prepare(shapes).ok());
  const memory::RunPlan& plan = *(*ex)->latest_plan();
  const core::Graph& g = impl->graph;
  int found = 0;
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    INFO(g.nodes[n].op_type);
    const std::string& op = g.nodes[n].op_type;
    found += op == "NonZero" || op == "Relu" || op == "Neg";
    if (op == "NonZero") CHECK(plan.mode[n] == memory::NodeMode::kDynamic);
    if (op == "Relu") CHECK(plan.feeds_dynamic[n] == 1);
    if (op == "Neg") CHECK(plan.feeds_dynamic[n] == 0);
  }
  CHECK(found == 3);
  // And the run reads the right values: NonZero of relu(x) with two positive entries.
  std::vector<float> x = {-1, 2, 0, 3, -4, 0};
  std::vector<NamedTensor> outputs = {{"nz", Tensor()}, {"y", Tensor()}};
  const std::vector<NamedTensor> inputs = {{"x", Tensor::View(DType::kFloat32, shape, x.data())}};
  REQUIRE((*ex)->Run(inputs, outputs).ok());
  CHECK(outputs[0].tensor.shape() == Shape{2, 2});
}

}  // namespace
}  // namespace accel
