#include "memory/weight_cache.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "backends/cpu/blocked_weights.h"
#include "backends/cpu/dnnl_context.h"
#include "backends/cpu/winograd_weights.h"
#include "core/mapped_file.h"
#include "memory/arena.h"

namespace accel::memory {

// ---------------------------------------------------------------------------------------------
// Process-wide state

namespace {

constexpr size_t kPage = 4096;

using Key = PackedKey;

struct KeyHasher {
  size_t operator()(const Key& k) const { return k.source.lo ^ std::rotl(k.format.lo, 21); }
};

struct Hash128Less {
  bool operator()(const Hash128& x, const Hash128& y) const {
    return std::tie(x.lo, x.hi) < std::tie(y.lo, y.hi);
  }
};

bool KeyLess(const Key& x, const Key& y) {
  return std::tie(x.source.lo, x.source.hi, x.format.lo, x.format.hi) <
         std::tie(y.source.lo, y.source.hi, y.format.lo, y.format.hi);
}

size_t RoundUp(size_t n, size_t to) { return (n + to - 1) / to * to; }

}  // namespace

// A read-only mapping of a whole cache file.
// A mapped cache file, shared by the packed buffers that point into it.
struct CacheFile {
  explicit CacheFile(core::MappedFile m) : mapping(std::move(m)) {}
  const std::byte* base() const { return mapping.bytes().data(); }

  core::MappedFile mapping;
  // Entries found corrupt on use; the owner rewrites the file when this grows.
  std::atomic<uint64_t> corrupt_entries{0};
};

// Packed bytes: private memory (owned) or a slice of a mapped cache file.
struct PackedBuffer {
  enum class Check { kUnchecked, kGood, kBad };  // file entries: data checksum verified yet?

  Key key;
  const std::byte* data = nullptr;
  size_t size = 0;
  dnnl::memory::desc want;          // owned entries: the exact packed layout
  std::shared_ptr<CacheFile> file;  // file entries: the mapping that holds `data`
  Hash128 checksum;                 // file entries: stored hash of the data
  Check check = Check::kGood;       // guarded by the cache mutex
  std::shared_ptr<void> owner;      // owned entries: the allocation holding `data`
};

namespace {

struct InternKey {
  Hash128 hash;
  int dtype;
  bool operator<(const InternKey& o) const {
    return std::tie(hash.lo, hash.hi, dtype) < std::tie(o.hash.lo, o.hash.hi, o.dtype);
  }
};

struct Interned {
  Tensor tensor;
  int leases = 0;
};

// Mapped memory (an Arena of 2 MiB or more, 4 KiB pages: see arena.h) that packed buffers are
// carved from, freed with the last of them. Small buffers share 2 MiB chunks, so a model's
// packed weights (mostly small: squeezenet1_1's are all under 1 MiB) cost a few mappings, not
// one allocation each.
struct PackedChunk {
  Arena arena;
  size_t used = 0;
};

struct Cache {
  std::mutex mu;
  std::shared_ptr<PackedChunk> chunk;  // the chunk small buffers are being carved from
  std::map<InternKey, Interned> constants;
  // Data pointer of each interned tensor -> (bytes, content hash): a packing request for a
  // model constant then needs no second pass over its bytes.
  std::unordered_map<const void*, std::pair<size_t, Hash128>> by_pointer;
  std::unordered_map<Key, std::weak_ptr<PackedBuffer>, KeyHasher> packed;
  size_t purge_at = 64;  // drop expired weak entries when the map grows past this
  std::map<Hash128, uint32_t, Hash128Less> choices;  // FindImplChoice
  std::atomic<uint64_t> generation{0};               // bumped on every new packed buffer or choice
  std::atomic<uint64_t> corruptions{0};              // file entries found corrupt
  WeightCacheStats stats;
};

// Leaked on purpose: Models and kernels in static storage may be destroyed after any static
// Cache would be, and they still release their leases here.
Cache& GetCache() {
  static Cache* const cache = new Cache();
  return *cache;
}

void PurgeExpired(Cache& c) {
  if (c.packed.size() < c.purge_at) return;
  std::erase_if(c.packed, [](const auto& kv) { return kv.second.expired(); });
  c.purge_at = std::max<size_t>(64, 2 * c.packed.size());
}

// The fields that define a blocked or Winograd layout, or nothing for other format kinds (those
// are not shared: their packed bytes are not described by these fields alone).
bool AppendDesc(const dnnl::memory::desc& md, std::vector<int64_t>& out) {
  const dnnl_memory_desc_t& d = md.data;
  if (d.ndims < 0 || d.ndims > DNNL_MAX_NDIMS) return false;
  out.insert(out.end(), {d.format_kind, d.ndims, d.data_type, d.offset0});
  for (int i = 0; i < d.ndims; ++i) {
    out.insert(out.end(), {d.dims[i], d.padded_dims[i], d.padded_offsets[i]});
  }
  if (d.format_kind == dnnl_blocked) {
    const dnnl_blocking_desc_t& b = d.format_desc.blocking;
    if (b.inner_nblks < 0 || b.inner_nblks > DNNL_MAX_NDIMS) return false;
    out.insert(out.end(), b.strides, b.strides + d.ndims);
    out.push_back(b.inner_nblks);
    for (int i = 0; i < b.inner_nblks; ++i) {
      out.insert(out.end(), {b.inner_blks[i], b.inner_idxs[i]});
    }
  } else if (d.format_kind == dnnl_format_kind_wino) {
    // The Winograd weight transform: every field shapes the packed bytes.
    const dnnl_wino_desc_t& w = d.format_desc.wino_desc;
    out.insert(out.end(),
               {w.wino_format, w.r, w.alpha, w.ic, w.oc, w.ic_block, w.oc_block, w.ic2_block,
                w.oc2_block, std::bit_cast<int32_t>(w.adj_scale), static_cast<int64_t>(w.size)});
  } else {
    return false;
  }
  out.push_back(static_cast<int64_t>(d.extra.flags));
  out.push_back(d.extra.compensation_mask);
  out.push_back(d.extra.asymm_compensation_mask);
  out.push_back(std::bit_cast<int32_t>(d.extra.scale_adjust));
  return true;
}

uint64_t IsaCode() { return static_cast<uint64_t>(dnnl::get_effective_cpu_isa()); }

uint64_t OneDnnVersion() {
  const dnnl_version_t* v = dnnl_version();
  return (uint64_t{static_cast<uint32_t>(v->major)} << 32) |
         (uint64_t{static_cast<uint32_t>(v->minor)} << 16) | static_cast<uint32_t>(v->patch);
}

std::optional<Hash128> FormatHash(const dnnl::memory::desc& user, const dnnl::memory::desc& want) {
  std::vector<int64_t> fields = {static_cast<int64_t>(IsaCode())};
  if (!AppendDesc(user, fields) || !AppendDesc(want, fields)) return std::nullopt;
  return HashBytes(std::as_bytes(std::span(fields)), /*seed=*/0x5eed);
}

Hash128 SourceHash(Cache& c, const void* data, size_t bytes) {
  {
    std::lock_guard lock(c.mu);
    auto it = c.by_pointer.find(data);
    if (it != c.by_pointer.end() && it->second.first == bytes) return it->second.second;
  }
  return HashBytes({static_cast<const std::byte*>(data), bytes});
}

// Private memory for packed bytes: a large buffer gets its own PackedChunk, small ones are carved
// from the shared one. Sets buf.owner and buf.data.
void AllocatePacked(Cache& c, size_t bytes, PackedBuffer& buf) {
  constexpr size_t kAlign = 64;
  const size_t size = RoundUp(std::max<size_t>(bytes, 1), kAlign);
  auto new_chunk = [](size_t capacity) {
    auto chunk = std::make_shared<PackedChunk>();
    if (!chunk->arena.Reserve(capacity).ok()) throw std::bad_alloc();
    return chunk;
  };
  if (size >= kHugePageBytes) {
    std::shared_ptr<PackedChunk> own = new_chunk(size);
    buf.data = own->arena.data();
    buf.owner = std::move(own);
    return;
  }
  std::lock_guard lock(c.mu);
  if (!c.chunk || c.chunk->used + size > c.chunk->arena.capacity()) {
    c.chunk = new_chunk(kHugePageBytes);
  }
  buf.data = c.chunk->arena.data() + c.chunk->used;
  c.chunk->used += size;
  buf.owner = c.chunk;
}

PackedWeightsRef MakeRef(const std::shared_ptr<PackedBuffer>& buf, const dnnl::memory::desc& want) {
  dnnl::memory mem(want, cpu::CpuEngine(), const_cast<std::byte*>(buf->data));
  return {std::move(mem), buf};
}

void Reorder(const dnnl::memory::desc& user, const void* data, const dnnl::memory::desc& want,
             std::byte* out) {
  if (cpu::PackWinogradWeights(user, data, want, out)) return;
  if (cpu::PackBlockedWeights(user, data, want, out)) return;
  dnnl::memory src(user, cpu::CpuEngine(), const_cast<void*>(data));
  dnnl::memory dst(want, cpu::CpuEngine(), out);
  dnnl::reorder(src, dst).execute(cpu::ThreadStream(), src, dst);
  cpu::ThreadStream().wait();
}

// True when `buf` can serve (key, want, bytes); verifies a file entry's checksum on first use.
// Called with c.mu held.
bool Usable(Cache& c, PackedBuffer& buf, const dnnl::memory::desc& want, size_t bytes) {
  if (buf.size != bytes) return false;
  if (!buf.file) return buf.want == want;
  if (buf.check == PackedBuffer::Check::kUnchecked) {
    // One bulk fault-in of the entry's pages instead of a fault per 4 KiB while hashing (only
    // entries this process uses become resident; older kernels refuse it and fault as usual).
    madvise(const_cast<std::byte*>(buf.data), RoundUp(buf.size, kPage), MADV_POPULATE_READ);
    const bool good = HashBytes({buf.data, buf.size}) == buf.checksum;
    buf.check = good ? PackedBuffer::Check::kGood : PackedBuffer::Check::kBad;
    if (!good) {
      ++c.stats.checksum_failures;
      ++c.corruptions;
      ++buf.file->corrupt_entries;
    }
  }
  return buf.check == PackedBuffer::Check::kGood;
}

}  // namespace

PackedWeightsRef GetPackedWeights(const dnnl::memory::desc& user, const void* data,
                                  const dnnl::memory::desc& want) {
  Cache& c = GetCache();
  const size_t bytes = want.get_size();
  const std::optional<Hash128> format = FormatHash(user, want);
  std::optional<Key> key;
  if (format) key = Key{SourceHash(c, data, user.get_size()), *format};
  if (key) {
    std::lock_guard lock(c.mu);
    ++c.stats.lookups;
    auto it = c.packed.find(*key);
    if (it != c.packed.end()) {
      if (std::shared_ptr<PackedBuffer> buf = it->second.lock();
          buf && Usable(c, *buf, want, bytes)) {
        ++c.stats.hits;
        if (buf->file) ++c.stats.file_hits;
        return MakeRef(buf, want);
      }
    }
  }

  auto buf = std::make_shared<PackedBuffer>();
  AllocatePacked(c, bytes, *buf);
  buf->size = bytes;
  buf->want = want;
  Reorder(user, data, want, const_cast<std::byte*>(buf->data));

  std::lock_guard lock(c.mu);
  ++c.stats.packs;
  c.stats.packed_bytes += bytes;
  if (!key) return MakeRef(buf, want);
  buf->key = *key;
  // Another thread may have packed the same weights meanwhile: keep one copy.
  std::weak_ptr<PackedBuffer>& slot = c.packed[*key];
  if (std::shared_ptr<PackedBuffer> other = slot.lock(); other && Usable(c, *other, want, bytes)) {
    return MakeRef(other, want);
  }
  slot = buf;
  c.generation.fetch_add(1);
  PurgeExpired(c);
  return MakeRef(buf, want);
}

std::optional<uint32_t> FindImplChoice(const Hash128& key) {
  Cache& c = GetCache();
  std::lock_guard lock(c.mu);
  auto it = c.choices.find(key);
  if (it == c.choices.end()) return std::nullopt;
  return it->second;
}

void RecordImplChoice(const Hash128& key, uint32_t choice) {
  Cache& c = GetCache();
  std::lock_guard lock(c.mu);
  c.choices[key] = choice;
  ++c.stats.choices_timed;
  ++c.generation;
}

void ForgetImplChoicesForTesting() {
  Cache& c = GetCache();
  std::lock_guard lock(c.mu);
  c.choices.clear();
}

WeightCacheStats GetWeightCacheStats() {
  Cache& c = GetCache();
  std::lock_guard lock(c.mu);
  WeightCacheStats s = c.stats;
  for (const auto& [key, weak] : c.packed) {
    if (std::shared_ptr<PackedBuffer> buf = weak.lock()) {
      ++s.live_entries;
      if (!buf->file) s.live_owned_bytes += buf->size;
    }
  }
  s.shared_constants = c.constants.size();
  for (const auto& [key, entry] : c.constants) s.shared_constant_bytes += entry.tensor.byte_size();
  return s;
}

// ---------------------------------------------------------------------------------------------
// ModelWeights

namespace {

constexpr char kMagic[8] = {'A', 'C', 'C', 'E', 'L', 'W', 'C', '\0'};
constexpr uint32_t kVersion = 3;

struct FileHeader {
  char magic[8];
  uint32_t version;
  uint32_t header_bytes;
  uint64_t isa;
  uint64_t onednn_version;
  uint64_t fingerprint[2];
  uint64_t entry_count;
  uint64_t table_offset;
  uint64_t file_bytes;
  uint64_t table_checksum[2];
  uint64_t choice_offset;
  uint64_t choice_count;
  uint64_t choice_checksum;
  uint64_t header_checksum[2];
};
static_assert(sizeof(FileHeader) == 128);
constexpr size_t kHeaderChecked = offsetof(FileHeader, header_checksum);

struct FileEntry {
  uint64_t source[2];
  uint64_t format[2];
  uint64_t offset;
  uint64_t bytes;
  uint64_t checksum[2];
};
static_assert(sizeof(FileEntry) == 64);

struct FileChoice {
  uint64_t key[2];
  uint64_t choice;
};
static_assert(sizeof(FileChoice) == 24);

Hash128 ToHash(const uint64_t (&h)[2]) { return {h[0], h[1]}; }
void FromHash(const Hash128& h, uint64_t (&out)[2]) {
  out[0] = h.lo;
  out[1] = h.hi;
}

template <typename T>
std::span<const std::byte> BytesOf(const T& v) {
  return std::as_bytes(std::span(&v, 1));
}

// Why the header does not describe a usable file for `fingerprint`, or "" when it does.
std::string CheckHeader(const FileHeader& h, size_t file_size, const Hash128& fingerprint) {
  if (std::memcmp(h.magic, kMagic, sizeof(kMagic)) != 0) return "not a libaccel weight cache";
  if (h.version != kVersion) {
    return "format version " + std::to_string(h.version) + ", expected " + std::to_string(kVersion);
  }
  if (HashBytes(BytesOf(h).first(kHeaderChecked)) != ToHash(h.header_checksum)) {
    return "header checksum mismatch";
  }
  if (h.header_bytes != sizeof(FileHeader)) return "unexpected header size";
  if (h.isa != IsaCode()) return "written for another CPU ISA";
  if (h.onednn_version != OneDnnVersion()) return "written by another oneDNN version";
  if (ToHash(h.fingerprint) != fingerprint) return "written for another model's weights";
  if (h.file_bytes != file_size) {
    return "truncated or extended (" + std::to_string(file_size) + " bytes, header says " +
           std::to_string(h.file_bytes) + ")";
  }
  if (h.table_offset != sizeof(FileHeader) ||
      h.entry_count > (file_size - sizeof(FileHeader)) / sizeof(FileEntry)) {
    return "entry table outside the file";
  }
  if (h.choice_offset % alignof(FileChoice) != 0 || h.choice_offset > file_size ||
      h.choice_count > (file_size - h.choice_offset) / sizeof(FileChoice)) {
    return "choice table outside the file";
  }
  return "";
}

bool WriteAll(int fd, const void* data, size_t bytes, uint64_t offset) {
  auto p = static_cast<const std::byte*>(data);
  while (bytes > 0) {
    const ssize_t n = pwrite(fd, p, std::min<size_t>(bytes, size_t{1} << 30), offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;
      return false;
    }
    p += n;
    bytes -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return true;
}

}  // namespace

std::shared_ptr<ModelWeights> ModelWeights::Share(core::Graph& graph,
                                                  const std::string& cache_path) {
  std::shared_ptr<ModelWeights> w(new ModelWeights());
  w->path_ = cache_path;
  std::vector<Hash128> order;
  Cache& c = GetCache();
  for (core::Value& v : graph.values) {
    if (!v.constant || v.constant->byte_size() == 0 || !v.constant->data()) continue;
    Tensor& t = *v.constant;
    const Hash128 h = HashBytes({static_cast<const std::byte*>(t.data()), t.byte_size()});
    order.push_back(h);
    w->stored_bytes_ += t.byte_size();
    const InternKey key{h, static_cast<int>(t.dtype())};
    std::lock_guard lock(c.mu);
    auto [it, inserted] = c.constants.try_emplace(key, Interned{t, 0});
    Interned& entry = it->second;
    if (inserted) {
      c.by_pointer[t.data()] = {t.byte_size(), h};
    } else if (entry.tensor.byte_size() == t.byte_size() &&
               std::memcmp(entry.tensor.data(), t.data(), t.byte_size()) == 0) {
      Result<Tensor> shared = entry.tensor.Reshaped(t.shape());
      if (!shared.ok()) continue;
      t = *shared;
    } else {
      continue;  // a hash collision: keep this tensor private
    }
    ++entry.leases;
    w->leases_.push_back({h, key.dtype});
  }
  w->fingerprint_ = HashBytes(std::as_bytes(std::span(order)), /*seed=*/order.size());
  w->sources_ = order;
  std::ranges::sort(w->sources_, Hash128Less());
  w->sources_.erase(std::unique(w->sources_.begin(), w->sources_.end()), w->sources_.end());
  if (!w->path_.empty()) {
    std::lock_guard lock(w->mu_);
    if (access(w->path_.c_str(), F_OK) != 0) {
      w->status_.state = CacheFileState::kMissing;
    } else if (std::string why = w->MapFile(); !why.empty()) {
      w->status_.state = CacheFileState::kRejected;
      w->status_.detail = why;
    } else {
      w->status_.state = CacheFileState::kLoaded;
      w->status_.file_entries = w->file_entries_.size();
    }
  }
  return w;
}

ModelWeights::~ModelWeights() {
  Cache& c = GetCache();
  std::vector<Tensor> released;  // freed after unlocking
  std::lock_guard lock(c.mu);
  for (const Lease& lease : leases_) {
    auto it = c.constants.find({lease.hash, lease.dtype});
    if (it == c.constants.end() || --it->second.leases > 0) continue;
    c.by_pointer.erase(it->second.tensor.data());
    released.push_back(std::move(it->second.tensor));
    c.constants.erase(it);
  }
}

std::string ModelWeights::MapFile() {
  // Not populated: only the entries this process uses are faulted in (Usable).
  Result<core::MappedFile> mapped =
      core::MappedFile::Open(path_, core::MappedFile::Populate::kNone);
  if (!mapped.ok()) return mapped.status().message();
  auto file = std::make_shared<CacheFile>(std::move(mapped).value());
  const size_t size = file->mapping.bytes().size();
  FileHeader h{};
  if (size < sizeof(h)) return "shorter than its header";
  std::memcpy(&h, file->base(), sizeof(h));
  if (std::string why = CheckHeader(h, size, fingerprint_); !why.empty()) return why;
  auto table =
      std::span(reinterpret_cast<const FileEntry*>(file->base() + h.table_offset), h.entry_count);
  if (HashBytes(std::as_bytes(table)) != ToHash(h.table_checksum)) return "entry table checksum";
  const size_t data_start = sizeof(FileHeader) + table.size_bytes();
  for (const FileEntry& e : table) {
    if (e.offset % kPage != 0 || e.offset < data_start || e.offset > size || e.bytes == 0 ||
        e.bytes > size - e.offset) {
      return "an entry lies outside the file";
    }
  }
  auto choices = std::span(reinterpret_cast<const FileChoice*>(file->base() + h.choice_offset),
                           h.choice_count);
  if (HashBytes(std::as_bytes(choices)).lo != h.choice_checksum) return "choice table checksum";
  std::vector<std::shared_ptr<PackedBuffer>> entries;
  std::vector<Key> keys;
  Cache& c = GetCache();
  std::lock_guard cache_lock(c.mu);
  std::vector<Hash128> choice_keys;
  for (const FileChoice& choice : choices) {
    choice_keys.push_back(ToHash(choice.key));
    if (choice.choice > UINT32_MAX) continue;  // never written so; PickFastest range-checks too
    if (c.choices.try_emplace(ToHash(choice.key), static_cast<uint32_t>(choice.choice)).second) {
      ++c.stats.choices_from_file;
    }
  }
  std::ranges::sort(choice_keys, Hash128Less());
  persisted_choices_ = std::move(choice_keys);
  for (const FileEntry& e : table) {
    auto buf = std::make_shared<PackedBuffer>();
    buf->key = {ToHash(e.source), ToHash(e.format)};
    buf->data = file->base() + e.offset;
    buf->size = e.bytes;
    buf->file = file;
    buf->checksum = ToHash(e.checksum);
    buf->check = PackedBuffer::Check::kUnchecked;
    keys.push_back(buf->key);
    // An entry already live in this process (packed, or from another file) stays in use.
    std::weak_ptr<PackedBuffer>& slot = c.packed[buf->key];
    if (slot.expired()) slot = buf;
    entries.push_back(std::move(buf));
  }
  PurgeExpired(c);
  std::ranges::sort(keys, KeyLess);
  file_ = std::move(file);
  file_entries_ = std::move(entries);
  persisted_ = std::move(keys);
  return "";
}

void ModelWeights::AfterRun() {
  if (path_.empty()) return;
  Cache& c = GetCache();
  const uint64_t generation = c.generation.load();
  const uint64_t corruptions = c.corruptions.load();
  if (generation == synced_generation_.load() && corruptions == seen_corruptions_.load()) return;
  std::lock_guard lock(mu_);
  synced_generation_ = generation;
  seen_corruptions_ = corruptions;
  WriteFile(/*force=*/file_ && file_->corrupt_entries.load() > 0);
}

size_t ModelWeights::packed_bytes() const {
  Cache& c = GetCache();
  std::lock_guard lock(c.mu);
  size_t bytes = 0;
  for (const auto& [key, weak] : c.packed) {
    if (std::shared_ptr<PackedBuffer> buf = weak.lock();
        buf && std::ranges::binary_search(sources_, key.source, Hash128Less())) {
      bytes += buf->size;
    }
  }
  return bytes;
}

CacheFileStatus ModelWeights::file_status() const {
  std::lock_guard lock(mu_);
  return status_;
}

void ModelWeights::WriteFile(bool force) {
  Cache& c = GetCache();
  std::vector<std::shared_ptr<PackedBuffer>> entries;
  std::vector<FileChoice> choices;
  bool changed = force;
  {
    std::lock_guard lock(c.mu);
    for (const auto& [key, choice] : c.choices) {
      FileChoice& f = choices.emplace_back();
      FromHash(key, f.key);
      f.choice = choice;
      changed |= !std::ranges::binary_search(persisted_choices_, key, Hash128Less());
    }
    for (const auto& [key, weak] : c.packed) {
      std::shared_ptr<PackedBuffer> buf = weak.lock();
      if (buf && std::ranges::binary_search(sources_, key.source, Hash128Less())) {
        entries.push_back(std::move(buf));
      }
    }
    // Entries of the current file that this process does not use (yet) are kept too.
    entries.insert(entries.end(), file_entries_.begin(), file_entries_.end());
    // Verified before copying, so that a corrupt entry is not passed on with a fresh checksum.
    std::erase_if(entries, [&](const std::shared_ptr<PackedBuffer>& b) {
      return !Usable(c, *b, b->want, b->size);
    });
  }
  // One entry per key; a live packed buffer and a file entry with the same key hold equal bytes.
  std::ranges::stable_sort(entries, KeyLess, [](const auto& b) { return b->key; });
  auto dup = std::ranges::unique(entries, {}, [](const auto& b) { return b->key; });
  entries.erase(dup.begin(), dup.end());
  for (const auto& b : entries) {
    changed |= !std::ranges::binary_search(persisted_, b->key, KeyLess);
  }
  if (entries.empty() || !changed) return;

  std::vector<FileEntry> table(entries.size());
  uint64_t offset = RoundUp(sizeof(FileHeader) + table.size() * sizeof(FileEntry), kPage);
  for (size_t i = 0; i < entries.size(); ++i) {
    const PackedBuffer& b = *entries[i];
    FromHash(b.key.source, table[i].source);
    FromHash(b.key.format, table[i].format);
    table[i].offset = offset;
    table[i].bytes = b.size;
    FromHash(b.file ? b.checksum : HashBytes({b.data, b.size}), table[i].checksum);
    offset = RoundUp(offset + b.size, kPage);
  }
  FileHeader h{};
  std::memcpy(h.magic, kMagic, sizeof(kMagic));
  h.version = kVersion;
  h.header_bytes = sizeof(FileHeader);
  h.isa = IsaCode();
  h.onednn_version = OneDnnVersion();
  FromHash(fingerprint_, h.fingerprint);
  h.entry_count = table.size();
  h.table_offset = sizeof(FileHeader);
  h.choice_offset = RoundUp(table.back().offset + table.back().bytes, alignof(FileChoice));
  h.choice_count = choices.size();
  h.choice_checksum = HashBytes(std::as_bytes(std::span(choices))).lo;
  h.file_bytes = h.choice_offset + choices.size() * sizeof(FileChoice);
  FromHash(HashBytes(std::as_bytes(std::span(table))), h.table_checksum);
  FromHash(HashBytes(BytesOf(h).first(kHeaderChecked)), h.header_checksum);

  static std::atomic<uint64_t> counter{0};
  const std::string tmp =
      path_ + ".tmp." + std::to_string(getpid()) + "." + std::to_string(counter.fetch_add(1));
  std::string error;
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    error = "creating " + tmp + ": " + std::strerror(errno);
  } else {
    bool ok = WriteAll(fd, &h, sizeof(h), 0) &&
              WriteAll(fd, table.data(), table.size() * sizeof(FileEntry), sizeof(FileHeader));
    for (size_t i = 0; ok && i < entries.size(); ++i) {
      ok = WriteAll(fd, entries[i]->data, entries[i]->size, table[i].offset);
    }
    ok = ok && WriteAll(fd, choices.data(), choices.size() * sizeof(FileChoice), h.choice_offset);
    if (!ok) error = "writing " + tmp + ": " + std::strerror(errno);
    if (close(fd) != 0 && error.empty()) error = "closing " + tmp + ": " + std::strerror(errno);
    if (error.empty() && rename(tmp.c_str(), path_.c_str()) != 0) {
      error = "renaming " + tmp + " to " + path_ + ": " + std::strerror(errno);
    }
    if (!error.empty()) unlink(tmp.c_str());
  }
  if (!error.empty()) {
    status_.write_error = error;
    return;
  }
  status_.write_error.clear();
  ++status_.writes;
  {
    std::lock_guard lock(c.mu);
    ++c.stats.file_writes;
  }
  // Map what was written: later Sessions of this Model (and a later rewrite) find every entry
  // there even after the kernels holding the private copies are gone.
  if (std::string why = MapFile(); !why.empty()) {
    status_.write_error = "rereading " + path_ + ": " + why;
  }
}

}  // namespace accel::memory
