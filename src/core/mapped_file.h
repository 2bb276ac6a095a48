// A whole file mapped read-only into memory.
//
// Why: reading a model file copied every byte into fresh memory, and on these machines first
// touching fresh memory is most of the cost (resnet50: ~20 ms for 100 MB, several times that
// when the pages come cold from the hypervisor). A mapping shares the page cache's pages: no
// copy, no zero-fill. The mapping is read-only. A model file is only read while the model is
// loaded (the importer copies what it keeps), so it is unmapped right after; a weight-cache file
// stays mapped while its entries are in use (memory/weight_cache.h).
#pragma once

#include <cstddef>
#include <span>
#include <string>

#include "accel/status.h"

namespace accel::core {

class MappedFile {
 public:
  // Which pages are mapped at once: all of them (the caller reads the whole file), or none
  // (the caller touches a few parts; each page is faulted in when first read).
  enum class Populate { kAll, kNone };
  // Maps `path` (a regular file; errors name the path). An empty file maps to an empty span.
  static Result<MappedFile> Open(const std::string& path, Populate populate = Populate::kAll);

  MappedFile() = default;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  ~MappedFile();

  std::span<const std::byte> bytes() const { return {data_, size_}; }

 private:
  const std::byte* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace accel::core
