// Post-op fusion passes (fuse_matmul_bias, fuse_residual_add, fuse_activation,
// fuse_activation_add): for each pattern a
// small model that contains it, checking that the pass fired (rewrites and nodes left) and that the
// fused run equals the unoptimized run (optimization_level 0) within fp32 tolerance.
#include <onnx/onnx_pb.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "accel/accel.h"
#include "core/model_impl.h"
#include "onnx_test_util.h"

namespace accel {
namespace {

constexpr int kFloat = onnx::TensorProto::FLOAT;

// A model assembled node by node: float inputs, random float weights, scalar constants.
struct Builder : testing::GraphBuilder {
  explicit Builder(int opset) : GraphBuilder(opset, /*seed=*/42) {}
  // x [1,4,6,6] -> Conv 3x3 pad 1 with bias -> `out` [1,8,6,6].
  void Conv(const std::string& x, const std::string& out) {
    onnx::NodeProto* n =
        Node("Conv", {x, Weight(out + "_w", {8, 4, 3, 3}), Weight(out + "_b", {8})}, out);
    *n->add_attribute() = testing::IntsAttr("pads", {1, 1, 1, 1});
  }
};

// Runs the model on inputs drawn from [-3, 3] (every activation's interesting range) and
// returns its outputs.
std::vector<float> RunModel(const Builder& b, int level) {
  return testing::RunOnRandomInputs(b.Require(level), 3, 3.0f);
}

struct Fired {
  int bias = 0;
  int residual = 0;
  int activation = 0;
  int activation_add = 0;
  size_t nodes = 0;
};

Fired Optimize(const Builder& b) {
  Model model = testing::RequireModel(b.Bytes());  // the default level: every pass
  Fired fired;
  for (const core::PassReport& r : model.internal_impl().optimizer_report) {
    if (r.name == "fuse_matmul_bias") fired.bias = r.rewrites;
    if (r.name == "fuse_residual_add") fired.residual = r.rewrites;
    if (r.name == "fuse_activation") fired.activation = r.rewrites;
    if (r.name == "fuse_activation_add") fired.activation_add = r.rewrites;
  }
  // Reorder nodes of the layout pass are not fusion results.
  for (const core::Node& node : model.internal_impl().graph.nodes) {
    if (node.op_type != "Reorder") ++fired.nodes;
  }
  return fired;
}

// The level-2 run equals the level-0 run within fp32 tolerance.
void CheckSameAsUnoptimized(const Builder& b) {
  testing::CheckClose(RunModel(b, 2), RunModel(b, 0), 1e-5f, 1e-4f);
}

// Conv followed by one activation node `op` (with extra inputs/attributes from `extra`).
Builder ConvThen(const std::string& op, int opset,
                 const std::function<void(Builder&, onnx::NodeProto*)>& extra = {}) {
  Builder b(opset);
  b.Input("x", {1, 4, 6, 6});
  b.Conv("x", "y");
  onnx::NodeProto* act = b.Node(op, {"y"}, "out");
  if (extra) extra(b, act);
  b.Output("out");
  return b;
}

using testing::FloatAttr;

TEST_CASE("Conv + single activation ops fuse into the Conv", "[fusion]") {
  struct Case {
    const char* name;
    Builder model;
  };
  std::vector<Case> cases;
  cases.push_back({"Relu", ConvThen("Relu", 13)});
  cases.push_back({"Sigmoid", ConvThen("Sigmoid", 13)});
  cases.push_back({"Tanh", ConvThen("Tanh", 13)});
  cases.push_back({"HardSwish", ConvThen("HardSwish", 14)});
  cases.push_back({"LeakyRelu", ConvThen("LeakyRelu", 13, [](Builder&, onnx::NodeProto* n) {
                     *n->add_attribute() = FloatAttr("alpha", 0.07f);
                   })});
  cases.push_back({"LeakyRelu default", ConvThen("LeakyRelu", 13)});
  cases.push_back({"HardSigmoid", ConvThen("HardSigmoid", 13, [](Builder&, onnx::NodeProto* n) {
                     *n->add_attribute() = FloatAttr("alpha", 0.3f);
                     *n->add_attribute() = FloatAttr("beta", 0.4f);
                   })});
  cases.push_back({"Clip-13 as Relu6", ConvThen("Clip", 13, [](Builder& b, onnx::NodeProto* n) {
                     n->add_input(b.Scalar("lo", 0.0f));
                     n->add_input(b.Scalar("hi", 6.0f));
                   })});
  cases.push_back(
      {"Clip-13 with max only", ConvThen("Clip", 13, [](Builder& b, onnx::NodeProto* n) {
         n->add_input("");
         n->add_input(b.Scalar("hi", 0.5f));
       })});
  cases.push_back({"Clip-6 attributes", ConvThen("Clip", 6, [](Builder&, onnx::NodeProto* n) {
                     *n->add_attribute() = FloatAttr("min", -0.25f);
                     *n->add_attribute() = FloatAttr("max", 0.75f);
                   })});
  cases.push_back({"Gelu-20", ConvThen("Gelu", 20)});
  cases.push_back({"Gelu-20 tanh", ConvThen("Gelu", 20, [](Builder&, onnx::NodeProto* n) {
                     *n->add_attribute() = testing::StringAttr("approximate", "tanh");
                   })});
  for (const Case& c : cases) {
    SECTION(c.name) {
      Fired fired = Optimize(c.model);
      CHECK(fired.activation == 1);
      CHECK(fired.nodes == 1);
      CheckSameAsUnoptimized(c.model);
    }
  }
}

TEST_CASE("Conv + x * Sigmoid(x) fuses as SiLU in either operand order", "[fusion]") {
  for (bool swapped : {false, true}) {
    Builder b(13);
    b.Input("x", {1, 4, 6, 6});
    b.Conv("x", "y");
    b.Node("Sigmoid", {"y"}, "s");
    b.Node("Mul", swapped ? std::vector<std::string>{"s", "y"} : std::vector<std::string>{"y", "s"},
           "out");
    b.Output("out");
    Fired fired = Optimize(b);
    CHECK(fired.activation == 1);
    CHECK(fired.nodes == 1);
    CheckSameAsUnoptimized(b);
  }
}

TEST_CASE("Conv + the exported Erf forms of Gelu fuse", "[fusion]") {
  for (int form = 0; form < 4; ++form) {
    Builder b(13);
    b.Input("x", {1, 4, 6, 6});
    b.Conv("x", "y");
    if (form == 3) {
      b.Node("Mul", {"y", b.Scalar("inv_sqrt2", 0.70710678f)}, "d");
    } else {
      b.Node("Div", {"y", b.Scalar("sqrt2", 1.4142135f)}, "d");
    }
    b.Node("Erf", {"d"}, "e");
    b.Node("Add", {b.Scalar("one", 1.0f), "e"}, "a");
    if (form == 0 || form == 3) {  // (x * a) * 0.5
      b.Node("Mul", {"y", "a"}, "m");
      b.Node("Mul", {"m", b.Scalar("half", 0.5f)}, "out");
    } else if (form == 1) {  // x * (a * 0.5)
      b.Node("Mul", {"a", b.Scalar("half", 0.5f)}, "h");
      b.Node("Mul", {"y", "h"}, "out");
    } else {  // (x * 0.5) * a
      b.Node("Mul", {b.Scalar("half", 0.5f), "y"}, "h");
      b.Node("Mul", {"h", "a"}, "out");
    }
    b.Output("out");
    INFO("form " << form);
    Fired fired = Optimize(b);
    CHECK(fired.activation == 1);
    CHECK(fired.nodes == 1);
    CheckSameAsUnoptimized(b);
  }
}

TEST_CASE("Conv + residual Add + Relu becomes one node", "[fusion]") {
  for (bool conv_first : {true, false}) {
    Builder b(13);
    b.Input("x", {1, 4, 6, 6});
    b.Input("r", {1, 8, 6, 6});
    b.Conv("x", "y");
    b.Node("Add",
           conv_first ? std::vector<std::string>{"y", "r"} : std::vector<std::string>{"r", "y"},
           "sum");
    b.Node("Relu", {"sum"}, "out");
    b.Output("out");
    Fired fired = Optimize(b);
    CHECK(fired.residual == 1);
    CHECK(fired.activation == 1);
    CHECK(fired.nodes == 1);
    CheckSameAsUnoptimized(b);
  }
}

TEST_CASE("A residual block (two Convs into one Add) keeps its meaning", "[fusion]") {
  Builder b(13);
  b.Input("x", {1, 4, 6, 6});
  b.Conv("x", "c1");
  b.Node("Relu", {"c1"}, "r1");
  // Second branch: a 1x1 Conv of x as the shortcut.
  b.Node("Conv", {"x", b.Weight("sc_w", {8, 4, 1, 1}), b.Weight("sc_b", {8})}, "shortcut");
  b.Node("Add", {"r1", "shortcut"}, "sum");
  b.Node("Relu", {"sum"}, "out");
  b.Output("out");
  Fired fired = Optimize(b);
  CHECK(fired.residual == 1);
  CHECK(fired.activation == 2);
  CHECK(fired.nodes == 2);
  CheckSameAsUnoptimized(b);
}

TEST_CASE("Gemm and MatMul take activations and residual Adds", "[fusion]") {
  SECTION("Gemm with C + Add + Sigmoid") {
    Builder b(13);
    b.Input("a", {3, 5});
    b.Input("r", {3, 7});
    onnx::NodeProto* g = b.Node("Gemm", {"a", b.Weight("w", {7, 5}), b.Weight("c", {7})}, "y");
    *g->add_attribute() = testing::IntAttr("transB", 1);
    *g->add_attribute() = FloatAttr("alpha", 0.5f);
    *g->add_attribute() = FloatAttr("beta", 2.0f);
    b.Node("Add", {"y", "r"}, "sum");
    b.Node("Sigmoid", {"sum"}, "out");
    b.Output("out");
    Fired fired = Optimize(b);
    CHECK(fired.residual == 1);
    CHECK(fired.activation == 1);
    CHECK(fired.nodes == 1);
    CheckSameAsUnoptimized(b);
  }
  SECTION("Gemm without C + Add") {
    Builder b(13);
    b.Input("a", {3, 5});
    b.Input("r", {3, 7});
    b.Node("Gemm", {"a", b.Weight("w", {5, 7})}, "y");
    b.Node("Add", {"r", "y"}, "out");
    b.Output("out");
    Fired fired = Optimize(b);
    CHECK(fired.residual == 1);
    CHECK(fired.nodes == 1);
    CheckSameAsUnoptimized(b);
  }
  SECTION("batched MatMul + Add + Gelu-20 tanh") {
    Builder b(20);
    b.Input("a", {2, 3, 5});
    b.Input("r", {2, 3, 7});
    b.Node("MatMul", {"a", b.Weight("w", {5, 7})}, "y");
    b.Node("Add", {"y", "r"}, "sum");
    onnx::NodeProto* gelu = b.Node("Gelu", {"sum"}, "out");
    *gelu->add_attribute() = testing::StringAttr("approximate", "tanh");
    b.Output("out");
    Fired fired = Optimize(b);
    CHECK(fired.residual == 1);
    CHECK(fired.activation == 1);
    CHECK(fired.nodes == 1);
    CheckSameAsUnoptimized(b);
  }
}

TEST_CASE("MatMul + constant bias Add (+ Erf Gelu, + residual Add) fuses", "[fusion]") {
  for (bool bias_first : {false, true}) {
    Builder b(13);
    b.Input("x", {2, 3, 5});
    b.Input("r", {2, 3, 7});
    b.Node("MatMul", {"x", b.Weight("w", {5, 7})}, "y");
    const std::string bias = b.Weight("bias", {1, 7});
    b.Node("Add",
           bias_first ? std::vector<std::string>{bias, "y"} : std::vector<std::string>{"y", bias},
           "yb");
    b.Node("Add", {"yb", "r"}, "sum");
    b.Node("Div", {"sum", b.Scalar("sqrt2", 1.4142135f)}, "d");
    b.Node("Erf", {"d"}, "e");
    b.Node("Add", {"e", b.Scalar("one", 1.0f)}, "a");
    b.Node("Mul", {"sum", "a"}, "m");
    b.Node("Mul", {"m", b.Scalar("half", 0.5f)}, "out");
    b.Output("out");
    Fired fired = Optimize(b);
    CHECK(fired.bias == 1);
    CHECK(fired.residual == 1);
    CHECK(fired.activation == 1);
    CHECK(fired.nodes == 1);
    CheckSameAsUnoptimized(b);
  }
}

TEST_CASE("A bias Add along another axis is not fused", "[fusion]") {
  Builder b(13);
  b.Input("x", {2, 3, 5});
  b.Node("MatMul", {"x", b.Weight("w", {5, 7})}, "y");
  b.Node("Add", {"y", b.Weight("bias", {3, 1})}, "out");
  b.Output("out");
  Fired fired = Optimize(b);
  CHECK(fired.bias == 0);
  CHECK(fired.nodes == 2);
  CheckSameAsUnoptimized(b);
}

TEST_CASE("An Add after the fused activation joins as a sum after it", "[fusion]") {
  SECTION("Conv + SiLU + residual Add (YOLOX bottleneck)") {
    Builder b(13);
    b.Input("x", {1, 4, 6, 6});
    b.Input("r", {1, 8, 6, 6});
    b.Conv("x", "y");
    b.Node("Sigmoid", {"y"}, "s");
    b.Node("Mul", {"y", "s"}, "act");
    b.Node("Add", {"r", "act"}, "out");
    b.Output("out");
    Fired fired = Optimize(b);
    CHECK(fired.activation == 1);
    CHECK(fired.activation_add == 1);
    CHECK(fired.nodes == 1);
    CheckSameAsUnoptimized(b);
  }
  SECTION("MatMul + Relu + Add") {
    Builder b(13);
    b.Input("a", {2, 3, 5});
    b.Input("r", {2, 3, 7});
    b.Node("MatMul", {"a", b.Weight("w", {5, 7})}, "y");
    b.Node("Relu", {"y"}, "act");
    b.Node("Add", {"act", "r"}, "out");
    b.Output("out");
    Fired fired = Optimize(b);
    CHECK(fired.activation == 1);
    CHECK(fired.activation_add == 1);
    CHECK(fired.nodes == 1);
    CheckSameAsUnoptimized(b);
  }
  SECTION("not for Gemm") {
    Builder b(13);
    b.Input("a", {3, 5});
    b.Input("r", {3, 7});
    b.Node("Gemm", {"a", b.Weight("w", {5, 7})}, "y");
    b.Node("Relu", {"y"}, "act");
    b.Node("Add", {"act", "r"}, "out");
    b.Output("out");
    Fired fired = Optimize(b);
    CHECK(fired.activation == 1);
    CHECK(fired.activation_add == 0);
    CHECK(fired.nodes == 2);
    CheckSameAsUnoptimized(b);
  }
}

TEST_CASE("Patterns that are not exact are left alone", "[fusion]") {
  SECTION("the Conv output is also a graph output") {
    Builder b = ConvThen("Relu", 13);
    b.Output("y");
    Fired fired = Optimize(b);
    CHECK(fired.activation == 0);
    CHECK(fired.nodes == 2);
  }
  SECTION("a Clip bound fed at run time") {
    Builder b = ConvThen("Clip", 13, [](Builder& b, onnx::NodeProto* n) {
      n->add_input("lo");
      b.Input("lo", {});
    });
    Fired fired = Optimize(b);
    CHECK(fired.activation == 0);
  }
  SECTION("a broadcasting Add is no residual") {
    Builder b(13);
    b.Input("x", {1, 4, 6, 6});
    b.Input("r", {1, 8, 1, 1});
    b.Conv("x", "y");
    b.Node("Add", {"y", "r"}, "out");
    b.Output("out");
    Fired fired = Optimize(b);
    CHECK(fired.residual == 0);
    CheckSameAsUnoptimized(b);
  }
  SECTION("Erf form with a wrong constant") {
    Builder b(13);
    b.Input("x", {1, 4, 6, 6});
    b.Conv("x", "y");
    b.Node("Div", {"y", b.Scalar("sqrt2", 1.5f)}, "d");
    b.Node("Erf", {"d"}, "e");
    b.Node("Add", {"e", b.Scalar("one", 1.0f)}, "a");
    b.Node("Mul", {"y", "a"}, "m");
    b.Node("Mul", {"m", b.Scalar("half", 0.5f)}, "out");
    b.Output("out");
    Fired fired = Optimize(b);
    CHECK(fired.activation == 0);
    CHECK(fired.nodes == 6);
  }
  SECTION("x * Sigmoid(z) of another value") {
    Builder b(13);
    b.Input("x", {1, 4, 6, 6});
    b.Input("z", {1, 8, 6, 6});
    b.Conv("x", "y");
    b.Node("Sigmoid", {"z"}, "s");
    b.Node("Mul", {"y", "s"}, "out");
    b.Output("out");
    Fired fired = Optimize(b);
    CHECK(fired.activation == 0);
  }
}

}  // namespace
}  // namespace accel
