#include "skedd/time/clock.h"

#include <time.h>

namespace skedd {

Instant SystemClock::wall_now() const {
  return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
}

MonoInstant SystemClock::mono_now() const {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return MonoInstant(Duration(std::int64_t{ts.tv_sec} * 1'000'000 + ts.tv_nsec / 1'000));
}

}  // namespace skedd
