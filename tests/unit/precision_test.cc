// LoadOptions::precision. Each bf16 case is checked against two references computed here in
// double: on the exact inputs (bf16 must stay within its stated tolerance, 1e-2 relative L2)
// and on inputs and weights rounded to bfloat16 (a kernel that really computes in bf16 matches
// it to float32 accumulation error; one that silently stays float32 does not). Skipped, with a
// warning, on CPUs without native bf16; the refusal path is tested through a test override.
#include <onnx/onnx_pb.h>

#include <bit>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "accel/accel.h"
#include "backends/cpu/cpu_features.h"
#include "onnx_test_util.h"

namespace accel {
namespace {

using testing::OneNodeModel;

constexpr int kFloat = onnx::TensorProto::FLOAT;
// bf16 keeps 8 significant bits (relative rounding error up to 2^-9 per operand).
constexpr double kBf16Tolerance = 1e-2;
// Float32 accumulation of exact bf16 products over at most a few hundred terms.
constexpr double kFloat32Tolerance = 1e-5;

// Round to nearest even, as oneDNN converts float32 to bfloat16 (inputs here are finite).
float RoundToBf16(float x) {
  uint32_t bits = std::bit_cast<uint32_t>(x);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return std::bit_cast<float>(bits & 0xffff0000u);
}

std::vector<float> Rounded(const std::vector<float>& v) {
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = RoundToBf16(v[i]);
  return out;
}

double RelL2(const std::vector<float>& got, const std::vector<double>& want) {
  REQUIRE(got.size() == want.size());
  double diff = 0, norm = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    diff += (got[i] - want[i]) * (got[i] - want[i]);
    norm += want[i] * want[i];
  }
  return std::sqrt(diff / norm);
}

// Conv in double: x [1, C, H, W], w [M, C/G, K, K], bias [M], square stride and padding.
std::vector<double> RefConv(const std::vector<float>& x, const std::vector<float>& w,
                            const std::vector<float>& b, int64_t c, int64_t h, int64_t m, int64_t k,
                            int64_t group, int64_t stride, int64_t pad) {
  const int64_t oh = (h + 2 * pad - k) / stride + 1;
  const int64_t cg = c / group, mg = m / group;
  std::vector<double> y(m * oh * oh);
  for (int64_t o = 0; o < m; ++o) {
    const int64_t g = o / mg;
    for (int64_t i = 0; i < oh; ++i) {
      for (int64_t j = 0; j < oh; ++j) {
        double sum = b[o];
        for (int64_t ci = 0; ci < cg; ++ci) {
          for (int64_t ki = 0; ki < k; ++ki) {
            for (int64_t kj = 0; kj < k; ++kj) {
              const int64_t yi = i * stride - pad + ki, xj = j * stride - pad + kj;
              if (yi < 0 || yi >= h || xj < 0 || xj >= h) continue;
              sum += double(x[((g * cg + ci) * h + yi) * h + xj]) *
                     w[((o * cg + ci) * k + ki) * k + kj];
            }
          }
        }
        y[(o * oh + i) * oh + j] = sum;
      }
    }
  }
  return y;
}

// ConvTranspose in double (group 1): x [1, C, H, W], w [C, M, K, K], bias [M], stride, no pads.
std::vector<double> RefConvTranspose(const std::vector<float>& x, const std::vector<float>& w,
                                     const std::vector<float>& b, int64_t c, int64_t h, int64_t m,
                                     int64_t k, int64_t stride) {
  const int64_t oh = (h - 1) * stride + k;
  std::vector<double> y(m * oh * oh);
  for (int64_t o = 0; o < m; ++o) {
    for (int64_t p = 0; p < oh * oh; ++p) y[o * oh * oh + p] = b[o];
  }
  for (int64_t ci = 0; ci < c; ++ci) {
    for (int64_t i = 0; i < h; ++i) {
      for (int64_t j = 0; j < h; ++j) {
        for (int64_t o = 0; o < m; ++o) {
          for (int64_t ki = 0; ki < k; ++ki) {
            for (int64_t kj = 0; kj < k; ++kj) {
              y[(o * oh + i * stride + ki) * oh + j * stride + kj] +=
                  double(x[(ci * h + i) * h + j]) * w[((ci * m + o) * k + ki) * k + kj];
            }
          }
        }
      }
    }
  }
  return y;
}

// y = alpha * op(a) * op(b) + beta * c with a [M, K] (or [K, M] transposed), b likewise, c [N].
std::vector<double> RefGemm(const std::vector<float>& a, const std::vector<float>& b,
                            const std::vector<float>& c, int64_t m, int64_t k, int64_t n,
                            bool trans_a, bool trans_b, double alpha, double beta) {
  std::vector<double> y(m * n);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double sum = 0;
      for (int64_t p = 0; p < k; ++p) {
        sum +=
            double(trans_a ? a[p * m + i] : a[i * k + p]) * (trans_b ? b[j * k + p] : b[p * n + j]);
      }
      y[i * n + j] = alpha * sum + (c.empty() ? 0.0 : beta * c[j]);
    }
  }
  return y;
}

struct Feed {
  std::string name;
  std::vector<int64_t> dims;
  std::vector<float> values;
};

std::vector<float> RunAt(const OneNodeModel& m, Precision precision,
                         const std::vector<Feed>& feeds) {
  LoadOptions options;
  options.precision = precision;
  Model model = testing::RequireModel(m.model.SerializeAsString(), options);
  Result<Session> session = Session::Create(model, {1});
  INFO(session.status().ToString());
  REQUIRE(session.ok());
  std::vector<NamedTensor> inputs;
  for (const Feed& f : feeds) {
    inputs.push_back({f.name, Tensor::View(DType::kFloat32, Shape(f.dims), f.values.data())});
  }
  Result<std::vector<NamedTensor>> out = session->Run(inputs);
  INFO(out.status().ToString());
  REQUIRE(out.ok());
  std::span<const float> y = (*out)[0].tensor.values<float>();
  return std::vector<float>(y.begin(), y.end());
}

// One op run at fp32 and at bf16. `reference(rounded)` computes its result in double from the
// exact operands or from operands rounded to bf16. `stays_fp32`: the op should ignore bf16.
void CheckPrecisions(const OneNodeModel& m, const std::vector<Feed>& feeds,
                     const std::function<std::vector<double>(bool rounded)>& reference,
                     bool stays_fp32 = false) {
  const std::vector<double> exact = reference(false);
  const std::vector<double> rounded = reference(true);
  std::vector<float> fp32 = RunAt(m, Precision::kFloat32, feeds);
  CHECK(RelL2(fp32, exact) <= kFloat32Tolerance);
  if (!cpu::HasNativeBf16()) {
    WARN("this CPU has no native bfloat16 (AVX512_BF16): bf16 results not checked");
    return;
  }
  std::vector<float> bf16 = RunAt(m, Precision::kBFloat16, feeds);
  const double error = RelL2(bf16, exact);
  INFO("bf16 rel L2 vs exact " << error << ", vs the bf16-rounded reference "
                               << RelL2(bf16, rounded));
  CHECK(error <= kBf16Tolerance);
  if (stays_fp32) {
    CHECK(bf16 == fp32);
  } else {
    CHECK(RelL2(bf16, rounded) <= kFloat32Tolerance);
    CHECK(error > 10 * kFloat32Tolerance);  // the rounding is really there
  }
}

TEST_CASE("bf16 Conv computes on bf16-rounded input and weights", "[precision]") {
  const int64_t c = 64, h = 8, m = 24, k = 3;
  for (int64_t group : {1, 2}) {
    for (int64_t stride : {1, 2}) {
      DYNAMIC_SECTION("group " << group << " stride " << stride) {
        std::vector<float> x = testing::RandomFloats(c * h * h, 1),
                           w = testing::RandomFloats(m * c / group * k * k, 2);
        std::vector<float> b = testing::RandomFloats(m, 3);
        OneNodeModel model("Conv", 13);
        model.Input("x", kFloat, {1, c, h, h});
        model.Constant("w", {m, c / group, k, k}, w);
        model.Constant("b", {m}, b);
        model.Output("y");
        model.Ints("pads", {1, 1, 1, 1});
        model.Ints("strides", {stride, stride});
        model.Int("group", group);
        CheckPrecisions(model, {{"x", {1, c, h, h}, x}}, [&](bool r) {
          return RefConv(r ? Rounded(x) : x, r ? Rounded(w) : w, b, c, h, m, k, group, stride, 1);
        });
      }
    }
  }
}

// Few multiply-adds per output (at most 16 input channels per group and under 64 products), or
// few uses of each input value (a 1x1 conv between at most 64 channels, under 16 outputs per
// input): memory-bound, bf16 would not pay (precision.h). More taps over as few channels, and
// 1x1 convs that expand few channels into many, do pay.
TEST_CASE("bf16 leaves depthwise Conv and Conv with few products per output in float32",
          "[precision]") {
  const int64_t h = 12;
  struct Case {
    int64_t c, m, k, group;
    bool stays_fp32;
  };
  for (const Case& t :
       {Case{16, 32, 1, 1, true}, Case{32, 32, 3, 32, true}, Case{3, 32, 3, 1, true},
        Case{48, 48, 1, 1, true}, Case{96, 4, 1, 1, true}, Case{16, 32, 3, 1, false},
        Case{12, 32, 3, 1, false}, Case{3, 32, 7, 1, false}, Case{32, 192, 1, 1, false},
        Case{96, 96, 1, 1, false}}) {
    DYNAMIC_SECTION(t.k << "x" << t.k << " from " << t.c << " to " << t.m << " channels, group "
                        << t.group) {
      const int64_t m = t.m;
      std::vector<float> x = testing::RandomFloats(t.c * h * h, 4),
                         w = testing::RandomFloats(m * t.c / t.group * t.k * t.k, 5);
      std::vector<float> b = testing::RandomFloats(m, 6);
      const int64_t pad = t.k / 2;
      OneNodeModel model("Conv", 13);
      model.Input("x", kFloat, {1, t.c, h, h});
      model.Constant("w", {m, t.c / t.group, t.k, t.k}, w);
      model.Constant("b", {m}, b);
      model.Output("y");
      model.Ints("pads", {pad, pad, pad, pad});
      model.Int("group", t.group);
      CheckPrecisions(
          model, {{"x", {1, t.c, h, h}, x}},
          [&](bool r) {
            return RefConv(r ? Rounded(x) : x, r ? Rounded(w) : w, b, t.c, h, m, t.k, t.group, 1,
                           pad);
          },
          t.stays_fp32);
    }
  }
}

TEST_CASE("bf16 ConvTranspose computes on bf16-rounded input and weights", "[precision]") {
  const int64_t c = 32, h = 6, m = 8, k = 3, stride = 2;
  std::vector<float> x = testing::RandomFloats(c * h * h, 7),
                     w = testing::RandomFloats(c * m * k * k, 8), b = testing::RandomFloats(m, 9);
  OneNodeModel model("ConvTranspose", 13);
  model.Input("x", kFloat, {1, c, h, h});
  model.Constant("w", {c, m, k, k}, w);
  model.Constant("b", {m}, b);
  model.Output("y");
  model.Ints("strides", {stride, stride});
  CheckPrecisions(model, {{"x", {1, c, h, h}, x}}, [&](bool r) {
    return RefConvTranspose(r ? Rounded(x) : x, r ? Rounded(w) : w, b, c, h, m, k, stride);
  });
}

TEST_CASE("bf16 MatMul computes on bf16-rounded operands", "[precision]") {
  const int64_t m = 12, k = 64, n = 40;
  std::vector<float> a = testing::RandomFloats(m * k, 10), b = testing::RandomFloats(k * n, 11);
  SECTION("constant B (weights)") {
    OneNodeModel model("MatMul", 13);
    model.Input("a", kFloat, {m, k});
    model.Constant("b", {k, n}, b);
    model.Output("y");
    CheckPrecisions(model, {{"a", {m, k}, a}}, [&](bool r) {
      return RefGemm(r ? Rounded(a) : a, r ? Rounded(b) : b, {}, m, k, n, false, false, 1, 0);
    });
  }
  SECTION("B fed at run time (attention scores)") {
    OneNodeModel model("MatMul", 13);
    model.Input("a", kFloat, {m, k});
    model.Input("b", kFloat, {k, n});
    model.Output("y");
    CheckPrecisions(model, {{"a", {m, k}, a}, {"b", {k, n}, b}}, [&](bool r) {
      return RefGemm(r ? Rounded(a) : a, r ? Rounded(b) : b, {}, m, k, n, false, false, 1, 0);
    });
  }
}

TEST_CASE("bf16 Gemm computes on bf16-rounded A and B; alpha, beta and C stay exact",
          "[precision]") {
  const int64_t m = 5, k = 48, n = 20;
  std::vector<float> a = testing::RandomFloats(k * m, 12), b = testing::RandomFloats(n * k, 13),
                     c = testing::RandomFloats(n, 14);
  OneNodeModel model("Gemm", 13);
  model.Input("a", kFloat, {k, m});
  model.Constant("b", {n, k}, b);
  model.Constant("c", {n}, c);
  model.Output("y");
  model.Int("transA", 1);
  model.Int("transB", 1);
  *model.node->add_attribute() = [] {
    onnx::AttributeProto alpha;
    alpha.set_name("alpha");
    alpha.set_type(onnx::AttributeProto::FLOAT);
    alpha.set_f(0.5f);
    return alpha;
  }();
  CheckPrecisions(model, {{"a", {k, m}, a}}, [&](bool r) {
    return RefGemm(r ? Rounded(a) : a, r ? Rounded(b) : b, c, m, k, n, true, true, 0.5, 1.0);
  });
}

// Restores the real CPU answer when a test that forced one ends.
struct NativeBf16Override {
  explicit NativeBf16Override(bool has_bf16) { cpu::OverrideNativeBf16ForTesting(has_bf16); }
  ~NativeBf16Override() { cpu::OverrideNativeBf16ForTesting(std::nullopt); }
};

TEST_CASE("bf16 is refused at load on a CPU without native bfloat16", "[precision]") {
  OneNodeModel model("MatMul", 13);
  model.Input("a", kFloat, {2, 3});
  model.Constant("b", {3, 2}, {1, 2, 3, 4, 5, 6});
  model.Output("y");
  const std::string bytes = model.model.SerializeAsString();
  LoadOptions bf16;
  bf16.precision = Precision::kBFloat16;
  {
    NativeBf16Override lacks(false);
    Result<Model> refused = testing::LoadModel(bytes, bf16);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.status().code() == StatusCode::kUnsupported);
    CHECK_THAT(refused.status().message(),
               Catch::Contains("AVX512_BF16") && Catch::Contains("use precision fp32"));
    CHECK(testing::LoadModel(bytes).ok());  // fp32 is always available
  }
  // Without the override the real CPU decides.
  CHECK(testing::LoadModel(bytes, bf16).ok() == cpu::HasNativeBf16());
}

}  // namespace
}  // namespace accel
