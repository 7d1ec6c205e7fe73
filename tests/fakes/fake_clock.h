// A clock that moves only when told to, and the timers that wait on it.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "skedd/runtime/timers.h"
#include "skedd/time/clock.h"
#include "skedd/util/random.h"

namespace skedd::test {

/// Implements both seams: Clock (a value source) and TimerService (what waits on it). Its
/// timers fire only inside advance() and step_wall(), on the caller's thread, in (due, arm
/// order) order, with the clock standing at each one's due instant while its handler runs: a
/// handler that arms a timer due within the advance sees it fire in the same call. The clock
/// outlives its timers. Time may be read from any thread (handler threads do); timers are
/// armed and fired on one (the scheduler's loop).
class FakeClock final : public Clock, public TimerService {
 public:
  explicit FakeClock(Instant wall, MonoInstant mono = MonoInstant(std::chrono::hours(1)))
      : wall_(wall.time_since_epoch().count()), mono_(mono.time_since_epoch().count()) {}
  FakeClock(const FakeClock&) = delete;
  FakeClock& operator=(const FakeClock&) = delete;

  Instant wall_now() const override { return Instant(Duration(wall_.load())); }
  MonoInstant mono_now() const override { return MonoInstant(Duration(mono_.load())); }

  /// Time passes (suspend included: CLOCK_BOOTTIME counts it too), firing the timers due by
  /// its end.
  void advance(Duration d) {
    const MonoInstant end = mono_now() + d;
    while (Slot* slot = first_due(end)) {
      const Duration to = due_in(*slot);
      if (to > Duration::zero()) move(to);
      fire(*slot, false);
    }
    move(end - mono_now());
  }
  /// Advances to the next armed deadline (firing it and any due with it); false when none.
  bool advance_to_next() {
    Slot* slot = first_due(std::nullopt);
    if (slot == nullptr) return false;
    advance(std::max(due_in(*slot), Duration::zero()));
    return true;
  }
  /// Someone set the wall clock (NTP, date -s); monotonic time does not move. Every armed
  /// wall timer learns of it (clock_was_set), as a timerfd with TFD_TIMER_CANCEL_ON_SET does.
  void step_wall(Duration d) {
    wall_ += d.count();
    std::vector<Slot*> wall;
    for (Slot* slot : slots_) {
      if (slot->armed && slot->wall) wall.push_back(slot);
    }
    std::sort(wall.begin(), wall.end(), [](Slot* a, Slot* b) { return a->seq < b->seq; });
    for (Slot* slot : wall) {
      // An earlier handler may have destroyed it.
      if (std::find(slots_.begin(), slots_.end(), slot) != slots_.end() && slot->armed) {
        fire(*slot, true);
      }
    }
  }
  /// How long until the first armed timer is due (zero or less: due now); nullopt: none.
  std::optional<Duration> next_due() {
    const Slot* slot = first_due(std::nullopt);
    if (slot == nullptr) return std::nullopt;
    return due_in(*slot);
  }
  /// How many timers are armed.
  std::size_t armed() const {
    return static_cast<std::size_t>(
        std::count_if(slots_.begin(), slots_.end(), [](Slot* s) { return s->armed; }));
  }

  std::unique_ptr<WallTimer> wall_timer() override { return std::make_unique<Wall>(*this); }
  std::unique_ptr<MonoTimer> mono_timer() override { return std::make_unique<Mono>(*this); }

 private:
  struct Slot {
    bool wall = false;
    bool armed = false;
    Instant wall_at{};
    MonoInstant mono_at{};
    std::uint64_t seq = 0;
    std::function<void(bool)> handler;
  };

  class Wall final : public WallTimer {
   public:
    explicit Wall(FakeClock& clock) : clock_(clock) {
      slot_.wall = true;
      clock_.slots_.push_back(&slot_);
    }
    ~Wall() override { clock_.forget(&slot_); }
    void arm(Instant at, Handler handler) override {
      slot_.wall_at = at;
      clock_.arm(slot_, std::move(handler));
    }
    void cancel() override { slot_.armed = false; }

   private:
    FakeClock& clock_;
    Slot slot_;
  };

  class Mono final : public MonoTimer {
   public:
    explicit Mono(FakeClock& clock) : clock_(clock) { clock_.slots_.push_back(&slot_); }
    ~Mono() override { clock_.forget(&slot_); }
    void arm(MonoInstant at, Handler handler) override {
      slot_.mono_at = at;
      clock_.arm(slot_, [handler = std::move(handler)](bool) { handler(); });
    }
    void cancel() override { slot_.armed = false; }

   private:
    FakeClock& clock_;
    Slot slot_;
  };

  void arm(Slot& slot, std::function<void(bool)> handler) {
    slot.handler = std::move(handler);
    slot.armed = true;
    slot.seq = next_seq_++;
  }
  void forget(Slot* slot) { std::erase(slots_, slot); }
  Duration due_in(const Slot& slot) const {
    return slot.wall ? slot.wall_at - wall_now() : slot.mono_at - mono_now();
  }
  void move(Duration d) {
    wall_ += d.count();
    mono_ += d.count();
  }
  /// The armed timer due first (by due instant, then arm order), if due by `end`.
  Slot* first_due(std::optional<MonoInstant> end) {
    Slot* first = nullptr;
    for (Slot* slot : slots_) {
      if (!slot->armed) continue;
      if (first == nullptr || due_in(*slot) < due_in(*first) ||
          (due_in(*slot) == due_in(*first) && slot->seq < first->seq)) {
        first = slot;
      }
    }
    if (first == nullptr || (end && mono_now() + due_in(*first) > *end)) return nullptr;
    return first;
  }
  /// Disarms the timer and calls its handler (which may arm it, or destroy it, again).
  void fire(Slot& slot, bool clock_was_set) {
    slot.armed = false;
    auto handler = std::move(slot.handler);
    handler(clock_was_set);
  }

  std::atomic<Duration::rep> wall_;  ///< since the epoch
  std::atomic<Duration::rep> mono_;
  std::vector<Slot*> slots_;  ///< every live timer's, armed or not
  std::uint64_t next_seq_ = 0;
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
