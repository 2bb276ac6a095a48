#include "backends/cpu/dnnl_context.h"

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <new>

namespace accel::cpu {

dnnl::engine& CpuEngine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& ThreadStream() {
  thread_local dnnl::stream stream(CpuEngine());
  return stream;
}

dnnl::primitive_attr WithOwnScratchpad(const dnnl::primitive_attr& attr) {
  // A handle copy would share (and change) the caller's attributes.
  dnnl_primitive_attr_t clone = nullptr;
  dnnl::error::wrap_c_api(dnnl_primitive_attr_clone(&clone, attr.get()),
                          "could not copy primitive attributes");
  dnnl::primitive_attr copy(clone);
  copy.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return copy;
}

void* ThreadScratch(size_t bytes) {
  constexpr size_t kAlign = 4096;
  struct Buffer {
    std::unique_ptr<void, decltype(&std::free)> data{nullptr, &std::free};
    size_t size = 0;
  };
  thread_local Buffer buffer;
  if (bytes > buffer.size || !buffer.data) {
    const size_t size = (std::max<size_t>(bytes, 1) + kAlign - 1) / kAlign * kAlign;
    buffer.data.reset(std::aligned_alloc(kAlign, size));
    if (!buffer.data) throw std::bad_alloc();
    buffer.size = size;
  }
  return buffer.data.get();
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
