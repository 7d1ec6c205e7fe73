// Timers, the runtime's seam to waiting: the clock (skedd/time/clock.h) is a pure source of
// "now"; a TimerService says when to look at it again. The real one is timerfds on the event
// loop; tests use FakeClock (tests/fakes), which implements both and fires its timers as it is
// advanced.
#pragma once

#include <functional>
#include <memory>

#include "skedd/time/types.h"

namespace skedd {

/// One deadline on the wall clock (CLOCK_REALTIME) that also learns of clock steps.
class WallTimer {
 public:
  /// true when the wall clock was set (NTP, date -s) before `at` was reached.
  using Handler = std::function<void(bool clock_was_set)>;
  virtual ~WallTimer() = default;
  /// Calls `handler` once, on the loop's thread, at `at` or as soon as the wall clock is set,
  /// whichever comes first. Replaces the wait armed before: its handler is never called.
  virtual void arm(Instant at, Handler handler) = 0;
  /// The armed handler is never called. Destroying the timer cancels it too.
  virtual void cancel() = 0;
};

/// One deadline on the monotonic clock that counts suspend (CLOCK_BOOTTIME).
class MonoTimer {
 public:
  using Handler = std::function<void()>;
  virtual ~MonoTimer() = default;
  /// Calls `handler` once, on the loop's thread, at `at`. Replaces the wait armed before.
  virtual void arm(MonoInstant at, Handler handler) = 0;
  virtual void cancel() = 0;
};

/// Makes timers. The service outlives the timers it made.
class TimerService {
 public:
  virtual ~TimerService() = default;
  virtual std::unique_ptr<WallTimer> wall_timer() = 0;
  virtual std::unique_ptr<MonoTimer> mono_timer() = 0;
};

}  // namespace skedd
