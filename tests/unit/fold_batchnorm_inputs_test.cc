// fold_batchnorm on initializers that are also graph inputs (overridable constants, as older
// exporters write every weight): they fold when only the Conv/BN reads them, the folded model
// computes what the unoptimized one does, and feeding a folded one is an error naming it.
#include <onnx/onnx_pb.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "accel/accel.h"
#include "core/model_impl.h"
#include "onnx_test_util.h"

namespace accel {
namespace {

using testing::IntsAttr;
using testing::SetTensorType;

// x[1,3,4,4] -> Conv(w, b) -> BN -> y, every weight an initializer listed as an input too.
testing::GraphBuilder ConvBn(bool share_scale) {
  testing::GraphBuilder b(9, /*seed=*/11);
  b.Input("x", {1, 3, 4, 4});
  std::vector<std::pair<std::string, std::vector<int64_t>>> weights = {
      {"w", {4, 3, 3, 3}}, {"b", {4}}, {"scale", {4}}, {"shift", {4}}, {"mean", {4}}};
  for (const auto& [name, dims] : weights) {
    b.Weight(name, dims);
    SetTensorType(b.m.mutable_graph()->add_input(), name, onnx::TensorProto::FLOAT,
                  std::vector<testing::Dim>(dims.begin(), dims.end()));
  }
  b.Weight("var", {4}, 0.2f, 2.0f);
  SetTensorType(b.m.mutable_graph()->add_input(), "var", onnx::TensorProto::FLOAT, {4});
  *b.Node("Conv", {"x", "w", "b"}, "c")->add_attribute() = IntsAttr("pads", {1, 1, 1, 1});
  b.Node("BatchNormalization", {"c", "scale", "shift", "mean", "var"}, "y");
  b.Output("y");
  if (share_scale) {
    // A second reader of "scale": overriding it must still reach both, so nothing folds.
    b.Node("Neg", {"scale"}, "neg_scale");
    b.Output("neg_scale");
  }
  return b;
}

Model Load(const testing::GraphBuilder& b, int level) { return b.Require(level); }

int FoldCount(const Model& model) {
  for (const core::PassReport& r : model.internal_impl().optimizer_report) {
    if (r.name == "fold_batchnorm") return r.rewrites;
  }
  return -1;
}

Tensor Filled(const Shape& shape, float v) {
  size_t count = 1;
  for (int64_t d : shape) count *= static_cast<size_t>(d);
  std::vector<float> data(count, v);
  Result<Tensor> t = Tensor::FromVector<float>(DType::kFloat32, shape, data);
  REQUIRE(t.ok());
  return *t;
}

Result<std::vector<NamedTensor>> Run(const Model& model, std::vector<NamedTensor> feeds) {
  Result<Session> session = Session::Create(model);
  REQUIRE(session.ok());
  return session->Run(feeds);
}

TEST_CASE("fold_batchnorm folds initializers listed as inputs and rejects feeding them") {
  testing::GraphBuilder b = ConvBn(/*share_scale=*/false);
  Model folded = Load(b, 1);
  CHECK(FoldCount(folded) == 1);
  Model plain = Load(b, 0);
  const NamedTensor x{"x", Filled({1, 3, 4, 4}, 0.7f)};

  Result<std::vector<NamedTensor>> want = Run(plain, {x});
  Result<std::vector<NamedTensor>> got = Run(folded, {x});
  REQUIRE(want.ok());
  REQUIRE(got.ok());
  std::span<const float> w = (*want)[0].tensor.values<float>();
  std::span<const float> g = (*got)[0].tensor.values<float>();
  REQUIRE(g.size() == w.size());
  for (size_t i = 0; i < g.size(); ++i)
    CHECK(std::abs(g[i] - w[i]) <= 1e-5f + 1e-4f * std::abs(w[i]));

  // Unoptimized, the weight stays overridable; folded, feeding it is an error naming it.
  const NamedTensor w_feed{"w", Filled({4, 3, 3, 3}, 0.0f)};
  CHECK(Run(plain, {x, w_feed}).ok());
  Result<std::vector<NamedTensor>> rejected = Run(folded, {x, w_feed});
  REQUIRE(!rejected.ok());
  CHECK(rejected.status().code() == StatusCode::kInvalidArgument);
  CHECK(rejected.status().message().find("'w'") != std::string::npos);
  CHECK(!Run(folded, {x, NamedTensor{"var", Filled({4}, 1.0f)}}).ok());
}

TEST_CASE("fold_batchnorm leaves an overridable BN parameter another node reads") {
  Model model = Load(ConvBn(/*share_scale=*/true), 1);
  CHECK(FoldCount(model) == 0);
}

}  // namespace
}  // namespace accel
