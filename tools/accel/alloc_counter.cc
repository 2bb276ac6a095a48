#include "alloc_counter.h"

#include <dlfcn.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <new>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define ACCEL_CLI_COUNT_ALLOCATIONS 0
#else
#define ACCEL_CLI_COUNT_ALLOCATIONS 1
#endif

namespace accel::cli {
namespace {

std::atomic<bool> g_counting{false};
std::atomic<long> g_total{0};
std::atomic<long> g_runtime_libs{0};

[[maybe_unused]] void Count(void* caller) {
  if (!g_counting.load(std::memory_order_relaxed)) return;
  g_total.fetch_add(1, std::memory_order_relaxed);
  Dl_info info;
  if (dladdr(caller, &info) != 0 && info.dli_fname != nullptr &&
      (std::strstr(info.dli_fname, "libdnnl") || std::strstr(info.dli_fname, "libgomp"))) {
    g_runtime_libs.fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace

bool AllocCountingAvailable() { return ACCEL_CLI_COUNT_ALLOCATIONS != 0; }

void StartAllocCounting() {
  g_total = 0;
  g_runtime_libs = 0;
  g_counting = true;
}

AllocCounts StopAllocCounting() {
  g_counting = false;
  return {g_total.load(), g_runtime_libs.load()};
}

}  // namespace accel::cli

#if ACCEL_CLI_COUNT_ALLOCATIONS
// glibc's allocator under its internal names: the replacements below forward to it.
extern "C" {
void* __libc_malloc(size_t size);
void* __libc_calloc(size_t count, size_t size);
void* __libc_realloc(void* p, size_t size);
void* __libc_memalign(size_t alignment, size_t size);
void __libc_free(void* p);

void* malloc(size_t size) {
  accel::cli::Count(__builtin_return_address(0));
  return __libc_malloc(size);
}
void* calloc(size_t count, size_t size) {
  accel::cli::Count(__builtin_return_address(0));
  return __libc_calloc(count, size);
}
void* realloc(void* p, size_t size) {
  accel::cli::Count(__builtin_return_address(0));
  return __libc_realloc(p, size);
}
void* aligned_alloc(size_t alignment, size_t size) {
  accel::cli::Count(__builtin_return_address(0));
  return __libc_memalign(alignment, size);
}
void* memalign(size_t alignment, size_t size) {
  accel::cli::Count(__builtin_return_address(0));
  return __libc_memalign(alignment, size);
}
int posix_memalign(void** out, size_t alignment, size_t size) {
  accel::cli::Count(__builtin_return_address(0));
  void* p = __libc_memalign(alignment, size);
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}
void free(void* p) { __libc_free(p); }
}

namespace {
void* CountedNew(size_t size, size_t alignment, void* caller) {
  accel::cli::Count(caller);
  if (size == 0) size = 1;
  return alignment > alignof(std::max_align_t) ? __libc_memalign(alignment, size)
                                               : __libc_malloc(size);
}
void* CountedNewOrThrow(size_t size, size_t alignment, void* caller) {
  if (void* p = CountedNew(size, alignment, caller)) return p;
  throw std::bad_alloc();
}
}  // namespace

void* operator new(size_t n) { return CountedNewOrThrow(n, 0, __builtin_return_address(0)); }
void* operator new[](size_t n) { return CountedNewOrThrow(n, 0, __builtin_return_address(0)); }
void* operator new(size_t n, std::align_val_t a) {
  return CountedNewOrThrow(n, static_cast<size_t>(a), __builtin_return_address(0));
}
void* operator new[](size_t n, std::align_val_t a) {
  return CountedNewOrThrow(n, static_cast<size_t>(a), __builtin_return_address(0));
}
void* operator new(size_t n, const std::nothrow_t&) noexcept {
  return CountedNew(n, 0, __builtin_return_address(0));
}
void* operator new[](size_t n, const std::nothrow_t&) noexcept {
  return CountedNew(n, 0, __builtin_return_address(0));
}
void operator delete(void* p) noexcept { __libc_free(p); }
void operator delete[](void* p) noexcept { __libc_free(p); }
void operator delete(void* p, size_t) noexcept { __libc_free(p); }
void operator delete[](void* p, size_t) noexcept { __libc_free(p); }
void operator delete(void* p, std::align_val_t) noexcept { __libc_free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { __libc_free(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { __libc_free(p); }
void operator delete[](void* p, size_t, std::align_val_t) noexcept { __libc_free(p); }
#endif  // ACCEL_CLI_COUNT_ALLOCATIONS
