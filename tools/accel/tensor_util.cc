#include "tensor_util.h"

#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "core/onnx_tensor.h"
#include "npy_io.h"

namespace accel::cli {
namespace {

float HalfToFloat(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  int exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  if (exp == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));
  if (exp == 0) {
    // Subnormal (or zero): mant * 2^-24.
    float v = std::ldexp(static_cast<float>(mant), -24);
    return sign ? -v : v;
  }
  return std::bit_cast<float>(sign | (static_cast<uint32_t>(exp + 112) << 23) | (mant << 13));
}

// Round-to-nearest conversion, enough for the small random values `accel run` generates.
uint16_t FloatToHalf(float f) {
  uint16_t sign = std::signbit(f) ? 0x8000 : 0;
  float a = std::fabs(f);
  if (std::isnan(f)) return sign | 0x7e00;
  if (a >= 65520.0f) return sign | 0x7c00;
  if (a < std::ldexp(1.0f, -14)) {
    return sign | static_cast<uint16_t>(std::lrint(std::ldexp(a, 24)));
  }
  int exp = 0;
  float m = std::frexp(a, &exp);                                     // a = m * 2^exp, m in [0.5, 1)
  auto mant = static_cast<uint32_t>(std::lrint(std::ldexp(m, 11)));  // 1024..2048
  if (mant == 2048) {
    mant = 1024;
    ++exp;
  }
  return sign | static_cast<uint16_t>(((exp + 14) << 10) | (mant - 1024));
}

uint16_t FloatToBFloat16(float f) {
  uint32_t bits = std::bit_cast<uint32_t>(f);
  if (std::isnan(f)) return static_cast<uint16_t>((bits >> 16) | 0x40);
  bits += 0x7fff + ((bits >> 16) & 1);
  return static_cast<uint16_t>(bits >> 16);
}

template <typename T>
T Load(const Tensor& t, int64_t i) {
  T v;
  std::memcpy(&v, static_cast<const std::byte*>(t.data()) + i * sizeof(T), sizeof(T));
  return v;
}

std::string FormatDouble(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.9g", v);
  return buf;
}

}  // namespace

Result<Tensor> LoadTensorFile(const std::string& path, std::string* pb_name) {
  if (pb_name) pb_name->clear();
  auto ends_with = [&](const char* ext) {
    size_t n = std::strlen(ext);
    return path.size() >= n && path.compare(path.size() - n, n, ext) == 0;
  };
  if (ends_with(".npy")) return ReadNpy(path);
  if (ends_with(".pb")) {
    std::string name;
    ACCEL_ASSIGN_OR_RETURN(Tensor t, core::ReadTensorFile(path, &name));
    if (pb_name) *pb_name = name;
    return t;
  }
  return InvalidArgument(path + ": unknown tensor file type (expected .npy or .pb)");
}

bool IsFloating(DType d) {
  return d == DType::kFloat32 || d == DType::kFloat64 || d == DType::kFloat16 ||
         d == DType::kBFloat16;
}

Result<Tensor> RandomTensor(DType dtype, const Shape& shape, std::mt19937_64& rng) {
  ACCEL_ASSIGN_OR_RETURN(Tensor t, Tensor::Create(dtype, shape));
  std::uniform_real_distribution<float> real(-1.0f, 1.0f);
  std::uniform_int_distribution<int> small(0, 4);
  std::bernoulli_distribution coin(0.5);
  auto* bytes = static_cast<std::byte*>(t.data());
  for (int64_t i = 0; i < t.element_count(); ++i) {
    std::byte* p = bytes + i * DTypeSize(dtype);
    auto store = [p](auto v) { std::memcpy(p, &v, sizeof(v)); };
    switch (dtype) {
      case DType::kFloat32:
        store(real(rng));
        break;
      case DType::kFloat64:
        store(static_cast<double>(real(rng)));
        break;
      case DType::kFloat16:
        store(FloatToHalf(real(rng)));
        break;
      case DType::kBFloat16:
        store(FloatToBFloat16(real(rng)));
        break;
      case DType::kBool:
        store(static_cast<uint8_t>(coin(rng)));
        break;
      case DType::kInt8:
        store(static_cast<int8_t>(small(rng)));
        break;
      case DType::kUInt8:
        store(static_cast<uint8_t>(small(rng)));
        break;
      case DType::kInt16:
        store(static_cast<int16_t>(small(rng)));
        break;
      case DType::kUInt16:
        store(static_cast<uint16_t>(small(rng)));
        break;
      case DType::kInt32:
        store(static_cast<int32_t>(small(rng)));
        break;
      case DType::kUInt32:
        store(static_cast<uint32_t>(small(rng)));
        break;
      case DType::kInt64:
        store(static_cast<int64_t>(small(rng)));
        break;
      case DType::kUInt64:
        store(static_cast<uint64_t>(small(rng)));
        break;
      case DType::kUndefined:
        return InvalidArgument("cannot make a random tensor of dtype undefined");
    }
  }
  return t;
}

double ElementAsDouble(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DType::kFloat32:
      return Load<float>(t, i);
    case DType::kFloat64:
      return Load<double>(t, i);
    case DType::kFloat16:
      return HalfToFloat(Load<uint16_t>(t, i));
    case DType::kBFloat16:
      return std::bit_cast<float>(static_cast<uint32_t>(Load<uint16_t>(t, i)) << 16);
    case DType::kBool:
      return Load<uint8_t>(t, i) != 0;
    case DType::kInt8:
      return Load<int8_t>(t, i);
    case DType::kUInt8:
      return Load<uint8_t>(t, i);
    case DType::kInt16:
      return Load<int16_t>(t, i);
    case DType::kUInt16:
      return Load<uint16_t>(t, i);
    case DType::kInt32:
      return Load<int32_t>(t, i);
    case DType::kUInt32:
      return Load<uint32_t>(t, i);
    case DType::kInt64:
      return static_cast<double>(Load<int64_t>(t, i));
    case DType::kUInt64:
      return static_cast<double>(Load<uint64_t>(t, i));
    case DType::kUndefined:
      return 0;
  }
  return 0;
}

std::string FormatElement(const Tensor& t, int64_t i) {
  if (IsFloating(t.dtype())) return FormatDouble(ElementAsDouble(t, i));
  if (t.dtype() == DType::kBool) return Load<uint8_t>(t, i) ? "true" : "false";
  if (t.dtype() == DType::kInt64) return std::to_string(Load<int64_t>(t, i));
  if (t.dtype() == DType::kUInt64) return std::to_string(Load<uint64_t>(t, i));
  return std::to_string(static_cast<int64_t>(ElementAsDouble(t, i)));
}

std::string FormatIndex(const Shape& shape, int64_t i) {
  std::vector<int64_t> index(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    if (shape[d] > 0) {
      index[d] = i % shape[d];
      i /= shape[d];
    }
  }
  return ShapeToString(index);
}

Summary Summarize(const Tensor& t) {
  Summary s;
  double sum = 0;
  int64_t n = 0;
  for (int64_t i = 0; i < t.element_count(); ++i) {
    double v = ElementAsDouble(t, i);
    if (std::isnan(v)) {
      ++s.nan_count;
      continue;
    }
    s.min = n == 0 ? v : std::min(s.min, v);
    s.max = n == 0 ? v : std::max(s.max, v);
    sum += v;
    ++n;
  }
  s.mean = n ? sum / static_cast<double>(n) : 0;
  return s;
}

}  // namespace accel::cli
