// How instants and durations appear as fields of log events.
#pragma once

#include <string>

#include "skedd/time/timestamp.h"
#include "skedd/time/types.h"

namespace skedd {

inline std::string utc(Instant t) {
  return format_rfc3339_utc(t);
}

// From whole microseconds, so that they print without binary noise (0.138, not 0.13799...).
inline double seconds(Duration d) {
  return static_cast<double>(d.count()) / 1e6;
}
inline double millis(Duration d) {
  return static_cast<double>(d.count()) / 1e3;
}

}  // namespace skedd
