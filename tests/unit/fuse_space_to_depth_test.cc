// fuse_space_to_depth (core/passes/fuse_space_to_depth.cc) with accel.SpaceToDepth
// (backends/cpu/depth_space.cc): a channel Concat of step-b Slices of one image, YOLO's Focus
// stem, becomes one node. Each case checks whether the pass fired and that the optimized
// model's outputs equal the unoptimized model's (optimization level 0) exactly: both only move
// elements.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "accel/accel.h"
#include "onnx_test_util.h"

namespace accel {
namespace {

// Both only move elements: the outputs must be bit-identical.
void Check(const testing::GraphBuilder& g, int want) {
  testing::CheckPassAgainstUnoptimized(g, "fuse_space_to_depth", want, 0.0f, 0.0f);
}

struct Part {
  int64_t row;
  int64_t col;
};

// Concat(x[..., p.row::step, p.col::step] for p in parts) along `axis`, each part a row Slice
// then a column Slice, or one Slice over both axes.
testing::GraphBuilder Focus(std::vector<int64_t> dims, int64_t step, std::vector<Part> parts,
                            bool one_slice = false, int64_t axis = 1) {
  testing::GraphBuilder g(13, 1);
  g.Input("x", {dims[0], dims[1], dims[2], dims[3]});
  std::vector<std::string> picked;
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string tag = std::to_string(i);
    const Part& p = parts[i];
    picked.push_back(one_slice ? g.SliceToEnd("x", "rc" + tag, {p.row, p.col}, {2, 3}, {step, step})
                               : g.SliceToEnd(g.SliceToEnd("x", "r" + tag, {p.row}, {-2}, {step}),
                                              "c" + tag, {p.col}, {3}, {step}));
  }
  *g.Node("Concat", picked, "y")->add_attribute() = testing::IntAttr("axis", axis);
  g.Output("y");
  return g;
}

const std::vector<Part> kYoloFocus = {{0, 0}, {1, 0}, {0, 1}, {1, 1}};

TEST_CASE("Step-2 Slices into a channel Concat become one SpaceToDepth",
          "[fusion][space_to_depth]") {
  SECTION("YOLO's Focus stem") { Check(Focus({1, 3, 16, 20}, 2, kYoloFocus), 1); }
  SECTION("two images, one Slice per part") {
    Check(Focus({2, 3, 8, 6}, 2, kYoloFocus, /*one_slice=*/true), 1);
  }
  SECTION("step 3, some offsets, repeated, negative Concat axis") {
    Check(Focus({1, 5, 9, 12}, 3, {{2, 1}, {0, 2}, {2, 1}}, false, -3), 1);
  }
}

TEST_CASE("Slices that are not a whole-block pick stay", "[fusion][space_to_depth]") {
  SECTION("rows not divisible by the step") { Check(Focus({1, 3, 9, 8}, 2, {{0, 0}, {0, 1}}), 0); }
  SECTION("concatenated along the rows") { Check(Focus({1, 3, 8, 8}, 2, kYoloFocus, false, 2), 0); }
  SECTION("a row slice the caller also receives") {
    testing::GraphBuilder g = Focus({1, 3, 8, 8}, 2, kYoloFocus);
    g.Output("r0");
    Check(g, 0);
  }
  SECTION("parts of different images") {
    testing::GraphBuilder g(13, 2);
    g.Input("a", {1, 2, 8, 8});
    g.Input("b", {1, 2, 8, 8});
    std::vector<std::string> picked = {g.SliceToEnd("a", "pa", {0, 0}, {2, 3}, {2, 2}),
                                       g.SliceToEnd("b", "pb", {1, 1}, {2, 3}, {2, 2})};
    *g.Node("Concat", picked, "y")->add_attribute() = testing::IntAttr("axis", 1);
    g.Output("y");
    Check(g, 0);
  }
}

}  // namespace
}  // namespace accel
