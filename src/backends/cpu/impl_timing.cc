#include "backends/cpu/impl_timing.h"

#include <omp.h>

#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "backends/cpu/dnnl_context.h"

namespace accel::cpu {

namespace {

constexpr int kTimedRuns = 3;

// The best of kTimedRuns runs, in seconds.
double TimeOnce(const dnnl::primitive_desc& pd) {
  std::unordered_map<int, dnnl::memory> args;
  for (int arg : {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST}) {
    const dnnl::memory::desc md = pd.query_md(dnnl::query::exec_arg_md, arg);
    if (md.is_zero()) continue;
    dnnl::memory mem(md, CpuEngine());
    // Zeros: no denormals or NaNs to slow a candidate down.
    std::memset(mem.get_data_handle(), 0, md.get_size());
    args[arg] = mem;
  }
  dnnl::primitive p(pd);
  dnnl::stream& stream = ThreadStream();
  p.execute(stream, args);
  stream.wait();
  double best = 1e30;
  for (int i = 0; i < kTimedRuns; ++i) {
    const auto start = std::chrono::steady_clock::now();
    p.execute(stream, args);
    stream.wait();
    best = std::min(
        best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}

}  // namespace

size_t PickFastest(const std::string& key, std::span<const dnnl::primitive_desc> candidates) {
  if (candidates.size() < 2) return 0;
  static std::mutex mutex;
  static std::map<std::string, size_t> chosen;
  // The thread count changes which implementation wins.
  const std::string full_key = key + " threads=" + std::to_string(omp_get_max_threads());
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = chosen.find(full_key);
    if (it != chosen.end() && it->second < candidates.size()) return it->second;
  }
  size_t best = 0;
  double best_time = 1e30;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const double t = TimeOnce(candidates[i]);
    if (t < best_time) {
      best_time = t;
      best = i;
    }
  }
  std::lock_guard<std::mutex> lock(mutex);
  chosen[full_key] = best;
  return best;
}

}  // namespace accel::cpu
