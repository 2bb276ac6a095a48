// The SiLU and residual passes that run after a convolution (backends/cpu/post_ops.h), against
// double-precision references.
#include "backends/cpu/post_ops.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

namespace accel::cpu {
namespace {

double Silu(double x) { return x / (1.0 + std::exp(-x)); }

TEST_CASE("SiluInPlace matches x * sigmoid(x) over the whole float range", "[post_ops]") {
  // Sizes off and on the 16-lane vectors and the 4096-element blocks; values from -120 to 120,
  // with the extremes where exp overflows or underflows.
  for (size_t n : {1u, 15u, 16u, 17u, 4096u, 4111u, 10000u}) {
    INFO("n " << n);
    std::vector<float> x(n), add(n);
    for (size_t i = 0; i < n; ++i) {
      x[i] =
          -120.0f + 240.0f * static_cast<float>(i) / static_cast<float>(std::max<size_t>(n - 1, 1));
      add[i] = 0.25f * static_cast<float>(i % 7) - 0.5f;
    }
    x[0] = -1e30f;
    if (n > 2) x[1] = 1e30f;
    for (bool with_add : {false, true}) {
      std::vector<float> y = x;
      SiluInPlace(y, with_add ? add.data() : nullptr);
      double worst = 0.0;
      for (size_t i = 0; i < n; ++i) {
        const double silu = Silu(x[i]);
        const double addend = with_add ? add[i] : 0.0;
        REQUIRE(std::isfinite(y[i]));
        // Relative to the terms' size, with a floor for results near zero: where exp(-x)
        // overflows float (x < -88) the input is clamped, and silu(-1e30) comes out as -5e-9.
        const double scale = std::max(std::fabs(silu) + std::fabs(addend), 1e-2);
        worst = std::max(worst, std::fabs(y[i] - (silu + addend)) / scale);
      }
      CHECK(worst < 1e-6);
    }
  }
}

TEST_CASE("AddInPlace adds element by element", "[post_ops]") {
  std::vector<float> y(5000), add(5000);
  for (size_t i = 0; i < y.size(); ++i) {
    y[i] = static_cast<float>(i);
    add[i] = 0.5f * static_cast<float>(i);
  }
  AddInPlace(y, add.data());
  for (size_t i = 0; i < y.size(); ++i) REQUIRE(y[i] == 1.5f * static_cast<float>(i));
}

}  // namespace
}  // namespace accel::cpu
