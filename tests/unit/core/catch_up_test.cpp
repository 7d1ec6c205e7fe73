// Catch-up after downtime: which missed fires run and which are recorded as missed.
#include "skedd/core/catch_up.h"

#include <catch2/catch.hpp>

#include "schedule/schedule_helpers.h"
#include "skedd/time/timestamp.h"

namespace {

using skedd::CatchUp;

using skedd::testing::at;

skedd::JobSpec hourly(CatchUp mode, int max = 10) {
  skedd::JobSpec spec;
  spec.name = "h";
  spec.schedule = skedd::parse_cron_schedule("0 * * * *", skedd::TimeZone()).value();
  spec.options.edit().catch_up = mode;
  spec.options.edit().max_catch_up = max;
  return spec;
}

std::vector<std::string> utc(const std::vector<skedd::Instant>& v) {
  std::vector<std::string> out;
  for (auto t : v) out.push_back(skedd::format_rfc3339_utc(t));
  return out;
}

// Down from just after the 01:00 fire until 04:30: 02:00, 03:00 and 04:00 were missed.
const skedd::Instant kSince = at("2026-01-01T01:00:00Z");
const skedd::Instant kNow = at("2026-01-01T04:30:00Z");

}  // namespace

TEST_CASE("catch_up = none records every missed fire", "[catch_up]") {
  const auto plan = skedd::plan_catch_up(hourly(CatchUp::kNone), kSince, kNow);
  CHECK(plan.run.empty());
  CHECK(plan.missed == 3);
  CHECK(skedd::format_rfc3339_utc(plan.first_missed) == "2026-01-01T02:00:00Z");
  CHECK(skedd::format_rfc3339_utc(plan.last_missed) == "2026-01-01T04:00:00Z");
}

TEST_CASE("catch_up = once runs the latest missed fire", "[catch_up]") {
  const auto plan = skedd::plan_catch_up(hourly(CatchUp::kOnce), kSince, kNow);
  CHECK(utc(plan.run) == std::vector<std::string>{"2026-01-01T04:00:00Z"});
  CHECK(plan.missed == 2);
  CHECK(skedd::format_rfc3339_utc(plan.last_missed) == "2026-01-01T03:00:00Z");
}

TEST_CASE("catch_up = all runs up to max_catch_up, the latest ones", "[catch_up]") {
  const auto all = skedd::plan_catch_up(hourly(CatchUp::kAll), kSince, kNow);
  CHECK(utc(all.run) == std::vector<std::string>{"2026-01-01T02:00:00Z", "2026-01-01T03:00:00Z",
                                                 "2026-01-01T04:00:00Z"});
  CHECK(all.missed == 0);
  const auto capped = skedd::plan_catch_up(hourly(CatchUp::kAll, 2), kSince, kNow);
  CHECK(utc(capped.run) ==
        std::vector<std::string>{"2026-01-01T03:00:00Z", "2026-01-01T04:00:00Z"});
  CHECK(capped.missed == 1);
}

TEST_CASE("every counts missed fires from its last fire", "[catch_up]") {
  skedd::JobSpec spec;
  spec.schedule = skedd::parse_every_schedule("90s").value();
  spec.options.edit().catch_up = CatchUp::kOnce;
  const auto plan =
      skedd::plan_catch_up(spec, at("2026-01-01T00:00:00Z"), at("2026-01-01T00:05:00Z"));
  CHECK(utc(plan.run) == std::vector<std::string>{"2026-01-01T00:04:30Z"});
  CHECK(plan.missed == 2);  // 00:01:30, 00:03:00
}

TEST_CASE("nothing missed when the daemon was down between fires", "[catch_up]") {
  const auto plan = skedd::plan_catch_up(hourly(CatchUp::kAll), at("2026-01-01T01:00:00Z"),
                                         at("2026-01-01T01:59:59Z"));
  CHECK(plan.run.empty());
  CHECK(plan.missed == 0);
}
