// Small helpers for the kernels built on oneDNN primitives (conv, pooling, matmul, norms).
#pragma once

#include <dnnl.hpp>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>

#include "accel/status.h"
#include "accel/tensor.h"
#include "backends/cpu/blocked_weights.h"
#include "backends/cpu/conv_attributes.h"
#include "backends/cpu/dnnl_context.h"
#include "backends/cpu/layout_copy.h"
#include "core/kernel.h"
#include "core/layout.h"
#include "memory/weight_cache.h"

namespace accel::cpu {

// Runs `make` (building a primitive descriptor or primitive) and turns oneDNN's refusal into an
// Unsupported error naming the case, so a model gets an error instead of an exception.
template <typename F>
auto TryDnnl(const std::string& what, F&& make) -> Result<decltype(make())> {
  try {
    return make();
  } catch (const dnnl::error& e) {
    return Unsupported(what + " (oneDNN: " + e.what() + ")");
  }
}

// Only float32 goes through these kernels for now.
inline Status RequireFloat32(DType dtype, const char* what) {
  if (dtype == DType::kFloat32) return Status::Ok();
  return Unsupported(std::string(what) + " has dtype " + DTypeName(dtype) +
                     "; only float32 is implemented");
}

// The load-time check of input i's dtype, where the model gives it.
inline Status RequireFloat32Input(const core::KernelInit& init, size_t i, const char* what) {
  if (!init.has_input(i)) return Status::Ok();
  return RequireFloat32(init.input_types[i]->dtype, what);
}

// Weights in the layout a primitive asks for. Constant weights come from the process-wide weight
// cache (packed once per content and layout, shared by every kernel that wants them);
// weights fed at run time are reordered on every call (or used in place when already plain).
class PackedWeights {
 public:
  dnnl::memory Get(const dnnl::memory::desc& user, const void* data, const dnnl::memory::desc& want,
                   bool constant) {
    // Constant weights already packed: no oneDNN object is created (run() stays allocation-free).
    if (constant && cached_.owner && cached_.memory.get_desc() == want) return cached_.memory;
    dnnl::memory src(user, CpuEngine(), const_cast<void*>(data));
    if (user == want) return src;
    if (constant) {
      cached_ = memory::GetPackedWeights(user, data, want);
      return cached_.memory;
    }
    dnnl::memory packed(want, CpuEngine());
    dnnl::reorder(src, packed).execute(ThreadStream(), src, packed);
    ThreadStream().wait();
    return packed;
  }

 private:
  memory::PackedWeightsRef cached_;
};

// True when input i of the node is a model constant (its packed weights can be kept).
inline bool IsConstantInput(const core::KernelInit& init, size_t i) {
  return init.constant_inputs.size() > i && init.constant_inputs[i];
}

// oneDNN dims from ONNX sizes.
inline dnnl::memory::dims ToDnnlDims(std::span<const int64_t> dims) {
  return dnnl::memory::dims(dims.begin(), dims.end());
}

// The oneDNN view of a float32 tensor with this logical shape in `layout`.
inline dnnl::memory::desc LayoutDesc(core::Layout layout, const Shape& logical) {
  if (layout == core::Layout::kBlocked) {
    return dnnl::memory::desc(ToDnnlDims(logical), dnnl::memory::data_type::f32,
                              dnnl::memory::format_tag::nChw16c);
  }
  return PlainDesc(logical, dnnl::memory::data_type::f32);
}

// oneDNN counts the gaps between kernel taps, ONNX the step: ONNX dilation 1 is oneDNN's 0.
inline dnnl::memory::dims ToDnnlDilations(std::span<const int64_t> dilations) {
  dnnl::memory::dims dil = ToDnnlDims(dilations);
  for (auto& d : dil) d -= 1;
  return dil;
}

// Executes `p` on the thread's stream with arguments from a stack array: the C++ API's
// execute(stream, std::unordered_map) allocates the map on every call, which a steady-state
// run must not.
inline void ExecuteArgs(const dnnl::primitive& p, std::initializer_list<dnnl_exec_arg_t> args) {
  dnnl::error::wrap_c_api(dnnl_primitive_execute(p.get(), ThreadStream().get(),
                                                 static_cast<int>(args.size()), args.begin()),
                          "could not execute a primitive");
}

// The scratchpad argument of a primitive made WithOwnScratchpad: an empty memory when it needs
// none (harmless to pass), else one re-pointed at the running thread's ThreadScratch per run.
class ScratchpadArg {
 public:
  void Reset(const dnnl::primitive_desc& pd) {
    const dnnl::memory::desc desc = pd.scratchpad_desc();
    bytes_ = desc.get_size();
    memory_ = dnnl::memory(desc, CpuEngine(), DNNL_MEMORY_NONE);
  }
  // Grows the calling thread's buffer to this primitive's need, so that a run there allocates
  // nothing (called where the Session prepares, which may not be where Reset ran).
  void Reserve() const { (void)ThreadScratch(bytes_); }
  const dnnl::memory& Get() {
    memory_.set_data_handle(ThreadScratch(bytes_));
    return memory_;
  }

 private:
  dnnl::memory memory_;
  size_t bytes_ = 0;
};

// A memory object over a tensor's bytes, made once per descriptor and re-pointed at each run's
// tensor: set_data_handle allocates nothing, where WrapTensor makes (and allocates) a new one.
class TensorMemory {
 public:
  const dnnl::memory& Bind(const Tensor& t, const dnnl::memory::desc& desc) {
    if (!memory_ || memory_.get_desc() != desc) {
      memory_ = dnnl::memory(desc, CpuEngine(), DNNL_MEMORY_NONE);
    }
    memory_.set_data_handle(const_cast<void*>(t.data()));
    return memory_;
  }

 private:
  dnnl::memory memory_;
};

// A primitive with src, weights, dst and an optional bias (Conv, ConvTranspose, Gemm, MatMul):
// holds the primitive built for the last shapes and the weights packed in its chosen layout.
// When the primitive chose a blocked layout for src or dst, the plain tensors are reordered
// into and out of it around each run.
class WeightedPrimitive {
 public:
  explicit WeightedPrimitive(bool const_weights) : const_weights_(const_weights) {}

  // Takes the primitive of `pd`; `user_weights` describes the weight bytes as the model has them;
  // `user_src`/`user_dst` the plain tensors (needed only when pd's src/dst may be blocked).
  void Reset(const dnnl::primitive_desc& pd, const dnnl::memory::desc& user_weights,
             const dnnl::memory::desc& user_src = {}, const dnnl::memory::desc& user_dst = {}) {
    primitive_ = dnnl::primitive(pd);
    scratch_.Reset(pd);
    src_ = pd.src_desc();
    weights_ = pd.weights_desc();
    bias_ = pd.weights_desc(1);  // oneDNN's bias is the second weights argument
    dst_ = pd.dst_desc();
    user_weights_ = user_weights;
    user_src_ = user_src.is_zero() ? src_ : user_src;
    user_dst_ = user_dst.is_zero() ? dst_ : user_dst;
    src_blocked_ = user_src_ != src_ ? dnnl::memory(src_, CpuEngine()) : dnnl::memory();
    dst_blocked_ = user_dst_ != dst_ ? dnnl::memory(dst_, CpuEngine()) : dnnl::memory();
    // Memory objects over the tensors and the reorders are made once per shape; a run only
    // points them at its tensors' bytes, which allocates nothing (see ExecuteArgs).
    src_user_ = dnnl::memory(user_src_, CpuEngine(), DNNL_MEMORY_NONE);
    dst_user_ = dnnl::memory(user_dst_, CpuEngine(), DNNL_MEMORY_NONE);
    addend_ = dnnl::memory(user_dst_, CpuEngine(), DNNL_MEMORY_NONE);
    bias_user_ =
        bias_.is_zero() ? dnnl::memory() : dnnl::memory(bias_, CpuEngine(), DNNL_MEMORY_NONE);
    given_weights_ = dnnl::memory(weights_, CpuEngine(), DNNL_MEMORY_NONE);
    src_reorder_ = src_blocked_ ? dnnl::reorder(src_user_, src_blocked_) : dnnl::reorder();
    // A blocked result for a plain output goes through LayoutCopy, which has fast paths for
    // channel counts that are not a multiple of 16 (ultraface's heads: no reorder code at all).
    dst_copy_.reset();
    if (dst_blocked_) {
      const dnnl::memory::dims d = dst_.dims();
      const Shape dims(d.begin(), d.end());
      LayoutCopy copy(core::Layout::kBlocked, core::Layout::kPlain);
      if (dims.size() == 4 && dst_ == LayoutDesc(core::Layout::kBlocked, dims) &&
          user_dst_ == LayoutDesc(core::Layout::kPlain, dims) && copy.Prepare(dims).ok()) {
        dst_copy_ = std::move(copy);
      }
    }
    dst_reorder_ =
        dst_blocked_ && !dst_copy_ ? dnnl::reorder(dst_blocked_, dst_user_) : dnnl::reorder();
    addend_reorder_ = dnnl::reorder();  // made on first use: few primitives have an addend
  }

  // Creates the reorder that will pack constant weights (Kernel::Precompile), so it is in
  // oneDNN's primitive cache when they are packed; small weights are packed without one.
  void PrecompilePacking() const {
    if (const_weights_ && user_weights_ != weights_ && weights_.data.format_kind == dnnl_blocked &&
        !PacksBlockedWeights(user_weights_, weights_)) {
      (void)dnnl::reorder(
          dnnl::reorder::primitive_desc(CpuEngine(), user_weights_, CpuEngine(), weights_));
    }
  }

  // The warm-up's part of Run (KernelContext::warm_up): constant weights are packed, nothing runs.
  void PackOnly(const Tensor& weights) {
    if (const_weights_) (void)packed_.Get(user_weights_, weights.data(), weights_, true);
    scratch_.Reserve();
  }

  // The constant weights packed in the primitive's layout (weights_desc()), packing them on the
  // first call.
  const float* PackedConstant(const Tensor& weights) {
    return static_cast<const float*>(
        packed_.Get(user_weights_, weights.data(), weights_, true).get_data_handle());
  }
  const dnnl::memory::desc& weights_desc() const { return weights_; }
  const dnnl::memory::desc& user_weights_desc() const { return user_weights_; }

  // `addend` (dst's shape, or nullptr) is placed in dst first for a sum post-op.
  // `packed_weights`, when given, replace the weights: bytes already in the primitive's layout
  // (weights_desc()).
  void Run(const Tensor& src, const Tensor& weights, Tensor& dst, const Tensor* bias = nullptr,
           const Tensor* addend = nullptr, const float* packed_weights = nullptr) {
    dnnl::stream& stream = ThreadStream();
    src_user_.set_data_handle(const_cast<void*>(src.data()));
    dst_user_.set_data_handle(dst.data());
    if (src_blocked_)
      ExecuteArgs(src_reorder_,
                  {{DNNL_ARG_FROM, src_user_.get()}, {DNNL_ARG_TO, src_blocked_.get()}});
    const dnnl::memory& src_mem = src_blocked_ ? src_blocked_ : src_user_;
    const dnnl::memory& dst_mem = dst_blocked_ ? dst_blocked_ : dst_user_;
    // A memory planner may hand the addend's buffer to dst: then it is already in place.
    if (addend && (dst_blocked_ || addend->data() != dst.data())) {
      addend_.set_data_handle(const_cast<void*>(addend->data()));
      if (!addend_reorder_) addend_reorder_ = dnnl::reorder(addend_, dst_mem);
      ExecuteArgs(addend_reorder_, {{DNNL_ARG_FROM, addend_.get()}, {DNNL_ARG_TO, dst_mem.get()}});
    }
    // Given weights live in one buffer per kernel (ChannelScaledWeights): pointed at once.
    if (packed_weights && given_weights_.get_data_handle() != packed_weights) {
      given_weights_.set_data_handle(const_cast<float*>(packed_weights));
    }
    const dnnl::memory packed =
        packed_weights ? given_weights_
                       : packed_.Get(user_weights_, weights.data(), weights_, const_weights_);
    const dnnl_memory_t scratch = scratch_.Get().get();
    if (bias) {
      bias_user_.set_data_handle(const_cast<void*>(bias->data()));
      ExecuteArgs(primitive_, {{DNNL_ARG_SRC, src_mem.get()},
                               {DNNL_ARG_WEIGHTS, packed.get()},
                               {DNNL_ARG_BIAS, bias_user_.get()},
                               {DNNL_ARG_DST, dst_mem.get()},
                               {DNNL_ARG_SCRATCHPAD, scratch}});
    } else {
      ExecuteArgs(primitive_, {{DNNL_ARG_SRC, src_mem.get()},
                               {DNNL_ARG_WEIGHTS, packed.get()},
                               {DNNL_ARG_DST, dst_mem.get()},
                               {DNNL_ARG_SCRATCHPAD, scratch}});
    }
    if (dst_copy_) {
      stream.wait();
      dst_copy_->Run(static_cast<const float*>(dst_blocked_.get_data_handle()),
                     dst.data_as<float>());
    } else if (dst_blocked_) {
      ExecuteArgs(dst_reorder_,
                  {{DNNL_ARG_FROM, dst_blocked_.get()}, {DNNL_ARG_TO, dst_user_.get()}});
    }
    stream.wait();
  }

 private:
  bool const_weights_;
  dnnl::primitive primitive_;
  dnnl::memory::desc src_, weights_, bias_, dst_, user_weights_, user_src_, user_dst_;
  dnnl::memory src_blocked_, dst_blocked_;  // scratch in the primitive's layouts, when blocked
  dnnl::memory src_user_, dst_user_, addend_, bias_user_;  // over the run's tensors
  dnnl::memory given_weights_;                             // over Run's packed_weights
  dnnl::reorder src_reorder_, dst_reorder_, addend_reorder_;
  std::optional<LayoutCopy> dst_copy_;  // set: dst_blocked_ goes to dst through it
  ScratchpadArg scratch_;
  PackedWeights packed_;
};

// Copies float32 `src` (logical shape `logical`, in layout `from`) into `dst` in layout `to`;
// for kernels whose blocked-data path has a case only their plain path handles (reorder.cc).
Status ConvertLayout(const Tensor& src, core::Layout from, const Shape& logical, Tensor& dst,
                     core::Layout to);

// oneDNN's reference implementations are its correctness fallback, orders of magnitude slower
// than the jit ones (a blocked-to-plain 1x1 conv: ~650 ms instead of ~1 ms).
inline bool IsReference(const dnnl::primitive_desc_base& pd) {
  return std::string(pd.impl_info_str()).rfind("ref", 0) == 0;
}

// A float32 descriptor whose layout oneDNN picks (format_tag::any).
inline dnnl::memory::desc AnyDesc(const Shape& shape) {
  return dnnl::memory::desc(ToDnnlDims(shape), dnnl::memory::data_type::f32,
                            dnnl::memory::format_tag::any);
}

// The inference descriptor of Conv (convolution_forward) or ConvTranspose (deconvolution_forward)
// from src `x` to dst `y` with the window `win` and primitive attributes `attr` (post-ops).
// oneDNN's refusal names `op`, x's dims and the pads.
template <typename Primitive>
Result<typename Primitive::primitive_desc> ConvPrimitiveDesc(
    const char* op, dnnl::algorithm algo, const dnnl::memory::desc& x,
    const dnnl::memory::desc& weights, const dnnl::memory::desc& bias, const dnnl::memory::desc& y,
    const Window& win, const dnnl::primitive_attr& attr = {}) {
  const dnnl::memory::dims x_dims = x.dims();
  return TryDnnl(
      std::string(op) + " with input " + ShapeToString(x_dims) + ", pads " +
          DimsToString(win.pad_begin) + "/" + DimsToString(win.pad_end),
      [&] {
        typename Primitive::desc desc(dnnl::prop_kind::forward_inference, algo, x, weights, bias, y,
                                      ToDnnlDims(win.strides), ToDnnlDilations(win.dilations),
                                      ToDnnlDims(win.pad_begin), ToDnnlDims(win.pad_end));
        return typename Primitive::primitive_desc(desc, WithOwnScratchpad(attr), CpuEngine());
      });
}

// The same over plain float32 shapes; `blocked_io` lets oneDNN choose src/dst layouts.
template <typename Primitive>
Result<typename Primitive::primitive_desc> ConvPrimitiveDesc(
    const char* op, dnnl::algorithm algo, const Shape& x, const dnnl::memory::desc& weights,
    const dnnl::memory::desc& bias, const Shape& y, const Window& win,
    const dnnl::primitive_attr& attr = {}, bool blocked_io = false) {
  const auto f32 = dnnl::memory::data_type::f32;
  auto io = [&](const Shape& s) { return blocked_io ? AnyDesc(s) : PlainDesc(s, f32); };
  return ConvPrimitiveDesc<Primitive>(op, algo, io(x), weights, bias, io(y), win, attr);
}

}  // namespace accel::cpu
