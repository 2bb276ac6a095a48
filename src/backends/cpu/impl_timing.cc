#include "backends/cpu/impl_timing.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <optional>
#include <unordered_map>
#include <vector>

#include "backends/cpu/dnnl_context.h"
#include "memory/arena.h"
#include "memory/weight_cache.h"

namespace accel::cpu {

namespace {

constexpr int kTimedRuns = 2;
constexpr int kArgs[] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST};
constexpr size_t kArgAlign = 4096;

size_t AlignedSize(const dnnl::memory::desc& md) {
  return (md.get_size() + kArgAlign - 1) / kArgAlign * kArgAlign;
}

// Scratch for every candidate's arguments at once, reused across candidates. Large scratch is
// fresh huge-page memory (zero and cheap to fault in: page faults dominated the timing when each
// candidate had its own 4 KiB-page buffers); small scratch is zeroed here. Zeros keep denormals
// and NaNs from slowing a candidate down.
memory::Arena Scratch(std::span<const dnnl::primitive_desc> candidates) {
  size_t bytes = 0;
  for (const dnnl::primitive_desc& pd : candidates) {
    size_t need = 0;
    for (int arg : kArgs) need += AlignedSize(pd.query_md(dnnl::query::exec_arg_md, arg));
    bytes = std::max(bytes, need);
  }
  memory::Arena arena;
  if (arena.Reserve(bytes).ok() && !arena.huge_pages_advised()) {
    std::memset(arena.data(), 0, arena.capacity());
  }
  return arena;
}

// The best of kTimedRuns runs, in seconds, after a warm-up run when `warm_up` is set (the first
// candidate's faults in the shared scratch and oneDNN's own scratchpad; later candidates find
// them resident, and a slow first run of theirs is outvoted by the second); stops early once a
// run takes more than `give_up` seconds (another candidate is already clearly faster).
double TimeOnce(const dnnl::primitive_desc& pd, memory::Arena& scratch, double give_up,
                bool warm_up) {
  std::unordered_map<int, dnnl::memory> args;
  size_t offset = 0;
  for (int arg : kArgs) {
    const dnnl::memory::desc md = pd.query_md(dnnl::query::exec_arg_md, arg);
    if (md.is_zero()) continue;
    args[arg] = dnnl::memory(md, CpuEngine(), scratch.data() + offset);
    offset += AlignedSize(md);
  }
  dnnl::primitive p(pd);
  dnnl::stream& stream = ThreadStream();
  if (warm_up) {
    p.execute(stream, args);
    stream.wait();
  }
  double best = 1e30;
  for (int i = 0; i < kTimedRuns && (i == 0 || best <= give_up); ++i) {
    const auto start = std::chrono::steady_clock::now();
    p.execute(stream, args);
    stream.wait();
    best = std::min(
        best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}

// The thread count changes which implementation wins.
memory::Hash128 ChoiceKey(const std::string& key) {
  const std::string full_key = key + " threads=" + std::to_string(omp_get_max_threads());
  return memory::HashBytes(std::as_bytes(std::span(full_key)));
}

}  // namespace

std::optional<size_t> KnownFastest(const std::string& key,
                                   std::span<const dnnl::primitive_desc> candidates) {
  if (candidates.size() < 2) return 0;
  // Made earlier in this process, or by an earlier process through a weight cache file.
  if (std::optional<uint32_t> known = memory::FindImplChoice(ChoiceKey(key));
      known && *known < candidates.size()) {
    return *known;
  }
  return std::nullopt;
}

size_t PickFastest(const std::string& key, std::span<const dnnl::primitive_desc> candidates) {
  if (std::optional<size_t> known = KnownFastest(key, candidates)) return *known;
  const memory::Hash128 hash = ChoiceKey(key);
  memory::Arena scratch = Scratch(candidates);
  if (scratch.capacity() == 0) return 0;
  size_t best = 0;
  double best_time = 1e30;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const double t = TimeOnce(candidates[i], scratch, 1.5 * best_time, /*warm_up=*/i == 0);
    if (t < best_time) {
      best_time = t;
      best = i;
    }
  }
  memory::RecordImplChoice(hash, static_cast<uint32_t>(best));
  return best;
}

}  // namespace accel::cpu
