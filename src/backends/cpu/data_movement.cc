#include "backends/cpu/data_movement.h"

#include <immintrin.h>

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

// Transposes an ni x nj block: element (i, j) moves from src + i * sizeof(T) + j * src_stride
// (bytes) to dst[i * dst_stride + j]. Reads are strided, writes contiguous.
template <typename T>
void ScalarBlock(T* dst, int64_t dst_stride, const uint8_t* src, int64_t src_stride, int64_t ni,
                 int64_t nj) {
  for (int64_t i = 0; i < ni; ++i) {
    const uint8_t* si = src + i * static_cast<int64_t>(sizeof(T));
    T* di = dst + i * dst_stride;
    for (int64_t j = 0; j < nj; ++j) std::memcpy(di + j, si + j * src_stride, sizeof(T));
  }
}

// ScalarBlock for 4-byte elements, in registers where the CPU allows.
using Block4Fn = void (*)(uint32_t* dst, int64_t dst_stride, const uint8_t* src, int64_t src_stride,
                          int64_t ni, int64_t nj);

// GCC 12's AVX-512 shuffle intrinsics pass _mm512_undefined_ps() as the unused merge source,
// which -Wmaybe-uninitialized reports at every call (GCC bug 105593).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

// In-register transpose of 16 rows of 16 floats: afterwards r[c] holds column c.
[[gnu::target("avx512f"), gnu::always_inline]] inline void Transpose16(__m512 (&r)[16]) {
  __m512 t[16];
  for (int k = 0; k < 16; k += 2) {  // pairs of rows interleaved within each 128-bit lane
    t[k] = _mm512_unpacklo_ps(r[k], r[k + 1]);
    t[k + 1] = _mm512_unpackhi_ps(r[k], r[k + 1]);
  }
  __m512 u[16];  // u[4m + q], lane l: column 4l + q of rows 4m .. 4m + 3
  for (int m = 0; m < 16; m += 4) {
    for (int h = 0; h < 2; ++h) {
      __m512d a = _mm512_castps_pd(t[m + h]);
      __m512d b = _mm512_castps_pd(t[m + h + 2]);
      u[m + 2 * h] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
      u[m + 2 * h + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
    }
  }
  for (int q = 0; q < 4; ++q) {  // 4x4 transpose of the 128-bit lanes of u[q], u[4+q], ...
    __m512 v0 = _mm512_shuffle_f32x4(u[q], u[4 + q], 0x44);
    __m512 v1 = _mm512_shuffle_f32x4(u[q], u[4 + q], 0xee);
    __m512 v2 = _mm512_shuffle_f32x4(u[8 + q], u[12 + q], 0x44);
    __m512 v3 = _mm512_shuffle_f32x4(u[8 + q], u[12 + q], 0xee);
    r[q] = _mm512_shuffle_f32x4(v0, v2, 0x88);
    r[4 + q] = _mm512_shuffle_f32x4(v0, v2, 0xdd);
    r[8 + q] = _mm512_shuffle_f32x4(v1, v3, 0x88);
    r[12 + q] = _mm512_shuffle_f32x4(v1, v3, 0xdd);
  }
}

// Ragged blocks use masked loads and stores, so no element outside the ni x nj block is touched.
[[gnu::target("avx512f")]] void Block4Avx512(uint32_t* dst, int64_t dst_stride, const uint8_t* src,
                                             int64_t src_stride, int64_t ni, int64_t nj) {
  for (int64_t i0 = 0; i0 < ni; i0 += 16) {
    const int mi = static_cast<int>(std::min<int64_t>(16, ni - i0));
    const auto load_mask = static_cast<__mmask16>((1u << mi) - 1);
    for (int64_t j0 = 0; j0 < nj; j0 += 16) {
      const int mj = static_cast<int>(std::min<int64_t>(16, nj - j0));
      const uint8_t* s = src + i0 * 4 + j0 * src_stride;
      float* d = reinterpret_cast<float*>(dst + i0 * dst_stride + j0);
      __m512 r[16];
      if (mi == 16 && mj == 16) {
        // Stepping one pointer keeps GCC from holding 16 row pointers (spilled) per block.
        for (int q = 0; q < 16; ++q, s += src_stride) r[q] = _mm512_loadu_ps(s);
        Transpose16(r);
        for (int c = 0; c < 16; ++c, d += dst_stride) _mm512_storeu_ps(d, r[c]);
        continue;
      }
      for (int q = 0; q < 16; ++q) {
        r[q] = q < mj ? _mm512_maskz_loadu_ps(load_mask, s + q * src_stride) : _mm512_setzero_ps();
      }
      Transpose16(r);
      const auto store_mask = static_cast<__mmask16>((1u << mj) - 1);
      for (int c = 0; c < mi; ++c) _mm512_mask_storeu_ps(d + c * dst_stride, store_mask, r[c]);
    }
  }
}

#pragma GCC diagnostic pop

// Full 8x8 blocks in registers; the ragged right and bottom strips go through ScalarBlock.
[[gnu::target("avx2")]] void Block4Avx2(uint32_t* dst, int64_t dst_stride, const uint8_t* src,
                                        int64_t src_stride, int64_t ni, int64_t nj) {
  const int64_t ni8 = ni / 8 * 8, nj8 = nj / 8 * 8;
  for (int64_t i0 = 0; i0 < ni8; i0 += 8) {
    for (int64_t j0 = 0; j0 < nj8; j0 += 8) {
      const uint8_t* s = src + i0 * 4 + j0 * src_stride;
      float* d = reinterpret_cast<float*>(dst + i0 * dst_stride + j0);
      __m256 r[8], t[8], u[8];
      for (int q = 0; q < 8; ++q, s += src_stride) {
        r[q] = _mm256_loadu_ps(reinterpret_cast<const float*>(s));
      }
      for (int k = 0; k < 8; k += 2) {
        t[k] = _mm256_unpacklo_ps(r[k], r[k + 1]);
        t[k + 1] = _mm256_unpackhi_ps(r[k], r[k + 1]);
      }
      // u[4m + q], lane l: column 4l + q of rows 4m .. 4m + 3.
      for (int m = 0; m < 8; m += 4) {
        for (int h = 0; h < 2; ++h) {
          u[m + 2 * h] = _mm256_shuffle_ps(t[m + h], t[m + h + 2], 0x44);
          u[m + 2 * h + 1] = _mm256_shuffle_ps(t[m + h], t[m + h + 2], 0xee);
        }
      }
      for (int q = 0; q < 4; ++q) {
        _mm256_storeu_ps(d + q * dst_stride, _mm256_permute2f128_ps(u[q], u[4 + q], 0x20));
        _mm256_storeu_ps(d + (4 + q) * dst_stride, _mm256_permute2f128_ps(u[q], u[4 + q], 0x31));
      }
    }
  }
  ScalarBlock(dst + nj8, dst_stride, src + nj8 * src_stride, src_stride, ni8, nj - nj8);
  ScalarBlock(dst + ni8 * dst_stride, dst_stride, src + ni8 * 4, src_stride, ni - ni8, nj);
}

void Block4Scalar(uint32_t* dst, int64_t dst_stride, const uint8_t* src, int64_t src_stride,
                  int64_t ni, int64_t nj) {
  ScalarBlock(dst, dst_stride, src, src_stride, ni, nj);
}

Block4Fn PickBlock4() {
  if (__builtin_cpu_supports("avx512f")) return &Block4Avx512;
  if (__builtin_cpu_supports("avx2")) return &Block4Avx2;
  return &Block4Scalar;
}

Block4Fn forced_block4 = nullptr;  // SetTransposeIsaForTesting

Block4Fn Block4() {
  static const Block4Fn picked = PickBlock4();
  return forced_block4 ? forced_block4 : picked;
}

// Copies n 4-byte elements with non-temporal stores where dst is 16-byte aligned: no read of the
// destination lines first, and no eviction of the working set for them.
void StreamCopy(uint32_t* dst, const uint32_t* src, int64_t n) {
  int64_t i = 0;
  for (; i < n && reinterpret_cast<uintptr_t>(dst + i) % 16 != 0; ++i) dst[i] = src[i];
  for (; i + 4 <= n; i += 4) {
    _mm_stream_si128(reinterpret_cast<__m128i*>(dst + i),
                     _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i)));
  }
  for (; i < n; ++i) dst[i] = src[i];
  _mm_sfence();  // the stores are weakly ordered: publish them before the OpenMP barrier
}

// 4-byte transposes at least this large write through a scratch strip with non-temporal stores:
// the output exceeds a core's L2 then, and in a model run (yolox_nano's 1.2 MB head Transpose)
// its lines are usually cold, so ordinary stores would first read every line from memory.
constexpr int64_t kStreamMinBytes = int64_t{1} << 20;
constexpr int64_t kStrip = 64;                    // output rows per work unit, 4-byte elements
constexpr int64_t kScratchElems = int64_t{8192};  // 32 KiB of stack per thread

// A transpose-like copy: output dim `k` is contiguous in the source (stride = one element) while
// the innermost output dim is strided. 4-byte elements go in strips of kStrip output rows across
// the whole inner dim (each source cache line is used whole, the strip's output is written in
// order); other sizes in 32x32 tiles. The work is split over (outer index, strip) so that a single
// large matrix still uses every thread.
template <typename T>
void TiledCopy(uint8_t* dst, const uint8_t* src, const DimVector& dims, const DimVector& strides,
               size_t k, int64_t inner, int64_t inner_stride) {
  constexpr bool kFour = sizeof(T) == 4;
  const int64_t tile_i = kFour ? kStrip : 32;
  const int64_t tile_j = kFour ? inner : 32;
  // Output strides (elements) of the outer dims; the inner dim has output stride 1.
  DimVector out_strides(dims.size());
  int64_t acc = inner;
  for (int64_t d = static_cast<int64_t>(dims.size()) - 1; d >= 0; --d) {
    out_strides[d] = acc;
    acc *= dims[d];
  }
  const int64_t rows = dims[k];
  const int64_t out_row = out_strides[k];
  const int64_t rest_count = ElementCount(dims) / rows;
  const int64_t row_tiles = (rows + tile_i - 1) / tile_i;
  const int64_t units = rest_count * row_tiles;
  const int64_t bytes = rest_count * rows * inner * static_cast<int64_t>(sizeof(T));
  const bool parallel = units > 1 && bytes >= (int64_t{1} << 16);
  // Streaming needs each strip's output to be one contiguous range.
  const bool stream =
      kFour && bytes >= kStreamMinBytes && out_row == inner && kStrip * inner <= kScratchElems;
  const Block4Fn block4 = Block4();
#pragma omp parallel for if (parallel)
  for (int64_t unit = 0; unit < units; ++unit) {
    int64_t src_off = 0, dst_off = 0, rest = unit / row_tiles;
    for (int64_t d = static_cast<int64_t>(dims.size()) - 1; d >= 0; --d) {
      if (static_cast<size_t>(d) == k) continue;
      int64_t i = rest % dims[d];
      rest /= dims[d];
      src_off += i * strides[d];
      dst_off += i * out_strides[d];
    }
    const int64_t i0 = unit % row_tiles * tile_i;
    const int64_t ni = std::min(tile_i, rows - i0);
    const uint8_t* s = src + src_off + i0 * static_cast<int64_t>(sizeof(T));
    T* o = reinterpret_cast<T*>(dst) + dst_off + i0 * out_row;
    if constexpr (kFour) {
      if (stream) {
        alignas(64) uint32_t scratch[kScratchElems];
        block4(scratch, inner, s, inner_stride, ni, inner);
        StreamCopy(o, scratch, ni * inner);
      } else {
        block4(o, out_row, s, inner_stride, ni, inner);
      }
    } else {
      for (int64_t j0 = 0; j0 < inner; j0 += tile_j) {
        ScalarBlock(o + j0, out_row, s + j0 * inner_stride, inner_stride, ni,
                    std::min(tile_j, inner - j0));
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

bool SetTransposeIsaForTesting(std::string_view isa) {
  if (isa.empty()) {
    forced_block4 = nullptr;
  } else if (isa == "scalar") {
    forced_block4 = &Block4Scalar;
  } else if (isa == "avx2" && __builtin_cpu_supports("avx2")) {
    forced_block4 = &Block4Avx2;
  } else if (isa == "avx512" && __builtin_cpu_supports("avx512f")) {
    forced_block4 = &Block4Avx512;
  } else {
    return false;
  }
  return true;
}

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
    CopyStridedRow(out + o * row_bytes, in + offset, inner, inner_stride, block);
  }
}

void CopyStridedRow(void* dst, const void* src, int64_t n, int64_t src_stride, size_t elem_size) {
  auto* d = static_cast<uint8_t*>(dst);
  const auto* s = static_cast<const uint8_t*>(src);
  switch (elem_size) {
    case 1:
      CopyRow<uint8_t>(d, s, n, src_stride);
      break;
    case 2:
      CopyRow<uint16_t>(d, s, n, src_stride);
      break;
    case 4:
      CopyRow<uint32_t>(d, s, n, src_stride);
      break;
    case 8:
      CopyRow<uint64_t>(d, s, n, src_stride);
      break;
    default:
      for (int64_t i = 0; i < n; ++i) std::memcpy(d + i * elem_size, s + i * src_stride, elem_size);
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
