#pragma once

#include <string>
#include <vector>

#include "skedd/schedule/schedule.h"
#include "skedd/time/timestamp.h"

namespace skedd::testing {

inline TimeZone zone(const std::string& name) {
  return TimeZone::load(name).value();
}

inline Instant at(const std::string& rfc3339, const TimeZone& z = TimeZone()) {
  return parse_timestamp(rfc3339, z).value();
}

/// The next `n` fires of a cron expression after `from` (a local time in `zone_name`, or
/// RFC 3339), formatted in the zone; the fires DST shifted are suffixed with " shifted".
inline std::vector<std::string> next_fires(const std::string& expr, const std::string& zone_name,
                                           const std::string& from, int n,
                                           DstSkipped skipped = DstSkipped::kRun,
                                           DstRepeated repeated = DstRepeated::kOnce) {
  const TimeZone z = zone(zone_name);
  auto spec = parse_cron(expr, z);
  if (!spec) return {"parse error: " + spec.error().message};
  spec->set_dst_policy(skipped, repeated);
  std::vector<std::string> out;
  Instant t = at(from, z);
  for (int i = 0; i < n; ++i) {
    auto fire = spec->next_after(t);
    if (!fire) {
      out.push_back("never");
      break;
    }
    out.push_back(format_rfc3339(fire->at, z) + (fire->shifted ? " shifted" : ""));
    t = fire->at;
  }
  return out;
}

using Fires = std::vector<std::string>;

}  // namespace skedd::testing
