// BatchNormalization (inference) and InstanceNormalization through oneDNN's batch normalization.
//
// Both normalize per channel, so the spatial axes are collapsed: the primitive always sees
// [N, C, S]. InstanceNormalization is a batch normalization of [1, N*C, S] whose statistics are
// computed on the fly, with scale and bias repeated for every image.
#include <algorithm>
#include <memory>
#include <vector>

#include "backends/cpu/dnnl_util.h"
#include "core/op_def.h"

namespace accel::cpu {

namespace {

using dnnl::memory;

// Checks X has rank >= `min_rank` and each of inputs [1, num_inputs) is a vector of X's
// channels; sets Y to X's type.
Status InferChannelNorm(core::InferContext& ctx, const char* op, size_t num_inputs,
                        int64_t min_rank) {
  for (size_t i = 0; i < num_inputs; ++i) {
    if (!ctx.has_input(i))
      return InvalidModel(std::string(op) + " is missing input " + std::to_string(i));
  }
  const core::TensorType& x = ctx.input_type(0);
  int64_t channels = -1;
  if (x.has_shape) {
    if (x.rank() < min_rank) {
      return InvalidModel(std::string(op) + " input must have rank " + std::to_string(min_rank) +
                          " or more, got " + x.ToString());
    }
    channels = x.dims[1];
  }
  for (size_t i = 1; i < num_inputs; ++i) {
    const core::TensorType& t = ctx.input_type(i);
    if (!t.has_shape) continue;
    if (t.rank() != 1 || (channels >= 0 && t.dims[0] >= 0 && t.dims[0] != channels)) {
      return InvalidModel(std::string(op) + " input " + std::to_string(i) + " " + t.ToString() +
                          " must be a vector of the " + std::to_string(channels) + " channels");
    }
  }
  ctx.set_output(0, x);
  return Status::Ok();
}

// X viewed as [N, C, S].
Shape Collapsed(const Shape& x) {
  const int64_t spatial = ElementCount(std::span(x).subspan(2));
  return {x[0], x[1], spatial};
}

// oneDNN's batch normalization over a float32 [N, C, S] view, rebuilt when that shape changes.
class BatchNormPrimitive {
 public:
  BatchNormPrimitive(dnnl::prop_kind prop, dnnl::normalization_flags flags)
      : prop_(prop), flags_(flags) {}

  // Builds the primitive for `shape` unless it is already built for it; true when it was
  // (re)built. `op` and `x_shape` name the case in oneDNN's refusal.
  Result<bool> Update(const Shape& shape, float epsilon, const char* op, const Shape& x_shape) {
    if (shape == shape_) return false;
    ACCEL_ASSIGN_OR_RETURN(pd_, TryDnnl(std::string(op) + " of " + ShapeToString(x_shape), [&] {
                             dnnl::batch_normalization_forward::desc desc(
                                 prop_, PlainDesc(shape, memory::data_type::f32), epsilon, flags_);
                             return dnnl::batch_normalization_forward::primitive_desc(
                                 desc, WithOwnScratchpad({}), CpuEngine());
                           }));
    bnorm_ = dnnl::batch_normalization_forward(pd_);
    scratch_.Reset(pd_);
    shape_ = shape;
    return true;
  }

  // The layout of the scale, shift, mean and variance vectors (shape[1] floats).
  memory::desc vector_desc() const { return PlainDesc({shape_[1]}, memory::data_type::f32); }

  void Run(const Tensor& x, Tensor& y, const memory& scale, const memory& shift, const memory& mean,
           const memory& variance) {
    bnorm_.execute(ThreadStream(), {{DNNL_ARG_SRC, WrapTensor(x, pd_.src_desc())},
                                    {DNNL_ARG_DST, WrapTensor(y, pd_.dst_desc())},
                                    {DNNL_ARG_SCALE, scale},
                                    {DNNL_ARG_SHIFT, shift},
                                    {DNNL_ARG_MEAN, mean},
                                    {DNNL_ARG_VARIANCE, variance},
                                    {DNNL_ARG_SCRATCHPAD, scratch_.Get()}});
    ThreadStream().wait();
  }

 private:
  dnnl::prop_kind prop_;
  dnnl::normalization_flags flags_;
  Shape shape_;  // the shape the primitive was built for
  dnnl::batch_normalization_forward::primitive_desc pd_;
  dnnl::batch_normalization_forward bnorm_;
  ScratchpadArg scratch_;
};

// ---- BatchNormalization ---------------------------------------------------------------------

Status InferBatchNorm(core::InferContext& ctx) {
  ACCEL_RETURN_IF_ERROR(InferChannelNorm(ctx, "BatchNormalization", 5, 2));
  // Training outputs (running and saved statistics) are vectors of the channels; the kernel
  // refuses them, but the types are still well defined.
  const core::TensorType& x = ctx.input_type(0);
  const int64_t channels = x.has_shape ? x.dims[1] : -1;
  for (size_t i = 1; i < ctx.num_outputs(); ++i) {
    ctx.set_output(i, core::TensorType::Known(x.dtype, {channels}));
  }
  return Status::Ok();
}

class BatchNormKernel final : public core::Kernel {
 public:
  explicit BatchNormKernel(float epsilon)
      : epsilon_(epsilon),
        bnorm_(dnnl::prop_kind::forward_inference, dnnl::normalization_flags::use_global_stats |
                                                       dnnl::normalization_flags::use_scale |
                                                       dnnl::normalization_flags::use_shift) {}

  Status Compute(core::KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    for (size_t i = 0; i < 5; ++i) {
      ACCEL_RETURN_IF_ERROR(RequireFloat32(ctx.input(i).dtype(), "BatchNormalization input"));
    }
    ACCEL_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0));
    if (y->element_count() == 0) return Status::Ok();
    ACCEL_RETURN_IF_ERROR(
        bnorm_.Update(Collapsed(x.shape()), epsilon_, "BatchNormalization", x.shape()).status());
    const memory::desc vec = bnorm_.vector_desc();
    bnorm_.Run(x, *y, WrapTensor(ctx.input(1), vec), WrapTensor(ctx.input(2), vec),
               WrapTensor(ctx.input(3), vec), WrapTensor(ctx.input(4), vec));
    return Status::Ok();
  }

 private:
  float epsilon_;
  BatchNormPrimitive bnorm_;  // over the collapsed input shape
};

Result<std::unique_ptr<core::Kernel>> CreateBatchNorm(const core::KernelInit& init) {
  ACCEL_ASSIGN_OR_RETURN(float epsilon, init.attrs.GetFloat("epsilon", 1e-5f));
  // Training mode is spelled differently in every version; only inference is implemented.
  bool training = false;
  if (init.opset < 7) {
    ACCEL_ASSIGN_OR_RETURN(int64_t is_test, init.attrs.GetInt("is_test", 0));
    training = is_test == 0;
  } else if (init.opset >= 14) {
    ACCEL_ASSIGN_OR_RETURN(int64_t training_mode, init.attrs.GetInt("training_mode", 0));
    training = training_mode != 0;
  }
  for (size_t i = 1; i < init.output_types.size(); ++i) training |= init.output_types[i] != nullptr;
  if (training) {
    return Unsupported("BatchNormalization in training mode (only inference is implemented)");
  }
  if (init.opset < 9) {
    ACCEL_ASSIGN_OR_RETURN(int64_t spatial, init.attrs.GetInt("spatial", 1));
    if (spatial != 1) return Unsupported("BatchNormalization with spatial=0");
  }
  ACCEL_RETURN_IF_ERROR(RequireFloat32Input(init, 0, "BatchNormalization input"));
  return std::unique_ptr<core::Kernel>(std::make_unique<BatchNormKernel>(epsilon));
}

// ---- InstanceNormalization ------------------------------------------------------------------

Status InferInstanceNorm(core::InferContext& ctx) {
  return InferChannelNorm(ctx, "InstanceNormalization", 3, 3);
}

class InstanceNormKernel final : public core::Kernel {
 public:
  explicit InstanceNormKernel(float epsilon)
      : epsilon_(epsilon),
        bnorm_(dnnl::prop_kind::forward_training,
               dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift) {}

  Status Compute(core::KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    for (size_t i = 0; i < 3; ++i) {
      ACCEL_RETURN_IF_ERROR(RequireFloat32(ctx.input(i).dtype(), "InstanceNormalization input"));
    }
    ACCEL_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0));
    if (y->element_count() == 0) return Status::Ok();
    const Shape collapsed = Collapsed(x.shape());
    const int64_t channels = collapsed[1];
    const Shape shape = {1, collapsed[0] * channels, collapsed[2]};
    ACCEL_ASSIGN_OR_RETURN(bool rebuilt,
                           bnorm_.Update(shape, epsilon_, "InstanceNormalization", x.shape()));
    if (rebuilt) {
      const size_t planes = static_cast<size_t>(shape[1]);
      scale_.resize(planes);
      shift_.resize(planes);
      mean_.resize(planes);
      variance_.resize(planes);
    }
    // Every image uses the same per-channel scale and bias.
    const float* scale = ctx.input(1).data_as<float>();
    const float* bias = ctx.input(2).data_as<float>();
    for (int64_t p = 0; p < shape[1]; ++p) {
      scale_[p] = scale[p % channels];
      shift_[p] = bias[p % channels];
    }
    const memory::desc vec = bnorm_.vector_desc();
    auto wrap = [&](std::vector<float>& v) { return memory(vec, CpuEngine(), v.data()); };
    bnorm_.Run(x, *y, wrap(scale_), wrap(shift_), wrap(mean_), wrap(variance_));
    return Status::Ok();
  }

 private:
  float epsilon_;
  BatchNormPrimitive bnorm_;                            // over [1, N*C, S]
  std::vector<float> scale_, shift_, mean_, variance_;  // per (image, channel)
};

Result<std::unique_ptr<core::Kernel>> CreateInstanceNorm(const core::KernelInit& init) {
  ACCEL_ASSIGN_OR_RETURN(float epsilon, init.attrs.GetFloat("epsilon", 1e-5f));
  ACCEL_RETURN_IF_ERROR(RequireFloat32Input(init, 0, "InstanceNormalization input"));
  return std::unique_ptr<core::Kernel>(std::make_unique<InstanceNormKernel>(epsilon));
}

}  // namespace

const core::OpDef& BatchNormalizationOpDef() {
  static const core::OpDef def{"BatchNormalization", "", {1, 6, 7, 9, 14, 15}, 6, InferBatchNorm,
                               CreateBatchNorm};
  return def;
}

const core::OpDef& InstanceNormalizationOpDef() {
  static const core::OpDef def{"InstanceNormalization", "", {1, 6, 22}, 1, InferInstanceNorm,
                               CreateInstanceNorm};
  return def;
}

}  // namespace accel::cpu
