// The output comparison of `accel verify`: tolerances and the element-wise or relative-L2 check.
#pragma once

#include <optional>
#include <string>

#include "accel/status.h"
#include "accel/tensor.h"

namespace accel::cli {

struct Tolerance {
  double rtol = 1e-3;
  double atol = 1e-5;
  std::optional<double> rel_l2;  // when set, replaces the element-wise check
};

// Reads {"rtol": R, "atol": A, "rel_l2": L} (every key optional) over `base`.
Result<Tolerance> ParseToleranceJson(const std::string& text, Tolerance base);

// Empty when `got` matches `want` (same dtype and shape; values within tolerance, NaN matching
// NaN, bool and integer types exact); otherwise the reason, with the largest absolute error,
// its index and the two values.
std::string CompareTensors(const Tensor& got, const Tensor& want, const Tolerance& tol);

}  // namespace accel::cli
