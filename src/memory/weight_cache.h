// Weight cache: packed weights shared across Sessions, Models and processes.
//
// Two layers, both process-wide and keyed by content, never by name or address:
//
// 1. Shared constants. At load, every constant of a Model (initializers and folded constants)
//    is interned by a 128-bit hash of its bytes plus its dtype: a second Model loaded from the
//    same file takes the first one's tensors (after a byte-for-byte comparison) and drops its
//    own copies. Each Model holds a lease on its constants; an interned tensor leaves the store
//    when the last leasing Model is destroyed.
//
// 2. Packed weights. A oneDNN primitive wants constant weights in its own layout; the kernels'
//    PackedWeights (backends/cpu/dnnl_util.h) asks GetPackedWeights for them. The key is
//    (hash of the source bytes, hash of the source and packed memory descriptors' fields and
//    of the effective CPU ISA). Values are refcounted buffers held by the kernels; the cache
//    only keeps weak references, so an entry dies with the last kernel that uses it. Two
//    Sessions or two Models with the same weights therefore pack them once and share the bytes.
//
// File-backed cache (LoadOptions::weight_cache_path). The Model maps the file read-only at load
// when it is valid and registers its entries; a lookup that hits a file entry verifies the
// entry's checksum once and then runs oneDNN straight on the mapped pages (shared with every
// other process mapping the same file; a hit costs no packing and no private memory).
//
// When the file is written: packing happens when a Session prepares for input shapes (its
// warm-up run; primitives need concrete shapes) or at a run with new shapes, so the file is
// written at the end of a prepare or run that packed something the file lacks (normally the
// first prepare; later only if new shapes make oneDNN choose new layouts). The check after each
// run is one atomic load when nothing new was packed anywhere in the process.
// The file holds every packed weight of the Model alive at that moment plus the still valid
// entries of the file it replaces. Writing goes to a unique temporary file in the same
// directory, renamed over the target: readers and concurrent writers (two processes starting
// at once) only ever see complete files; the last rename wins, and both files are valid.
// Write errors do not fail the run; they are reported in CacheFileStatus.
//
// File format, version 3 (native byte order, every integer little-endian on x86-64):
//   header, 128 bytes:
//     char magic[8] = "ACCELWC\0"; u32 version = 3; u32 header_bytes = 128;
//     u64 isa (dnnl::cpu_isa); u64 onednn_version (major << 32 | minor << 16 | patch);
//     u64 model_fingerprint[2] (hash of the Model's constant hashes, in graph order);
//     u64 entry_count; u64 table_offset (= 128); u64 file_bytes;
//     u64 table_checksum[2] (hash of the entry table);
//     u64 choice_offset, choice_count, choice_checksum (low half of the choice table's hash);
//     u64 header_checksum[2] (hash of the 112 bytes before it)
//   entry table, entry_count x 64 bytes:
//     u64 source_hash[2]; u64 format_hash[2]; u64 offset; u64 bytes; u64 checksum[2]
//   data: each entry's packed bytes at a 4096-aligned offset inside the file.
//   choice table, choice_count x 24 bytes, 8-aligned after the data (FindImplChoice):
//     u64 key[2]; u64 choice
// A file is rejected as a whole (and rebuilt after the next run) when it is truncated (size
// differs from file_bytes), has a wrong magic, version, ISA or oneDNN version, a header or
// table checksum mismatch, an entry outside the file, or another model's fingerprint (stale or
// foreign). An entry whose data checksum fails is dropped on first use and packed again; the
// file is then rewritten without it. Never rewrite the file in place while a process maps it
// (truncating a mapped file makes readers fault); libaccel itself only ever renames over it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <dnnl.hpp>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/graph.h"
#include "memory/hash.h"

namespace accel::memory {

// Packed weights handed to a kernel: `memory` is only valid while `owner` is alive.
struct PackedWeightsRef {
  dnnl::memory memory;
  std::shared_ptr<const void> owner;
};

// `data` (laid out as `user`, a model constant) reordered into `want`, from the cache when
// an equal entry exists, else packed now and registered. oneDNN errors propagate as
// dnnl::error (the executor turns exceptions into statuses).
PackedWeightsRef GetPackedWeights(const dnnl::memory::desc& user, const void* data,
                                  const dnnl::memory::desc& want);

// Implementation choices made by timing candidates (backends/cpu/impl_timing.h), keyed by a hash
// of everything the choice depends on (op, shapes, thread count). Process-wide; a cache file
// stores those known when it is written and registers them again when it is mapped, so a later
// process skips the timing. A choice made in this process is never replaced by a file's.
std::optional<uint32_t> FindImplChoice(const Hash128& key);
void RecordImplChoice(const Hash128& key, uint32_t choice);
// Tests only: forgets every choice, as a new process would start.
void ForgetImplChoicesForTesting();

// Counters since process start (live_* are current values); for tests and tools.
struct WeightCacheStats {
  uint64_t lookups = 0;            // GetPackedWeights calls
  uint64_t hits = 0;               // served by a live entry (in memory or from a file)
  uint64_t file_hits = 0;          // of which served from a mapped cache file
  uint64_t packs = 0;              // reorders actually run
  uint64_t packed_bytes = 0;       // bytes produced by those reorders
  uint64_t checksum_failures = 0;  // file entries dropped because their data was corrupt
  uint64_t file_writes = 0;        // cache files written
  uint64_t choices_timed = 0;      // implementation choices made by timing (RecordImplChoice)
  uint64_t choices_from_file = 0;  // choices registered from mapped cache files
  size_t live_entries = 0;         // packed buffers currently alive
  size_t live_owned_bytes = 0;     // of which in private memory (not file-mapped)
  size_t shared_constants = 0;     // interned constant tensors
  size_t shared_constant_bytes = 0;
};
WeightCacheStats GetWeightCacheStats();

enum class CacheFileState {
  kNone,      // no weight_cache_path
  kMissing,   // no file yet (or unreadable): it is written after the first run
  kLoaded,    // valid: its entries are used
  kRejected,  // invalid (see detail): ignored and rebuilt after the next run
};

struct CacheFileStatus {
  CacheFileState state = CacheFileState::kNone;
  std::string detail;       // why a file was rejected or unreadable
  size_t file_entries = 0;  // entries of the loaded file
  uint64_t writes = 0;      // files this Model wrote
  std::string write_error;  // last write failure, empty if none
};

// Identifies packed bytes: the source bytes' hash and the hash of both layouts and the ISA.
struct PackedKey {
  Hash128 source;
  Hash128 format;
  friend bool operator==(const PackedKey&, const PackedKey&) = default;
};

class CacheFile;
struct PackedBuffer;

// A Model's hold on the shared weights: leases on its interned constants and, with a cache
// path, the mapped cache file. Thread-safe; shared by the Model's copies and Sessions.
class ModelWeights {
 public:
  // Interns the graph's constants (replacing them with shared tensors) and opens the cache
  // file when `cache_path` is not empty. Never fails: a bad file is only reported in status.
  static std::shared_ptr<ModelWeights> Share(core::Graph& graph, const std::string& cache_path);
  ~ModelWeights();
  ModelWeights(const ModelWeights&) = delete;
  ModelWeights& operator=(const ModelWeights&) = delete;

  // Called after each successful run and prepare: writes the cache file when this Model's packed
  // weights are not all in it. Cheap when nothing was packed since the last call.
  void AfterRun();

  CacheFileStatus file_status() const;
  // Bytes of the Model's constants as stored, and of the packed weights alive for them (shared
  // with any Model of the same weights; 0 until a run or prepare packs them).
  size_t stored_bytes() const { return stored_bytes_; }
  size_t packed_bytes() const;
  // Hash of the Model's constant hashes; identifies the weights a cache file was built for.
  Hash128 fingerprint() const { return fingerprint_; }

 private:
  ModelWeights() = default;
  // Maps the file at path_ and registers its entries; returns why it is unusable, or "".
  std::string MapFile();
  void WriteFile(bool force);

  struct Lease {
    Hash128 hash;
    int dtype;
  };
  std::vector<Lease> leases_;
  std::vector<Hash128> sources_;  // content hashes of all constants (sorted, unique)
  Hash128 fingerprint_;
  size_t stored_bytes_ = 0;
  std::string path_;

  mutable std::mutex mu_;  // guards the members below
  std::atomic<uint64_t> synced_generation_{~uint64_t{0}};
  std::atomic<uint64_t> seen_corruptions_{0};  // process-wide count at the last write check
  std::shared_ptr<CacheFile> file_;
  std::vector<std::shared_ptr<PackedBuffer>> file_entries_;  // all entries of file_
  std::vector<PackedKey> persisted_;                         // keys in the file on disk, sorted
  std::vector<Hash128> persisted_choices_;                   // choice keys in the file, sorted
  CacheFileStatus status_;
};

}  // namespace accel::memory
