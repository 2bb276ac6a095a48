// Matrix-vector products for a batch of one (the classifier Gemm of most CNNs): y = W x with W
// row-major [n, k], as PyTorch exports Linear layers (Gemm transB = 1). One pass streams W from
// memory with no packing; oneDNN's matmul took ~0.3 ms in-model for a 1280 x 1000 layer whose
// weights stream in ~0.12 ms.
#pragma once

#include <cstdint>

namespace accel::cpu {

// y[j] = dot(x, w + j * k) for j in [0, n). Rows are split across the OpenMP threads when W is
// large enough to pay for them.
void GemvRows(const float* x, const float* w, int64_t n, int64_t k, float* y);

}  // namespace accel::cpu
