#include "backends/cpu/cpu_features.h"

#include <atomic>
#include <dnnl.hpp>

namespace accel::cpu {

namespace {

// -1: no override; otherwise 0 or 1.
std::atomic<int> native_bf16_override{-1};

}  // namespace

bool HasNativeBf16() {
  const int forced = native_bf16_override.load();
  if (forced >= 0) return forced == 1;
  // oneDNN's ISA values are feature bit sets, not an order (avx2_vnni > avx512_core_bf16
  // numerically, without bf16): test for avx512_core_bf16's bits, which AMX includes.
  const auto bf16 = static_cast<unsigned>(dnnl::cpu_isa::avx512_core_bf16);
  return (static_cast<unsigned>(dnnl::get_effective_cpu_isa()) & bf16) == bf16;
}

Status CheckPrecisionSupported(Precision precision) {
  if (precision == Precision::kFloat32 || HasNativeBf16()) return Status::Ok();
  return Unsupported(
      "precision bf16 needs a CPU with AVX512_BF16 or AMX (bfloat16 dot products), and this "
      "one has neither (or ONEDNN_MAX_CPU_ISA caps it below AVX512_CORE_BF16); use precision "
      "fp32");
}

void OverrideNativeBf16ForTesting(std::optional<bool> has_bf16) {
  native_bf16_override.store(has_bf16 ? (*has_bf16 ? 1 : 0) : -1);
}

}  // namespace accel::cpu
