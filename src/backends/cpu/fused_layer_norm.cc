// accel.LayerNormalization (core/fused_ops.h): the layer normalization the fuse_layernorm pass
// recovers from its decomposed form, for any model opset. Float32 in one pass per row group:
// mean and variance in float with sixteen partial sums (vectorizable without reassociation
// flags), the centered form for the variance as the decomposed graph computes it.
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "backends/cpu/elementwise_util.h"
#include "core/op_def.h"
#include "core/shape_utils.h"

namespace accel::cpu {

namespace {

constexpr int kLanes = 16;

// One row: y = (x - mean) / sqrt(var + eps) * scale + bias (scale/bias may be null).
[[gnu::always_inline]] inline void NormalizeRow(const float* x, float* y, int64_t d,
                                                const float* scale, const float* bias,
                                                float epsilon) {
  float acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= d; i += kLanes) {
    for (int j = 0; j < kLanes; ++j) acc[j] += x[i + j];
  }
  float sum = 0;
  for (; i < d; ++i) sum += x[i];
  for (int j = 0; j < kLanes; ++j) sum += acc[j];
  const float mean = sum / static_cast<float>(d);
  float sq[kLanes] = {};
  for (i = 0; i + kLanes <= d; i += kLanes) {
    for (int j = 0; j < kLanes; ++j) {
      const float c = x[i + j] - mean;
      sq[j] += c * c;
    }
  }
  float var = 0;
  for (; i < d; ++i) var += (x[i] - mean) * (x[i] - mean);
  for (int j = 0; j < kLanes; ++j) var += sq[j];
  const float inv = 1.0f / std::sqrt(var / static_cast<float>(d) + epsilon);
  if (scale && bias) {
    for (i = 0; i < d; ++i) y[i] = (x[i] - mean) * inv * scale[i] + bias[i];
  } else if (scale) {
    for (i = 0; i < d; ++i) y[i] = (x[i] - mean) * inv * scale[i];
  } else if (bias) {
    for (i = 0; i < d; ++i) y[i] = (x[i] - mean) * inv + bias[i];
  } else {
    for (i = 0; i < d; ++i) y[i] = (x[i] - mean) * inv;
  }
}

using RowFn = void (*)(const float*, float*, int64_t, const float*, const float*, float);

[[gnu::target("avx512f")]] void RowAvx512(const float* x, float* y, int64_t d, const float* s,
                                          const float* b, float eps) {
  NormalizeRow(x, y, d, s, b, eps);
}
[[gnu::target("avx2,fma")]] void RowAvx2(const float* x, float* y, int64_t d, const float* s,
                                         const float* b, float eps) {
  NormalizeRow(x, y, d, s, b, eps);
}
void RowBaseline(const float* x, float* y, int64_t d, const float* s, const float* b, float eps) {
  NormalizeRow(x, y, d, s, b, eps);
}

RowFn PickRow() {
  if (__builtin_cpu_supports("avx512f")) return &RowAvx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return &RowAvx2;
  return &RowBaseline;
}

struct Attrs {
  int64_t axis = -1;
  float epsilon = 1e-5f;
};

Result<Attrs> ReadAttrs(const core::Attributes& attrs) {
  Attrs a;
  ACCEL_ASSIGN_OR_RETURN(a.axis, attrs.GetInt("axis", -1));
  ACCEL_ASSIGN_OR_RETURN(a.epsilon, attrs.GetFloat("epsilon", 1e-5f));
  if (!(a.epsilon >= 0.0f)) return InvalidModel("epsilon must be >= 0");
  return a;
}

Status InferFusedLayerNorm(core::InferContext& ctx) {
  if (!ctx.has_input(0)) return InvalidModel("expects input X");
  ACCEL_ASSIGN_OR_RETURN(Attrs a, ReadAttrs(ctx.attrs()));
  const core::TensorType& x = ctx.input_type(0);
  if (x.dtype != DType::kFloat32) return UnsupportedDType(x.dtype);
  if (x.has_shape) ACCEL_RETURN_IF_ERROR(core::NormalizeAxis(a.axis, x.rank()).status());
  ctx.set_output(0, x);
  return Status::Ok();
}

class FusedLayerNormKernel final : public core::Kernel {
 public:
  explicit FusedLayerNormKernel(Attrs attrs) : attrs_(attrs) {}

  Status Compute(core::KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    if (x.dtype() != DType::kFloat32) return UnsupportedDType(x.dtype());
    ACCEL_ASSIGN_OR_RETURN(int64_t axis, core::NormalizeAxis(attrs_.axis, x.rank()));
    const std::span<const int64_t> norm_dims(x.shape().data() + axis, x.shape().size() - axis);
    const int64_t d = ElementCount(norm_dims);
    const float* scale = nullptr;
    const float* bias = nullptr;
    ACCEL_RETURN_IF_ERROR(Param(ctx, 1, d, "Scale", &scale));
    ACCEL_RETURN_IF_ERROR(Param(ctx, 2, d, "B", &bias));
    ACCEL_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0));
    if (x.element_count() == 0 || d == 0) return Status::Ok();
    const int64_t rows = x.element_count() / d;
    static const RowFn row = PickRow();
    const float* xs = x.data_as<float>();
    float* ys = y->data_as<float>();
    const float eps = attrs_.epsilon;
#pragma omp parallel for schedule(static) if (rows * d >= kParallelMinElements)
    for (int64_t r = 0; r < rows; ++r) row(xs + r * d, ys + r * d, d, scale, bias, eps);
    return Status::Ok();
  }

 private:
  // Input i as d floats, or null when omitted. The pass only fuses parameters of the
  // normalized shape; anything else is refused rather than broadcast.
  static Status Param(core::KernelContext& ctx, size_t i, int64_t d, const char* what,
                      const float** out) {
    if (ctx.num_inputs() <= i || !ctx.has_input(i)) return Status::Ok();
    const Tensor& t = ctx.input(i);
    if (t.dtype() != DType::kFloat32) return UnsupportedDType(t.dtype());
    if (t.element_count() != d) {
      return InvalidArgument(std::string(what) + " has " + std::to_string(t.element_count()) +
                             " elements, the normalized shape " + std::to_string(d));
    }
    *out = t.data_as<float>();
    return Status::Ok();
  }

  Attrs attrs_;
};

Result<std::unique_ptr<core::Kernel>> CreateFusedLayerNorm(const core::KernelInit& init) {
  ACCEL_ASSIGN_OR_RETURN(Attrs attrs, ReadAttrs(init.attrs));
  if (!init.has_input(0)) return InvalidModel("missing input 0");
  if (init.input_types[0]->dtype != DType::kFloat32) {
    return UnsupportedDType(init.input_types[0]->dtype);
  }
  return std::unique_ptr<core::Kernel>(std::make_unique<FusedLayerNormKernel>(attrs));
}

}  // namespace

const core::OpDef& AccelLayerNormalizationOpDef() {
  static const core::OpDef def{"LayerNormalization", "accel", {1}, 1, InferFusedLayerNorm,
                               CreateFusedLayerNorm};
  return def;
}

}  // namespace accel::cpu
