#include <catch2/catch.hpp>

#include "schedule/schedule_helpers.h"

using skedd::parse_cron;
using skedd::TimeZone;
using skedd::testing::Fires;
using skedd::testing::next_fires;

namespace {
std::string parse_error(const std::string& expr) {
  auto spec = parse_cron(expr, TimeZone());
  return spec.ok() ? "(parsed)" : spec.error().message;
}
bool matches(const std::string& expr, int y, int mo, int d, int h, int mi, int s = 0) {
  return parse_cron(expr, TimeZone()).value().matches(cctz::civil_second(y, mo, d, h, mi, s));
}
}  // namespace

TEST_CASE("lists, ranges and steps", "[cron][parse]") {
  CHECK(next_fires("5,10-12,*/20 * * * *", "UTC", "2026-01-01T00:00:00Z", 7) ==
        Fires{"2026-01-01T00:05:00Z", "2026-01-01T00:10:00Z", "2026-01-01T00:11:00Z",
              "2026-01-01T00:12:00Z", "2026-01-01T00:20:00Z", "2026-01-01T00:40:00Z",
              "2026-01-01T01:00:00Z"});
  // a-b/n and a/n (a, a+n, ... to the field's end)
  CHECK(next_fires("0 1-9/4 * * *", "UTC", "2026-01-01T00:00:00Z", 4) ==
        Fires{"2026-01-01T01:00:00Z", "2026-01-01T05:00:00Z", "2026-01-01T09:00:00Z",
              "2026-01-02T01:00:00Z"});
  CHECK(next_fires("50/5 * * * *", "UTC", "2026-01-01T00:00:00Z", 3) ==
        Fires{"2026-01-01T00:50:00Z", "2026-01-01T00:55:00Z", "2026-01-01T01:50:00Z"});
  // a step larger than the range keeps only the start
  CHECK(next_fires("*/90 * * * *", "UTC", "2026-01-01T00:30:00Z", 2) ==
        Fires{"2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z"});
}

TEST_CASE("six fields put seconds first", "[cron][parse]") {
  CHECK(next_fires("*/15 * * * * *", "UTC", "2026-01-01T00:00:00Z", 3) ==
        Fires{"2026-01-01T00:00:15Z", "2026-01-01T00:00:30Z", "2026-01-01T00:00:45Z"});
  CHECK(next_fires("30 0 12 * * *", "UTC", "2026-01-01T00:00:00Z", 2) ==
        Fires{"2026-01-01T12:00:30Z", "2026-01-02T12:00:30Z"});
}

TEST_CASE("month and weekday names in any case", "[cron][parse]") {
  CHECK(matches("0 0 * jan,Mar,DEC *", 2026, 3, 1, 0, 0));
  CHECK_FALSE(matches("0 0 * jan,Mar,DEC *", 2026, 2, 1, 0, 0));
  CHECK(matches("0 9 * * mon-FRI", 2026, 11, 27, 9, 0));        // a Friday
  CHECK_FALSE(matches("0 9 * * mon-FRI", 2026, 11, 28, 9, 0));  // a Saturday
  CHECK(matches("0 9 * * Fri-Sun", 2026, 11, 29, 9, 0));        // Sunday written as 0
  CHECK(matches("0 9 * JUN-AUG/2 *", 2026, 8, 1, 9, 0));
  CHECK_FALSE(matches("0 9 * JUN-AUG/2 *", 2026, 7, 1, 9, 0));
}

TEST_CASE("day-of-week 0 and 7 are both Sunday, ? is *", "[cron][parse]") {
  for (const char* expr : {"0 0 * * 0", "0 0 * * 7", "0 0 * * SUN", "0 0 ? * 0", "0 0 * * 5-7"}) {
    INFO(expr);
    CHECK(matches(expr, 2026, 11, 29, 0, 0));  // Sunday
  }
  CHECK(next_fires("0 0 ? * ?", "UTC", "2026-01-01T00:00:00Z", 1) == Fires{"2026-01-02T00:00:00Z"});
}

TEST_CASE("the cronie day rule: restricted both means either, a star means both", "[cron][parse]") {
  // Both restricted: the 1st or any Monday.
  CHECK(next_fires("0 0 1 * 1", "UTC", "2026-06-01T00:00:00Z", 3) ==
        Fires{"2026-06-08T00:00:00Z", "2026-06-15T00:00:00Z", "2026-06-22T00:00:00Z"});
  // Day-of-month starts with '*': odd days that are Mondays.
  CHECK(next_fires("0 0 */2 * 1", "UTC", "2026-01-01T00:00:00Z", 5) ==
        Fires{"2026-01-05T00:00:00Z", "2026-01-19T00:00:00Z", "2026-02-09T00:00:00Z",
              "2026-02-23T00:00:00Z", "2026-03-09T00:00:00Z"});
  // Day-of-week starts with '*': only the 13th.
  CHECK(next_fires("0 0 13 * */1", "UTC", "2026-01-01T00:00:00Z", 2) ==
        Fires{"2026-01-13T00:00:00Z", "2026-02-13T00:00:00Z"});
  // "1-31" is not a star: either matches, so every day.
  CHECK(next_fires("0 0 1-31 * 1", "UTC", "2026-01-01T00:00:00Z", 2) ==
        Fires{"2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z"});
}

TEST_CASE("L, LW and nW in day-of-month", "[cron][parse]") {
  CHECK(next_fires("0 0 L * *", "UTC", "2027-12-31T12:00:00Z", 3) ==
        Fires{"2028-01-31T00:00:00Z", "2028-02-29T00:00:00Z", "2028-03-31T00:00:00Z"});
  CHECK(next_fires("0 0 L 2 *", "UTC", "2026-12-31T12:00:00Z", 3) ==
        Fires{"2027-02-28T00:00:00Z", "2028-02-29T00:00:00Z", "2029-02-28T00:00:00Z"});
  // Last weekday: Jan 2027 ends on a Sunday (Fri 29th); Feb 2027 on a Sunday (Fri 26th);
  // Oct 2026 ends on a Saturday (Fri 30th).
  CHECK(next_fires("0 0 LW * *", "UTC", "2026-10-01T00:00:00Z", 1) ==
        Fires{"2026-10-30T00:00:00Z"});
  CHECK(next_fires("0 0 LW * *", "UTC", "2027-01-01T00:00:00Z", 2) ==
        Fires{"2027-01-29T00:00:00Z", "2027-02-26T00:00:00Z"});
  // 15W: Aug 15 2026 is a Saturday -> Fri 14; Nov 15 2026 a Sunday -> Mon 16.
  CHECK(next_fires("0 0 15W 8 *", "UTC", "2026-01-01T00:00:00Z", 1) ==
        Fires{"2026-08-14T00:00:00Z"});
  CHECK(next_fires("0 0 15W 11 *", "UTC", "2026-01-01T00:00:00Z", 1) ==
        Fires{"2026-11-16T00:00:00Z"});
  // 1W never leaves the month: Aug 1 2026 is a Saturday -> Mon 3.
  CHECK(next_fires("0 0 1W 8 *", "UTC", "2026-01-01T00:00:00Z", 1) ==
        Fires{"2026-08-03T00:00:00Z"});
  // 31W where the 31st is a Sunday -> Fri 29 (May 2026).
  CHECK(next_fires("0 0 31W 5 *", "UTC", "2026-01-01T00:00:00Z", 1) ==
        Fires{"2026-05-29T00:00:00Z"});
}

TEST_CASE("nL and n#k in day-of-week", "[cron][parse]") {
  // Last Friday: Jan 2026 has five Fridays (30th), Feb 2026 four (27th).
  CHECK(next_fires("0 0 * * 5L", "UTC", "2026-01-01T00:00:00Z", 2) ==
        Fires{"2026-01-30T00:00:00Z", "2026-02-27T00:00:00Z"});
  CHECK(next_fires("0 0 * * FRIL", "UTC", "2026-01-01T00:00:00Z", 1) ==
        Fires{"2026-01-30T00:00:00Z"});
  // Fifth Monday only in months that have one: 2026 -> Mar 30, Jun 29, Aug 31.
  CHECK(next_fires("0 0 * * 1#5", "UTC", "2026-01-01T00:00:00Z", 3) ==
        Fires{"2026-03-30T00:00:00Z", "2026-06-29T00:00:00Z", "2026-08-31T00:00:00Z"});
  CHECK(next_fires("0 0 * * MON#1", "UTC", "2026-01-01T00:00:00Z", 2) ==
        Fires{"2026-01-05T00:00:00Z", "2026-02-02T00:00:00Z"});
  // Second Tuesday or the 1st (both fields restricted).
  CHECK(next_fires("0 0 1 * 2#2", "UTC", "2026-01-02T00:00:00Z", 2) ==
        Fires{"2026-01-13T00:00:00Z", "2026-02-01T00:00:00Z"});
}

TEST_CASE("macros", "[cron][parse]") {
  const std::string from = "2026-05-15T10:20:30Z";
  CHECK(next_fires("@yearly", "UTC", from, 1) == Fires{"2027-01-01T00:00:00Z"});
  CHECK(next_fires("@annually", "UTC", from, 1) == Fires{"2027-01-01T00:00:00Z"});
  CHECK(next_fires("@monthly", "UTC", from, 1) == Fires{"2026-06-01T00:00:00Z"});
  CHECK(next_fires("@weekly", "UTC", from, 1) == Fires{"2026-05-17T00:00:00Z"});
  CHECK(next_fires("@daily", "UTC", from, 1) == Fires{"2026-05-16T00:00:00Z"});
  CHECK(next_fires("@midnight", "UTC", from, 1) == Fires{"2026-05-16T00:00:00Z"});
  CHECK(next_fires("@hourly", "UTC", from, 1) == Fires{"2026-05-15T11:00:00Z"});
  CHECK(parse_cron("@hourly", TimeZone()).value().follows_wall_time());
  CHECK_FALSE(parse_cron("@daily", TimeZone()).value().follows_wall_time());
}

TEST_CASE("wall-time classification follows cronie: '*' first in minute or hour", "[cron][parse]") {
  const auto wall = [](const char* e) {
    return parse_cron(e, TimeZone()).value().follows_wall_time();
  };
  CHECK(wall("* 2 * * *"));
  CHECK(wall("30 * * * *"));
  CHECK(wall("*/2 3 * * *"));
  CHECK_FALSE(wall("30 2 * * *"));
  CHECK_FALSE(wall("0-59 2 * * *"));
  CHECK_FALSE(wall("* 30 2 * * *"));  // a star in the seconds field alone
  CHECK(wall("0 * 2 * * *"));
}

TEST_CASE("impossible expressions never fire and next() returns at once", "[cron][parse]") {
  for (const char* expr : {"0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 31 2 *", "0 0 30 2 * "}) {
    INFO(expr);
    auto spec = parse_cron(expr, TimeZone());
    REQUIRE(spec.ok());
    CHECK(spec->never_fires());
    CHECK_FALSE(spec->next_after(skedd::testing::at("2026-01-01T00:00:00Z")).has_value());
  }
  // Feb 29 is possible (leap years); on a Monday (either rule) too.
  CHECK(next_fires("0 0 29 2 *", "UTC", "2026-01-01T00:00:00Z", 2) ==
        Fires{"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"});
  // Feb 29 that is a Sunday (both must match): 2032-02-29 is a Sunday, then 2060.
  CHECK(next_fires("0 0 29 2 */7", "UTC", "2026-01-01T00:00:00Z", 2) ==
        Fires{"2032-02-29T00:00:00Z", "2060-02-29T00:00:00Z"});
}

TEST_CASE("parse errors name the field, the token and its column", "[cron][parse]") {
  struct Row {
    const char* expr;
    const char* message;
  };
  const Row rows[] = {
      {"61 * * * *", "minute field: 61 is out of range 0-59 (column 1 of \"61 * * * *\")"},
      {"* 24 * * *", "hour field: 24 is out of range 0-23 (column 3 of \"* 24 * * *\")"},
      {"0 0 0 * *", "day-of-month field: 0 is out of range 1-31 (column 5 of \"0 0 0 * *\")"},
      {"0 0 * 13 *", "month field: 13 is out of range 1-12 (column 7 of \"0 0 * 13 *\")"},
      {"0 0 * * 8", "day-of-week field: 8 is out of range 0-7 (column 9 of \"0 0 * * 8\")"},
      {"60 * * * * *", "second field: 60 is out of range 0-59 (column 1 of \"60 * * * * *\")"},
      {"*/0 * * * *", "minute field: step 0 must be at least 1 (column 3 of \"*/0 * * * *\")"},
      {"5-2 * * * *", "minute field: range 5-2 is reversed (column 1 of \"5-2 * * * *\")"},
      {"1,,2 * * * *", "minute field: empty list item in \"1,,2\" (column 3 of \"1,,2 * * * *\")"},
      {"0 0 * FOO *", "month field: unknown name \"FOO\" (column 7 of \"0 0 * FOO *\")"},
      {"0 0 * * MON#6",
       "day-of-week field: occurrence after '#' must be 1-5, got \"6\" (column 13 of \"0 0 * * "
       "MON#6\")"},
      {"0 0 * * *L",
       "day-of-week field: 'L' and '#' need a day of week, as in \"5L\" (column 9 of \"0 0 * * "
       "*L\")"},
      {"0 0 32W * *", "day-of-month field: 32 is out of range 1-31 (column 5 of \"0 0 32W * *\")"},
      {"*/ * * * *", "minute field: expected a step number after '/' (column 3 of \"*/ * * * *\")"},
      {"1-5x * * * *", "minute field: unexpected 'x' (column 4 of \"1-5x * * * *\")"},
      {"* * * *",
       "expected 5 fields (minute hour day-of-month month day-of-week) or 6 with leading seconds, "
       "got 4 in \"* * * *\""},
      {"@fortnightly",
       "unknown macro \"@fortnightly\" (expected @yearly, @annually, @monthly, @weekly, @daily, "
       "@midnight, @hourly, @reboot or @every <duration>)"},
      {"", "empty cron expression"},
  };
  for (const Row& row : rows) {
    INFO(row.expr);
    CHECK(parse_error(row.expr) == row.message);
  }
}
