// Reorder (internal, domain "accel"): converts a float32 NCHW tensor between the plain and the
// channel-blocked layout. The layout pass inserts it where a blocked value meets an op that
// needs plain data, or the reverse; the node's input and output values carry the two layouts.
#include "backends/cpu/channel_tail.h"
#include "backends/cpu/dnnl_util.h"
#include "core/op_def.h"

namespace accel::cpu {

namespace {

Status InferReorder(core::InferContext& ctx) {
  ctx.set_output(0, ctx.input_type(0));
  return Status::Ok();
}

class ReorderKernel final : public core::Kernel {
 public:
  ReorderKernel(core::Layout from, core::Layout to) : from_(from), to_(to) {}

  Status Compute(core::KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    ACCEL_RETURN_IF_ERROR(RequireFloat32(x.dtype(), "Reorder input"));
    ACCEL_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0));
    const Shape& shape = ctx.input_shape(0);
    if (ElementCount(shape) == 0) return Status::Ok();
    if (shape != shape_) ACCEL_RETURN_IF_ERROR(Prepare(shape));
    if (tail_ == 0) {
      ExecuteArgs(reorder_, {{DNNL_ARG_FROM, src_mem_.Bind(x, src_).get()},
                             {DNNL_ARG_TO, dst_mem_.Bind(*y, dst_).get()}});
      ThreadStream().wait();
      return Status::Ok();
    }
    const float* src = x.data_as<float>();
    float* dst = y->data_as<float>();
    const int64_t blocked_image = blocks_ * core::kChannelBlock * pixels_;
    const int64_t plain_image = channels_ * pixels_;
    const bool to_plain = to_ == core::Layout::kPlain;
    const int64_t src_image = to_plain ? blocked_image : plain_image;
    const int64_t dst_image = to_plain ? plain_image : blocked_image;
    const int64_t full = channels_ - tail_;
    for (int64_t n = 0; n < images_; ++n) {
      const float* s = src + n * src_image;
      float* d = dst + n * dst_image;
      if (full > 0) {
        src_part_.set_data_handle(const_cast<float*>(s));
        dst_part_.set_data_handle(d);
        ExecuteArgs(reorder_, {{DNNL_ARG_FROM, src_part_.get()}, {DNNL_ARG_TO, dst_part_.get()}});
      }
      const int64_t block_offset = (blocks_ - 1) * core::kChannelBlock * pixels_;
      if (to_plain) {
        TailToPlain(s + block_offset, d + full * pixels_, tail_, pixels_);
      } else {
        TailToBlocked(s + full * pixels_, d + block_offset, tail_, pixels_);
      }
    }
    ThreadStream().wait();
    return Status::Ok();
  }

 private:
  // oneDNN 2.6 converts a channel count that is not a multiple of 16 with its generic reorder,
  // 5-8x slower than its blocked one (58x52x52 to plain: ~110 vs ~16 us): then its blocked
  // reorder takes the whole blocks of one image at a time and channel_tail.h the partial block.
  Status Prepare(const Shape& shape) {
    shape_.clear();
    channels_ = shape.size() == 4 ? shape[1] : 0;
    tail_ = channels_ % core::kChannelBlock;
    if (tail_ == 0) {
      src_ = LayoutDesc(from_, shape);
      dst_ = LayoutDesc(to_, shape);
    } else {
      images_ = shape[0];
      pixels_ = shape[2] * shape[3];
      blocks_ = (channels_ + core::kChannelBlock - 1) / core::kChannelBlock;
      const Shape image = {1, channels_, shape[2], shape[3]};
      const dnnl::memory::dims whole = {1, channels_ - tail_, shape[2], shape[3]};
      const dnnl::memory::dims origin = {0, 0, 0, 0};
      if (channels_ < core::kChannelBlock) {
        shape_ = shape;
        return Status::Ok();
      }
      src_ = LayoutDesc(from_, image).submemory_desc(whole, origin);
      dst_ = LayoutDesc(to_, image).submemory_desc(whole, origin);
      src_part_ = dnnl::memory(src_, CpuEngine(), DNNL_MEMORY_NONE);
      dst_part_ = dnnl::memory(dst_, CpuEngine(), DNNL_MEMORY_NONE);
    }
    ACCEL_ASSIGN_OR_RETURN(
        reorder_, TryDnnl("Reorder " + ShapeToString(shape), [&] {
          return dnnl::reorder(dnnl::reorder::primitive_desc(CpuEngine(), src_, CpuEngine(), dst_));
        }));
    shape_ = shape;
    return Status::Ok();
  }

  core::Layout from_, to_;
  Shape shape_;
  int64_t channels_ = 0, tail_ = 0;  // tail_: channels in the partial last block
  int64_t images_ = 0, pixels_ = 0, blocks_ = 0;
  dnnl::memory::desc src_, dst_;
  dnnl::reorder reorder_;
  TensorMemory src_mem_, dst_mem_;
  dnnl::memory src_part_, dst_part_;  // one image's whole blocks, when there is a tail
};

Result<std::unique_ptr<core::Kernel>> CreateReorder(const core::KernelInit& init) {
  ACCEL_RETURN_IF_ERROR(RequireFloat32Input(init, 0, "Reorder input"));
  if (init.input_layouts[0] == init.output_layouts[0]) {
    return Internal("Reorder between equal layouts");
  }
  return std::unique_ptr<core::Kernel>(
      std::make_unique<ReorderKernel>(init.input_layouts[0], init.output_layouts[0]));
}

}  // namespace

Status ConvertLayout(const Tensor& src, core::Layout from, const Shape& logical, Tensor& dst,
                     core::Layout to) {
  ACCEL_RETURN_IF_ERROR(RequireFloat32(src.dtype(), "layout conversion"));
  if (ElementCount(logical) == 0) return Status::Ok();
  return TryDnnl("layout conversion of " + ShapeToString(logical),
                 [&] {
                   dnnl::memory s = WrapTensor(src, LayoutDesc(from, logical));
                   dnnl::memory d = WrapTensor(dst, LayoutDesc(to, logical));
                   dnnl::reorder(s, d).execute(ThreadStream(), s, d);
                   ThreadStream().wait();
                   return true;
                 })
      .status();
}

const core::OpDef& ReorderOpDef() {
  static const core::OpDef def{
      "Reorder", "accel", {1}, 1, InferReorder, CreateReorder, core::LayoutSupport::kReorder};
  return def;
}

}  // namespace accel::cpu
