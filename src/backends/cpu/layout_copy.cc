#include "backends/cpu/layout_copy.h"

#include "backends/cpu/dnnl_util.h"

namespace accel::cpu {

namespace {

// `tail` (< 16) channels of `pixels` pixels: from one block to `tail` planes.
void TailToPlain(const float* block, float* planes, int64_t tail, int64_t pixels) {
  for (int64_t p = 0; p < pixels; ++p) {
    for (int64_t l = 0; l < tail; ++l) planes[l * pixels + p] = block[p * core::kChannelBlock + l];
  }
}

void TailToBlocked(const float* planes, float* block, int64_t tail, int64_t pixels) {
  for (int64_t p = 0; p < pixels; ++p) {
    for (int64_t l = 0; l < core::kChannelBlock; ++l) {
      // The padding lanes stay zero: consumers may read them (see core/layout.h).
      block[p * core::kChannelBlock + l] = l < tail ? planes[l * pixels + p] : 0.0f;
    }
  }
}

}  // namespace

Status LayoutCopy::Prepare(const Shape& shape) {
  prepared_.reset();
  channels_ = shape.size() == 4 ? shape[1] : 0;
  tail_ = channels_ % core::kChannelBlock;
  dnnl::memory::desc src, dst;
  if (tail_ == 0) {
    src = LayoutDesc(from_, shape);
    dst = LayoutDesc(to_, shape);
  } else {
    images_ = shape[0];
    pixels_ = shape[2] * shape[3];
    blocks_ = (channels_ + core::kChannelBlock - 1) / core::kChannelBlock;
    if (channels_ < core::kChannelBlock) {
      reorder_ = dnnl::reorder();
      prepared_ = shape;
      return Status::Ok();
    }
    const Shape image = {1, channels_, shape[2], shape[3]};
    const dnnl::memory::dims whole = {1, channels_ - tail_, shape[2], shape[3]};
    const dnnl::memory::dims origin = {0, 0, 0, 0};
    src = LayoutDesc(from_, image).submemory_desc(whole, origin);
    dst = LayoutDesc(to_, image).submemory_desc(whole, origin);
  }
  ACCEL_ASSIGN_OR_RETURN(
      reorder_, TryDnnl("Reorder " + ShapeToString(shape), [&] {
        return dnnl::reorder(dnnl::reorder::primitive_desc(CpuEngine(), src, CpuEngine(), dst));
      }));
  src_ = dnnl::memory(src, CpuEngine(), DNNL_MEMORY_NONE);
  dst_ = dnnl::memory(dst, CpuEngine(), DNNL_MEMORY_NONE);
  prepared_ = shape;
  return Status::Ok();
}

void LayoutCopy::Run(const float* src, float* dst) {
  if (tail_ == 0) {
    src_.set_data_handle(const_cast<float*>(src));
    dst_.set_data_handle(dst);
    ExecuteArgs(reorder_, {{DNNL_ARG_FROM, src_.get()}, {DNNL_ARG_TO, dst_.get()}});
    ThreadStream().wait();
    return;
  }
  const int64_t blocked_image = blocks_ * core::kChannelBlock * pixels_;
  const int64_t plain_image = channels_ * pixels_;
  const bool to_plain = to_ == core::Layout::kPlain;
  const int64_t src_image = to_plain ? blocked_image : plain_image;
  const int64_t dst_image = to_plain ? plain_image : blocked_image;
  const int64_t full = channels_ - tail_;
  const int64_t block_offset = (blocks_ - 1) * core::kChannelBlock * pixels_;
  for (int64_t n = 0; n < images_; ++n) {
    const float* s = src + n * src_image;
    float* d = dst + n * dst_image;
    if (full > 0) {
      src_.set_data_handle(const_cast<float*>(s));
      dst_.set_data_handle(d);
      ExecuteArgs(reorder_, {{DNNL_ARG_FROM, src_.get()}, {DNNL_ARG_TO, dst_.get()}});
    }
    if (to_plain) {
      TailToPlain(s + block_offset, d + full * pixels_, tail_, pixels_);
    } else {
      TailToBlocked(s + full * pixels_, d + block_offset, tail_, pixels_);
    }
  }
  ThreadStream().wait();
}

}  // namespace accel::cpu
