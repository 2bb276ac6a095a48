// GCC vector types of kLanes floats, for kernels written once and compiled per ISA through
// [[gnu::target]] clones (16 lanes = one AVX-512 register, 8 = AVX2, 4 = SSE).
#pragma once

namespace accel::cpu {

// (An alias template would drop the vector_size attribute, so one specialization per width.)
template <int kLanes>
struct VecOf;
template <>
struct VecOf<16> {
  typedef float type __attribute__((vector_size(64)));
};
template <>
struct VecOf<8> {
  typedef float type __attribute__((vector_size(32)));
};
template <>
struct VecOf<4> {
  typedef float type __attribute__((vector_size(16)));
};

}  // namespace accel::cpu
