// The memory a Session's planned tensors live in: one aligned allocation, kept between runs.
//
// Reserve(bytes) makes sure the arena holds at least `bytes`; it only reallocates when asked
// for more than it has (the old contents are dropped, plans place every tensor anew), so a
// Session that alternates between input shapes settles on the largest plan and then never
// allocates again. Small arenas (< kHugePageBytes) come from aligned_alloc with kAlignment;
// larger ones are mmap'ed (zero memory) at a 2 MiB boundary. Only an arena made with
// Pages::kHuge is marked madvise(MADV_HUGEPAGE): the activations a Session rereads every run,
// where fewer TLB misses pay off. Memory written once at load or prepare (model constants,
// packed weights, timing scratch) stays in 4 KiB pages: on a VM that returns free memory to its
// host (free page reporting), a fresh 2 MiB page can take 4x longer to fault in than the same
// bytes in 4 KiB pages (benchmarks/first_touch.py), and packed weights are streamed, not reread at
// random, so huge pages gained them no measurable speed. Prefault() maps every page in at once,
// so the first run pays no page faults; its cost moves to prepare time.
#pragma once

#include <cstddef>
#include <cstdint>

#include "accel/status.h"

namespace accel::memory {

inline constexpr size_t kHugePageBytes = size_t{2} << 20;

class Arena {
 public:
  enum class Pages { kSmall, kHuge };

  explicit Arena(Pages pages = Pages::kSmall) : pages_(pages) {}
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  Arena(Arena&& other) noexcept;
  Arena& operator=(Arena&& other) noexcept;
  ~Arena();

  // Grows to at least `bytes` (never shrinks). Fails with OutOfRange when memory is exhausted;
  // the arena is then empty.
  Status Reserve(size_t bytes);
  // Maps in the pages of the first `bytes` of the reserved memory (all of it by default), so
  // that writing them later takes no page faults.
  void Prefault(size_t bytes = SIZE_MAX);

  std::byte* data() { return data_; }
  size_t capacity() const { return capacity_; }
  // True when the memory was mmap'ed and advised for huge pages.
  bool huge_pages_advised() const { return mapped_ && advised_; }

 private:
  void Release();

  std::byte* data_ = nullptr;
  size_t capacity_ = 0;
  size_t mapped_bytes_ = 0;  // length of the mapping, 0 when from aligned_alloc
  Pages pages_ = Pages::kSmall;
  bool mapped_ = false;
  bool advised_ = false;
};

}  // namespace accel::memory
