// The channel shuffle and split as accel.ChannelPick (passes/channel_pick.cc, run by the layout
// pass): on graphs spelling the shuffle as torchvision's ShuffleNetV2 and FastestDet do, checks
// that the picks replaced it, how many Reorder nodes are left, and that the outputs equal the
// unoptimized run (optimization_level 0, which runs the ONNX Reshape/Transpose/Slice/Gather ops)
// within fp32 tolerance. Channel counts that do not fill whole blocks of 16 (20, 40, 6) exercise
// picks across padded blocks.
#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "accel/accel.h"
#include "alloc_counter.h"
#include "core/model_impl.h"
#include "onnx_test_util.h"

namespace accel {
namespace {

struct Builder : testing::GraphBuilder {
  Builder() : GraphBuilder(13, /*seed=*/5) {}
  // Conv 1x1 with bias and a fused-able Relu: `in_c` -> `out_c` channels.
  void Conv(const std::string& x, int64_t in_c, int64_t out_c, const std::string& out) {
    Node("Conv", {x, Weight(out + "_w", {out_c, in_c, 1, 1}), Weight(out + "_b", {out_c})},
         out + "_pre");
    Node("Relu", {out + "_pre"}, out);
  }
  void Concat(const std::vector<std::string>& ins, const std::string& out, int64_t axis = 1) {
    *Node("Concat", ins, out)->add_attribute() = testing::IntAttr("axis", axis);
  }
  void Transpose(const std::string& x, const std::vector<int64_t>& perm, const std::string& out) {
    *Node("Transpose", {x}, out)->add_attribute() = testing::IntsAttr("perm", perm);
  }
  void Reshape(const std::string& x, const std::vector<int64_t>& shape, const std::string& out) {
    Node("Reshape", {x, Ints(out + "_shape", {static_cast<int64_t>(shape.size())}, shape)}, out);
  }
  // torchvision's channel_shuffle with 2 groups of c/2 channels.
  void Shuffle(const std::string& x, int64_t n, int64_t c, int64_t h, int64_t w,
               const std::string& out) {
    Reshape(x, {n, 2, c / 2, h, w}, out + "_r");
    Transpose(out + "_r", {0, 2, 1, 3, 4}, out + "_t");
    Reshape(out + "_t", {n, c, h, w}, out);
  }
  void Slice(const std::string& x, int64_t begin, int64_t end, const std::string& out) {
    Node("Slice",
         {x, Ints(out + "_b", {1}, {begin}), Ints(out + "_e", {1}, {end}),
          Ints(out + "_a", {1}, {1})},
         out);
  }
};

struct Plan {
  int picks = 0;
  int reorders = 0;
  int shuffles = 0;  // Transpose, Slice, Gather and Concat nodes left
};

Plan PlanOf(const Model& model) {
  Plan plan;
  for (const core::Node& n : model.internal_impl().graph.nodes) {
    plan.picks += n.op_type == "ChannelPick";
    plan.reorders += n.op_type == "Reorder";
    plan.shuffles += n.op_type == "Transpose" || n.op_type == "Slice" || n.op_type == "Gather" ||
                     n.op_type == "Concat";
  }
  return plan;
}

void CheckSameAsUnoptimized(const Builder& b) {
  testing::CheckClose(testing::RunOnRandomInputs(b.Require(2), 3, 2.0f, 2),
                      testing::RunOnRandomInputs(b.Require(0), 3, 2.0f, 2), 1e-4f, 1e-4f);
}

TEST_CASE("ShuffleNetV2 blocks: shuffle and split become blocked channel picks", "[layout]") {
  // Two blocks: conv 20 + conv 20 -> shuffle -> split -> (half, conv) -> shuffle -> conv. The
  // picks are large enough to be split between threads (the default thread count).
  const int64_t n = GENERATE(1, 2);
  Builder b;
  b.Input("x", {n, 24, 15, 13});
  b.Conv("x", 24, 20, "a");
  b.Conv("x", 24, 20, "c");
  b.Concat({"a", "c"}, "cat1", -3);
  b.Shuffle("cat1", n, 40, 15, 13, "s1");
  b.Slice("s1", 0, 20, "left");
  b.Slice("s1", 20, 40, "right");
  b.Conv("right", 20, 20, "branch");
  b.Concat({"left", "branch"}, "cat2");
  b.Shuffle("cat2", n, 40, 15, 13, "s2");
  b.Conv("s2", 40, 8, "out");
  b.Output("out");
  Plan plan = PlanOf(b.Require(2));
  // Two halves of s1, all of s2. The only reorder is x's; the last conv writes plain output.
  CHECK(plan.picks == 3);
  CHECK(plan.shuffles == 0);
  CHECK(plan.reorders == 1);
  CheckSameAsUnoptimized(b);
}

TEST_CASE("FastestDet's shuffle (Reshape, Transpose of rows, Gather) becomes picks", "[layout]") {
  // x.reshape(n * c / 2, 2, h * w).permute(1, 0, 2).reshape(2, n, c / 2, h, w); x[0], x[1].
  const int64_t n = GENERATE(1, 2);
  Builder b;
  b.Input("x", {n, 16, 6, 6});
  b.Conv("x", 16, 12, "a");
  b.Conv("x", 16, 12, "c");
  b.Concat({"a", "c"}, "cat");
  b.Reshape("cat", {n * 12, 2, 36}, "r1");
  b.Transpose("r1", {1, 0, 2}, "t");
  b.Reshape("t", {2, n, 12, 6, 6}, "r2");
  b.Node("Gather", {"r2", b.Ints("i0", {}, {0})}, "even");
  b.Node("Gather", {"r2", b.Ints("i1", {}, {1})}, "odd");
  b.Conv("even", 12, 6, "e2");
  b.Node("Add", {"e2", "e2"}, "e3");
  b.Conv("odd", 12, 6, "o2");
  b.Concat({"e3", "o2"}, "out");
  b.Output("out");
  Plan plan = PlanOf(b.Require(2));
  // x in; the two halves out to the plain output Concat.
  CHECK(plan.picks == 2);
  CHECK(plan.shuffles == 1);
  CHECK(plan.reorders == 3);
  CheckSameAsUnoptimized(b);
}

TEST_CASE("Channel picks run on plain data and leave other transposes alone", "[layout]") {
  SECTION("a shuffle of a graph input into graph outputs stays plain") {
    Builder b;
    b.Input("x", {2, 6, 3, 4});
    b.Shuffle("x", 2, 6, 3, 4, "s");
    b.Slice("s", 0, 3, "left");
    b.Slice("s", 3, 6, "right");
    b.Output("left");
    b.Output("right");
    Plan plan = PlanOf(b.Require(2));
    CHECK(plan.picks == 2);
    CHECK(plan.reorders == 0);
    CheckSameAsUnoptimized(b);
  }
  SECTION("a spatial transpose is not a channel pick") {
    Builder b;
    b.Input("x", {1, 16, 4, 6});
    b.Conv("x", 16, 20, "a");
    b.Reshape("a", {1, 20, 4, 6}, "r");
    b.Transpose("r", {0, 1, 3, 2}, "t");
    b.Conv("t", 20, 4, "out");
    b.Output("out");
    Plan plan = PlanOf(b.Require(2));
    CHECK(plan.picks == 0);
    CheckSameAsUnoptimized(b);
  }
  SECTION("a shuffle of half planes is not a channel pick") {
    // Each channel's rows split in two halves that land in different output channels.
    Builder b;
    b.Input("x", {1, 8, 4, 4});
    b.Reshape("x", {1, 8, 2, 8}, "r");
    b.Transpose("r", {0, 2, 1, 3}, "t");
    b.Reshape("t", {1, 8, 4, 4}, "out");
    b.Output("out");
    Plan plan = PlanOf(b.Require(2));
    CHECK(plan.picks == 0);
    CheckSameAsUnoptimized(b);
  }
}

TEST_CASE("Channel picks and partial-block reorders allocate nothing per run", "[memory][alloc]") {
  // Two picks of a shuffle (split between threads at 2), a reorder of 20 channels to plain for
  // the plain-only Div and back to blocked for the last Conv.
  Builder b;
  b.Input("x", {1, 24, 15, 13});
  b.Conv("x", 24, 20, "a");
  b.Conv("x", 24, 20, "c");
  b.Concat({"a", "c"}, "cat");
  b.Shuffle("cat", 1, 40, 15, 13, "s");
  b.Slice("s", 0, 20, "left");
  b.Slice("s", 20, 40, "right");
  b.Node("Add", {"left", "right"}, "sum");
  b.Node("Div", {"sum", b.Scalar("two", 2.0f)}, "d");
  b.Conv("d", 20, 8, "out");
  b.Output("out");
  Model model = b.Require(2);
  CHECK(PlanOf(model).picks == 2);
  CHECK(PlanOf(model).reorders == 3);
  for (int threads : {1, 2}) {
    DYNAMIC_SECTION(threads << " threads") {
      Result<Session> session = Session::Create(model, {.num_threads = threads});
      REQUIRE(session.ok());
      std::vector<float> x(24 * 15 * 13, 0.5f), y(8 * 15 * 13);
      const std::vector<NamedTensor> inputs = {
          {"x", Tensor::View(DType::kFloat32, {1, 24, 15, 13}, x.data())}};
      std::vector<NamedTensor> outputs = {
          {"out", Tensor::View(DType::kFloat32, {1, 8, 15, 13}, y.data())}};
      REQUIRE(session->Run(inputs, outputs).ok());
      Status status;
      cli::StartAllocCounting();
      for (int i = 0; i < 100; ++i) status = session->Run(inputs, outputs);
      const cli::AllocCounts counts = cli::StopAllocCounting();
      REQUIRE(status.ok());
      CHECK(counts.total - counts.runtime_libs == 0);
    }
  }
}

}  // namespace
}  // namespace accel
