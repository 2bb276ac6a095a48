// The memory plan seen through Session: reporting before the first run, in-place reuse, the
// plan cache for changing input shapes, IO binding and data-dependent shapes.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "accel/accel.h"
#include "core/model_impl.h"
#include "onnx_test_util.h"

namespace accel {
namespace {

using testing::GraphBuilder;

std::vector<float> Ramp(size_t n) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>(static_cast<int>(i % 13) - 6) / 3.0f;
  return v;
}

// y = Relu(Tanh(x) * 2 + Sigmoid(x)) with x [N, 8]: elementwise chains that run in place.
Model ChainModel(bool symbolic_batch) {
  GraphBuilder b(17, 3);
  if (symbolic_batch) {
    b.Input("x", {"N", 8});
  } else {
    b.Input("x", {4, 8});
  }
  b.Node("Tanh", {"x"}, "t");
  b.Node("Mul", {"t", b.Scalar("two", 2.0f)}, "t2");
  b.Node("Sigmoid", {"x"}, "s");
  b.Node("Add", {"t2", "s"}, "sum");
  b.Node("Relu", {"sum"}, "y");
  b.Output("y");
  return b.Require(0);  // unfused, so each op is its own planned tensor
}

std::vector<double> ChainReference(const std::vector<float>& x) {
  std::vector<double> y;
  for (float v : x) {
    const double t = std::tanh(double{v}) * 2 + 1 / (1 + std::exp(-double{v}));
    y.push_back(std::max(0.0, t));
  }
  return y;
}

std::vector<float> RunChain(Session& session, const std::vector<float>& x, int64_t batch) {
  std::vector<NamedTensor> inputs = {{"x", Tensor::View(DType::kFloat32, {batch, 8}, x.data())}};
  Result<std::vector<NamedTensor>> out = session.Run(inputs);
  INFO(out.status().ToString());
  REQUIRE(out.ok());
  std::span<const float> y = (*out)[0].tensor.values<float>();
  return {y.begin(), y.end()};
}

TEST_CASE("Session reports its memory plan before the first run", "[memory]") {
  Model model = ChainModel(false);
  Result<Session> session = Session::Create(model, {.num_threads = 1});
  REQUIRE(session.ok());
  const MemoryInfo info = session->memory_info();
  CHECK(info.prepared);
  CHECK(info.dynamic_nodes == 0);
  // Live at once at most: x's Tanh result and Sigmoid result (x and y are not in the arena),
  // 4 * 8 floats = 128 bytes each.
  CHECK(info.arena_lower_bound_bytes == 256);
  CHECK(info.arena_bytes == 256);
  CHECK(info.arena_reserved_bytes >= info.arena_bytes);
  CHECK(info.planned_tensors == 4);
  CHECK(info.inplace_tensors >= 1);
}

TEST_CASE("In-place reuse gives bit-identical results", "[memory]") {
  Model model = ChainModel(false);
  Result<Session> with = Session::Create(model, {.num_threads = 1});
  Result<Session> without = Session::Create(model, {.num_threads = 1, .inplace_reuse = false});
  REQUIRE(with.ok());
  REQUIRE(without.ok());
  CHECK(with->memory_info().inplace_tensors > 0);
  CHECK(without->memory_info().inplace_tensors == 0);
  CHECK(with->memory_info().arena_bytes <= without->memory_info().arena_bytes);
  const std::vector<float> x = Ramp(32);
  const std::vector<float> a = RunChain(*with, x, 4), b = RunChain(*without, x, 4);
  CHECK(a == b);
  const std::vector<double> expect = ChainReference(x);
  for (size_t i = 0; i < expect.size(); ++i) CHECK(a[i] == Approx(expect[i]).margin(1e-5));
}

// A squeeze-excitation shape: the broadcast operand comes first, so the output can only take the
// bytes of input 1. Sub is not commutative, which checks the operand order on that path.
TEST_CASE("A binary op writes over its full-shape second input", "[memory]") {
  GraphBuilder b(17, 4);
  b.Input("x", {2, 3, 4, 5});
  b.Node("Abs", {"x"}, "a");
  *b.Node("ReduceMean", {"a"}, "m")->add_attribute() = testing::IntsAttr("axes", {2, 3});
  b.Node("Sub", {"m", "a"}, "d");
  b.Node("Neg", {"d"}, "y");
  b.Output("y");
  const Model model = b.Require(0);
  Result<Session> with = Session::Create(model, {.num_threads = 1});
  Result<Session> without = Session::Create(model, {.num_threads = 1, .inplace_reuse = false});
  REQUIRE(with.ok());
  REQUIRE(without.ok());
  CHECK(with->memory_info().inplace_tensors == 1);
  CHECK(with->memory_info().arena_bytes < without->memory_info().arena_bytes);

  std::vector<float> x = Ramp(120);
  for (size_t i = 0; i < x.size(); i += 7) x[i] *= -2.5f;
  std::vector<NamedTensor> inputs = {{"x", Tensor::View(DType::kFloat32, {2, 3, 4, 5}, x.data())}};
  Result<std::vector<NamedTensor>> out = with->Run(inputs);
  REQUIRE(out.ok());
  std::span<const float> y = (*out)[0].tensor.values<float>();
  for (size_t plane = 0; plane < 6; ++plane) {
    double mean = 0;
    for (size_t i = 0; i < 20; ++i) mean += std::abs(double{x[plane * 20 + i]}) / 20;
    for (size_t i = 0; i < 20; ++i) {
      CHECK(y[plane * 20 + i] == Approx(std::abs(double{x[plane * 20 + i]}) - mean).margin(1e-5));
    }
  }
}
TEST_CASE("Plans are cached per input shape with a bounded LRU", "[memory]") {
  Model model = ChainModel(true);
  Result<Session> session = Session::Create(model, {.num_threads = 1, .plan_cache_size = 2});
  REQUIRE(session.ok());
  CHECK(!session->memory_info().prepared);  // symbolic batch: nothing to plan yet
  size_t largest = 0;
  for (int64_t batch : {1, 7, 3, 1, 7, 2, 7}) {
    const std::vector<float> x = Ramp(static_cast<size_t>(batch * 8));
    const std::vector<float> y = RunChain(*session, x, batch);
    const std::vector<double> expect = ChainReference(x);
    REQUIRE(y.size() == expect.size());
    for (size_t i = 0; i < y.size(); ++i) CHECK(y[i] == Approx(expect[i]).margin(1e-5));
    const MemoryInfo info = session->memory_info();
    CHECK(info.arena_lower_bound_bytes == 2 * 64 * ((batch * 8 * 4 + 63) / 64));
    largest = std::max(largest, info.arena_bytes);
    // One arena shared by every plan, as large as the largest seen.
    CHECK(info.arena_reserved_bytes >= largest);
  }
  REQUIRE(session->Prepare(std::vector<InputShape>{{"x", {5, 8}}}).ok());
  CHECK(session->memory_info().arena_lower_bound_bytes == 2 * 192);
  CHECK(session->Prepare(std::vector<InputShape>{{"nope", {5, 8}}}).code() ==
        StatusCode::kInvalidArgument);
  CHECK(session->Prepare(std::vector<InputShape>{{"x", {5, 9}}}).code() ==
        StatusCode::kInvalidArgument);
  CHECK(session->Prepare().code() == StatusCode::kInvalidArgument);  // N unknown
}

TEST_CASE("Bound outputs receive results in caller memory and are checked", "[memory]") {
  Model model = ChainModel(false);
  Result<Session> session = Session::Create(model, {.num_threads = 1});
  REQUIRE(session.ok());
  const std::vector<float> x = Ramp(32);
  std::vector<NamedTensor> inputs = {{"x", Tensor::View(DType::kFloat32, {4, 8}, x.data())}};
  std::vector<float> y(32, -1.0f);
  std::vector<NamedTensor> outputs = {{"y", Tensor::View(DType::kFloat32, {4, 8}, y.data())}};
  REQUIRE(session->Run(inputs, outputs).ok());
  const std::vector<double> expect = ChainReference(x);
  for (size_t i = 0; i < y.size(); ++i) CHECK(y[i] == Approx(expect[i]).margin(1e-5));

  std::vector<float> small(8);
  std::vector<NamedTensor> wrong_shape = {
      {"y", Tensor::View(DType::kFloat32, {1, 8}, small.data())}};
  CHECK(session->Run(inputs, wrong_shape).code() == StatusCode::kInvalidArgument);
  std::vector<NamedTensor> unknown = {{"z", Tensor()}};
  CHECK(session->Run(inputs, unknown).code() == StatusCode::kInvalidArgument);
  // An empty entry gets an owning tensor of its own.
  std::vector<NamedTensor> owned = {{"y", Tensor()}};
  REQUIRE(session->Run(inputs, owned).ok());
  CHECK(!owned[0].tensor.is_view());
  CHECK(owned[0].tensor.values<float>()[5] == y[5]);
}

TEST_CASE("Data-dependent shapes fall back to per-run allocation", "[memory]") {
  // NonZero's output size depends on the data; the Transpose after it runs dynamically too.
  GraphBuilder b(17, 4);
  b.Input("x", {2, 3});
  b.Node("Relu", {"x"}, "r");
  b.Node("NonZero", {"r"}, "nz");
  b.Node("Transpose", {"nz"}, "y");
  b.Output("y", onnx::TensorProto::INT64);
  Model model = b.Require(0);
  Result<Session> session = Session::Create(model, {.num_threads = 1});
  REQUIRE(session.ok());
  CHECK(session->memory_info().dynamic_nodes == 2);
  for (int round = 0; round < 2; ++round) {
    std::vector<float> x = {0, 1, -2, 3, 0, round ? 5.0f : 0.0f};
    std::vector<NamedTensor> inputs = {{"x", Tensor::View(DType::kFloat32, {2, 3}, x.data())}};
    Result<std::vector<NamedTensor>> out = session->Run(inputs);
    REQUIRE(out.ok());
    // Positive entries: (0,1), (1,0) and, in round 1, (1,2).
    std::vector<int64_t> expect = {0, 1, 1, 0};
    if (round) expect.insert(expect.end(), {1, 2});
    std::span<const int64_t> y = (*out)[0].tensor.values<int64_t>();
    CHECK(std::vector<int64_t>(y.begin(), y.end()) == expect);
  }
}

}  // namespace
}  // namespace accel

namespace accel {
namespace {

// Hidden (run with "[.inplace_models]"): every model listed in ACCEL_INPLACE_MODELS
// (colon-separated .onnx paths, symbolic dims 1) gives bit-identical outputs with and without
// in-place reuse, from random inputs, at optimization level ACCEL_INPLACE_LEVEL (default 2).
TEST_CASE("In-place reuse is bit-identical on real models", "[.inplace_models]") {
  const char* list = std::getenv("ACCEL_INPLACE_MODELS");
  if (list == nullptr) return;
  std::string paths = list;
  for (size_t start = 0; start < paths.size();) {
    size_t end = paths.find(':', start);
    if (end == std::string::npos) end = paths.size();
    const std::string path = paths.substr(start, end - start);
    start = end + 1;
    INFO(path);
    LoadOptions options;
    if (const char* level = std::getenv("ACCEL_INPLACE_LEVEL")) {
      options.optimization_level = std::atoi(level);
    }
    Result<Model> model = Model::Load(path, options);
    REQUIRE(model.ok());
    std::vector<NamedTensor> inputs;
    std::mt19937 rng(7);
    for (const ValueInfo& info : model->inputs()) {
      Shape shape;
      for (int64_t d : info.dims) shape.push_back(d < 0 ? 1 : d);
      Result<Tensor> t = Tensor::Zeros(info.dtype, shape);
      REQUIRE(t.ok());
      if (info.dtype == DType::kFloat32) {
        std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
        for (float& v : t->values<float>()) v = dist(rng);
      } else if (info.dtype == DType::kInt64) {
        for (int64_t& v : t->values<int64_t>()) v = static_cast<int64_t>(rng() % 8);
      } else if (info.dtype == DType::kBool) {
        for (bool& v : t->values<bool>()) v = false;
      }
      inputs.push_back({info.name, *t});
    }
    Result<Session> with = Session::Create(*model, {.num_threads = 1});
    Result<Session> without = Session::Create(*model, {.num_threads = 1, .inplace_reuse = false});
    REQUIRE(with.ok());
    REQUIRE(without.ok());
    Result<std::vector<NamedTensor>> a = with->Run(inputs), b = without->Run(inputs);
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    WARN(path << ": " << with->memory_info().inplace_tensors << " tensors in place, arena "
              << with->memory_info().arena_bytes << " vs " << without->memory_info().arena_bytes);
    for (size_t i = 0; i < a->size(); ++i) {
      const Tensor &x = (*a)[i].tensor, &y = (*b)[i].tensor;
      REQUIRE(x.byte_size() == y.byte_size());
      CHECK(std::memcmp(x.data(), y.data(), x.byte_size()) == 0);
    }
  }
}

}  // namespace
}  // namespace accel

namespace accel {
namespace {

TEST_CASE("A warm-up that fails on zero inputs does not fail Create", "[memory]") {
  // Range(0, 5, step): the warm-up feeds step = 0, which Range rejects; the real run works.
  testing::OneNodeModel m("Range", 13);
  m.Input("start", onnx::TensorProto::FLOAT, {});
  m.Input("limit", onnx::TensorProto::FLOAT, {});
  m.Input("step", onnx::TensorProto::FLOAT, {});
  m.Output("y", onnx::TensorProto::FLOAT);
  Model model = testing::RequireModel(m.model.SerializeAsString());
  Result<Session> session = Session::Create(model, {.num_threads = 1});
  INFO(session.status().ToString());
  REQUIRE(session.ok());
  const float start = 0.0f, limit = 5.0f, step = 2.0f;
  std::vector<NamedTensor> inputs = {{"start", Tensor::View(DType::kFloat32, {}, &start)},
                                     {"limit", Tensor::View(DType::kFloat32, {}, &limit)},
                                     {"step", Tensor::View(DType::kFloat32, {}, &step)}};
  Result<std::vector<NamedTensor>> out = session->Run(inputs);
  INFO(out.status().ToString());
  REQUIRE(out.ok());
  std::span<const float> y = (*out)[0].tensor.values<float>();
  CHECK(std::vector<float>(y.begin(), y.end()) == std::vector<float>{0.0f, 2.0f, 4.0f});
  // A zero step in a real run is the error it should be.
  const float zero = 0.0f;
  inputs[2].tensor = Tensor::View(DType::kFloat32, {}, &zero);
  CHECK_FALSE(session->Run(inputs).ok());
}

}  // namespace
}  // namespace accel

namespace accel {
namespace {

using testing::IntAttr;

std::vector<float> RunOnce(Session& session, const std::vector<NamedTensor>& inputs,
                           size_t output = 0) {
  Result<std::vector<NamedTensor>> out = session.Run(inputs);
  INFO(out.status().ToString());
  REQUIRE(out.ok());
  std::span<const float> y = (*out)[output].tensor.values<float>();
  return {y.begin(), y.end()};
}

// x [1, 3, 4, 5] -> a = Relu(x), b = Sigmoid(x) -> c = Concat(a, b, axis) -> y = Tanh(c); a is
// read again after the Concat (z = a * 2), so its bytes must survive inside c.
Model ConcatModel(int64_t axis) {
  GraphBuilder b(17, 5);
  b.Input("x", {1, 3, 4, 5});
  b.Node("Relu", {"x"}, "a");
  b.Node("Sigmoid", {"x"}, "s");
  b.Node("Concat", {"a", "s"}, "c")->mutable_attribute()->Add(IntAttr("axis", axis));
  b.Node("Tanh", {"c"}, "y");
  b.Node("Mul", {"a", b.Scalar("two", 2.0f)}, "z");
  b.Output("y");
  b.Output("z");
  return b.Require(0);
}

TEST_CASE("A Concat over channels of a batch-1 tensor is computed in place", "[memory]") {
  const std::vector<float> x = Ramp(60);
  const std::vector<NamedTensor> inputs = {
      {"x", Tensor::View(DType::kFloat32, {1, 3, 4, 5}, const_cast<float*>(x.data()))}};
  // Channels are the outermost non-unit axis, so each input is one range of the output.
  Model model = ConcatModel(1);
  Result<Session> with = Session::Create(model, {.num_threads = 1});
  Result<Session> without = Session::Create(model, {.num_threads = 1, .concat_in_place = false});
  REQUIRE(with.ok());
  REQUIRE(without.ok());
  CHECK(with->memory_info().elided_concats == 1);
  CHECK(without->memory_info().elided_concats == 0);
  for (int run = 0; run < 2; ++run) {
    const std::vector<float> y = RunOnce(*with, inputs), z = RunOnce(*with, inputs, 1);
    REQUIRE(y.size() == 120);
    for (size_t i = 0; i < 60; ++i) {
      const double relu = std::max(0.0, double{x[i]});
      const double sigmoid = 1 / (1 + std::exp(-double{x[i]}));
      CHECK(y[i] == Approx(std::tanh(relu)).margin(1e-6));
      CHECK(y[60 + i] == Approx(std::tanh(sigmoid)).margin(1e-6));
      CHECK(z[i] == Approx(2 * relu).margin(1e-6));
    }
    CHECK(y == RunOnce(*without, inputs));
  }
  // Over rows (axis 2) each input is 3 separate ranges: copied by the Concat as before.
  Model rows = ConcatModel(2);
  Result<Session> by_rows = Session::Create(rows, {.num_threads = 1});
  REQUIRE(by_rows.ok());
  CHECK(by_rows->memory_info().elided_concats == 0);
  const std::vector<float> y = RunOnce(*by_rows, inputs);
  REQUIRE(y.size() == 120);
  for (int64_t c = 0; c < 3; ++c) {
    for (int64_t i = 0; i < 20; ++i) {
      const float v = x[c * 20 + i];
      CHECK(y[c * 40 + i] == Approx(std::tanh(std::max(0.0f, v))).margin(1e-6));
      CHECK(y[c * 40 + 20 + i] == Approx(std::tanh(1 / (1 + std::exp(-v)))).margin(1e-6));
    }
  }
}

// Two 1x1 convolutions over 16 channels each, concatenated and reduced by a third: blocked
// (nChw16c) values at level 2, where whole channel blocks make each input one range.
TEST_CASE("A Concat of blocked values is computed in place", "[memory]") {
  GraphBuilder b(17, 9);
  b.Input("x", {1, 16, 6, 6});
  b.Node("Conv", {"x", b.Weight("w1", {16, 16, 1, 1})}, "a");
  b.Node("Conv", {"x", b.Weight("w2", {16, 16, 1, 1})}, "c2");
  b.Node("Concat", {"a", "c2"}, "c")->mutable_attribute()->Add(IntAttr("axis", 1));
  b.Node("Conv", {"c", b.Weight("w3", {8, 32, 1, 1})}, "y");
  b.Output("y");
  const std::vector<float> x = Ramp(16 * 36);
  const std::vector<NamedTensor> inputs = {
      {"x", Tensor::View(DType::kFloat32, {1, 16, 6, 6}, const_cast<float*>(x.data()))}};
  // Reference: the weights as ONNX stores them, read back from the model, in double.
  std::vector<std::vector<float>> w;
  for (const onnx::TensorProto& t : b.m.graph().initializer()) {
    w.emplace_back(t.float_data().begin(), t.float_data().end());
  }
  REQUIRE(w.size() == 3);
  std::vector<double> c(32 * 36, 0.0), want(8 * 36, 0.0);
  for (int o = 0; o < 32; ++o) {
    const std::vector<float>& wk = o < 16 ? w[0] : w[1];
    for (int i = 0; i < 16; ++i) {
      for (int p = 0; p < 36; ++p) c[o * 36 + p] += double{wk[(o % 16) * 16 + i]} * x[i * 36 + p];
    }
  }
  for (int o = 0; o < 8; ++o) {
    for (int i = 0; i < 32; ++i) {
      for (int p = 0; p < 36; ++p) want[o * 36 + p] += double{w[2][o * 32 + i]} * c[i * 36 + p];
    }
  }
  Model model = b.Require(2);
  // The layout pass made the Concat's output blocked: the case this test is about.
  const core::Graph& g = model.internal_impl().graph;
  const int c_value = g.FindValue("c");
  REQUIRE(c_value != core::kNoValue);
  CHECK(g.values[c_value].layout == core::Layout::kBlocked);
  Result<Session> with = Session::Create(model, {.num_threads = 1});
  Result<Session> without = Session::Create(model, {.num_threads = 1, .concat_in_place = false});
  REQUIRE(with.ok());
  REQUIRE(without.ok());
  CHECK(with->memory_info().elided_concats == 1);
  const std::vector<float> y = RunOnce(*with, inputs);
  REQUIRE(y.size() == want.size());
  for (size_t i = 0; i < y.size(); ++i) CHECK(y[i] == Approx(want[i]).margin(1e-4));
  CHECK(y == RunOnce(*without, inputs));
}

}  // namespace
}  // namespace accel
