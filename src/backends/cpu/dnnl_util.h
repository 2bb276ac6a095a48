// Small helpers for the kernels built on oneDNN primitives (conv, pooling, matmul, norms).
#pragma once

#include <dnnl.hpp>
#include <string>
#include <utility>

#include "accel/status.h"
#include "accel/tensor.h"
#include "backends/cpu/dnnl_context.h"

namespace accel::cpu {

// Runs `make` (building a primitive descriptor or primitive) and turns oneDNN's refusal into an
// Unsupported error naming the case, so a model gets an error instead of an exception.
template <typename F>
auto TryDnnl(const std::string& what, F&& make) -> Result<decltype(make())> {
  try {
    return make();
  } catch (const dnnl::error& e) {
    return Unsupported(what + " (oneDNN: " + e.what() + ")");
  }
}

// Only float32 goes through these kernels for now.
inline Status RequireFloat32(DType dtype, const char* what) {
  if (dtype == DType::kFloat32) return Status::Ok();
  return Unsupported(std::string(what) + " has dtype " + DTypeName(dtype) +
                     "; only float32 is implemented");
}

// Weights in the layout a primitive asks for. Constant weights are reordered once per layout;
// weights fed at run time are reordered on every call (or used in place when already plain).
class PackedWeights {
 public:
  dnnl::memory Get(const dnnl::memory::desc& user, const void* data, const dnnl::memory::desc& want,
                   bool constant) {
    dnnl::memory src(user, CpuEngine(), const_cast<void*>(data));
    if (user == want) return src;
    if (constant && packed_ && packed_.get_desc() == want) return packed_;
    packed_ = dnnl::memory(want, CpuEngine());
    dnnl::reorder(src, packed_).execute(ThreadStream(), src, packed_);
    ThreadStream().wait();
    if (!constant) {
      dnnl::memory out = packed_;
      packed_ = dnnl::memory();
      return out;
    }
    return packed_;
  }

 private:
  dnnl::memory packed_;
};

}  // namespace accel::cpu
