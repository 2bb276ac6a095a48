#include "backends/cpu/impl_timing.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <unordered_map>
#include <vector>

#include "backends/cpu/dnnl_context.h"
#include "memory/arena.h"
#include "memory/weight_cache.h"

namespace accel::cpu {

namespace {

// Candidates within this factor of the fastest first run are timed a second time.
constexpr double kRunAgain = 1.2;
constexpr int kArgs[] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST};
constexpr size_t kArgAlign = 4096;

size_t AlignedSize(const dnnl::memory::desc& md) {
  return (md.get_size() + kArgAlign - 1) / kArgAlign * kArgAlign;
}

// Scratch for every candidate's arguments at once, reused across candidates: one fresh mapping
// (zero memory; page faults dominated the timing when each candidate had its own buffers).
// Zeros keep denormals and NaNs from slowing a candidate down.
memory::Arena Scratch(std::span<const dnnl::primitive_desc> candidates) {
  size_t bytes = 0;
  for (const dnnl::primitive_desc& pd : candidates) {
    size_t need = 0;
    for (int arg : kArgs) need += AlignedSize(pd.query_md(dnnl::query::exec_arg_md, arg));
    bytes = std::max(bytes, need);
  }
  memory::Arena arena;
  // At least kHugePageBytes, so that even small scratch is mapped (zero) memory rather than
  // aligned_alloc's. A failure leaves the arena empty.
  (void)arena.Reserve(std::max(bytes, memory::kHugePageBytes));
  return arena;
}

// One candidate, ready to run on the shared scratch.
class Trial {
 public:
  Trial(const dnnl::primitive_desc& pd, memory::Arena& scratch) : primitive_(pd) {
    size_t offset = 0;
    for (int arg : kArgs) {
      const dnnl::memory::desc md = pd.query_md(dnnl::query::exec_arg_md, arg);
      if (md.is_zero()) continue;
      args_[arg] = dnnl::memory(md, CpuEngine(), scratch.data() + offset);
      offset += AlignedSize(md);
    }
    // The candidates are made WithOwnScratchpad (ConvPrimitiveDesc).
    const dnnl::memory::desc pad = pd.scratchpad_desc();
    args_[DNNL_ARG_SCRATCHPAD] = dnnl::memory(pad, CpuEngine(), ThreadScratch(pad.get_size()));
  }

  // One run; its time in seconds.
  double Run() {
    dnnl::stream& stream = ThreadStream();
    const auto start = std::chrono::steady_clock::now();
    primitive_.execute(stream, args_);
    stream.wait();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }

  double best = 1e30;

 private:
  dnnl::primitive primitive_;
  std::unordered_map<int, dnnl::memory> args_;
};

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
  // One size for all, so that no candidate's scratchpad moves while the others are made.
  size_t pad = 0;
  for (const dnnl::primitive_desc& pd : candidates) {
    pad = std::max(pad, pd.scratchpad_desc().get_size());
  }
  (void)ThreadScratch(pad);
  std::vector<Trial> trials;
  for (const dnnl::primitive_desc& pd : candidates) trials.emplace_back(pd, scratch);
  // Untimed: the first run of all faults in the shared scratch and oneDNN's scratchpad.
  trials[0].Run();
  for (Trial& t : trials) t.best = t.Run();
  // One run apiece settles a clear case (no other candidate within kRunAgain of the fastest);
  // otherwise the close ones run again, and the better of their two runs counts.
  const double fastest = std::ranges::min_element(trials, {}, &Trial::best)->best;
  auto close = [&](const Trial& t) { return t.best < kRunAgain * fastest; };
  if (std::ranges::count_if(trials, close) > 1) {
    for (Trial& t : trials) {
      if (close(t)) t.best = std::min(t.best, t.Run());
    }
  }
  const size_t best = std::ranges::min_element(trials, {}, &Trial::best) - trials.begin();
  memory::RecordImplChoice(hash, static_cast<uint32_t>(best));
  return best;
}

}  // namespace accel::cpu
