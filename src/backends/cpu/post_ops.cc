#include "backends/cpu/post_ops.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "backends/cpu/elementwise_util.h"
#include "core/fused_ops.h"

namespace accel::cpu {

namespace {

using dnnl::algorithm;

constexpr std::pair<std::string_view, FusedActivation> kNames[] = {
    {"Relu", FusedActivation::kRelu},
    {"LeakyRelu", FusedActivation::kLeakyRelu},
    {"Clip", FusedActivation::kClip},
    {"Sigmoid", FusedActivation::kSigmoid},
    {"HardSigmoid", FusedActivation::kHardSigmoid},
    {"HardSwish", FusedActivation::kHardSwish},
    {"SiLU", FusedActivation::kSiLU},
    {"Gelu", FusedActivation::kGelu},
    {"GeluTanh", FusedActivation::kGeluTanh},
    {"Tanh", FusedActivation::kTanh},
};

float Sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

float Activate(const FusedPostOps& ops, float x) {
  switch (ops.activation) {
    case FusedActivation::kNone:
      return x;
    case FusedActivation::kRelu:
      return std::max(x, 0.0f);
    case FusedActivation::kLeakyRelu:
      return x < 0.0f ? ops.alpha * x : x;
    case FusedActivation::kClip:
      return std::min(std::max(x, ops.alpha), ops.beta);
    case FusedActivation::kSigmoid:
      return Sigmoid(x);
    case FusedActivation::kHardSigmoid:
      return std::clamp(ops.alpha * x + ops.beta, 0.0f, 1.0f);
    case FusedActivation::kHardSwish:
      return x * std::clamp(x / 6.0f + 0.5f, 0.0f, 1.0f);
    case FusedActivation::kSiLU:
      return x * Sigmoid(x);
    case FusedActivation::kGelu:
      return 0.5f * x * (1.0f + std::erf(x / std::sqrt(2.0f)));
    case FusedActivation::kGeluTanh: {
      const float c = std::sqrt(2.0f / 3.14159265358979f);
      return 0.5f * x * (1.0f + std::tanh(c * (x + 0.044715f * x * x * x)));
    }
    case FusedActivation::kTanh:
      return std::tanh(x);
  }
  return x;
}

}  // namespace

Result<FusedPostOps> ParseFusedPostOps(const core::Attributes& attrs) {
  FusedPostOps ops;
  ACCEL_ASSIGN_OR_RETURN(std::string name, attrs.GetString(core::kFusedActivationAttr, ""));
  if (!name.empty()) {
    auto it = std::find_if(std::begin(kNames), std::end(kNames),
                           [&](const auto& entry) { return entry.first == name; });
    if (it == std::end(kNames)) {
      return InvalidModel("unknown fused activation '" + name + "'");
    }
    ops.activation = it->second;
  }
  ACCEL_ASSIGN_OR_RETURN(ops.alpha, attrs.GetFloat(core::kFusedAlphaAttr, 0.0f));
  ACCEL_ASSIGN_OR_RETURN(ops.beta, attrs.GetFloat(core::kFusedBetaAttr, 0.0f));
  ACCEL_ASSIGN_OR_RETURN(int64_t sum, attrs.GetInt(core::kFusedSumAttr, 0));
  if (sum < 0 || sum > 2) {
    return InvalidModel(std::string(core::kFusedSumAttr) + " must be 0, 1 or 2, got " +
                        std::to_string(sum));
  }
  ops.sum = sum != 0;
  ops.sum_after_activation = sum == 2;
  return ops;
}

void AppendFusedPostOps(const FusedPostOps& ops, dnnl::post_ops& post_ops) {
  if (ops.sum && !ops.sum_after_activation) post_ops.append_sum(1.0f);
  switch (ops.activation) {
    case FusedActivation::kNone:
      break;
    case FusedActivation::kRelu:
      post_ops.append_eltwise(1.0f, algorithm::eltwise_relu, 0.0f, 0.0f);
      break;
    case FusedActivation::kLeakyRelu:
      post_ops.append_eltwise(1.0f, algorithm::eltwise_relu, ops.alpha, 0.0f);
      break;
    case FusedActivation::kClip:
      post_ops.append_eltwise(1.0f, algorithm::eltwise_clip, ops.alpha, ops.beta);
      break;
    case FusedActivation::kSigmoid:
      post_ops.append_eltwise(1.0f, algorithm::eltwise_logistic, 0.0f, 0.0f);
      break;
    case FusedActivation::kHardSigmoid:
      // oneDNN 2.6 has no hardsigmoid: alpha * x + beta, then clipped to [0, 1].
      post_ops.append_eltwise(1.0f, algorithm::eltwise_linear, ops.alpha, ops.beta);
      post_ops.append_eltwise(1.0f, algorithm::eltwise_clip, 0.0f, 1.0f);
      break;
    case FusedActivation::kHardSwish:
      post_ops.append_eltwise(1.0f, algorithm::eltwise_hardswish, 0.0f, 0.0f);
      break;
    case FusedActivation::kSiLU:
      post_ops.append_eltwise(1.0f, algorithm::eltwise_swish, 1.0f, 0.0f);
      break;
    case FusedActivation::kGelu:
      post_ops.append_eltwise(1.0f, algorithm::eltwise_gelu_erf, 0.0f, 0.0f);
      break;
    case FusedActivation::kGeluTanh:
      post_ops.append_eltwise(1.0f, algorithm::eltwise_gelu_tanh, 0.0f, 0.0f);
      break;
    case FusedActivation::kTanh:
      post_ops.append_eltwise(1.0f, algorithm::eltwise_tanh, 0.0f, 0.0f);
      break;
  }
  if (ops.sum && ops.sum_after_activation) post_ops.append_sum(1.0f);
}

Status CheckFusedAddend(const core::InferContext& ctx, const FusedPostOps& ops, size_t index,
                        const core::TensorType& output) {
  if (!ops.sum) return Status::Ok();
  if (!ctx.has_input(index)) {
    return InvalidModel("fused sum needs input " + std::to_string(index));
  }
  const core::TensorType& addend = ctx.input_type(index);
  if (addend.dtype != output.dtype) {
    return InvalidModel("fused sum input " + addend.ToString() + " differs in dtype from the " +
                        "output " + output.ToString());
  }
  if (!addend.has_shape || !output.has_shape) return Status::Ok();
  bool ok = addend.rank() == output.rank();
  for (int64_t i = 0; ok && i < addend.rank(); ++i) {
    ok = addend.dims[i] < 0 || output.dims[i] < 0 || addend.dims[i] == output.dims[i];
  }
  if (!ok) {
    return InvalidModel("fused sum input " + addend.ToString() + " does not match the output " +
                        output.ToString());
  }
  return Status::Ok();
}

Status CheckFusedAddend(const Tensor& addend, const Tensor& dst) {
  if (addend.dtype() != DType::kFloat32 || addend.shape() != dst.shape()) {
    return InvalidArgument("fused sum input " + std::string(DTypeName(addend.dtype())) +
                           ShapeToString(addend.shape()) + " does not match the output " +
                           ShapeToString(dst.shape()));
  }
  return Status::Ok();
}

Status CopyFusedAddend(const Tensor& addend, Tensor& dst) {
  ACCEL_RETURN_IF_ERROR(CheckFusedAddend(addend, dst));
  // A memory planner may hand the addend's buffer to the output: then it is already in place.
  if (dst.data() != addend.data()) {
    std::memcpy(dst.data(), addend.data(), dst.element_count() * sizeof(float));
  }
  return Status::Ok();
}

void ApplyFusedActivation(const FusedPostOps& ops, std::span<float> data) {
  if (ops.activation == FusedActivation::kNone) return;
  for (float& x : data) x = Activate(ops, x);
}

void ApplyFusedPostOps(const FusedPostOps& ops, std::span<float> data, const Tensor* addend) {
  const float* add = addend ? addend->data_as<float>() : nullptr;
  if (add && !ops.sum_after_activation) {
    for (size_t i = 0; i < data.size(); ++i) data[i] += add[i];
  }
  ApplyFusedActivation(ops, data);
  if (add && ops.sum_after_activation) {
    for (size_t i = 0; i < data.size(); ++i) data[i] += add[i];
  }
}

namespace {

// One block per task: large enough to amortize the loop, small enough to stay in L1/L2.
constexpr int64_t kBlock = 4096;

template <bool kAdd>
[[gnu::always_inline]] inline void SiluBlock(float* y, const float* add, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = y[i] / (1.0f + ClampedExp(-y[i]));
    y[i] = kAdd ? v + add[i] : v;
  }
}

// AVX-512 by hand: SiLU runs after nearly every convolution of YOLOX and EfficientNet (a
// quarter of YOLOX's run time), and the generic loop spends most of its time in vdivps and in
// the integer path that builds 2^k. Here exp(-x) = 2^k * p(r), r = -x - k ln2 in [-ln2/2, ln2/2],
// with p the degree-6 Taylor polynomial, scalef for the 2^k, and 1 / (1 + exp(-x)) by rcp14 plus
// one Newton step: ~1.8e-7 relative error, 1.6x the generic loop's speed on this machine.
// GCC 12's avx512fintrin.h trips -Wmaybe-uninitialized in _mm512_min_ps/_mm512_max_ps (GCC bug
// 105593, a false positive on its own _mm512_undefined_ps).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
template <bool kAdd>
[[gnu::target("avx512f")]] void SiluAvx512(float* y, const float* add, int64_t n) {
  const __m512 one = _mm512_set1_ps(1.0f);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 x = _mm512_loadu_ps(y + i);
    // exp(-88) and exp(87) are still finite floats: the clamp keeps 1 + exp(-x) finite, so the
    // Newton step never sees inf * 0.
    const __m512 xc =
        _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(87.0f)), _mm512_set1_ps(-88.0f));
    const __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(-1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693147180559945f),
                                      _mm512_sub_ps(_mm512_setzero_ps(), xc));
    __m512 p = _mm512_set1_ps(1.0f / 720);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, one);
    p = _mm512_fmadd_ps(p, r, one);
    const __m512 d = _mm512_add_ps(_mm512_scalef_ps(p, k), one);
    __m512 inv = _mm512_rcp14_ps(d);
    inv = _mm512_mul_ps(inv, _mm512_fnmadd_ps(d, inv, _mm512_set1_ps(2.0f)));
    __m512 v = _mm512_mul_ps(x, inv);
    if (kAdd) v = _mm512_add_ps(v, _mm512_loadu_ps(add + i));
    _mm512_storeu_ps(y + i, v);
  }
  SiluBlock<kAdd>(y + i, kAdd ? add + i : nullptr, n - i);
}
#pragma GCC diagnostic pop
template <bool kAdd>
[[gnu::target("avx2,fma")]] void SiluAvx2(float* y, const float* add, int64_t n) {
  SiluBlock<kAdd>(y, add, n);
}
template <bool kAdd>
void SiluBaseline(float* y, const float* add, int64_t n) {
  SiluBlock<kAdd>(y, add, n);
}

using SiluFn = void (*)(float*, const float*, int64_t);

SiluFn PickSilu(bool add) {
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (avx512) return add ? &SiluAvx512<true> : &SiluAvx512<false>;
  if (avx2) return add ? &SiluAvx2<true> : &SiluAvx2<false>;
  return add ? &SiluBaseline<true> : &SiluBaseline<false>;
}

// Calls fn(begin, count) for each block of n elements, in parallel when there is more than one
// block and thread. A serial call does not enter the OpenMP runtime at all: libgomp allocates a
// team even for a parallel region whose `if` clause is false.
template <typename F>
void ForEachBlock(int64_t n, F&& fn) {
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  if (blocks <= 1 || omp_get_max_threads() == 1) {
    for (int64_t b = 0; b < blocks; ++b) fn(b * kBlock, std::min(kBlock, n - b * kBlock));
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < blocks; ++b) fn(b * kBlock, std::min(kBlock, n - b * kBlock));
}

}  // namespace

void SiluInPlace(std::span<float> y, const float* addend) {
  const SiluFn fn = PickSilu(addend != nullptr);
  float* data = y.data();
  ForEachBlock(static_cast<int64_t>(y.size()), [&](int64_t begin, int64_t count) {
    fn(data + begin, addend ? addend + begin : nullptr, count);
  });
}

void AddInPlace(std::span<float> y, const float* addend) {
  float* data = y.data();
  ForEachBlock(static_cast<int64_t>(y.size()), [&](int64_t begin, int64_t count) {
    for (int64_t i = begin; i < begin + count; ++i) data[i] += addend[i];
  });
}

}  // namespace accel::cpu
