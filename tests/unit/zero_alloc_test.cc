// Steady-state runs allocate nothing: every heap allocation of the process (global operator new
// and the malloc family, replaced by the accel tool's alloc_counter.cc, which this binary
// links too) is counted during 100 runs with bound outputs. Allocations whose immediate caller lies
// in a runtime library are counted apart: oneDNN 2.6 allocates a few small blocks inside every
// primitive execution (its argument map), and libgomp allocates a team for every parallel region
// that runs on one thread (an `if` clause that is false still enters the runtime); no caller avoids
// either through their APIs.
#include <catch2/catch.hpp>
#include <cmath>
#include <span>
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

TEST_CASE("A Reshape of a fed input is re-pointed, not rebuilt, each run", "[memory][alloc]") {
  // x -> Reshape -> Unsqueeze -> Relu -> y: the two views of the caller's input.
  GraphBuilder b(13, 2);
  b.Input("x", {2, 6});
  b.Node("Reshape", {"x", b.Ints("shape", {2}, {3, 4})}, "rs");
  b.Node("Unsqueeze", {"rs", b.Ints("axes", {1}, {0})}, "u");
  b.Node("Relu", {"u"}, "y");
  b.Output("y");
  Model model = b.Require(0);
  Result<Session> session = Session::Create(model, {.num_threads = 1});
  REQUIRE(session.ok());
  std::vector<float> x1 = Ramp(12), x2(12), y(12, 0.0f);
  for (size_t i = 0; i < x2.size(); ++i) x2[i] = 1.0f - x1[i];
  std::vector<NamedTensor> outputs = {{"y", Tensor::View(DType::kFloat32, {1, 3, 4}, y.data())}};
  // Built once: the count covers Session::Run alone.
  const std::vector<NamedTensor> in1 = {{"x", Tensor::View(DType::kFloat32, {2, 6}, x1.data())}};
  const std::vector<NamedTensor> in2 = {{"x", Tensor::View(DType::kFloat32, {2, 6}, x2.data())}};
  REQUIRE(session->Run(in1, outputs).ok());
  Status status;
  // Alternating buffers: each run's views must follow the input it was given.
  AllocCount count =
      Count100([&, i = 0]() mutable { status = session->Run(++i % 2 ? in2 : in1, outputs); });
  REQUIRE(status.ok());
  CHECK(count.libaccel == 0);
  REQUIRE(session->Run(in2, outputs).ok());
  for (size_t i = 0; i < y.size(); ++i) CHECK(y[i] == std::max(0.0f, x2[i]));
  REQUIRE(session->Run(in1, outputs).ok());
  for (size_t i = 0; i < y.size(); ++i) CHECK(y[i] == std::max(0.0f, x1[i]));
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

// Runs `model` once (kernels plan for these shapes), then 100 times while counting; the outputs of
// every counted run must equal the first run's (plans and scratch kept by the kernels are reused,
// never stale). The ops' values themselves are checked by the ONNX conformance suite.
void CheckSteadyRunsAllocateNothing(const Model& model, const Shape& x_shape) {
  Result<Session> session = Session::Create(model, {.num_threads = 1});
  REQUIRE(session.ok());
  CHECK(session->memory_info().dynamic_nodes == 0);
  std::vector<float> x = Ramp(static_cast<size_t>(ElementCount(x_shape)));
  for (size_t i = 0; i < x.size(); ++i) x[i] += 0.01f * static_cast<float>(i % 7);
  std::vector<NamedTensor> inputs = {{"x", Tensor::View(DType::kFloat32, x_shape, x.data())}};
  Result<std::vector<NamedTensor>> first = session->Run(inputs);
  REQUIRE(first.ok());
  std::vector<std::vector<float>> buffers;
  std::vector<NamedTensor> outputs;
  for (const NamedTensor& out : *first) {
    REQUIRE(out.tensor.dtype() == DType::kFloat32);
    buffers.emplace_back(static_cast<size_t>(out.tensor.element_count()), -1.0f);
  }
  for (size_t i = 0; i < first->size(); ++i) {
    const Tensor& t = (*first)[i].tensor;
    outputs.push_back({(*first)[i].name, Tensor::View(t.dtype(), t.shape(), buffers[i].data())});
  }
  REQUIRE(session->Run(inputs, outputs).ok());
  Status status;
  AllocCount count = Count100([&] { status = session->Run(inputs, outputs); });
  REQUIRE(status.ok());
  WARN("allocations per run inside libgomp/oneDNN: " << count.runtime_libs / 100.0);
  CHECK(count.libaccel == 0);
  for (size_t i = 0; i < first->size(); ++i) {
    std::span<const float> expect = (*first)[i].tensor.values<float>();
    REQUIRE(expect.size() == buffers[i].size());
    for (size_t k = 0; k < expect.size(); ++k) CHECK(buffers[i][k] == expect[k]);
  }
}

TEST_CASE("Data movement, broadcasting, pooling and Softmax allocate nothing in steady runs",
          "[memory][alloc]") {
  // Transpose, Slice with a step, broadcast Add/Mul, Concat, Split, both poolings, Softmax.
  GraphBuilder b(17, 3);
  b.Input("x", {1, 4, 6, 8});
  onnx::NodeProto* t = b.Node("Transpose", {"x"}, "t");
  *t->add_attribute() = testing::IntsAttr("perm", {0, 2, 3, 1});  // [1, 6, 8, 4]
  b.Node("Slice",
         {"t", b.Ints("starts", {2}, {1, 0}), b.Ints("ends", {2}, {5, 8}),
          b.Ints("axes", {2}, {1, 2}), b.Ints("steps", {2}, {1, 2})},
         "s");  // [1, 4, 4, 4]
  b.Node("Add", {"s", b.Weight("row", {4})}, "a");
  b.Node("Mul", {"a", b.Weight("chan", {1, 4, 1, 1})}, "m");
  onnx::NodeProto* cat = b.Node("Concat", {"m", "s"}, "c");  // [1, 4, 4, 8]
  *cat->add_attribute() = testing::IntAttr("axis", 3);
  onnx::NodeProto* split = testing::AddNode(b.m, "split", "Split", {"c"}, {"p0", "p1"});
  *split->add_attribute() = testing::IntAttr("axis", 3);
  onnx::NodeProto* max = b.Node("MaxPool", {"p0"}, "mp");
  *max->add_attribute() = testing::IntsAttr("kernel_shape", {2, 2});
  *max->add_attribute() = testing::IntsAttr("strides", {2, 2});
  onnx::NodeProto* avg = b.Node("AveragePool", {"p1"}, "ap");
  *avg->add_attribute() = testing::IntsAttr("kernel_shape", {2, 2});
  *avg->add_attribute() = testing::IntsAttr("strides", {2, 2});
  b.Node("Sub", {"mp", "ap"}, "d");
  b.Node("Softmax", {"d"}, "y");
  b.Output("y");
  b.Output("c");
  CheckSteadyRunsAllocateNothing(b.Require(0), {1, 4, 6, 8});
}

TEST_CASE("Pad, Resize, Gather, ReduceMean and a graph-output Flatten allocate nothing",
          "[memory][alloc]") {
  GraphBuilder b(13, 4);
  b.Input("x", {1, 3, 5, 6});
  onnx::NodeProto* pad = b.Node("Pad", {"x", b.Ints("pads", {8}, {0, 0, 1, 2, 0, 0, 1, 0})}, "p");
  *pad->add_attribute() = testing::StringAttr("mode", "reflect");              // [1, 3, 7, 8]
  b.Node("Resize", {"p", "", "", b.Ints("sizes", {4}, {1, 3, 14, 16})}, "r");  // nearest
  b.Node("ReduceMean", {"r"}, "rm");
  onnx::NodeProto* flat = b.Node("Flatten", {"rm"}, "y");
  *flat->add_attribute() = testing::IntAttr("axis", 1);
  onnx::NodeProto* gather = b.Node("Gather", {"r", b.Ints("cols", {2}, {3, -2})}, "g2");
  *gather->add_attribute() = testing::IntAttr("axis", 3);
  b.Output("y");
  b.Output("g2");
  CheckSteadyRunsAllocateNothing(b.Require(0), {1, 3, 5, 6});
}

}  // namespace
}  // namespace accel
