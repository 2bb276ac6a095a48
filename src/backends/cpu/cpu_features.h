// What the host CPU can run, as oneDNN sees it: the one place that decides whether a precision
// is available.
#pragma once

#include <optional>

#include "accel/model.h"
#include "accel/status.h"

namespace accel::cpu {

// True when oneDNN runs bfloat16 convolutions and matmuls with native instructions here
// (AVX512_BF16 or AMX). oneDNN's ISA cap (ONEDNN_MAX_CPU_ISA) is honoured.
bool HasNativeBf16();

// Ok, or an Unsupported error explaining why this CPU cannot run `precision`.
Status CheckPrecisionSupported(Precision precision);

// For tests of the refusal path: pretend the CPU has (true) or lacks (false) native bfloat16;
// nullopt restores the real answer.
void OverrideNativeBf16ForTesting(std::optional<bool> has_bf16);

}  // namespace accel::cpu
