// LayerNormalization (opset 17) and MeanVarianceNormalization.
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "backends/cpu/elementwise_util.h"
#include "backends/cpu/reduce_plan.h"
#include "core/op_def.h"
#include "core/shape_utils.h"

namespace accel::cpu {

namespace {

// ---- LayerNormalization: normalizes over dims [axis, rank), then applies scale and bias.

struct LayerNormAttrs {
  int64_t axis = -1;
  float epsilon = 1e-5f;
  DType stash = DType::kFloat32;
};

Result<LayerNormAttrs> ReadLayerNormAttrs(const core::Attributes& attrs) {
  LayerNormAttrs a;
  ACCEL_ASSIGN_OR_RETURN(a.axis, attrs.GetInt("axis", -1));
  ACCEL_ASSIGN_OR_RETURN(a.epsilon, attrs.GetFloat("epsilon", 1e-5f));
  ACCEL_ASSIGN_OR_RETURN(int64_t stash, attrs.GetInt("stash_type", 1));
  if (stash != 1 && stash != 11) {
    return Unsupported("stash_type " + std::to_string(stash) + " is not supported");
  }
  a.stash = static_cast<DType>(stash);
  return a;
}

// Broadcasts scale or bias to the normalized shape as one float vector.
Result<std::vector<double>> ExpandParam(const Tensor& t, std::span<const int64_t> norm_dims,
                                        const char* what) {
  Result<Shape> dims = core::BroadcastShapes(norm_dims, t.shape());
  if (!dims.ok() || !std::equal(dims->begin(), dims->end(), norm_dims.begin(), norm_dims.end())) {
    return InvalidArgument(std::string(what) + " shape " + ShapeToString(t.shape()) +
                           " does not broadcast to the normalized shape " +
                           ShapeToString(norm_dims));
  }
  std::vector<double> out(static_cast<size_t>(ElementCount(norm_dims)));
  const Shape shape = t.shape();
  const BroadcastPlan<1> plan = MakeBroadcastPlan<1>(norm_dims, {shape});
  bool ok = VisitDType(FloatTypes{}, t.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* x = t.data_as<T>();
    const int64_t s = plan.strides.back()[0];
    for (int64_t row = 0; row < plan.rows(); ++row) {
      const int64_t off = plan.RowOffsets(row)[0];
      for (int64_t i = 0; i < plan.inner(); ++i) {
        out[row * plan.inner() + i] = static_cast<double>(x[off + i * s]);
      }
    }
  });
  if (!ok) return UnsupportedDType(t.dtype());
  return out;
}

template <typename T, typename U>
void LayerNormRows(const T* x, T* y, U* mean_out, U* inv_out, int64_t rows, int64_t d,
                   const std::vector<double>& scale, const std::vector<double>& bias,
                   double epsilon) {
#pragma omp parallel for schedule(static) if (rows * d >= kParallelMinElements)
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * d;
    T* yr = y + r * d;
    double sum = 0;
    for (int64_t i = 0; i < d; ++i) sum += static_cast<double>(xr[i]);
    const double mean = sum / static_cast<double>(d);
    double sq = 0;
    for (int64_t i = 0; i < d; ++i) {
      const double c = static_cast<double>(xr[i]) - mean;
      sq += c * c;
    }
    const double inv = 1.0 / std::sqrt(sq / static_cast<double>(d) + epsilon);
    for (int64_t i = 0; i < d; ++i) {
      const double n = (static_cast<double>(xr[i]) - mean) * inv;
      yr[i] = static_cast<T>(n * scale[i] + (bias.empty() ? 0.0 : bias[i]));
    }
    if (mean_out) mean_out[r] = static_cast<U>(mean);
    if (inv_out) inv_out[r] = static_cast<U>(inv);
  }
}

Status InferLayerNorm(core::InferContext& ctx) {
  if (!ctx.has_input(0) || !ctx.has_input(1)) return InvalidModel("expects inputs X and Scale");
  ACCEL_ASSIGN_OR_RETURN(LayerNormAttrs a, ReadLayerNormAttrs(ctx.attrs()));
  const core::TensorType& x = ctx.input_type(0);
  ctx.set_output(0, x);
  if (!x.has_shape) {
    ctx.set_output(1, core::TensorType::UnknownShape(a.stash));
    ctx.set_output(2, core::TensorType::UnknownShape(a.stash));
    return Status::Ok();
  }
  ACCEL_ASSIGN_OR_RETURN(int64_t axis, core::NormalizeAxis(a.axis, x.rank()));
  std::vector<int64_t> stat_dims = x.dims;
  for (size_t i = static_cast<size_t>(axis); i < stat_dims.size(); ++i) stat_dims[i] = 1;
  ctx.set_output(1, a.stash, stat_dims);
  ctx.set_output(2, a.stash, stat_dims);
  return Status::Ok();
}

class LayerNormKernel final : public core::Kernel {
 public:
  explicit LayerNormKernel(LayerNormAttrs attrs) : attrs_(attrs) {}

  Status Compute(core::KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    ACCEL_ASSIGN_OR_RETURN(int64_t axis, core::NormalizeAxis(attrs_.axis, x.rank()));
    const std::span<const int64_t> norm_dims(x.shape().data() + axis, x.shape().size() - axis);
    ACCEL_ASSIGN_OR_RETURN(std::vector<double> scale,
                           ExpandParam(ctx.input(1), norm_dims, "Scale"));
    std::vector<double> bias;
    if (ctx.num_inputs() > 2 && ctx.has_input(2)) {
      ACCEL_ASSIGN_OR_RETURN(bias, ExpandParam(ctx.input(2), norm_dims, "B"));
    }
    ACCEL_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0));
    Tensor* mean = nullptr;
    Tensor* inv = nullptr;
    if (ctx.has_output(1)) {
      ACCEL_ASSIGN_OR_RETURN(mean, ctx.Output(1));
    }
    if (ctx.has_output(2)) {
      ACCEL_ASSIGN_OR_RETURN(inv, ctx.Output(2));
    }
    const int64_t d = ElementCount(norm_dims);
    if (x.element_count() == 0 || d == 0) return Status::Ok();
    const int64_t rows = x.element_count() / d;
    auto run = [&](auto t_tag, auto u_tag) {
      using T = typename decltype(t_tag)::type;
      using U = typename decltype(u_tag)::type;
      LayerNormRows<T, U>(x.data_as<T>(), y->data_as<T>(), mean ? mean->data_as<U>() : nullptr,
                          inv ? inv->data_as<U>() : nullptr, rows, d, scale, bias, attrs_.epsilon);
    };
    bool ok = VisitDType(FloatTypes{}, x.dtype(), [&](auto t) {
      if (attrs_.stash == DType::kFloat32) {
        run(t, DTypeTag<float>{});
      } else {
        run(t, DTypeTag<double>{});
      }
    });
    if (!ok) return UnsupportedDType(x.dtype());
    return Status::Ok();
  }

 private:
  LayerNormAttrs attrs_;
};

Result<std::unique_ptr<core::Kernel>> CreateLayerNorm(const core::KernelInit& init) {
  ACCEL_ASSIGN_OR_RETURN(LayerNormAttrs attrs, ReadLayerNormAttrs(init.attrs));
  if (!init.has_input(0)) return InvalidModel("missing input 0");
  const DType dtype = init.input_types[0]->dtype;
  if (dtype != DType::kFloat32 && dtype != DType::kFloat64) return UnsupportedDType(dtype);
  return std::unique_ptr<core::Kernel>(std::make_unique<LayerNormKernel>(attrs));
}

// ---- MeanVarianceNormalization: (X - mean) / (std + 1e-9) over `axes` (default 0, 2, 3).

template <typename T>
void Mvn(const Tensor& in, Tensor& out, const ReducePlan& plan, int64_t count) {
  const T* x = in.data_as<T>();
  T* y = out.data_as<T>();
  std::vector<double> sum(plan.out_count, 0.0);
  std::vector<double> sq(plan.out_count, 0.0);
  ForEachReduceRow(plan, [&](int64_t in_off, int64_t out_off, int64_t n, bool inner_reduced) {
    for (int64_t i = 0; i < n; ++i) {
      const double v = static_cast<double>(x[in_off + i]);
      const int64_t o = inner_reduced ? out_off : out_off + i;
      sum[o] += v;
      sq[o] += v * v;
    }
  });
  // The ONNX function body: std = sqrt(E[x^2] - E[x]^2), y = (x - E[x]) / (std + 1e-9).
  for (int64_t o = 0; o < plan.out_count; ++o) {
    const double mean = sum[o] / static_cast<double>(count);
    const double var = std::max(0.0, sq[o] / static_cast<double>(count) - mean * mean);
    sum[o] = mean;
    sq[o] = 1.0 / (std::sqrt(var) + 1e-9);
  }
  ForEachReduceRow(plan, [&](int64_t in_off, int64_t out_off, int64_t n, bool inner_reduced) {
    for (int64_t i = 0; i < n; ++i) {
      const int64_t o = inner_reduced ? out_off : out_off + i;
      y[in_off + i] = static_cast<T>((static_cast<double>(x[in_off + i]) - sum[o]) * sq[o]);
    }
  });
}

class MvnKernel final : public core::Kernel {
 public:
  explicit MvnKernel(std::vector<int64_t> axes) : axes_(std::move(axes)) {}

  Status Compute(core::KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    ACCEL_ASSIGN_OR_RETURN(std::vector<bool> reduced, ReducedAxes(axes_, x.rank()));
    ACCEL_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0));
    if (x.element_count() == 0) return Status::Ok();
    int64_t count = 1;
    for (size_t i = 0; i < reduced.size(); ++i) {
      if (reduced[i]) count *= x.shape()[i];
    }
    const ReducePlan plan = MakeReducePlan(x.shape(), reduced);
    if (x.dtype() == DType::kFloat32) {
      Mvn<float>(x, *y, plan, count);
    } else {
      Mvn<double>(x, *y, plan, count);
    }
    return Status::Ok();
  }

 private:
  std::vector<int64_t> axes_;
};

Status InferMvn(core::InferContext& ctx) {
  if (!ctx.has_input(0)) return InvalidModel("missing input 0");
  const core::TensorType& x = ctx.input_type(0);
  ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> axes, ctx.attrs().GetInts("axes", {0, 2, 3}));
  if (x.has_shape) ACCEL_RETURN_IF_ERROR(ReducedAxes(axes, x.rank()).status());
  ctx.set_output(0, x);
  return Status::Ok();
}

Result<std::unique_ptr<core::Kernel>> CreateMvn(const core::KernelInit& init) {
  if (!init.has_input(0)) return InvalidModel("missing input 0");
  const DType dtype = init.input_types[0]->dtype;
  if (dtype != DType::kFloat32 && dtype != DType::kFloat64) return UnsupportedDType(dtype);
  ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> axes, init.attrs.GetInts("axes", {0, 2, 3}));
  if (axes.empty()) return InvalidModel("attribute 'axes' must not be empty");
  return std::unique_ptr<core::Kernel>(std::make_unique<MvnKernel>(std::move(axes)));
}

}  // namespace

const core::OpDef& LayerNormalizationOpDef() {
  static const core::OpDef def{"LayerNormalization", "", {17}, 17, InferLayerNorm, CreateLayerNorm};
  return def;
}

const core::OpDef& MeanVarianceNormalizationOpDef() {
  static const core::OpDef def{"MeanVarianceNormalization", "", {9, 13}, 9, InferMvn, CreateMvn};
  return def;
}

}  // namespace accel::cpu
