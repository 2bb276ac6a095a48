// Static memory planner: places every intermediate tensor of a run at an offset inside one
// arena, so a run needs no allocation and its memory bill is known before the first run.
//
// Input: one Block per tensor with its size and its lifetime in execution steps (the step that
// writes it first and the last step that reads it, both inclusive), plus an optional in-place
// candidate. Output: an offset per block, the arena size and a lower bound.
//
// Algorithm (the "greedy by size, best fit" planner of TFLite and XNNPACK, plus in-place):
//
// 1. In-place groups. A block may name an in-place source: a block that dies at the step that
//    produces this one (source.last_step == first_step), lived before it (source.first_step <
//    first_step), has the same size (rounded to kAlignment), and is not already the source of
//    another block. An elementwise op can then write its output over its input. Accepted links form
//    chains (Relu over Add over Conv output ...); each chain becomes one group with the union of
//    its members' lifetimes and their common size, and every member gets the group's offset.
//    Because a source lives strictly before the step its successor is born at, two members of one
//    chain overlap in time only when they are adjacent links.
// 2. Lower bound. For every step, sum the sizes of the groups live at it; the maximum is a
//    lower bound for any placement of these groups (sizes rounded up to kAlignment).
// 3. Placement. Visit groups in a fixed order; for each, take the already placed groups whose
//    lifetimes overlap it, sorted by offset, and put it into the smallest gap between them that
//    fits (best fit), or after the last of them when no gap does. Gaps are measured in
//    kAlignment-aligned units, so every offset is aligned. The arena is the highest end.
//    Several visit orders are tried and the smallest arena wins: by size (largest first), by
//    lifetime length (longest first), by the largest live sum the group takes part in, then up
//    to 64 orders by size scaled with a seeded random factor in [0.75, 1.25] (fewer for large
//    graphs, about 2e7 placement steps in all). The search stops as soon as an arena equals the
//    lower bound.
//    Ties fall back to the block index, so plans are deterministic.
//
// Limits: the result is a heuristic (exact placement is NP-hard); on the benchmark models it
// reaches the lower bound. Cost is O(G^2 log G) per order for G groups: milliseconds for models
// with a few hundred tensors, bounded for larger ones. Blocks of 0 bytes get offset 0 and take no
// space.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "accel/status.h"

namespace accel::memory {

// Every planned offset and the arena size are multiples of this (oneDNN and AVX-512 friendly).
inline constexpr size_t kAlignment = 64;

inline constexpr int kNoInplace = -1;

struct Block {
  size_t bytes = 0;
  int first_step = 0;  // the step that writes it first
  int last_step = 0;   // the last step that reads it (>= first_step)
  // Index of a block this one may overwrite (see above), or kNoInplace. Only a hint: the
  // planner drops a link that breaks the rules.
  int inplace_source = kNoInplace;
};

struct PlanOptions {
  bool allow_inplace = true;
  // BuildRunPlan only: the producers of a Concat's inputs write straight into its output when
  // each input is a contiguous range of it (see ElideConcats in run_plan.cc).
  bool concat_in_place = true;
};

struct MemoryPlan {
  std::vector<size_t> offsets;  // per block
  // Per block: the in-place source the planner accepted (shares its offset), or kNoInplace.
  std::vector<int> inplace_source;
  size_t arena_bytes = 0;
  size_t lower_bound_bytes = 0;
  int inplace_count = 0;  // accepted in-place links
};

// Plans the blocks. Fails (InvalidArgument) on a block with last_step < first_step or an
// in-place source index out of range, and on a size overflow.
Result<MemoryPlan> PlanMemory(std::span<const Block> blocks, const PlanOptions& options = {});

// Checks a plan against its blocks: every offset aligned and inside the arena, and no two
// blocks whose lifetimes overlap share a byte unless one is the other's accepted in-place source
// and both start at the same offset. For tests and debug checks.
Status ValidatePlan(std::span<const Block> blocks, const MemoryPlan& plan);

// Rounds up to kAlignment; false on overflow.
bool AlignUp(size_t bytes, size_t& aligned);

}  // namespace accel::memory
