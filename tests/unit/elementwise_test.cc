// The elementwise, reduction and cast kernels: broadcasting against a naive index loop written
// here, float16/bfloat16 rounding against bit patterns worked out by hand, Sigmoid's fast path
// against double-precision libm, and the errors bad models and inputs must produce.
#include <onnx/onnx_pb.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "accel/accel.h"
#include "backends/cpu/elementwise_util.h"
#include "onnx_test_util.h"

namespace accel {
namespace {

using testing::OneNodeModel;

constexpr int kFloat = onnx::TensorProto::FLOAT;

std::vector<float> Wave(int64_t n, float scale) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = std::sin(static_cast<float>(i) * scale) * 3.0f;
  return v;
}

Result<std::vector<NamedTensor>> RunOnce(const Model& model, std::vector<NamedTensor> inputs) {
  ACCEL_ASSIGN_OR_RETURN(Session session, Session::Create(model));
  return session.Run(inputs);
}

// out[i] = a[broadcast index] - b[broadcast index], by unravelling every output index.
std::vector<float> NaiveSub(const std::vector<float>& a, const Shape& sa,
                            const std::vector<float>& b, const Shape& sb, const Shape& out) {
  const size_t rank = out.size();
  std::vector<float> z(static_cast<size_t>(ElementCount(out)));
  for (int64_t flat = 0; flat < static_cast<int64_t>(z.size()); ++flat) {
    std::vector<int64_t> idx(rank);
    int64_t rest = flat;
    for (size_t d = rank; d-- > 0;) {
      idx[d] = rest % out[d];
      rest /= out[d];
    }
    auto at = [&](const std::vector<float>& v, const Shape& s) {
      int64_t off = 0;
      for (size_t d = 0; d < s.size(); ++d) {
        const int64_t i = idx[rank - s.size() + d];
        off = off * s[d] + (s[d] == 1 ? 0 : i);
      }
      return v[static_cast<size_t>(off)];
    };
    z[static_cast<size_t>(flat)] = at(a, sa) - at(b, sb);
  }
  return z;
}

TEST_CASE("Broadcast plans merge dims into contiguous rows", "[elementwise]") {
  const Shape x = {1, 8, 5, 6};
  const Shape c = {1, 8, 1, 1};
  cpu::BroadcastPlan<2> per_channel = cpu::MakeBroadcastPlan<2>(x, {&x, &c});
  CHECK(per_channel.dims == std::vector<int64_t>{8, 30});
  CHECK(per_channel.strides.back() == std::array<int64_t, 2>{1, 0});
  cpu::BroadcastPlan<2> same = cpu::MakeBroadcastPlan<2>(x, {&x, &x});
  CHECK(same.dims == std::vector<int64_t>{240});
  const Shape col = {4, 1};
  const Shape row = {5};
  const Shape out = {4, 5};
  cpu::BroadcastPlan<2> outer = cpu::MakeBroadcastPlan<2>(out, {&col, &row});
  CHECK(outer.dims == std::vector<int64_t>{4, 5});
  CHECK(outer.strides[0] == std::array<int64_t, 2>{1, 0});
  CHECK(outer.strides[1] == std::array<int64_t, 2>{0, 1});
}

TEST_CASE("Sub broadcasts like numpy for many shape pairs", "[elementwise]") {
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{2, 3, 4, 5}, {3, 1, 5}}, {{4, 1}, {1, 5}},       {{}, {2, 3}},
      {{1}, {2, 1, 3}},          {{2, 3, 4}, {2, 3, 4}}, {{3, 1, 1}, {1, 7, 1}},
      {{1, 64, 300}, {64, 1}},   {{2, 0, 3}, {1, 3}}};
  for (const auto& [sa, sb] : cases) {
    OneNodeModel m("Sub", 14);
    m.Input("a", kFloat, std::vector<int64_t>(sa.size(), -1));  // shapes known only at run time
    m.Input("b", kFloat, sb);
    m.Output("z", kFloat);
    Result<Model> model = m.Load();
    INFO(model.status().ToString());
    REQUIRE(model.ok());
    std::vector<float> a = Wave(ElementCount(sa), 0.37f);
    std::vector<float> b = Wave(ElementCount(sb), 0.11f);
    Result<std::vector<NamedTensor>> out =
        RunOnce(*model, {{"a", Tensor::View(DType::kFloat32, sa, a.data())},
                         {"b", Tensor::View(DType::kFloat32, sb, b.data())}});
    INFO(out.status().ToString());
    REQUIRE(out.ok());
    Result<Shape> shape = [&]() -> Result<Shape> {
      Shape s(std::max(sa.size(), sb.size()));
      for (size_t i = 0; i < s.size(); ++i) {
        const size_t ia = i + sa.size(), ib = i + sb.size();
        const int64_t da = ia >= s.size() ? sa[ia - s.size()] : 1;
        const int64_t db = ib >= s.size() ? sb[ib - s.size()] : 1;
        s[i] = da == 1 ? db : da;
      }
      return s;
    }();
    const Tensor& z = (*out)[0].tensor;
    REQUIRE(z.shape() == *shape);
    std::vector<float> want = NaiveSub(a, sa, b, sb, *shape);
    std::vector<float> got(z.values<float>().begin(), z.values<float>().end());
    CHECK(got == want);
  }
}

TEST_CASE("Incompatible broadcast shapes are rejected at load", "[elementwise]") {
  OneNodeModel m("Add", 14);
  m.Input("a", kFloat, {2, 3});
  m.Input("b", kFloat, {4});
  m.Output("z", kFloat);
  Result<Model> model = m.Load();
  REQUIRE(!model.ok());
  CHECK_THAT(model.status().message(), Catch::Contains("cannot be broadcast"));
}

TEST_CASE("Integer division and modulo by zero give 0 instead of trapping", "[elementwise]") {
  for (const char* op : {"Div", "Mod"}) {
    OneNodeModel m(op, 13);
    m.Input("a", onnx::TensorProto::INT32, {4});
    m.Input("b", onnx::TensorProto::INT32, {4});
    m.Output("z", onnx::TensorProto::INT32);
    Result<Model> model = m.Load();
    REQUIRE(model.ok());
    std::vector<int32_t> a = {7, -7, INT32_MIN, 5};
    std::vector<int32_t> b = {0, 2, -1, -3};
    Result<std::vector<NamedTensor>> out =
        RunOnce(*model, {{"a", Tensor::View(DType::kInt32, {4}, a.data())},
                         {"b", Tensor::View(DType::kInt32, {4}, b.data())}});
    REQUIRE(out.ok());
    std::span<const int32_t> z = (*out)[0].tensor.values<int32_t>();
    if (std::string(op) == "Div") {
      CHECK(std::vector<int32_t>(z.begin(), z.end()) ==
            std::vector<int32_t>{0, -3, INT32_MIN, -1});  // C truncation; MIN / -1 wraps
    } else {
      // fmod = 0: the result takes the divisor's sign, as in Python.
      CHECK(std::vector<int32_t>(z.begin(), z.end()) == std::vector<int32_t>{0, 1, 0, -1});
    }
  }
}

// Casts float32 values to `to` and returns the raw 16-bit patterns.
std::vector<uint16_t> CastTo16(int to, const std::vector<float>& x) {
  OneNodeModel m("Cast", 13);
  m.Input("x", kFloat, {static_cast<int64_t>(x.size())});
  m.Output("y", to);
  m.Int("to", to);
  Result<Model> model = m.Load();
  REQUIRE(model.ok());
  Result<std::vector<NamedTensor>> out = RunOnce(
      *model, {{"x", Tensor::View(DType::kFloat32, {static_cast<int64_t>(x.size())}, x.data())}});
  REQUIRE(out.ok());
  const Tensor& y = (*out)[0].tensor;
  std::vector<uint16_t> bits(x.size());
  std::memcpy(bits.data(), y.data(), bits.size() * 2);
  return bits;
}

float FromBits(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

TEST_CASE("Cast to float16 rounds to nearest even, with overflow and subnormals", "[cast]") {
  const float kTiny = std::ldexp(1.0f, -24);  // the smallest float16 subnormal
  std::vector<float> x = {1.0f,
                          65504.0f,                      // largest finite
                          65519.0f,                      // rounds down to 65504
                          65520.0f,                      // ties away to inf (even mantissa is inf)
                          1.0f / 3.0f,                   // 0x3555
                          kTiny,                         // 0x0001
                          kTiny * 1.5f,                  // tie between 1 and 2 units: even -> 2
                          kTiny * 2.5f,                  // tie between 2 and 3 units: even -> 2
                          1.0f + std::ldexp(1.0f, -11),  // tie between 1 and 1+2^-10: even -> 1
                          -2.0f,
                          std::nanf(""),
                          -INFINITY};
  std::vector<uint16_t> got = CastTo16(onnx::TensorProto::FLOAT16, x);
  CHECK(got[0] == 0x3c00);
  CHECK(got[1] == 0x7bff);
  CHECK(got[2] == 0x7bff);
  CHECK(got[3] == 0x7c00);
  CHECK(got[4] == 0x3555);
  CHECK(got[5] == 0x0001);
  CHECK(got[6] == 0x0002);
  CHECK(got[7] == 0x0002);
  CHECK(got[8] == 0x3c00);
  CHECK(got[9] == 0xc000);
  CHECK((got[10] & 0x7c00) == 0x7c00);
  CHECK((got[10] & 0x03ff) != 0);
  CHECK(got[11] == 0xfc00);
}

TEST_CASE("Cast to bfloat16 rounds to nearest even", "[cast]") {
  std::vector<float> x = {FromBits(0x3f808000),   // tie, even below -> 0x3f80
                          FromBits(0x3f818000),   // tie, even above -> 0x3f82
                          FromBits(0x3f808001),   // just above the tie -> 0x3f81
                          FromBits(0x7f7fffff)};  // rounds up into inf
  std::vector<uint16_t> got = CastTo16(onnx::TensorProto::BFLOAT16, x);
  CHECK(got == std::vector<uint16_t>{0x3f80, 0x3f82, 0x3f81, 0x7f80});
}

TEST_CASE("Sigmoid's vectorized float32 path matches double-precision libm", "[elementwise]") {
  const int64_t n = 100001;  // big enough for the threaded, chunked path; odd for the tail
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) x[i] = -100.0f + 200.0f * static_cast<float>(i) / (n - 1);
  OneNodeModel m("Sigmoid", 13);
  m.Input("x", kFloat, {n});
  m.Output("y", kFloat);
  Result<Model> model = m.Load();
  REQUIRE(model.ok());
  Result<std::vector<NamedTensor>> out =
      RunOnce(*model, {{"x", Tensor::View(DType::kFloat32, {n}, x.data())}});
  REQUIRE(out.ok());
  std::span<const float> y = (*out)[0].tensor.values<float>();
  int64_t bad = -1;
  for (int64_t i = 0; i < n && bad < 0; ++i) {
    const double want = 1.0 / (1.0 + std::exp(-static_cast<double>(x[i])));
    if (std::abs(y[i] - want) > 1e-7 + 1e-6 * want) bad = i;
  }
  INFO("first mismatch at x = " << (bad < 0 ? 0.0f : x[bad]));
  CHECK(bad == -1);
}

TEST_CASE("ReduceSum over non-adjacent axes matches a direct sum", "[reduce]") {
  OneNodeModel m("ReduceSum", 13);
  m.Input("x", kFloat, {3, 4, 5});
  m.Input("axes", onnx::TensorProto::INT64, {2});
  m.Output("y", kFloat);
  m.Int("keepdims", 0);
  Result<Model> model = m.Load();
  INFO(model.status().ToString());
  REQUIRE(model.ok());
  std::vector<float> x = Wave(60, 0.3f);
  std::vector<int64_t> axes = {0, -1};
  Result<std::vector<NamedTensor>> out =
      RunOnce(*model, {{"x", Tensor::View(DType::kFloat32, {3, 4, 5}, x.data())},
                       {"axes", Tensor::View(DType::kInt64, {2}, axes.data())}});
  INFO(out.status().ToString());
  REQUIRE(out.ok());
  const Tensor& y = (*out)[0].tensor;
  REQUIRE(y.shape() == Shape{4});
  for (int64_t j = 0; j < 4; ++j) {
    double want = 0;
    for (int64_t i = 0; i < 3; ++i) {
      for (int64_t k = 0; k < 5; ++k) want += x[(i * 4 + j) * 5 + k];
    }
    CHECK(y.values<float>()[j] == Approx(want).margin(1e-5));
  }
  axes = {0, 3};  // out of range for rank 3: an error, not a crash
  out = RunOnce(*model, {{"x", Tensor::View(DType::kFloat32, {3, 4, 5}, x.data())},
                         {"axes", Tensor::View(DType::kInt64, {2}, axes.data())}});
  REQUIRE(!out.ok());
  CHECK_THAT(out.status().message(), Catch::Contains("axis 3"));
}

TEST_CASE("CumSum reports a run-time axis out of range", "[reduce]") {
  OneNodeModel m("CumSum", 14);
  m.Input("x", kFloat, {2, 3});
  m.Input("axis", onnx::TensorProto::INT64, {});
  m.Output("y", kFloat);
  m.Int("exclusive", 1);
  m.Int("reverse", 1);
  Result<Model> model = m.Load();
  REQUIRE(model.ok());
  std::vector<float> x = {1, 2, 3, 4, 5, 6};
  int64_t axis = 1;
  Result<std::vector<NamedTensor>> out =
      RunOnce(*model, {{"x", Tensor::View(DType::kFloat32, {2, 3}, x.data())},
                       {"axis", Tensor::View(DType::kInt64, {}, &axis)}});
  REQUIRE(out.ok());
  std::span<const float> y = (*out)[0].tensor.values<float>();
  CHECK(std::vector<float>(y.begin(), y.end()) == std::vector<float>{5, 3, 0, 11, 6, 0});
  axis = 2;
  out = RunOnce(*model, {{"x", Tensor::View(DType::kFloat32, {2, 3}, x.data())},
                         {"axis", Tensor::View(DType::kInt64, {}, &axis)}});
  REQUIRE(!out.ok());
  CHECK(out.status().code() == StatusCode::kOutOfRange);
}

TEST_CASE("Softmax rejects an axis outside the rank at load", "[elementwise]") {
  OneNodeModel m("Softmax", 13);
  m.Input("x", kFloat, {2, 3});
  m.Output("y", kFloat);
  m.Int("axis", 2);
  Result<Model> model = m.Load();
  REQUIRE(!model.ok());
  CHECK_THAT(model.status().message(), Catch::Contains("axis 2 is out of range"));
}

TEST_CASE("Bad attributes and run-time inputs give errors, not crashes", "[elementwise]") {
  {
    OneNodeModel m("BitShift", 11);
    m.Input("a", onnx::TensorProto::UINT8, {2});
    m.Input("b", onnx::TensorProto::UINT8, {2});
    m.Output("z", onnx::TensorProto::UINT8);
    Result<Model> model = m.Load();
    if (model.ok()) {
      Result<Session> session = Session::Create(*model);
      REQUIRE(!session.ok());  // 'direction' is required
      CHECK_THAT(session.status().message(), Catch::Contains("direction"));
    }
  }
  {
    OneNodeModel m("Cast", 13);
    m.Input("x", kFloat, {2});
    m.Output("y", kFloat);
    m.Int("to", 8);  // string
    Result<Model> model = m.Load();
    REQUIRE(!model.ok());
    CHECK(model.status().code() == StatusCode::kUnsupported);
  }
  {
    OneNodeModel m("LayerNormalization", 17);
    m.Input("x", kFloat, {2, 3});
    m.Input("s", kFloat, {-1});
    m.Output("y", kFloat);
    Result<Model> model = m.Load();
    REQUIRE(model.ok());
    std::vector<float> x(6, 1.0f), s(4, 1.0f);
    Result<std::vector<NamedTensor>> out =
        RunOnce(*model, {{"x", Tensor::View(DType::kFloat32, {2, 3}, x.data())},
                         {"s", Tensor::View(DType::kFloat32, {4}, s.data())}});
    REQUIRE(!out.ok());
    CHECK_THAT(out.status().message(), Catch::Contains("Scale"));
  }
  {
    OneNodeModel m("Clip", 13);
    m.Input("x", kFloat, {3});
    m.Input("lo", kFloat, {-1});
    m.Output("y", kFloat);
    Result<Model> model = m.Load();
    REQUIRE(model.ok());
    std::vector<float> x = {1, 2, 3}, lo = {0, 1};
    Result<std::vector<NamedTensor>> out =
        RunOnce(*model, {{"x", Tensor::View(DType::kFloat32, {3}, x.data())},
                         {"lo", Tensor::View(DType::kFloat32, {2}, lo.data())}});
    REQUIRE(!out.ok());
    CHECK_THAT(out.status().message(), Catch::Contains("scalar"));
  }
  {
    OneNodeModel m("Where", 16);
    m.Input("c", kFloat, {2});
    m.Input("a", kFloat, {2});
    m.Input("b", kFloat, {2});
    m.Output("y", kFloat);
    Result<Model> model = m.Load();
    REQUIRE(!model.ok());
    CHECK_THAT(model.status().message(), Catch::Contains("condition must be bool"));
  }
}

TEST_CASE("Opset 6 Add broadcasts B at axis; PRelu 6 applies a [C] slope per channel",
          "[elementwise]") {
  OneNodeModel add("Add", 6);
  add.Input("a", kFloat, {2, 3, 4, 5});
  add.Input("b", kFloat, {3, 4});
  add.Output("z", kFloat);
  add.Int("broadcast", 1);
  add.Int("axis", 1);
  Result<Model> model = add.Load();
  INFO(model.status().ToString());
  REQUIRE(model.ok());
  std::vector<float> a = Wave(120, 0.3f), b = Wave(12, 0.7f);
  Result<std::vector<NamedTensor>> out =
      RunOnce(*model, {{"a", Tensor::View(DType::kFloat32, {2, 3, 4, 5}, a.data())},
                       {"b", Tensor::View(DType::kFloat32, {3, 4}, b.data())}});
  INFO(out.status().ToString());
  REQUIRE(out.ok());
  std::span<const float> z = (*out)[0].tensor.values<float>();
  int64_t mismatches = 0;
  for (int64_t i = 0; i < 120; ++i) {
    const int64_t ch = (i / 5) % 12;  // (c, h) of element i
    mismatches += z[i] != a[i] + b[ch];
  }
  CHECK(mismatches == 0);

  OneNodeModel prelu("PRelu", 6);
  prelu.Input("x", kFloat, {2, 3, 4});
  prelu.Input("s", kFloat, {3});
  prelu.Output("y", kFloat);
  model = prelu.Load();
  INFO(model.status().ToString());
  REQUIRE(model.ok());
  std::vector<float> x = Wave(24, 0.9f), slope = {0.5f, -2.0f, 3.0f};
  out = RunOnce(*model, {{"x", Tensor::View(DType::kFloat32, {2, 3, 4}, x.data())},
                         {"s", Tensor::View(DType::kFloat32, {3}, slope.data())}});
  INFO(out.status().ToString());
  REQUIRE(out.ok());
  std::span<const float> y = (*out)[0].tensor.values<float>();
  mismatches = 0;
  for (int64_t i = 0; i < 24; ++i) {
    const float want = x[i] < 0 ? slope[(i / 4) % 3] * x[i] : x[i];
    mismatches += y[i] != want;
  }
  CHECK(mismatches == 0);
}

}  // namespace
}  // namespace accel
