#include <catch2/catch.hpp>

#include "schedule/schedule_helpers.h"

using namespace std::chrono_literals;
using skedd::Schedule;
using skedd::TimeZone;
using skedd::testing::at;

TEST_CASE("every: fixed rate on the anchor's grid", "[schedule]") {
  auto s = skedd::parse_every_schedule("90s");
  REQUIRE(s.ok());
  CHECK(s->text == "every 1m30s");
  const auto anchor = at("2026-01-01T00:00:00Z");
  CHECK(s->next_after(anchor, anchor)->at == anchor + 90s);
  CHECK(s->next_after(anchor + 89s, anchor)->at == anchor + 90s);
  CHECK(s->next_after(anchor + 90s, anchor)->at == anchor + 180s);
  // After a long gap, the next grid point, not a burst.
  CHECK(s->next_after(anchor + 10h + 1s, anchor)->at == anchor + 10h + 90s);
  CHECK(s->next_after(anchor - 1h, anchor)->at == anchor + 90s);
}

TEST_CASE("every: at least one second", "[schedule]") {
  CHECK(skedd::parse_every_schedule("500ms").error().message ==
        "the interval must be at least 1s, got \"500ms\"");
  CHECK(skedd::parse_every_schedule("1s").ok());
  CHECK(skedd::parse_every_schedule("1h30m")->text == "every 1h30m");
}

TEST_CASE("at: one fire, fractional seconds kept", "[schedule]") {
  auto s = skedd::parse_at_schedule("2026-12-01T09:00:00.250+01:00");
  REQUIRE(s.ok());
  const auto when = at("2026-12-01T08:00:00.25Z");
  CHECK(s->next_after(when - 1us, when)->at == when);
  CHECK_FALSE(s->next_after(when, when).has_value());
  CHECK(skedd::parse_at_schedule("2026-12-01T09:00:00").error().message ==
        "invalid timestamp \"2026-12-01T09:00:00\": missing 'Z' or a UTC offset like +01:00 at "
        "column 20");
}

TEST_CASE("cron values: @reboot is a flag, @every a rate", "[schedule]") {
  auto reboot = skedd::parse_cron_schedule("@reboot", TimeZone());
  REQUIRE(reboot.ok());
  CHECK(reboot->is_reboot());
  CHECK_FALSE(reboot->next_after(at("2026-01-01T00:00:00Z"), at("2026-01-01T00:00:00Z")));
  auto every = skedd::parse_cron_schedule("@every 2h", TimeZone());
  REQUIRE(every.ok());
  CHECK(every->is_every());
  CHECK(std::get<skedd::EverySchedule>(every->kind).interval == 2h);
  CHECK(skedd::parse_cron_schedule("@every 2x", TimeZone()).error().message ==
        "invalid duration \"2x\": unknown unit \"x\" (us, ms, s, m, h, d, w) at column 2");
}

TEST_CASE("skedctl's expression forms", "[schedule]") {
  const TimeZone utc;
  CHECK(skedd::parse_schedule_expression("every 10s", utc)->is_every());
  CHECK(skedd::parse_schedule_expression("at 2026-12-01T09:00:00Z", utc)->is_at());
  CHECK(skedd::parse_schedule_expression("2026-12-01T09:00:00Z", utc)->is_at());
  CHECK(skedd::parse_schedule_expression("*/5 * * * *", utc)->is_cron());
  CHECK(skedd::parse_schedule_expression("@reboot", utc)->is_reboot());
}
