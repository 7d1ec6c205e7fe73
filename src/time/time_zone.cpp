#include "skedd/time/time_zone.h"

#include <cstdlib>
#include <fstream>

namespace skedd {
namespace {

// The host zone's IANA name when the host says it: $TZ (without a leading ':'), else the
// first line of /etc/timezone (Debian). Only for display: the zone itself comes from cctz.
std::string host_zone_name() {
  if (const char* tz = std::getenv("TZ"); tz != nullptr && *tz != '\0') {
    std::string name = tz;
    if (name.front() == ':') name.erase(0, 1);
    return name;
  }
  std::ifstream in("/etc/timezone");
  std::string line;
  if (in && std::getline(in, line) && !line.empty()) return line;
  return "local";
}

}  // namespace

TimeZone::TimeZone() : name_("UTC"), zone_(cctz::utc_time_zone()) {}

Result<TimeZone> TimeZone::load(std::string_view name) {
  if (name == "local") return local();
  if (name.empty()) return Error::invalid_argument("empty time zone name");
  cctz::time_zone zone;
  // cctz also accepts POSIX TZ strings and fixed offsets ("UTC+5"); IANA names are the
  // documented form, but a name cctz can load is accepted.
  if (!cctz::load_time_zone(std::string(name), &zone)) {
    return Error::invalid_argument("unknown time zone \"" + std::string(name) +
                                   "\" (expected an IANA name such as \"Europe/Berlin\")");
  }
  return TimeZone(std::string(name), zone);
}

TimeZone TimeZone::local() {
  // Read once: every default-constructed configuration asks, and cctz keeps the zone it
  // loaded for the life of the process anyway (restart skedd after changing the host zone).
  static const TimeZone host(host_zone_name(), cctz::local_time_zone());
  return host;
}

}  // namespace skedd
