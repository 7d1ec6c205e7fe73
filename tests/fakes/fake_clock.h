// A clock that moves only when told to.
#pragma once

#include <algorithm>
#include <vector>

#include "skedd/time/clock.h"
#include "skedd/util/random.h"

namespace skedd::test {

class FakeClock final : public Clock {
 public:
  explicit FakeClock(Instant wall, MonoInstant mono = MonoInstant(std::chrono::hours(1)))
      : wall_(wall), mono_(mono) {}

  Instant wall_now() const override { return wall_; }
  MonoInstant mono_now() const override { return mono_; }

  /// Time passes (suspend included: CLOCK_BOOTTIME counts it too).
  void advance(Duration d) {
    wall_ += d;
    mono_ += d;
  }
  /// Someone set the wall clock (NTP, date -s); monotonic time does not move.
  void step_wall(Duration d) { wall_ += d; }

 private:
  Instant wall_;
  MonoInstant mono_;
};

/// Returns the given values in turn, then repeats the last one.
class ScriptedRandom final : public Random {
 public:
  explicit ScriptedRandom(std::vector<std::uint64_t> values) : values_(std::move(values)) {}
  std::uint64_t next() override {
    const std::uint64_t v = values_[std::min(i_, values_.size() - 1)];
    ++i_;
    return v;
  }

 private:
  std::vector<std::uint64_t> values_;
  std::size_t i_ = 0;
};

}  // namespace skedd::test
