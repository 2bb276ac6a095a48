#include "core/graph.h"

#include <catch2/catch.hpp>

namespace accel::core {
namespace {

// Adds a node `name` of type Op reading `ins` and writing `outs` (value names).
void AddNode(Graph& g, const std::string& name, std::vector<std::string> ins,
             std::vector<std::string> outs) {
  Node n;
  n.name = name;
  n.op_type = "Op";
  for (const auto& i : ins) n.inputs.push_back(i.empty() ? kNoValue : g.GetOrAddValue(i));
  for (const auto& o : outs) n.outputs.push_back(g.GetOrAddValue(o));
  g.nodes.push_back(std::move(n));
}

std::vector<std::string> NodeNames(const Graph& g) {
  std::vector<std::string> names;
  for (const Node& n : g.nodes) names.push_back(n.name);
  return names;
}

TEST_CASE("SortTopologically orders producers before consumers, keeping file order", "[graph]") {
  Graph g;
  g.inputs.push_back(g.GetOrAddValue("x"));
  AddNode(g, "c", {"b1", "b2"}, {"y"});
  AddNode(g, "b2", {"a"}, {"b2"});
  AddNode(g, "a", {"x"}, {"a"});
  AddNode(g, "b1", {"a", ""}, {"b1"});
  g.outputs.push_back(g.FindValue("y"));
  REQUIRE(g.SortTopologically().ok());
  CHECK(NodeNames(g) == std::vector<std::string>{"a", "b2", "b1", "c"});
  CHECK(g.values[g.FindValue("y")].producer == 3);
}

TEST_CASE("SortTopologically reports a cycle naming a node", "[graph]") {
  Graph g;
  g.inputs.push_back(g.GetOrAddValue("x"));
  AddNode(g, "p", {"x", "q_out"}, {"p_out"});
  AddNode(g, "q", {"p_out"}, {"q_out"});
  g.outputs.push_back(g.FindValue("q_out"));
  Status s = g.SortTopologically();
  REQUIRE(s.code() == StatusCode::kInvalidModel);
  CHECK(s.message().find("cycle") != std::string::npos);
  CHECK(s.message().find("node 'p'") != std::string::npos);
}

TEST_CASE("SortTopologically rejects undefined inputs and double producers", "[graph]") {
  Graph undefined;
  undefined.inputs.push_back(undefined.GetOrAddValue("x"));
  AddNode(undefined, "n", {"ghost"}, {"y"});
  Status s = undefined.SortTopologically();
  CHECK(s.code() == StatusCode::kInvalidModel);
  CHECK(s.message().find("'ghost'") != std::string::npos);

  Graph twice;
  twice.inputs.push_back(twice.GetOrAddValue("x"));
  AddNode(twice, "n1", {"x"}, {"y"});
  AddNode(twice, "n2", {"x"}, {"y"});
  s = twice.SortTopologically();
  CHECK(s.code() == StatusCode::kInvalidModel);
  CHECK(s.message().find("already produced") != std::string::npos);
}

TEST_CASE("SortTopologically rejects an output nothing produces", "[graph]") {
  Graph g;
  g.inputs.push_back(g.GetOrAddValue("x"));
  AddNode(g, "n", {"x"}, {"y"});
  g.outputs.push_back(g.GetOrAddValue("z"));
  Status s = g.SortTopologically();
  CHECK(s.code() == StatusCode::kInvalidModel);
  CHECK(s.message().find("'z'") != std::string::npos);
}

}  // namespace
}  // namespace accel::core
