#include "backends/cpu/cpu_registry.h"

namespace accel::cpu {

#define ACCEL_CPU_OP(name) const core::OpDef& name##OpDef();
#include "backends/cpu/op_list.inc"
#undef ACCEL_CPU_OP

const core::OpRegistry& CpuRegistry() {
  static const core::OpRegistry registry({
#define ACCEL_CPU_OP(name) &name##OpDef(),
#include "backends/cpu/op_list.inc"
#undef ACCEL_CPU_OP
  });
  return registry;
}

}  // namespace accel::cpu
