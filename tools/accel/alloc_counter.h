// Heap allocation counting for `accel bench`: this tool replaces the global operator new and the
// malloc family (alloc_counter.cc) with versions that count calls while counting is on.
// Allocations whose immediate caller lies in oneDNN (libdnnl) or the OpenMP runtime (libgomp)
// are counted apart, so a report can tell libaccel's own allocations from theirs.
#pragma once

namespace accel::cli {

struct AllocCounts {
  long total = 0;
  long runtime_libs = 0;  // of total: called from libdnnl or libgomp
};

// False in sanitizer builds, where the sanitizer owns malloc: counts then stay 0.
bool AllocCountingAvailable();
void StartAllocCounting();
AllocCounts StopAllocCounting();

}  // namespace accel::cli
