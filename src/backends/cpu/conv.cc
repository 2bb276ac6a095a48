// Conv: N-D convolution (1-3 spatial axes) through oneDNN's convolution primitive.
#include <algorithm>
#include <memory>
#include <optional>

#include "backends/cpu/channel_scale.h"
#include "backends/cpu/conv_attributes.h"
#include "backends/cpu/dnnl_util.h"
#include "backends/cpu/impl_timing.h"
#include "backends/cpu/post_ops.h"
#include "backends/cpu/precision.h"
#include "core/fused_ops.h"
#include "core/op_def.h"

namespace accel::cpu {

namespace {

using dnnl::memory;

// A fused residual addend follows X, W and B; a fused input scale follows the addend's slot.
constexpr size_t kAddendInput = 3;
constexpr size_t kScaleInput = 4;

Result<bool> HasInputScale(const core::Attributes& attrs) {
  ACCEL_ASSIGN_OR_RETURN(int64_t scale, attrs.GetInt(core::kFusedInputScaleAttr, 0));
  return scale == 1;
}

// The fused input scale: float32 [1, C, 1, 1] for an input [1, C, ...] and group 1.
Status CheckInputScale(const core::InferContext& ctx, int64_t group) {
  if (!ctx.has_input(kScaleInput)) return InvalidModel("fused input scale needs input 4");
  const core::TensorType& x = ctx.input_type(0);
  const core::TensorType& s = ctx.input_type(kScaleInput);
  if (group != 1 || s.dtype != DType::kFloat32) {
    return InvalidModel("fused input scale needs group 1 and a float32 scale, got group " +
                        std::to_string(group) + " and " + s.ToString());
  }
  if (!x.has_shape || !s.has_shape) return Status::Ok();
  if (x.rank() < 3 || s.dims != Shape({1, x.dims[1], 1, 1}) || x.dims[0] != 1) {
    return InvalidModel("fused input scale " + s.ToString() + " is not one value per channel of " +
                        "the input " + x.ToString());
  }
  return Status::Ok();
}

Status InferConvOutput(core::InferContext& ctx) {
  ACCEL_ASSIGN_OR_RETURN(ConvNode node, ReadConvNode(ctx, "Conv"));
  const core::TensorType& x = ctx.input_type(0);
  const core::TensorType& w = ctx.input_type(1);
  const int64_t group = node.attrs.group;
  const int64_t rank = node.rank;
  if (rank < 0) {
    ctx.set_output(0, core::TensorType::UnknownShape(x.dtype));
    return Status::Ok();
  }
  int64_t channels = -1, maps = -1;
  if (x.has_shape) channels = x.dims[1];
  if (w.has_shape) {
    maps = w.dims[0];
    if (channels >= 0 && w.dims[1] >= 0 && w.dims[1] * group != channels) {
      return InvalidModel("weights " + w.ToString() + " expect " +
                          std::to_string(w.dims[1] * group) + " input channels (group " +
                          std::to_string(group) + "), the input " + x.ToString() + " has " +
                          std::to_string(channels));
    }
    if (maps >= 0 && maps % group != 0) {
      return InvalidModel("group " + std::to_string(group) + " does not divide the " +
                          std::to_string(maps) + " output channels");
    }
  }
  if (channels >= 0 && channels % group != 0) {
    return InvalidModel("group " + std::to_string(group) + " does not divide the " +
                        std::to_string(channels) + " input channels");
  }
  ACCEL_RETURN_IF_ERROR(CheckConvBias(ctx, maps));
  // Without kernel_shape and known weight sizes the spatial output sizes stay unknown.
  if (!node.kernel_known()) {
    std::vector<int64_t> dims(rank, -1);
    if (x.has_shape) dims[0] = x.dims[0];
    dims[1] = maps;
    ctx.set_output(0, core::TensorType::Known(x.dtype, std::move(dims)));
    return Status::Ok();
  }
  ACCEL_ASSIGN_OR_RETURN(Window win, ResolveWindow(node.attrs.window, node.input, node.kernel));
  std::vector<int64_t> dims = {x.has_shape ? x.dims[0] : -1, maps};
  dims.insert(dims.end(), win.output.begin(), win.output.end());
  ctx.set_output(0, core::TensorType::Known(x.dtype, std::move(dims)));
  return Status::Ok();
}

Status InferConv(core::InferContext& ctx) {
  ACCEL_RETURN_IF_ERROR(InferConvOutput(ctx));
  ACCEL_ASSIGN_OR_RETURN(FusedPostOps ops, ParseFusedPostOps(ctx.attrs()));
  ACCEL_ASSIGN_OR_RETURN(bool input_scale, HasInputScale(ctx.attrs()));
  if (input_scale) {
    ACCEL_ASSIGN_OR_RETURN(int64_t group, ctx.attrs().GetInt("group", 1));
    ACCEL_RETURN_IF_ERROR(CheckInputScale(ctx, group));
  }
  return CheckFusedAddend(ctx, ops, kAddendInput, ctx.outputs()[0]);
}

class ConvKernel final : public core::Kernel {
 public:
  ConvKernel(WindowAttrs attrs, int64_t group, FusedPostOps post_ops, bool input_scale,
             core::Layout scale_layout, bool const_weights, core::Layout x_layout,
             core::Layout y_layout, Precision precision)
      : attrs_(std::move(attrs)),
        group_(group),
        post_ops_(post_ops),
        input_scale_(input_scale),
        scale_layout_(scale_layout),
        x_layout_(x_layout),
        y_layout_(y_layout),
        precision_(precision),
        conv_(const_weights) {}

  Status Compute(core::KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    const Tensor& w = ctx.input(1);
    const Tensor* b = ctx.has_input(2) ? &ctx.input(2) : nullptr;
    ACCEL_RETURN_IF_ERROR(RequireFloat32(x.dtype(), "Conv input"));
    ACCEL_RETURN_IF_ERROR(RequireFloat32(w.dtype(), "Conv weights"));
    if (b) ACCEL_RETURN_IF_ERROR(RequireFloat32(b->dtype(), "Conv bias"));
    ACCEL_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0));
    if (y->element_count() == 0) return Status::Ok();
    if (ctx.input_shape(0) != x_shape_ || w.shape() != w_shape_ || (b != nullptr) != has_bias_) {
      ACCEL_RETURN_IF_ERROR(
          Prepare(ctx.input_shape(0), w.shape(), ctx.output_shape(0), b != nullptr));
    }
    const Tensor* addend = nullptr;
    if (post_ops_.sum) {
      addend = &ctx.input(kAddendInput);
      ACCEL_RETURN_IF_ERROR(CheckFusedAddend(*addend, *y));
    }
    if (ctx.warm_up()) {
      conv_.PackOnly(w);
      return Status::Ok();
    }
    const float* scaled_weights = nullptr;
    if (input_scale_) {
      const Tensor& s = ctx.input(kScaleInput);
      if (s.dtype() != DType::kFloat32 || s.element_count() != scale_elements_ ||
          x_shape_[0] != 1) {
        return InvalidArgument("fused input scale " + std::string(DTypeName(s.dtype())) +
                               ShapeToString(s.shape()) + " does not fit the input " +
                               ShapeToString(x_shape_));
      }
      scaled_weights = scaled_.Apply(conv_.PackedConstant(w), s.data_as<float>());
    }
    conv_.Run(x, w, *y, b, sum_in_primitive_ ? addend : nullptr, scaled_weights);
    if (own_silu_) {
      // A sum after the activation is added in the same pass.
      const bool add = addend && post_ops_.sum_after_activation;
      SiluInPlace(y->values<float>(), add ? addend->data_as<float>() : nullptr);
    } else if (add_after_) {
      // Both are in the output's layout: the physical buffers add element by element.
      AddInPlace(y->values<float>(), addend->data_as<float>());
    }
    return Status::Ok();
  }

  std::string Describe() const override { return impl_; }

  bool Precompile(const core::KernelShapes& shapes) override {
    const auto& in = shapes.inputs;
    const auto& out = shapes.outputs;
    if (in.size() < 2 || !in[0] || !in[1] || out.empty() || !out[0]) return false;
    if (ElementCount(*out[0]) == 0) return false;
    const bool bias = in.size() > 2 && in[2];
    return Prepare(*in[0], *in[1], *out[0], bias, true).ok() && x_shape_ == *in[0];
  }

 private:
  // With `precompile` (see Precompile) a choice that needs timing is left to the next call:
  // its candidates' primitives are only created, which puts them in oneDNN's primitive cache.
  Status Prepare(const Shape& x, const Shape& w, const Shape& y, bool bias,
                 bool precompile = false) {
    const size_t spatial = x.size() - 2;
    if (spatial < 1 || spatial > 3) {
      return Unsupported("Conv with " + std::to_string(spatial) +
                         " spatial axes (oneDNN handles 1 to 3)");
    }
    ACCEL_ASSIGN_OR_RETURN(Window win,
                           ResolveWindow(attrs_, std::span(x).subspan(2), std::span(w).subspan(2)));
    memory::dims wdims(w.begin(), w.end());
    if (group_ > 1) {
      // oneDNN's grouped weights are [G, M/G, C/G, k...]: the same bytes as ONNX's [M, C/G, k...].
      wdims[0] = w[0] / group_;
      wdims.insert(wdims.begin(), group_);
    }
    const int64_t kernel_elements = ElementCount(std::span(w).subspan(2));
    const Precision precision = ConvPrecision(precision_, group_, x[1], w[0], kernel_elements);
    memory::desc any_weights(wdims, ComputeType(precision), memory::format_tag::any);
    memory::desc bias_md = bias ? PlainDesc({w[0]}, memory::data_type::f32) : memory::desc();
    // SiLU runs as a separate pass (see SiluInPlace); a sum after it then joins that pass.
    FusedPostOps in_primitive = post_ops_;
    own_silu_ = post_ops_.activation == FusedActivation::kSiLU;
    if (own_silu_) {
      in_primitive.activation = FusedActivation::kNone;
      if (post_ops_.sum_after_activation) in_primitive.sum = false;
    }
    dnnl::post_ops ops;
    AppendFusedPostOps(in_primitive, ops);
    dnnl::primitive_attr attr;
    attr.set_post_ops(ops);
    add_after_ = false;
    const memory::desc user_x = LayoutDesc(x_layout_, x), user_y = LayoutDesc(y_layout_, y);
    // oneDNN's first-layer kernel reads an input of fewer channels than one block from plain
    // NCHW and writes blocked dst (see propagate_layouts.cc). Its own choice of layouts would be
    // brgconv on nhwc with reorders around it: as fast, but ~1.5 ms to create.
    const bool first_layer = x_layout_ == core::Layout::kPlain && x.size() == 4 && group_ == 1 &&
                             x[1] < core::kChannelBlock && kernel_elements > 1;
    // oneDNN 2.6 has no jit kernel from a blocked src to a plain dst, and its own choice of
    // layouts (nhwc) reorders both sides: writing blocked dst and reordering only it is cheaper
    // (shufflenet's conv5 ~0.55 -> ~0.42 ms).
    const bool blocked_to_plain =
        (x_layout_ == core::Layout::kBlocked || first_layer) && y_layout_ == core::Layout::kPlain;
    const memory::desc run_y = blocked_to_plain ? LayoutDesc(core::Layout::kBlocked, y) : user_y;
    auto make = [&](const memory::desc& src, const memory::desc& dst,
                    const dnnl::primitive_attr& with,
                    dnnl::algorithm algo = dnnl::algorithm::convolution_direct) {
      return ConvPrimitiveDesc<dnnl::convolution_forward>(
          "Conv", algo, InComputeType(src, precision), any_weights, bias_md, dst, win, with);
    };
    // Blocked values run in their own layout: oneDNN's jit kernels read and write it directly.
    // Otherwise (or should oneDNN refuse that) it picks src/dst layouts itself, with reorders
    // from and to the values' layouts around each run.
    const bool flows =
        x_layout_ == core::Layout::kBlocked || y_layout_ == core::Layout::kBlocked || first_layer;
    Result<dnnl::convolution_forward::primitive_desc> pd =
        flows ? make(user_x, run_y, attr) : Unsupported("plain values");
    if (pd.ok() && IsReference(*pd)) pd = Unsupported("no jit kernel for these layouts");
    dnnl::primitive_attr act_attr;
    if (!pd.ok() && flows && in_primitive.sum && in_primitive.sum_after_activation) {
      // oneDNN's blocked 1x1 kernels take no sum after an activation: adding the addend in a
      // second pass is far cheaper than leaving the blocked layout for two reorders.
      FusedPostOps no_sum = in_primitive;
      no_sum.sum = false;
      dnnl::post_ops act;
      AppendFusedPostOps(no_sum, act);
      // A fresh attr: oneDNN 2.6 still picks its reference kernel when the post-ops of an attr
      // that held a sum are replaced.
      act_attr.set_post_ops(act);
      pd = make(user_x, run_y, act_attr);
      add_after_ = pd.ok() && !IsReference(*pd);
      if (!add_after_) pd = Unsupported("no jit kernel for these layouts");
    }
    if (pd.ok() && flows && precision == Precision::kFloat32 && WinogradCandidate(win)) {
      // Winograd F(2x3) does ~2.25x fewer multiplications on 3x3 stride-1 convs; whether that
      // beats the direct kernel depends on the sizes, so both are timed once.
      Result<dnnl::convolution_forward::primitive_desc> wino =
          make(user_x, run_y, add_after_ ? act_attr : attr, dnnl::algorithm::convolution_winograd);
      if (wino.ok() && !IsReference(*wino)) {
        // Winograd first: it usually wins, and then the direct kernel's timing stops early.
        const dnnl::primitive_desc candidates[] = {*wino, *pd};
        // Post-ops and bias are left out of the key: both candidates apply them in the same
        // epilogue, so layers that differ only there (resnet's conv with and without a
        // residual) share one timing.
        const std::string key = "Conv " + ShapeToString(x) + " w" + ShapeToString(w) + " pads " +
                                DimsToString(win.pad_begin) + DimsToString(win.pad_end) +
                                " group " + std::to_string(group_);
        const std::optional<size_t> pick =
            precompile ? KnownFastest(key, candidates) : PickFastest(key, candidates);
        if (!pick) {
          for (const dnnl::primitive_desc& c : candidates) (void)dnnl::primitive(c);
          return Status::Ok();
        }
        if (*pick == 0) pd = wino;
      }
    }
    if (!pd.ok()) {
      // bf16 converts src anyway: into the layout oneDNN runs fastest.
      const bool any =
          flows || BlockedIo(post_ops_, win, group_) || precision != Precision::kFloat32;
      pd = make(any ? AnyDesc(x) : user_x, any ? AnyDesc(y) : user_y, attr);
    }
    if (!pd.ok()) return pd.status();
    sum_in_primitive_ = in_primitive.sum && !add_after_;
    impl_ = pd->impl_info_str();
    conv_.Reset(*pd, PlainDesc(Shape(wdims.begin(), wdims.end()), memory::data_type::f32), user_x,
                user_y);
    if (input_scale_) {
      ACCEL_RETURN_IF_ERROR(scaled_.Prepare(conv_.user_weights_desc(), conv_.weights_desc()));
      // [1, C, 1, 1] holds the channels in order in either layout; blocked pads them to 16.
      scale_elements_ = ElementCount(core::PhysicalShape(scale_layout_, Shape{1, x[1], 1, 1}));
    }
    if (precompile) conv_.PrecompilePacking();
    x_shape_ = x;
    w_shape_ = w;
    has_bias_ = bias;
    return Status::Ok();
  }

  // oneDNN's Winograd kernels take 3x3, stride-1, undilated convolutions.
  static bool WinogradCandidate(const Window& win) {
    auto is = [](const std::vector<int64_t>& v, int64_t want) {
      return std::ranges::all_of(v, [want](int64_t d) { return d == want; });
    };
    return win.kernel.size() == 2 && is(win.kernel, 3) && is(win.strides, 1) &&
           is(win.dilations, 1);
  }

  // oneDNN's convolutions on plain NCHW data are gemm-based: they apply eltwise post-ops one
  // element at a time, and every conv but an ungrouped 1x1 stride-1 one first copies its input
  // into an im2col buffer (grouped and depthwise ones group by group). In the layouts oneDNN
  // chooses itself it runs jit kernels instead, which outweighs the reorders at the boundary;
  // a plain 1x1 conv is one GEMM on NCHW and its reorders would cost more than they save.
  static bool BlockedIo(const FusedPostOps& post_ops, const Window& win, int64_t group) {
    if (post_ops.activation != FusedActivation::kNone || group != 1) return true;
    auto not_one = [](int64_t d) { return d != 1; };
    auto not_zero = [](int64_t d) { return d != 0; };
    return std::ranges::any_of(win.kernel, not_one) || std::ranges::any_of(win.strides, not_one) ||
           std::ranges::any_of(win.dilations, not_one) ||
           std::ranges::any_of(win.pad_begin, not_zero) ||
           std::ranges::any_of(win.pad_end, not_zero);
  }

  WindowAttrs attrs_;
  int64_t group_;
  FusedPostOps post_ops_;
  bool input_scale_;  // input 0 is scaled per channel through the weights (scaled_)
  core::Layout scale_layout_;
  int64_t scale_elements_ = 0;  // of the scale tensor for the last shapes, padding included
  bool add_after_ = false;      // the addend is added after the primitive, not by a post-op
  bool own_silu_ = false;       // SiLU runs after the primitive (SiluInPlace)
  bool sum_in_primitive_ = false;
  std::string impl_;  // oneDNN's implementation for the last shapes, for profiles
  core::Layout x_layout_, y_layout_;
  Precision precision_;
  // State for the last seen shapes; rebuilt when they change.
  Shape x_shape_, w_shape_;
  bool has_bias_ = false;
  WeightedPrimitive conv_;
  ChannelScaledWeights scaled_;
};

Result<std::unique_ptr<core::Kernel>> CreateConv(const core::KernelInit& init) {
  ACCEL_ASSIGN_OR_RETURN(ConvAttrs attrs, ParseConvAttrs(init.attrs));
  ACCEL_ASSIGN_OR_RETURN(FusedPostOps post_ops, ParseFusedPostOps(init.attrs));
  ACCEL_RETURN_IF_ERROR(RequireFloat32Input(init, 0, "Conv input"));
  ACCEL_ASSIGN_OR_RETURN(bool input_scale, HasInputScale(init.attrs));
  bool const_weights = IsConstantInput(init, 1);
  if (input_scale &&
      (!init.has_input(kScaleInput) || !const_weights || init.precision != Precision::kFloat32)) {
    return InvalidModel("fused input scale needs input 4 and constant float32 weights");
  }
  return std::unique_ptr<core::Kernel>(std::make_unique<ConvKernel>(
      std::move(attrs.window), attrs.group, post_ops, input_scale,
      input_scale ? init.input_layouts[kScaleInput] : core::Layout::kPlain, const_weights,
      init.input_layouts[0], init.output_layouts[0], init.precision));
}

}  // namespace

const core::OpDef& ConvOpDef() {
  static const core::OpDef def{
      "Conv", "", {1, 11, 22}, 1, InferConv, CreateConv, core::LayoutSupport::kConv};
  return def;
}

}  // namespace accel::cpu
