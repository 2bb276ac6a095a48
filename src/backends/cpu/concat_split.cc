// Concat and Split: block copies along one axis.
#include <cstring>
#include <string>
#include <vector>

#include "backends/cpu/data_movement.h"
#include "core/op_def.h"

namespace accel::cpu {

namespace {

Status InferConcat(core::InferContext& ctx) {
  if (ctx.num_inputs() == 0) return InvalidModel("needs at least one input");
  // Opset 1 defaulted axis to 1; from 4 it is required.
  ACCEL_ASSIGN_OR_RETURN(int64_t axis, ctx.opset() < 4 ? ctx.attrs().GetInt("axis", 1)
                                                       : ctx.attrs().RequireInt("axis"));
  DType dtype = ctx.input_type(0).dtype;
  const core::TensorType* ranked = nullptr;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) return InvalidModel("input " + std::to_string(i) + " is omitted");
    if (ctx.input_type(i).has_shape) ranked = &ctx.input_type(i);
  }
  if (!ranked) {
    ctx.set_output(0, core::TensorType::UnknownShape(dtype));
    return Status::Ok();
  }
  int64_t rank = ranked->rank();
  ACCEL_ASSIGN_OR_RETURN(axis, core::NormalizeAxis(axis, rank));
  std::vector<int64_t> dims(rank, -1);
  int64_t total = 0;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const core::TensorType& t = ctx.input_type(i);
    if (t.dtype != dtype) return InvalidModel("inputs have different dtypes");
    if (!t.has_shape) {
      total = -1;
      continue;
    }
    if (t.rank() != rank) {
      return InvalidModel("input " + std::to_string(i) + " has rank " + std::to_string(t.rank()) +
                          ", expected " + std::to_string(rank));
    }
    for (int64_t d = 0; d < rank; ++d) {
      if (d == axis) continue;
      if (t.dims[d] < 0) continue;
      if (dims[d] >= 0 && dims[d] != t.dims[d]) {
        return InvalidModel("inputs differ in dimension " + std::to_string(d) + ": " +
                            std::to_string(dims[d]) + " vs " + std::to_string(t.dims[d]));
      }
      dims[d] = t.dims[d];
    }
    if (total >= 0) total = t.dims[axis] < 0 ? -1 : total + t.dims[axis];
  }
  dims[axis] = total;
  ctx.set_output(0, dtype, std::move(dims));
  return Status::Ok();
}

Status ComputeConcat(core::KernelContext& ctx, const core::Attributes& attrs, int opset) {
  ACCEL_ASSIGN_OR_RETURN(int64_t axis, attrs.GetInt("axis", 1));
  ACCEL_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0));
  ACCEL_ASSIGN_OR_RETURN(axis, core::NormalizeAxis(axis, out->rank()));
  size_t elem = DTypeSize(out->dtype());
  int64_t outer = ElementCount(std::span(out->shape()).subspan(0, axis));
  int64_t out_row = ElementCount(std::span(out->shape()).subspan(axis)) * elem;
  auto* dst = static_cast<uint8_t*>(out->data());
  int64_t offset = 0;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const Tensor& in = ctx.input(i);
    int64_t row = ElementCount(std::span(in.shape()).subspan(axis)) * elem;
    if (row > 0) {
      const auto* src = static_cast<const uint8_t*>(in.data());
      bool parallel = outer > 1 && outer * row >= (int64_t{1} << 16);
#pragma omp parallel for if (parallel)
      for (int64_t o = 0; o < outer; ++o) {
        std::memcpy(dst + o * out_row + offset, src + o * row, row);
      }
    }
    offset += row;
  }
  return Status::Ok();
}

// Split sizes from the `split` attribute (before 13) or input 1 (from 13), or from num_outputs
// (18: ceil-sized pieces, last one smaller) or an equal split. *known is false when the split
// input exists but its value is not known yet.
Result<std::vector<int64_t>> SplitSizes(const core::Attributes& attrs, int opset,
                                        const Tensor* split_input, bool has_split_input,
                                        int64_t dim, size_t num_outputs, bool* known) {
  *known = true;
  std::vector<int64_t> sizes;
  if (opset < 13) {
    ACCEL_ASSIGN_OR_RETURN(sizes, attrs.GetInts("split"));
  } else if (has_split_input) {
    if (!split_input) {
      *known = false;
      return sizes;
    }
    ACCEL_ASSIGN_OR_RETURN(sizes, core::ReadInts(*split_input));
  }
  if (!sizes.empty()) {
    if (sizes.size() != num_outputs) {
      return InvalidModel("split has " + std::to_string(sizes.size()) + " entries for " +
                          std::to_string(num_outputs) + " outputs");
    }
    int64_t sum = 0;
    for (int64_t s : sizes) {
      if (s < 0) return InvalidModel("split has a negative size");
      sum += s;
    }
    if (dim >= 0 && sum != dim) {
      return InvalidModel("split sizes sum to " + std::to_string(sum) + ", the axis has " +
                          std::to_string(dim));
    }
    return sizes;
  }
  if (dim < 0) {
    *known = false;
    return sizes;
  }
  int64_t n = static_cast<int64_t>(num_outputs);
  if (opset >= 18 && attrs.Has("num_outputs")) {
    ACCEL_ASSIGN_OR_RETURN(n, attrs.RequireInt("num_outputs"));
    if (n != static_cast<int64_t>(num_outputs) || n <= 0) {
      return InvalidModel("num_outputs " + std::to_string(n) + " does not match the " +
                          std::to_string(num_outputs) + " outputs");
    }
    int64_t piece = (dim + n - 1) / n;
    for (int64_t i = 0; i < n; ++i)
      sizes.push_back(std::max<int64_t>(0, std::min(piece, dim - i * piece)));
    return sizes;
  }
  if (n <= 0 || dim % n != 0) {
    return InvalidModel("axis of size " + std::to_string(dim) + " cannot be split evenly into " +
                        std::to_string(n) + " outputs");
  }
  sizes.assign(n, dim / n);
  return sizes;
}

Status InferSplit(core::InferContext& ctx) {
  const core::TensorType& in = ctx.input_type(0);
  if (!in.has_shape) {
    for (size_t i = 0; i < ctx.num_outputs(); ++i) {
      ctx.set_output(i, core::TensorType::UnknownShape(in.dtype));
    }
    return Status::Ok();
  }
  ACCEL_ASSIGN_OR_RETURN(int64_t axis, ctx.attrs().GetInt("axis", 0));
  ACCEL_ASSIGN_OR_RETURN(axis, core::NormalizeAxis(axis, in.rank()));
  bool known = false;
  ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> sizes,
                         SplitSizes(ctx.attrs(), ctx.opset(), ctx.input_value(1), ctx.has_input(1),
                                    in.dims[axis], ctx.num_outputs(), &known));
  for (size_t i = 0; i < ctx.num_outputs(); ++i) {
    std::vector<int64_t> dims = in.dims;
    dims[axis] = known ? sizes[i] : -1;
    ctx.set_output(i, in.dtype, std::move(dims));
  }
  return Status::Ok();
}

// The piece sizes are kept for the last axis length and split values, so that steady runs
// allocate nothing.
class SplitKernel final : public core::Kernel {
 public:
  SplitKernel(const core::Attributes& attrs, int opset) : attrs_(attrs), opset_(opset) {}

  Status Compute(core::KernelContext& ctx) override {
    const core::Attributes& attrs = attrs_;
    const int opset = opset_;
    const Tensor& in = ctx.input(0);
    ACCEL_ASSIGN_OR_RETURN(int64_t axis, attrs.GetInt("axis", 0));
    ACCEL_ASSIGN_OR_RETURN(axis, core::NormalizeAxis(axis, in.rank()));
    bool known = false;
    const Tensor* split_input = ctx.has_input(1) ? &ctx.input(1) : nullptr;
    split_values_.clear();
    if (split_input) ACCEL_RETURN_IF_ERROR(dm::ReadIntsInto(*split_input, split_values_));
    if (!sized_ || in.shape()[axis] != sized_dim_ || !(split_values_ == sized_split_)) {
      sized_ = false;
      ACCEL_ASSIGN_OR_RETURN(sizes_, SplitSizes(attrs, opset, split_input, ctx.has_input(1),
                                                in.shape()[axis], ctx.num_outputs(), &known));
      if (sizes_.size() < ctx.num_outputs()) return Internal("split sizes are missing");
      sized_dim_ = in.shape()[axis];
      sized_split_ = split_values_;
      sized_ = true;
    }
    const std::vector<int64_t>& sizes = sizes_;
    size_t elem = DTypeSize(in.dtype());
    int64_t outer = ElementCount(std::span(in.shape()).subspan(0, axis));
    int64_t inner = ElementCount(std::span(in.shape()).subspan(axis + 1)) * elem;
    int64_t in_row = in.shape()[axis] * inner;
    const auto* src = static_cast<const uint8_t*>(in.data());
    int64_t offset = 0;
    for (size_t i = 0; i < ctx.num_outputs(); ++i) {
      int64_t row = sizes[i] * inner;
      if (ctx.has_output(i)) {
        ACCEL_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(i));
        auto* dst = static_cast<uint8_t*>(out->data());
        for (int64_t o = 0; row > 0 && o < outer; ++o) {
          std::memcpy(dst + o * row, src + o * in_row + offset, row);
        }
      }
      offset += row;
    }
    return Status::Ok();
  }

 private:
  const core::Attributes& attrs_;  // owned by the Model, which outlives every Session
  int opset_;
  DimVector split_values_;  // this run's split input
  bool sized_ = false;
  int64_t sized_dim_ = 0;
  DimVector sized_split_;
  std::vector<int64_t> sizes_;
};

Result<std::unique_ptr<core::Kernel>> CreateSplit(const core::KernelInit& init) {
  return dm::MakeKernel<SplitKernel>(init.attrs, init.opset);
}

constexpr core::CreateKernelFn CreateConcat = dm::CreateFunctionKernel<ComputeConcat>;

}  // namespace

const core::OpDef& ConcatOpDef() {
  static const core::OpDef def{
      "Concat", "", {1, 4, 11, 13}, 1, InferConcat, CreateConcat, core::LayoutSupport::kConcat};
  return def;
}

const core::OpDef& SplitOpDef() {
  static const core::OpDef def{"Split", "", {1, 2, 11, 13, 18}, 2, InferSplit, CreateSplit};
  return def;
}

}  // namespace accel::cpu
