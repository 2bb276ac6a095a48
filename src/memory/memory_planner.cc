#include "memory/memory_planner.h"

#include <algorithm>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <tuple>
#include <utility>

namespace accel::memory {

namespace {

constexpr int kPerturbedRounds = 64;
constexpr double kPerturbedWork = 2e7;

// A chain of in-place blocks placed as one unit.
struct Group {
  size_t bytes = 0;  // aligned
  int first = 0;
  int last = 0;
  int id = 0;           // smallest block index, for deterministic ties
  size_t pressure = 0;  // largest live sum over the group's steps
};

bool Overlap(int a_first, int a_last, int b_first, int b_last) {
  return a_first <= b_last && b_first <= a_last;
}

// True when `source` may be overwritten by `block` (see the header for the rules).
bool InplaceAllowed(const Block& block, const Block& source, size_t block_aligned,
                    size_t source_aligned) {
  return block.bytes > 0 && source.last_step == block.first_step &&
         source.first_step < block.first_step && block_aligned == source_aligned;
}

// Max over steps of the live sum, and per group the largest live sum during its lifetime.
size_t SweepPressure(std::vector<Group>& groups) {
  std::vector<int> cuts;
  cuts.reserve(groups.size() * 2);
  for (const Group& g : groups) {
    cuts.push_back(g.first);
    cuts.push_back(g.last + 1);
  }
  std::ranges::sort(cuts);
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  auto slot = [&](int step) {
    return static_cast<size_t>(std::ranges::lower_bound(cuts, step) - cuts.begin());
  };
  // delta[i] applies from cuts[i] on; live[i] is the sum over [cuts[i], cuts[i + 1]).
  std::vector<size_t> add(cuts.size() + 1, 0), sub(cuts.size() + 1, 0);
  for (const Group& g : groups) {
    add[slot(g.first)] += g.bytes;
    sub[slot(g.last + 1)] += g.bytes;
  }
  std::vector<size_t> live(cuts.size(), 0);
  size_t current = 0, peak = 0;
  for (size_t i = 0; i < cuts.size(); ++i) {
    current = current + add[i] - sub[i];
    live[i] = current;
    peak = std::max(peak, current);
  }
  for (Group& g : groups) {
    size_t end = slot(g.last + 1);
    for (size_t i = slot(g.first); i < end; ++i) g.pressure = std::max(g.pressure, live[i]);
  }
  return peak;
}

// For each group, the groups whose lifetimes overlap its own: computed once per plan, so each
// placement round below only visits a group's few neighbours instead of every placed group.
std::vector<std::vector<int>> LifetimeNeighbours(const std::vector<Group>& groups) {
  std::vector<std::vector<int>> neighbours(groups.size());
  for (size_t a = 0; a < groups.size(); ++a) {
    for (size_t b = a + 1; b < groups.size(); ++b) {
      if (Overlap(groups[a].first, groups[a].last, groups[b].first, groups[b].last)) {
        neighbours[a].push_back(static_cast<int>(b));
        neighbours[b].push_back(static_cast<int>(a));
      }
    }
  }
  return neighbours;
}

// Greedy best-fit placement of the groups in `order`; returns the arena size.
size_t Place(const std::vector<Group>& groups, const std::vector<std::vector<int>>& neighbours,
             const std::vector<int>& order, std::vector<size_t>& offsets) {
  offsets.assign(groups.size(), 0);
  std::vector<char> placed(groups.size(), 0);
  std::vector<std::pair<size_t, size_t>> busy;  // [offset, end) of overlapping placed groups
  size_t arena = 0;
  for (int gi : order) {
    const Group& g = groups[gi];
    if (g.bytes == 0) continue;
    busy.clear();
    for (int p : neighbours[gi]) {
      if (placed[p]) busy.emplace_back(offsets[p], offsets[p] + groups[p].bytes);
    }
    std::ranges::sort(busy);
    size_t best = 0, best_gap = std::numeric_limits<size_t>::max(), prev_end = 0;
    bool found = false;
    for (const auto& [begin, end] : busy) {
      if (begin > prev_end) {
        size_t gap = begin - prev_end;
        if (gap >= g.bytes && gap < best_gap) {
          best = prev_end;
          best_gap = gap;
          found = true;
        }
      }
      prev_end = std::max(prev_end, end);
    }
    if (!found) best = prev_end;
    offsets[gi] = best;
    arena = std::max(arena, best + g.bytes);
    placed[gi] = 1;
  }
  return arena;
}

}  // namespace

bool AlignUp(size_t bytes, size_t& aligned) {
  if (bytes > std::numeric_limits<size_t>::max() - (kAlignment - 1)) return false;
  aligned = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  return true;
}

Result<MemoryPlan> PlanMemory(std::span<const Block> blocks, const PlanOptions& options) {
  const size_t n = blocks.size();
  std::vector<size_t> aligned(n);
  size_t total = 0;
  for (size_t i = 0; i < n; ++i) {
    const Block& b = blocks[i];
    if (b.last_step < b.first_step || b.last_step == std::numeric_limits<int>::max()) {
      return InvalidArgument("memory plan: block " + std::to_string(i) + " has steps [" +
                             std::to_string(b.first_step) + ", " + std::to_string(b.last_step) +
                             "]");
    }
    if (b.inplace_source != kNoInplace &&
        (b.inplace_source < 0 || static_cast<size_t>(b.inplace_source) >= n)) {
      return InvalidArgument("memory plan: block " + std::to_string(i) + " names in-place source " +
                             std::to_string(b.inplace_source));
    }
    if (!AlignUp(b.bytes, aligned[i]) || aligned[i] > std::numeric_limits<size_t>::max() - total) {
      return InvalidArgument("memory plan: total size overflows");
    }
    total += aligned[i];
  }

  MemoryPlan plan;
  plan.inplace_source.assign(n, kNoInplace);
  // Group members by in-place chains. Sources are born strictly earlier than their successors,
  // so visiting blocks by first step sees every source's group before it is extended.
  std::vector<int> by_first(n);
  std::iota(by_first.begin(), by_first.end(), 0);
  std::ranges::stable_sort(by_first, {}, [&](int i) { return blocks[i].first_step; });
  std::vector<int> group_of(n, -1);
  std::vector<bool> used_as_source(n, false);
  std::vector<Group> groups;
  for (int i : by_first) {
    const Block& b = blocks[i];
    int s = options.allow_inplace ? b.inplace_source : kNoInplace;
    if (s != kNoInplace && s != i && !used_as_source[s] &&
        InplaceAllowed(b, blocks[s], aligned[i], aligned[s])) {
      used_as_source[s] = true;
      plan.inplace_source[i] = s;
      ++plan.inplace_count;
      Group& g = groups[group_of[s]];
      g.last = std::max(g.last, b.last_step);
      g.id = std::min(g.id, i);
      group_of[i] = group_of[s];
      continue;
    }
    group_of[i] = static_cast<int>(groups.size());
    groups.push_back({aligned[i], b.first_step, b.last_step, i, 0});
  }

  plan.lower_bound_bytes = SweepPressure(groups);

  std::vector<int> order(groups.size());
  std::iota(order.begin(), order.end(), 0);
  auto by_size = [&](int a, int b) {
    const Group &x = groups[a], &y = groups[b];
    return std::tie(y.bytes, x.id) < std::tie(x.bytes, y.id);
  };
  auto by_length = [&](int a, int b) {
    const Group &x = groups[a], &y = groups[b];
    int64_t lx = int64_t{x.last} - x.first, ly = int64_t{y.last} - y.first;
    return std::tie(ly, y.bytes, x.id) < std::tie(lx, x.bytes, y.id);
  };
  auto by_pressure = [&](int a, int b) {
    const Group &x = groups[a], &y = groups[b];
    return std::tie(y.pressure, y.bytes, x.id) < std::tie(x.pressure, x.bytes, y.id);
  };
  const std::vector<std::vector<int>> neighbours = LifetimeNeighbours(groups);
  std::vector<size_t> best_offsets, offsets;
  size_t best_arena = std::numeric_limits<size_t>::max();
  auto keep_best = [&] {
    size_t arena = Place(groups, neighbours, order, offsets);
    if (arena < best_arena) {
      best_arena = arena;
      best_offsets.swap(offsets);
    }
    return best_arena == plan.lower_bound_bytes;  // cannot do better
  };
  std::ranges::sort(order, by_size);
  bool done = keep_best();
  if (!done) {
    std::ranges::sort(order, by_length);
    done = keep_best();
  }
  if (!done) {
    std::ranges::sort(order, by_pressure);
    done = keep_best();
  }
  // Then perturbed size orders (sizes scaled by a seeded random factor in [0.75, 1.25]), which
  // often get closer to the bound.
  std::mt19937 rng(12345);
  std::uniform_real_distribution<double> jitter(0.75, 1.25);
  std::vector<double> key(groups.size());
  // Each round costs about the number of lifetime overlaps (plus a sort): bounded to about
  // kPerturbedWork steps in all.
  double per_round = static_cast<double>(groups.size());
  for (const std::vector<int>& n : neighbours) per_round += static_cast<double>(n.size());
  const int rounds =
      static_cast<int>(std::min<double>(kPerturbedRounds, kPerturbedWork / (per_round + 1)));
  for (int round = 0; round < rounds && !done; ++round) {
    for (size_t g = 0; g < groups.size(); ++g) {
      key[g] = static_cast<double>(groups[g].bytes) * jitter(rng);
    }
    std::ranges::sort(order,
                      [&](int a, int b) { return std::tie(key[b], a) < std::tie(key[a], b); });
    done = keep_best();
  }
  plan.arena_bytes = groups.empty() ? 0 : best_arena;
  plan.offsets.resize(n);
  for (size_t i = 0; i < n; ++i) {
    plan.offsets[i] = blocks[i].bytes == 0 ? 0 : best_offsets[group_of[i]];
  }
  return plan;
}

Status ValidatePlan(std::span<const Block> blocks, const MemoryPlan& plan) {
  const size_t n = blocks.size();
  if (plan.offsets.size() != n || plan.inplace_source.size() != n) {
    return Internal("memory plan: wrong number of offsets");
  }
  for (size_t i = 0; i < n; ++i) {
    if (plan.offsets[i] % kAlignment != 0) {
      return Internal("memory plan: block " + std::to_string(i) + " is misaligned");
    }
    if (plan.offsets[i] > plan.arena_bytes ||
        blocks[i].bytes > plan.arena_bytes - plan.offsets[i]) {
      return Internal("memory plan: block " + std::to_string(i) + " ends outside the arena");
    }
    int s = plan.inplace_source[i];
    if (s == kNoInplace) continue;
    size_t ai = 0, as = 0;
    if (s < 0 || static_cast<size_t>(s) >= n || !AlignUp(blocks[i].bytes, ai) ||
        !AlignUp(blocks[s].bytes, as) || !InplaceAllowed(blocks[i], blocks[s], ai, as) ||
        plan.offsets[i] != plan.offsets[s]) {
      return Internal("memory plan: invalid in-place link " + std::to_string(s) + " -> " +
                      std::to_string(i));
    }
  }
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = i + 1; j < n; ++j) {
      const Block &a = blocks[i], &b = blocks[j];
      if (a.bytes == 0 || b.bytes == 0) continue;
      if (!Overlap(a.first_step, a.last_step, b.first_step, b.last_step)) continue;
      size_t ao = plan.offsets[i], bo = plan.offsets[j];
      if (ao + a.bytes <= bo || bo + b.bytes <= ao) continue;
      bool linked = plan.inplace_source[j] == static_cast<int>(i) ||
                    plan.inplace_source[i] == static_cast<int>(j);
      if (!linked) {
        return Internal("memory plan: blocks " + std::to_string(i) + " and " + std::to_string(j) +
                        " are live together and overlap in memory");
      }
    }
  }
  return Status::Ok();
}

}  // namespace accel::memory
