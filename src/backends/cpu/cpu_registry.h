// The CPU backend: the reference backend every op must have.
#pragma once

#include "core/op_def.h"

namespace accel::cpu {

// All ops of the CPU backend (built once, on first use).
const core::OpRegistry& CpuRegistry();

}  // namespace accel::cpu
