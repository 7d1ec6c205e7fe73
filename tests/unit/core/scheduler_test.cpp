// Scheduler with a fake clock: which fires come due when, in which order, and what happens
// on suspend and clock steps. Nothing sleeps.
#include "skedd/core/scheduler.h"

#include <catch2/catch.hpp>

#include "fakes/fake_clock.h"
#include "schedule/schedule_helpers.h"

namespace {

using namespace std::chrono_literals;
using skedd::Fire;
using skedd::JobId;
using skedd::JobSpec;
using skedd::Scheduler;
using skedd::test::FakeClock;
using skedd::test::ScriptedRandom;
using skedd::testing::at;

JobSpec cron_job(const std::string& name, const std::string& expr, int priority = 0) {
  JobSpec spec;
  spec.name = name;
  spec.schedule = skedd::parse_cron_schedule(expr, skedd::TimeZone()).value();
  spec.options.edit().priority = priority;
  return spec;
}

JobSpec every_job(const std::string& name, const std::string& interval) {
  JobSpec spec;
  spec.name = name;
  spec.schedule = skedd::parse_every_schedule(interval).value();
  return spec;
}

std::string utc(skedd::Instant t) {
  return skedd::format_rfc3339_utc(t);
}

// "name@scheduled" for each fire, for whole-list assertions.
std::vector<std::string> describe(const std::vector<Fire>& fires,
                                  const std::vector<const JobSpec*>& jobs) {
  std::vector<std::string> out;
  for (const Fire& f : fires) {
    out.push_back(jobs[f.job.value]->name + "@" + utc(f.scheduled));
  }
  return out;
}

struct Fixture {
  FakeClock clock{at("2026-01-01T00:00:00Z")};
  ScriptedRandom random{{0}};
  Scheduler scheduler{clock, random, "host-a"};
};

}  // namespace

TEST_CASE("fires come due at their instant, ordered by time then priority", "[scheduler]") {
  Fixture f;
  const JobSpec low = cron_job("low", "* * * * *", 1);
  const JobSpec high = cron_job("high", "* * * * *", 9);
  const JobSpec later = cron_job("later", "*/2 * * * *", 99);
  f.scheduler.add(JobId{0}, low);
  f.scheduler.add(JobId{1}, high);
  f.scheduler.add(JobId{2}, later);
  const std::vector<const JobSpec*> jobs{&low, &high, &later};

  CHECK(utc(*f.scheduler.next_wall_deadline()) == "2026-01-01T00:01:00Z");
  f.clock.advance(59s);
  CHECK(f.scheduler.pop_due().empty());
  f.clock.advance(1s);
  CHECK(describe(f.scheduler.pop_due(), jobs) ==
        std::vector<std::string>{"high@2026-01-01T00:01:00Z", "low@2026-01-01T00:01:00Z"});
  f.clock.advance(60s);
  CHECK(describe(f.scheduler.pop_due(), jobs) ==
        std::vector<std::string>{"later@2026-01-01T00:02:00Z", "high@2026-01-01T00:02:00Z",
                                 "low@2026-01-01T00:02:00Z"});
  CHECK(f.scheduler.pop_due().empty());
  CHECK(utc(*f.scheduler.next_fire(JobId{2})) == "2026-01-01T00:04:00Z");
}

TEST_CASE("a forward clock step folds the passed fires of each job into one", "[scheduler]") {
  Fixture f;
  const JobSpec minutely = cron_job("minutely", "* * * * *");
  f.scheduler.add(JobId{0}, minutely);
  f.clock.step_wall(10min + 30s);
  f.scheduler.clock_changed();
  const auto fires = f.scheduler.pop_due();
  REQUIRE(fires.size() == 1);
  CHECK(utc(fires[0].scheduled) == "2026-01-01T00:10:00Z");
  CHECK(fires[0].collapsed == 9);
  CHECK(utc(fires[0].first_collapsed) == "2026-01-01T00:01:00Z");
  CHECK(utc(fires[0].last_collapsed) == "2026-01-01T00:09:00Z");
  CHECK(utc(*f.scheduler.next_fire(JobId{0})) == "2026-01-01T00:11:00Z");
}

TEST_CASE("a small backward clock step never repeats a fire", "[scheduler]") {
  Fixture f;
  const JobSpec minutely = cron_job("minutely", "* * * * *");
  f.scheduler.add(JobId{0}, minutely);
  f.clock.advance(60s);
  REQUIRE(f.scheduler.pop_due().size() == 1);  // 00:01
  f.clock.step_wall(-2h);
  f.scheduler.clock_changed();
  // The next fire stays 00:02 of the old timeline: nothing runs for the two repeated hours.
  CHECK(utc(*f.scheduler.next_fire(JobId{0})) == "2026-01-01T00:02:00Z");
  f.clock.advance(1h);
  CHECK(f.scheduler.pop_due().empty());
}

TEST_CASE("a backward step of more than three hours reschedules from the new time", "[scheduler]") {
  Fixture f;
  const JobSpec daily = cron_job("daily", "0 12 * * *");
  f.scheduler.add(JobId{0}, daily);
  f.clock.step_wall(-24h * 30);  // the clock was a month ahead and got corrected
  f.scheduler.clock_changed();
  CHECK(utc(*f.scheduler.next_fire(JobId{0})) == "2025-12-02T12:00:00Z");
}

TEST_CASE("every counts elapsed time and folds fires missed during suspend", "[scheduler]") {
  Fixture f;
  const JobSpec tick = every_job("tick", "10s");
  f.scheduler.add(JobId{0}, tick);
  CHECK(utc(*f.scheduler.next_fire(JobId{0})) == "2026-01-01T00:00:10Z");
  f.clock.advance(10s);
  auto fires = f.scheduler.pop_due();
  REQUIRE(fires.size() == 1);
  CHECK(utc(fires[0].scheduled) == "2026-01-01T00:00:10Z");
  CHECK(fires[0].collapsed == 0);

  f.clock.advance(95s);  // suspended: 00:00:20 .. 00:01:50 passed while asleep
  fires = f.scheduler.pop_due();
  REQUIRE(fires.size() == 1);
  CHECK(utc(fires[0].scheduled) == "2026-01-01T00:01:40Z");
  CHECK(fires[0].collapsed == 8);
  CHECK(utc(fires[0].first_collapsed) == "2026-01-01T00:00:20Z");
  CHECK(utc(fires[0].last_collapsed) == "2026-01-01T00:01:30Z");
  CHECK(utc(*f.scheduler.next_fire(JobId{0})) == "2026-01-01T00:01:50Z");
  CHECK(*f.scheduler.next_mono_deadline() == f.clock.mono_now() + 5s);
}

TEST_CASE("every ignores wall-clock steps", "[scheduler]") {
  Fixture f;
  const JobSpec tick = every_job("tick", "10s");
  f.scheduler.add(JobId{0}, tick);
  f.clock.step_wall(1h);
  f.scheduler.clock_changed();
  CHECK(f.scheduler.pop_due().empty());
  f.clock.advance(10s);
  const auto fires = f.scheduler.pop_due();
  REQUIRE(fires.size() == 1);
  CHECK(fires[0].collapsed == 0);
}

TEST_CASE("every continues from its anchor", "[scheduler]") {
  Fixture f;
  const JobSpec tick = every_job("tick", "90s");
  f.scheduler.add(JobId{0}, tick, at("2025-12-31T23:59:00Z"));
  CHECK(utc(*f.scheduler.next_fire(JobId{0})) == "2026-01-01T00:00:30Z");
}

TEST_CASE("an at job fires once, one in the past never", "[scheduler]") {
  Fixture f;
  JobSpec once;
  once.name = "once";
  once.schedule = skedd::parse_at_schedule("2026-01-01T00:00:01.250Z").value();
  JobSpec past;
  past.name = "past";
  past.schedule = skedd::parse_at_schedule("2025-01-01T00:00:00Z").value();
  f.scheduler.add(JobId{0}, once);
  f.scheduler.add(JobId{1}, past);
  CHECK_FALSE(f.scheduler.next_fire(JobId{1}).has_value());
  f.clock.advance(1250ms);
  const auto fires = f.scheduler.pop_due();
  REQUIRE(fires.size() == 1);
  CHECK(utc(fires[0].scheduled) == "2026-01-01T00:00:01.25Z");
  CHECK_FALSE(f.scheduler.next_wall_deadline().has_value());
}

TEST_CASE("@reboot fires once when first added, not again on re-add", "[scheduler]") {
  Fixture f;
  const JobSpec boot = cron_job("boot", "@reboot");
  f.scheduler.add(JobId{0}, boot);
  CHECK(f.scheduler.pop_due().size() == 1);
  f.scheduler.add(JobId{0}, boot);  // a reload
  CHECK(f.scheduler.pop_due().empty());
  CHECK_FALSE(f.scheduler.next_mono_deadline().has_value());
}

TEST_CASE("jitter delays the due time but not the scheduled instant", "[scheduler]") {
  Fixture f;
  JobSpec spec = cron_job("j", "* * * * *");
  spec.options.edit().jitter = 30s;
  ScriptedRandom random{{7'000'000}};
  Scheduler scheduler{f.clock, random, "host-a"};
  scheduler.add(JobId{0}, spec);
  CHECK(utc(*scheduler.next_wall_deadline()) == "2026-01-01T00:01:07Z");
  f.clock.advance(66s);
  CHECK(scheduler.pop_due().empty());
  f.clock.advance(1s);
  const auto fires = scheduler.pop_due();
  REQUIRE(fires.size() == 1);
  CHECK(utc(fires[0].scheduled) == "2026-01-01T00:01:00Z");
  CHECK(utc(fires[0].due) == "2026-01-01T00:01:07Z");
}

TEST_CASE("random jitter stays below its bound, fixed jitter is stable per job and host",
          "[scheduler]") {
  Fixture f;
  JobSpec spec = cron_job("backup", "0 * * * *");
  spec.options.edit().jitter = 5min;
  skedd::SeededRandom random(42);
  Scheduler scheduler{f.clock, random, "host-a"};
  for (int i = 0; i < 1000; ++i) {
    const auto j = scheduler.jitter_for(spec);
    REQUIRE(j >= skedd::Duration{0});
    REQUIRE(j < 5min);
  }
  spec.options.edit().jitter_fixed = true;
  const auto fixed = scheduler.jitter_for(spec);
  CHECK(scheduler.jitter_for(spec) == fixed);
  Scheduler other_host{f.clock, random, "host-b"};
  CHECK(other_host.jitter_for(spec) != fixed);
  CHECK(fixed < 5min);
}

TEST_CASE("retries come due on the monotonic clock after their delay", "[scheduler]") {
  Fixture f;
  const JobSpec job = cron_job("r", "0 0 1 1 *");
  f.scheduler.add(JobId{0}, job);
  Fire failed{JobId{0}, at("2026-01-01T00:00:00Z"), at("2026-01-01T00:00:00Z")};
  failed.attempt = 2;
  f.scheduler.schedule_retry(failed, 30s);
  f.clock.step_wall(-1h);  // a wall step does not move a retry
  f.clock.advance(29s);
  CHECK(f.scheduler.pop_due().empty());
  f.clock.advance(1s);
  const auto fires = f.scheduler.pop_due();
  REQUIRE(fires.size() == 1);
  CHECK(fires[0].attempt == 2);
  CHECK(utc(fires[0].scheduled) == "2026-01-01T00:00:00Z");
}

TEST_CASE("a retry withdrawn by its fire's instant never comes due", "[scheduler]") {
  Fixture f;
  const JobSpec job = cron_job("r", "0 0 1 1 *");
  f.scheduler.add(JobId{0}, job);
  Fire first{JobId{0}, at("2026-01-01T00:00:00Z"), at("2026-01-01T00:00:00Z"), 2};
  Fire second{JobId{0}, at("2026-01-02T00:00:00Z"), at("2026-01-02T00:00:00Z"), 2};
  f.scheduler.schedule_retry(first, 30s);
  f.scheduler.schedule_retry(second, 30s);
  CHECK_FALSE(f.scheduler.withdraw_retry(JobId{0}, at("2026-01-03T00:00:00Z")).has_value());
  const auto taken = f.scheduler.withdraw_retry(JobId{0}, first.scheduled);
  REQUIRE(taken.has_value());
  CHECK(taken->attempt == 2);
  CHECK_FALSE(f.scheduler.withdraw_retry(JobId{0}, first.scheduled).has_value());
  f.clock.advance(30s);
  const auto fires = f.scheduler.pop_due();
  REQUIRE(fires.size() == 1);  // the other fire's retry only
  CHECK(utc(fires[0].scheduled) == "2026-01-02T00:00:00Z");
}

TEST_CASE("removing a job drops its next fire and its retries", "[scheduler]") {
  Fixture f;
  const JobSpec job = cron_job("r", "* * * * *");
  f.scheduler.add(JobId{0}, job);
  f.scheduler.schedule_retry(Fire{JobId{0}, f.clock.wall_now(), f.clock.wall_now(), 2}, 5s);
  f.scheduler.remove(JobId{0});
  CHECK_FALSE(f.scheduler.next_wall_deadline().has_value());
  CHECK_FALSE(f.scheduler.next_mono_deadline().has_value());
}

TEST_CASE("retry delay doubles per attempt up to the cap, with equal jitter", "[scheduler]") {
  JobSpec spec;
  spec.options.edit().retry_backoff = 10s;
  spec.options.edit().retry_backoff_max = 60s;
  ScriptedRandom lowest{{0}};
  CHECK(skedd::retry_delay(spec, 1, lowest) == 5s);
  CHECK(skedd::retry_delay(spec, 2, lowest) == 10s);
  CHECK(skedd::retry_delay(spec, 3, lowest) == 20s);
  CHECK(skedd::retry_delay(spec, 4, lowest) == 30s);   // 80s capped to 60s, half fixed
  CHECK(skedd::retry_delay(spec, 40, lowest) == 30s);  // no overflow
  ScriptedRandom highest{{30'000'000}};
  CHECK(skedd::retry_delay(spec, 4, highest) == 60s);
}

TEST_CASE("a lookahead takes fires early, unfolded, and the rhythm stays", "[scheduler]") {
  Fixture f;
  const JobSpec minutely = cron_job("minutely", "* * * * *");
  const JobSpec tick = every_job("tick", "10s");
  f.scheduler.add(JobId{0}, minutely);
  f.scheduler.add(JobId{1}, tick);
  const std::vector<const JobSpec*> jobs{&minutely, &tick};

  f.clock.advance(9s + 900ms);
  CHECK(f.scheduler.pop_due(50ms).empty());
  f.clock.advance(60ms);  // 00:00:09.960: the every fire at :10 is within 50 ms
  auto fires = f.scheduler.pop_due(50ms);
  CHECK(describe(fires, jobs) == std::vector<std::string>{"tick@2026-01-01T00:00:10Z"});
  CHECK(fires[0].collapsed == 0);
  CHECK(utc(fires[0].due) == "2026-01-01T00:00:10Z");
  // The next one is a whole interval after the taken one, not after now.
  CHECK(utc(*f.scheduler.next_fire(JobId{1})) == "2026-01-01T00:00:20Z");
  CHECK(*f.scheduler.next_mono_deadline() == f.clock.mono_now() + 10s + 40ms);

  for (int s = 20; s <= 50; s += 10) {  // each taken 40 ms early, none folded
    f.clock.advance(10s);
    fires = f.scheduler.pop_due(50ms);
    REQUIRE(fires.size() == 1);
    CHECK(utc(fires[0].scheduled) == "2026-01-01T00:00:" + std::to_string(s) + "Z");
    CHECK(fires[0].collapsed == 0);
  }
  f.clock.advance(10s);  // 00:00:59.960
  fires = f.scheduler.pop_due(50ms);
  CHECK(describe(fires, jobs) ==
        std::vector<std::string>{"minutely@2026-01-01T00:01:00Z", "tick@2026-01-01T00:01:00Z"});
  for (const Fire& fire : fires) CHECK(fire.collapsed == 0);
  CHECK(utc(*f.scheduler.next_fire(JobId{0})) == "2026-01-01T00:02:00Z");
  CHECK(f.scheduler.pop_due(50ms).empty());
}

TEST_CASE("a job added again after a fire was taken does not fire it twice", "[scheduler]") {
  Fixture f;
  const JobSpec minutely = cron_job("minutely", "* * * * *");
  f.scheduler.add(JobId{0}, minutely);
  f.clock.advance(59s + 980ms);
  const auto fires = f.scheduler.pop_due(50ms);
  REQUIRE(fires.size() == 1);
  CHECK(utc(fires[0].scheduled) == "2026-01-01T00:01:00Z");
  // A reload changes the job while its 00:01:00 fire is held, not yet due.
  f.scheduler.add(JobId{0}, minutely, std::nullopt, fires[0].scheduled);
  CHECK(utc(*f.scheduler.next_fire(JobId{0})) == "2026-01-01T00:02:00Z");
  // Without `taken`, the same fire would come again.
  f.scheduler.add(JobId{0}, minutely);
  CHECK(utc(*f.scheduler.next_fire(JobId{0})) == "2026-01-01T00:01:00Z");
}

TEST_CASE("a job added again (a reload that changed it) keeps its pending retries", "[scheduler]") {
  Fixture f;
  const JobSpec before = cron_job("r", "0 0 1 1 *");
  const JobSpec after = cron_job("r", "0 0 2 1 *");
  f.scheduler.add(JobId{0}, before);
  Fire failed{JobId{0}, at("2026-01-01T00:00:00Z"), at("2026-01-01T00:00:00Z")};
  failed.attempt = 2;
  f.scheduler.schedule_retry(failed, 30s);
  f.scheduler.add(JobId{0}, after);
  CHECK(utc(*f.scheduler.next_fire(JobId{0})) == "2026-01-02T00:00:00Z");
  f.clock.advance(30s);
  const auto fires = f.scheduler.pop_due();
  REQUIRE(fires.size() == 1);
  CHECK(fires[0].attempt == 2);
}
