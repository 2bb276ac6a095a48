// Steady-state runs allocate nothing: every heap allocation of the process (global operator new
// and the malloc family, replaced by the accel tool's alloc_counter.cc, which this binary
// links too) is counted during 100 runs with bound outputs. Allocations whose immediate caller lies
// in a runtime library are counted apart: oneDNN 2.6 allocates a few small blocks inside every
// primitive execution (its argument map), and libgomp allocates a team for every parallel region
// that runs on one thread (an `if` clause that is false still enters the runtime); no caller avoids
// either through their APIs.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "accel/accel.h"
#include "alloc_counter.h"
#include "onnx_test_util.h"

namespace accel {
namespace {

using testing::GraphBuilder;

struct AllocCount {
  long libaccel = 0;  // everything not called from libdnnl or libgomp
  long runtime_libs = 0;
};

// Runs `run` 100 times while counting allocations (zero counts in sanitizer builds).
template <typename F>
AllocCount Count100(F&& run) {
  cli::StartAllocCounting();
  for (int i = 0; i < 100; ++i) run();
  const cli::AllocCounts counts = cli::StopAllocCounting();
  return {counts.total - counts.runtime_libs, counts.runtime_libs};
}

std::vector<float> Ramp(size_t n) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>(static_cast<int>(i % 17) - 8) / 4.0f;
  return v;
}

TEST_CASE("Runs with bound outputs allocate nothing (elementwise chain and views)",
          "[memory][alloc]") {
  // x -> Relu -> Flatten -> Sigmoid -> Reshape -> Tanh -> y, all planned, two in place.
  GraphBuilder b(17, 1);
  b.Input("x", {2, 3, 4, 5});
  b.Node("Relu", {"x"}, "r");
  b.Node("Flatten", {"r"}, "f");
  b.Node("Sigmoid", {"f"}, "s");
  b.Node("Reshape", {"s", b.Ints("shape", {2}, {6, 20})}, "rs");
  b.Node("Tanh", {"rs"}, "y");
  b.Output("y");
  Model model = b.Require(0);
  Result<Session> session = Session::Create(model, {.num_threads = 1});
  REQUIRE(session.ok());
  CHECK(session->memory_info().prepared);
  CHECK(session->memory_info().dynamic_nodes == 0);

  std::vector<float> x = Ramp(120), y(120, 0.0f);
  std::vector<NamedTensor> inputs = {{"x", Tensor::View(DType::kFloat32, {2, 3, 4, 5}, x.data())}};
  std::vector<NamedTensor> outputs = {{"y", Tensor::View(DType::kFloat32, {6, 20}, y.data())}};
  REQUIRE(session->Run(inputs, outputs).ok());  // first run: kernels set up their state
  Status status;
  AllocCount count = Count100([&] { status = session->Run(inputs, outputs); });
  REQUIRE(status.ok());
  WARN("allocations per run inside libgomp/oneDNN: " << count.runtime_libs / 100.0);
  CHECK(count.libaccel == 0);
  for (size_t i = 0; i < x.size(); ++i) {
    const double expect = std::tanh(1.0 / (1.0 + std::exp(-std::max(0.0, double{x[i]}))));
    CHECK(y[i] == Approx(expect).margin(1e-6));
  }
  CHECK(outputs[0].tensor.data() == y.data());
}

// Direct convolution, 3x3, pad 1, stride 1, then Relu: the reference.
std::vector<float> ConvRelu(const std::vector<float>& x, const std::vector<float>& w, int64_t c,
                            int64_t m, int64_t h) {
  std::vector<float> y(m * h * h);
  for (int64_t o = 0; o < m; ++o) {
    for (int64_t i = 0; i < h; ++i) {
      for (int64_t j = 0; j < h; ++j) {
        double acc = 0;
        for (int64_t ci = 0; ci < c; ++ci) {
          for (int64_t ki = 0; ki < 3; ++ki) {
            for (int64_t kj = 0; kj < 3; ++kj) {
              const int64_t ii = i + ki - 1, jj = j + kj - 1;
              if (ii < 0 || jj < 0 || ii >= h || jj >= h) continue;
              acc += double{x[(ci * h + ii) * h + jj]} * w[((o * c + ci) * 3 + ki) * 3 + kj];
            }
          }
        }
        y[(o * h + i) * h + j] = static_cast<float>(std::max(0.0, acc));
      }
    }
  }
  return y;
}

TEST_CASE("A conv model with bound outputs allocates nothing in libaccel", "[memory][alloc]") {
  const int64_t c = 4, m = 8, h = 12;
  GraphBuilder b(17, 2);
  b.Input("x", {1, c, h, h});
  const std::string w = b.Weight("w", {m, c, 3, 3});
  onnx::NodeProto* conv = b.Node("Conv", {"x", w}, "conv");
  *conv->add_attribute() = testing::IntsAttr("pads", {1, 1, 1, 1});
  b.Node("Relu", {"conv"}, "y");
  b.Output("y");
  Model model = b.Require(2);
  Result<Session> session = Session::Create(model, {.num_threads = 1});
  REQUIRE(session.ok());

  std::vector<float> x = Ramp(c * h * h), y(m * h * h, 0.0f);
  std::vector<float> weights;
  for (const onnx::TensorProto& t : b.m.graph().initializer()) {
    if (t.name() == w) weights.assign(t.float_data().begin(), t.float_data().end());
  }
  std::vector<NamedTensor> inputs = {{"x", Tensor::View(DType::kFloat32, {1, c, h, h}, x.data())}};
  std::vector<NamedTensor> outputs = {{"y", Tensor::View(DType::kFloat32, {1, m, h, h}, y.data())}};
  REQUIRE(session->Run(inputs, outputs).ok());
  Status status;
  AllocCount count = Count100([&] { status = session->Run(inputs, outputs); });
  REQUIRE(status.ok());
  WARN("allocations per run: libaccel " << count.libaccel / 100.0 << ", inside libgomp/oneDNN "
                                        << count.runtime_libs / 100.0);
  CHECK(count.libaccel == 0);
  const std::vector<float> expect = ConvRelu(x, weights, c, m, h);
  for (size_t i = 0; i < expect.size(); ++i) CHECK(y[i] == Approx(expect[i]).margin(1e-4));
}

}  // namespace
}  // namespace accel
