#include <catch2/catch.hpp>

#include "schedule/schedule_helpers.h"

using namespace std::chrono_literals;
using skedd::testing::at;
using skedd::testing::Fires;
using skedd::testing::next_fires;

TEST_CASE("next() is strictly after, also from fractional seconds", "[cron][next]") {
  CHECK(next_fires("0 * * * *", "UTC", "2026-01-01T00:00:00Z", 1) == Fires{"2026-01-01T01:00:00Z"});
  CHECK(next_fires("* * * * * *", "UTC", "2026-01-01T00:00:00.999999Z", 1) ==
        Fires{"2026-01-01T00:00:01Z"});
  CHECK(next_fires("* * * * * *", "UTC", "2026-01-01T00:00:00Z", 1) ==
        Fires{"2026-01-01T00:00:01Z"});
}

TEST_CASE("rollover across minute, hour, day, month and year", "[cron][next]") {
  CHECK(next_fires("59 59 23 31 12 *", "UTC", "2026-06-01T00:00:00Z", 2) ==
        Fires{"2026-12-31T23:59:59Z", "2027-12-31T23:59:59Z"});
  CHECK(next_fires("0 0 1 1 *", "UTC", "2026-12-31T23:59:59Z", 1) == Fires{"2027-01-01T00:00:00Z"});
  CHECK(next_fires("0 0 31 * *", "UTC", "2026-01-31T00:00:00Z", 3) ==
        Fires{"2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z", "2026-07-31T00:00:00Z"});
  CHECK(next_fires("0 12 * * *", "UTC", "2026-02-28T13:00:00Z", 1) ==
        Fires{"2026-03-01T12:00:00Z"});
  CHECK(next_fires("0 12 * * *", "UTC", "2028-02-28T13:00:00Z", 1) ==
        Fires{"2028-02-29T12:00:00Z"});
}

TEST_CASE("leap years: Feb 29 and L in leap and common years, 400-year rule", "[cron][next]") {
  CHECK(next_fires("0 0 29 2 *", "UTC", "2096-03-01T00:00:00Z", 2) ==
        Fires{"2104-02-29T00:00:00Z", "2108-02-29T00:00:00Z"});  // 2100 is not a leap year
  CHECK(next_fires("0 0 29 2 *", "UTC", "1996-03-01T00:00:00Z", 1) ==
        Fires{"2000-02-29T00:00:00Z"});  // 2000 is
  CHECK(next_fires("0 0 L 2 *", "UTC", "2099-03-01T00:00:00Z", 2) ==
        Fires{"2100-02-28T00:00:00Z", "2101-02-28T00:00:00Z"});
}

TEST_CASE("a zone moves the fires to its civil time", "[cron][next]") {
  CHECK(next_fires("0 9 * * *", "Europe/Berlin", "2026-07-01T00:00:00Z", 1) ==
        Fires{"2026-07-01T09:00:00+02:00"});
  CHECK(next_fires("0 9 * * *", "Europe/Berlin", "2026-01-01T00:00:00Z", 1) ==
        Fires{"2026-01-01T09:00:00+01:00"});
}

TEST_CASE("many calls in a row advance without repeats", "[cron][next]") {
  auto fires = next_fires("*/7 * * * * *", "UTC", "2026-01-01T00:00:00Z", 20);
  REQUIRE(fires.size() == 20);
  CHECK(fires[7] == "2026-01-01T00:00:56Z");
  CHECK(fires[8] == "2026-01-01T00:01:00Z");
}
