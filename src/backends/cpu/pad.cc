// Pad: constant, reflect, edge and wrap padding (negative pads crop).
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "backends/cpu/data_movement.h"
#include "core/op_def.h"

namespace accel::cpu {

namespace {

enum class PadMode { kConstant, kReflect, kEdge, kWrap };

Result<PadMode> ParseMode(const core::Attributes& attrs, int opset) {
  ACCEL_ASSIGN_OR_RETURN(std::string mode, attrs.GetString("mode", "constant"));
  if (mode == "constant") return PadMode::kConstant;
  if (mode == "reflect") return PadMode::kReflect;
  if (mode == "edge") return PadMode::kEdge;
  if (mode == "wrap" && opset >= 19) return PadMode::kWrap;
  return InvalidModel("unknown mode '" + mode + "'");
}

// Per-axis [begin, end] pads for a rank, from the attribute (before 11) or the pads/axes inputs.
// *known is false when an input value is not known yet.
// Pads of rank <= 8 stay inline (kernels read them every run without allocating).
using PadVector = SmallVector<int64_t, 2 * kInlineRank>;

// `attr_pads` holds the attribute before opset 11 (read once by the caller).
Status ReadPadsInto(std::span<const int64_t> attr_pads, int opset, int64_t rank,
                    const Tensor* pads_in, const Tensor* axes_in, bool has_axes, bool* known,
                    PadVector& full) {
  *known = true;
  PadVector pads;
  DimVector axes;
  if (opset < 11) {
    pads = PadVector(attr_pads);
  } else {
    if (!pads_in || (has_axes && !axes_in)) {
      *known = false;
      return Status::Ok();
    }
    ACCEL_RETURN_IF_ERROR(dm::ReadIntsInto(*pads_in, pads));
    if (has_axes) ACCEL_RETURN_IF_ERROR(dm::ReadIntsInto(*axes_in, axes));
  }
  if (axes.empty()) {
    if (static_cast<int64_t>(pads.size()) != 2 * rank) {
      return InvalidModel("pads has " + std::to_string(pads.size()) + " entries for rank " +
                          std::to_string(rank));
    }
    full = pads;
    return Status::Ok();
  }
  if (pads.size() != 2 * axes.size()) {
    return InvalidModel("pads has " + std::to_string(pads.size()) + " entries for " +
                        std::to_string(axes.size()) + " axes");
  }
  full.assign(static_cast<size_t>(2 * rank), 0);
  size_t n = axes.size();
  for (size_t i = 0; i < n; ++i) {
    ACCEL_ASSIGN_OR_RETURN(int64_t a, core::NormalizeAxis(axes[i], rank));
    full[a] = pads[i];
    full[a + rank] = pads[i + n];
  }
  return Status::Ok();
}

Result<std::vector<int64_t>> ReadPads(const core::Attributes& attrs, int opset, int64_t rank,
                                      const Tensor* pads_in, const Tensor* axes_in, bool has_axes,
                                      bool* known) {
  std::vector<int64_t> attr_pads;
  if (opset < 11) {
    ACCEL_ASSIGN_OR_RETURN(attr_pads, attrs.RequireInts(opset < 2 ? "paddings" : "pads"));
  }
  PadVector full;
  ACCEL_RETURN_IF_ERROR(
      ReadPadsInto(attr_pads, opset, rank, pads_in, axes_in, has_axes, known, full));
  return std::vector<int64_t>(full.begin(), full.end());
}

Result<std::vector<int64_t>> PaddedDims(std::span<const int64_t> in,
                                        std::span<const int64_t> pads) {
  int64_t rank = static_cast<int64_t>(in.size());
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < rank; ++d) {
    if (in[d] < 0) {
      dims.push_back(-1);
      continue;
    }
    int64_t n = in[d] + pads[d] + pads[d + rank];
    if (n < 0) return InvalidModel("pads make dimension " + std::to_string(d) + " negative");
    dims.push_back(n);
  }
  return dims;
}

const Tensor* ValueOrNull(const core::InferContext& ctx, size_t i) {
  return ctx.has_input(i) ? ctx.input_value(i) : nullptr;
}

Status InferPad(core::InferContext& ctx) {
  const core::TensorType& in = ctx.input_type(0);
  ACCEL_RETURN_IF_ERROR(ParseMode(ctx.attrs(), ctx.opset()).status());
  if (!in.has_shape) {
    ctx.set_output(0, core::TensorType::UnknownShape(in.dtype));
    return Status::Ok();
  }
  bool known = false;
  bool has_axes = ctx.opset() >= 18 && ctx.has_input(3);
  ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> pads,
                         ReadPads(ctx.attrs(), ctx.opset(), in.rank(), ValueOrNull(ctx, 1),
                                  ValueOrNull(ctx, 3), has_axes, &known));
  if (!known) {
    ctx.set_output(0, in.dtype, std::vector<int64_t>(in.dims.size(), -1));
    return Status::Ok();
  }
  ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> dims, PaddedDims(in.dims, pads));
  ctx.set_output(0, in.dtype, std::move(dims));
  return Status::Ok();
}

// Source index for output position o along an axis of size n with `begin` padding, or -1 for
// the constant value.
int64_t SourceIndex(int64_t o, int64_t begin, int64_t n, PadMode mode) {
  int64_t i = o - begin;
  if (i >= 0 && i < n) return i;
  switch (mode) {
    case PadMode::kConstant:
      return -1;
    case PadMode::kEdge:
      return i < 0 ? 0 : n - 1;
    case PadMode::kWrap:
      return ((i % n) + n) % n;
    case PadMode::kReflect: {
      if (n == 1) return 0;
      int64_t period = 2 * (n - 1);
      int64_t r = ((i % period) + period) % period;
      return r < n ? r : period - r;
    }
  }
  return -1;
}

// Attributes are read once, and the per-axis source maps are kept for the last input shape and
// pads, so that steady runs allocate nothing.
class PadKernel final : public core::Kernel {
 public:
  PadKernel(const core::Attributes& attrs, int opset) : attrs_(attrs), opset_(opset) {}

  Status Compute(core::KernelContext& ctx) override {
    if (!attrs_read_) {
      ACCEL_ASSIGN_OR_RETURN(mode_, ParseMode(attrs_, opset_));
      if (opset_ < 11) {
        ACCEL_ASSIGN_OR_RETURN(attr_pads_, attrs_.RequireInts(opset_ < 2 ? "paddings" : "pads"));
        ACCEL_ASSIGN_OR_RETURN(attr_value_, attrs_.GetFloat("value", 0.0f));
      }
      attrs_read_ = true;
    }
    return Run(ctx, attrs_, opset_);
  }

 private:
  Status Run(core::KernelContext& ctx, const core::Attributes& attrs, int opset) {
    const Tensor& in = ctx.input(0);
    const PadMode mode = mode_;
    bool known = false;
    bool has_axes = opset >= 18 && ctx.has_input(3);
    ACCEL_RETURN_IF_ERROR(
        ReadPadsInto(attr_pads_, opset, in.rank(), ctx.has_input(1) ? &ctx.input(1) : nullptr,
                     has_axes ? &ctx.input(3) : nullptr, has_axes, &known, pads_));
    if (!known) return InvalidModel("missing input 'pads'");
    const PadVector& pads = pads_;
    ACCEL_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0));
    size_t elem = DTypeSize(in.dtype());
    // The fill value as one element of the data's dtype.
    if (fill_.dtype() != in.dtype()) {
      ACCEL_ASSIGN_OR_RETURN(fill_, Tensor::Zeros(in.dtype(), {}));
    }
    Tensor& fill = fill_;
    std::memset(fill.data(), 0, elem);
    if (opset < 11) {
      ACCEL_RETURN_IF_ERROR(dm::StoreFromDouble(fill, 0, attr_value_));
    } else if (ctx.has_input(2) && ctx.input(2).element_count() > 0) {
      if (ctx.input(2).dtype() != in.dtype()) {
        return InvalidModel("constant_value dtype differs from data");
      }
      std::memcpy(fill.data(), ctx.input(2).data(), elem);
    }
    int64_t rank = in.rank();
    const std::vector<int64_t>& od = out->shape();
    if (out->element_count() == 0) return Status::Ok();
    // Per axis, the source index of every output position (-1: fill).
    for (int64_t d = 0; d < rank; ++d) {
      int64_t n = in.shape()[d];
      if (n == 0 && mode != PadMode::kConstant && od[d] > 0) {
        return InvalidModel("cannot pad an empty axis in this mode");
      }
    }
    if (!mapped_ || in.shape() != map_shape_ || !(pads_ == map_pads_)) {
      mapped_ = false;
      maps_.resize(static_cast<size_t>(rank));
      for (int64_t d = 0; d < rank; ++d) {
        maps_[d].resize(od[d]);
        for (int64_t o = 0; o < od[d]; ++o) {
          maps_[d][o] = SourceIndex(o, pads[d], in.shape()[d], mode);
        }
      }
      strides_ = core::Strides(in.shape());
      map_shape_ = in.shape();
      map_pads_ = pads_;
      mapped_ = true;
    }
    const std::vector<std::vector<int64_t>>& maps = maps_;
    const std::vector<int64_t>& strides = strides_;
    const auto* src = static_cast<const uint8_t*>(in.data());
    auto* dst = static_cast<uint8_t*>(out->data());
    const auto* fill_bytes = static_cast<const uint8_t*>(fill.data());
    int64_t row = rank == 0 ? 1 : od[rank - 1];
    int64_t rows = rank == 0 ? 1 : out->element_count() / row;
    const std::vector<int64_t>* last = rank == 0 ? nullptr : &maps[rank - 1];
    int64_t last_stride = rank == 0 ? 0 : strides[rank - 1];
    int64_t copy_lo = 0, copy_hi = 0;
    if (rank > 0) {
      int64_t begin = pads[rank - 1];
      copy_lo = std::max<int64_t>(0, begin);
      copy_hi = std::min<int64_t>(row, begin + in.shape()[rank - 1]);
    }
    for (int64_t r = 0; r < rows; ++r) {
      int64_t offset = 0;
      bool inside = true;
      int64_t rest = r;
      for (int64_t d = rank - 2; d >= 0; --d) {
        int64_t s = maps[d][rest % od[d]];
        rest /= od[d];
        if (s < 0)
          inside = false;
        else
          offset += s * strides[d];
      }
      uint8_t* out_row = dst + r * row * elem;
      // Output positions [lo, hi) of the last axis read the source row contiguously.
      int64_t lo = inside ? copy_lo : row;
      int64_t hi = inside ? copy_hi : row;
      if (hi > lo) {
        std::memcpy(out_row + lo * elem, src + (offset + (*last)[lo]) * elem, (hi - lo) * elem);
      }
      for (int64_t j = 0; j < row; ++j) {
        if (j == lo && hi > lo) j = hi;
        if (j >= row) break;
        int64_t s = last ? (*last)[j] : 0;
        const uint8_t* from =
            inside && s >= 0 ? src + (offset + s * last_stride) * elem : fill_bytes;
        std::memcpy(out_row + j * elem, from, elem);
      }
    }
    return Status::Ok();
  }

  const core::Attributes& attrs_;  // owned by the Model, which outlives every Session
  int opset_;
  bool attrs_read_ = false;
  PadMode mode_ = PadMode::kConstant;
  std::vector<int64_t> attr_pads_;  // before opset 11
  float attr_value_ = 0.0f;         // before opset 11
  PadVector pads_;                  // this run's pads
  Tensor fill_;
  // Source maps and strides for the last input shape and pads.
  bool mapped_ = false;
  Shape map_shape_;
  PadVector map_pads_;
  std::vector<std::vector<int64_t>> maps_;
  std::vector<int64_t> strides_;
};

Result<std::unique_ptr<core::Kernel>> CreatePad(const core::KernelInit& init) {
  return dm::MakeKernel<PadKernel>(init.attrs, init.opset);
}

}  // namespace

const core::OpDef& PadOpDef() {
  static const core::OpDef def{
      "Pad", "", {1, 2, 11, 13, 18, 19, 21, 23, 24, 25}, 2, InferPad, CreatePad,
  };
  return def;
}

}  // namespace accel::cpu
