// Small float32 weights packed into oneDNN's blocked layouts (OIhw16i16o, Ohwi16o, Goihw16g...)
// here rather than by a oneDNN reorder. oneDNN generates a reorder kernel per weight shape
// (JIT, ~0.04-0.2 ms each: 40 of them, ~1.5 ms, in ultraface's load + prepare), which costs more
// than copying a small weight. This copy scatters one element at a time, so from ~64K elements
// on (a 256x256 1x1 conv) oneDNN's vectorized reorder is faster even with its JIT, and keeps
// the large weights.
#pragma once

#include <dnnl.hpp>

namespace accel::cpu {

inline constexpr int64_t kMaxPackedElements = int64_t{1} << 16;

// True when PackBlockedWeights handles (user, want): dense row-major float32 weights into a
// blocked float32 layout without extra flags (int8 compensation), at most kMaxPackedElements.
bool PacksBlockedWeights(const dnnl::memory::desc& user, const dnnl::memory::desc& want);

// Writes the weights `plain` (described by `user`) into `out` (want.get_size() bytes) in the
// blocked layout `want`, padding with zeros. Returns false, writing nothing, unless
// PacksBlockedWeights(user, want).
bool PackBlockedWeights(const dnnl::memory::desc& user, const void* plain,
                        const dnnl::memory::desc& want, void* out);

}  // namespace accel::cpu
