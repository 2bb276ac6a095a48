// Pooling: MaxPool, AveragePool, LpPool and their Global* forms.
//
// oneDNN's pooling primitive runs the common float32 cases with 1-3 spatial axes. A plain C++
// loop handles what it cannot express exactly: MaxPool's Indices output, LpPool, int8/uint8
// MaxPool, dilated AveragePool, count_include_pad windows that reach into the ceil_mode
// extension (ONNX does not count those positions, oneDNN would), and any window oneDNN refuses.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <optional>

#include "backends/cpu/conv_attributes.h"
#include "backends/cpu/dnnl_util.h"
#include "core/op_def.h"

namespace accel::cpu {

namespace {

using dnnl::memory;

enum class PoolKind { kMax, kAverage, kLp };

struct PoolParams {
  PoolKind kind = PoolKind::kMax;
  bool global = false;
  WindowAttrs window;
  bool count_include_pad = false;
  bool column_major_indices = false;  // MaxPool storage_order = 1
  float p = 2.0f;                     // LpPool
};

const char* PoolName(const PoolParams& p) {
  switch (p.kind) {
    case PoolKind::kMax:
      return p.global ? "GlobalMaxPool" : "MaxPool";
    case PoolKind::kAverage:
      return p.global ? "GlobalAveragePool" : "AveragePool";
    case PoolKind::kLp:
      return p.global ? "GlobalLpPool" : "LpPool";
  }
  return "";
}

Result<PoolParams> ParsePool(PoolKind kind, bool global, const core::Attributes& attrs, int opset) {
  PoolParams p;
  p.kind = kind;
  p.global = global;
  if (!global) {
    ACCEL_ASSIGN_OR_RETURN(p.window, ParseWindowAttrs(attrs));
    if (p.window.kernel.empty()) return InvalidModel("kernel_shape is required");
  }
  ACCEL_ASSIGN_OR_RETURN(int64_t include_pad, attrs.GetInt("count_include_pad", 0));
  ACCEL_ASSIGN_OR_RETURN(int64_t storage_order, attrs.GetInt("storage_order", 0));
  if (storage_order != 0 && storage_order != 1) {
    return InvalidModel("storage_order must be 0 or 1, got " + std::to_string(storage_order));
  }
  p.count_include_pad = include_pad != 0;
  p.column_major_indices = storage_order == 1;
  if (kind == PoolKind::kLp) {
    // LpPool-1 stored p as a float; later versions as an int.
    if (opset < 2) {
      ACCEL_ASSIGN_OR_RETURN(p.p, attrs.GetFloat("p", 2.0f));
    } else {
      ACCEL_ASSIGN_OR_RETURN(int64_t pi, attrs.GetInt("p", 2));
      p.p = static_cast<float>(pi);
    }
    if (!(p.p > 0.0f)) return InvalidModel("p must be positive, got " + std::to_string(p.p));
  }
  return p;
}

// The window a pool applies to spatial sizes `in` (all known).
Result<Window> PoolWindow(const PoolParams& p, std::span<const int64_t> in) {
  if (!p.global) return ResolveWindow(p.window, in, {});
  Window w;
  w.kernel.assign(in.begin(), in.end());
  w.strides.assign(in.size(), 1);
  w.dilations.assign(in.size(), 1);
  w.pad_begin.assign(in.size(), 0);
  w.pad_end.assign(in.size(), 0);
  w.output.assign(in.size(), 1);
  return w;
}

Status InferPool(core::InferContext& ctx, PoolKind kind, bool global) {
  if (ctx.num_inputs() < 1 || !ctx.has_input(0)) return InvalidModel("pooling needs input X");
  ACCEL_ASSIGN_OR_RETURN(PoolParams p, ParsePool(kind, global, ctx.attrs(), ctx.opset()));
  const core::TensorType& x = ctx.input_type(0);
  const bool indices = ctx.num_outputs() > 1;
  if (indices && kind != PoolKind::kMax) {
    return InvalidModel(std::string(PoolName(p)) + " has one output");
  }
  if (!x.has_shape) {
    ctx.set_output(0, core::TensorType::UnknownShape(x.dtype));
    if (indices) ctx.set_output(1, core::TensorType::UnknownShape(DType::kInt64));
    return Status::Ok();
  }
  const int64_t min_rank = global ? 2 : 3;
  if (x.rank() < min_rank) {
    return InvalidModel(std::string(PoolName(p)) + " input must have rank " +
                        std::to_string(min_rank) + " or more, got " + x.ToString());
  }
  std::vector<int64_t> dims(x.dims.begin(), x.dims.begin() + 2);
  std::span<const int64_t> in(x.dims.data() + 2, x.dims.size() - 2);
  if (global) {
    dims.resize(x.dims.size(), 1);
  } else {
    ACCEL_ASSIGN_OR_RETURN(Window w, ResolveWindow(p.window, in, {}));
    dims.insert(dims.end(), w.output.begin(), w.output.end());
  }
  if (indices) ctx.set_output(1, core::TensorType::Known(DType::kInt64, dims));
  ctx.set_output(0, core::TensorType::Known(x.dtype, std::move(dims)));
  return Status::Ok();
}

// Plain C++ pooling over any number of spatial axes, one (n, c) plane at a time.
template <typename T>
void PoolReference(const PoolParams& p, const Window& w, const Shape& xs, const T* x, T* y,
                   int64_t* indices) {
  const size_t rank = w.rank();
  const int64_t planes = xs[0] * xs[1];
  const std::span<const int64_t> in(xs.data() + 2, rank);
  const int64_t in_count = ElementCount(in);
  const int64_t out_count = ElementCount(w.output);
  const int64_t kernel_count = ElementCount(w.kernel);
  // Row-major strides of the input plane, and the column-major ones storage_order=1 asks for.
  std::vector<int64_t> row(rank, 1), col(rank, 1);
  for (int i = static_cast<int>(rank) - 2; i >= 0; --i) row[i] = row[i + 1] * in[i + 1];
  for (size_t i = 1; i < rank; ++i) col[i] = col[i - 1] * in[i - 1];
  std::vector<int64_t> o(rank), k(rank);
  for (int64_t plane = 0; plane < planes; ++plane) {
    const T* src = x + plane * in_count;
    std::fill(o.begin(), o.end(), 0);
    for (int64_t oi = 0; oi < out_count; ++oi) {
      double acc = 0.0;
      T best = std::numeric_limits<T>::lowest();
      int64_t best_at = -1;
      int64_t valid = 0, in_padded = 0;
      std::fill(k.begin(), k.end(), 0);
      for (int64_t ki = 0; ki < kernel_count; ++ki) {
        bool inside = true, inside_padded = true;
        int64_t offset = 0, col_offset = 0;
        for (size_t a = 0; a < rank; ++a) {
          const int64_t pos = o[a] * w.strides[a] - w.pad_begin[a] + k[a] * w.dilations[a];
          inside = inside && pos >= 0 && pos < in[a];
          inside_padded = inside_padded && pos < in[a] + std::max<int64_t>(w.pad_end[a], 0);
          offset += pos * row[a];
          col_offset += pos * col[a];
        }
        in_padded += inside_padded;
        if (inside) {
          ++valid;
          const T v = src[offset];
          if (p.kind == PoolKind::kMax) {
            if (best_at < 0 || v > best) {
              best = v;
              best_at = p.column_major_indices ? col_offset : offset;
            }
          } else if (p.kind == PoolKind::kAverage) {
            acc += static_cast<double>(v);
          } else {
            acc += std::pow(std::fabs(static_cast<double>(v)), static_cast<double>(p.p));
          }
        }
        for (int a = static_cast<int>(rank) - 1; a >= 0 && ++k[a] == w.kernel[a]; --a) k[a] = 0;
      }
      T& out = y[plane * out_count + oi];
      if (p.kind == PoolKind::kMax) {
        out = best;
        if (indices)
          indices[plane * out_count + oi] = plane * in_count + std::max<int64_t>(best_at, 0);
      } else if (p.kind == PoolKind::kAverage) {
        const int64_t count = p.count_include_pad ? in_padded : valid;
        out = static_cast<T>(count > 0 ? acc / static_cast<double>(count) : 0.0);
      } else {
        out = static_cast<T>(std::pow(acc, 1.0 / static_cast<double>(p.p)));
      }
      for (int a = static_cast<int>(rank) - 1; a >= 0 && ++o[a] == w.output[a]; --a) o[a] = 0;
    }
  }
}

class PoolKernel final : public core::Kernel {
 public:
  PoolKernel(PoolParams params, bool blocked_io)
      : params_(std::move(params)), blocked_io_(blocked_io) {}

  Status Compute(core::KernelContext& ctx) override {
    if (blocked_io_) return ComputeBlocked(ctx);
    const Tensor& x = ctx.input(0);
    const DType dtype = x.dtype();
    const bool byte_max =
        params_.kind == PoolKind::kMax && (dtype == DType::kUInt8 || dtype == DType::kInt8);
    if (!byte_max) ACCEL_RETURN_IF_ERROR(RequireFloat32(dtype, PoolName(params_)));
    ACCEL_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0));
    Tensor* indices = nullptr;
    if (ctx.has_output(1)) {
      ACCEL_ASSIGN_OR_RETURN(indices, ctx.Output(1));
    }
    if (y->element_count() == 0) return Status::Ok();
    if (x.element_count() == 0) {
      return InvalidArgument(std::string(PoolName(params_)) + " of an empty input " +
                             ShapeToString(x.shape()));
    }
    if (x.shape() != x_shape_ || (indices != nullptr) != with_indices_ || dtype != dtype_) {
      ACCEL_RETURN_IF_ERROR(Prepare(x.shape(), indices != nullptr, dtype));
    }
    if (use_dnnl_ && blocked_) {
      ExecuteArgs(to_blocked_, {{DNNL_ARG_FROM, src_mem_.Bind(x, src_desc_).get()},
                                {DNNL_ARG_TO, src_blocked_.get()}});
      ExecuteArgs(pool_, {{DNNL_ARG_SRC, src_blocked_.get()},
                          {DNNL_ARG_DST, dst_blocked_.get()},
                          {DNNL_ARG_SCRATCHPAD, scratch_.Get().get()}});
      ExecuteArgs(from_blocked_, {{DNNL_ARG_FROM, dst_blocked_.get()},
                                  {DNNL_ARG_TO, dst_mem_.Bind(*y, dst_desc_).get()}});
      ThreadStream().wait();
      return Status::Ok();
    }
    if (use_dnnl_) {
      ExecuteArgs(pool_, {{DNNL_ARG_SRC, src_mem_.Bind(x, src_desc_).get()},
                          {DNNL_ARG_DST, dst_mem_.Bind(*y, dst_desc_).get()},
                          {DNNL_ARG_SCRATCHPAD, scratch_.Get().get()}});
      ThreadStream().wait();
      return Status::Ok();
    }
    int64_t* idx = indices ? indices->data_as<int64_t>() : nullptr;
    if (dtype == DType::kUInt8) {
      PoolReference(params_, window_, x.shape(), x.data_as<uint8_t>(), y->data_as<uint8_t>(), idx);
    } else if (dtype == DType::kInt8) {
      PoolReference(params_, window_, x.shape(), x.data_as<int8_t>(), y->data_as<int8_t>(), idx);
    } else {
      PoolReference(params_, window_, x.shape(), x.data_as<float>(), y->data_as<float>(), idx);
    }
    return Status::Ok();
  }

 private:
  // Channel-blocked input and output (set by the layout pass; float32, no Indices output).
  Status ComputeBlocked(core::KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    ACCEL_RETURN_IF_ERROR(RequireFloat32(x.dtype(), PoolName(params_)));
    ACCEL_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0));
    const Shape& xs = ctx.input_shape(0);
    const Shape& ys = ctx.output_shape(0);
    if (ElementCount(ys) == 0) return Status::Ok();
    if (ElementCount(xs) == 0) {
      return InvalidArgument(std::string(PoolName(params_)) + " of an empty input " +
                             ShapeToString(xs));
    }
    if (xs != x_shape_) ACCEL_RETURN_IF_ERROR(Prepare(xs, false, DType::kFloat32));
    // In blocked mode Prepare builds the primitive only over the blocked layouts themselves.
    if (use_dnnl_) {
      ExecuteArgs(pool_, {{DNNL_ARG_SRC, src_mem_.Bind(x, src_desc_).get()},
                          {DNNL_ARG_DST, dst_mem_.Bind(*y, dst_desc_).get()},
                          {DNNL_ARG_SCRATCHPAD, scratch_.Get().get()}});
      ThreadStream().wait();
      return Status::Ok();
    }
    // A window only the plain path handles: run it on plain copies.
    ACCEL_ASSIGN_OR_RETURN(Tensor x_plain, Tensor::Create(DType::kFloat32, xs));
    ACCEL_ASSIGN_OR_RETURN(Tensor y_plain, Tensor::Create(DType::kFloat32, ys));
    ACCEL_RETURN_IF_ERROR(
        ConvertLayout(x, core::Layout::kBlocked, xs, x_plain, core::Layout::kPlain));
    PoolReference(params_, window_, xs, x_plain.data_as<float>(), y_plain.data_as<float>(),
                  nullptr);
    return ConvertLayout(y_plain, core::Layout::kPlain, ys, *y, core::Layout::kBlocked);
  }

  Status Prepare(const Shape& x, bool with_indices, DType dtype) {
    ACCEL_ASSIGN_OR_RETURN(window_, PoolWindow(params_, std::span(x).subspan(2)));
    x_shape_ = x;
    with_indices_ = with_indices;
    dtype_ = dtype;
    use_dnnl_ = false;
    const size_t rank = window_.rank();
    if (dtype != DType::kFloat32 || rank < 1 || rank > 3 || with_indices ||
        params_.kind == PoolKind::kLp) {
      return Status::Ok();
    }
    const bool average = params_.kind == PoolKind::kAverage;
    // oneDNN derives the output size from the end padding: use the padding that reproduces
    // ONNX's output size (larger in ceil_mode).
    memory::dims pad_end(rank);
    for (size_t i = 0; i < rank; ++i) {
      const int64_t s = window_.strides[i];
      const int64_t fits = x[2 + i] + window_.pad_begin[i] + window_.pad_end[i] - window_.extent(i);
      pad_end[i] = window_.pad_end[i];
      if (fits / s + 1 != window_.output[i]) {
        pad_end[i] =
            (window_.output[i] - 1) * s + window_.extent(i) - x[2 + i] - window_.pad_begin[i];
      }
      if (pad_end[i] < 0) return Status::Ok();
      if (average && params_.count_include_pad && pad_end[i] > window_.pad_end[i]) {
        return Status::Ok();
      }
      if (average && window_.dilations[i] != 1) return Status::Ok();
    }
    Shape y(x.begin(), x.begin() + 2);
    y.insert(y.end(), window_.output.begin(), window_.output.end());
    const auto algo = !average                    ? dnnl::algorithm::pooling_max
                      : params_.count_include_pad ? dnnl::algorithm::pooling_avg_include_padding
                                                  : dnnl::algorithm::pooling_avg_exclude_padding;
    auto make_pd = [&](const memory::desc& src, const memory::desc& dst) {
      return TryDnnl(PoolName(params_), [&] {
        dnnl::pooling_v2_forward::desc desc(dnnl::prop_kind::forward_inference, algo, src, dst,
                                            ToDnnlDims(window_.strides), ToDnnlDims(window_.kernel),
                                            ToDnnlDilations(window_.dilations),
                                            ToDnnlDims(window_.pad_begin), pad_end);
        return dnnl::pooling_v2_forward::primitive_desc(desc, WithOwnScratchpad({}), CpuEngine());
      });
    };
    if (blocked_io_) {
      Result<dnnl::pooling_v2_forward::primitive_desc> pd =
          make_pd(LayoutDesc(core::Layout::kBlocked, x), LayoutDesc(core::Layout::kBlocked, y));
      if (!pd.ok() || IsReference(*pd)) return Status::Ok();  // ComputeBlocked's plain copies
      pd_ = *pd;
      pool_ = dnnl::pooling_v2_forward(pd_);
      scratch_.Reset(pd_);
      src_desc_ = pd_.src_desc();
      dst_desc_ = pd_.dst_desc();
      use_dnnl_ = true;
      return Status::Ok();
    }
    Result<dnnl::pooling_v2_forward::primitive_desc> pd =
        make_pd(PlainDesc(x, memory::data_type::f32), PlainDesc(y, memory::data_type::f32));
    if (!pd.ok()) return Status::Ok();  // the plain loop covers every window
    pd_ = *pd;
    blocked_ = false;
    // On plain NCHW oneDNN 2.6 falls back to its slow "simple_nchw" pooling for some windows
    // (padded max pooling: 12.6 ms of FastestDet's 20 ms). Its jit kernels want channel-blocked
    // data, so run there and pay two reorders instead.
    if (std::string(pd_.impl_info_str()).rfind("simple", 0) == 0) {
      static constexpr memory::format_tag kBlocked[] = {
          memory::format_tag::nCw16c, memory::format_tag::nChw16c, memory::format_tag::nCdhw16c};
      const memory::format_tag tag = kBlocked[rank - 1];
      Result<dnnl::pooling_v2_forward::primitive_desc> blocked =
          make_pd(memory::desc(ToDnnlDims(x), memory::data_type::f32, tag),
                  memory::desc(ToDnnlDims(y), memory::data_type::f32, memory::format_tag::any));
      if (blocked.ok() && std::string(blocked->impl_info_str()).rfind("simple", 0) != 0) {
        pd_ = *blocked;
        blocked_ = true;
        src_blocked_ = memory(pd_.src_desc(), CpuEngine());
        dst_blocked_ = memory(pd_.dst_desc(), CpuEngine());
        to_blocked_ = dnnl::reorder(dnnl::reorder::primitive_desc(
            CpuEngine(), PlainDesc(x, memory::data_type::f32), CpuEngine(), pd_.src_desc()));
        from_blocked_ = dnnl::reorder(dnnl::reorder::primitive_desc(
            CpuEngine(), pd_.dst_desc(), CpuEngine(), PlainDesc(y, memory::data_type::f32)));
      }
    }
    pool_ = dnnl::pooling_v2_forward(pd_);
    scratch_.Reset(pd_);
    // The user-side descriptors the run binds tensors with (plain ones around the reorders).
    src_desc_ = blocked_ ? PlainDesc(x, memory::data_type::f32) : pd_.src_desc();
    dst_desc_ = blocked_ ? PlainDesc(y, memory::data_type::f32) : pd_.dst_desc();
    use_dnnl_ = true;
    return Status::Ok();
  }

  PoolParams params_;
  bool blocked_io_;
  // State for the last seen input; rebuilt when it changes.
  Shape x_shape_;
  bool with_indices_ = false;
  DType dtype_ = DType::kUndefined;
  Window window_;
  bool use_dnnl_ = false;
  dnnl::pooling_v2_forward::primitive_desc pd_;
  dnnl::pooling_v2_forward pool_;
  ScratchpadArg scratch_;
  // Queried once: primitive_desc's queries allocate (oneDNN 2.6 builds a vector per query).
  memory::desc src_desc_;
  memory::desc dst_desc_;
  TensorMemory src_mem_, dst_mem_;  // over the run's x and y
  // Channel-blocked execution (see Prepare): buffers and reorders for the current shape.
  bool blocked_ = false;
  memory src_blocked_;
  memory dst_blocked_;
  dnnl::reorder to_blocked_;
  dnnl::reorder from_blocked_;
};

template <PoolKind kKind, bool kGlobal>
Status InferPoolOp(core::InferContext& ctx) {
  return InferPool(ctx, kKind, kGlobal);
}

template <PoolKind kKind, bool kGlobal>
Result<std::unique_ptr<core::Kernel>> CreatePool(const core::KernelInit& init) {
  ACCEL_ASSIGN_OR_RETURN(PoolParams params, ParsePool(kKind, kGlobal, init.attrs, init.opset));
  const bool blocked = init.input_layouts[0] == core::Layout::kBlocked;
  if (blocked != (init.output_layouts[0] == core::Layout::kBlocked)) {
    return Internal("pooling between different layouts");
  }
  return std::unique_ptr<core::Kernel>(std::make_unique<PoolKernel>(std::move(params), blocked));
}

}  // namespace

const core::OpDef& MaxPoolOpDef() {
  static const core::OpDef def{"MaxPool",
                               "",
                               {1, 8, 10, 11, 12, 22},
                               1,
                               InferPoolOp<PoolKind::kMax, false>,
                               CreatePool<PoolKind::kMax, false>,
                               core::LayoutSupport::kSpatial};
  return def;
}

const core::OpDef& AveragePoolOpDef() {
  static const core::OpDef def{"AveragePool",
                               "",
                               {1, 7, 10, 11, 19, 22},
                               1,
                               InferPoolOp<PoolKind::kAverage, false>,
                               CreatePool<PoolKind::kAverage, false>,
                               core::LayoutSupport::kSpatial};
  return def;
}

const core::OpDef& LpPoolOpDef() {
  static const core::OpDef def{"LpPool",
                               "",
                               {1, 2, 11, 18, 22},
                               1,
                               InferPoolOp<PoolKind::kLp, false>,
                               CreatePool<PoolKind::kLp, false>};
  return def;
}

const core::OpDef& GlobalMaxPoolOpDef() {
  static const core::OpDef def{"GlobalMaxPool",
                               "",
                               {1, 22},
                               1,
                               InferPoolOp<PoolKind::kMax, true>,
                               CreatePool<PoolKind::kMax, true>,
                               core::LayoutSupport::kSpatial};
  return def;
}

const core::OpDef& GlobalAveragePoolOpDef() {
  static const core::OpDef def{"GlobalAveragePool",
                               "",
                               {1, 22},
                               1,
                               InferPoolOp<PoolKind::kAverage, true>,
                               CreatePool<PoolKind::kAverage, true>,
                               core::LayoutSupport::kSpatial};
  return def;
}

const core::OpDef& GlobalLpPoolOpDef() {
  static const core::OpDef def{"GlobalLpPool",
                               "",
                               {1, 2, 22},
                               1,
                               InferPoolOp<PoolKind::kLp, true>,
                               CreatePool<PoolKind::kLp, true>};
  return def;
}

}  // namespace accel::cpu
