#include "skedd/time/time_zone.h"

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <list>
#include <mutex>
#include <optional>

#include "util/suggest.h"

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

// Every zone loaded by name, never freed: a handful per process (cctz keeps them too).
struct Registry {
  std::mutex mutex;
  std::list<TimeZone::Loaded> zones;  // stable addresses
};

Registry& registry() {
  static Registry r;
  return r;
}

const TimeZone::Loaded& utc() {
  static const TimeZone::Loaded zone{"UTC", cctz::utc_time_zone()};
  return zone;
}

// An IANA name: at most 64 characters, '/'-separated parts of letters, digits, '_', '-' and
// '+'. cctz opens any other name as a path (an absolute one as it is), so a job's `timezone`
// or a crontab's CRON_TZ could make skedd, as root, read a file or block on a FIFO of the
// user's choosing; and every zone loaded stays loaded, which this bounds to the files of the
// zoneinfo directory.
bool iana_name(std::string_view name) {
  if (name.size() > 64 || name.front() == '/' || name.back() == '/') return false;
  char previous = '/';
  for (char c : name) {
    const bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '-' || c == '+';
    if (!word && !(c == '/' && previous != '/')) return false;
    previous = c;
  }
  return true;
}

}  // namespace

TimeZone::TimeZone() : loaded_(&utc()) {}

Result<TimeZone> TimeZone::load(std::string_view name) {
  if (name == "local") return local();
  if (name.empty()) return Error::invalid_argument("empty time zone name");
  if (name == "UTC") return TimeZone();
  if (!iana_name(name)) {
    return Error::invalid_argument("invalid time zone name \"" + std::string(name) +
                                   "\" (expected an IANA name such as \"Europe/Berlin\": "
                                   "letters, digits, '_', '-', '+' and '/')");
  }
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  for (const Loaded& loaded : r.zones) {
    if (loaded.name == name) return TimeZone(&loaded);
  }
  cctz::time_zone zone;
  if (!cctz::load_time_zone(std::string(name), &zone)) {
    const std::optional<std::string> nearest = nearest_zone(name);
    return Error::invalid_argument("unknown time zone \"" + std::string(name) + "\" (" +
                                   (nearest ? "did you mean " + *nearest + "?"
                                            : "expected an IANA name such as \"Europe/Berlin\"") +
                                   ")");
  }
  return TimeZone(&r.zones.emplace_back(Loaded{std::string(name), zone}));
}

std::optional<std::string> nearest_zone(std::string_view name) {
  // The zone files under the tz database's directory ($TZDIR, else /usr/share/zoneinfo), on
  // this error path only; its posix/ and right/ copies and lower-case files are not names.
  const char* tzdir = std::getenv("TZDIR");
  const std::filesystem::path root =
      tzdir != nullptr && *tzdir != '\0' ? tzdir : "/usr/share/zoneinfo";
  Suggestion nearest(name);
  std::error_code ec;
  std::filesystem::recursive_directory_iterator it(root, ec), end;
  for (std::size_t seen = 0; !ec && it != end && seen < 5000; it.increment(ec), ++seen) {
    const std::string relative = it->path().lexically_relative(root).string();
    if (relative == "posix" || relative == "right") {
      it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file(ec) || relative.empty() ||
        !std::isupper(static_cast<unsigned char>(relative[0]))) {
      continue;
    }
    nearest.offer(relative);
  }
  return nearest.best();
}

TimeZone TimeZone::local() {
  // Read once: every default-constructed configuration asks, and cctz keeps the zone it
  // loaded for the life of the process anyway (restart skedd after changing the host zone).
  static const Loaded host{host_zone_name(), cctz::local_time_zone()};
  return TimeZone(&host);
}

}  // namespace skedd
