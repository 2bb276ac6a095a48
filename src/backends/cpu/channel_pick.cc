// ChannelPick (internal, domain "accel"): output channel c of a 4-D float32 tensor is channel
// `channels[c]` of the inputs concatenated along channels; batch and spatial dims pass through.
//
// The layout pass puts it in place of ShuffleNet's channel shuffle and split (Concat -> Reshape
// -> Transpose -> Reshape -> Slice or Gather halves; passes/channel_pick.cc): each half becomes
// one copy straight from the concatenated tensors, and it runs on channel-blocked data, so the
// convolutions around it keep their layout instead of reordering at every block.
#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "backends/cpu/dnnl_util.h"
#include "backends/cpu/vec.h"
#include "core/op_def.h"

namespace accel::cpu {

namespace {

constexpr int64_t kBlock = core::kChannelBlock;
// Far below the usual threshold for a parallel copy: at 2 threads the inputs were written by
// both cores, and one core reading them all from the other's cache took longer than the split
// (shufflenet's picks at 2 threads 0.29 -> 0.23 ms).
constexpr int64_t kParallelMinPicked = 4096;

Status InferChannelPick(core::InferContext& ctx) {
  if (ctx.num_inputs() == 0) return InvalidModel("needs at least one input");
  ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> channels, ctx.attrs().GetInts("channels", {}));
  if (channels.empty()) return InvalidModel("attribute 'channels' is empty");
  const DType dtype = ctx.input_type(0).dtype;
  // N, H, W shared by all inputs; -1 where no input tells.
  int64_t dims[3] = {-1, -1, -1};
  int64_t total = 0;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) return InvalidModel("input " + std::to_string(i) + " is omitted");
    const core::TensorType& t = ctx.input_type(i);
    if (t.dtype != dtype) return InvalidModel("inputs have different dtypes");
    if (!t.has_shape) {
      total = -1;
      continue;
    }
    if (t.rank() != 4) {
      return InvalidModel("input " + std::to_string(i) + " has rank " + std::to_string(t.rank()) +
                          ", expected 4");
    }
    for (int d = 0; d < 3; ++d) {
      const int64_t v = t.dims[d == 0 ? 0 : d + 1];
      if (v < 0) continue;
      if (dims[d] >= 0 && dims[d] != v) {
        return InvalidModel("inputs differ in batch or spatial size: " + t.ToString());
      }
      dims[d] = v;
    }
    if (total >= 0) total = t.dims[1] < 0 ? -1 : total + t.dims[1];
  }
  for (int64_t c : channels) {
    if (c < 0 || (total >= 0 && c >= total)) {
      return InvalidModel("channel " + std::to_string(c) + " outside the inputs' " +
                          std::to_string(total) + " channels");
    }
  }
  ctx.set_output(0, dtype, {dims[0], static_cast<int64_t>(channels.size()), dims[1], dims[2]});
  return Status::Ok();
}

// The lanes of one output block that come from one input block. (Plain arrays: a vector of
// 64-byte vector types is not allocated aligned here.)
struct Source {
  int input;
  int64_t block;     // channel block within that input
  int32_t lane[16];  // source lane of each output lane (0 where unused)
  int32_t mask[16];  // -1 for the output lanes this source fills
};

// One output block over `pixels` pixels: src[k] points at source k's block of the same pixel
// range. Lanes no source fills are zero (the blocked layout's padding).
[[gnu::target("avx512f")]] void PickBlockAvx512(const Source* sources, const float* const* src,
                                                size_t count, float* dst, int64_t pixels) {
  using Vec = VecOf<16>::type;
  typedef int32_t IntVec __attribute__((vector_size(64)));
  for (int64_t p = 0; p < pixels; ++p) {
    Vec out = {};
    for (size_t k = 0; k < count; ++k) {
      Vec v;
      IntVec lane, mask;
      std::memcpy(&v, src[k] + p * kBlock, sizeof(v));
      std::memcpy(&lane, sources[k].lane, sizeof(lane));
      std::memcpy(&mask, sources[k].mask, sizeof(mask));
      const Vec picked = __builtin_shuffle(v, lane);
      out = mask ? picked : out;
    }
    std::memcpy(dst + p * kBlock, &out, sizeof(out));
  }
}

void PickBlockBaseline(const Source* sources, const float* const* src, size_t count, float* dst,
                       int64_t pixels) {
  std::memset(dst, 0, sizeof(float) * pixels * kBlock);
  for (size_t k = 0; k < count; ++k) {
    for (int l = 0; l < kBlock; ++l) {
      if (!sources[k].mask[l]) continue;
      const float* s = src[k] + sources[k].lane[l];
      for (int64_t p = 0; p < pixels; ++p) dst[p * kBlock + l] = s[p * kBlock];
    }
  }
}

using PickBlockFn = void (*)(const Source*, const float* const*, size_t, float*, int64_t);

PickBlockFn ChoosePickBlock() {
  return __builtin_cpu_supports("avx512f") ? &PickBlockAvx512 : &PickBlockBaseline;
}

class ChannelPickKernel final : public core::Kernel {
 public:
  ChannelPickKernel(std::vector<int64_t> channels, core::Layout layout)
      : channels_(std::move(channels)), layout_(layout) {}

  Status Compute(core::KernelContext& ctx) override {
    ACCEL_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0));
    if (y->element_count() == 0) return Status::Ok();
    const size_t inputs = ctx.num_inputs();
    in_channels_.resize(inputs);
    src_.resize(inputs);
    for (size_t i = 0; i < inputs; ++i) {
      ACCEL_RETURN_IF_ERROR(RequireFloat32(ctx.input(i).dtype(), "ChannelPick input"));
      in_channels_[i] = ctx.input_shape(i)[1];
      src_[i] = ctx.input(i).data_as<float>();
    }
    const Shape& out = ctx.output_shape(0);
    const int64_t batch = out[0], pixels = out[2] * out[3];
    if (in_channels_ != planned_channels_) ACCEL_RETURN_IF_ERROR(Plan());
    float* dst = y->data_as<float>();
    if (layout_ == core::Layout::kPlain) {
      const int64_t c_out = static_cast<int64_t>(channels_.size());
      for (int64_t n = 0; n < batch; ++n) {
        for (int64_t c = 0; c < c_out; ++c) {
          const Origin& o = origin_[c];
          std::memcpy(dst + (n * c_out + c) * pixels,
                      src_[o.input] + (n * in_channels_[o.input] + o.channel) * pixels,
                      sizeof(float) * pixels);
        }
      }
      return Status::Ok();
    }
    const int64_t blocks = static_cast<int64_t>(block_begin_.size()) - 1;
    const int64_t items = batch * blocks;
    auto run = [&](int64_t item) {
      const int64_t n = item / blocks, ob = item % blocks;
      const size_t first = block_begin_[ob], count = block_begin_[ob + 1] - first;
      // Each output lane has one source: at most one source block per lane.
      std::array<const float*, kBlock> ptrs;
      for (size_t k = 0; k < count; ++k) {
        const Source& s = sources_[first + k];
        const int64_t in_blocks = (in_channels_[s.input] + kBlock - 1) / kBlock;
        ptrs[k] = src_[s.input] + (n * in_blocks + s.block) * pixels * kBlock;
      }
      pick_block_(sources_.data() + first, ptrs.data(), count,
                  dst + (n * blocks + ob) * pixels * kBlock, pixels);
    };
    // Serial runs stay out of the OpenMP runtime, which sets up a team even for a false if().
    if (ctx.num_threads() > 1 && items > 1 && y->element_count() >= kParallelMinPicked) {
#pragma omp parallel for schedule(static)
      for (int64_t item = 0; item < items; ++item) run(item);
    } else {
      for (int64_t item = 0; item < items; ++item) run(item);
    }
    return Status::Ok();
  }

 private:
  struct Origin {
    int input;
    int64_t channel;
  };

  // Maps each output channel to its input and, for blocked data, groups each output block's
  // lanes by source block.
  Status Plan() {
    origin_.clear();
    for (int64_t c : channels_) {
      int64_t rest = c;
      size_t i = 0;
      while (i < in_channels_.size() && rest >= in_channels_[i]) rest -= in_channels_[i++];
      if (i == in_channels_.size() || rest < 0) {
        return InvalidArgument("channel " + std::to_string(c) + " outside the inputs");
      }
      origin_.push_back({static_cast<int>(i), rest});
    }
    sources_.clear();
    block_begin_.assign(1, 0);
    const int64_t c_out = static_cast<int64_t>(channels_.size());
    for (int64_t ob = 0; ob * kBlock < c_out; ++ob) {
      const size_t first = sources_.size();
      for (int64_t l = 0; l < kBlock && ob * kBlock + l < c_out; ++l) {
        const Origin& o = origin_[ob * kBlock + l];
        const int64_t block = o.channel / kBlock;
        size_t k = first;
        while (k < sources_.size() &&
               (sources_[k].input != o.input || sources_[k].block != block)) {
          ++k;
        }
        if (k == sources_.size()) sources_.push_back({o.input, block, {}, {}});
        sources_[k].lane[l] = static_cast<int32_t>(o.channel % kBlock);
        sources_[k].mask[l] = -1;
      }
      block_begin_.push_back(sources_.size());
    }
    planned_channels_ = in_channels_;
    return Status::Ok();
  }

  std::vector<int64_t> channels_;
  core::Layout layout_;
  PickBlockFn pick_block_ = ChoosePickBlock();
  // Per run: the inputs' channel counts and data.
  std::vector<int64_t> in_channels_;
  std::vector<const float*> src_;
  // The plan for planned_channels_.
  std::vector<int64_t> planned_channels_;
  std::vector<Origin> origin_;
  std::vector<Source> sources_;
  std::vector<size_t> block_begin_;  // sources_ of output block b: [begin[b], begin[b + 1])
};

Result<std::unique_ptr<core::Kernel>> CreateChannelPick(const core::KernelInit& init) {
  ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> channels, init.attrs.GetInts("channels", {}));
  const core::Layout layout = init.output_layouts[0];
  for (size_t i = 0; i < init.input_layouts.size(); ++i) {
    ACCEL_RETURN_IF_ERROR(RequireFloat32Input(init, i, "ChannelPick input"));
    if (init.input_layouts[i] != layout) return Internal("ChannelPick between layouts");
  }
  return std::unique_ptr<core::Kernel>(
      std::make_unique<ChannelPickKernel>(std::move(channels), layout));
}

}  // namespace

const core::OpDef& ChannelPickOpDef() {
  static const core::OpDef def{"ChannelPick",
                               "accel",
                               {1},
                               1,
                               InferChannelPick,
                               CreateChannelPick,
                               core::LayoutSupport::kChannelPick};
  return def;
}

}  // namespace accel::cpu
