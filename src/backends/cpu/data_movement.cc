#include "backends/cpu/data_movement.h"

#include <algorithm>
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

namespace {

template <typename T>
void CopyRow(uint8_t* dst, const uint8_t* src, int64_t n, int64_t stride) {
  T* d = reinterpret_cast<T*>(dst);
  if (stride == 2 * static_cast<int64_t>(sizeof(T))) {
    // Every other element (Slice with step 2, as in YOLO's Focus): a constant stride the
    // compiler turns into vector shuffles.
    for (int64_t i = 0; i < n; ++i) std::memcpy(d + i, src + 2 * i * sizeof(T), sizeof(T));
    return;
  }
  for (int64_t i = 0; i < n; ++i) std::memcpy(d + i, src + i * stride, sizeof(T));
}

// A transpose-like copy: output dim `k` is contiguous in the source (stride = one element) while
// the innermost output dim is strided. Copying in square tiles keeps both sides in cache.
template <typename T>
void TiledCopy(uint8_t* dst, const uint8_t* src, const DimVector& dims, const DimVector& strides,
               size_t k, int64_t inner, int64_t inner_stride) {
  constexpr int64_t kTile = 32;
  // Output strides (elements) of the outer dims; the inner dim has output stride 1.
  DimVector out_strides(dims.size());
  int64_t acc = inner;
  for (int64_t d = static_cast<int64_t>(dims.size()) - 1; d >= 0; --d) {
    out_strides[d] = acc;
    acc *= dims[d];
  }
  int64_t rows = dims[k];
  int64_t out_row = out_strides[k];
  int64_t rest_count = ElementCount(dims) / rows;
  bool parallel = rest_count > 1 && rest_count * rows * inner * sizeof(T) >= (int64_t{1} << 16);
#pragma omp parallel for if (parallel)
  for (int64_t r = 0; r < rest_count; ++r) {
    int64_t src_off = 0, dst_off = 0, rest = r;
    for (int64_t d = static_cast<int64_t>(dims.size()) - 1; d >= 0; --d) {
      if (static_cast<size_t>(d) == k) continue;
      int64_t i = rest % dims[d];
      rest /= dims[d];
      src_off += i * strides[d];
      dst_off += i * out_strides[d];
    }
    const uint8_t* s = src + src_off;
    T* o = reinterpret_cast<T*>(dst) + dst_off;
    for (int64_t i0 = 0; i0 < rows; i0 += kTile) {
      int64_t i1 = std::min(rows, i0 + kTile);
      for (int64_t j0 = 0; j0 < inner; j0 += kTile) {
        int64_t j1 = std::min(inner, j0 + kTile);
        for (int64_t i = i0; i < i1; ++i) {
          const uint8_t* si = s + i * static_cast<int64_t>(sizeof(T));
          T* oi = o + i * out_row;
          for (int64_t j = j0; j < j1; ++j) std::memcpy(oi + j, si + j * inner_stride, sizeof(T));
        }
      }
    }
  }
}

template <typename T>
bool TryTiled(uint8_t* dst, const uint8_t* src, const DimVector& dims, const DimVector& strides,
              int64_t inner, int64_t inner_stride) {
  for (size_t k = 0; k < dims.size(); ++k) {
    if (strides[k] == static_cast<int64_t>(sizeof(T)) && dims[k] >= 4 && inner >= 4) {
      TiledCopy<T>(dst, src, dims, strides, k, inner, inner_stride);
      return true;
    }
  }
  return false;
}

}  // namespace

void StridedCopy(void* dst, const void* src, std::span<const int64_t> dims_in,
                 std::span<const int64_t> strides_in, size_t elem_size) {
  DimVector dims;
  DimVector strides;
  for (size_t i = 0; i < dims_in.size(); ++i) {
    if (dims_in[i] == 0) return;
    if (dims_in[i] == 1) continue;
    // Merge with the previous dim when stepping over it lands exactly on the next block.
    if (!dims.empty() && strides.back() == strides_in[i] * dims_in[i]) {
      dims.back() *= dims_in[i];
      strides.back() = strides_in[i];
      continue;
    }
    dims.push_back(dims_in[i]);
    strides.push_back(strides_in[i]);
  }
  int64_t block = static_cast<int64_t>(elem_size);
  if (!dims.empty() && strides.back() == block) {
    block *= dims.back();
    dims.pop_back();
    strides.pop_back();
  }
  int64_t inner = dims.empty() ? 1 : dims.back();
  int64_t inner_stride = dims.empty() ? 0 : strides.back();
  if (!dims.empty()) {
    dims.pop_back();
    strides.pop_back();
  }
  int64_t outer = ElementCount(dims);
  auto* out = static_cast<uint8_t*>(dst);
  const auto* in = static_cast<const uint8_t*>(src);
  if ((block == 4 && TryTiled<uint32_t>(out, in, dims, strides, inner, inner_stride)) ||
      (block == 2 && TryTiled<uint16_t>(out, in, dims, strides, inner, inner_stride)) ||
      (block == 1 && TryTiled<uint8_t>(out, in, dims, strides, inner, inner_stride)) ||
      (block == 8 && TryTiled<uint64_t>(out, in, dims, strides, inner, inner_stride))) {
    return;
  }
  int64_t row_bytes = inner * block;
  bool parallel = outer > 1 && outer * row_bytes >= (int64_t{1} << 16);
#pragma omp parallel for if (parallel)
  for (int64_t o = 0; o < outer; ++o) {
    int64_t offset = 0;
    int64_t rest = o;
    for (int64_t k = static_cast<int64_t>(dims.size()) - 1; k >= 0; --k) {
      offset += (rest % dims[k]) * strides[k];
      rest /= dims[k];
    }
    const uint8_t* s = in + offset;
    uint8_t* d = out + o * row_bytes;
    switch (block) {
      case 1:
        CopyRow<uint8_t>(d, s, inner, inner_stride);
        break;
      case 2:
        CopyRow<uint16_t>(d, s, inner, inner_stride);
        break;
      case 4:
        CopyRow<uint32_t>(d, s, inner, inner_stride);
        break;
      case 8:
        CopyRow<uint64_t>(d, s, inner, inner_stride);
        break;
      default:
        for (int64_t i = 0; i < inner; ++i) std::memcpy(d + i * block, s + i * inner_stride, block);
    }
  }
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

Status CheckElementsShapes(std::span<const int64_t> data_dims, std::span<const int64_t> idx_dims,
                           int64_t axis) {
  if (data_dims.size() != idx_dims.size()) {
    return InvalidModel("data and indices have different ranks");
  }
  for (size_t d = 0; d < data_dims.size(); ++d) {
    if (static_cast<int64_t>(d) != axis && idx_dims[d] > data_dims[d]) {
      return InvalidModel("indices shape " + ShapeToString(idx_dims) + " exceeds data shape " +
                          ShapeToString(data_dims) + " outside the axis");
    }
  }
  return Status::Ok();
}

}  // namespace accel::cpu::dm
