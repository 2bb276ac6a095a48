// Ops whose output is generated rather than moved: Shape, Size, Constant, ConstantOfShape,
// Range and EyeLike.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "backends/cpu/data_movement.h"
#include "core/op_def.h"

namespace accel::cpu {

namespace {

// ---- Shape ----

// Shape's [start, end) window (opset 15), clamped to the rank.
std::pair<int64_t, int64_t> ShapeWindow(int64_t start, int64_t end, int64_t rank) {
  if (start < 0) start += rank;
  if (end < 0) end += rank;
  start = std::clamp<int64_t>(start, 0, rank);
  end = std::clamp<int64_t>(end, 0, rank);
  return {start, std::max(start, end)};
}

Result<std::pair<int64_t, int64_t>> ShapeBounds(const core::Attributes& attrs, int opset,
                                                int64_t rank) {
  if (opset < 15) return std::pair<int64_t, int64_t>{0, rank};
  ACCEL_ASSIGN_OR_RETURN(int64_t start, attrs.GetInt("start", 0));
  ACCEL_ASSIGN_OR_RETURN(int64_t end, attrs.GetInt("end", rank));
  return ShapeWindow(start, end, rank);
}

Status InferShape(core::InferContext& ctx) {
  const core::TensorType& in = ctx.input_type(0);
  if (!in.has_shape) {
    ctx.set_output(0, DType::kInt64, {-1});
    return Status::Ok();
  }
  ACCEL_ASSIGN_OR_RETURN(auto bounds, ShapeBounds(ctx.attrs(), ctx.opset(), in.rank()));
  ctx.set_output(0, DType::kInt64, {bounds.second - bounds.first});
  return Status::Ok();
}

Status ComputeShape(core::KernelContext& ctx, const core::Attributes& attrs, int opset) {
  const Tensor& in = ctx.input(0);
  ACCEL_ASSIGN_OR_RETURN(auto bounds, ShapeBounds(attrs, opset, in.rank()));
  ACCEL_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0));
  std::copy(in.shape().begin() + bounds.first, in.shape().begin() + bounds.second,
            out->data_as<int64_t>());
  return Status::Ok();
}

// ---- Size ----

Status InferSize(core::InferContext& ctx) {
  ctx.set_output(0, DType::kInt64, {});
  return Status::Ok();
}

Status ComputeSize(core::KernelContext& ctx, const core::Attributes& attrs, int opset) {
  ACCEL_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0));
  out->data_as<int64_t>()[0] = ctx.input(0).element_count();
  return Status::Ok();
}

// ---- Constant ----

// The tensor a Constant node produces, from whichever value attribute it has.
Result<Tensor> ConstantValue(const core::Attributes& attrs) {
  for (const char* name : {"sparse_value", "value_string", "value_strings"}) {
    if (attrs.Has(name)) return Unsupported(std::string("Constant with '") + name + "'");
  }
  if (attrs.Has("value")) return attrs.GetTensor("value");
  if (attrs.Has("value_float")) {
    ACCEL_ASSIGN_OR_RETURN(float v, attrs.GetFloat("value_float", 0));
    return Tensor::FromVector<float>(DType::kFloat32, {}, std::span(&v, 1));
  }
  if (attrs.Has("value_floats")) {
    ACCEL_ASSIGN_OR_RETURN(std::vector<float> v, attrs.GetFloats("value_floats"));
    int64_t n = static_cast<int64_t>(v.size());
    return Tensor::FromVector<float>(DType::kFloat32, {n}, v);
  }
  if (attrs.Has("value_int")) {
    ACCEL_ASSIGN_OR_RETURN(int64_t v, attrs.RequireInt("value_int"));
    return Tensor::FromVector<int64_t>(DType::kInt64, {}, std::span(&v, 1));
  }
  if (attrs.Has("value_ints")) {
    ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> v, attrs.RequireInts("value_ints"));
    int64_t n = static_cast<int64_t>(v.size());
    return Tensor::FromVector<int64_t>(DType::kInt64, {n}, v);
  }
  return InvalidModel("Constant has no value attribute");
}

Status InferConstant(core::InferContext& ctx) {
  ACCEL_ASSIGN_OR_RETURN(Tensor value, ConstantValue(ctx.attrs()));
  ctx.set_output(0, value.dtype(), value.shape());
  return Status::Ok();
}

class ConstantKernel final : public core::Kernel {
 public:
  explicit ConstantKernel(Tensor value) : value_(std::move(value)) {}
  // Consumers never write into their inputs, so every run can share the one tensor.
  Status Compute(core::KernelContext& ctx) override { return ctx.SetOutput(0, value_); }

 private:
  Tensor value_;
};

Result<std::unique_ptr<core::Kernel>> CreateConstant(const core::KernelInit& init) {
  ACCEL_ASSIGN_OR_RETURN(Tensor value, ConstantValue(init.attrs));
  return dm::MakeKernel<ConstantKernel>(std::move(value));
}

// ---- ConstantOfShape ----

Result<Tensor> FillValue(const core::Attributes& attrs) {
  if (!attrs.Has("value")) return Tensor::Zeros(DType::kFloat32, {});
  ACCEL_ASSIGN_OR_RETURN(Tensor v, attrs.GetTensor("value"));
  if (v.element_count() != 1) return InvalidModel("value must have exactly one element");
  return v;
}

Result<std::vector<int64_t>> CheckedShape(const Tensor& t) {
  ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> dims, core::ReadInts(t));
  for (int64_t d : dims) {
    if (d < 0) return InvalidModel("shape has negative dimension " + std::to_string(d));
  }
  return dims;
}

Status InferConstantOfShape(core::InferContext& ctx) {
  ACCEL_ASSIGN_OR_RETURN(Tensor value, FillValue(ctx.attrs()));
  if (const Tensor* shape = ctx.input_value(0)) {
    ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> dims, CheckedShape(*shape));
    ctx.set_output(0, value.dtype(), std::move(dims));
    return Status::Ok();
  }
  const core::TensorType& st = ctx.input_type(0);
  if (st.has_shape && st.rank() == 1 && st.dims[0] >= 0) {
    ctx.set_output(0, value.dtype(), std::vector<int64_t>(st.dims[0], -1));
  } else {
    ctx.set_output(0, core::TensorType::UnknownShape(value.dtype()));
  }
  return Status::Ok();
}

class ConstantOfShapeKernel final : public core::Kernel {
 public:
  explicit ConstantOfShapeKernel(Tensor value) : value_(std::move(value)) {}

  Status Compute(core::KernelContext& ctx) override {
    ACCEL_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0));
    size_t elem = DTypeSize(out->dtype());
    auto* dst = static_cast<uint8_t*>(out->data());
    int64_t n = out->element_count();
    if (std::all_of(static_cast<const uint8_t*>(value_.data()),
                    static_cast<const uint8_t*>(value_.data()) + elem,
                    [](uint8_t b) { return b == 0; })) {
      std::memset(dst, 0, n * elem);
      return Status::Ok();
    }
    for (int64_t i = 0; i < n; ++i) std::memcpy(dst + i * elem, value_.data(), elem);
    return Status::Ok();
  }

 private:
  Tensor value_;
};

Result<std::unique_ptr<core::Kernel>> CreateConstantOfShape(const core::KernelInit& init) {
  ACCEL_ASSIGN_OR_RETURN(Tensor value, FillValue(init.attrs));
  return dm::MakeKernel<ConstantOfShapeKernel>(std::move(value));
}

// ---- Range ----

bool IsHalf(DType d) { return d == DType::kFloat16 || d == DType::kBFloat16; }

Result<int64_t> RangeCount(const Tensor& start, const Tensor& limit, const Tensor& delta) {
  for (const Tensor* t : {&start, &limit, &delta}) {
    if (t->element_count() != 1) return InvalidModel("start, limit and delta must be scalars");
    if (t->dtype() != start.dtype()) return InvalidModel("start, limit and delta differ in dtype");
  }
  if (!IsHalf(start.dtype())) {
    ACCEL_RETURN_IF_ERROR(dm::VisitNumeric(start.dtype(), [](auto) { return Status::Ok(); }));
  }
  ACCEL_ASSIGN_OR_RETURN(double s, dm::ScalarAsDouble(start));
  ACCEL_ASSIGN_OR_RETURN(double l, dm::ScalarAsDouble(limit));
  ACCEL_ASSIGN_OR_RETURN(double d, dm::ScalarAsDouble(delta));
  if (d == 0) return InvalidModel("delta is 0");
  double n = std::ceil((l - s) / d);
  if (!(n <= static_cast<double>(int64_t{1} << 40))) {
    return InvalidModel("range has too many elements");
  }
  return n > 0 ? static_cast<int64_t>(n) : 0;
}

Status InferRange(core::InferContext& ctx) {
  DType dtype = ctx.input_type(0).dtype;
  const Tensor* s = ctx.input_value(0);
  const Tensor* l = ctx.input_value(1);
  const Tensor* d = ctx.input_value(2);
  if (!s || !l || !d) {
    ctx.set_output(0, dtype, {-1});
    return Status::Ok();
  }
  ACCEL_ASSIGN_OR_RETURN(int64_t n, RangeCount(*s, *l, *d));
  ctx.set_output(0, dtype, {n});
  return Status::Ok();
}

Status ComputeRange(core::KernelContext& ctx, const core::Attributes& attrs, int opset) {
  const Tensor& start = ctx.input(0);
  ACCEL_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0));
  int64_t n = out->element_count();
  if (IsHalf(start.dtype())) {
    // Computed in float, rounded once per element.
    ACCEL_ASSIGN_OR_RETURN(double s, dm::ScalarAsDouble(start));
    ACCEL_ASSIGN_OR_RETURN(double d, dm::ScalarAsDouble(ctx.input(2)));
    for (int64_t i = 0; i < n; ++i) {
      ACCEL_RETURN_IF_ERROR(dm::StoreFromDouble(
          *out, i, static_cast<float>(s) + static_cast<float>(i) * static_cast<float>(d)));
    }
    return Status::Ok();
  }
  return dm::VisitNumeric(start.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    T s = start.data_as<T>()[0];
    T d = ctx.input(2).data_as<T>()[0];
    T* o = out->data_as<T>();
    // start + i * delta (not repeated addition) keeps float error from accumulating.
    for (int64_t i = 0; i < n; ++i) {
      if constexpr (std::is_integral_v<T>) {
        // i * delta may overflow even when the sum is in range: wrap in unsigned arithmetic.
        uint64_t v = static_cast<uint64_t>(s) + static_cast<uint64_t>(i) * static_cast<uint64_t>(d);
        o[i] = static_cast<T>(v);
      } else {
        o[i] = static_cast<T>(s + static_cast<T>(i) * d);
      }
    }
    return Status::Ok();
  });
}

// ---- EyeLike ----

Result<DType> EyeDType(const core::Attributes& attrs, DType input) {
  if (!attrs.Has("dtype")) return input;
  ACCEL_ASSIGN_OR_RETURN(int64_t code, attrs.RequireInt("dtype"));
  DType dtype = static_cast<DType>(code);
  if (DTypeSize(dtype) == 0 || std::string(DTypeName(dtype)) == "undefined") {
    return Unsupported("dtype " + std::to_string(code));
  }
  return dtype;
}

Status InferEyeLike(core::InferContext& ctx) {
  const core::TensorType& in = ctx.input_type(0);
  ACCEL_ASSIGN_OR_RETURN(DType dtype, EyeDType(ctx.attrs(), in.dtype));
  if (in.has_shape && in.rank() != 2) return InvalidModel("input must be 2-D");
  ctx.set_output(0, in.has_shape ? core::TensorType::Known(dtype, in.dims)
                                 : core::TensorType::Known(dtype, {-1, -1}));
  return Status::Ok();
}

Status ComputeEyeLike(core::KernelContext& ctx, const core::Attributes& attrs, int opset) {
  ACCEL_ASSIGN_OR_RETURN(int64_t k, attrs.GetInt("k", 0));
  ACCEL_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0));
  std::memset(out->data(), 0, out->byte_size());
  int64_t rows = out->shape()[0], cols = out->shape()[1];
  k = std::clamp<int64_t>(k, -rows, cols);  // beyond that the diagonal is empty anyway
  for (int64_t i = std::max<int64_t>(0, -k); i < rows && i + k < cols; ++i) {
    ACCEL_RETURN_IF_ERROR(dm::StoreFromDouble(*out, i * cols + i + k, 1.0));
  }
  return Status::Ok();
}

constexpr core::CreateKernelFn CreateEyeLike = dm::CreateFunctionKernel<ComputeEyeLike>;
constexpr core::CreateKernelFn CreateRange = dm::CreateFunctionKernel<ComputeRange>;
constexpr core::CreateKernelFn CreateShape = dm::CreateFunctionKernel<ComputeShape>;
constexpr core::CreateKernelFn CreateSize = dm::CreateFunctionKernel<ComputeSize>;

}  // namespace

const core::OpDef& ShapeOpDef() {
  static const core::OpDef def{
      "Shape", "", {1, 13, 15, 19, 21, 23, 24, 25}, 1, InferShape, CreateShape,
  };
  return def;
}

const core::OpDef& SizeOpDef() {
  static const core::OpDef def{"Size", "", {1, 13, 19, 21, 23, 24, 25}, 1, InferSize, CreateSize};
  return def;
}

const core::OpDef& ConstantOpDef() {
  static const core::OpDef def{
      "Constant", "", {1, 9, 11, 12, 13, 19, 21, 23, 24, 25}, 1, InferConstant, CreateConstant,
  };
  return def;
}

const core::OpDef& ConstantOfShapeOpDef() {
  static const core::OpDef def{
      "ConstantOfShape",     "", {9, 20, 21, 23, 24, 25}, 9, InferConstantOfShape,
      CreateConstantOfShape,
  };
  return def;
}

const core::OpDef& RangeOpDef() {
  static const core::OpDef def{"Range", "", {11, 27}, 11, InferRange, CreateRange};
  return def;
}

const core::OpDef& EyeLikeOpDef() {
  static const core::OpDef def{"EyeLike", "", {9, 22}, 9, InferEyeLike, CreateEyeLike};
  return def;
}

}  // namespace accel::cpu
