// The layout pass (propagate_layouts): on graphs with the patterns it handles, checks which
// values it made channel-blocked, how many Reorder nodes it inserted, and that the outputs equal
// the unoptimized run (optimization_level 0) within fp32 tolerance. Channel counts that do not
// fill whole blocks of 16 (24, 40) exercise the padded last block.
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

struct Builder : testing::GraphBuilder {
  Builder() : GraphBuilder(13, /*seed=*/7) {}
  // Conv k x k, pad k/2, stride 1, with bias: `in_c` -> `out_c` channels.
  void Conv(const std::string& x, int64_t in_c, int64_t out_c, const std::string& out,
            int64_t k = 3, int64_t group = 1) {
    onnx::NodeProto* n = Node(
        "Conv", {x, Weight(out + "_w", {out_c, in_c / group, k, k}), Weight(out + "_b", {out_c})},
        out);
    *n->add_attribute() = testing::IntsAttr("pads", {k / 2, k / 2, k / 2, k / 2});
    *n->add_attribute() = testing::IntAttr("group", group);
  }
};

struct Plan {
  int blocked = 0;   // values in the blocked layout
  int reorders = 0;  // Reorder nodes
};

Plan PlanOf(const Model& model) {
  Plan plan;
  const core::Graph& g = model.internal_impl().graph;
  for (const core::Value& v : g.values) plan.blocked += v.layout == core::Layout::kBlocked;
  for (const core::Node& n : g.nodes) plan.reorders += n.op_type == "Reorder";
  return plan;
}

// Twice: the second run reuses the kernels' prepared primitives.
std::vector<float> Run(const Model& model) {
  return testing::RunOnRandomInputs(model, 11, 2.0f, 2);
}

// fp32 tolerance: blocked and plain kernels sum in different orders.
void CheckSameAsUnoptimized(const Builder& b) {
  std::vector<float> want = Run(b.Require(0));
  std::vector<float> got = Run(b.Require(2));
  REQUIRE(got.size() == want.size());
  int bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!(std::abs(got[i] - want[i]) <= 1e-4f + 1e-4f * std::abs(want[i]))) ++bad;
  }
  CHECK(bad == 0);
}

// oneDNN's implementation of each Conv node (profile detail, "... | jit:avx512_core"), in
// execution order, from one profiled run on `inputs`.
std::vector<std::string> ConvDetails(const Model& model, const std::vector<NamedTensor>& inputs) {
  SessionOptions options;
  options.num_threads = 1;
  options.enable_profiling = true;
  Result<Session> session = Session::Create(model, options);
  REQUIRE(session.ok());
  REQUIRE(session->Run(inputs).ok());
  std::vector<std::string> details;
  for (const NodeProfile& n : session->Profile()) {
    if (n.op_type.rfind("Conv", 0) == 0) details.push_back(n.detail);
  }
  return details;
}

TEST_CASE("Blocked layouts flow through a conv block with padded channels", "[layout]") {
  // image -> Conv(3->24) -> MaxPool -> Conv(24->24) + residual -> Relu -> Conv dw ->
  // Sigmoid -> GlobalAveragePool -> Flatten.
  Builder b;
  b.Input("x", {1, 3, 12, 12});
  b.Conv("x", 3, 24, "c1");
  onnx::NodeProto* pool = b.Node("MaxPool", {"c1"}, "p1");
  *pool->add_attribute() = testing::IntsAttr("kernel_shape", {2, 2});
  *pool->add_attribute() = testing::IntsAttr("strides", {2, 2});
  b.Conv("p1", 24, 24, "c2");
  b.Node("Add", {"c2", "p1"}, "r");
  b.Node("Relu", {"r"}, "a");
  b.Conv("a", 24, 24, "dw", 3, 24);
  b.Node("Sigmoid", {"dw"}, "s");
  b.Node("GlobalAveragePool", {"s"}, "g");
  b.Node("Flatten", {"g"}, "out");
  b.Output("out");
  Plan plan = PlanOf(b.Require(2));
  // Conv(3 channels, read plain)+... c1, p1, Conv+Add+Relu, dw Conv+Sigmoid and the global
  // pool's output are blocked; the only Reorder is before Flatten.
  CHECK(plan.blocked == 5);
  CHECK(plan.reorders == 1);
  CheckSameAsUnoptimized(b);
}

TEST_CASE("A squeeze-excitation block multiplies blocked data per channel", "[layout]") {
  Builder b;
  b.Input("x", {1, 40, 8, 8});
  b.Conv("x", 40, 40, "c1", 1);
  b.Node("GlobalAveragePool", {"c1"}, "g");
  b.Conv("g", 40, 8, "s1", 1);
  b.Node("Relu", {"s1"}, "s1r");
  b.Conv("s1r", 8, 40, "s2", 1);
  b.Node("HardSigmoid", {"s2"}, "gate");
  b.Node("Mul", {"c1", "gate"}, "m");
  b.Node("Mul", {"m", b.Scalar("k", 0.5f)}, "m2");
  b.Conv("m2", 40, 16, "out", 1);
  b.Output("out");
  Model model = b.Require(2);
  Plan plan = PlanOf(model);
  // x is reordered once; the gate [1,40,1,1] broadcasts over blocked c1 as it is; out is plain.
  CHECK(plan.reorders == 1);
  CHECK(plan.blocked == 7);
  CheckSameAsUnoptimized(b);
}

TEST_CASE("Channel Concat stays blocked: appending whole blocks or as a channel pick", "[layout]") {
  SECTION("16 + 24 channels: blocked") {
    Builder b;
    b.Input("x", {1, 8, 6, 6});
    b.Conv("x", 8, 16, "a");
    b.Conv("x", 8, 24, "c");
    onnx::NodeProto* cat = b.Node("Concat", {"a", "c"}, "cat");
    *cat->add_attribute() = testing::IntAttr("axis", -3);
    b.Conv("cat", 40, 8, "out");
    b.Output("out");
    Plan plan = PlanOf(b.Require(2));
    CHECK(plan.reorders == 0);  // x has less than a block of channels: read plain
    CheckSameAsUnoptimized(b);
  }
  SECTION("24 + 16 channels: a channel pick") {
    Builder b;
    b.Input("x", {1, 8, 6, 6});
    b.Conv("x", 8, 24, "a");
    b.Conv("x", 8, 16, "c");
    onnx::NodeProto* cat = b.Node("Concat", {"a", "c"}, "cat");
    *cat->add_attribute() = testing::IntAttr("axis", 1);
    b.Conv("cat", 40, 8, "out");
    b.Output("out");
    Model model = b.Require(2);
    CHECK(PlanOf(model).reorders == 0);
    int picks = 0;
    for (const core::Node& n : model.internal_impl().graph.nodes)
      picks += n.op_type == "ChannelPick";
    CHECK(picks == 1);
    CheckSameAsUnoptimized(b);
  }
}

TEST_CASE("Plain-only ops get plain data and disabling the pass inserts nothing", "[layout]") {
  Builder b;
  b.Input("x", {1, 8, 6, 6});
  b.Conv("x", 8, 16, "c");
  b.Node("Relu", {"c"}, "r");
  b.Node("Div", {"r", b.Scalar("two", 2.0f)}, "d");  // Div is plain-only
  b.Node("Exp", {"d"}, "e");
  b.Conv("e", 16, 16, "out");
  b.Output("out");
  Plan plan = PlanOf(b.Require(2));
  // Conv+Relu writes plain data for Div directly; x (8 channels) is read plain; only Exp's
  // output is reordered.
  CHECK(plan.reorders == 1);
  CheckSameAsUnoptimized(b);
  Plan off = PlanOf(b.Require(2, {"propagate_layouts"}));
  CHECK(off.blocked == 0);
  CHECK(off.reorders == 0);
}

TEST_CASE("Blocked pooling with a window only the plain loop handles runs on plain copies",
          "[layout]") {
  // count_include_pad windows that reach into the ceil_mode extension: oneDNN would count those
  // positions, ONNX does not, so the kernel takes its plain path on converted copies.
  Builder b;
  b.Input("x", {1, 24, 7, 7});
  b.Conv("x", 24, 24, "c");
  onnx::NodeProto* pool = b.Node("AveragePool", {"c"}, "p");
  *pool->add_attribute() = testing::IntsAttr("kernel_shape", {2, 2});
  *pool->add_attribute() = testing::IntsAttr("strides", {2, 2});
  *pool->add_attribute() = testing::IntAttr("ceil_mode", 1);
  *pool->add_attribute() = testing::IntAttr("count_include_pad", 1);
  b.Conv("p", 24, 16, "out");
  b.Output("out");
  Plan plan = PlanOf(b.Require(2));
  CHECK(plan.reorders == 1);  // x only: the pool's input and output stay blocked
  CheckSameAsUnoptimized(b);
}

TEST_CASE("Resize runs on blocked data: nearest directly, other modes on plain copies",
          "[layout]") {
  for (const char* mode : {"nearest", "linear"}) {
    DYNAMIC_SECTION(mode) {
      Builder b;
      b.Input("x", {1, 24, 5, 6});
      b.Conv("x", 24, 24, "c");
      *b.m.mutable_graph()->add_initializer() =
          testing::FloatTensor("scales", {4}, {1.0f, 1.0f, 2.0f, 2.0f});
      onnx::NodeProto* resize = b.Node("Resize", {"c", "", "scales"}, "up");
      *resize->add_attribute() = testing::StringAttr("mode", mode);
      b.Conv("up", 24, 16, "out");
      b.Output("out");
      Plan plan = PlanOf(b.Require(2));
      CHECK(plan.reorders == 1);  // x only: Conv, Resize and Conv stay blocked
      CheckSameAsUnoptimized(b);
    }
  }
}

TEST_CASE("A conv from blocked to plain data runs a jit kernel and reorders only its output",
          "[layout]") {
  // oneDNN has no jit kernel from blocked src to plain dst; the conv writes blocked dst and
  // converts it, instead of letting oneDNN convert both sides (to nhwc for its brgconv).
  for (const char* post : {"none", "Relu", "Add", "SiLU"}) {
    DYNAMIC_SECTION(post) {
      Builder b;
      b.Input("x", {1, 24, 6, 5});
      b.Input("skip", {1, 20, 6, 5});
      b.Conv("x", 24, 24, "c");
      b.Conv("c", 24, 20, "o", 1);
      const std::string p = post;
      if (p == "none") {
        b.Node("Identity", {"o"}, "out");
      } else if (p == "Relu") {
        b.Node("Relu", {"o"}, "out");
      } else if (p == "Add") {
        b.Node("Add", {"o", "skip"}, "out");
      } else {
        b.Node("Sigmoid", {"o"}, "sig");
        b.Node("Mul", {"o", "sig"}, "out");
      }
      b.Output("out");
      Model model = b.Require(2);
      CheckSameAsUnoptimized(b);
      std::vector<float> x(24 * 30, 0.5f), skip(20 * 30, 0.25f);
      const std::vector<std::string> convs = ConvDetails(
          model, {{"x", Tensor::View(DType::kFloat32, Shape{1, 24, 6, 5}, x.data())},
                  {"skip", Tensor::View(DType::kFloat32, Shape{1, 20, 6, 5}, skip.data())}});
      REQUIRE(!convs.empty());
      INFO(convs.back());
      CHECK(convs.back().find(" | jit") != std::string::npos);
    }
  }
}

TEST_CASE("Reorders of channel counts with a partial last block", "[layout]") {
  // Whole blocks go through oneDNN and the partial one through libaccel's loop, per image.
  for (int64_t channels : {12, 20, 36, 48}) {
    DYNAMIC_SECTION(channels << " channels") {
      Builder b;
      b.Input("x", {2, channels, 5, 7});
      // Conv -> Add stays blocked; the plain-only Div needs a reorder to plain, and the second
      // Conv (from 16 channels) reorders x and Div's output to blocked.
      b.Conv("x", channels, channels, "c");
      b.Node("Add", {"c", "c"}, "a");
      b.Node("Div", {"a", b.Scalar("two", 2.0f)}, "d");
      b.Conv("d", channels, channels, "c2");
      b.Node("Add", {"c2", "c2"}, "a2");
      b.Node("Div", {"a2", "two"}, "out");
      b.Output("out");
      CHECK(PlanOf(b.Require(2)).reorders == (channels >= 16 ? 4 : 2));
      CheckSameAsUnoptimized(b);
    }
  }
}

TEST_CASE("A conv on blocked data writes its plain output channels itself", "[layout]") {
  // A detection head: the conv reads blocked data and its output goes to a Transpose, which
  // needs plain data, so the conv converts its blocked result itself (LayoutCopy): 4, 6 or 12
  // channels in one partial block, 20 in a whole block and a partial one, 32 in whole blocks;
  // two images check the per-image offsets.
  for (int64_t channels : {4, 6, 12, 20, 32}) {
    DYNAMIC_SECTION(channels << " output channels") {
      Builder b;
      b.Input("x", {2, 16, 6, 9});
      b.Conv("x", 16, 32, "c");
      b.Node("Relu", {"c"}, "r");
      b.Conv("r", 32, channels, "h", 1);
      *b.Node("Transpose", {"h"}, "out")->add_attribute() = testing::IntsAttr("perm", {0, 2, 3, 1});
      b.Output("out");
      CHECK(PlanOf(b.Require(2)).reorders == 1);  // x to blocked; none after the head
      CheckSameAsUnoptimized(b);
    }
  }
}

TEST_CASE("A conv over fewer channels than a block reads them plain", "[layout]") {
  // An RFB branch (ultraface): 1x1 convs narrow blocked data to 8 channels, then 3x3 convs read
  // them. oneDNN's jit kernels read such inputs from plain NCHW only (blocked, it picks brgconv
  // with reorders, slow to create), so those values are plain: written by the 1x1 conv through
  // LayoutCopy, and by the 8 -> 12 conv (plain to plain) as blocked dst plus LayoutCopy.
  Builder b;
  b.Input("x", {2, 16, 10, 12});
  b.Conv("x", 16, 8, "n", 1);
  b.Conv("n", 8, 12, "m");
  b.Conv("m", 12, 16, "o");
  b.Conv("o", 16, 16, "out");
  b.Output("out");
  Model model = b.Require(2);
  const core::Graph& g = model.internal_impl().graph;
  for (const core::Value& v : g.values) {
    if (v.name == "n" || v.name == "m") CHECK(v.layout == core::Layout::kPlain);
    if (v.name == "o") CHECK(v.layout == core::Layout::kBlocked);
  }
  CHECK(PlanOf(model).reorders == 1);  // x to blocked; the last conv writes plain itself
  CheckSameAsUnoptimized(b);
  std::vector<float> x(2 * 16 * 10 * 12, 0.5f);
  const std::vector<std::string> convs =
      ConvDetails(model, {{"x", Tensor::View(DType::kFloat32, Shape{2, 16, 10, 12}, x.data())}});
  CHECK(convs.size() == 4);
  for (const std::string& detail : convs) {
    INFO(detail);
    CHECK(detail.find(" | jit") != std::string::npos);
  }
}

TEST_CASE("Conv weights computed from blocked data are read plain", "[layout]") {
  // Weights scaled per input channel by a vector computed from blocked activations (a
  // squeeze-excitation scale folded into the next conv): the Mul runs on blocked data, and the
  // conv must get its weights back in the plain layout.
  Builder b;
  b.Input("x", {1, 16, 6, 9});
  b.Conv("x", 16, 32, "c");
  b.Node("Relu", {"c"}, "r");
  b.Node("GlobalAveragePool", {"r"}, "s");
  b.Node("Mul", {b.Weight("w", {8, 32, 1, 1}), "s"}, "ws");
  b.Node("Conv", {"r", "ws"}, "out");
  b.Output("out");
  CheckSameAsUnoptimized(b);
}

TEST_CASE("A zero Pad before AveragePool folds into the pool's pads", "[layout]") {
  // PyTorch's AvgPool2d(3, 2, padding=1, count_include_pad=True) exports as Pad + AveragePool.
  struct Case {
    const char* name;
    std::vector<int64_t> pads;
    float value;
    const char* pool;
    bool folds;
  };
  const Case cases[] = {
      {"H and W zeros", {0, 0, 1, 1, 0, 0, 1, 2}, 0.0f, "AveragePool", true},
      {"a nonzero value", {0, 0, 1, 1, 0, 0, 1, 1}, 1.5f, "AveragePool", false},
      {"channel pads", {0, 1, 1, 1, 0, 0, 1, 1}, 0.0f, "AveragePool", false},
      {"pads as wide as the window", {0, 0, 3, 1, 0, 0, 1, 1}, 0.0f, "AveragePool", false},
      {"MaxPool", {0, 0, 1, 1, 0, 0, 1, 1}, 0.0f, "MaxPool", false},
  };
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.name) {
      Builder b;
      b.Input("x", {1, 16, 9, 8});
      b.Conv("x", 16, 20, "c");
      b.Node("Pad", {"c", b.Ints("pads", {8}, c.pads), b.Scalar("value", c.value)}, "padded");
      onnx::NodeProto* pool = b.Node(c.pool, {"padded"}, "p");
      *pool->add_attribute() = testing::IntsAttr("kernel_shape", {3, 3});
      *pool->add_attribute() = testing::IntsAttr("strides", {2, 2});
      b.Conv("p", c.pads[1] + 20 + c.pads[5], 8, "out");
      b.Output("out");
      Model model = b.Require(2);
      int pads = 0;
      for (const core::Node& n : model.internal_impl().graph.nodes) pads += n.op_type == "Pad";
      CHECK(pads == (c.folds ? 0 : 1));
      // Folded: only x is reordered; otherwise also the Pad's output (the conv writes plain data
      // for the Pad directly).
      CHECK(PlanOf(model).reorders == (c.folds ? 1 : 2));
      CheckSameAsUnoptimized(b);
    }
  }
}

}  // namespace
}  // namespace accel
