// A vector that keeps up to N elements inline and only spills to the heap beyond that.
//
// Kernels build small per-run index structures (merged dims, strides, odometers) whose size is a
// tensor rank. Ranks above 8 are legal in ONNX but rare, so an inline capacity of 8 keeps steady
// runs free of heap allocations while any rank still works.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace accel::cpu {

template <typename T, size_t N>
class SmallVector {
 public:
  SmallVector() = default;
  explicit SmallVector(size_t n, const T& value = T{}) { assign(n, value); }
  SmallVector(std::span<const T> values) {  // NOLINT: implicit, like a vector from a range
    for (const T& v : values) push_back(v);
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T* data() { return spilled_ ? heap_.data() : inline_.data(); }
  const T* data() const { return spilled_ ? heap_.data() : inline_.data(); }
  T* begin() { return data(); }
  T* end() { return data() + size_; }
  const T* begin() const { return data(); }
  const T* end() const { return data() + size_; }
  T& operator[](size_t i) { return data()[i]; }
  const T& operator[](size_t i) const { return data()[i]; }
  T& back() { return data()[size_ - 1]; }
  const T& back() const { return data()[size_ - 1]; }
  operator std::span<const T>() const { return {data(), size_}; }  // NOLINT: like a vector

  friend bool operator==(const SmallVector& a, const SmallVector& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
  }
  friend bool operator==(const SmallVector& a, const std::vector<T>& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
  }

  void clear() {
    heap_.clear();
    spilled_ = false;
    size_ = 0;
  }
  void assign(size_t n, const T& value) {
    clear();
    for (size_t i = 0; i < n; ++i) push_back(value);
  }
  void push_back(const T& value) {
    if (!spilled_ && size_ < N) {
      inline_[size_++] = value;
      return;
    }
    if (!spilled_) {
      heap_.assign(inline_.begin(), inline_.begin() + size_);
      spilled_ = true;
    }
    heap_.push_back(value);
    ++size_;
  }
  void pop_back() {
    if (spilled_) heap_.pop_back();
    --size_;
  }

 private:
  std::array<T, N> inline_{};
  std::vector<T> heap_;  // all elements once spilled
  size_t size_ = 0;
  bool spilled_ = false;
};

// Per-run index vectors of kernels: inline up to rank 8.
inline constexpr size_t kInlineRank = 8;
using DimVector = SmallVector<int64_t, kInlineRank>;

}  // namespace accel::cpu
