// The optimizer framework and its basic passes (eliminate_noops, constant_folding,
// dead_code_elimination, fold_batchnorm): for each pass a model containing its pattern, checking
// that the pass fired (its rewrite count and the nodes left) and that the optimized run equals
// the unoptimized one (optimization_level 0) within fp32 tolerance.
#include <onnx/onnx_pb.h>

#include <algorithm>
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

using testing::FloatTensor;
using testing::IntAttr;
using testing::IntsAttr;
using testing::SetTensorType;

constexpr int kFloat = onnx::TensorProto::FLOAT;

struct Builder : testing::GraphBuilder {
  explicit Builder(int opset = 13) : GraphBuilder(opset, /*seed=*/7) {}
  // BatchNormalization of x over `channels` with random constant parameters.
  void BatchNorm(const std::string& x, int64_t channels, const std::string& out) {
    Node("BatchNormalization",
         {x, Weight(out + "_scale", {channels}, 0.5f, 1.5f),
          Weight(out + "_shift", {channels}, -1.0f, 1.0f),
          Weight(out + "_mean", {channels}, -1.0f, 1.0f),
          Weight(out + "_var", {channels}, 0.2f, 2.0f)},
         out);
  }
};

Model Load(const Builder& b, int level, std::vector<std::string> disabled = {}) {
  return b.Require(level, std::move(disabled));
}

int Rewrites(const Model& model, const std::string& pass) {
  for (const core::PassReport& r : model.internal_impl().optimizer_report) {
    if (r.name == pass) return r.rewrites;
  }
  return -1;  // not run
}

size_t NodeCount(const Model& model) { return model.internal_impl().graph.nodes.size(); }

// Every output of the model on seeded inputs in [-2, 2].
std::vector<NamedTensor> RunModel(const Model& model) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  std::vector<NamedTensor> inputs;
  for (const ValueInfo& info : model.inputs()) {
    int64_t count = 1;
    for (int64_t d : info.dims) count *= d;
    std::vector<float> data(count);
    for (float& v : data) v = dist(rng);
    Result<Tensor> t = Tensor::FromVector<float>(DType::kFloat32, info.dims, data);
    REQUIRE(t.ok());
    inputs.push_back({info.name, *t});
  }
  Result<Session> session = Session::Create(model);
  INFO(session.status().ToString());
  REQUIRE(session.ok());
  Result<std::vector<NamedTensor>> out = session->Run(inputs);
  INFO(out.status().ToString());
  REQUIRE(out.ok());
  return *out;
}

// The model at `level` computes what it computes unoptimized, output by output (same names).
void CheckSameAsUnoptimized(const Builder& b, int level) {
  std::vector<NamedTensor> want = RunModel(Load(b, 0));
  std::vector<NamedTensor> got = RunModel(Load(b, level));
  REQUIRE(got.size() == want.size());
  for (size_t o = 0; o < got.size(); ++o) {
    INFO("output " << want[o].name);
    CHECK(got[o].name == want[o].name);
    REQUIRE(got[o].tensor.shape() == want[o].tensor.shape());
    std::span<const float> g = got[o].tensor.values<float>();
    std::span<const float> w = want[o].tensor.values<float>();
    int bad = 0;
    for (size_t i = 0; i < g.size(); ++i) {
      if (!(std::abs(g[i] - w[i]) <= 1e-5f + 1e-4f * std::abs(w[i]))) ++bad;
    }
    CHECK(bad == 0);
  }
}

TEST_CASE("Optimizer: level 0 runs no pass, unknown pass names and levels are errors") {
  Builder b;
  b.Input("x", {2, 3});
  b.Node("Identity", {"x"}, "i");
  b.Node("Relu", {"i"}, "y");
  b.Output("y");
  CHECK(Load(b, 0).internal_impl().optimizer_report.empty());
  CHECK(NodeCount(Load(b, 0)) == 2);
  CHECK(NodeCount(Load(b, 1)) == 1);
  CHECK(Rewrites(Load(b, 2, {"eliminate_noops"}), "eliminate_noops") == -1);
  CHECK(NodeCount(Load(b, 2, {"eliminate_noops"})) == 2);

  const std::string bytes = b.Bytes();
  LoadOptions bad_name;
  bad_name.disabled_passes = {"no_such_pass"};
  Result<Model> m = Model::LoadFromBuffer(std::as_bytes(std::span(bytes)), bad_name);
  REQUIRE_FALSE(m.ok());
  CHECK(m.status().code() == StatusCode::kInvalidArgument);
  CHECK_THAT(m.status().message(), Catch::Contains("no_such_pass"));
  LoadOptions bad_level;
  bad_level.optimization_level = 7;
  CHECK_FALSE(Model::LoadFromBuffer(std::as_bytes(std::span(bytes)), bad_level).ok());
}

TEST_CASE("eliminate_noops removes identity-like nodes and keeps graph output names") {
  Builder b;
  b.Input("x", {1, 4, 3, 3});
  b.Node("Identity", {"x"}, "a");
  *b.Node("Transpose", {"a"}, "t")->add_attribute() = IntsAttr("perm", {0, 1, 2, 3});
  *b.Node("Cast", {"t"}, "c")->add_attribute() = IntAttr("to", kFloat);
  b.Node("Reshape", {"c", b.Ints("shape", {4}, {1, 4, 3, 3})}, "r");
  b.Node("Pad", {"r", b.Ints("pads", {8}, {0, 0, 0, 0, 0, 0, 0, 0})}, "p");
  *b.Node("Concat", {"p"}, "k")->add_attribute() = IntAttr("axis", 1);
  b.Node("Relu", {"k"}, "relu");
  // A no-op producing a graph output: its producer takes over the output's name.
  b.Node("Dropout", {"relu"}, "y");
  b.Output("y");
  // A no-op between a graph input and a graph output stays (both names are the caller's).
  b.Input("x2", {2});
  b.Node("Identity", {"x2"}, "y2");
  b.Output("y2");

  Model model = Load(b, 1);
  CHECK(Rewrites(model, "eliminate_noops") == 7);
  REQUIRE(NodeCount(model) == 2);
  const core::Graph& g = model.internal_impl().graph;
  for (const core::Node& n : g.nodes) {
    const std::string& out = g.values[n.outputs[0]].name;
    CHECK(out == (n.op_type == "Relu" ? "y" : "y2"));
  }
  CheckSameAsUnoptimized(b, 1);
}

TEST_CASE("eliminate_noops keeps nodes that change something") {
  Builder b;
  b.Input("x", {2, 3});
  *b.Node("Transpose", {"x"}, "t")->add_attribute() = IntsAttr("perm", {1, 0});
  b.Node("Pad", {"t", b.Ints("pads", {4}, {0, 1, 0, 0})}, "p");
  b.Node("Reshape", {"p", b.Ints("shape", {1}, {-1})}, "y");
  b.Output("y");
  Model model = Load(b, 1);
  CHECK(Rewrites(model, "eliminate_noops") == 0);
  CHECK(NodeCount(model) == 3);
  CheckSameAsUnoptimized(b, 1);
}

TEST_CASE("constant_folding folds constant subgraphs and shape subgraphs of known shapes") {
  Builder b;
  b.Input("x", {2, 3, 4});
  // Shape -> Gather -> Concat -> Reshape: constant once x's static shape is known.
  b.Node("Shape", {"x"}, "s");
  *b.Node("Gather", {"s", b.Ints("i0", {1}, {0})}, "g")->add_attribute() = IntAttr("axis", 0);
  *b.Node("Concat", {"g", b.Ints("minus1", {1}, {-1})}, "shape")->add_attribute() =
      IntAttr("axis", 0);
  b.Node("Reshape", {"x", "shape"}, "r");
  // A constant-only chain.
  *b.m.mutable_graph()->add_initializer() = FloatTensor("two", {1}, {2.0f});
  b.Node("Mul", {b.Weight("a", {12}), "two"}, "a2");
  b.Node("Sqrt", {b.Weight("pos", {12}, 0.1f, 4.0f)}, "sq");
  b.Node("Add", {"a2", "sq"}, "bias");
  b.Node("Add", {"r", "bias"}, "y");
  b.Output("y");

  Model model = Load(b, 1);
  CHECK(Rewrites(model, "constant_folding") == 6);
  REQUIRE(NodeCount(model) == 2);
  CHECK(model.internal_impl().graph.nodes[0].op_type == "Reshape");
  CheckSameAsUnoptimized(b, 1);
}

TEST_CASE("constant_folding folds a shape subgraph over the output of a folded Reshape") {
  // Two blocks as exported by PyTorch's view(): the second Shape reads the first Reshape's
  // output, whose type is only known once the first subgraph has folded.
  Builder b;
  b.Input("x", {2, 3, 4});
  for (const std::string p : {"a", "b"}) {
    const std::string in = p == "a" ? "x" : "ra";
    b.Node("Shape", {in}, "s" + p);
    *b.Node("Gather", {"s" + p, b.Ints("i" + p, {1}, {0})}, "g" + p)->add_attribute() =
        IntAttr("axis", 0);
    *b.Node("Concat", {"g" + p, b.Ints("m" + p, {1}, {-1})}, "shape" + p)->add_attribute() =
        IntAttr("axis", 0);
    b.Node("Reshape", {in, "shape" + p}, "r" + p);
  }
  b.Node("Relu", {"rb"}, "y");
  b.Output("y");

  // Without eliminate_noops, which would drop the second (no-op) Reshape.
  Model model = Load(b, 1, {"eliminate_noops"});
  CHECK(Rewrites(model, "constant_folding") == 6);
  REQUIRE(NodeCount(model) == 3);  // two Reshapes and the Relu
  for (const core::Node& node : model.internal_impl().graph.nodes) CHECK(node.op_type != "Shape");
  CheckSameAsUnoptimized(b, 1);
}

TEST_CASE("constant_folding leaves overridable initializers, symbolic shapes and blow-ups") {
  Builder b;
  b.Input("x", {"N", 3});
  b.Node("Shape", {"x"}, "s");  // symbolic batch: not constant
  b.Output("s", onnx::TensorProto::INT64);
  // An initializer that is also a graph input may be fed: Neg of it must run.
  b.Weight("w", {3});
  SetTensorType(b.m.mutable_graph()->add_input(), "w", kFloat, {3});
  b.Node("Neg", {"w"}, "nw");
  b.Output("nw");
  // 64 MiB from a 16-byte input: not folded.
  onnx::NodeProto* big = b.Node("ConstantOfShape", {b.Ints("big_shape", {2}, {4096, 4096})}, "big");
  onnx::TensorProto value = FloatTensor("value", {1}, {1.0f});
  onnx::AttributeProto* attr = big->add_attribute();
  attr->set_name("value");
  attr->set_type(onnx::AttributeProto::TENSOR);
  *attr->mutable_t() = value;
  b.Node("ReduceSum", {"big"}, "sum");
  b.Output("sum");

  Model model = Load(b, 1);
  CHECK(Rewrites(model, "constant_folding") == 0);
  CHECK(NodeCount(model) == 4);
}

TEST_CASE("dead_code_elimination removes nodes that reach no output") {
  Builder b;
  b.Input("x", {2, 3});
  b.Node("Sigmoid", {"x"}, "dead1");
  b.Node("Tanh", {"dead1"}, "dead2");
  b.Node("Relu", {"x"}, "y");
  b.Output("y");
  Model model = Load(b, 1);
  CHECK(Rewrites(model, "dead_code_elimination") == 2);
  REQUIRE(NodeCount(model) == 1);
  CHECK(model.internal_impl().graph.nodes[0].op_type == "Relu");
  CheckSameAsUnoptimized(b, 1);
}

TEST_CASE("fold_batchnorm folds BN into Conv, grouped ConvTranspose, Gemm and MatMul") {
  Builder b;
  b.Input("x", {1, 4, 5, 5});
  // Conv without bias, 6 output channels.
  *b.Node("Conv", {"x", b.Weight("cw", {6, 4, 3, 3})}, "c")->add_attribute() =
      IntsAttr("pads", {1, 1, 1, 1});
  b.BatchNorm("c", 6, "y_conv");
  b.Output("y_conv");
  // ConvTranspose, group 2, with bias: weights [4, 3, 2, 2] -> 6 output channels.
  onnx::NodeProto* ct =
      b.Node("ConvTranspose", {"x", b.Weight("tw", {4, 3, 2, 2}), b.Weight("tb", {6})}, "ct");
  *ct->add_attribute() = IntAttr("group", 2);
  *ct->add_attribute() = IntsAttr("strides", {2, 2});
  b.BatchNorm("ct", 6, "y_convt");
  b.Output("y_convt");
  // Gemm with transB, alpha, beta and a [M] bias.
  b.Input("a", {3, 8});
  onnx::NodeProto* gemm = b.Node("Gemm", {"a", b.Weight("gw", {5, 8}), b.Weight("gc", {5})}, "gm");
  *gemm->add_attribute() = IntAttr("transB", 1);
  onnx::AttributeProto alpha;
  alpha.set_name("alpha");
  alpha.set_type(onnx::AttributeProto::FLOAT);
  alpha.set_f(0.5f);
  *gemm->add_attribute() = alpha;
  alpha.set_name("beta");
  alpha.set_f(2.0f);
  *gemm->add_attribute() = alpha;
  b.BatchNorm("gm", 5, "y_gemm");
  b.Output("y_gemm");
  // MatMul with constant [K, M] weights: BN over the last axis becomes an Add.
  b.Node("MatMul", {"a", b.Weight("mw", {8, 7})}, "mm");
  b.BatchNorm("mm", 7, "y_matmul");
  b.Output("y_matmul");

  Model model = Load(b, 1);
  CHECK(Rewrites(model, "fold_batchnorm") == 4);
  CHECK(NodeCount(model) == 5);  // Conv, ConvTranspose, Gemm, MatMul + Add
  for (const core::Node& n : model.internal_impl().graph.nodes) {
    CHECK(n.op_type != "BatchNormalization");
  }
  CheckSameAsUnoptimized(b, 1);
  CheckSameAsUnoptimized(b, 2);
}

// Moves every initializer into raw_data: with over 1 MiB of it, the importer copies the weights
// into its constant block, where fold_batchnorm may scale them in place.
void UseRawData(Builder& b) {
  for (onnx::TensorProto& t : *b.m.mutable_graph()->mutable_initializer()) {
    const std::vector<float> values(t.float_data().begin(), t.float_data().end());
    t.clear_float_data();
    t.set_raw_data(values.data(), values.size() * sizeof(float));
  }
}

// The names of the weights (input 1) of the nodes of the given op types, sorted.
std::vector<std::string> WeightNames(const Model& model, const std::vector<std::string>& ops) {
  const core::Graph& g = model.internal_impl().graph;
  std::vector<std::string> names;
  for (const core::Node& n : g.nodes) {
    if (std::ranges::count(ops, n.op_type)) names.push_back(g.values[n.inputs[1]].name);
  }
  std::ranges::sort(names);
  return names;
}

// Two `op` nodes over x, each followed by a BatchNorm over `channels`: the first with its own
// weights w1, the second with weights w2 that a third `op` node also reads (and must read
// unscaled). Weights in [-0.02, 0.02] keep the outputs well scaled.
Builder SharedWeightFolds(const std::string& op, const std::vector<testing::Dim>& x,
                          const std::vector<int64_t>& w, int64_t channels) {
  Builder b;
  b.Input("x", x);
  for (const std::string k : {"1", "2"}) {
    b.Node(op, {"x", b.Weight("w" + k, w, -0.02f, 0.02f)}, "p" + k);
    b.BatchNorm("p" + k, channels, "y" + k);
    b.Output("y" + k);
  }
  b.Node(op, {"x", "w2"}, "y3");
  b.Output("y3");
  UseRawData(b);
  return b;
}

TEST_CASE("fold_batchnorm scales in place only weights no other node reads") {
  Builder b = SharedWeightFolds("Conv", {1, 64, 6, 6}, {256, 64, 3, 3}, 256);
  Model model = Load(b, 1);
  CHECK(Rewrites(model, "fold_batchnorm") == 2);
  // w1 was scaled where it lay; w2 got a scaled copy.
  CHECK(WeightNames(model, {"Conv"}) == std::vector<std::string>{"w1", "w2", "w2_bnfold"});
  CheckSameAsUnoptimized(b, 1);
}

TEST_CASE("fold_batchnorm scales Gemm and MatMul weights in place only when no other node reads") {
  for (const std::string op : {"Gemm", "MatMul"}) {
    DYNAMIC_SECTION(op) {
      Builder b = SharedWeightFolds(op, {1, 512}, {512, 600}, 600);
      Model model = Load(b, 1);
      CHECK(Rewrites(model, "fold_batchnorm") == 2);
      CHECK(WeightNames(model, {"Gemm", "MatMul"}) ==
            std::vector<std::string>{"w1", "w2", "w2_bnfold"});
      CheckSameAsUnoptimized(b, 1);
    }
  }
}

TEST_CASE("fold_batchnorm leaves a BN whose input has another consumer") {
  Builder b;
  b.Input("x", {1, 4, 5, 5});
  b.Node("Conv", {"x", b.Weight("cw", {6, 4, 1, 1})}, "c");
  b.BatchNorm("c", 6, "y");
  b.Output("y");
  b.Node("Relu", {"c"}, "z");
  b.Output("z");
  Model model = Load(b, 1);
  CHECK(Rewrites(model, "fold_batchnorm") == 0);
  CHECK(NodeCount(model) == 3);
  CheckSameAsUnoptimized(b, 1);
}

}  // namespace
}  // namespace accel
