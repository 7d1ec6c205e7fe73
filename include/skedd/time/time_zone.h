#pragma once

#include <string>
#include <string_view>

#include <cctz/time_zone.h>

#include "skedd/util/result.h"

namespace skedd {

/// An IANA time zone as a value (cctz), never the process-global TZ. Cheap to copy.
class TimeZone {
 public:
  /// UTC.
  TimeZone();

  /// Loads a zone by IANA name ("Europe/Berlin", "UTC", "Etc/GMT+5"), or "local" for the
  /// host's zone ($TZ, then /etc/localtime). Fails with kInvalidArgument naming the zone.
  static Result<TimeZone> load(std::string_view name);

  /// The host's zone, named "local" unless /etc/timezone or $TZ names it.
  static TimeZone local();

  const std::string& name() const { return name_; }
  const cctz::time_zone& cctz_zone() const { return zone_; }

  friend bool operator==(const TimeZone& a, const TimeZone& b) { return a.name_ == b.name_; }

 private:
  TimeZone(std::string name, cctz::time_zone zone) : name_(std::move(name)), zone_(zone) {}

  std::string name_;
  cctz::time_zone zone_;
};

}  // namespace skedd
