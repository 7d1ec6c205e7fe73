// DST behaviour, hand-checked. Transitions used (2026):
//   America/New_York     Mar 8 02:00 EST -> 03:00 EDT;     Nov 1 02:00 EDT -> 01:00 EST
//   Europe/London        Mar 29 01:00 GMT -> 02:00 BST;    Oct 25 02:00 BST -> 01:00 GMT
//   Australia/Lord_Howe  Apr 5 02:00 (+11) -> 01:30 (+10:30); Oct 4 02:00 (+10:30) -> 02:30 (+11)
//   Pacific/Chatham      Sep 27 02:45 (+12:45) -> 03:45 (+13:45)
#include <catch2/catch.hpp>

#include "schedule/schedule_helpers.h"

using skedd::DstRepeated;
using skedd::DstSkipped;
using skedd::testing::Fires;
using skedd::testing::next_fires;

TEST_CASE("New York spring forward: fixed-time jobs run once right after the jump", "[cron][dst]") {
  CHECK(next_fires("30 2 * * *", "America/New_York", "2026-03-07T12:00:00", 2) ==
        Fires{"2026-03-08T03:00:00-04:00 shifted", "2026-03-09T02:30:00-04:00"});
  // Two wanted times inside the gap still make one run.
  CHECK(next_fires("0,30 2 * * *", "America/New_York", "2026-03-07T12:00:00", 2) ==
        Fires{"2026-03-08T03:00:00-04:00 shifted", "2026-03-09T02:00:00-04:00"});
  // A time after the gap is not shifted; one in the gap and one after collapse into one.
  CHECK(next_fires("0 3 * * *", "America/New_York", "2026-03-07T12:00:00", 1) ==
        Fires{"2026-03-08T03:00:00-04:00"});
  CHECK(next_fires("15 2,3 * * *", "America/New_York", "2026-03-07T12:00:00", 3) ==
        Fires{"2026-03-08T03:00:00-04:00 shifted", "2026-03-08T03:15:00-04:00",
              "2026-03-09T02:15:00-04:00"});
  // With seconds, the run is still right at the jump.
  CHECK(next_fires("30 30 2 * * *", "America/New_York", "2026-03-07T12:00:00", 1) ==
        Fires{"2026-03-08T03:00:00-04:00 shifted"});
  // From one second before the jump the shifted fire is still ahead.
  CHECK(next_fires("30 2 * * *", "America/New_York", "2026-03-08T01:59:59", 1) ==
        Fires{"2026-03-08T03:00:00-04:00 shifted"});
  // ... and from the jump itself it is behind.
  CHECK(next_fires("30 2 * * *", "America/New_York", "2026-03-08T07:00:00Z", 1) ==
        Fires{"2026-03-09T02:30:00-04:00"});
}

TEST_CASE("New York spring forward with dst_skipped = skip", "[cron][dst]") {
  CHECK(next_fires("30 2 * * *", "America/New_York", "2026-03-07T12:00:00", 2, DstSkipped::kSkip) ==
        Fires{"2026-03-09T02:30:00-04:00", "2026-03-10T02:30:00-04:00"});
}

TEST_CASE("New York spring forward: wildcard jobs follow wall time", "[cron][dst]") {
  CHECK(
      next_fires("*/30 * * * *", "America/New_York", "2026-03-08T01:00:00", 3) ==
      Fires{"2026-03-08T01:30:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-08T03:30:00-04:00"});
  CHECK(next_fires("30 * * * *", "America/New_York", "2026-03-08T01:00:00", 2) ==
        Fires{"2026-03-08T01:30:00-05:00", "2026-03-08T03:30:00-04:00"});
  // Minute wildcard, hour 2: nothing on the day the hour does not exist.
  CHECK(next_fires("* 2 * * *", "America/New_York", "2026-03-08T00:00:00", 1) ==
        Fires{"2026-03-09T02:00:00-04:00"});
  // dst_skipped does not apply to wildcard jobs.
  CHECK(next_fires("*/30 * * * *", "America/New_York", "2026-03-08T01:30:00", 1,
                   DstSkipped::kRun) == Fires{"2026-03-08T03:00:00-04:00"});
}

TEST_CASE("New York fall back: fixed-time jobs run once by default, twice on request",
          "[cron][dst]") {
  CHECK(next_fires("30 1 * * *", "America/New_York", "2026-10-31T12:00:00", 2) ==
        Fires{"2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"});
  CHECK(next_fires("30 1 * * *", "America/New_York", "2026-10-31T12:00:00", 3, DstSkipped::kRun,
                   DstRepeated::kTwice) == Fires{"2026-11-01T01:30:00-04:00",
                                                 "2026-11-01T01:30:00-05:00",
                                                 "2026-11-02T01:30:00-05:00"});
  CHECK(next_fires("0 1 * * *", "America/New_York", "2026-10-31T12:00:00", 2) ==
        Fires{"2026-11-01T01:00:00-04:00", "2026-11-02T01:00:00-05:00"});
  CHECK(next_fires("0 2 * * *", "America/New_York", "2026-10-31T12:00:00", 1) ==
        Fires{"2026-11-01T02:00:00-05:00"});
}

TEST_CASE("New York fall back: starting inside the repeated hour", "[cron][dst]") {
  // In the second pass (EST) the once-job already ran at 01:30 EDT.
  CHECK(next_fires("30 1 * * *", "America/New_York", "2026-11-01T01:10:00-05:00", 1) ==
        Fires{"2026-11-02T01:30:00-05:00"});
  CHECK(next_fires("30 1 * * *", "America/New_York", "2026-11-01T01:10:00-05:00", 1,
                   DstSkipped::kRun, DstRepeated::kTwice) == Fires{"2026-11-01T01:30:00-05:00"});
  // In the first pass (EDT), after the first run.
  CHECK(next_fires("30 1 * * *", "America/New_York", "2026-11-01T01:45:00-04:00", 1) ==
        Fires{"2026-11-02T01:30:00-05:00"});
  CHECK(next_fires("30 1 * * *", "America/New_York", "2026-11-01T01:45:00-04:00", 1,
                   DstSkipped::kRun, DstRepeated::kTwice) == Fires{"2026-11-01T01:30:00-05:00"});
  CHECK(next_fires("30 * * * *", "America/New_York", "2026-11-01T01:10:00-05:00", 1) ==
        Fires{"2026-11-01T01:30:00-05:00"});
}

TEST_CASE("New York fall back: wildcard jobs run in both passes", "[cron][dst]") {
  CHECK(next_fires("*/20 1 * * *", "America/New_York", "2026-11-01T00:50:00", 7) ==
        Fires{"2026-11-01T01:00:00-04:00", "2026-11-01T01:20:00-04:00", "2026-11-01T01:40:00-04:00",
              "2026-11-01T01:00:00-05:00", "2026-11-01T01:20:00-05:00", "2026-11-01T01:40:00-05:00",
              "2026-11-02T01:00:00-05:00"});
  CHECK(
      next_fires("0 * * * *", "America/New_York", "2026-11-01T00:30:00", 3) ==
      Fires{"2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00", "2026-11-01T02:00:00-05:00"});
}

TEST_CASE("London, both transitions", "[cron][dst]") {
  CHECK(next_fires("30 1 * * *", "Europe/London", "2026-03-28T12:00:00", 2) ==
        Fires{"2026-03-29T02:00:00+01:00 shifted", "2026-03-30T01:30:00+01:00"});
  CHECK(next_fires("30 1 * * *", "Europe/London", "2026-03-28T12:00:00", 1, DstSkipped::kSkip) ==
        Fires{"2026-03-30T01:30:00+01:00"});
  CHECK(
      next_fires("0,30 * * * *", "Europe/London", "2026-03-29T00:00:00", 3) ==
      Fires{"2026-03-29T00:30:00+00:00", "2026-03-29T02:00:00+01:00", "2026-03-29T02:30:00+01:00"});
  CHECK(next_fires("30 1 * * *", "Europe/London", "2026-10-24T12:00:00", 2) ==
        Fires{"2026-10-25T01:30:00+01:00", "2026-10-26T01:30:00+00:00"});
  CHECK(next_fires("30 1 * * *", "Europe/London", "2026-10-24T12:00:00", 2, DstSkipped::kRun,
                   DstRepeated::kTwice) ==
        Fires{"2026-10-25T01:30:00+01:00", "2026-10-25T01:30:00+00:00"});
  CHECK(
      next_fires("30 * * * *", "Europe/London", "2026-10-25T00:45:00", 3) ==
      Fires{"2026-10-25T01:30:00+01:00", "2026-10-25T01:30:00+00:00", "2026-10-25T02:30:00+00:00"});
}

TEST_CASE("Lord Howe: half-hour shifts", "[cron][dst]") {
  // Fall back: 01:30-02:00 happens twice.
  CHECK(next_fires("45 1 * * *", "Australia/Lord_Howe", "2026-04-04T12:00:00", 2) ==
        Fires{"2026-04-05T01:45:00+11:00", "2026-04-06T01:45:00+10:30"});
  CHECK(next_fires("45 1 * * *", "Australia/Lord_Howe", "2026-04-04T12:00:00", 3, DstSkipped::kRun,
                   DstRepeated::kTwice) == Fires{"2026-04-05T01:45:00+11:00",
                                                 "2026-04-05T01:45:00+10:30",
                                                 "2026-04-06T01:45:00+10:30"});
  // 01:15 is before the repeated half hour: once, whatever the policy.
  CHECK(next_fires("15 1 * * *", "Australia/Lord_Howe", "2026-04-04T12:00:00", 2, DstSkipped::kRun,
                   DstRepeated::kTwice) ==
        Fires{"2026-04-05T01:15:00+11:00", "2026-04-06T01:15:00+10:30"});
  // Spring forward: 02:00-02:30 does not exist.
  CHECK(next_fires("15 2 * * *", "Australia/Lord_Howe", "2026-10-03T12:00:00", 2) ==
        Fires{"2026-10-04T02:30:00+11:00 shifted", "2026-10-05T02:15:00+11:00"});
  CHECK(next_fires("15 2 * * *", "Australia/Lord_Howe", "2026-10-03T12:00:00", 1,
                   DstSkipped::kSkip) == Fires{"2026-10-05T02:15:00+11:00"});
  CHECK(next_fires("*/15 * * * *", "Australia/Lord_Howe", "2026-10-04T01:50:00", 2) ==
        Fires{"2026-10-04T02:30:00+11:00", "2026-10-04T02:45:00+11:00"});
  CHECK(next_fires("*/15 * * * *", "Australia/Lord_Howe", "2026-04-05T01:35:00", 4) ==
        Fires{"2026-04-05T01:45:00+11:00", "2026-04-05T01:30:00+10:30", "2026-04-05T01:45:00+10:30",
              "2026-04-05T02:00:00+10:30"});
}

TEST_CASE("Chatham and Kolkata: odd offsets", "[cron][dst]") {
  CHECK(next_fires("0 3 * * *", "Pacific/Chatham", "2026-09-26T12:00:00", 2) ==
        Fires{"2026-09-27T03:45:00+13:45 shifted", "2026-09-28T03:00:00+13:45"});
  CHECK(next_fires("0 9 * * *", "Asia/Kolkata", "2026-01-01T00:00:00Z", 2) ==
        Fires{"2026-01-01T09:00:00+05:30", "2026-01-02T09:00:00+05:30"});
  CHECK(next_fires("*/45 * * * *", "Asia/Kolkata", "2026-01-01T23:50:00", 2) ==
        Fires{"2026-01-02T00:00:00+05:30", "2026-01-02T00:45:00+05:30"});
}

TEST_CASE("DST notes for display", "[cron][dst]") {
  const skedd::TimeZone ny = skedd::testing::zone("America/New_York");
  auto fixed = skedd::parse_cron("30 2 * * *", ny).value();
  auto fire = fixed.next_after(skedd::testing::at("2026-03-07T12:00:00", ny)).value();
  CHECK(fixed.dst_note(fire) == "shifted: 02:30 does not exist on this day");
  auto once = skedd::parse_cron("30 1 * * *", ny).value();
  fire = once.next_after(skedd::testing::at("2026-10-31T12:00:00", ny)).value();
  CHECK(once.dst_note(fire) == "repeated: 01:30 occurs twice on this day; runs at the first only");
  auto wall = skedd::parse_cron("30 * * * *", ny).value();
  fire = wall.next_after(skedd::testing::at("2026-11-01T01:00:00-05:00")).value();
  CHECK(wall.dst_note(fire) == "repeated: 01:30 occurs twice on this day; this is the second");
  fire = wall.next_after(skedd::testing::at("2026-07-01T00:00:00", ny)).value();
  CHECK(wall.dst_note(fire).empty());
}
