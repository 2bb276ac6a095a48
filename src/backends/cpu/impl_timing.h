// Choosing between oneDNN implementations of one op by timing them, once per shape.
//
// Which algorithm wins (Winograd or direct convolution, say) depends on the layer's sizes, the
// thread count and the machine, so kernels measure instead of guessing. The choice is kept per
// process under a key naming the case, so later sessions of the same model skip the timing, and
// in a weight cache file (memory::FindImplChoice), so later processes skip it too.
#pragma once

#include <dnnl.hpp>
#include <optional>
#include <span>
#include <string>

namespace accel::cpu {

// Index of the fastest of `candidates` (primitive descriptors with src, weights, optional bias
// and dst; no other runtime arguments), each run once on shared scratch buffers after one
// untimed run; when more than one is within 20% of the fastest, those run a second time and their
// better time counts.
// Remembered under `key` (which must name everything that affects the choice).
size_t PickFastest(const std::string& key, std::span<const dnnl::primitive_desc> candidates);

// PickFastest's choice when it needs no timing (fewer than two candidates, or a choice made
// earlier), else nothing; thread-safe.
std::optional<size_t> KnownFastest(const std::string& key,
                                   std::span<const dnnl::primitive_desc> candidates);

}  // namespace accel::cpu
