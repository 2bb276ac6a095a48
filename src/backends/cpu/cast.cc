// Cast and CastLike among the numeric dtypes and bool, with float16/bfloat16 conversion
// (round to nearest even).
#include <bit>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>

#include "backends/cpu/elementwise_util.h"
#include "core/op_def.h"

namespace accel::cpu {

namespace {

// 16-bit float storage types, distinct from uint16_t so dispatch can tell them apart.
struct Half {
  uint16_t bits;
};
struct BFloat16 {
  uint16_t bits;
};

}  // namespace

template <>
constexpr DType DTypeOf<Half>() {
  return DType::kFloat16;
}
template <>
constexpr DType DTypeOf<BFloat16>() {
  return DType::kBFloat16;
}

namespace {

uint16_t FloatToHalfBits(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint32_t abs = x & 0x7fffffff;
  if (abs >= 0x7f800000) return sign | (abs > 0x7f800000 ? 0x7e00 : 0x7c00);  // NaN, inf
  if (abs >= 0x477ff000) return sign | 0x7c00;  // >= 65520 rounds to inf
  if (abs < 0x38800000) {
    // Subnormal half: the value in units of 2^-24, rounded to nearest even.
    const float units = std::bit_cast<float>(abs) * 16777216.0f;
    return sign | static_cast<uint16_t>(std::nearbyint(units));
  }
  // Normal: round the 13 dropped mantissa bits to nearest even, then rebias 127 -> 15.
  const uint32_t rounded = abs + 0xfff + ((abs >> 13) & 1);
  return sign | static_cast<uint16_t>((rounded - 0x38000000) >> 13);
}

float HalfBitsToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1f;
  const uint32_t mant = h & 0x3ff;
  if (exp == 0) {
    const float v = static_cast<float>(mant) * (1.0f / 16777216.0f);
    return sign ? -v : v;
  }
  const uint32_t bits =
      exp == 31 ? sign | 0x7f800000 | (mant << 13) : sign | ((exp + 112) << 23) | (mant << 13);
  return std::bit_cast<float>(bits);
}

uint16_t FloatToBFloat16Bits(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7fffffff) > 0x7f800000) return static_cast<uint16_t>((x >> 16) | 0x40);  // quiet NaN
  return static_cast<uint16_t>((x + 0x7fff + ((x >> 16) & 1)) >> 16);
}

float BFloat16BitsToFloat(uint16_t b) {
  return std::bit_cast<float>(static_cast<uint32_t>(b) << 16);
}

// Float to integer saturates (NaN gives 0): the spec leaves out-of-range values undefined and
// a plain C++ conversion would be undefined behaviour.
template <typename To, typename From>
To FloatToInt(From v) {
  if (std::isnan(v)) return 0;
  if (v <= static_cast<From>(std::numeric_limits<To>::lowest())) {
    return std::numeric_limits<To>::lowest();
  }
  if (v >= static_cast<From>(std::numeric_limits<To>::max())) {
    return std::numeric_limits<To>::max();
  }
  return static_cast<To>(v);
}

template <typename To, typename From>
To Convert(From v) {
  if constexpr (std::is_same_v<From, Half>) {
    return Convert<To>(HalfBitsToFloat(v.bits));
  } else if constexpr (std::is_same_v<From, BFloat16>) {
    return Convert<To>(BFloat16BitsToFloat(v.bits));
  } else if constexpr (std::is_same_v<To, Half>) {
    return Half{FloatToHalfBits(static_cast<float>(v))};
  } else if constexpr (std::is_same_v<To, BFloat16>) {
    return BFloat16{FloatToBFloat16Bits(static_cast<float>(v))};
  } else if constexpr (std::is_same_v<To, bool>) {
    return v != From(0);
  } else if constexpr (std::is_floating_point_v<From> && std::is_integral_v<To>) {
    return FloatToInt<To>(v);
  } else {
    return static_cast<To>(v);
  }
}

using CastTypes = TypeList<float, double, Half, BFloat16, int8_t, uint8_t, int16_t, uint16_t,
                           int32_t, uint32_t, int64_t, uint64_t, bool>;

using CastFn = void (*)(const void* in, void* out, int64_t n);

template <typename From, typename To>
void CastLoop(const void* in, void* out, int64_t n) {
  const From* x = static_cast<const From*>(in);
  To* y = static_cast<To*>(out);
#pragma omp parallel for schedule(static) if (n >= kParallelMinElements)
  for (int64_t i = 0; i < n; ++i) y[i] = Convert<To>(x[i]);
}

Result<CastFn> FindCast(DType from, DType to) {
  CastFn fn = nullptr;
  VisitDType(CastTypes{}, from, [&](auto f) {
    VisitDType(CastTypes{}, to, [&](auto t) {
      fn = &CastLoop<typename decltype(f)::type, typename decltype(t)::type>;
    });
  });
  if (!fn) {
    return Unsupported(std::string("Cast from ") + DTypeName(from) + " to " + DTypeName(to) +
                       " is not supported");
  }
  return fn;
}

class CastKernel final : public core::Kernel {
 public:
  explicit CastKernel(DType to) : to_(to) {}

  Status Compute(core::KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    if (x.dtype() == to_) return ctx.SetOutput(0, x);
    ACCEL_ASSIGN_OR_RETURN(CastFn fn, FindCast(x.dtype(), to_));
    ACCEL_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0));
    if (x.element_count() > 0) fn(x.data(), y->data(), x.element_count());
    return Status::Ok();
  }

 private:
  DType to_;
};

bool IsCastType(DType d) {
  bool found = false;
  VisitDType(CastTypes{}, d, [&](auto) { found = true; });
  return found;
}

Result<DType> CastTarget(const core::InferContext& ctx) {
  ACCEL_ASSIGN_OR_RETURN(int64_t to, ctx.attrs().RequireInt("to"));
  const DType d = static_cast<DType>(to);
  if (to < 0 || to > 64 || !IsCastType(d)) {
    return Unsupported("Cast to ONNX data type " + std::to_string(to) + " is not supported");
  }
  return d;
}

Status InferCast(core::InferContext& ctx) {
  if (!ctx.has_input(0)) return InvalidModel("missing input 0");
  core::TensorType t = ctx.input_type(0);
  ACCEL_ASSIGN_OR_RETURN(t.dtype, CastTarget(ctx));
  ctx.set_output(0, std::move(t));
  return Status::Ok();
}

Status InferCastLike(core::InferContext& ctx) {
  if (!ctx.has_input(0) || !ctx.has_input(1)) return InvalidModel("expects 2 inputs");
  core::TensorType t = ctx.input_type(0);
  t.dtype = ctx.input_type(1).dtype;
  ctx.set_output(0, std::move(t));
  return Status::Ok();
}

Result<std::unique_ptr<core::Kernel>> CreateCast(const core::KernelInit& init) {
  if (!init.has_input(0)) return InvalidModel("missing input 0");
  DType to = DType::kUndefined;
  if (init.node.op_type == "CastLike") {
    if (!init.has_input(1)) return InvalidModel("expects 2 inputs");
    to = init.input_types[1]->dtype;
  } else {
    ACCEL_ASSIGN_OR_RETURN(int64_t attr, init.attrs.RequireInt("to"));
    to = static_cast<DType>(attr);
  }
  if (!IsCastType(to)) return UnsupportedDType(to);
  const DType from = init.input_types[0]->dtype;
  if (from != DType::kUndefined && from != to) ACCEL_RETURN_IF_ERROR(FindCast(from, to).status());
  return std::unique_ptr<core::Kernel>(std::make_unique<CastKernel>(to));
}

}  // namespace

const core::OpDef& CastOpDef() {
  static const core::OpDef def{"Cast", "",        {1, 6, 9, 13, 19, 21, 23, 24, 25, 28},
                               6,      InferCast, CreateCast};
  return def;
}

const core::OpDef& CastLikeOpDef() {
  static const core::OpDef def{"CastLike",    "",        {15, 19, 21, 23, 24, 25}, 15,
                               InferCastLike, CreateCast};
  return def;
}

}  // namespace accel::cpu
