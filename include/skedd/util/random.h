#pragma once

#include <cstdint>
#include <random>
#include <string_view>

namespace skedd {

/// A source of random numbers, injected so that jitter and backoff are testable.
class Random {
 public:
  virtual ~Random() = default;
  /// A uniformly distributed 64-bit value.
  virtual std::uint64_t next() = 0;
  /// A value uniformly distributed in [0, bound); 0 when bound is 0.
  std::uint64_t below(std::uint64_t bound) { return bound == 0 ? 0 : next() % bound; }
};

/// A Mersenne Twister seeded from std::random_device, or from `seed` for reproducibility.
class SeededRandom final : public Random {
 public:
  SeededRandom() : engine_(std::random_device{}()) {}
  explicit SeededRandom(std::uint64_t seed) : engine_(seed) {}
  std::uint64_t next() override { return engine_(); }

 private:
  std::mt19937_64 engine_;
};

/// FNV-1a: a hash that stays the same across builds and platforms (std::hash does not), for
/// stable per-job offsets.
inline std::uint64_t stable_hash(std::string_view text) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

}  // namespace skedd
