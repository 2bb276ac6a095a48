// Small float32 weights packed into oneDNN's blocked layouts (OIhw16i16o, Ohwi16o, Goihw16g...)
// here rather than by a oneDNN reorder. oneDNN generates a reorder kernel per weight shape
// (JIT, ~0.04-0.2 ms each: 40 of them, ~1.5 ms, in ultraface's load + prepare), which costs more
// than copying a small weight. This copy scatters one element at a time, so from ~64K elements
// on (a 256x256 1x1 conv) oneDNN's vectorized reorder is faster even with its JIT, and keeps
// the large weights.
#pragma once

#include <dnnl.hpp>

namespace accel::cpu {

// Writes the dense row-major float32 weights `plain` (described by `user`) into `out`
// (want.get_size() bytes) in the blocked float32 layout `want`, padding with zeros. Returns
// false, writing nothing, for what it does not handle: other data types or layouts, extra
// flags (int8 compensation), or more than kMaxPackedElements elements.
bool PackBlockedWeights(const dnnl::memory::desc& user, const void* plain,
                        const dnnl::memory::desc& want, void* out);

inline constexpr int64_t kMaxPackedElements = int64_t{1} << 16;

}  // namespace accel::cpu
