// CumSum along an axis given as a run-time input, with the exclusive and reverse variants.
#include <memory>
#include <string>
#include <vector>

#include "backends/cpu/elementwise_util.h"
#include "core/op_def.h"
#include "core/shape_utils.h"

namespace accel::cpu {

namespace {

template <typename T>
void CumSumLoop(const Tensor& in, Tensor& out, AxisLayout l, bool exclusive, bool reverse) {
  const T* x = in.data_as<T>();
  T* y = out.data_as<T>();
#pragma omp parallel for schedule(static) if (l.outer * l.axis * l.inner >= kParallelMinElements)
  for (int64_t o = 0; o < l.outer; ++o) {
    std::vector<T> acc(static_cast<size_t>(l.inner), T(0));
    for (int64_t step = 0; step < l.axis; ++step) {
      const int64_t r = reverse ? l.axis - 1 - step : step;
      const T* xr = x + (o * l.axis + r) * l.inner;
      T* yr = y + (o * l.axis + r) * l.inner;
      for (int64_t i = 0; i < l.inner; ++i) {
        if (exclusive) {
          yr[i] = acc[i];
          acc[i] += xr[i];
        } else {
          acc[i] += xr[i];
          yr[i] = acc[i];
        }
      }
    }
  }
}

using CumSumFn = void (*)(const Tensor&, Tensor&, AxisLayout, bool, bool);
using CumSumTypes = TypeList<float, double, int32_t, uint32_t, int64_t, uint64_t>;

class CumSumKernel final : public core::Kernel {
 public:
  CumSumKernel(CumSumFn fn, bool exclusive, bool reverse)
      : fn_(fn), exclusive_(exclusive), reverse_(reverse) {}

  Status Compute(core::KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    const Tensor& axis_tensor = ctx.input(1);
    if (axis_tensor.element_count() != 1 || axis_tensor.rank() > 1) {
      return InvalidArgument("axis must be a scalar, got shape " +
                             ShapeToString(axis_tensor.shape()));
    }
    ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> axis_value, core::ReadInts(axis_tensor));
    const int64_t rank = std::max<int64_t>(1, x.rank());
    if (axis_value[0] < -rank || axis_value[0] >= rank) {
      return OutOfRange("axis " + std::to_string(axis_value[0]) + " is out of range for rank " +
                        std::to_string(x.rank()));
    }
    const int64_t axis = axis_value[0] < 0 ? axis_value[0] + rank : axis_value[0];
    ACCEL_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0));
    if (x.element_count() > 0) fn_(x, *y, LayoutAround(x.shape(), axis), exclusive_, reverse_);
    return Status::Ok();
  }

 private:
  CumSumFn fn_;
  bool exclusive_;
  bool reverse_;
};

Status InferCumSum(core::InferContext& ctx) {
  if (!ctx.has_input(0) || !ctx.has_input(1)) return InvalidModel("expects inputs x and axis");
  ctx.set_output(0, ctx.input_type(0));
  return Status::Ok();
}

Result<std::unique_ptr<core::Kernel>> CreateCumSum(const core::KernelInit& init) {
  if (!init.has_input(0) || !init.has_input(1)) return InvalidModel("expects inputs x and axis");
  ACCEL_ASSIGN_OR_RETURN(int64_t exclusive, init.attrs.GetInt("exclusive", 0));
  ACCEL_ASSIGN_OR_RETURN(int64_t reverse, init.attrs.GetInt("reverse", 0));
  const DType dtype = init.input_types[0]->dtype;
  CumSumFn fn = nullptr;
  VisitDType(CumSumTypes{}, dtype,
             [&](auto tag) { fn = &CumSumLoop<typename decltype(tag)::type>; });
  if (!fn) return UnsupportedDType(dtype);
  return std::unique_ptr<core::Kernel>(
      std::make_unique<CumSumKernel>(fn, exclusive != 0, reverse != 0));
}

}  // namespace

const core::OpDef& CumSumOpDef() {
  static const core::OpDef def{"CumSum", "", {11, 14}, 11, InferCumSum, CreateCumSum};
  return def;
}

}  // namespace accel::cpu
