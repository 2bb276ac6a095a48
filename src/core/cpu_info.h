// Facts about the host CPU that runtime defaults depend on.
#pragma once

namespace accel::core {

// Physical cores available to this process (hyper-threads of one core count once), read from
// the kernel's CPU topology; falls back to the logical CPU count when that is not readable.
int PhysicalCoreCount();

}  // namespace accel::core
