// merge_duplicate_nodes (core/passes/merge_duplicate_nodes.cc): nodes computing the same thing
// are merged. Each case checks how many nodes the pass merged and that the optimized model's
// outputs equal the unoptimized model's (optimization level 0, every node as written) exactly:
// merging changes no arithmetic.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "accel/accel.h"
#include "onnx_test_util.h"

namespace accel {
namespace {

// Merging changes no arithmetic: the outputs must be bit-identical.
void Check(const testing::GraphBuilder& g, int want) {
  testing::CheckPassAgainstUnoptimized(g, "merge_duplicate_nodes", want, 0.0f, 0.0f);
}

// `x[..., r::2, c::2]` as a row Slice and a column Slice, as exporters write it.
std::string SliceRowsCols(testing::GraphBuilder& g, const std::string& x, int64_t r, int64_t c,
                          const std::string& tag) {
  return g.SliceToEnd(g.SliceToEnd(x, "rows_" + tag, {r}, {2}, {2}), "cols_" + tag, {c}, {3}, {2});
}

TEST_CASE("Duplicate nodes are merged", "[optimizer][merge_duplicates]") {
  SECTION("YOLO's Focus stem slices each row set twice") {
    testing::GraphBuilder g(13, 1);
    g.Input("x", {1, 3, 8, 10});
    std::vector<std::string> parts = {
        SliceRowsCols(g, "x", 0, 0, "a"), SliceRowsCols(g, "x", 1, 0, "b"),
        SliceRowsCols(g, "x", 0, 1, "c"), SliceRowsCols(g, "x", 1, 1, "d")};
    onnx::NodeProto* concat = g.Node("Concat", parts, "y");
    *concat->add_attribute() = testing::IntAttr("axis", 1);
    g.Output("y");
    Check(g, 2);  // the row slices of "c" and "d" repeat those of "a" and "b"
  }
  SECTION("chains merge node after node") {
    testing::GraphBuilder g(13, 2);
    g.Input("x", {2, 5});
    const std::string w = g.Weight("w", {5, 4});
    g.Node("MatMul", {"x", w}, "m1");
    g.Node("MatMul", {"x", w}, "m2");
    g.Node("Relu", {"m1"}, "r1");
    g.Node("Relu", {"m2"}, "r2");
    g.Node("Sub", {"r1", "r2"}, "zero");
    g.Node("Add", {"zero", "m1"}, "y");
    g.Output("y");
    Check(g, 2);
  }
}

TEST_CASE("Nodes that differ are not merged", "[optimizer][merge_duplicates]") {
  SECTION("different attributes") {
    testing::GraphBuilder g(13, 3);
    g.Input("x", {4, 6});
    *g.Node("LeakyRelu", {"x"}, "a")->add_attribute() = testing::FloatAttr("alpha", 0.1f);
    *g.Node("LeakyRelu", {"x"}, "b")->add_attribute() = testing::FloatAttr("alpha", 0.2f);
    g.Node("Sub", {"a", "b"}, "y");
    g.Output("y");
    Check(g, 0);
  }
  SECTION("constant inputs with different contents") {
    testing::GraphBuilder g(13, 4);
    g.Input("x", {1, 3, 8, 10});
    std::vector<std::string> parts = {SliceRowsCols(g, "x", 0, 0, "a"),
                                      SliceRowsCols(g, "x", 1, 0, "b")};
    *g.Node("Concat", parts, "y")->add_attribute() = testing::IntAttr("axis", 1);
    g.Output("y");
    Check(g, 0);
  }
  SECTION("a duplicate the caller receives keeps its own node") {
    testing::GraphBuilder g(13, 5);
    g.Input("x", {3, 7});
    g.Node("Sigmoid", {"x"}, "a");
    g.Node("Sigmoid", {"x"}, "b");
    g.Output("a");
    g.Output("b");
    Check(g, 0);
  }
}

}  // namespace
}  // namespace accel
