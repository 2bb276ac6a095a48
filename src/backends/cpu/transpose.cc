// Transpose: a strided copy of the input with the axes permuted.
#include <string>
#include <vector>

#include "backends/cpu/data_movement.h"
#include "core/op_def.h"

namespace accel::cpu {

namespace {

// The permutation (default: reversed axes), validated against the rank.
Result<std::vector<int64_t>> Permutation(const core::Attributes& attrs, int64_t rank) {
  ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> perm, attrs.GetInts("perm"));
  if (!attrs.Has("perm")) {
    for (int64_t i = rank - 1; i >= 0; --i) perm.push_back(i);
  }
  if (static_cast<int64_t>(perm.size()) != rank) {
    return InvalidModel("perm has " + std::to_string(perm.size()) + " entries for rank " +
                        std::to_string(rank));
  }
  std::vector<bool> seen(perm.size(), false);
  for (int64_t& p : perm) {
    if (p < 0) p += rank;  // not in the spec, but harmless and seen in exported models
    if (p < 0 || p >= rank || seen[p]) return InvalidModel("perm is not a permutation");
    seen[p] = true;
  }
  return perm;
}

Status InferTranspose(core::InferContext& ctx) {
  const core::TensorType& in = ctx.input_type(0);
  if (!in.has_shape) {
    ctx.set_output(0, core::TensorType::UnknownShape(in.dtype));
    return Status::Ok();
  }
  ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> perm, Permutation(ctx.attrs(), in.rank()));
  std::vector<int64_t> dims;
  for (int64_t p : perm) dims.push_back(in.dims[p]);
  ctx.set_output(0, in.dtype, std::move(dims));
  return Status::Ok();
}

class TransposeKernel final : public core::Kernel {
 public:
  explicit TransposeKernel(const core::Attributes& attrs) : attrs_(attrs) {}

  Status Compute(core::KernelContext& ctx) override {
    const Tensor& in = ctx.input(0);
    const size_t elem = DTypeSize(in.dtype());
    if (!planned_ || in.shape() != shape_ || elem != elem_) {
      // The copy's dims and byte strides, planned once per input shape.
      ACCEL_ASSIGN_OR_RETURN(std::vector<int64_t> perm, Permutation(attrs_, in.rank()));
      const std::vector<int64_t> in_strides = core::Strides(in.shape());
      dims_.clear();
      strides_.clear();
      for (int64_t p : perm) {
        dims_.push_back(in.shape()[p]);
        strides_.push_back(in_strides[p] * static_cast<int64_t>(elem));
      }
      shape_ = in.shape();
      elem_ = elem;
      planned_ = true;
    }
    ACCEL_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0));
    dm::StridedCopy(out->data(), in.data(), dims_, strides_, elem);
    return Status::Ok();
  }

 private:
  const core::Attributes& attrs_;
  bool planned_ = false;
  Shape shape_;
  size_t elem_ = 0;
  DimVector dims_;
  DimVector strides_;
};

Result<std::unique_ptr<core::Kernel>> CreateTranspose(const core::KernelInit& init) {
  return dm::MakeKernel<TransposeKernel>(init.attrs);
}

}  // namespace

const core::OpDef& TransposeOpDef() {
  static const core::OpDef def{
      "Transpose", "", {1, 13, 21, 23, 24, 25}, 1, InferTranspose, CreateTranspose,
  };
  return def;
}

}  // namespace accel::cpu
