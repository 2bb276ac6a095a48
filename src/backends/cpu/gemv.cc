#include "backends/cpu/gemv.h"

#include <omp.h>

#include <cstring>

#include "backends/cpu/vec.h"

namespace accel::cpu {

namespace {

// Four independent accumulators hide the FMA latency; the row is read once, front to back, so
// the hardware prefetcher streams it.
template <int kLanes>
[[gnu::always_inline]] inline float Dot(const float* x, const float* row, int64_t k) {
  using V = typename VecOf<kLanes>::type;
  constexpr int64_t kStep = 4 * kLanes;
  V acc[4] = {};
  int64_t p = 0;
  for (; p + kStep <= k; p += kStep) {
    for (int u = 0; u < 4; ++u) {
      V a, w;
      std::memcpy(&a, x + p + u * kLanes, sizeof(V));
      std::memcpy(&w, row + p + u * kLanes, sizeof(V));
      acc[u] += a * w;
    }
  }
  const V sum = (acc[0] + acc[1]) + (acc[2] + acc[3]);
  float s = 0.0f;
  for (int i = 0; i < kLanes; ++i) s += sum[i];
  for (; p < k; ++p) s += x[p] * row[p];
  return s;
}

template <int kLanes>
[[gnu::always_inline]] inline void Rows(const float* x, const float* w, int64_t begin, int64_t end,
                                        int64_t k, float* y) {
  for (int64_t j = begin; j < end; ++j) y[j] = Dot<kLanes>(x, w + j * k, k);
}

using RowsFn = void (*)(const float*, const float*, int64_t, int64_t, int64_t, float*);

[[gnu::target("avx512f")]] void RowsAvx512(const float* x, const float* w, int64_t begin,
                                           int64_t end, int64_t k, float* y) {
  Rows<16>(x, w, begin, end, k, y);
}
[[gnu::target("avx2,fma")]] void RowsAvx2(const float* x, const float* w, int64_t begin,
                                          int64_t end, int64_t k, float* y) {
  Rows<8>(x, w, begin, end, k, y);
}
void RowsBaseline(const float* x, const float* w, int64_t begin, int64_t end, int64_t k, float* y) {
  Rows<4>(x, w, begin, end, k, y);
}

RowsFn PickRows() {
  if (__builtin_cpu_supports("avx512f")) return &RowsAvx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return &RowsAvx2;
  return &RowsBaseline;
}

// Below this many weights one thread streams them faster than a team can be woken.
constexpr int64_t kParallelMinWeights = int64_t{1} << 16;

}  // namespace

void GemvRows(const float* x, const float* w, int64_t n, int64_t k, float* y) {
  static const RowsFn rows = PickRows();
  const int threads = omp_get_max_threads();
  if (threads == 1 || n < 2 || n * k < kParallelMinWeights) {
    rows(x, w, 0, n, k, y);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    rows(x, w, n * t / nt, n * (t + 1) / nt, k, y);
  }
}

}  // namespace accel::cpu
