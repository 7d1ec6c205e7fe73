// The real TimerService: a timerfd per timer, read through Asio.
#pragma once

#include "skedd/runtime/timers.h"
#include "util/asio.h"

namespace skedd {

class SystemTimers final : public TimerService {
 public:
  /// Timers made here wait on `io`, which must outlive them.
  explicit SystemTimers(asio::io_context& io) : io_(io) {}
  /// Both throw std::system_error when a timerfd cannot be made (start-up only).
  std::unique_ptr<WallTimer> wall_timer() override;
  std::unique_ptr<MonoTimer> mono_timer() override;

 private:
  asio::io_context& io_;
};

}  // namespace skedd
