#include "memory/hash.h"

#include <array>
#include <bit>
#include <cstring>

namespace accel::memory {

namespace {

typedef uint64_t Lanes __attribute__((vector_size(64)));

constexpr size_t kStripe = 64;
// Stripes per block; the block's stripes use distinct keys, so reordering them changes the sum,
// and the lanes are scrambled between blocks, so reordering blocks changes it too.
constexpr size_t kBlockStripes = 16;

constexpr uint64_t kMulA = 0x9fb21c651e98df25ULL;
constexpr uint64_t kMulB = 0xd6e8feb86659fd93ULL;
constexpr uint64_t kMulC = 0xc2b2ae3d27d4eb4fULL;

// Avalanches every input bit over the whole word (a multiply-xorshift finalizer).
uint64_t Mix(uint64_t x) {
  x ^= x >> 32;
  x *= kMulA;
  x ^= x >> 29;
  x *= kMulB;
  x ^= x >> 32;
  return x;
}

// Per-stripe keys: Mix of a counter, so every lane of every stripe slot differs.
struct Keys {
  std::array<Lanes, kBlockStripes> stripe;
  Keys() {
    uint64_t n = 1;
    for (Lanes& k : stripe) {
      for (int i = 0; i < 8; ++i) k[i] = Mix(n++ * kMulC);
    }
  }
};
const Keys& GetKeys() {
  static const Keys keys;
  return keys;
}

// Adds one stripe: the product of the keyed word's halves mixes its bits, the raw neighbour
// word keeps a word whose low half keys to zero from vanishing.
inline void Accumulate(Lanes& acc, const std::byte* p, const Lanes& key) {
  Lanes w;
  std::memcpy(&w, p, sizeof(w));
  const Lanes k = w ^ key;
  const Lanes swapped = __builtin_shuffle(w, Lanes{1, 0, 3, 2, 5, 4, 7, 6});
  acc += (k & 0xffffffffULL) * (k >> 32) + swapped;
}

inline void Scramble(Lanes& acc) {
  acc ^= acc >> 47;
  acc *= kMulA;
}

// The loop over whole stripes, compiled per ISA below; every version computes the same value.
template <int kIsa>
inline void StripesT(Lanes& acc, const std::byte* p, size_t stripes, const Keys& keys) {
  size_t s = 0;
  for (; s + kBlockStripes <= stripes; s += kBlockStripes) {
    for (size_t j = 0; j < kBlockStripes; ++j)
      Accumulate(acc, p + (s + j) * kStripe, keys.stripe[j]);
    Scramble(acc);
  }
  for (size_t j = 0; s + j < stripes; ++j) Accumulate(acc, p + (s + j) * kStripe, keys.stripe[j]);
}

[[gnu::target("avx512f,avx512dq")]] void StripesAvx512(Lanes& acc, const std::byte* p,
                                                       size_t stripes, const Keys& keys) {
  StripesT<2>(acc, p, stripes, keys);
}
[[gnu::target("avx2")]] void StripesAvx2(Lanes& acc, const std::byte* p, size_t stripes,
                                         const Keys& keys) {
  StripesT<1>(acc, p, stripes, keys);
}
void StripesBase(Lanes& acc, const std::byte* p, size_t stripes, const Keys& keys) {
  StripesT<0>(acc, p, stripes, keys);
}

using StripesFn = void (*)(Lanes&, const std::byte*, size_t, const Keys&);
StripesFn PickStripes() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")) {
    return StripesAvx512;
  }
  if (__builtin_cpu_supports("avx2")) return StripesAvx2;
  return StripesBase;
}

Hash128 HashWith(StripesFn stripes_fn, std::span<const std::byte> bytes, uint64_t seed) {
  const Keys& keys = GetKeys();
  Lanes acc;
  for (int i = 0; i < 8; ++i) acc[i] = Mix(seed + static_cast<uint64_t>(i) * kMulB);
  const size_t whole = bytes.size() / kStripe;
  stripes_fn(acc, bytes.data(), whole, keys);
  // The tail, zero-padded, as one more stripe under the next key; the length below tells a
  // tail of zeros from a shorter input.
  if (const size_t rest = bytes.size() % kStripe; rest > 0) {
    std::array<std::byte, kStripe> tail{};
    std::memcpy(tail.data(), bytes.data() + whole * kStripe, rest);
    Accumulate(acc, tail.data(), keys.stripe[whole % kBlockStripes]);
  }
  const uint64_t len = bytes.size();
  uint64_t a = Mix(len ^ seed) + kMulC;
  uint64_t b = Mix(seed + len * kMulA);
  for (int i = 0; i < 8; ++i) {
    a = std::rotl(a ^ Mix(acc[i]), 23) * kMulB;
    b = (b + Mix(acc[i] ^ kMulC)) * kMulA;
  }
  Hash128 h;
  h.lo = Mix(a ^ std::rotl(b, 17));
  h.hi = Mix(b + std::rotl(h.lo, 41));
  return h;
}

}  // namespace

Hash128 HashBytes(std::span<const std::byte> bytes, uint64_t seed) {
  static const StripesFn stripes_fn = PickStripes();
  return HashWith(stripes_fn, bytes, seed);
}

Hash128 HashBytesBaseline(std::span<const std::byte> bytes, uint64_t seed) {
  return HashWith(StripesBase, bytes, seed);
}

}  // namespace accel::memory
