// The oneDNN engine and helpers shared by the CPU kernels that call oneDNN primitives.
#pragma once

#include <dnnl.hpp>

#include "accel/status.h"
#include "accel/tensor.h"

namespace accel::cpu {

// The process-wide CPU engine (oneDNN engines are thread-safe and cheap to share).
dnnl::engine& CpuEngine();

// A stream for the calling thread; oneDNN streams must not be shared across threads.
dnnl::stream& ThreadStream();

// oneDNN's data type for a libaccel dtype, or an Unsupported error.
Result<dnnl::memory::data_type> ToDnnl(DType dtype);

// Plain row-major (abcd...) memory descriptor for a tensor shape.
dnnl::memory::desc PlainDesc(const Shape& shape, dnnl::memory::data_type type);

// A memory object over the tensor's buffer (no copy).
dnnl::memory WrapTensor(const Tensor& t, const dnnl::memory::desc& desc);

}  // namespace accel::cpu
