// Softmax, LogSoftmax and Hardmax. Before opset 13 the input is coerced to 2-D at `axis`
// (all dims from axis on form one row); from 13 on the op runs along the single axis.
#include <Eigen/Core>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "backends/cpu/elementwise_util.h"
#include "core/op_def.h"
#include "core/shape_utils.h"

namespace accel::cpu {

namespace {

enum class Kind { kSoftmax, kLogSoftmax, kHardmax };

Kind KindOf(std::string_view op_type) {
  if (op_type == "LogSoftmax") return Kind::kLogSoftmax;
  if (op_type == "Hardmax") return Kind::kHardmax;
  return Kind::kSoftmax;
}

// One contiguous row (inner == 1), the common case.
// Softmax or LogSoftmax of one float row, given its max. exp(x - max) <= 1; inputs below
// max - 87.3 contribute ~1e-38 instead of 0, far below float32 tolerance. Sixteen partial sums
// let the sum vectorize without reassociation flags.
template <bool kLog>
[[gnu::always_inline]] inline void FloatRow(const float* x, float* y, int64_t n, float max) {
  float partial[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int j = 0; j < 16; ++j) {
      const float e = ClampedExp(x[i + j] - max);
      if constexpr (!kLog) y[i + j] = e;
      partial[j] += e;
    }
  }
  float sum = 0;
  for (; i < n; ++i) {
    const float e = ClampedExp(x[i] - max);
    if constexpr (!kLog) y[i] = e;
    sum += e;
  }
  for (float p : partial) sum += p;
  if constexpr (kLog) {
    const float shift = max + std::log(sum);
    for (int64_t k = 0; k < n; ++k) y[k] = x[k] - shift;
  } else {
    const float scale = 1.0f / sum;
    for (int64_t k = 0; k < n; ++k) y[k] *= scale;
  }
}

[[gnu::target("avx512f")]] void FloatRowAvx512(const float* x, float* y, int64_t n, float max,
                                               bool log) {
  log ? FloatRow<true>(x, y, n, max) : FloatRow<false>(x, y, n, max);
}
[[gnu::target("avx2,fma")]] void FloatRowAvx2(const float* x, float* y, int64_t n, float max,
                                              bool log) {
  log ? FloatRow<true>(x, y, n, max) : FloatRow<false>(x, y, n, max);
}
void FloatRowBaseline(const float* x, float* y, int64_t n, float max, bool log) {
  // Eigen's SSE exp: the branch-free polynomial does not vectorize on baseline x86-64.
  Eigen::Map<const Eigen::ArrayXf> xs(x, n);
  Eigen::Map<Eigen::ArrayXf> ys(y, n);
  if (log) {
    ys = xs - (max + std::log((xs - max).exp().sum()));
  } else {
    ys = (xs - max).exp();
    ys *= 1.0f / ys.sum();
  }
}

using FloatRowFn = void (*)(const float*, float*, int64_t, float, bool);

FloatRowFn PickFloatRow() {
  if (__builtin_cpu_supports("avx512f")) return &FloatRowAvx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return &FloatRowAvx2;
  return &FloatRowBaseline;
}

// One contiguous row (inner == 1), the common case.
template <typename T>
void Row(const T* x, T* y, int64_t n, Kind kind) {
  if constexpr (std::is_same_v<T, float>) {
    if (kind != Kind::kHardmax) {
      static const FloatRowFn row = PickFloatRow();
      row(x, y, n, Eigen::Map<const Eigen::ArrayXf>(x, n).maxCoeff(), kind == Kind::kLogSoftmax);
      return;
    }
  }
  T max = x[0];
  int64_t argmax = 0;
  for (int64_t i = 1; i < n; ++i) {
    if (x[i] > max) {
      max = x[i];
      argmax = i;
    }
  }
  if (kind == Kind::kHardmax) {
    std::fill_n(y, n, T(0));
    y[argmax] = T(1);
    return;
  }
  T sum = 0;
  if (kind == Kind::kSoftmax) {
    for (int64_t i = 0; i < n; ++i) {
      y[i] = std::exp(x[i] - max);
      sum += y[i];
    }
    const T scale = T(1) / sum;
    for (int64_t i = 0; i < n; ++i) y[i] *= scale;
  } else {
    for (int64_t i = 0; i < n; ++i) sum += std::exp(x[i] - max);
    const T shift = max + std::log(sum);
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] - shift;
  }
}

// One [axis, inner] block: the loops run along inner, which is contiguous.
template <typename T>
void Block(const T* x, T* y, int64_t axis, int64_t inner, Kind kind, std::vector<T>& max,
           std::vector<T>& sum, std::vector<int64_t>& argmax) {
  max.assign(x, x + inner);
  argmax.assign(inner, 0);
  for (int64_t r = 1; r < axis; ++r) {
    const T* xr = x + r * inner;
    for (int64_t i = 0; i < inner; ++i) {
      if (xr[i] > max[i]) {
        max[i] = xr[i];
        argmax[i] = r;
      }
    }
  }
  if (kind == Kind::kHardmax) {
    std::fill_n(y, axis * inner, T(0));
    for (int64_t i = 0; i < inner; ++i) y[argmax[i] * inner + i] = T(1);
    return;
  }
  sum.assign(inner, T(0));
  for (int64_t r = 0; r < axis; ++r) {
    const T* xr = x + r * inner;
    T* yr = y + r * inner;
    for (int64_t i = 0; i < inner; ++i) {
      yr[i] = std::exp(xr[i] - max[i]);
      sum[i] += yr[i];
    }
  }
  for (int64_t i = 0; i < inner; ++i) {
    sum[i] = kind == Kind::kSoftmax ? T(1) / sum[i] : max[i] + std::log(sum[i]);
  }
  for (int64_t r = 0; r < axis; ++r) {
    const T* xr = x + r * inner;
    T* yr = y + r * inner;
    for (int64_t i = 0; i < inner; ++i) {
      yr[i] = kind == Kind::kSoftmax ? yr[i] * sum[i] : xr[i] - sum[i];
    }
  }
}

template <typename T>
void Run(const Tensor& in, Tensor& out, AxisLayout l, Kind kind) {
  const T* x = in.data_as<T>();
  T* y = out.data_as<T>();
  const int64_t block = l.axis * l.inner;
  const bool parallel = l.outer > 1 && l.outer * block >= kParallelMinElements;
#pragma omp parallel if (parallel)
  {
    std::vector<T> max, sum;
    std::vector<int64_t> argmax;
#pragma omp for schedule(static)
    for (int64_t o = 0; o < l.outer; ++o) {
      if (l.inner == 1) {
        Row(x + o * block, y + o * block, l.axis, kind);
      } else {
        Block(x + o * block, y + o * block, l.axis, l.inner, kind, max, sum, argmax);
      }
    }
  }
}

Result<int64_t> ReadAxis(const core::Attributes& attrs, int opset) {
  return attrs.GetInt("axis", opset < 13 ? 1 : -1);
}

Status InferSoftmax(core::InferContext& ctx) {
  if (!ctx.has_input(0)) return InvalidModel("missing input 0");
  const core::TensorType& x = ctx.input_type(0);
  ACCEL_ASSIGN_OR_RETURN(int64_t axis, ReadAxis(ctx.attrs(), ctx.opset()));
  if (x.has_shape) ACCEL_RETURN_IF_ERROR(core::NormalizeAxis(axis, x.rank()).status());
  ctx.set_output(0, x);
  return Status::Ok();
}

class SoftmaxKernel final : public core::Kernel {
 public:
  SoftmaxKernel(Kind kind, int64_t axis, bool coerce_2d)
      : kind_(kind), axis_(axis), coerce_2d_(coerce_2d) {}

  Status Compute(core::KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    ACCEL_ASSIGN_OR_RETURN(int64_t axis,
                           core::NormalizeAxis(axis_, std::max<int64_t>(1, x.rank())));
    ACCEL_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0));
    if (x.element_count() == 0) return Status::Ok();
    AxisLayout l = LayoutAround(x.shape(), axis);
    if (coerce_2d_) {
      l.axis *= l.inner;
      l.inner = 1;
    }
    if (x.dtype() == DType::kFloat32) {
      Run<float>(x, *y, l, kind_);
    } else {
      Run<double>(x, *y, l, kind_);
    }
    return Status::Ok();
  }

 private:
  Kind kind_;
  int64_t axis_;
  bool coerce_2d_;
};

Result<std::unique_ptr<core::Kernel>> CreateSoftmax(const core::KernelInit& init) {
  if (!init.has_input(0)) return InvalidModel("missing input 0");
  const DType dtype = init.input_types[0]->dtype;
  if (dtype != DType::kFloat32 && dtype != DType::kFloat64) return UnsupportedDType(dtype);
  ACCEL_ASSIGN_OR_RETURN(int64_t axis, ReadAxis(init.attrs, init.opset));
  return std::unique_ptr<core::Kernel>(
      std::make_unique<SoftmaxKernel>(KindOf(init.node.op_type), axis, init.opset < 13));
}

}  // namespace

const core::OpDef& SoftmaxOpDef() {
  static const core::OpDef def{"Softmax", "", {1, 11, 13}, 1, InferSoftmax, CreateSoftmax};
  return def;
}

const core::OpDef& LogSoftmaxOpDef() {
  static const core::OpDef def{"LogSoftmax", "", {1, 11, 13}, 1, InferSoftmax, CreateSoftmax};
  return def;
}

const core::OpDef& HardmaxOpDef() {
  static const core::OpDef def{"Hardmax", "", {1, 11, 13}, 1, InferSoftmax, CreateSoftmax};
  return def;
}

}  // namespace accel::cpu
