#include "runtime/timer_fd.h"

#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <system_error>

namespace skedd {
namespace {

int create(clockid_t clock) {
  const int fd = ::timerfd_create(clock, TFD_NONBLOCK | TFD_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "timerfd_create");
  return fd;
}

}  // namespace

TimerFd::TimerFd(asio::io_context& io, clockid_t clock) : fd_(io, create(clock)) {}

void TimerFd::arm(std::chrono::microseconds at, bool cancel_on_set) {
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
}

void TimerFd::async_wait(std::function<void(bool)> handler) {
  fd_.async_wait(asio::posix::stream_descriptor::wait_read,
                 [this, handler = std::move(handler)](const boost::system::error_code& ec) {
                   if (ec) return;  // operation_aborted: cancelled or shutting down
                   std::uint64_t expirations = 0;
                   const ssize_t n = ::read(fd_.native_handle(), &expirations, sizeof expirations);
                   // ECANCELED: CLOCK_REALTIME was set (TFD_TIMER_CANCEL_ON_SET). EAGAIN: the
                   // timer was re-armed after it became readable; either way, look again.
                   handler(n < 0 && errno == ECANCELED);
                 });
}

void TimerFd::cancel() {
  fd_.cancel();
}

}  // namespace skedd
