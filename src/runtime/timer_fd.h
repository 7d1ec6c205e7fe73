// A timerfd read through Asio: one deadline on one kernel clock.
#pragma once

#include <time.h>

#include <chrono>
#include <functional>

#include "util/asio.h"

namespace skedd {

class TimerFd {
 public:
  /// Creates a timerfd on `clock` (CLOCK_REALTIME or CLOCK_BOOTTIME). Throws
  /// std::system_error on failure (start-up only).
  TimerFd(asio::io_context& io, clockid_t clock);
  TimerFd(const TimerFd&) = delete;
  TimerFd& operator=(const TimerFd&) = delete;

  /// Arms the timer for an absolute instant on its clock (time since the clock's epoch).
  /// With `cancel_on_set` (CLOCK_REALTIME only) a wait ends early when the clock is set.
  void arm(std::chrono::microseconds at, bool cancel_on_set);

  /// Calls `handler(clock_was_set)` once, when the timer expires or (with cancel_on_set) the
  /// clock was set. Not called after cancel().
  void async_wait(std::function<void(bool clock_was_set)> handler);
  void cancel();

 private:
  asio::posix::stream_descriptor fd_;
};

}  // namespace skedd
