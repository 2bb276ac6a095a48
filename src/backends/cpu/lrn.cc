// LRN: local response normalization across channels.
//
// oneDNN's LRN centers its window on the channel, which matches ONNX only for odd sizes (ONNX
// puts the extra channel of an even window after the centre), so even sizes use a plain loop.
#include <algorithm>
#include <cmath>
#include <memory>

#include "backends/cpu/dnnl_util.h"
#include "core/op_def.h"

namespace accel::cpu {

namespace {

using dnnl::memory;

struct LrnParams {
  float alpha = 1e-4f;
  float beta = 0.75f;
  float bias = 1.0f;
  int64_t size = 1;
};

Result<LrnParams> ParseLrn(const core::Attributes& attrs) {
  LrnParams p;
  ACCEL_ASSIGN_OR_RETURN(p.alpha, attrs.GetFloat("alpha", 1e-4f));
  ACCEL_ASSIGN_OR_RETURN(p.beta, attrs.GetFloat("beta", 0.75f));
  ACCEL_ASSIGN_OR_RETURN(p.bias, attrs.GetFloat("bias", 1.0f));
  ACCEL_ASSIGN_OR_RETURN(p.size, attrs.RequireInt("size"));
  if (p.size < 1) return InvalidModel("size must be positive, got " + std::to_string(p.size));
  return p;
}

Status InferLrn(core::InferContext& ctx) {
  if (ctx.num_inputs() < 1 || !ctx.has_input(0)) return InvalidModel("LRN needs input X");
  ACCEL_RETURN_IF_ERROR(ParseLrn(ctx.attrs()).status());
  const core::TensorType& x = ctx.input_type(0);
  if (x.has_shape && x.rank() < 2) {
    return InvalidModel("LRN input must have rank 2 or more, got " + x.ToString());
  }
  ctx.set_output(0, x);
  return Status::Ok();
}

// x and y are [N, C, S].
void LrnReference(const LrnParams& p, const Shape& shape, const float* x, float* y) {
  const int64_t channels = shape[1], spatial = shape[2];
  const int64_t before = (p.size - 1) / 2;
  const int64_t after = p.size - 1 - before;
  for (int64_t n = 0; n < shape[0]; ++n) {
    const float* src = x + n * channels * spatial;
    float* dst = y + n * channels * spatial;
    for (int64_t c = 0; c < channels; ++c) {
      const int64_t lo = std::max<int64_t>(0, c - before);
      const int64_t hi = std::min(channels - 1, c + after);
      for (int64_t s = 0; s < spatial; ++s) {
        double sum = 0.0;
        for (int64_t j = lo; j <= hi; ++j) {
          const double v = src[j * spatial + s];
          sum += v * v;
        }
        const double scale = p.bias + p.alpha / static_cast<double>(p.size) * sum;
        dst[c * spatial + s] = static_cast<float>(src[c * spatial + s] / std::pow(scale, p.beta));
      }
    }
  }
}

class LrnKernel final : public core::Kernel {
 public:
  explicit LrnKernel(LrnParams params) : params_(params) {}

  Status Compute(core::KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    ACCEL_RETURN_IF_ERROR(RequireFloat32(x.dtype(), "LRN input"));
    ACCEL_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0));
    if (y->element_count() == 0) return Status::Ok();
    // Normalization runs across channels only: collapse the spatial axes.
    const Shape shape = {x.shape()[0], x.shape()[1], ElementCount(std::span(x.shape()).subspan(2))};
    if (params_.size % 2 == 0) {
      LrnReference(params_, shape, x.data_as<float>(), y->data_as<float>());
      return Status::Ok();
    }
    if (shape != shape_) {
      ACCEL_ASSIGN_OR_RETURN(
          pd_, TryDnnl("LRN of " + ShapeToString(x.shape()), [&] {
            dnnl::lrn_forward::desc desc(dnnl::prop_kind::forward_inference,
                                         dnnl::algorithm::lrn_across_channels,
                                         PlainDesc(shape, memory::data_type::f32), params_.size,
                                         params_.alpha, params_.beta, params_.bias);
            return dnnl::lrn_forward::primitive_desc(desc, WithOwnScratchpad({}), CpuEngine());
          }));
      lrn_ = dnnl::lrn_forward(pd_);
      scratch_.Reset(pd_);
      shape_ = shape;
    }
    lrn_.execute(ThreadStream(), {{DNNL_ARG_SRC, WrapTensor(x, pd_.src_desc())},
                                  {DNNL_ARG_DST, WrapTensor(*y, pd_.dst_desc())},
                                  {DNNL_ARG_SCRATCHPAD, scratch_.Get()}});
    ThreadStream().wait();
    return Status::Ok();
  }

 private:
  LrnParams params_;
  Shape shape_;  // the collapsed shape the primitive was built for
  dnnl::lrn_forward::primitive_desc pd_;
  dnnl::lrn_forward lrn_;
  ScratchpadArg scratch_;
};

Result<std::unique_ptr<core::Kernel>> CreateLrn(const core::KernelInit& init) {
  ACCEL_ASSIGN_OR_RETURN(LrnParams params, ParseLrn(init.attrs));
  ACCEL_RETURN_IF_ERROR(RequireFloat32Input(init, 0, "LRN input"));
  return std::unique_ptr<core::Kernel>(std::make_unique<LrnKernel>(params));
}

}  // namespace

const core::OpDef& LRNOpDef() {
  static const core::OpDef def{"LRN", "", {1, 13}, 1, InferLrn, CreateLrn};
  return def;
}

}  // namespace accel::cpu
