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

// oneDNN's default scratchpad lives in thread-local storage of the thread that created the
// primitive: run on another thread (a Session made on one thread and run on another, or set up
// by Executor::Precompile's helpers), a primitive that needs scratch finds none and crashes.
// Primitives that need scratch are therefore created with this attribute (scratchpad_mode::user)
// and each run passes the running thread's buffer (ThreadScratch). Returns a copy of `attr`.
dnnl::primitive_attr WithOwnScratchpad(const dnnl::primitive_attr& attr);

// The calling thread's scratch buffer for oneDNN primitives, at least `bytes` long: grown when
// a larger one is asked for (an allocation), freed when the thread ends.
void* ThreadScratch(size_t bytes);

// oneDNN's data type for a libaccel dtype, or an Unsupported error.
Result<dnnl::memory::data_type> ToDnnl(DType dtype);

// Plain row-major (abcd...) memory descriptor for a tensor shape.
dnnl::memory::desc PlainDesc(const Shape& shape, dnnl::memory::data_type type);

// A memory object over the tensor's buffer (no copy).
dnnl::memory WrapTensor(const Tensor& t, const dnnl::memory::desc& desc);

}  // namespace accel::cpu
