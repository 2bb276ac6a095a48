// Transformer pattern passes (fuse_layernorm, fuse_attention, fuse_elementwise_chain): for each
// pattern a small model that contains it, checking that the pass fired (rewrites, nodes left,
// the fused op) and that the optimized run equals the unoptimized run (optimization_level 0,
// every op on its own reference kernel) within fp32 tolerance: |got - want| <= 1e-5 +
// 1e-4 * |want|. Negative cases check that near-misses stay unfused.
#include <onnx/onnx_pb.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "accel/accel.h"
#include "core/model_impl.h"
#include "onnx_test_util.h"

namespace accel {
namespace {

using testing::GraphBuilder;

// Runs the model at `level` on inputs drawn from [-3, 3] (the same draw at every level) and
// returns its outputs.
std::vector<float> RunModel(const GraphBuilder& b, int level) {
  return testing::RunOnRandomInputs(b.Require(level), 3, 3.0f);
}

void CheckSameAsUnoptimized(const GraphBuilder& b) {
  std::vector<float> want = RunModel(b, 0);
  std::vector<float> got = RunModel(b, 2);
  REQUIRE(got.size() == want.size());
  int bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const bool both_nan = std::isnan(got[i]) && std::isnan(want[i]);
    if (!both_nan && !(std::abs(got[i] - want[i]) <= 1e-5f + 1e-4f * std::abs(want[i]))) ++bad;
  }
  CHECK(bad == 0);
}

struct Fired {
  int rewrites = 0;     // of the pass asked for
  size_t nodes = 0;     // left in the optimized graph
  int fused_nodes = 0;  // of op accel.<op>
};

Fired Optimize(const GraphBuilder& b, const std::string& pass, const std::string& op) {
  Model model = b.Require(2);
  Fired fired;
  for (const core::PassReport& r : model.internal_impl().optimizer_report) {
    if (r.name == pass) fired.rewrites = r.rewrites;
  }
  const core::Graph& g = model.internal_impl().graph;
  fired.nodes = g.nodes.size();
  for (const core::Node& n : g.nodes) {
    if (n.domain == "accel" && n.op_type == op) ++fired.fused_nodes;
  }
  return fired;
}

// ---- LayerNorm

struct LayerNormOptions {
  bool gamma = true;
  bool beta = true;
  bool reciprocal = false;           // d * Reciprocal(s) instead of d / s
  bool square_mul = false;           // d * d instead of Pow(d, 2)
  int axes = 1;                      // trailing axes normalized
  std::vector<int64_t> reduce_axes;  // explicit axes (overrides `axes`)
  bool eps_input = false;            // eps fed as a graph input (not a constant)
  int opset = 13;
};

GraphBuilder LayerNormModel(const LayerNormOptions& o) {
  GraphBuilder b(o.opset, 7);
  const std::vector<int64_t> dims = {2, 5, 4, 24};
  b.Input("x", {2, 5, 4, 24});
  std::vector<int64_t> axes = o.reduce_axes;
  if (axes.empty()) {
    for (int i = 0; i < o.axes; ++i) axes.push_back(-1 - i);
  }
  auto reduce = [&](const std::string& in, const std::string& out) {
    onnx::NodeProto* n = b.Node("ReduceMean", {in}, out);
    if (o.opset >= 18) {
      n->add_input(b.Ints(out + "_axes", {static_cast<int64_t>(axes.size())}, axes));
    } else {
      *n->add_attribute() = testing::IntsAttr("axes", axes);
    }
  };
  reduce("x", "mean");
  b.Node("Sub", {"x", "mean"}, "d");
  if (o.square_mul) {
    b.Node("Mul", {"d", "d"}, "sq");
  } else {
    b.Node("Pow", {"d", b.Scalar("two", 2.0f)}, "sq");
  }
  reduce("sq", "var");
  if (o.eps_input) {
    b.Input("eps", {});
    b.Node("Add", {"var", "eps"}, "ve");
  } else {
    b.Node("Add", {b.Scalar("eps", 1e-5f), "var"}, "ve");
  }
  b.Node("Sqrt", {"ve"}, "s");
  std::string y = "n";
  if (o.reciprocal) {
    b.Node("Reciprocal", {"s"}, "rs");
    b.Node("Mul", {"rs", "d"}, "n");
  } else {
    b.Node("Div", {"d", "s"}, "n");
  }
  std::vector<int64_t> param(dims.end() - o.axes, dims.end());
  if (o.gamma) {
    b.Node("Mul", {y, b.Weight("gamma", param, 0.5f, 1.5f)}, "g");
    y = "g";
  }
  if (o.beta) b.Node("Add", {y, b.Weight("beta", param)}, "out");
  // The last node's result is the output.
  b.m.mutable_graph()->mutable_node(b.m.graph().node_size() - 1)->set_output(0, "out");
  b.Output("out");
  return b;
}

TEST_CASE("fuse_layernorm: the decomposed LayerNorm forms fuse into one node", "[fusion]") {
  struct Case {
    const char* name;
    LayerNormOptions options;
  };
  const Case cases[] = {
      {"opset 13 with gamma and beta", {}},
      {"no gamma, no beta", {.gamma = false, .beta = false}},
      {"gamma only", {.beta = false}},
      {"Mul by Reciprocal", {.reciprocal = true}},
      {"d * d as the square", {.square_mul = true}},
      {"two trailing axes", {.axes = 2}},
      {"opset 18 axes input", {.opset = 18}},
      {"opset 11", {.opset = 11}},
  };
  for (const Case& c : cases) {
    SECTION(c.name) {
      GraphBuilder b = LayerNormModel(c.options);
      Fired fired = Optimize(b, "fuse_layernorm", "LayerNormalization");
      CHECK(fired.rewrites == 1);
      CHECK(fired.fused_nodes == 1);
      CHECK(fired.nodes == 1);
      CheckSameAsUnoptimized(b);
    }
  }
}

TEST_CASE("fuse_layernorm: near misses stay unfused", "[fusion]") {
  SECTION("axes not trailing") {
    GraphBuilder b = LayerNormModel({.beta = false, .reduce_axes = {-2}});
    CHECK(Optimize(b, "fuse_layernorm", "LayerNormalization").rewrites == 0);
    CheckSameAsUnoptimized(b);
  }
  SECTION("eps not a constant") {
    GraphBuilder b = LayerNormModel({.eps_input = true});
    CHECK(Optimize(b, "fuse_layernorm", "LayerNormalization").rewrites == 0);
  }
  SECTION("the centered value is also a graph output") {
    GraphBuilder b = LayerNormModel({});
    b.Output("d");
    CHECK(Optimize(b, "fuse_layernorm", "LayerNormalization").rewrites == 0);
  }
}

TEST_CASE("fuse_layernorm: ONNX LayerNormalization moves to the float32 kernel", "[fusion]") {
  for (bool mean_used : {false, true}) {
    GraphBuilder b(17, 7);
    b.Input("x", {2, 5, 24});
    onnx::NodeProto* ln =
        b.Node("LayerNormalization",
               {"x", b.Weight("gamma", {24}, 0.5f, 1.5f), b.Weight("beta", {24})}, "out");
    *ln->add_attribute() = testing::IntAttr("axis", -1);
    if (mean_used) {
      ln->add_output("mean");
      b.Output("mean");
    }
    b.Output("out");
    Fired fired = Optimize(b, "fuse_layernorm", "LayerNormalization");
    CHECK(fired.rewrites == (mean_used ? 0 : 1));
    CHECK(fired.fused_nodes == (mean_used ? 0 : 1));
    CheckSameAsUnoptimized(b);
  }
}

// ---- Attention

struct AttentionOptions {
  bool q_scale = true;      // Div(Q, 4) before the first MatMul
  bool score_scale = true;  // Mul(S, 0.5) after it
  int mask = 1;             // 0 none, 1 input [2,1,1,n], 2 constant [8,8] with -inf (m = n = 8)
  int64_t softmax_axis = -1;
  int opset = 13;
  // Q [2,3,m,k], Kt [2,3,k,n], V [3,n,dv]. The default is small; larger sizes reach the
  // kernel's vector tiles (4 rows x 32 or 16 columns) and their leftovers.
  int64_t m = 8, k = 16, n = 8, dv = 12;
};

GraphBuilder AttentionModel(const AttentionOptions& o) {
  GraphBuilder b(o.opset, 11);
  b.Input("q", {2, 3, o.m, o.k});
  b.Input("kt", {2, 3, o.k, o.n});
  b.Input("v", {3, o.n, o.dv});  // broadcast over the batch dim
  std::string q = "q";
  if (o.q_scale) {
    b.Node("Div", {"q", b.Scalar("four", 4.0f)}, "qs");
    q = "qs";
  }
  b.Node("MatMul", {q, "kt"}, "s");
  std::string s = "s";
  if (o.score_scale) {
    b.Node("Mul", {b.Scalar("half", 0.5f), s}, "ss");
    s = "ss";
  }
  if (o.mask == 1) {
    b.Input("mask", {2, 1, 1, o.n});
    b.Node("Add", {s, "mask"}, "sm");
    s = "sm";
  } else if (o.mask == 2) {
    std::vector<float> mask(64, 0.0f);
    for (int r = 0; r < 8; ++r) {
      for (int c = r + 1; c < 8; ++c) mask[r * 8 + c] = -std::numeric_limits<float>::infinity();
    }
    *b.m.mutable_graph()->add_initializer() = testing::FloatTensor("causal", {8, 8}, mask);
    b.Node("Add", {"causal", s}, "sm");
    s = "sm";
  }
  onnx::NodeProto* softmax = b.Node("Softmax", {s}, "p");
  *softmax->add_attribute() = testing::IntAttr("axis", o.softmax_axis);
  b.Node("MatMul", {"p", "v"}, "out");
  b.Output("out");
  return b;
}

TEST_CASE("fuse_attention: MatMul [scale] [mask] Softmax MatMul fuses into one node", "[fusion]") {
  struct Case {
    const char* name;
    AttentionOptions options;
  };
  const Case cases[] = {
      {"both scales and an input mask", {}},
      {"no scale, no mask", {.q_scale = false, .score_scale = false, .mask = 0}},
      {"causal -inf constant mask", {.mask = 2}},
      {"opset 11 Softmax on the last axis", {.softmax_axis = 3, .opset = 11}},
      {"sizes off the vector tiles", {.m = 13, .k = 40, .n = 50, .dv = 37}},
      {"sizes on the vector tiles", {.mask = 0, .m = 16, .k = 64, .n = 64, .dv = 32}},
  };
  for (const Case& c : cases) {
    SECTION(c.name) {
      GraphBuilder b = AttentionModel(c.options);
      Fired fired = Optimize(b, "fuse_attention", "Attention");
      CHECK(fired.rewrites == 1);
      CHECK(fired.fused_nodes == 1);
      CHECK(fired.nodes == 1);
      CheckSameAsUnoptimized(b);
    }
  }
}

TEST_CASE("fuse_attention: near misses stay unfused", "[fusion]") {
  SECTION("Softmax not on the last axis") {
    GraphBuilder b = AttentionModel({.softmax_axis = -2});
    CHECK(Optimize(b, "fuse_attention", "Attention").rewrites == 0);
    CheckSameAsUnoptimized(b);
  }
  SECTION("opset 11 Softmax with its default axis 1 (flattens)") {
    GraphBuilder b(11, 11);
    b.Input("q", {2, 8, 16});
    b.Input("kt", {2, 16, 8});
    b.Input("v", {2, 8, 4});
    b.Node("MatMul", {"q", "kt"}, "s");
    b.Node("Softmax", {"s"}, "p");
    b.Node("MatMul", {"p", "v"}, "out");
    b.Output("out");
    CHECK(Optimize(b, "fuse_attention", "Attention").rewrites == 0);
  }
  SECTION("the scores are also a graph output") {
    GraphBuilder b = AttentionModel({});
    b.Output("s");
    CHECK(Optimize(b, "fuse_attention", "Attention").rewrites == 0);
  }
}

TEST_CASE("accel.Attention: a fully masked row gives NaN as unfused", "[fusion]") {
  GraphBuilder b(13, 5);
  b.Input("q", {1, 4, 8});
  b.Input("kt", {1, 8, 6});
  b.Input("v", {1, 6, 8});
  std::vector<float> mask(4 * 6, 0.0f);
  for (int c = 0; c < 6; ++c) mask[2 * 6 + c] = -std::numeric_limits<float>::infinity();
  *b.m.mutable_graph()->add_initializer() = testing::FloatTensor("mask", {4, 6}, mask);
  b.Node("MatMul", {"q", "kt"}, "s");
  b.Node("Add", {"s", "mask"}, "sm");
  onnx::NodeProto* softmax = b.Node("Softmax", {"sm"}, "p");
  *softmax->add_attribute() = testing::IntAttr("axis", -1);
  b.Node("MatMul", {"p", "v"}, "out");
  b.Output("out");
  CHECK(Optimize(b, "fuse_attention", "Attention").rewrites == 1);
  std::vector<float> got = RunModel(b, 2);
  REQUIRE(got.size() == 32);
  CHECK(std::isnan(got[2 * 8]));
  CHECK(!std::isnan(got[0]));
  CheckSameAsUnoptimized(b);
}

// ---- Elementwise chains

TEST_CASE("fuse_elementwise_chain: scalar and same-shape operands fuse into one pass", "[fusion]") {
  for (int64_t rows : {3, 128}) {  // 300 elements (a partial block); 12800 (many blocks)
    SECTION("rows " + std::to_string(rows)) {
      GraphBuilder b(13, 3);
      b.Input("x", {rows, 100});
      b.Input("z", {rows, 100});
      b.Node("Mul", {"x", b.Scalar("two", 2.0f)}, "a");
      b.Node("Add", {b.Scalar("one", 1.0f), "a"}, "c");
      b.Node("Sigmoid", {"c"}, "e");
      b.Node("Sub", {b.Scalar("onef", 1.0f), "e"}, "f");  // operand first
      b.Node("Div", {"f", "z"}, "g");                     // same-shape tensor
      b.Node("Pow", {"g", b.Scalar("sq", 2.0f)}, "h");
      b.Node("Sqrt", {"h"}, "i");
      b.Node("Div", {b.Scalar("three", 3.0f), "i"}, "j");
      b.Node("Tanh", {"j"}, "out");
      b.Output("out");
      Fired fired = Optimize(b, "fuse_elementwise_chain", "ElementwiseChain");
      CHECK(fired.rewrites == 1);
      CHECK(fired.fused_nodes == 1);
      CHECK(fired.nodes == 1);
      CheckSameAsUnoptimized(b);
    }
  }
  SECTION("a large input (the parallel path)") {
    GraphBuilder b(13, 3);
    b.Input("x", {64, 1024});
    b.Node("Abs", {"x"}, "a");
    b.Node("Log", {"a"}, "l");
    b.Node("Exp", {"l"}, "e");
    b.Node("Neg", {"e"}, "n");
    b.Node("Relu", {"n"}, "out");
    b.Output("out");
    CHECK(Optimize(b, "fuse_elementwise_chain", "ElementwiseChain").rewrites == 1);
    CheckSameAsUnoptimized(b);
  }
}

TEST_CASE("fuse_elementwise_chain: branches, broadcasts and 4-D data split or stop chains",
          "[fusion]") {
  SECTION("an intermediate with two readers ends the chain there") {
    GraphBuilder b(13, 3);
    b.Input("x", {4, 50});
    b.Node("Mul", {"x", b.Scalar("two", 2.0f)}, "a");
    b.Node("Add", {"a", b.Scalar("one", 1.0f)}, "c");  // c feeds two nodes
    b.Node("Exp", {"c"}, "e");
    b.Node("Neg", {"e"}, "f");
    b.Node("Sigmoid", {"c"}, "s");
    b.Node("Add", {"f", "s"}, "out");
    b.Output("out");
    Fired fired = Optimize(b, "fuse_elementwise_chain", "ElementwiseChain");
    // Mul+Add (ending at c), then Exp+Neg+Add(s) (s is a same-shape tensor operand).
    CHECK(fired.rewrites == 2);
    CHECK(fired.nodes == 3);
    CheckSameAsUnoptimized(b);
  }
  SECTION("a broadcasting operand is not part of the chain") {
    GraphBuilder b(13, 3);
    b.Input("x", {4, 50});
    b.Input("row", {50});
    b.Node("Add", {"x", "row"}, "a");
    b.Node("Mul", {"a", b.Scalar("two", 2.0f)}, "out");
    b.Output("out");
    CHECK(Optimize(b, "fuse_elementwise_chain", "ElementwiseChain").rewrites == 0);
  }
  SECTION("a tensor operand joins only when its shape surely equals the chain's") {
    for (bool same_symbol : {false, true}) {
      GraphBuilder b(13, 3);
      b.Input("x", {"n", 4});
      b.Input("z", {same_symbol ? "n" : "m", 4});  // "m" may be 1 at run time and broadcast
      b.Node("Mul", {"x", b.Scalar("two", 2.0f)}, "a");
      b.Node("Add", {"a", "z"}, "c");
      b.Node("Exp", {"c"}, "out");
      b.Output("out");
      CHECK(Optimize(b, "fuse_elementwise_chain", "ElementwiseChain").rewrites ==
            (same_symbol ? 1 : 0));
    }
  }
  SECTION("4-D activations are left to the layout pass") {
    GraphBuilder b(13, 3);
    b.Input("x", {1, 4, 6, 6});
    b.Node("Mul", {"x", b.Scalar("two", 2.0f)}, "a");
    b.Node("Add", {"a", b.Scalar("one", 1.0f)}, "out");
    b.Output("out");
    CHECK(Optimize(b, "fuse_elementwise_chain", "ElementwiseChain").rewrites == 0);
  }
}

}  // namespace
}  // namespace accel
