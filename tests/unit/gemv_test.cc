// Gemm with a batch of one and B stored [N, K] (transB = 1), the classifier layer of most CNNs,
// which runs as a matrix-vector product: against a double-precision reference computed here.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <vector>

#include "accel/accel.h"
#include "onnx_test_util.h"

namespace accel {
namespace {

struct Case {
  int64_t n, k;
  float alpha, beta;
  std::vector<int64_t> c_dims;  // empty: no C
  bool relu;
};

TEST_CASE("Gemm of one row against B^T matches a double reference", "[gemv]") {
  const Case cases[] = {
      {1000, 1280, 1.0f, 1.0f, {1000}, false},  // a classifier: vectors and threads
      {37, 129, 0.5f, 2.0f, {1, 37}, false},    // odd sizes: the tail past the vectors
      {5, 3, 1.0f, 1.0f, {}, false},            // no C, k below one vector
      {64, 64, -1.5f, 0.25f, {1}, true},        // scalar C, fused Relu
  };
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (const Case& c : cases) {
    INFO("n " << c.n << " k " << c.k);
    testing::GraphBuilder b(13, 9);
    b.Input("a", {1, c.k});
    std::vector<float> w(static_cast<size_t>(c.n * c.k)), cv;
    for (float& v : w) v = dist(rng);
    *b.m.mutable_graph()->add_initializer() = testing::FloatTensor("w", {c.n, c.k}, w);
    std::vector<std::string> ins = {"a", "w"};
    if (!c.c_dims.empty()) {
      int64_t count = 1;
      for (int64_t d : c.c_dims) count *= d;
      cv.resize(static_cast<size_t>(count));
      for (float& v : cv) v = dist(rng);
      *b.m.mutable_graph()->add_initializer() = testing::FloatTensor("c", c.c_dims, cv);
      ins.push_back("c");
    }
    onnx::NodeProto* gemm = b.Node("Gemm", ins, c.relu ? "g" : "y");
    *gemm->add_attribute() = testing::IntAttr("transB", 1);
    *gemm->add_attribute() = testing::FloatAttr("alpha", c.alpha);
    *gemm->add_attribute() = testing::FloatAttr("beta", c.beta);
    if (c.relu) b.Node("Relu", {"g"}, "y");
    b.Output("y");
    for (int threads : {1, 2}) {
      Model model = b.Require(2);  // Relu fuses into the Gemm
      Result<Session> session = Session::Create(model, {.num_threads = threads});
      REQUIRE(session.ok());
      std::vector<float> a(static_cast<size_t>(c.k));
      for (float& v : a) v = dist(rng);
      std::vector<NamedTensor> inputs = {{"a", Tensor::View(DType::kFloat32, {1, c.k}, a.data())}};
      Result<std::vector<NamedTensor>> out = session->Run(inputs);
      INFO(out.status().ToString());
      REQUIRE(out.ok());
      std::span<const float> y = (*out)[0].tensor.values<float>();
      REQUIRE(y.size() == static_cast<size_t>(c.n));
      double worst = 0.0;
      for (int64_t j = 0; j < c.n; ++j) {
        double dot = 0.0, mag = 0.0;
        for (int64_t p = 0; p < c.k; ++p) {
          dot += double{a[p]} * w[j * c.k + p];
          mag += std::fabs(double{a[p]} * w[j * c.k + p]);
        }
        double want = c.alpha * dot;
        if (!cv.empty()) want += c.beta * cv[cv.size() == 1 ? 0 : j];
        if (c.relu) want = std::max(want, 0.0);
        // float32 accumulation over k terms: error relative to the sum of magnitudes.
        worst = std::max(worst, std::fabs(y[j] - want) / (std::fabs(c.alpha) * mag + 1.0));
      }
      CHECK(worst < 1e-6);
    }
  }
}

}  // namespace
}  // namespace accel
