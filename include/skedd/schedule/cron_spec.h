#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <cctz/civil_time.h>

#include "skedd/time/time_zone.h"
#include "skedd/time/types.h"
#include "skedd/util/result.h"

namespace skedd {

/// What a fixed-time job does when its time falls in a DST gap (the clock jumps forward).
enum class DstSkipped : std::uint8_t {
  kRun,   ///< run once, right after the jump (cronie's behaviour; the default)
  kSkip,  ///< do not run that day
};

/// What a fixed-time job does when its time occurs twice (the clock falls back).
enum class DstRepeated : std::uint8_t {
  kOnce,   ///< run at the first occurrence only (cronie's behaviour; the default)
  kTwice,  ///< run at both occurrences
};

/// One computed fire time.
struct FireTime {
  Instant at;
  /// True when the wanted civil time did not exist (DST gap) and the fire was moved to the
  /// instant right after the jump; `wanted` then holds the civil time the job asked for.
  bool shifted = false;
  cctz::civil_second wanted{};
};

/// The five fields of a cron expression as sets, for a reader with a syntax of its own (crontab
/// files, read as Debian's cron reads them): bit n set when value n matches.
struct CronFieldSets {
  std::uint64_t minutes = 0;        ///< bits 0..59
  std::uint32_t hours = 0;          ///< bits 0..23
  std::uint32_t days_of_month = 0;  ///< bits 1..31
  std::uint16_t months = 0;         ///< bits 1..12
  std::uint8_t days_of_week = 0;    ///< bits 0..6, 0 = Sunday
  bool dom_star = false;            ///< the day-of-month text starts with '*' (the day rule)
  bool dow_star = false;            ///< the day-of-week text starts with '*'
  bool wall_time = false;           ///< the minute or hour text starts with '*' (DST handling)
};

/// A parsed cron expression bound to a time zone: field bitsets plus the cronie day rule.
/// Immutable after parsing; next_after() is pure, thread-safe and does not allocate.
class CronSpec {
 public:
  /// The next fire strictly after `after`, or nullopt when the expression never fires again
  /// (e.g. "0 0 30 2 *"). DST handling (DESIGN.md): a job whose minute or hour field starts
  /// with '*' follows wall time (times in a gap do not happen, repeated times happen twice);
  /// a fixed-time job follows dst_skipped() and dst_repeated().
  std::optional<FireTime> next_after(Instant after) const;

  /// True when the minute or hour field text starts with '*': the job follows wall time.
  bool follows_wall_time() const { return wall_time_; }
  /// True when no date in the 400-year Gregorian cycle matches.
  bool never_fires() const { return never_; }
  bool has_seconds_field() const { return has_seconds_; }

  const TimeZone& zone() const { return zone_; }
  DstSkipped dst_skipped() const { return dst_skipped_; }
  DstRepeated dst_repeated() const { return dst_repeated_; }
  void set_dst_policy(DstSkipped skipped, DstRepeated repeated) {
    dst_skipped_ = skipped;
    dst_repeated_ = repeated;
  }

  /// A human note for fires that DST moved or that fall in a repeated interval, e.g.
  /// "shifted: 02:30 does not exist on this day"; empty for ordinary fires.
  std::string dst_note(const FireTime& fire) const;

  /// True when the civil time matches every field and the day rule (zone not consulted).
  bool matches(const cctz::civil_second& t) const;

  /// The first matching civil time at or after `from`, looking at most until the end of
  /// `last_year`. Pure calendar search, no zone.
  std::optional<cctz::civil_second> next_civil_match(cctz::civil_second from,
                                                     std::int64_t last_year) const;

 private:
  friend class CronParser;
  friend Result<CronSpec> parse_cron(std::string_view text, const TimeZone& zone);

  /// The CronSpec of fields read elsewhere; bits outside the ranges above are ignored. Empty
  /// sets are allowed: such a spec never fires (never_fires() says so).
  CronSpec cron_spec_from_sets(const CronFieldSets& sets, const TimeZone& zone);
  friend CronSpec cron_spec_from_sets(const CronFieldSets& sets, const TimeZone& zone);

  /// Bit d (1..31) set for each matching day of month m of year y.
  std::uint32_t day_mask(std::int64_t y, int m) const;

  std::uint64_t seconds_ = 0;              // bits 0..59
  std::uint64_t minutes_ = 0;              // bits 0..59
  std::uint32_t hours_ = 0;                // bits 0..23
  std::uint32_t dom_ = 0;                  // bits 1..31
  std::uint32_t dom_nearest_weekday_ = 0;  // "nW": bits n = 1..31
  std::uint64_t dow_nth_ = 0;              // "w#k": bit w*5 + (k-1)
  std::uint16_t months_ = 0;               // bits 1..12
  std::uint8_t dow_ = 0;                   // bits 0..6, 0 = Sunday
  std::uint8_t dow_last_ = 0;              // "wL": bits 0..6
  bool dom_last_ = false;                  // "L"
  bool dom_last_weekday_ = false;          // "LW"
  bool dom_star_ = false;                  // day-of-month text starts with '*' or '?'
  bool dow_star_ = false;                  // day-of-week text starts with '*' or '?'
  bool wall_time_ = false;
  bool never_ = false;
  bool has_seconds_ = false;
  DstSkipped dst_skipped_ = DstSkipped::kRun;
  DstRepeated dst_repeated_ = DstRepeated::kOnce;
  TimeZone zone_;
};

/// Parses a cron expression: 5 fields (minute hour day-of-month month day-of-week) or 6 with
/// leading seconds, or a macro (@yearly @annually @monthly @weekly @daily @midnight @hourly).
/// Fields take lists, ranges, steps (*/n, a-b/n, a/n), names JAN-DEC and SUN-SAT in any case,
/// '?' as '*', day-of-week 0 and 7 for Sunday, L / LW / nW in day-of-month, nL and n#k in
/// day-of-week. Errors name the field, the token and its 1-based column, e.g.
/// `minute field: 61 is out of range 0-59 (column 1 of "61 * * * *")`.
Result<CronSpec> parse_cron(std::string_view text, const TimeZone& zone);

/// The CronSpec of fields read elsewhere; bits outside the ranges above are ignored. Empty
/// sets are allowed: such a spec never fires (never_fires() says so).
CronSpec cron_spec_from_sets(const CronFieldSets& sets, const TimeZone& zone);

}  // namespace skedd
