// How a reduction walks its input: adjacent dims merged into runs that are all reduced or all
// kept, so every innermost loop is contiguous. Shared by the Reduce* ops and
// MeanVarianceNormalization.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "accel/status.h"
#include "accel/tensor.h"
#include "backends/cpu/elementwise_util.h"

namespace accel::cpu {

struct ReduceRun {
  int64_t size;
  bool reduced;
};

struct ReducePlan {
  std::vector<ReduceRun> runs;       // outermost first, never empty
  std::vector<int64_t> out_strides;  // per run: output stride (0 for reduced runs)
  int64_t out_count = 1;             // number of outputs
};

// Per-axis flags; empty `axes` means every axis. Fails on an out-of-range or repeated axis.
Result<std::vector<bool>> ReducedAxes(std::span<const int64_t> axes, int64_t rank);
// The output dims: reduced axes dropped, or kept as 1 with keepdims.
Shape ReducedShape(std::span<const int64_t> dims, const std::vector<bool>& reduced, bool keepdims);
ReducePlan MakeReducePlan(std::span<const int64_t> dims, const std::vector<bool>& reduced);

// Calls fn(in_offset, out_offset, n, inner_reduced) for every contiguous input row. With
// inner_reduced the row folds into output out_offset; otherwise element i of the row belongs
// to output out_offset + i. Rows run in parallel when the outermost run is kept, because
// such rows never share an output.
template <typename Fn>
void ForEachReduceRow(const ReducePlan& plan, Fn&& fn) {
  const std::vector<ReduceRun>& runs = plan.runs;
  const size_t m = runs.size();
  const int64_t inner = runs.back().size;
  const bool inner_reduced = runs.back().reduced;
  int64_t rows = 1;
  for (size_t d = 0; d + 1 < m; ++d) rows *= runs[d].size;
  if (rows == 0 || inner == 0) return;
  const int64_t lead = m > 1 && !runs[0].reduced ? runs[0].size : 1;
  const int64_t rows_per_lead = rows / lead;
  const bool parallel = lead > 1 && rows * inner >= kParallelMinElements;
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t l = 0; l < lead; ++l) {
    for (int64_t r = l * rows_per_lead; r < (l + 1) * rows_per_lead; ++r) {
      int64_t idx = r;
      int64_t out_off = 0;
      for (size_t d = m - 1; d-- > 0;) {
        out_off += (idx % runs[d].size) * plan.out_strides[d];
        idx /= runs[d].size;
      }
      fn(r * inner, out_off, inner, inner_reduced);
    }
  }
}

}  // namespace accel::cpu
