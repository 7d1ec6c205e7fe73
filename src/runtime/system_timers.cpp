#include "runtime/system_timers.h"

#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <system_error>

namespace skedd {
namespace {

// One deadline on one kernel clock. Each arm() starts a generation: a completion of an earlier
// one (queued before the re-arm) is dropped, so a handler runs once per arm() and never after
// cancel() or the timer's end.
class TimerFd {
 public:
  TimerFd(asio::io_context& io, clockid_t clock) : fd_(io, create(clock)) {}
  ~TimerFd() { ++*generation_; }
  TimerFd(const TimerFd&) = delete;
  TimerFd& operator=(const TimerFd&) = delete;

  // `at`: time since the clock's epoch. With `cancel_on_set` (CLOCK_REALTIME only) the wait
  // ends early when the clock is set.
  void arm(std::chrono::microseconds at, bool cancel_on_set,
           std::function<void(bool clock_was_set)> handler) {
    cancel();
    itimerspec spec{};
    // 0 would disarm: an instant at or before the epoch means "now".
    const std::int64_t us = std::max<std::int64_t>(at.count(), 1);
    spec.it_value.tv_sec = us / 1'000'000;
    spec.it_value.tv_nsec = (us % 1'000'000) * 1'000;
    int flags = TFD_TIMER_ABSTIME;
    if (cancel_on_set) flags |= TFD_TIMER_CANCEL_ON_SET;
    if (::timerfd_settime(fd_.native_handle(), flags, &spec, nullptr) != 0) {
      throw std::system_error(errno, std::generic_category(), "timerfd_settime");
    }
    wait(*generation_, std::move(handler));
  }

  void cancel() {
    ++*generation_;
    fd_.cancel();
  }

 private:
  static int create(clockid_t clock) {
    const int fd = ::timerfd_create(clock, TFD_NONBLOCK | TFD_CLOEXEC);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "timerfd_create");
    return fd;
  }

  void wait(std::uint64_t generation, std::function<void(bool)> handler) {
    fd_.async_wait(asio::posix::stream_descriptor::wait_read,
                   [this, current = generation_, generation,
                    handler = std::move(handler)](const boost::system::error_code& ec) mutable {
                     // A later arm(), cancel() or the destructor moved the generation on
                     // (then `this` may be gone): this wait is over.
                     if (ec || generation != *current) return;
                     std::uint64_t expirations = 0;
                     const ssize_t n =
                         ::read(fd_.native_handle(), &expirations, sizeof expirations);
                     // Readable and then not (a spurious wakeup): the deadline stands.
                     if (n < 0 && errno == EAGAIN) return wait(generation, std::move(handler));
                     ++*generation_;
                     // ECANCELED: CLOCK_REALTIME was set (TFD_TIMER_CANCEL_ON_SET).
                     handler(n < 0 && errno == ECANCELED);
                   });
  }

  asio::posix::stream_descriptor fd_;
  /// Shared with the waits, which outlive the timer when it is destroyed while they are queued.
  std::shared_ptr<std::uint64_t> generation_ = std::make_shared<std::uint64_t>(0);
};

class SystemWallTimer final : public WallTimer {
 public:
  explicit SystemWallTimer(asio::io_context& io) : fd_(io, CLOCK_REALTIME) {}
  void arm(Instant at, Handler handler) override {
    fd_.arm(at.time_since_epoch(), true, std::move(handler));
  }
  void cancel() override { fd_.cancel(); }

 private:
  TimerFd fd_;
};

class SystemMonoTimer final : public MonoTimer {
 public:
  explicit SystemMonoTimer(asio::io_context& io) : fd_(io, CLOCK_BOOTTIME) {}
  void arm(MonoInstant at, Handler handler) override {
    fd_.arm(at.time_since_epoch(), false, [handler = std::move(handler)](bool) { handler(); });
  }
  void cancel() override { fd_.cancel(); }

 private:
  TimerFd fd_;
};

}  // namespace

std::unique_ptr<WallTimer> SystemTimers::wall_timer() {
  return std::make_unique<SystemWallTimer>(io_);
}

std::unique_ptr<MonoTimer> SystemTimers::mono_timer() {
  return std::make_unique<SystemMonoTimer>(io_);
}

}  // namespace skedd
