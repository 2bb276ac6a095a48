#include "memory/arena.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>
#include <utility>

#include "memory/memory_planner.h"

namespace accel::memory {

Arena::Arena(Arena&& other) noexcept { *this = std::move(other); }

Arena& Arena::operator=(Arena&& other) noexcept {
  if (this != &other) {
    Release();
    data_ = std::exchange(other.data_, nullptr);
    capacity_ = std::exchange(other.capacity_, 0);
    mapped_bytes_ = std::exchange(other.mapped_bytes_, 0);
    pages_ = other.pages_;
    mapped_ = std::exchange(other.mapped_, false);
    advised_ = std::exchange(other.advised_, false);
  }
  return *this;
}

Arena::~Arena() { Release(); }

void Arena::Release() {
  if (mapped_) {
    munmap(data_, mapped_bytes_);
  } else {
    std::free(data_);
  }
  data_ = nullptr;
  capacity_ = mapped_bytes_ = 0;
  mapped_ = advised_ = false;
}

Status Arena::Reserve(size_t bytes) {
  if (bytes <= capacity_) return Status::Ok();
  Release();
  if (bytes > std::numeric_limits<size_t>::max() / 2) {
    return OutOfRange("arena of " + std::to_string(bytes) + " bytes is too large");
  }
  if (bytes < kHugePageBytes) {
    size_t size = 0;
    AlignUp(bytes, size);
    data_ = static_cast<std::byte*>(std::aligned_alloc(kAlignment, size));
    if (data_ == nullptr)
      return OutOfRange("out of memory for a " + std::to_string(size) + " B arena");
    capacity_ = size;
    return Status::Ok();
  }
  // Over-map by one huge page and trim, so the usable start is 2 MiB aligned.
  const size_t size = (bytes + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
  const size_t span = size + kHugePageBytes;
  void* raw = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) {
    return OutOfRange("out of memory for a " + std::to_string(size) + " B arena");
  }
  auto base = reinterpret_cast<uintptr_t>(raw);
  uintptr_t start = (base + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
  if (start > base) munmap(raw, start - base);
  uintptr_t tail = base + span - (start + size);
  if (tail > 0) munmap(reinterpret_cast<void*>(start + size), tail);
  data_ = reinterpret_cast<std::byte*>(start);
  capacity_ = mapped_bytes_ = size;
  mapped_ = true;
#ifdef MADV_HUGEPAGE
  // Fails harmlessly where THP is off or unsupported; the memory is then plain 4 KiB pages.
  if (pages_ == Pages::kHuge) advised_ = madvise(data_, size, MADV_HUGEPAGE) == 0;
#endif
  return Status::Ok();
}

void Arena::Prefault(size_t bytes) {
  constexpr size_t kPage = 4096;
  bytes = std::min(bytes, capacity_);
#ifdef MADV_POPULATE_WRITE
  // One call maps every page: 15-25% cheaper than a fault per page (benchmarks/first_touch.py).
  // Kernels before 5.14 refuse it, and the loop below does the same work.
  if (mapped_ && madvise(data_, (bytes + kPage - 1) / kPage * kPage, MADV_POPULATE_WRITE) == 0) {
    return;
  }
#endif
  volatile std::byte* p = data_;
  for (size_t i = 0; i < bytes; i += kPage) p[i] = std::byte{0};
}

}  // namespace accel::memory
