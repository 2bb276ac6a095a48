// Unary elementwise ops, one table line each, plus Identity and Dropout (which only forward).
#include <Eigen/Core>
#include <cmath>
#include <memory>
#include <string>
#include <type_traits>

#include "backends/cpu/elementwise_util.h"
#include "core/op_def.h"

namespace accel::cpu {

namespace {

struct UnaryParams {
  float alpha = 0;
  float beta = 0;
};

enum class AttrKind { kNone, kFloat, kInt, kGeluApproximate };

// One attribute of a unary op, read into UnaryParams::alpha (first) or ::beta (second).
struct AttrSpec {
  const char* name = nullptr;
  float default_value = 0;
  AttrKind kind = AttrKind::kNone;
};

constexpr AttrSpec kNoAttr{};
constexpr AttrSpec FloatAttr(const char* name, float v) { return {name, v, AttrKind::kFloat}; }
constexpr AttrSpec IntAttr(const char* name, int v) {
  return {name, static_cast<float>(v), AttrKind::kInt};
}
constexpr AttrSpec kGeluApproximate{"approximate", 0, AttrKind::kGeluApproximate};

Result<float> ReadAttr(const core::Attributes& attrs, const AttrSpec& spec) {
  switch (spec.kind) {
    case AttrKind::kNone:
      return 0.0f;
    case AttrKind::kFloat:
      return attrs.GetFloat(spec.name, spec.default_value);
    case AttrKind::kInt: {
      ACCEL_ASSIGN_OR_RETURN(int64_t v, attrs.GetInt(spec.name, 1));
      return static_cast<float>(v);
    }
    case AttrKind::kGeluApproximate: {
      ACCEL_ASSIGN_OR_RETURN(std::string v, attrs.GetString(spec.name, "none"));
      if (v != "none" && v != "tanh") {
        return InvalidModel("attribute 'approximate' must be \"none\" or \"tanh\", got \"" + v +
                            "\"");
      }
      return v == "tanh" ? 1.0f : 0.0f;
    }
  }
  return 0.0f;
}

// Scalar helpers that stay well-defined (and warning-free) for unsigned and minimal integers.
template <typename T>
T AbsOf(T x) {
  if constexpr (std::is_unsigned_v<T>) {
    return x;
  } else if constexpr (std::is_integral_v<T>) {
    return x < 0 ? static_cast<T>(0 - static_cast<std::make_unsigned_t<T>>(x)) : x;
  } else {
    return std::abs(x);
  }
}

template <typename T>
T NegOf(T x) {
  if constexpr (std::is_integral_v<T>) {
    return static_cast<T>(0 - static_cast<std::make_unsigned_t<T>>(x));
  } else {
    return -x;
  }
}

template <typename T>
T SignOf(T x) {
  if constexpr (std::is_unsigned_v<T>) {
    return x > 0 ? 1 : 0;
  } else {
    return static_cast<T>((x > T(0)) - (x < T(0)));
  }
}

template <typename T>
T SoftplusOf(T x) {
  // log(1 + exp(x)) without overflow for large x.
  return x > T(0) ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
}

template <typename T>
T GeluOf(T x, bool tanh_approximation) {
  if (tanh_approximation) {
    const T k = static_cast<T>(0.7978845608028654);  // sqrt(2 / pi)
    return T(0.5) * x * (T(1) + std::tanh(k * (x + T(0.044715) * x * x * x)));
  }
  return T(0.5) * x * (T(1) + std::erf(x * static_cast<T>(0.7071067811865476)));
}

using UnaryFn = void (*)(const void* in, void* out, int64_t n, const UnaryParams& p);

template <typename Op, typename T>
void ApplyUnary(const void* in, void* out, int64_t n, const UnaryParams& p) {
  using Out = typename Op::template Out<T>;
  const T* x = static_cast<const T*>(in);
  Out* y = static_cast<Out*>(out);
#pragma omp parallel for schedule(static) if (n >= kParallelMinElements)
  for (int64_t i = 0; i < n; ++i) y[i] = Op::template Apply<T>(x[i], p);
}

// Sigmoid is the hottest activation (SiLU), so it gets AVX-512 and AVX2 builds of the loop,
// chosen by CPU feature at kernel creation (the library itself targets baseline x86-64).
// Saturated inputs lose only digits far below float32 tolerance (sigmoid(-100) ~ 4e-39, not 0).
[[gnu::target("avx512f")]] void SigmoidAvx512(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = 1.0f / (1.0f + ClampedExp(-x[i]));
}
[[gnu::target("avx2,fma")]] void SigmoidAvx2(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = 1.0f / (1.0f + ClampedExp(-x[i]));
}

// Eigen vectorizes exp/tanh/logistic with SIMD polynomials; the scalar libm calls do not.
void SigmoidEigen(const float* x, float* y, int64_t n) {
  Eigen::Map<Eigen::ArrayXf>(y, n) = Eigen::Map<const Eigen::ArrayXf>(x, n).logistic();
}
void ExpEigen(const float* x, float* y, int64_t n) {
  Eigen::Map<Eigen::ArrayXf>(y, n) = Eigen::Map<const Eigen::ArrayXf>(x, n).exp();
}
void TanhEigen(const float* x, float* y, int64_t n) {
  Eigen::Map<Eigen::ArrayXf>(y, n) = Eigen::Map<const Eigen::ArrayXf>(x, n).tanh();
}

template <void (*Chunk)(const float*, float*, int64_t)>
void ApplyChunked(const void* in, void* out, int64_t n, const UnaryParams&) {
  constexpr int64_t kChunk = 1 << 14;
  const float* x = static_cast<const float*>(in);
  float* y = static_cast<float*>(out);
  const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (n >= kParallelMinElements)
  for (int64_t c = 0; c < chunks; ++c) {
    Chunk(x + c * kChunk, y + c * kChunk, std::min(kChunk, n - c * kChunk));
  }
}

// Vectorized float32 paths for the transcendental ops that dominate real models.
UnaryFn FastF32(std::string_view op_type) {
  if (op_type == "Sigmoid") {
    if (__builtin_cpu_supports("avx512f")) return &ApplyChunked<SigmoidAvx512>;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
      return &ApplyChunked<SigmoidAvx2>;
    }
    return &ApplyChunked<SigmoidEigen>;
  }
  if (op_type == "Exp") return &ApplyChunked<ExpEigen>;
  if (op_type == "Tanh") return &ApplyChunked<TanhEigen>;
  return nullptr;
}

template <typename Op>
Status InferUnary(core::InferContext& ctx) {
  if (!ctx.has_input(0)) return InvalidModel("missing input 0");
  core::TensorType t = ctx.input_type(0);
  if (Op::kBoolOut) t.dtype = DType::kBool;
  ctx.set_output(0, std::move(t));
  return Status::Ok();
}

class UnaryKernel final : public core::Kernel {
 public:
  UnaryKernel(UnaryFn fn, UnaryParams params) : fn_(fn), params_(params) {}

  Status Compute(core::KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    ACCEL_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0));
    if (x.element_count() > 0) fn_(x.data(), y->data(), x.element_count(), params_);
    return Status::Ok();
  }

 private:
  UnaryFn fn_;
  UnaryParams params_;
};

template <typename Op>
Result<std::unique_ptr<core::Kernel>> CreateUnary(const core::KernelInit& init) {
  if (!init.has_input(0)) return InvalidModel("missing input 0");
  UnaryParams params;
  ACCEL_ASSIGN_OR_RETURN(params.alpha, ReadAttr(init.attrs, Op::kAttrs[0]));
  ACCEL_ASSIGN_OR_RETURN(params.beta, ReadAttr(init.attrs, Op::kAttrs[1]));
  const DType dtype = init.input_types[0]->dtype;
  UnaryFn fn = nullptr;
  VisitDType(typename Op::Types{}, dtype,
             [&](auto tag) { fn = &ApplyUnary<Op, typename decltype(tag)::type>; });
  if (!fn) return UnsupportedDType(dtype);
  if (dtype == DType::kFloat32) {
    if (UnaryFn fast = FastF32(init.node.op_type)) fn = fast;
  }
  return std::unique_ptr<core::Kernel>(std::make_unique<UnaryKernel>(fn, params));
}

// Defines <Name>Op (the scalar function and its dtypes) and <Name>OpDef(). The expression sees
// x (of type T) and the attribute values a and b (converted to T).
#define ACCEL_UNARY(Name, Versions, MinVersion, TypeSet, BoolOut, Attr1, Attr2, ...) \
  struct Name##Op {                                                                  \
    using Types = TypeSet;                                                           \
    static constexpr bool kBoolOut = BoolOut;                                        \
    static constexpr AttrSpec kAttrs[2] = {Attr1, Attr2};                            \
    template <typename T>                                                            \
    using Out = std::conditional_t<kBoolOut, bool, T>;                               \
    template <typename T>                                                            \
    static Out<T> Apply(T x, const UnaryParams& p) {                                 \
      [[maybe_unused]] const T a = static_cast<T>(p.alpha);                          \
      [[maybe_unused]] const T b = static_cast<T>(p.beta);                           \
      return static_cast<Out<T>>(__VA_ARGS__);                                       \
    }                                                                                \
  };                                                                                 \
  ACCEL_ELEMENTWISE_OPDEF(Name, Versions, MinVersion, InferUnary, CreateUnary)

constexpr bool kSame = false;
constexpr bool kBool = true;
const AttrSpec kAlpha1 = FloatAttr("alpha", 1.0f);

// clang-format off
//          name             versions         min types         out    attribute a / b                         y = f(x)
ACCEL_UNARY(Abs,             (1, 6, 13),      1,  NumericTypes, kSame, kNoAttr, kNoAttr, AbsOf(x))
ACCEL_UNARY(Neg,             (1, 6, 13),      1,  SignedTypes,  kSame, kNoAttr, kNoAttr, NegOf(x))
ACCEL_UNARY(Exp,             (1, 6, 13),      1,  FloatTypes,   kSame, kNoAttr, kNoAttr, std::exp(x))
ACCEL_UNARY(Log,             (1, 6, 13),      1,  FloatTypes,   kSame, kNoAttr, kNoAttr, std::log(x))
ACCEL_UNARY(Sqrt,            (1, 6, 13),      1,  FloatTypes,   kSame, kNoAttr, kNoAttr, std::sqrt(x))
ACCEL_UNARY(Reciprocal,      (1, 6, 13),      1,  FloatTypes,   kSame, kNoAttr, kNoAttr, T(1) / x)
ACCEL_UNARY(Floor,           (1, 6, 13),      1,  FloatTypes,   kSame, kNoAttr, kNoAttr, std::floor(x))
ACCEL_UNARY(Ceil,            (1, 6, 13),      1,  FloatTypes,   kSame, kNoAttr, kNoAttr, std::ceil(x))
ACCEL_UNARY(Round,           (11, 22),        11, FloatTypes,   kSame, kNoAttr, kNoAttr, std::nearbyint(x))
ACCEL_UNARY(Sign,            (9, 13),         9,  NumericTypes, kSame, kNoAttr, kNoAttr, SignOf(x))
ACCEL_UNARY(Erf,             (9, 13),         9,  FloatTypes,   kSame, kNoAttr, kNoAttr, std::erf(x))
ACCEL_UNARY(Sin,             (7, 22),         7,  FloatTypes,   kSame, kNoAttr, kNoAttr, std::sin(x))
ACCEL_UNARY(Cos,             (7, 22),         7,  FloatTypes,   kSame, kNoAttr, kNoAttr, std::cos(x))
ACCEL_UNARY(Tan,             (7, 22),         7,  FloatTypes,   kSame, kNoAttr, kNoAttr, std::tan(x))
ACCEL_UNARY(Asin,            (7, 22),         7,  FloatTypes,   kSame, kNoAttr, kNoAttr, std::asin(x))
ACCEL_UNARY(Acos,            (7, 22),         7,  FloatTypes,   kSame, kNoAttr, kNoAttr, std::acos(x))
ACCEL_UNARY(Atan,            (7, 22),         7,  FloatTypes,   kSame, kNoAttr, kNoAttr, std::atan(x))
ACCEL_UNARY(Sinh,            (9, 22),         9,  FloatTypes,   kSame, kNoAttr, kNoAttr, std::sinh(x))
ACCEL_UNARY(Cosh,            (9, 22),         9,  FloatTypes,   kSame, kNoAttr, kNoAttr, std::cosh(x))
ACCEL_UNARY(Asinh,           (9, 22),         9,  FloatTypes,   kSame, kNoAttr, kNoAttr, std::asinh(x))
ACCEL_UNARY(Acosh,           (9, 22),         9,  FloatTypes,   kSame, kNoAttr, kNoAttr, std::acosh(x))
ACCEL_UNARY(Atanh,           (9, 22),         9,  FloatTypes,   kSame, kNoAttr, kNoAttr, std::atanh(x))
ACCEL_UNARY(Tanh,            (1, 6, 13),      1,  FloatTypes,   kSame, kNoAttr, kNoAttr, std::tanh(x))
ACCEL_UNARY(Sigmoid,         (1, 6, 13),      1,  FloatTypes,   kSame, kNoAttr, kNoAttr, T(1) / (T(1) + std::exp(-x)))
ACCEL_UNARY(Relu,            (1, 6, 13, 14),  1,  SignedTypes,  kSame, kNoAttr, kNoAttr, x > T(0) ? x : T(0))
ACCEL_UNARY(LeakyRelu,       (1, 6, 16),      1,  FloatTypes,   kSame, FloatAttr("alpha", 0.01f), kNoAttr, x >= T(0) ? x : a * x)
ACCEL_UNARY(Elu,             (1, 6, 22),      1,  FloatTypes,   kSame, kAlpha1, kNoAttr, x >= T(0) ? x : a * std::expm1(x))
ACCEL_UNARY(Selu,            (1, 6, 22),      1,  FloatTypes,   kSame, FloatAttr("alpha", 1.67326319217681884765625f),
                                                                       FloatAttr("gamma", 1.05070102214813232421875f),
                                                                       x > T(0) ? b * x : b * (a * std::exp(x) - a))
ACCEL_UNARY(Celu,            (12, 28),        12, FloatTypes,   kSame, kAlpha1, kNoAttr, std::max(T(0), x) + std::min(T(0), a * std::expm1(x / a)))
ACCEL_UNARY(HardSigmoid,     (1, 6, 22),      1,  FloatTypes,   kSame, FloatAttr("alpha", 0.2f), FloatAttr("beta", 0.5f),
                                                                       std::max(T(0), std::min(T(1), a * x + b)))
ACCEL_UNARY(HardSwish,       (14, 22),        14, FloatTypes,   kSame, kNoAttr, kNoAttr, x * std::max(T(0), std::min(T(1), x / T(6) + T(0.5))))
ACCEL_UNARY(Softplus,        (1, 22),         1,  FloatTypes,   kSame, kNoAttr, kNoAttr, SoftplusOf(x))
ACCEL_UNARY(Softsign,        (1, 22),         1,  FloatTypes,   kSame, kNoAttr, kNoAttr, x / (T(1) + std::abs(x)))
ACCEL_UNARY(ThresholdedRelu, (10, 22),        10, FloatTypes,   kSame, kAlpha1, kNoAttr, x > a ? x : T(0))
ACCEL_UNARY(Mish,            (18, 22),        18, FloatTypes,   kSame, kNoAttr, kNoAttr, x * std::tanh(SoftplusOf(x)))
ACCEL_UNARY(Gelu,            (20),            20, FloatTypes,   kSame, kGeluApproximate, kNoAttr, GeluOf(x, p.alpha != 0))
ACCEL_UNARY(Not,             (1),             1,  BoolTypes,    kSame, kNoAttr, kNoAttr, !x)
ACCEL_UNARY(IsNaN,           (9, 13, 20),     9,  FloatTypes,   kBool, kNoAttr, kNoAttr, std::isnan(x))
ACCEL_UNARY(IsInf,           (10, 20),        10, FloatTypes,   kBool, IntAttr("detect_negative", 1), IntAttr("detect_positive", 1),
                                                                       std::isinf(x) && (x > 0 ? p.beta != 0 : p.alpha != 0))
// clang-format on

// Identity forwards its input without copying.
class IdentityKernel final : public core::Kernel {
 public:
  Status Compute(core::KernelContext& ctx) override { return ctx.SetOutput(0, ctx.input(0)); }
};

Status InferIdentity(core::InferContext& ctx) {
  if (!ctx.has_input(0)) return InvalidModel("missing input 0");
  ctx.set_output(0, ctx.input_type(0));
  return Status::Ok();
}

Result<std::unique_ptr<core::Kernel>> CreateIdentity(const core::KernelInit& init) {
  return std::unique_ptr<core::Kernel>(std::make_unique<IdentityKernel>());
}

Status InferDropout(core::InferContext& ctx) {
  if (!ctx.has_input(0)) return InvalidModel("missing input 0");
  const core::TensorType& x = ctx.input_type(0);
  ctx.set_output(0, x);
  core::TensorType mask = x;
  // The mask had the data's dtype until opset 10, bool since.
  if (ctx.opset() >= 10) mask.dtype = DType::kBool;
  ctx.set_output(1, std::move(mask));
  return Status::Ok();
}

// Dropout computes the identity unless training_mode (opset 12+) is set with a nonzero ratio.
class DropoutKernel final : public core::Kernel {
 public:
  Status Compute(core::KernelContext& ctx) override {
    if (ctx.num_inputs() > 2 && ctx.has_input(2)) {
      ACCEL_ASSIGN_OR_RETURN(double training, ReadScalarAsDouble(ctx.input(2)));
      double ratio = 0.5;
      if (ctx.has_input(1)) {
        ACCEL_ASSIGN_OR_RETURN(ratio, ReadScalarAsDouble(ctx.input(1)));
      }
      if (training != 0 && ratio != 0) {
        return Unsupported("Dropout in training mode (random masks) is not supported");
      }
    }
    ACCEL_RETURN_IF_ERROR(ctx.SetOutput(0, ctx.input(0)));
    if (!ctx.has_output(1)) return Status::Ok();
    ACCEL_ASSIGN_OR_RETURN(Tensor * mask, ctx.Output(1));
    const int64_t n = mask->element_count();
    switch (mask->dtype()) {
      case DType::kBool:
        std::fill_n(mask->data_as<bool>(), n, true);
        return Status::Ok();
      case DType::kFloat32:
        std::fill_n(mask->data_as<float>(), n, 1.0f);
        return Status::Ok();
      case DType::kFloat64:
        std::fill_n(mask->data_as<double>(), n, 1.0);
        return Status::Ok();
      default:
        return UnsupportedDType(mask->dtype());
    }
  }
};

Result<std::unique_ptr<core::Kernel>> CreateDropout(const core::KernelInit& init) {
  return std::unique_ptr<core::Kernel>(std::make_unique<DropoutKernel>());
}

}  // namespace

const core::OpDef& IdentityOpDef() {
  static const core::OpDef def{
      "Identity", "", {1, 13, 14, 16, 19, 21, 23, 24, 25}, 1, InferIdentity, CreateIdentity};
  return def;
}

const core::OpDef& DropoutOpDef() {
  static const core::OpDef def{"Dropout", "",           {1, 6, 7, 10, 12, 13, 22},
                               1,         InferDropout, CreateDropout};
  return def;
}

}  // namespace accel::cpu
