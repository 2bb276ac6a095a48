// A 128-bit content hash for the weight cache (keys of shared constants and packed weights,
// checksums of cache-file entries).
//
// Non-cryptographic and not resistant to crafted collisions; a byte-for-byte comparison backs
// it wherever two tensors are merged. Speed matters because a model's whole weights are hashed
// at every load, and a warm load (packed weights from the cache file) hashes them twice more
// than it computes: eight 64-bit lanes consume 64-byte stripes with one 32x32->64 multiply each
// (one AVX-512 instruction per stripe), so hashing runs at memory speed instead of ~8 GB/s.
// Every ISA computes the same value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace accel::memory {

struct Hash128 {
  uint64_t lo = 0;
  uint64_t hi = 0;
  friend bool operator==(const Hash128&, const Hash128&) = default;
};

// Depends on every byte, their order, the length and the seed.
Hash128 HashBytes(std::span<const std::byte> bytes, uint64_t seed = 0);
// The same value computed without vector instructions, for tests of the per-ISA versions.
Hash128 HashBytesBaseline(std::span<const std::byte> bytes, uint64_t seed = 0);

}  // namespace accel::memory
