// Cron expressions (`cron = "..."` of a job, a crontab line's time fields, `skedctl next`):
// parse_cron in UTC and in a zone with DST. A parsed expression's fires come strictly in
// order, each at a civil time the expression matches unless DST shifted it, and a search for
// the next fire ends (the spec promises a 400-year bound).
#include <string>

#include "fuzz/fuzz_support.h"
#include "skedd/schedule/cron_spec.h"
#include "skedd/schedule/schedule.h"
#include "skedd/time/timestamp.h"

using namespace skedd;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const TimeZone zones[] = {TimeZone(), TimeZone::load("Europe/Berlin").value()};
  // Around the spring change in Berlin, so that gaps and repeats are exercised.
  static const Instant from = parse_rfc3339("2026-03-29T00:30:00Z").value();
  const std::string_view text = fuzz::text_of(data, size);
  for (const TimeZone& zone : zones) {
    Result<CronSpec> spec = parse_cron(text, zone);
    fuzz::require_message(spec, "parse_cron");
    Result<Schedule> schedule = parse_cron_schedule(text, zone);
    fuzz::require_message(schedule, "parse_cron_schedule");
    if (spec.ok()) {
      fuzz::require(schedule.ok(), "a cron expression is a cron schedule", std::string(text));
    }
    if (!spec.ok()) continue;
    Instant after = from;
    for (int i = 0; i < 4; ++i) {
      std::optional<FireTime> fire = spec->next_after(after);
      if (!fire) break;
      fuzz::require(fire->at > after, "fires come strictly after the instant asked",
                    std::string(text) + " after " + format_rfc3339_utc(after));
      if (!fire->shifted) {
        const auto civil =
            cctz::convert(std::chrono::time_point_cast<cctz::seconds>(fire->at), zone.cctz_zone());
        fuzz::require(spec->matches(civil), "a fire's civil time matches the expression",
                      std::string(text) + " at " + format_rfc3339_utc(fire->at));
      }
      after = fire->at;
    }
    fuzz::require(!spec->never_fires() || !spec->next_after(from).has_value(),
                  "an expression that never fires has no next fire", std::string(text));
  }
  return 0;
}
