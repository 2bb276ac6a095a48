#include "backends/cpu/dnnl_context.h"

namespace accel::cpu {

dnnl::engine& CpuEngine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& ThreadStream() {
  thread_local dnnl::stream stream(CpuEngine());
  return stream;
}

Result<dnnl::memory::data_type> ToDnnl(DType dtype) {
  using dt = dnnl::memory::data_type;
  switch (dtype) {
    case DType::kFloat32:
      return dt::f32;
    case DType::kFloat16:
      return dt::f16;
    case DType::kBFloat16:
      return dt::bf16;
    case DType::kInt32:
      return dt::s32;
    case DType::kInt8:
      return dt::s8;
    case DType::kUInt8:
      return dt::u8;
    default:
      return Unsupported(std::string("oneDNN has no ") + DTypeName(dtype) + " type");
  }
}

dnnl::memory::desc PlainDesc(const Shape& shape, dnnl::memory::data_type type) {
  dnnl::memory::dims dims(shape.begin(), shape.end());
  dnnl::memory::dims strides(shape.size(), 1);
  for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i) {
    strides[i] = strides[i + 1] * std::max<int64_t>(shape[i + 1], 1);
  }
  return dnnl::memory::desc(dims, type, strides);
}

dnnl::memory WrapTensor(const Tensor& t, const dnnl::memory::desc& desc) {
  return dnnl::memory(desc, CpuEngine(), const_cast<void*>(t.data()));
}

}  // namespace accel::cpu
