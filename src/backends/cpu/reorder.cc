// Reorder (internal, domain "accel"): converts a float32 NCHW tensor between the plain and the
// channel-blocked layout. The layout pass inserts it where a blocked value meets an op that
// needs plain data, or the reverse; the node's input and output values carry the two layouts.
#include "backends/cpu/dnnl_util.h"
#include "backends/cpu/layout_copy.h"
#include "core/op_def.h"

namespace accel::cpu {

namespace {

Status InferReorder(core::InferContext& ctx) {
  ctx.set_output(0, ctx.input_type(0));
  return Status::Ok();
}

class ReorderKernel final : public core::Kernel {
 public:
  ReorderKernel(core::Layout from, core::Layout to) : copy_(from, to) {}

  Status Compute(core::KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    ACCEL_RETURN_IF_ERROR(RequireFloat32(x.dtype(), "Reorder input"));
    ACCEL_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0));
    const Shape& shape = ctx.input_shape(0);
    if (ElementCount(shape) == 0) return Status::Ok();
    if (copy_.prepared() != shape) ACCEL_RETURN_IF_ERROR(copy_.Prepare(shape));
    copy_.Run(x.data_as<float>(), y->data_as<float>());
    return Status::Ok();
  }

 private:
  LayoutCopy copy_;
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
