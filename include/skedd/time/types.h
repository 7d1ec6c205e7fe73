#pragma once

#include <chrono>

namespace skedd {

/// All durations in skedd: microseconds, enough for fractional `at` times and lateness.
using Duration = std::chrono::microseconds;

/// A wall-clock instant (UTC, CLOCK_REALTIME), for calendar decisions, display and persistence.
using Instant = std::chrono::sys_time<Duration>;

/// A monotonic instant (CLOCK_MONOTONIC or CLOCK_BOOTTIME), for timeouts, backoff and `every`.
using MonoInstant = std::chrono::time_point<std::chrono::steady_clock, Duration>;

}  // namespace skedd
