// Property tests over seeded random expressions and start times:
//  - UTC and fixed-offset zones: next(t) > t, next(t) matches, and a brute-force scan finds no
//    matching time between t and next(t);
//  - DST zones: next(t) agrees with a brute-force reference that walks instants one by one and
//    applies the DST rules of DESIGN.md through civil-time lookups.
#include <algorithm>
#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "schedule/schedule_helpers.h"

namespace {

using skedd::CronSpec;
using skedd::DstRepeated;
using skedd::DstSkipped;
using skedd::Instant;
using skedd::TimeZone;
using Seconds = std::chrono::seconds;

class ExprGen {
 public:
  explicit ExprGen(std::uint64_t seed) : rng_(seed) {}

  int uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool chance(int percent) { return uniform(1, 100) <= percent; }

  std::string field(int lo, int hi, int star_percent) {
    if (chance(star_percent))
      return chance(70) ? "*" : "*/" + std::to_string(uniform(1, (hi - lo + 1) / 2 + 1));
    switch (uniform(0, 4)) {
      case 0:
        return std::to_string(uniform(lo, hi));
      case 1: {
        const int a = uniform(lo, hi);
        return std::to_string(a) + "-" + std::to_string(uniform(a, hi));
      }
      case 2: {
        const int a = uniform(lo, hi);
        return std::to_string(a) + "-" + std::to_string(uniform(a, hi)) + "/" +
               std::to_string(uniform(1, 5));
      }
      case 3:
        return std::to_string(uniform(lo, hi)) + "/" + std::to_string(uniform(1, 10));
      default: {
        std::string out = std::to_string(uniform(lo, hi));
        for (int i = uniform(1, 3); i > 0; --i) out += "," + std::to_string(uniform(lo, hi));
        return out;
      }
    }
  }

  std::string dom() {
    switch (uniform(0, 9)) {
      case 0:
        return "L";
      case 1:
        return "LW";
      case 2:
        return std::to_string(uniform(1, 31)) + "W";
      default:
        return field(1, 31, 60);
    }
  }

  std::string dow() {
    switch (uniform(0, 9)) {
      case 0:
        return std::to_string(uniform(0, 7)) + "L";
      case 1:
        return std::to_string(uniform(0, 7)) + "#" + std::to_string(uniform(1, 5));
      default:
        return field(0, 7, 60);
    }
  }

  std::string expression(bool with_seconds) {
    std::string e;
    if (with_seconds) e = field(0, 59, 40) + " ";
    e += field(0, 59, 40) + " " + field(0, 23, 40) + " " + dom() + " " + field(1, 12, 80) + " " +
         dow();
    return e;
  }

  // An expression; half the time a fixed time in the first hours of the day, where DST
  // transitions are, so that the DST rules are exercised.
  std::string near_transitions(bool with_seconds) {
    std::string expr = expression(with_seconds);
    if (chance(50)) {
      const std::string hour = std::to_string(uniform(0, 3));
      const std::string minute = std::to_string(uniform(0, 59));
      expr = (with_seconds ? "0 " : "") + minute + " " + hour + " * * *";
    }
    return expr;
  }

  Instant instant(int first_year, int last_year) {
    const std::int64_t lo =
        std::chrono::duration_cast<Seconds>(
            std::chrono::sys_days(std::chrono::year(first_year) / 1 / 1).time_since_epoch())
            .count();
    const std::int64_t hi =
        std::chrono::duration_cast<Seconds>(
            std::chrono::sys_days(std::chrono::year(last_year) / 1 / 1).time_since_epoch())
            .count();
    const std::int64_t s = std::uniform_int_distribution<std::int64_t>(lo, hi)(rng_);
    // Sometimes a fractional start, sometimes one on a whole minute.
    const int frac = chance(50) ? 0 : uniform(0, 999999);
    return Instant(Seconds(chance(30) ? s - s % 60 : s)) + skedd::Duration(frac);
  }

  std::mt19937_64& rng() { return rng_; }

 private:
  std::mt19937_64 rng_;
};

cctz::civil_second civil_of(Instant t, const TimeZone& z) {
  return z.cctz_zone().lookup(std::chrono::floor<Seconds>(t)).cs;
}

// The reference: is instant x (a whole second) a fire of `spec`?
bool reference_fires_at(const CronSpec& spec, Seconds::rep x_seconds) {
  const cctz::time_zone& tz = spec.zone().cctz_zone();
  const cctz::time_point<Seconds> x{Seconds(x_seconds)};
  const cctz::civil_second cs = tz.lookup(x).cs;
  const bool fixed = !spec.follows_wall_time();
  if (spec.matches(cs)) {
    const auto l = tz.lookup(cs);
    if (!fixed || l.kind == cctz::time_zone::civil_lookup::UNIQUE) return true;
    if (l.kind == cctz::time_zone::civil_lookup::REPEATED) {
      return x == l.pre || spec.dst_repeated() == DstRepeated::kTwice;
    }
  }
  // A forward transition at x: a fixed-time job with a wanted time in the gap runs at x.
  if (fixed && spec.dst_skipped() == DstSkipped::kRun) {
    const auto before = tz.lookup(x - Seconds(1));
    const auto here = tz.lookup(x);
    if (here.offset > before.offset) {
      for (cctz::civil_second g = before.cs + 1; g < here.cs; ++g) {
        if (spec.matches(g)) return true;
      }
    }
  }
  return false;
}

}  // namespace

TEST_CASE("property: next() in UTC and fixed-offset zones matches a brute-force scan",
          "[cron][property]") {
  ExprGen gen(20261124);
  const char* zones[] = {"UTC", "Etc/GMT-3", "Asia/Kolkata", "Etc/GMT+11"};
  int checked = 0;
  for (int i = 0; i < 1500; ++i) {
    const bool with_seconds = gen.chance(25);
    const std::string expr = gen.expression(with_seconds);
    const TimeZone z = skedd::testing::zone(zones[i % 4]);
    auto spec = skedd::parse_cron(expr, z);
    INFO(expr << " in " << z.name());
    REQUIRE(spec.ok());
    if (spec->never_fires()) continue;
    const Instant t = gen.instant(1990, 2090);
    const auto fire = spec->next_after(t);
    REQUIRE(fire.has_value());
    INFO("after " << skedd::format_rfc3339(t, z) << " got " << skedd::format_rfc3339(fire->at, z));
    REQUIRE(fire->at > t);
    REQUIRE(fire->at == std::chrono::floor<Seconds>(fire->at));
    REQUIRE(spec->matches(civil_of(fire->at, z)));
    // Scan a bounded stretch: seconds for 6-field expressions, minutes otherwise.
    const Seconds step = with_seconds ? Seconds(1) : Seconds(60);
    const Seconds horizon = with_seconds ? Seconds(6 * 3600) : Seconds(4 * 86400);
    auto x = std::chrono::floor<Seconds>(t) + Seconds(1);
    if (!with_seconds) x = std::chrono::ceil<std::chrono::minutes>(x);
    const auto end = std::min(fire->at, Instant(x + horizon));
    for (; x < end; x += step) {
      if (spec->matches(civil_of(Instant(x), z))) {
        FAIL("skipped a matching time " << skedd::format_rfc3339(Instant(x), z));
      }
    }
    ++checked;
  }
  CHECK(checked > 1000);
}

TEST_CASE("property: next() in DST zones agrees with the brute-force DST reference",
          "[cron][property]") {
  ExprGen gen(4242);
  const char* zones[] = {"America/New_York", "Europe/London", "Australia/Lord_Howe",
                         "Pacific/Chatham",  "Europe/Berlin", "America/Santiago"};
  int checked = 0;
  for (int i = 0; i < 500; ++i) {
    const TimeZone z = skedd::testing::zone(zones[i % 6]);
    const bool with_seconds = gen.chance(15);
    const std::string expr = gen.near_transitions(with_seconds);
    auto spec = skedd::parse_cron(expr, z);
    INFO(expr << " in " << z.name());
    REQUIRE(spec.ok());
    if (spec->never_fires()) continue;
    spec->set_dst_policy(gen.chance(50) ? DstSkipped::kRun : DstSkipped::kSkip,
                         gen.chance(50) ? DstRepeated::kOnce : DstRepeated::kTwice);
    // Start near a transition between 2020 and 2035.
    cctz::time_zone::civil_transition tr;
    const Instant year_start = gen.instant(2020, 2035);
    REQUIRE(z.cctz_zone().next_transition(std::chrono::floor<Seconds>(year_start), &tr));
    const auto transition = z.cctz_zone().lookup(tr.to).trans;
    const Instant t = Instant(transition) + Seconds(gen.uniform(-2 * 86400, 86400)) +
                      skedd::Duration(gen.chance(50) ? 0 : gen.uniform(0, 999999));
    const auto fire = spec->next_after(t);
    INFO("after " << skedd::format_rfc3339(t, z) << " got "
                  << (fire ? skedd::format_rfc3339(fire->at, z) : "never"));
    const Seconds step = with_seconds ? Seconds(1) : Seconds(60);
    const Seconds horizon(3 * 86400);
    auto x = std::chrono::floor<Seconds>(t) + Seconds(1);
    if (!with_seconds) x = std::chrono::ceil<std::chrono::minutes>(x);
    const auto end = x + horizon;
    std::optional<Instant> want;
    for (; x < end; x += step) {
      if (reference_fires_at(*spec, x.time_since_epoch().count())) {
        want = Instant(x);
        break;
      }
    }
    if (want) {
      REQUIRE(fire.has_value());
      CHECK(skedd::format_rfc3339(fire->at, z) == skedd::format_rfc3339(*want, z));
    } else if (fire) {
      CHECK(fire->at >= Instant(end));
    }
    ++checked;
  }
  CHECK(checked > 400);
}

namespace {

// What a spec that never answered before says: a copy starts with an empty memo.
std::optional<skedd::FireTime> fresh_next_after(const CronSpec& spec, Instant t) {
  return CronSpec(spec).next_after(t);
}

bool same_fire(const std::optional<skedd::FireTime>& a, const std::optional<skedd::FireTime>& b) {
  if (!a || !b) return a.has_value() == b.has_value();
  return a->at == b->at && a->shifted == b->shifted && (!a->shifted || a->wanted == b->wanted);
}

}  // namespace

TEST_CASE("property: a spec asked in any order answers as a spec asked for the first time",
          "[cron][property]") {
  // next_after() remembers its last answer (a shared spec is asked the same question for each
  // of the jobs sharing it). Queries in a random order, inside and around each remembered
  // interval, in UTC and in DST zones, must all agree with a spec that remembers nothing.
  ExprGen gen(777);
  const char* zones[] = {"UTC", "America/New_York", "Europe/London", "Australia/Lord_Howe"};
  int checked = 0;
  for (int i = 0; i < 200; ++i) {
    const TimeZone z = skedd::testing::zone(zones[i % 4]);
    const bool with_seconds = gen.chance(15);
    const std::string expr = gen.near_transitions(with_seconds);
    auto parsed = skedd::parse_cron(expr, z);
    REQUIRE(parsed.ok());
    CronSpec spec = std::move(parsed.value());
    spec.set_dst_policy(gen.chance(50) ? DstSkipped::kRun : DstSkipped::kSkip,
                        gen.chance(50) ? DstRepeated::kOnce : DstRepeated::kTwice);
    INFO(expr << " in " << z.name());
    // Instants near a transition where the zone has them, and the fires after them.
    Instant base = gen.instant(2024, 2030);
    cctz::time_zone::civil_transition tr;
    if (z.cctz_zone().next_transition(std::chrono::floor<Seconds>(base), &tr)) {
      base = Instant(z.cctz_zone().lookup(tr.to).trans) - Seconds(86400);
    }
    std::vector<Instant> queries;
    for (int k = 0; k < 30; ++k) {
      const Instant t = base + Seconds(gen.uniform(0, 3 * 86400)) +
                        skedd::Duration(gen.chance(50) ? 0 : gen.uniform(0, 999999));
      queries.push_back(t);
      if (const auto f = fresh_next_after(spec, t)) {
        // The edges of the interval the answer for t is remembered for.
        queries.push_back(f->at - skedd::Duration(1));
        queries.push_back(f->at);
        queries.push_back(t + (f->at - t) / 2);
      }
    }
    std::shuffle(queries.begin(), queries.end(), std::mt19937(static_cast<unsigned>(i)));
    for (const Instant t : queries) {
      const auto want = fresh_next_after(spec, t);
      const auto got = spec.next_after(t);
      INFO("after " << skedd::format_rfc3339(t, z));
      REQUIRE(same_fire(got, want));
      ++checked;
    }
  }
  CHECK(checked > 10000);
}

TEST_CASE("a spec shared by threads answers each as a spec asked for the first time", "[cron]") {
  // One spec, asked by four threads at once for instants around its fires (so that the
  // remembered answer keeps changing hands); every answer is checked against a fresh copy.
  const TimeZone z = skedd::testing::zone("Europe/London");
  const CronSpec spec = skedd::parse_cron("*/7 1-3 * * *", z).value();
  const Instant base = skedd::testing::at("2026-03-28T00:00:00Z");
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int n = 0; n < 4; ++n) {
    threads.emplace_back([&, n] {
      std::mt19937 rng(static_cast<unsigned>(n));
      std::uniform_int_distribution<std::int64_t> within(0, 2LL * 86400 * 1000000);
      for (int k = 0; k < 20000; ++k) {
        const Instant t = base + skedd::Duration(within(rng));
        if (!same_fire(spec.next_after(t), fresh_next_after(spec, t))) ++wrong;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  CHECK(wrong.load() == 0);
}
