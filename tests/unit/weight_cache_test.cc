// The weight cache (src/memory/weight_cache.h): content hashing, constants and packed weights
// shared between Models in one process (cache counters and the process's RSS), and the file
// cache: cold write, warm map, and files damaged on purpose, whose results must equal a run
// without a cache file.
#include "memory/weight_cache.h"

#include <malloc.h>
#include <onnx/onnx_pb.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "accel/accel.h"
#include "core/model_impl.h"
#include "onnx_test_util.h"

namespace accel {
namespace {

namespace fs = std::filesystem;
using memory::CacheFileState;
using memory::GetWeightCacheStats;
using memory::WeightCacheStats;

constexpr int kSpatial = 4;

// x[1,C,4,4] -> `layers` 3x3 convolutions C->C (pad 1) with random weights of `seed`: oneDNN
// packs every 3x3 weight into a blocked layout.
std::string ConvChain(unsigned seed, int channels, int layers) {
  testing::GraphBuilder b(13, seed);
  b.Input("x", {1, channels, kSpatial, kSpatial});
  std::string cur = "x";
  for (int i = 0; i < layers; ++i) {
    const std::string w =
        b.Weight("w" + std::to_string(i), {channels, channels, 3, 3}, -0.05f, 0.05f);
    const std::string bias = b.Weight("b" + std::to_string(i), {channels});
    const std::string out = "y" + std::to_string(i);
    *b.Node("Conv", {cur, w, bias}, out)->add_attribute() = testing::IntsAttr("pads", {1, 1, 1, 1});
    cur = out;
  }
  b.Output(cur);
  return b.Bytes();
}

size_t WeightBytes(int channels, int layers) {
  return static_cast<size_t>(layers) * channels * (channels * 9 + 1) * sizeof(float);
}

Model Load(const std::string& bytes, const std::string& cache_path = "") {
  LoadOptions options;
  options.weight_cache_path = cache_path;
  return testing::RequireModel(bytes, options);
}

std::vector<float> Input(int channels) {
  std::vector<float> x(static_cast<size_t>(channels) * kSpatial * kSpatial);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 37) % 101) / 50.0f - 1.0f;
  return x;
}

// One run's output, or its error. No Catch2 macros: Catch2 is not thread-safe, and the
// concurrent-writers test calls this on two threads at once.
Result<std::vector<float>> TryRunOnce(const Model& model, int channels) {
  ACCEL_ASSIGN_OR_RETURN(Session session, Session::Create(model, {1}));
  std::vector<float> x = Input(channels);
  std::vector<NamedTensor> in = {
      {"x", Tensor::View(DType::kFloat32, {1, channels, kSpatial, kSpatial}, x.data())}};
  ACCEL_ASSIGN_OR_RETURN(std::vector<NamedTensor> out, session.Run(in));
  std::span<const float> v = out[0].tensor.values<float>();
  return std::vector<float>(v.begin(), v.end());
}

std::vector<float> RunOnce(Session& session, int channels) {
  std::vector<float> x = Input(channels);
  std::vector<NamedTensor> in = {
      {"x", Tensor::View(DType::kFloat32, {1, channels, kSpatial, kSpatial}, x.data())}};
  Result<std::vector<NamedTensor>> out = session.Run(in);
  INFO(out.status().ToString());
  REQUIRE(out.ok());
  std::span<const float> v = (*out)[0].tensor.values<float>();
  return {v.begin(), v.end()};
}

std::vector<float> RunOnce(const Model& model, int channels) {
  Result<Session> session = Session::Create(model, {1});
  REQUIRE(session.ok());
  return RunOnce(*session, channels);
}

memory::CacheFileStatus FileStatus(const Model& model) {
  return model.internal_impl().weights->file_status();
}

// Resident set in bytes after returning freed heap pages to the OS (so that buffers the loader
// freed do not count).
size_t ResidentBytes() {
  malloc_trim(0);
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

void WriteAll(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

uint64_t U64At(const std::string& bytes, size_t offset) {
  uint64_t v = 0;
  std::memcpy(&v, bytes.data() + offset, sizeof(v));
  return v;
}

// A fresh directory under the system temp dir, removed at scope exit.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "accel_wcache_XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string File(const std::string& name) const { return (path / name).string(); }
  // Names in the directory other than `keep` (leftover temporary files).
  std::vector<std::string> Others(const std::string& keep) const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(path)) {
      if (e.path().filename() != keep) names.push_back(e.path().filename().string());
    }
    return names;
  }
};

TEST_CASE("HashBytes depends on every byte, the length and the seed", "[weight_cache]") {
  std::vector<std::byte> data(1000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::byte>(i * 7 + 3);
  const std::span<const std::byte> all(data);
  const memory::Hash128 h = memory::HashBytes(all);
  CHECK(memory::HashBytes(all) == h);
  CHECK_FALSE(memory::HashBytes(all, 1) == h);
  // Every length from 0 to 70 (all tail sizes) gives a distinct hash.
  std::vector<memory::Hash128> prefixes;
  for (size_t n = 0; n <= 70; ++n) prefixes.push_back(memory::HashBytes(all.first(n)));
  for (size_t i = 0; i < prefixes.size(); ++i) {
    for (size_t j = i + 1; j < prefixes.size(); ++j) CHECK_FALSE(prefixes[i] == prefixes[j]);
  }
  // One flipped bit anywhere (stripes, 8-byte words, tail) changes both halves.
  for (size_t pos : {0, 31, 32, 500, 993, 999}) {
    std::vector<std::byte> flipped = data;
    flipped[pos] ^= std::byte{0x10};
    const memory::Hash128 g = memory::HashBytes(flipped);
    CHECK(g.lo != h.lo);
    CHECK(g.hi != h.hi);
  }
}

TEST_CASE("Session::Create packs the weights, so the first run packs nothing", "[weight_cache]") {
  constexpr int kChannels = 32;
  constexpr int kLayers = 3;
  Model model = Load(ConvChain(21, kChannels, kLayers));
  const WeightCacheStats before = GetWeightCacheStats();
  Result<Session> session = Session::Create(model, {1});  // fixed shapes: prepares and warms up
  REQUIRE(session.ok());
  const WeightCacheStats prepared = GetWeightCacheStats();
  CHECK(prepared.packs - before.packs == kLayers);
  CHECK(model.internal_impl().weights->packed_bytes() > 0);
  // Reported through the public API before any run.
  const MemoryInfo info = session->memory_info();
  CHECK(info.weights_bytes == WeightBytes(kChannels, kLayers));
  CHECK(info.packed_weights_bytes >= static_cast<size_t>(kLayers) * kChannels * kChannels * 9 * 4);
  const std::vector<float> out = RunOnce(*session, kChannels);
  CHECK(GetWeightCacheStats().packs == prepared.packs);
  // The warm-up skipped the convolutions themselves; the first run computes them: same result as
  // a Session that was never warmed up (level 0 is not needed: both run the same kernels).
  Result<Session> other = Session::Create(model, {1});
  REQUIRE(other.ok());
  CHECK(RunOnce(*other, kChannels) == out);
  CHECK(std::ranges::any_of(out, [](float v) { return v != 0.0f; }));
}

TEST_CASE("A second Model of the same weights shares constants and packed weights",
          "[weight_cache]") {
  constexpr int kChannels = 256;
  constexpr int kLayers = 20;
  const std::string bytes = ConvChain(11, kChannels, kLayers);
  const size_t weight_bytes = WeightBytes(kChannels, kLayers);  // ~47 MB

  const WeightCacheStats before = GetWeightCacheStats();
  std::vector<float> first_out;
  {
    Model first = Load(bytes);
    Result<Session> s1 = Session::Create(first, {1});
    REQUIRE(s1.ok());
    first_out = RunOnce(*s1, kChannels);
    const WeightCacheStats one = GetWeightCacheStats();
    CHECK(one.packs - before.packs == kLayers);
    CHECK(one.shared_constant_bytes - before.shared_constant_bytes >= weight_bytes);
    const size_t rss_one = ResidentBytes();
    CHECK(first.internal_impl().weights->stored_bytes() == weight_bytes);
    CHECK(first.internal_impl().weights->packed_bytes() >= kLayers * kChannels * kChannels * 9 * 4);

    Model second = Load(bytes);
    Result<Session> s2 = Session::Create(second, {1});
    REQUIRE(s2.ok());
    CHECK(RunOnce(*s2, kChannels) == first_out);
    const size_t rss_two = ResidentBytes();
    const WeightCacheStats two = GetWeightCacheStats();
    CHECK(two.packs == one.packs);  // nothing packed again
    CHECK(two.hits - one.hits == kLayers);
    CHECK(two.live_owned_bytes == one.live_owned_bytes);
    CHECK(two.shared_constant_bytes == one.shared_constant_bytes);
    // Both Models read the same constant bytes.
    const auto& g1 = first.internal_impl().graph;
    const auto& g2 = second.internal_impl().graph;
    const int w0 = g1.FindValue("w0");
    CHECK(g1.values[w0].constant->data() == g2.values[g2.FindValue("w0")].constant->data());

    const double added = static_cast<double>(rss_two) - static_cast<double>(rss_one);
    INFO("second Model added " << added / 1e6 << " MB of RSS for " << weight_bytes / 1e6
                               << " MB of weights");
#if defined(__SANITIZE_ADDRESS__)
    // AddressSanitizer keeps freed blocks in quarantine, so RSS says nothing about sharing
    // there; the cache counters above still prove it.
    (void)added;
#else
    // The bound. A second Model also brings its own session, graph and kernel objects
    // (about 3 MB here), so the weights must be large enough to stand for a real model.
    CHECK(added < 0.1 * static_cast<double>(weight_bytes));
#endif
  }
  // Entries die with their last user.
  const WeightCacheStats after = GetWeightCacheStats();
  CHECK(after.live_entries == before.live_entries);
  CHECK(after.shared_constants == before.shared_constants);
  CHECK(after.shared_constant_bytes == before.shared_constant_bytes);

  // Another Model with other weights neither hits nor disturbs the first one's results.
  {
    Model a = Load(bytes);
    Model other = Load(ConvChain(12, kChannels, 2));
    const WeightCacheStats s = GetWeightCacheStats();
    CHECK(RunOnce(other, kChannels) != first_out);
    CHECK(RunOnce(a, kChannels) == first_out);
    CHECK(GetWeightCacheStats().packs - s.packs == kLayers + 2);
  }
}

constexpr int kFileChannels = 64;
constexpr int kFileLayers = 4;

// Output of the model without a cache file, with no packed entry alive before or after.
std::vector<float> Reference(const std::string& bytes) {
  return RunOnce(Load(bytes), kFileChannels);
}

// Loads with the cache file, runs once and checks the result; returns the load's file status.
memory::CacheFileStatus RunWithFile(const std::string& bytes, const std::string& path,
                                    const std::vector<float>& expected) {
  Model model = Load(bytes, path);
  memory::CacheFileStatus at_load = FileStatus(model);
  CHECK(RunOnce(model, kFileChannels) == expected);
  memory::CacheFileStatus after = FileStatus(model);
  at_load.writes = after.writes;
  at_load.write_error = after.write_error;
  return at_load;
}

TEST_CASE("The cache file is written after the first run and mapped by later loads",
          "[weight_cache]") {
  const std::string bytes = ConvChain(21, kFileChannels, kFileLayers);
  const std::vector<float> expected = Reference(bytes);
  TempDir dir;
  const std::string path = dir.File("w.cache");

  memory::CacheFileStatus cold = RunWithFile(bytes, path, expected);
  CHECK(cold.state == CacheFileState::kMissing);
  CHECK(cold.writes == 1);
  CHECK(cold.write_error.empty());
  REQUIRE(fs::exists(path));
  CHECK(dir.Others("w.cache").empty());  // the temporary file was renamed

  const WeightCacheStats before = GetWeightCacheStats();
  {
    Model warm = Load(bytes, path);
    CHECK(FileStatus(warm).state == CacheFileState::kLoaded);
    CHECK(FileStatus(warm).file_entries == kFileLayers);
    Result<Session> s1 = Session::Create(warm, {1});
    Result<Session> s2 = Session::Create(warm, {1});
    REQUIRE(s1.ok());
    REQUIRE(s2.ok());
    CHECK(RunOnce(*s1, kFileChannels) == expected);
    CHECK(RunOnce(*s2, kFileChannels) == expected);
    CHECK(FileStatus(warm).writes == 0);  // nothing new: the file stays as it is
  }
  const WeightCacheStats after = GetWeightCacheStats();
  CHECK(after.packs == before.packs);  // no packing at all
  CHECK(after.file_hits - before.file_hits == 2 * kFileLayers);
  CHECK(after.checksum_failures == before.checksum_failures);
}

TEST_CASE("A damaged, stale or foreign cache file is detected and rebuilt", "[weight_cache]") {
  const std::string bytes = ConvChain(31, kFileChannels, kFileLayers);
  const std::vector<float> expected = Reference(bytes);
  TempDir dir;
  const std::string path = dir.File("w.cache");
  REQUIRE(RunWithFile(bytes, path, expected).writes == 1);
  const std::string good = ReadAll(path);
  REQUIRE(good.size() > 4096);
  const size_t first_data = U64At(good, 128 + 32);  // entry 0's offset
  REQUIRE(first_data < good.size());

  // Each case damages a copy of the good file; the load must reject it (or drop the bad entry),
  // the run must match the reference, and the file must be valid again afterwards.
  auto check_case = [&](const std::string& damaged, CacheFileState expected_state,
                        const std::string& reason) {
    WriteAll(path, damaged);
    const WeightCacheStats before = GetWeightCacheStats();
    memory::CacheFileStatus status = RunWithFile(bytes, path, expected);
    CHECK(status.state == expected_state);
    CHECK(status.detail.find(reason) != std::string::npos);
    CHECK(status.writes == 1);
    CHECK(status.write_error.empty());
    CHECK(GetWeightCacheStats().packs > before.packs);
    // The rebuilt file is accepted and used without packing.
    const WeightCacheStats rebuilt = GetWeightCacheStats();
    memory::CacheFileStatus again = RunWithFile(bytes, path, expected);
    CHECK(again.state == CacheFileState::kLoaded);
    CHECK(again.writes == 0);
    CHECK(GetWeightCacheStats().packs == rebuilt.packs);
    CHECK(dir.Others("w.cache").empty());
  };

  SECTION("truncated") {
    check_case(good.substr(0, good.size() / 2), CacheFileState::kRejected, "truncated");
  }
  SECTION("shorter than the header") {
    check_case(good.substr(0, 100), CacheFileState::kRejected, "header");
  }
  SECTION("empty") { check_case("", CacheFileState::kRejected, "header"); }
  SECTION("not a cache file") {
    check_case(std::string(8192, 'x'), CacheFileState::kRejected, "not a libaccel");
  }
  SECTION("wrong version, header checksum recomputed") {
    std::string f = good;
    const uint32_t version = 99;
    std::memcpy(f.data() + 8, &version, sizeof(version));
    const memory::Hash128 h = memory::HashBytes(std::as_bytes(std::span(f.data(), 112)));
    std::memcpy(f.data() + 112, &h.lo, 8);
    std::memcpy(f.data() + 120, &h.hi, 8);
    check_case(f, CacheFileState::kRejected, "format version 99");
  }
  SECTION("flipped byte in the header") {
    std::string f = good;
    f[40] ^= 0x01;  // inside the model fingerprint
    check_case(f, CacheFileState::kRejected, "header checksum");
  }
  SECTION("flipped byte in the entry table") {
    std::string f = good;
    f[128 + 40] ^= 0x01;  // entry 0's size
    check_case(f, CacheFileState::kRejected, "entry table");
  }
  SECTION("flipped byte in the choice table") {
    REQUIRE(U64At(good, 96) > 0);  // the convolutions' timing choices are in the file
    std::string f = good;
    f[f.size() - 1] ^= 0x01;  // the last choice
    check_case(f, CacheFileState::kRejected, "choice table");
  }
  SECTION("flipped byte in packed data") {
    std::string f = good;
    f[first_data + 1000] ^= 0x40;
    const uint64_t failures = GetWeightCacheStats().checksum_failures;
    check_case(f, CacheFileState::kLoaded, "");
    CHECK(GetWeightCacheStats().checksum_failures == failures + 1);
  }
  SECTION("another model's cache") {
    const std::string other = ConvChain(32, kFileChannels, kFileLayers);
    const std::string other_path = dir.File("other.cache");
    REQUIRE(RunWithFile(other, other_path, Reference(other)).writes == 1);
    const std::string foreign = ReadAll(other_path);
    fs::remove(other_path);
    check_case(foreign, CacheFileState::kRejected, "another model");
  }
}

TEST_CASE("Timing choices travel in the cache file to the next process", "[weight_cache]") {
  memory::ForgetImplChoicesForTesting();  // as if this process were new
  const std::string bytes = ConvChain(41, kFileChannels, kFileLayers);
  const WeightCacheStats start = GetWeightCacheStats();
  const std::vector<float> expected = Reference(bytes);
  const uint64_t timed = GetWeightCacheStats().choices_timed - start.choices_timed;
  REQUIRE(timed >= 1);  // 3x3 stride-1 convolutions: Winograd against direct
  TempDir dir;
  const std::string path = dir.File("w.cache");
  REQUIRE(RunWithFile(bytes, path, expected).writes == 1);

  memory::ForgetImplChoicesForTesting();  // the next process
  const WeightCacheStats before = GetWeightCacheStats();
  CHECK(RunWithFile(bytes, path, expected).state == CacheFileState::kLoaded);
  const WeightCacheStats after = GetWeightCacheStats();
  CHECK(after.choices_timed == before.choices_timed);  // nothing timed again
  CHECK(after.choices_from_file - before.choices_from_file == timed);
  CHECK(after.packs == before.packs);
}

TEST_CASE("Two Models writing one cache file at once leave one valid file", "[weight_cache]") {
  const std::string bytes = ConvChain(41, kFileChannels, kFileLayers);
  const std::vector<float> expected = Reference(bytes);
  TempDir dir;
  const std::string path = dir.File("w.cache");
  {
    Model a = Load(bytes, path);
    Model b = Load(bytes, path);
    Result<std::vector<float>> out_a = Internal("not run"), out_b = Internal("not run");
    std::thread ta([&] { out_a = TryRunOnce(a, kFileChannels); });
    std::thread tb([&] { out_b = TryRunOnce(b, kFileChannels); });
    ta.join();
    tb.join();
    INFO(out_a.status().ToString() << " / " << out_b.status().ToString());
    REQUIRE(out_a.ok());
    REQUIRE(out_b.ok());
    CHECK(*out_a == expected);
    CHECK(*out_b == expected);
    CHECK(FileStatus(a).writes + FileStatus(b).writes >= 1);
  }
  CHECK(dir.Others("w.cache").empty());
  const WeightCacheStats before = GetWeightCacheStats();
  memory::CacheFileStatus warm = RunWithFile(bytes, path, expected);
  CHECK(warm.state == CacheFileState::kLoaded);
  CHECK(GetWeightCacheStats().packs == before.packs);
}

TEST_CASE("An unwritable cache path does not fail the run", "[weight_cache]") {
  const std::string bytes = ConvChain(51, kFileChannels, 1);
  TempDir dir;
  const std::string path = dir.File("no_such_dir/w.cache");
  Model model = Load(bytes, path);
  CHECK(FileStatus(model).state == CacheFileState::kMissing);
  CHECK(RunOnce(model, kFileChannels).size() == kFileChannels * kSpatial * kSpatial);
  CHECK(FileStatus(model).writes == 0);
  CHECK_FALSE(FileStatus(model).write_error.empty());
}

}  // namespace
}  // namespace accel
