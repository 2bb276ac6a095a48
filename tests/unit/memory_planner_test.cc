#include "memory/memory_planner.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <random>
#include <vector>

#include "memory/arena.h"

namespace accel::memory {
namespace {

size_t Aligned(size_t bytes) { return (bytes + kAlignment - 1) / kAlignment * kAlignment; }

// Brute force, independent of the planner: the largest sum of aligned sizes live at one step.
size_t BruteForceLowerBound(const std::vector<Block>& blocks) {
  int max_step = 0;
  for (const Block& b : blocks) max_step = std::max(max_step, b.last_step);
  size_t peak = 0;
  for (int step = 0; step <= max_step; ++step) {
    size_t live = 0;
    for (const Block& b : blocks) {
      if (b.first_step <= step && step <= b.last_step) live += Aligned(b.bytes);
    }
    peak = std::max(peak, live);
  }
  return peak;
}

// Brute force overlap check, step by step: two live blocks may only share bytes when the plan
// links them in place (and then from the same offset).
bool NoLiveOverlap(const std::vector<Block>& blocks, const MemoryPlan& plan) {
  int max_step = 0;
  for (const Block& b : blocks) max_step = std::max(max_step, b.last_step);
  for (int step = 0; step <= max_step; ++step) {
    for (size_t i = 0; i < blocks.size(); ++i) {
      const Block& a = blocks[i];
      if (a.bytes == 0 || step < a.first_step || step > a.last_step) continue;
      if (plan.offsets[i] + a.bytes > plan.arena_bytes) return false;
      for (size_t j = i + 1; j < blocks.size(); ++j) {
        const Block& b = blocks[j];
        if (b.bytes == 0 || step < b.first_step || step > b.last_step) continue;
        size_t ao = plan.offsets[i], bo = plan.offsets[j];
        if (ao + a.bytes <= bo || bo + b.bytes <= ao) continue;
        bool linked = (plan.inplace_source[j] == static_cast<int>(i) ||
                       plan.inplace_source[i] == static_cast<int>(j)) &&
                      ao == bo;
        if (!linked) return false;
      }
    }
  }
  return true;
}

// Random blocks that look like a graph run: each step writes one tensor read by a few later
// steps; about half of them name their step's dying input as in-place source (elementwise).
std::vector<Block> RandomBlocks(std::mt19937& rng, int steps) {
  std::vector<Block> blocks;
  std::uniform_int_distribution<int> kind(0, 9);
  std::uniform_int_distribution<size_t> small(0, 300), large(1000, 200000);
  for (int step = 0; step < steps; ++step) {
    Block b;
    b.first_step = step;
    b.bytes = kind(rng) < 3 ? small(rng) : large(rng);
    b.last_step = step + std::uniform_int_distribution<int>(0, 6)(rng);
    if (kind(rng) < 5) {
      // A random earlier block that is still live here becomes the source and dies now.
      std::vector<int> live;
      for (size_t i = 0; i < blocks.size(); ++i) {
        if (blocks[i].first_step < step && blocks[i].last_step >= step) {
          live.push_back(static_cast<int>(i));
        }
      }
      if (!live.empty()) {
        int s = live[std::uniform_int_distribution<size_t>(0, live.size() - 1)(rng)];
        blocks[s].last_step = step;
        b.inplace_source = s;
        // Mostly the same size; sometimes another one, which the planner must refuse.
        if (kind(rng) < 8) b.bytes = blocks[s].bytes;
      }
    }
    blocks.push_back(b);
  }
  // Some blocks (graph inputs) live from step 0.
  for (Block& b : blocks) {
    if (kind(rng) == 0) b.first_step = 0;
  }
  return blocks;
}

TEST_CASE("Randomized plans never overlap live tensors and respect the lower bound", "[memory]") {
  std::mt19937 rng(1234);
  double worst_ratio = 1.0;
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<Block> blocks = RandomBlocks(rng, 1 + trial % 60);
    Result<MemoryPlan> with = PlanMemory(blocks, {.allow_inplace = true});
    Result<MemoryPlan> without = PlanMemory(blocks, {.allow_inplace = false});
    REQUIRE(with.ok());
    REQUIRE(without.ok());
    CHECK(ValidatePlan(blocks, *with).ok());
    CHECK(ValidatePlan(blocks, *without).ok());
    CHECK(NoLiveOverlap(blocks, *with));
    CHECK(NoLiveOverlap(blocks, *without));
    CHECK(without->inplace_count == 0);
    for (size_t i = 0; i < blocks.size(); ++i) {
      CHECK(with->offsets[i] % kAlignment == 0);
      CHECK(without->inplace_source[i] == kNoInplace);
    }
    // Without in-place, the planner's bound is the plain live-sum maximum.
    CHECK(without->lower_bound_bytes == BruteForceLowerBound(blocks));
    CHECK(without->arena_bytes >= without->lower_bound_bytes);
    CHECK(with->arena_bytes >= with->lower_bound_bytes);
    CHECK(with->lower_bound_bytes <= without->lower_bound_bytes);
    if (without->lower_bound_bytes > 0) {
      worst_ratio = std::max(worst_ratio, static_cast<double>(without->arena_bytes) /
                                              static_cast<double>(without->lower_bound_bytes));
    }
  }
  // Greedy placement is a heuristic; on these random sets it stays well within 1.5x.
  CHECK(worst_ratio < 1.5);
}

TEST_CASE("The validator rejects overlapping live blocks", "[memory]") {
  std::vector<Block> blocks = {{100, 0, 2}, {100, 1, 3}};
  MemoryPlan plan = *PlanMemory(blocks);
  CHECK(plan.offsets[0] != plan.offsets[1]);
  plan.offsets = {0, 0};
  CHECK(!ValidatePlan(blocks, plan).ok());
  CHECK(!NoLiveOverlap(blocks, plan));
  plan.offsets = {0, 32};  // misaligned
  CHECK(!ValidatePlan(blocks, plan).ok());
}

TEST_CASE("An elementwise chain runs in place in one buffer", "[memory]") {
  // conv -> relu -> add(x, 3.0) -> sigmoid: each output overwrites its dying input.
  std::vector<Block> blocks = {{4096, 0, 1}, {4096, 1, 2, 0}, {4096, 2, 3, 1}, {4096, 3, 4, 2}};
  MemoryPlan with = *PlanMemory(blocks);
  CHECK(with.inplace_count == 3);
  CHECK(with.arena_bytes == 4096);
  CHECK(with.lower_bound_bytes == 4096);
  CHECK(ValidatePlan(blocks, with).ok());
  MemoryPlan without = *PlanMemory(blocks, {.allow_inplace = false});
  CHECK(without.arena_bytes == 2 * 4096);
  CHECK(without.lower_bound_bytes == 2 * 4096);
}

TEST_CASE("In-place links that break the rules are dropped", "[memory]") {
  std::vector<Block> blocks = {{1000, 0, 3},     // 0: still read after step 1
                               {1000, 1, 2, 0},  // 1: source 0 does not die at step 1
                               {5000, 2, 3, 1},  // 2: another size than its source 1
                               {64, 3, 4, 3},    // 3: itself
                               {64, 4, 5, 3},    // 4: fine (3 dies at 4)
                               {64, 4, 5, 3}};   // 5: 3 already taken by 4
  MemoryPlan plan = *PlanMemory(blocks);
  CHECK(plan.inplace_source ==
        std::vector<int>{kNoInplace, kNoInplace, kNoInplace, kNoInplace, 3, kNoInplace});
  CHECK(ValidatePlan(blocks, plan).ok());
}

TEST_CASE("Planner reuses freed memory and aligns offsets", "[memory]") {
  // a [0,1], b [1,2], c [2,3]: a and c never meet, so c takes a's place.
  std::vector<Block> blocks = {{1, 0, 1}, {100, 1, 2}, {1, 2, 3}, {0, 0, 3}};
  MemoryPlan plan = *PlanMemory(blocks);
  CHECK(plan.arena_bytes == 64 + 128);
  CHECK(plan.lower_bound_bytes == 64 + 128);
  CHECK(plan.offsets[3] == 0);
  CHECK(ValidatePlan(blocks, plan).ok());
  CHECK(PlanMemory({}).value().arena_bytes == 0);
}

TEST_CASE("Planner rejects malformed blocks", "[memory]") {
  std::vector<Block> backwards = {{10, 3, 2}};
  CHECK(PlanMemory(backwards).status().code() == StatusCode::kInvalidArgument);
  std::vector<Block> bad_source = {{10, 0, 2, 7}};
  CHECK(PlanMemory(bad_source).status().code() == StatusCode::kInvalidArgument);
  std::vector<Block> huge = {{SIZE_MAX - 10, 0, 1}, {SIZE_MAX / 2, 0, 1}};
  CHECK(PlanMemory(huge).status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("Arena is aligned, grows on demand and keeps its memory", "[memory]") {
  Arena arena;
  REQUIRE(arena.Reserve(100).ok());
  CHECK(arena.capacity() >= 100);
  CHECK(reinterpret_cast<uintptr_t>(arena.data()) % kAlignment == 0);
  std::byte* small = arena.data();
  REQUIRE(arena.Reserve(50).ok());
  CHECK(arena.data() == small);

  REQUIRE(arena.Reserve(5 << 20).ok());
  CHECK(arena.capacity() >= (5u << 20));
  CHECK(reinterpret_cast<uintptr_t>(arena.data()) % kHugePageBytes == 0);
  arena.Prefault();
  std::fill_n(arena.data(), arena.capacity(), std::byte{7});
  std::byte* big = arena.data();
  REQUIRE(arena.Reserve(3 << 20).ok());
  CHECK(arena.data() == big);
  CHECK(arena.data()[arena.capacity() - 1] == std::byte{7});

  Arena moved = std::move(arena);
  CHECK(moved.data() == big);
  CHECK(arena.capacity() == 0);
  CHECK(arena.Reserve(SIZE_MAX - 5).code() == StatusCode::kOutOfRange);
}

TEST_CASE("Only an arena made for huge pages asks for them", "[memory]") {
  Arena plain;
  REQUIRE(plain.Reserve(5 << 20).ok());
  CHECK_FALSE(plain.huge_pages_advised());

  Arena huge(Arena::Pages::kHuge);
  REQUIRE(huge.Reserve(5 << 20).ok());
  CHECK(reinterpret_cast<uintptr_t>(huge.data()) % kHugePageBytes == 0);
  // madvise(MADV_HUGEPAGE) only fails on kernels built without transparent huge pages.
  if (std::filesystem::exists("/sys/kernel/mm/transparent_hugepage")) {
    CHECK(huge.huge_pages_advised());
  }
  Arena moved = std::move(huge);
  REQUIRE(moved.Reserve(9 << 20).ok());  // a regrown arena keeps its kind
  if (std::filesystem::exists("/sys/kernel/mm/transparent_hugepage")) {
    CHECK(moved.huge_pages_advised());
  }
}

}  // namespace
}  // namespace accel::memory
