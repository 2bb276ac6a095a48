// ConvTranspose: N-D transposed convolution (1-3 spatial axes) through oneDNN's deconvolution.
//
// output_padding and output_shape larger than the kernel covers become a negative end padding,
// which oneDNN's deconvolution accepts: those output elements receive only the bias.
#include <algorithm>
#include <memory>

#include "backends/cpu/conv_attributes.h"
#include "backends/cpu/dnnl_util.h"
#include "backends/cpu/precision.h"
#include "core/op_def.h"

namespace accel::cpu {

namespace {

using dnnl::memory;

Status InferConvTranspose(core::InferContext& ctx) {
  ACCEL_ASSIGN_OR_RETURN(ConvNode node, ReadConvNode(ctx, "ConvTranspose"));
  const core::TensorType& x = ctx.input_type(0);
  const core::TensorType& w = ctx.input_type(1);
  const int64_t group = node.attrs.group;
  const int64_t rank = node.rank;
  if (rank < 0) {
    ctx.set_output(0, core::TensorType::UnknownShape(x.dtype));
    return Status::Ok();
  }
  int64_t channels = x.has_shape ? x.dims[1] : -1;
  int64_t maps = -1;
  if (w.has_shape) {
    if (w.dims[1] >= 0) maps = w.dims[1] * group;
    if (channels >= 0 && w.dims[0] >= 0 && w.dims[0] != channels) {
      return InvalidModel("weights " + w.ToString() + " expect " + std::to_string(w.dims[0]) +
                          " input channels, the input " + x.ToString() + " has " +
                          std::to_string(channels));
    }
    if (channels < 0) channels = w.dims[0];
  }
  if (channels >= 0 && channels % group != 0) {
    return InvalidModel("group " + std::to_string(group) + " does not divide the " +
                        std::to_string(channels) + " input channels");
  }
  ACCEL_RETURN_IF_ERROR(CheckConvBias(ctx, maps));
  std::vector<int64_t> dims = {x.has_shape ? x.dims[0] : -1, maps};
  if (!node.kernel_known()) {
    dims.resize(rank, -1);
  } else {
    ACCEL_ASSIGN_OR_RETURN(Window win, ResolveTransposeWindow(node.attrs.window, ctx.attrs(),
                                                              node.input, node.kernel));
    dims.insert(dims.end(), win.output.begin(), win.output.end());
  }
  ctx.set_output(0, core::TensorType::Known(x.dtype, std::move(dims)));
  return Status::Ok();
}

// bf16 reads x converted anyway, so into the blocked layout of oneDNN's jit bf16 kernel (on
// plain bf16 data oneDNN 2.6 picks a gemm-based path that fails at run time); y stays float32.
Result<dnnl::deconvolution_forward::primitive_desc> Bf16DeconvolutionDesc(
    const Shape& x, const memory::desc& weights, const memory::desc& bias, const Shape& y,
    const Window& win) {
  auto any = [](const Shape& s, memory::data_type type) {
    return memory::desc(ToDnnlDims(s), type, memory::format_tag::any);
  };
  return TryDnnl("bf16 ConvTranspose with input " + ShapeToString(x), [&] {
    dnnl::deconvolution_forward::desc desc(
        dnnl::prop_kind::forward_inference, dnnl::algorithm::deconvolution_direct,
        any(x, memory::data_type::bf16), weights, bias, any(y, memory::data_type::f32),
        ToDnnlDims(win.strides), ToDnnlDilations(win.dilations), ToDnnlDims(win.pad_begin),
        ToDnnlDims(win.pad_end));
    return dnnl::deconvolution_forward::primitive_desc(desc, WithOwnScratchpad({}), CpuEngine());
  });
}

class ConvTransposeKernel final : public core::Kernel {
 public:
  ConvTransposeKernel(WindowAttrs attrs, core::Attributes node_attrs, int64_t group,
                      bool const_weights, Precision precision)
      : attrs_(std::move(attrs)),
        node_attrs_(std::move(node_attrs)),
        group_(group),
        precision_(precision),
        deconv_(const_weights) {}

  Status Compute(core::KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    const Tensor& w = ctx.input(1);
    const Tensor* b = ctx.has_input(2) ? &ctx.input(2) : nullptr;
    ACCEL_RETURN_IF_ERROR(RequireFloat32(x.dtype(), "ConvTranspose input"));
    ACCEL_RETURN_IF_ERROR(RequireFloat32(w.dtype(), "ConvTranspose weights"));
    if (b) ACCEL_RETURN_IF_ERROR(RequireFloat32(b->dtype(), "ConvTranspose bias"));
    ACCEL_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0));
    if (y->element_count() == 0) return Status::Ok();
    if (x.shape() != x_shape_ || w.shape() != w_shape_ || (b != nullptr) != has_bias_) {
      ACCEL_RETURN_IF_ERROR(Prepare(x.shape(), w.shape(), y->shape(), b != nullptr));
    }
    if (x.element_count() == 0) {
      // No input element contributes: every output is its channel's bias (or zero).
      std::fill_n(y->data_as<float>(), y->element_count(), 0.0f);
      if (b) {
        const int64_t maps = y->shape()[1];
        const int64_t inner = y->element_count() / std::max<int64_t>(1, y->shape()[0] * maps);
        float* out = y->data_as<float>();
        for (int64_t i = 0; i < y->element_count(); ++i)
          out[i] = b->data_as<float>()[(i / inner) % maps];
      }
      return Status::Ok();
    }
    if (ctx.warm_up()) {
      deconv_.PackOnly(w);
      return Status::Ok();
    }
    deconv_.Run(x, w, *y, b);
    return Status::Ok();
  }

 private:
  Status Prepare(const Shape& x, const Shape& w, const Shape& y, bool bias) {
    const size_t spatial = x.size() - 2;
    if (spatial < 1 || spatial > 3) {
      return Unsupported("ConvTranspose with " + std::to_string(spatial) +
                         " spatial axes (oneDNN handles 1 to 3)");
    }
    ACCEL_ASSIGN_OR_RETURN(Window win,
                           ResolveTransposeWindow(attrs_, node_attrs_, std::span(x).subspan(2),
                                                  std::span(w).subspan(2)));
    // ONNX stores the weights as [C, M/G, k...]; oneDNN wants the logical order
    // [G, M/G, C/G, k...]: describe the ONNX bytes with strides and let a reorder pack them.
    const int64_t cg = w[0] / group_;
    const int64_t mg = w[1];
    const int64_t k = ElementCount(std::span(w).subspan(2));
    memory::dims wdims = {group_, mg, cg};
    memory::dims wstrides = {cg * mg * k, k, mg * k};
    Shape spatial_w(w.begin() + 2, w.end());
    std::vector<int64_t> kstrides(spatial_w.size(), 1);
    for (int i = static_cast<int>(spatial_w.size()) - 2; i >= 0; --i) {
      kstrides[i] = kstrides[i + 1] * spatial_w[i + 1];
    }
    wdims.insert(wdims.end(), spatial_w.begin(), spatial_w.end());
    wstrides.insert(wstrides.end(), kstrides.begin(), kstrides.end());
    if (group_ == 1) {
      wdims.erase(wdims.begin());
      wstrides.erase(wstrides.begin());
    }
    const Precision precision =
        ConvPrecision(precision_, group_, x[1], y[1], ElementCount(std::span(w).subspan(2)));
    memory::desc any_weights(wdims, ComputeType(precision), memory::format_tag::any);
    memory::desc bias_md = bias ? PlainDesc({y[1]}, memory::data_type::f32) : memory::desc();
    Result<dnnl::deconvolution_forward::primitive_desc> pd =
        precision == Precision::kBFloat16
            ? Bf16DeconvolutionDesc(x, any_weights, bias_md, y, win)
            : ConvPrimitiveDesc<dnnl::deconvolution_forward>("ConvTranspose",
                                                             dnnl::algorithm::deconvolution_direct,
                                                             x, any_weights, bias_md, y, win);
    if (!pd.ok()) return pd.status();
    deconv_.Reset(*pd, memory::desc(wdims, memory::data_type::f32, wstrides),
                  PlainDesc(x, memory::data_type::f32), PlainDesc(y, memory::data_type::f32));
    x_shape_ = x;
    w_shape_ = w;
    has_bias_ = bias;
    return Status::Ok();
  }

  WindowAttrs attrs_;
  core::Attributes node_attrs_;  // output_padding and output_shape
  int64_t group_;
  Precision precision_;
  // State for the last seen shapes; rebuilt when they change.
  Shape x_shape_, w_shape_;
  bool has_bias_ = false;
  WeightedPrimitive deconv_;
};

Result<std::unique_ptr<core::Kernel>> CreateConvTranspose(const core::KernelInit& init) {
  ACCEL_ASSIGN_OR_RETURN(ConvAttrs attrs, ParseConvAttrs(init.attrs));
  ACCEL_RETURN_IF_ERROR(RequireFloat32Input(init, 0, "ConvTranspose input"));
  bool const_weights = IsConstantInput(init, 1);
  return std::unique_ptr<core::Kernel>(std::make_unique<ConvTransposeKernel>(
      std::move(attrs.window), init.attrs, attrs.group, const_weights, init.precision));
}

}  // namespace

const core::OpDef& ConvTransposeOpDef() {
  static const core::OpDef def{"ConvTranspose",    "", {1, 11, 22}, 1, InferConvTranspose,
                               CreateConvTranspose};
  return def;
}

}  // namespace accel::cpu
