// The memory a Session's planned tensors live in: one aligned allocation, kept between runs.
//
// Reserve(bytes) makes sure the arena holds at least `bytes`; it only reallocates when asked
// for more than it has (the old contents are dropped, plans place every tensor anew), so a
// Session that alternates between input shapes settles on the largest plan and then never
// allocates again. Small arenas (< kHugePageBytes) come from aligned_alloc with kAlignment;
// larger ones are mmap'ed at a 2 MiB boundary and marked madvise(MADV_HUGEPAGE), so with
// transparent huge pages set to "madvise" or "always" the kernel backs them with 2 MiB pages
// (one fault per 2 MiB instead of 512). Prefault() touches every page once, so the first run
// pays no page faults; its cost moves to prepare time.
#pragma once

#include <cstddef>

#include "accel/status.h"

namespace accel::memory {

inline constexpr size_t kHugePageBytes = size_t{2} << 20;

class Arena {
 public:
  Arena() = default;
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  Arena(Arena&& other) noexcept;
  Arena& operator=(Arena&& other) noexcept;
  ~Arena();

  // Grows to at least `bytes` (never shrinks). Fails with OutOfRange when memory is exhausted;
  // the arena is then empty.
  Status Reserve(size_t bytes);
  // Writes one byte per 4 KiB page of the reserved memory.
  void Prefault();

  std::byte* data() { return data_; }
  size_t capacity() const { return capacity_; }
  // True when the memory was mmap'ed and advised for huge pages.
  bool huge_pages_advised() const { return mapped_ && advised_; }

 private:
  void Release();

  std::byte* data_ = nullptr;
  size_t capacity_ = 0;
  size_t mapped_bytes_ = 0;  // length of the mapping, 0 when from aligned_alloc
  bool mapped_ = false;
  bool advised_ = false;
};

}  // namespace accel::memory
