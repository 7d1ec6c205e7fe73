#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "skedd/schedule/cron_spec.h"
#include "skedd/time/time_zone.h"
#include "skedd/time/types.h"
#include "skedd/util/result.h"

namespace skedd {

/// `cron = "..."`: calendar fires in a zone.
struct CronSchedule {
  CronSpec spec;
};

/// `every = "90s"` (or cron "@every 90s"): fixed rate from an anchor, following elapsed time.
struct EverySchedule {
  Duration interval;
};

/// `at = "<RFC 3339>"`: one fire.
struct AtSchedule {
  Instant at;
};

/// `cron = "@reboot"`: once per boot; not a time.
struct RebootSchedule {};

/// How a job is scheduled. Parsed once from config; pure.
struct Schedule {
  std::variant<CronSchedule, EverySchedule, AtSchedule, RebootSchedule> kind;
  /// The text the user wrote, for display ("30 2 * * *", "every 90s", "at 2026-...").
  std::string text;

  bool is_cron() const { return std::holds_alternative<CronSchedule>(kind); }
  bool is_every() const { return std::holds_alternative<EverySchedule>(kind); }
  bool is_at() const { return std::holds_alternative<AtSchedule>(kind); }
  bool is_reboot() const { return std::holds_alternative<RebootSchedule>(kind); }

  /// The next fire strictly after `after`. For `every`, fires are anchor + k * interval
  /// (k >= 1; the anchor is the previous scheduled fire, or when the job was first
  /// scheduled); `anchor` is ignored by other kinds. @reboot and past `at` give nullopt.
  std::optional<FireTime> next_after(Instant after, Instant anchor) const;
};

/// Parses a `cron` value: a cron expression or macro (see parse_cron), "@reboot", or
/// "@every <duration>".
Result<Schedule> parse_cron_schedule(std::string_view text, const TimeZone& zone);

/// Parses an `every` value: a duration of at least one second.
Result<Schedule> parse_every_schedule(std::string_view text);

/// Parses an `at` value: an RFC 3339 timestamp with an offset.
Result<Schedule> parse_at_schedule(std::string_view text);

/// Parses what `skedctl next` takes: anything parse_cron_schedule takes, "every <duration>",
/// or an RFC 3339 timestamp (a one-shot).
Result<Schedule> parse_schedule_expression(std::string_view text, const TimeZone& zone);

}  // namespace skedd
