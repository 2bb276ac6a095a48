#include "backends/cpu/data_movement.h"

#include <cmath>

namespace accel::cpu::dm {

float HalfToFloat(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalize
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400) == 0);
      bits = sign | static_cast<uint32_t>(127 - 15 - e) << 23 | (mant & 0x3ff) << 13;
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | mant << 13;
  } else {
    bits = sign | (exp + 127 - 15) << 23 | mant << 13;
  }
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

uint16_t FloatToHalf(float f) {
  uint32_t x;
  std::memcpy(&x, &f, sizeof(x));
  uint32_t sign = (x >> 16) & 0x8000;
  uint32_t abs = x & 0x7fffffff;
  if (abs >= 0x7f800000u)
    return static_cast<uint16_t>(sign | 0x7c00 | (abs > 0x7f800000u ? 0x200 : 0));
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00);  // overflow to inf
  if (abs < 0x38800000u) {  // subnormal or zero in half: round to nearest even
    float v;
    std::memcpy(&v, &abs, sizeof(v));
    float scaled = v * 16777216.0f;  // 2^24: units of the smallest half subnormal
    return static_cast<uint16_t>(sign | static_cast<uint32_t>(std::nearbyint(scaled)));
  }
  uint32_t mant = abs & 0x7fffff;
  uint32_t exp = (abs >> 23) - 127 + 15;
  uint32_t h = exp << 10 | mant >> 13;
  uint32_t rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) ++h;  // may carry into the exponent: fine
  return static_cast<uint16_t>(sign | h);
}

uint16_t FloatToBFloat16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, sizeof(x));
  if ((x & 0x7fffffff) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40);
  x += 0x7fff + ((x >> 16) & 1);
  return static_cast<uint16_t>(x >> 16);
}

Result<double> ScalarAsDouble(const Tensor& t, int64_t i) {
  if (i < 0 || i >= t.element_count()) return InvalidModel("expected a non-empty scalar tensor");
  switch (t.dtype()) {
    case DType::kBool:
      return static_cast<double>(t.data_as<uint8_t>()[i] != 0);
    case DType::kFloat16:
      return static_cast<double>(HalfToFloat(t.data_as<uint16_t>()[i]));
    case DType::kBFloat16:
      return static_cast<double>(BFloat16ToFloat(t.data_as<uint16_t>()[i]));
    default:
      break;
  }
  double out = 0;
  ACCEL_RETURN_IF_ERROR(VisitNumeric(t.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    out = static_cast<double>(t.data_as<T>()[i]);
    return Status::Ok();
  }));
  return out;
}

Status StoreFromDouble(Tensor& t, int64_t i, double v) {
  switch (t.dtype()) {
    case DType::kBool:
      t.data_as<uint8_t>()[i] = v != 0;
      return Status::Ok();
    case DType::kFloat16:
      t.data_as<uint16_t>()[i] = FloatToHalf(static_cast<float>(v));
      return Status::Ok();
    case DType::kBFloat16:
      t.data_as<uint16_t>()[i] = FloatToBFloat16(static_cast<float>(v));
      return Status::Ok();
    default:
      break;
  }
  return VisitNumeric(t.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    t.data_as<T>()[i] = static_cast<T>(v);
    return Status::Ok();
  });
}

}  // namespace accel::cpu::dm
