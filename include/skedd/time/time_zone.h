#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <cctz/time_zone.h>

#include "skedd/util/result.h"

namespace skedd {

/// An IANA time zone as a value (cctz), never the process-global TZ. One pointer: each zone
/// is loaded once per process and kept (as cctz keeps it), so copies cost nothing.
class TimeZone {
 public:
  /// UTC.
  TimeZone();

  /// Loads a zone by IANA name ("Europe/Berlin", "UTC", "Etc/GMT+5"), or "local" for the
  /// host's zone ($TZ, then /etc/localtime). Fails with kInvalidArgument naming the zone,
  /// also for a name that is not IANA-shaped (a path, '.', ':'; more than 64 characters),
  /// which is never opened.
  static Result<TimeZone> load(std::string_view name);

  /// The host's zone, named "local" unless /etc/timezone or $TZ names it.
  static TimeZone local();

  const std::string& name() const { return loaded_->name; }
  const cctz::time_zone& cctz_zone() const { return loaded_->zone; }

  friend bool operator==(const TimeZone& a, const TimeZone& b) {
    return a.loaded_ == b.loaded_ || a.loaded_->name == b.loaded_->name;
  }

  /// A loaded zone: its name as given, and cctz's zone.
  struct Loaded {
    std::string name;
    cctz::time_zone zone;
  };

 private:
  explicit TimeZone(const Loaded* loaded) : loaded_(loaded) {}

  const Loaded* loaded_;  ///< never null; lives as long as the process
};

/// The zone of the tz database ($TZDIR, else /usr/share/zoneinfo) nearest to `name`, for a
/// "did you mean" (see util/suggest.h); nullopt when none is near.
std::optional<std::string> nearest_zone(std::string_view name);

}  // namespace skedd
