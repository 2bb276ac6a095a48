#include "core/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <utility>

namespace accel::core {

namespace {

Status CheckRegularFile(const std::string& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) return NotFound(path + ": no such file");
  if (std::filesystem::is_directory(status)) return IoError(path + ": is a directory");
  // Opening a FIFO or device could block forever or never end.
  if (!std::filesystem::is_regular_file(status)) return IoError(path + ": not a regular file");
  return Status::Ok();
}

}  // namespace

Result<MappedFile> MappedFile::Open(const std::string& path, Populate populate) {
  ACCEL_RETURN_IF_ERROR(CheckRegularFile(path));
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError(path + ": cannot open for reading");
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    close(fd);
    return IoError(path + ": cannot determine the file size");
  }
  MappedFile file;
  if (st.st_size > 0) {
    const size_t size = static_cast<size_t>(st.st_size);
    // MAP_POPULATE maps every page in one call: when the caller reads all of them, one fault
    // per page costs more than the whole copy it replaces.
    const int flags = MAP_PRIVATE | (populate == Populate::kAll ? MAP_POPULATE : 0);
    void* p = mmap(nullptr, size, PROT_READ, flags, fd, 0);
    if (p == MAP_FAILED) {
      close(fd);
      return IoError(path + ": cannot map the file");
    }
    file.data_ = static_cast<const std::byte*>(p);
    file.size_ = size;
  }
  close(fd);
  return file;
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    if (data_) munmap(const_cast<std::byte*>(data_), size_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

MappedFile::~MappedFile() {
  if (data_) munmap(const_cast<std::byte*>(data_), size_);
}

}  // namespace accel::core
