// fuse_channel_scale (core/passes/fuse_channel_scale.cc) with the Conv kernel's per-channel input
// scale (backends/cpu/channel_scale.cc): a squeeze-excitation Mul folds into the weights of the
// 1x1 conv after it. Each case checks whether the pass fired and that the optimized run equals
// the unoptimized one (optimization level 0: every op as written) within fp32 tolerance, over
// several inputs through one Session, so a scale that leaks from one run into the next fails.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "accel/accel.h"
#include "core/model_impl.h"
#include "onnx_test_util.h"

namespace accel {
namespace {

struct Block {
  int64_t channels = 32;
  int64_t maps = 16;
  int64_t size = 8;
  int64_t batch = 1;
  int64_t kernel = 1;       // of the conv after the Mul
  bool scale_first = true;  // Mul(scale, x) as torchvision exports it, or Mul(x, scale)
  bool residual = false;    // the conv's output plus another input (Conv+Add)
};

// x -> GlobalAveragePool -> 1x1 Conv -> Sigmoid = scale; Mul(scale, x) -> Conv [-> Add r].
testing::GraphBuilder SqueezeExcite(const Block& b) {
  testing::GraphBuilder g(13, 5);
  g.Input("x", {b.batch, b.channels, b.size, b.size});
  g.Node("GlobalAveragePool", {"x"}, "pooled");
  g.Node(
      "Conv",
      {"pooled", g.Weight("fc_w", {b.channels, b.channels, 1, 1}), g.Weight("fc_b", {b.channels})},
      "logits");
  g.Node("Sigmoid", {"logits"}, "scale");
  g.Node("Mul",
         b.scale_first ? std::vector<std::string>{"scale", "x"}
                       : std::vector<std::string>{"x", "scale"},
         "scaled");
  onnx::NodeProto* conv = g.Node(
      "Conv",
      {"scaled", g.Weight("w", {b.maps, b.channels, b.kernel, b.kernel}), g.Weight("b", {b.maps})},
      "y");
  const int64_t pad = b.kernel / 2;
  *conv->add_attribute() = testing::IntsAttr("pads", {pad, pad, pad, pad});
  if (b.residual) {
    g.Input("r", {b.batch, b.maps, b.size, b.size});
    g.Node("Add", {"y", "r"}, "out");
    g.Output("out");
  } else {
    g.Output("y");
  }
  return g;
}

// The outputs of one Session over three different random inputs, concatenated.
std::vector<float> RunThreeInputs(const Model& model) {
  Result<Session> session = Session::Create(model);
  INFO(session.status().ToString());
  REQUIRE(session.ok());
  std::vector<float> all;
  for (unsigned seed = 1; seed <= 3; ++seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
    std::vector<std::vector<float>> buffers;
    std::vector<NamedTensor> inputs;
    for (const ValueInfo& info : model.inputs()) {
      std::vector<float>& data = buffers.emplace_back(ElementCount(info.dims));
      for (float& v : data) v = dist(rng);
      inputs.push_back({info.name, Tensor::View(DType::kFloat32, Shape(info.dims), data.data())});
    }
    Result<std::vector<NamedTensor>> out = session->Run(inputs);
    INFO(out.status().ToString());
    REQUIRE(out.ok());
    for (const NamedTensor& t : *out) {
      std::span<const float> v = t.tensor.values<float>();
      all.insert(all.end(), v.begin(), v.end());
    }
  }
  return all;
}

// Checks the pass folded `want` Muls and that the results match the unoptimized model.
void Check(const Block& b, int want) {
  const testing::GraphBuilder g = SqueezeExcite(b);
  const Model optimized = g.Require(2);
  CHECK(testing::PassRewrites(optimized, "fuse_channel_scale") == want);
  testing::CheckClose(RunThreeInputs(optimized), RunThreeInputs(g.Require(0)), 1e-5f, 1e-4f);
}

TEST_CASE("A squeeze-excitation Mul folds into the next 1x1 conv", "[fusion][channel_scale]") {
  SECTION("blocked channels") { Check({}, 1); }
  SECTION("scale as the second operand") { Check({.scale_first = false}, 1); }
  SECTION("channels that do not fill their blocks, with a residual") {
    Check({.channels = 24, .maps = 40, .residual = true}, 1);
  }
  SECTION("few channels, plain layout") { Check({.channels = 8, .maps = 8, .size = 6}, 1); }
}

TEST_CASE("A squeeze-excitation Mul stays where folding cannot apply or would not pay",
          "[fusion][channel_scale]") {
  SECTION("two images: one scale per image") { Check({.batch = 2}, 0); }
  SECTION("a 3x3 conv after the Mul") { Check({.kernel = 3}, 0); }
  SECTION("more weights than pixels") { Check({.channels = 16, .maps = 32, .size = 4}, 0); }
}

}  // namespace
}  // namespace accel
