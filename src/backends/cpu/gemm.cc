// Gemm: Y = alpha * op(A) * op(B) + beta * C through oneDNN's matmul.
//
// Transposes are strided memory descriptors (no copy). C is broadcast into Y first and added by
// a sum post-op scaled by beta, which covers every unidirectional broadcast of C.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "backends/cpu/dnnl_util.h"
#include "backends/cpu/gemv.h"
#include "backends/cpu/post_ops.h"
#include "backends/cpu/precision.h"
#include "core/op_def.h"

namespace accel::cpu {

namespace {

using dnnl::memory;

// A fused residual addend follows A, B and C.
constexpr size_t kAddendInput = 3;

struct GemmAttrs {
  bool trans_a = false;
  bool trans_b = false;
  float alpha = 1.0f;
  float beta = 1.0f;
};

Result<GemmAttrs> ParseGemmAttrs(const core::Attributes& attrs) {
  GemmAttrs g;
  ACCEL_ASSIGN_OR_RETURN(int64_t trans_a, attrs.GetInt("transA", 0));
  ACCEL_ASSIGN_OR_RETURN(int64_t trans_b, attrs.GetInt("transB", 0));
  ACCEL_ASSIGN_OR_RETURN(g.alpha, attrs.GetFloat("alpha", 1.0f));
  ACCEL_ASSIGN_OR_RETURN(g.beta, attrs.GetFloat("beta", 1.0f));
  g.trans_a = trans_a != 0;
  g.trans_b = trans_b != 0;
  return g;
}

Status InferGemm(core::InferContext& ctx) {
  if (ctx.num_inputs() < 2 || !ctx.has_input(0) || !ctx.has_input(1)) {
    return InvalidModel("Gemm needs inputs A and B");
  }
  if (ctx.opset() < 11 && !ctx.has_input(2)) {
    return InvalidModel("Gemm before opset 11 needs input C");
  }
  ACCEL_ASSIGN_OR_RETURN(GemmAttrs g, ParseGemmAttrs(ctx.attrs()));
  const core::TensorType& a = ctx.input_type(0);
  const core::TensorType& b = ctx.input_type(1);
  int64_t m = -1, n = -1, ka = -1, kb = -1;
  if (a.has_shape) {
    if (a.rank() != 2) return InvalidModel("Gemm input A must be 2-D, got " + a.ToString());
    m = a.dims[g.trans_a ? 1 : 0];
    ka = a.dims[g.trans_a ? 0 : 1];
  }
  if (b.has_shape) {
    if (b.rank() != 2) return InvalidModel("Gemm input B must be 2-D, got " + b.ToString());
    n = b.dims[g.trans_b ? 0 : 1];
    kb = b.dims[g.trans_b ? 1 : 0];
  }
  if (ka >= 0 && kb >= 0 && ka != kb) {
    return InvalidModel("Gemm inner dimensions differ: A " + a.ToString() +
                        (g.trans_a ? "^T" : "") + ", B " + b.ToString() + (g.trans_b ? "^T" : ""));
  }
  if (ctx.has_input(2) && ctx.input_type(2).has_shape) {
    const core::TensorType& c = ctx.input_type(2);
    const int64_t want[2] = {m, n};
    bool ok = c.rank() <= 2;
    for (int64_t i = 0; ok && i < c.rank(); ++i) {
      const int64_t d = c.dims[c.rank() - 1 - i];
      const int64_t w = want[1 - i];
      ok = d == 1 || d < 0 || w < 0 || d == w;
    }
    // Before opset 7, C broadcasts only when the `broadcast` attribute says so.
    ACCEL_ASSIGN_OR_RETURN(int64_t broadcast, ctx.attrs().GetInt("broadcast", 0));
    if (ctx.opset() < 7 && broadcast == 0) {
      ok = c.rank() == 2 && (c.dims[0] < 0 || m < 0 || c.dims[0] == m) &&
           (c.dims[1] < 0 || n < 0 || c.dims[1] == n);
    }
    if (!ok) {
      return InvalidModel("Gemm input C " + c.ToString() + " cannot be broadcast to [" +
                          std::to_string(m) + "," + std::to_string(n) + "]");
    }
  }
  ctx.set_output(0, core::TensorType::Known(a.dtype, {m, n}));
  ACCEL_ASSIGN_OR_RETURN(FusedPostOps ops, ParseFusedPostOps(ctx.attrs()));
  // C already takes the one sum post-op before the activation.
  if (ops.sum_after_activation) return InvalidModel("Gemm takes no addend after its activation");
  return CheckFusedAddend(ctx, ops, kAddendInput, ctx.outputs()[0]);
}

class GemmKernel final : public core::Kernel {
 public:
  GemmKernel(GemmAttrs attrs, FusedPostOps post_ops, bool const_b, Precision precision)
      : attrs_(attrs),
        post_ops_(post_ops),
        const_b_(const_b),
        precision_(precision),
        matmul_(const_b) {}

  Status Compute(core::KernelContext& ctx) override {
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    const Tensor* c = ctx.has_input(2) ? &ctx.input(2) : nullptr;
    ACCEL_RETURN_IF_ERROR(RequireFloat32(a.dtype(), "Gemm input A"));
    ACCEL_RETURN_IF_ERROR(RequireFloat32(b.dtype(), "Gemm input B"));
    if (c) ACCEL_RETURN_IF_ERROR(RequireFloat32(c->dtype(), "Gemm input C"));
    // beta == 0 ignores C entirely (even NaNs in it), as the reference does.
    if (attrs_.beta == 0.0f) c = nullptr;
    ACCEL_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0));
    if (y->element_count() == 0) return Status::Ok();
    const int64_t m = y->shape()[0], n = y->shape()[1];
    const int64_t k = a.shape()[attrs_.trans_a ? 0 : 1];
    float* out = y->data_as<float>();
    // One sum post-op adds what Y holds: beta * C plus the fused addend, written here.
    const bool sum = c != nullptr || post_ops_.sum;
    if (c) BroadcastC(*c, m, n, out);
    if (post_ops_.sum) {
      const Tensor& addend = ctx.input(kAddendInput);
      if (!c) {
        ACCEL_RETURN_IF_ERROR(CopyFusedAddend(addend, *y));
      } else {
        if (addend.dtype() != DType::kFloat32 || addend.shape() != y->shape()) {
          return CopyFusedAddend(addend, *y);  // the error naming both shapes
        }
        const float* add = addend.data_as<float>();
        for (int64_t i = 0; i < m * n; ++i) out[i] = attrs_.beta * out[i] + add[i];
      }
    }
    const float sum_scale = post_ops_.sum ? 1.0f : attrs_.beta;
    if (k == 0) {  // empty inner dimension: the product is 0
      for (int64_t i = 0; i < m * n; ++i) out[i] = sum ? sum_scale * out[i] : 0.0f;
      ApplyFusedActivation(post_ops_, std::span(out, m * n));
      return Status::Ok();
    }
    if (m == 1 && attrs_.trans_b && !post_ops_.sum && precision_ == Precision::kFloat32) {
      // One row of A against B stored [N, K]: a streaming matrix-vector product on B as the
      // model has it (no packed copy), then C and the activation.
      if (ctx.warm_up()) return Status::Ok();
      gemv_out_.resize(static_cast<size_t>(n));
      GemvRows(a.data_as<float>(), b.data_as<float>(), n, k, gemv_out_.data());
      for (int64_t j = 0; j < n; ++j) {
        out[j] = attrs_.alpha * gemv_out_[j] + (c ? attrs_.beta * out[j] : 0.0f);
      }
      ApplyFusedActivation(post_ops_, std::span(out, n));
      impl_ = "gemv";
      return Status::Ok();
    }
    if (a.shape() != a_shape_ || b.shape() != b_shape_ || sum != with_c_) {
      ACCEL_RETURN_IF_ERROR(Prepare(m, n, k, sum));
      a_shape_ = a.shape();
      b_shape_ = b.shape();
    }
    if (ctx.warm_up()) {
      matmul_.PackOnly(b);
      return Status::Ok();
    }
    matmul_.Run(a, b, *y);
    return Status::Ok();
  }

  std::string Describe() const override { return impl_; }

 private:
  // Writes C broadcast to [m, n] (shape checked by the shape rule) into `out`.
  static void BroadcastC(const Tensor& c, int64_t m, int64_t n, float* out) {
    const float* src = c.data_as<float>();
    const int64_t rows = c.rank() == 2 ? c.shape()[0] : 1;
    const int64_t cols = c.rank() >= 1 ? c.shape().back() : 1;
    for (int64_t i = 0; i < m; ++i) {
      const float* row = src + (rows == 1 ? 0 : i) * cols;
      for (int64_t j = 0; j < n; ++j) out[i * n + j] = row[cols == 1 ? 0 : j];
    }
  }

  // `with_c`: Y holds the addend for the sum post-op.
  Status Prepare(int64_t m, int64_t n, int64_t k, bool with_c) {
    // A transposed [K, M] buffer read as [M, K] has strides {1, M}; likewise for B.
    memory::desc a_md({m, k}, memory::data_type::f32,
                      attrs_.trans_a ? memory::dims{1, m} : memory::dims{k, 1});
    memory::desc user_b({k, n}, memory::data_type::f32,
                        attrs_.trans_b ? memory::dims{1, k} : memory::dims{n, 1});
    memory::desc want_b =
        const_b_ ? memory::desc({k, n}, ComputeType(precision_), memory::format_tag::any)
                 : InComputeType(user_b, precision_);
    // A is converted anyway in bf16, into the row-major layout matmul reads fastest.
    const memory::desc src =
        precision_ == Precision::kFloat32 ? a_md : PlainDesc({m, k}, ComputeType(precision_));
    dnnl::primitive_attr attr;
    if (attrs_.alpha != 1.0f) attr.set_output_scales(0, {attrs_.alpha});
    dnnl::post_ops ops;
    // A fused addend was folded into Y with C already scaled by beta.
    if (with_c) ops.append_sum(post_ops_.sum ? 1.0f : attrs_.beta);
    FusedPostOps activation = post_ops_;
    activation.sum = false;
    AppendFusedPostOps(activation, ops);
    attr.set_post_ops(ops);
    ACCEL_ASSIGN_OR_RETURN(
        auto pd,
        TryDnnl("Gemm of [" + std::to_string(m) + "," + std::to_string(k) + "] x [" +
                    std::to_string(k) + "," + std::to_string(n) + "]",
                [&] {
                  dnnl::matmul::desc desc(src, want_b, PlainDesc({m, n}, memory::data_type::f32));
                  return dnnl::matmul::primitive_desc(desc, WithOwnScratchpad(attr), CpuEngine());
                }));
    matmul_.Reset(pd, user_b, a_md);
    impl_ = pd.impl_info_str();
    with_c_ = with_c;
    return Status::Ok();
  }

  GemmAttrs attrs_;
  FusedPostOps post_ops_;
  bool const_b_;
  Precision precision_;
  Shape a_shape_, b_shape_;
  bool with_c_ = false;
  WeightedPrimitive matmul_;
  std::vector<float> gemv_out_;  // A x B^T of the one-row path (sized on the first run)
  std::string impl_;             // oneDNN's name for the implementation it chose, for profiles
};

Result<std::unique_ptr<core::Kernel>> CreateGemm(const core::KernelInit& init) {
  ACCEL_ASSIGN_OR_RETURN(GemmAttrs attrs, ParseGemmAttrs(init.attrs));
  ACCEL_ASSIGN_OR_RETURN(FusedPostOps post_ops, ParseFusedPostOps(init.attrs));
  ACCEL_RETURN_IF_ERROR(RequireFloat32Input(init, 0, "Gemm input A"));
  bool const_b = IsConstantInput(init, 1);
  return std::unique_ptr<core::Kernel>(
      std::make_unique<GemmKernel>(attrs, post_ops, const_b, init.precision));
}

}  // namespace

const core::OpDef& GemmOpDef() {
  static const core::OpDef def{"Gemm", "", {1, 6, 7, 9, 11, 13}, 6, InferGemm, CreateGemm};
  return def;
}

}  // namespace accel::cpu
