// Reductions (ReduceSum, ReduceMean, ... ReduceLogSumExp) and ArgMax/ArgMin.
//
// A reduction views the input as runs of adjacent dims that are all reduced or all kept, so
// the innermost loop is always contiguous: it either folds a row into one output (innermost
// run reduced) or folds a row into a row of outputs (innermost run kept).
#include <cmath>
#include <limits>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "backends/cpu/data_movement.h"
#include "backends/cpu/elementwise_util.h"
#include "backends/cpu/reduce_plan.h"
#include "core/op_def.h"
#include "core/shape_utils.h"

namespace accel::cpu {

Result<std::vector<bool>> ReducedAxes(std::span<const int64_t> axes, int64_t rank) {
  std::vector<bool> reduced(static_cast<size_t>(rank), axes.empty());
  for (int64_t a : axes) {
    ACCEL_ASSIGN_OR_RETURN(int64_t axis, core::NormalizeAxis(a, rank));
    if (reduced[axis]) return InvalidModel("axis " + std::to_string(a) + " is repeated");
    reduced[axis] = true;
  }
  return reduced;
}

Shape ReducedShape(std::span<const int64_t> dims, const std::vector<bool>& reduced, bool keepdims) {
  Shape out;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (!reduced[i]) {
      out.push_back(dims[i]);
    } else if (keepdims) {
      out.push_back(1);
    }
  }
  return out;
}

ReducePlan MakeReducePlan(std::span<const int64_t> dims, const std::vector<bool>& reduced) {
  ReducePlan plan;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] == 1) continue;
    if (!plan.runs.empty() && plan.runs.back().reduced == reduced[i]) {
      plan.runs.back().size *= dims[i];
    } else {
      plan.runs.push_back({dims[i], static_cast<bool>(reduced[i])});
    }
  }
  if (plan.runs.empty()) plan.runs.push_back({1, false});
  int64_t stride = 1;
  plan.out_strides.assign(plan.runs.size(), 0);
  for (size_t i = plan.runs.size(); i-- > 0;) {
    if (plan.runs[i].reduced) continue;
    plan.out_strides[i] = stride;
    stride *= plan.runs[i].size;
  }
  plan.out_count = stride;
  return plan;
}

namespace {

enum class Kind { kSum, kMean, kMax, kMin, kProd, kL1, kL2, kLogSum, kLogSumExp, kSumSquare };

// Wide accumulators: float sums in double, integer sums in 64 bits.
template <typename T>
using AccOf = std::conditional_t<std::is_floating_point_v<T>, double,
                                 std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>>;

template <typename A>
A Init(Kind kind) {
  switch (kind) {
    case Kind::kMax:
      return std::numeric_limits<A>::has_infinity ? -std::numeric_limits<A>::infinity()
                                                  : std::numeric_limits<A>::lowest();
    case Kind::kMin:
      return std::numeric_limits<A>::has_infinity ? std::numeric_limits<A>::infinity()
                                                  : std::numeric_limits<A>::max();
    case Kind::kProd:
      return A(1);
    default:
      return A(0);
  }
}

// Folds n contiguous inputs into acc (innermost run reduced: one acc; kept: n accs).
template <Kind K, typename T, typename A>
void Fold(const T* x, A* acc, int64_t n, bool inner_reduced, const A* shift) {
  auto step = [](A a, T v, A s) -> A {
    const A w = static_cast<A>(v);
    if constexpr (K == Kind::kMax) return w > a ? w : a;
    if constexpr (K == Kind::kMin) return w < a ? w : a;
    if constexpr (K == Kind::kProd) return a * w;
    if constexpr (K == Kind::kL1) return a + (w < A(0) ? A(0) - w : w);
    if constexpr (K == Kind::kL2 || K == Kind::kSumSquare) return a + w * w;
    if constexpr (K == Kind::kLogSumExp) return a + static_cast<A>(std::exp(w - s));
    return a + w;
  };
  if (inner_reduced) {
    A a = acc[0];
    const A s = shift ? shift[0] : A(0);
    for (int64_t i = 0; i < n; ++i) a = step(a, x[i], s);
    acc[0] = a;
  } else {
    for (int64_t i = 0; i < n; ++i) acc[i] = step(acc[i], x[i], shift ? shift[i] : A(0));
  }
}

template <Kind K, typename T, typename A>
void FoldAll(const T* x, const ReducePlan& plan, std::vector<A>& acc, const A* shift) {
  ForEachReduceRow(plan, [&](int64_t in_off, int64_t out_off, int64_t n, bool inner_reduced) {
    Fold<K>(x + in_off, acc.data() + out_off, n, inner_reduced, shift ? shift + out_off : nullptr);
  });
}

// Integer outputs from a floating-point accumulator truncate, like ONNX Runtime, and saturate
// (log 0 = -inf would be undefined behaviour).
template <typename T, typename A>
T ToOutput(A a) {
  if constexpr (std::is_integral_v<T> && std::is_floating_point_v<A>) {
    if (std::isnan(a)) return 0;
    if (a <= static_cast<A>(std::numeric_limits<T>::lowest()))
      return std::numeric_limits<T>::lowest();
    if (a >= static_cast<A>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
  }
  return static_cast<T>(a);
}

// acc and max are the caller's scratch (kept by kernels so that steady runs do not allocate).
template <typename T, typename A>
void Reduce(const Tensor& in, Tensor& out, const ReducePlan& plan, Kind kind, int64_t count,
            std::vector<A>& acc, std::vector<A>& max) {
  const T* x = in.data_as<T>();
  acc.assign(plan.out_count, Init<A>(kind));
  switch (kind) {
    case Kind::kMax:
      FoldAll<Kind::kMax>(x, plan, acc, static_cast<const A*>(nullptr));
      break;
    case Kind::kMin:
      FoldAll<Kind::kMin>(x, plan, acc, static_cast<const A*>(nullptr));
      break;
    case Kind::kProd:
      FoldAll<Kind::kProd>(x, plan, acc, static_cast<const A*>(nullptr));
      break;
    case Kind::kL1:
      FoldAll<Kind::kL1>(x, plan, acc, static_cast<const A*>(nullptr));
      break;
    case Kind::kL2:
    case Kind::kSumSquare:
      FoldAll<Kind::kSumSquare>(x, plan, acc, static_cast<const A*>(nullptr));
      break;
    case Kind::kLogSumExp:
      // Shift by the max so exp cannot overflow.
      max.assign(plan.out_count, Init<A>(Kind::kMax));
      FoldAll<Kind::kMax>(x, plan, max, static_cast<const A*>(nullptr));
      for (A& m : max) {
        if (!std::isfinite(static_cast<double>(m))) m = A(0);
      }
      FoldAll<Kind::kLogSumExp>(x, plan, acc, max.data());
      break;
    default:
      FoldAll<Kind::kSum>(x, plan, acc, static_cast<const A*>(nullptr));
      break;
  }
  T* y = out.data_as<T>();
  for (int64_t i = 0; i < plan.out_count; ++i) {
    A a = acc[i];
    switch (kind) {
      case Kind::kMean:
        a = count > 0 ? static_cast<A>(a / static_cast<A>(count)) : a;
        break;
      case Kind::kL2:
        a = static_cast<A>(std::sqrt(static_cast<double>(a)));
        break;
      case Kind::kLogSum:
        a = static_cast<A>(std::log(static_cast<double>(a)));
        break;
      case Kind::kLogSumExp:
        a = static_cast<A>(std::log(static_cast<double>(a)) + static_cast<double>(max[i]));
        break;
      default:
        break;
    }
    y[i] = ToOutput<T>(a);
  }
}

using ReduceTypes = TypeList<float, double, int8_t, uint8_t, int32_t, uint32_t, int64_t, uint64_t>;

struct ReduceAttrs {
  bool keepdims = true;
  bool noop_with_empty_axes = false;
  std::vector<int64_t> axes;  // from the attribute (older versions)
};

Result<ReduceAttrs> ReadReduceAttrs(const core::Attributes& attrs, bool axes_from_input) {
  ReduceAttrs r;
  ACCEL_ASSIGN_OR_RETURN(int64_t keepdims, attrs.GetInt("keepdims", 1));
  ACCEL_ASSIGN_OR_RETURN(int64_t noop, attrs.GetInt("noop_with_empty_axes", 0));
  r.keepdims = keepdims != 0;
  r.noop_with_empty_axes = noop != 0;
  if (!axes_from_input) {
    ACCEL_ASSIGN_OR_RETURN(r.axes, attrs.GetInts("axes"));
  }
  return r;
}

template <Kind K, int AxesInputVersion>
Status InferReduce(core::InferContext& ctx) {
  if (!ctx.has_input(0)) return InvalidModel("missing input 0");
  const bool axes_from_input = ctx.opset() >= AxesInputVersion;
  ACCEL_ASSIGN_OR_RETURN(ReduceAttrs r, ReadReduceAttrs(ctx.attrs(), axes_from_input));
  const core::TensorType& x = ctx.input_type(0);
  std::vector<int64_t> axes = r.axes;
  if (axes_from_input && ctx.has_input(1)) {
    const Tensor* value = ctx.input_value(1);
    if (!value) {
      // Axes known only at run time: with keepdims the rank is still known.
      core::TensorType out = core::TensorType::UnknownShape(x.dtype);
      if (r.keepdims && x.has_shape) out = core::TensorType::Known(x.dtype, x.dims);
      if (r.keepdims && x.has_shape) std::fill(out.dims.begin(), out.dims.end(), -1);
      ctx.set_output(0, std::move(out));
      return Status::Ok();
    }
    ACCEL_ASSIGN_OR_RETURN(axes, core::ReadInts(*value));
  }
  if (!x.has_shape) {
    ctx.set_output(0, core::TensorType::UnknownShape(x.dtype));
    return Status::Ok();
  }
  if (axes.empty() && r.noop_with_empty_axes) {
    ctx.set_output(0, x);
    return Status::Ok();
  }
  ACCEL_ASSIGN_OR_RETURN(std::vector<bool> reduced, ReducedAxes(axes, x.rank()));
  ctx.set_output(0, x.dtype, ReducedShape(x.dims, reduced, r.keepdims));
  return Status::Ok();
}

// The plan is made once per input shape and axes; the typed subclass keeps the accumulators.
class ReduceKernel : public core::Kernel {
 public:
  ReduceKernel(Kind kind, ReduceAttrs attrs, bool axes_from_input)
      : kind_(kind), attrs_(std::move(attrs)), axes_from_input_(axes_from_input) {}

  Status Compute(core::KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    axes_.clear();
    if (axes_from_input_ && ctx.num_inputs() > 1 && ctx.has_input(1)) {
      ACCEL_RETURN_IF_ERROR(dm::ReadIntsInto(ctx.input(1), axes_));
    } else {
      for (int64_t a : attrs_.axes) axes_.push_back(a);
    }
    if (axes_.empty() && attrs_.noop_with_empty_axes) {
      // A reduction over no axes: each output is f(one element), which is the input itself
      // except for the ops that map elements (|x|, x^2, log x), as in the ONNX reference.
      if (kind_ == Kind::kSum || kind_ == Kind::kMean || kind_ == Kind::kMax ||
          kind_ == Kind::kMin || kind_ == Kind::kProd || kind_ == Kind::kLogSumExp) {
        return ctx.SetOutput(0, x);
      }
    }
    if (!planned_ || x.shape() != shape_ || !(axes_ == planned_axes_)) {
      planned_ = false;
      std::vector<bool> reduced(static_cast<size_t>(x.rank()), false);
      if (!axes_.empty() || !attrs_.noop_with_empty_axes) {
        ACCEL_ASSIGN_OR_RETURN(reduced, ReducedAxes(axes_, x.rank()));
      }
      count_ = 1;
      for (size_t i = 0; i < reduced.size(); ++i) {
        if (reduced[i]) count_ *= x.shape()[i];
      }
      plan_ = MakeReducePlan(x.shape(), reduced);
      shape_ = x.shape();
      planned_axes_ = axes_;
      planned_ = true;
    }
    ACCEL_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0));
    Run(x, *y, plan_, kind_, count_);
    return Status::Ok();
  }

 private:
  virtual void Run(const Tensor& x, Tensor& y, const ReducePlan& plan, Kind kind,
                   int64_t count) = 0;

  Kind kind_;
  ReduceAttrs attrs_;
  bool axes_from_input_;
  DimVector axes_;  // this run's axes
  // The plan for the last input shape and axes.
  bool planned_ = false;
  Shape shape_;
  DimVector planned_axes_;
  ReducePlan plan_;
  int64_t count_ = 1;
};

template <typename T, typename A>
class TypedReduceKernel final : public ReduceKernel {
 public:
  using ReduceKernel::ReduceKernel;

 private:
  void Run(const Tensor& x, Tensor& y, const ReducePlan& plan, Kind kind, int64_t count) override {
    Reduce<T, A>(x, y, plan, kind, count, acc_, max_);
  }

  std::vector<A> acc_;
  std::vector<A> max_;
};

template <Kind K, int AxesInputVersion>
Result<std::unique_ptr<core::Kernel>> CreateReduce(const core::KernelInit& init) {
  if (!init.has_input(0)) return InvalidModel("missing input 0");
  const bool axes_from_input = init.opset >= AxesInputVersion;
  ACCEL_ASSIGN_OR_RETURN(ReduceAttrs attrs, ReadReduceAttrs(init.attrs, axes_from_input));
  const DType dtype = init.input_types[0]->dtype;
  std::unique_ptr<core::Kernel> kernel;
  VisitDType(ReduceTypes{}, dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    // Integer inputs of the log/exp reductions still need a floating-point accumulator.
    constexpr bool kFloatAcc = K == Kind::kLogSumExp || K == Kind::kLogSum || K == Kind::kL2;
    if constexpr (kFloatAcc && std::is_integral_v<T>) {
      kernel = std::make_unique<TypedReduceKernel<T, double>>(K, attrs, axes_from_input);
    } else {
      kernel = std::make_unique<TypedReduceKernel<T, AccOf<T>>>(K, attrs, axes_from_input);
    }
  });
  if (!kernel) return UnsupportedDType(dtype);
  return kernel;
}

// ---- ArgMax / ArgMin along one axis.

template <typename T, bool kMax>
void ArgLoop(const Tensor& in, Tensor& out, AxisLayout l, bool last) {
  const T* x = in.data_as<T>();
  int64_t* y = out.data_as<int64_t>();
  auto better = [last](T v, T best) {
    if constexpr (kMax) {
      return last ? v >= best : v > best;
    } else {
      return last ? v <= best : v < best;
    }
  };
#pragma omp parallel for schedule(static) if (l.outer * l.axis * l.inner >= kParallelMinElements)
  for (int64_t o = 0; o < l.outer; ++o) {
    for (int64_t i = 0; i < l.inner; ++i) {
      const T* xs = x + o * l.axis * l.inner + i;
      T best = xs[0];
      int64_t index = 0;
      for (int64_t r = 1; r < l.axis; ++r) {
        if (better(xs[r * l.inner], best)) {
          best = xs[r * l.inner];
          index = r;
        }
      }
      y[o * l.inner + i] = index;
    }
  }
}

using ArgFn = void (*)(const Tensor&, Tensor&, AxisLayout, bool);

struct ArgAttrs {
  int64_t axis = 0;
  bool keepdims = true;
  bool select_last_index = false;
};

Result<ArgAttrs> ReadArgAttrs(const core::Attributes& attrs) {
  ArgAttrs a;
  ACCEL_ASSIGN_OR_RETURN(a.axis, attrs.GetInt("axis", 0));
  ACCEL_ASSIGN_OR_RETURN(int64_t keepdims, attrs.GetInt("keepdims", 1));
  ACCEL_ASSIGN_OR_RETURN(int64_t last, attrs.GetInt("select_last_index", 0));
  a.keepdims = keepdims != 0;
  a.select_last_index = last != 0;
  return a;
}

Status InferArg(core::InferContext& ctx) {
  if (!ctx.has_input(0)) return InvalidModel("missing input 0");
  ACCEL_ASSIGN_OR_RETURN(ArgAttrs a, ReadArgAttrs(ctx.attrs()));
  const core::TensorType& x = ctx.input_type(0);
  if (!x.has_shape) {
    ctx.set_output(0, core::TensorType::UnknownShape(DType::kInt64));
    return Status::Ok();
  }
  ACCEL_ASSIGN_OR_RETURN(int64_t axis, core::NormalizeAxis(a.axis, x.rank()));
  std::vector<bool> reduced(x.dims.size(), false);
  reduced[axis] = true;
  ctx.set_output(0, DType::kInt64, ReducedShape(x.dims, reduced, a.keepdims));
  return Status::Ok();
}

class ArgKernel final : public core::Kernel {
 public:
  ArgKernel(ArgFn fn, ArgAttrs attrs) : fn_(fn), attrs_(attrs) {}

  Status Compute(core::KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    ACCEL_ASSIGN_OR_RETURN(int64_t axis, core::NormalizeAxis(attrs_.axis, x.rank()));
    if (x.shape()[axis] == 0) return InvalidArgument("cannot take ArgMax/ArgMin of an empty axis");
    ACCEL_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0));
    if (x.element_count() > 0) {
      fn_(x, *y, LayoutAround(x.shape(), axis), attrs_.select_last_index);
    }
    return Status::Ok();
  }

 private:
  ArgFn fn_;
  ArgAttrs attrs_;
};

template <bool kMax>
Result<std::unique_ptr<core::Kernel>> CreateArg(const core::KernelInit& init) {
  if (!init.has_input(0)) return InvalidModel("missing input 0");
  ACCEL_ASSIGN_OR_RETURN(ArgAttrs attrs, ReadArgAttrs(init.attrs));
  const DType dtype = init.input_types[0]->dtype;
  ArgFn fn = nullptr;
  VisitDType(NumericTypes{}, dtype,
             [&](auto tag) { fn = &ArgLoop<typename decltype(tag)::type, kMax>; });
  if (!fn) return UnsupportedDType(dtype);
  return std::unique_ptr<core::Kernel>(std::make_unique<ArgKernel>(fn, attrs));
}

}  // namespace

#define ACCEL_REDUCE_OP(Name, Kind, AxesInputVersion, ...)               \
  const core::OpDef& Name##OpDef() {                                     \
    static const core::OpDef def{#Name,                                  \
                                 "",                                     \
                                 {__VA_ARGS__},                          \
                                 1,                                      \
                                 &InferReduce<Kind, AxesInputVersion>,   \
                                 &CreateReduce<Kind, AxesInputVersion>}; \
    return def;                                                          \
  }

// clang-format off
//              name             kind               axes as input from  versions
ACCEL_REDUCE_OP(ReduceSum,       Kind::kSum,        13,                 1, 11, 13)
ACCEL_REDUCE_OP(ReduceMean,      Kind::kMean,       18,                 1, 11, 13, 18)
ACCEL_REDUCE_OP(ReduceMax,       Kind::kMax,        18,                 1, 11, 12, 13, 18, 20)
ACCEL_REDUCE_OP(ReduceMin,       Kind::kMin,        18,                 1, 11, 12, 13, 18, 20)
ACCEL_REDUCE_OP(ReduceProd,      Kind::kProd,       18,                 1, 11, 13, 18)
ACCEL_REDUCE_OP(ReduceL1,        Kind::kL1,         18,                 1, 11, 13, 18)
ACCEL_REDUCE_OP(ReduceL2,        Kind::kL2,         18,                 1, 11, 13, 18)
ACCEL_REDUCE_OP(ReduceLogSum,    Kind::kLogSum,     18,                 1, 11, 13, 18, 28)
ACCEL_REDUCE_OP(ReduceLogSumExp, Kind::kLogSumExp,  18,                 1, 11, 13, 18, 28)
ACCEL_REDUCE_OP(ReduceSumSquare, Kind::kSumSquare,  18,                 1, 11, 13, 18)
// clang-format on

const core::OpDef& ArgMaxOpDef() {
  static const core::OpDef def{"ArgMax", "", {1, 11, 12, 13}, 1, InferArg, CreateArg<true>};
  return def;
}

const core::OpDef& ArgMinOpDef() {
  static const core::OpDef def{"ArgMin", "", {1, 11, 12, 13}, 1, InferArg, CreateArg<false>};
  return def;
}

}  // namespace accel::cpu
