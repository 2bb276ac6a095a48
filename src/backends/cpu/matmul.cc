// MatMul with numpy semantics (1-D operands, broadcast batch dims) through oneDNN's matmul.
#include <algorithm>
#include <memory>
#include <string>

#include "backends/cpu/dnnl_util.h"
#include "backends/cpu/post_ops.h"
#include "backends/cpu/precision.h"
#include "core/op_def.h"
#include "core/shape_utils.h"

namespace accel::cpu {

namespace {

using dnnl::memory;

// Fused inputs after A and B (core/fused_ops.h): a bias along the last axis, then an addend.
constexpr size_t kBiasInput = 2;
constexpr size_t kAddendInput = 3;

Status InferMatMulOutput(core::InferContext& ctx) {
  if (ctx.num_inputs() < 2 || !ctx.has_input(0) || !ctx.has_input(1)) {
    return InvalidModel("MatMul needs inputs A and B");
  }
  const core::TensorType& a = ctx.input_type(0);
  const core::TensorType& b = ctx.input_type(1);
  if (!a.has_shape || !b.has_shape) {
    ctx.set_output(0, core::TensorType::UnknownShape(a.dtype));
    return Status::Ok();
  }
  if (a.rank() == 0 || b.rank() == 0) {
    return InvalidModel("MatMul operands must not be scalars, got " + a.ToString() + " and " +
                        b.ToString());
  }
  const int64_t ka = a.dims.back();
  const int64_t kb = b.rank() == 1 ? b.dims[0] : b.dims[b.rank() - 2];
  if (ka >= 0 && kb >= 0 && ka != kb) {
    return InvalidModel("MatMul inner dimensions differ: " + a.ToString() + " x " + b.ToString());
  }
  std::span<const int64_t> batch_a(a.dims.data(), a.rank() > 2 ? a.rank() - 2 : 0);
  std::span<const int64_t> batch_b(b.dims.data(), b.rank() > 2 ? b.rank() - 2 : 0);
  ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> dims, core::BroadcastShapes(batch_a, batch_b));
  if (a.rank() > 1) dims.push_back(a.dims[a.rank() - 2]);
  if (b.rank() > 1) dims.push_back(b.dims.back());
  ctx.set_output(0, core::TensorType::Known(a.dtype, std::move(dims)));
  return Status::Ok();
}

Status InferMatMul(core::InferContext& ctx) {
  ACCEL_RETURN_IF_ERROR(InferMatMulOutput(ctx));
  const core::TensorType& y = ctx.outputs()[0];
  if (ctx.has_input(kBiasInput)) {
    const core::TensorType& bias = ctx.input_type(kBiasInput);
    const int64_t n = y.has_shape && y.rank() > 0 ? y.dims.back() : -1;
    if (bias.dtype != y.dtype || (bias.has_shape && bias.rank() != 1) ||
        (bias.has_shape && bias.dims[0] >= 0 && n >= 0 && bias.dims[0] != n)) {
      return InvalidModel("fused MatMul bias " + bias.ToString() + " does not fit the output " +
                          y.ToString());
    }
  }
  ACCEL_ASSIGN_OR_RETURN(FusedPostOps ops, ParseFusedPostOps(ctx.attrs()));
  return CheckFusedAddend(ctx, ops, kAddendInput, y);
}

class MatMulKernel final : public core::Kernel {
 public:
  MatMulKernel(FusedPostOps post_ops, bool const_b, Precision precision)
      : post_ops_(post_ops), const_b_(const_b), precision_(precision), matmul_(const_b) {}

  Status Compute(core::KernelContext& ctx) override {
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    ACCEL_RETURN_IF_ERROR(RequireFloat32(a.dtype(), "MatMul input A"));
    ACCEL_RETURN_IF_ERROR(RequireFloat32(b.dtype(), "MatMul input B"));
    ACCEL_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0));
    if (y->element_count() == 0) return Status::Ok();
    const int64_t n = y->rank() > 0 ? y->shape().back() : 1;
    const Tensor* bias = ctx.has_input(kBiasInput) ? &ctx.input(kBiasInput) : nullptr;
    if (bias && (bias->dtype() != DType::kFloat32 || bias->rank() != 1 || bias->shape()[0] != n)) {
      return InvalidArgument("fused MatMul bias " + std::string(DTypeName(bias->dtype())) +
                             ShapeToString(bias->shape()) + " does not fit the output " +
                             ShapeToString(y->shape()));
    }
    const Tensor* addend = post_ops_.sum ? &ctx.input(kAddendInput) : nullptr;
    if (addend) ACCEL_RETURN_IF_ERROR(CheckFusedAddend(*addend, *y));
    if (a.shape().back() == 0) {  // empty inner dimension: every dot product is 0
      std::span<float> out(y->data_as<float>(), y->element_count());
      std::fill(out.begin(), out.end(), 0.0f);
      if (bias) {
        for (size_t i = 0; i < out.size(); ++i) out[i] += bias->data_as<float>()[i % n];
      }
      ApplyFusedPostOps(post_ops_, out, addend);
      return Status::Ok();
    }
    if (a.shape() != a_shape_ || b.shape() != b_shape_ || (bias != nullptr) != has_bias_) {
      ACCEL_RETURN_IF_ERROR(Prepare(a.shape(), b.shape(), bias != nullptr));
    }
    if (ctx.warm_up()) {
      matmul_.PackOnly(b);
      return Status::Ok();
    }
    matmul_.Run(a, b, *y, bias, addend);
    return Status::Ok();
  }

  std::string Describe() const override { return impl_; }

 private:
  Status Prepare(const Shape& a, const Shape& b, bool bias) {
    // Numpy rules: a 1-D A is a row, a 1-D B a column; batch dims are padded with ones.
    Shape ad = a.size() == 1 ? Shape{1, a[0]} : a;
    Shape bd = b.size() == 1 ? Shape{b[0], 1} : b;
    if (std::max(ad.size(), bd.size()) > DNNL_MAX_NDIMS) {
      return Unsupported("MatMul of rank " + std::to_string(std::max(ad.size(), bd.size())) +
                         " (oneDNN handles up to " + std::to_string(DNNL_MAX_NDIMS) + ")");
    }
    if (const_b_ && b.size() == 2 && ad.size() > 2) {
      // Constant 2-D weights under batched activations (every Linear layer of a transformer):
      // one [batch*M, K] x [K, N] product over the same bytes lets oneDNN pack the weights,
      // which it does not for batched weights.
      ad = {ElementCount(std::span(ad).first(ad.size() - 1)), ad.back()};
    }
    const size_t rank = std::max(ad.size(), bd.size());
    ad.insert(ad.begin(), rank - ad.size(), 1);
    bd.insert(bd.begin(), rank - bd.size(), 1);
    Shape yd(rank);
    for (size_t i = 0; i + 2 < rank; ++i) yd[i] = std::max(ad[i], bd[i]);
    yd[rank - 2] = ad[rank - 2];
    yd[rank - 1] = bd[rank - 1];
    const memory::desc user_a = PlainDesc(ad, memory::data_type::f32);
    const memory::desc user_b = PlainDesc(bd, memory::data_type::f32);
    memory::desc want_b = const_b_ ? memory::desc(memory::dims(bd.begin(), bd.end()),
                                                  ComputeType(precision_), memory::format_tag::any)
                                   : InComputeType(user_b, precision_);
    ACCEL_ASSIGN_OR_RETURN(
        auto pd, TryDnnl("MatMul of " + ShapeToString(a) + " x " + ShapeToString(b), [&] {
          // The bias broadcasts over every axis but the last.
          Shape bias_dims(rank, 1);
          bias_dims.back() = yd.back();
          memory::desc bias_md =
              bias ? PlainDesc(bias_dims, memory::data_type::f32) : memory::desc();
          dnnl::matmul::desc desc(InComputeType(user_a, precision_), want_b, bias_md,
                                  PlainDesc(yd, memory::data_type::f32));
          dnnl::post_ops ops;
          AppendFusedPostOps(post_ops_, ops);
          dnnl::primitive_attr attr;
          attr.set_post_ops(ops);
          return dnnl::matmul::primitive_desc(desc, WithOwnScratchpad(attr), CpuEngine());
        }));
    matmul_.Reset(pd, user_b, user_a);
    impl_ = pd.impl_info_str();
    a_shape_ = a;
    b_shape_ = b;
    has_bias_ = bias;
    return Status::Ok();
  }

  FusedPostOps post_ops_;
  bool const_b_;
  Precision precision_;
  Shape a_shape_, b_shape_;
  bool has_bias_ = false;
  WeightedPrimitive matmul_;
  std::string impl_;  // oneDNN's name for the implementation it chose, for profiles
};

Result<std::unique_ptr<core::Kernel>> CreateMatMul(const core::KernelInit& init) {
  ACCEL_ASSIGN_OR_RETURN(FusedPostOps post_ops, ParseFusedPostOps(init.attrs));
  ACCEL_RETURN_IF_ERROR(RequireFloat32Input(init, 0, "MatMul input A"));
  bool const_b = IsConstantInput(init, 1);
  return std::unique_ptr<core::Kernel>(
      std::make_unique<MatMulKernel>(post_ops, const_b, init.precision));
}

}  // namespace

const core::OpDef& MatMulOpDef() {
  static const core::OpDef def{"MatMul", "", {1, 9, 13}, 1, InferMatMul, CreateMatMul};
  return def;
}

}  // namespace accel::cpu
