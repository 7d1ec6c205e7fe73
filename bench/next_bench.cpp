// Benchmark of CronSpec::next_after(): calls per second for typical expressions on one core,
// and heap allocations inside next() (target: 2,000,000 calls/s, zero allocations).
// Baseline from the same run: cctz's own absolute->civil lookup, the floor of any zone-aware
// next(). Run: ./scripts/bench (or build/bench_next [calls]).
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "skedd/schedule/cron_spec.h"
#include "skedd/time/timestamp.h"

namespace {
std::atomic<long> g_allocations{0};
}

void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

namespace {

using Clock = std::chrono::steady_clock;

struct Case {
  const char* expr;
  const char* zone;
};

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  const long calls = argc > 1 ? std::atol(argv[1]) : 2'000'000;
  const Case cases[] = {
      {"*/5 * * * *", "UTC"},
      {"30 2 * * *", "Europe/Berlin"},
      {"0 9 * * MON-FRI", "America/New_York"},
      {"*/15 * * * * *", "Asia/Kolkata"},
      {"0 0 L * *", "Australia/Lord_Howe"},
      {"15 10 * * 5L", "Europe/London"},
  };
  const skedd::Instant start_at = skedd::parse_rfc3339("2026-01-01T00:00:00Z").value();

  // Baseline: cctz absolute lookups over the same kind of instants.
  const cctz::time_zone berlin = skedd::TimeZone::load("Europe/Berlin").value().cctz_zone();
  auto t0 = Clock::now();
  long sink = 0;
  auto tp = std::chrono::floor<std::chrono::seconds>(start_at);
  for (long i = 0; i < calls; ++i) {
    sink += berlin.lookup(tp).cs.minute();
    tp += std::chrono::seconds(97);
  }
  const double baseline_rate = static_cast<double>(calls) / seconds_since(t0);
  std::printf("baseline cctz lookup: %.0f calls/s (checksum %ld)\n", baseline_rate, sink % 7);
  std::printf("%-22s %-22s %14s %8s %10s %7s\n", "expression", "zone", "calls/s", "vs 2M",
              "vs lookup", "allocs");

  double worst = 1e18;
  for (const Case& c : cases) {
    const skedd::TimeZone zone = skedd::TimeZone::load(c.zone).value();
    const skedd::CronSpec spec = skedd::parse_cron(c.expr, zone).value();
    skedd::Instant t = start_at;
    const long allocs_before = g_allocations.load();
    t0 = Clock::now();
    for (long i = 0; i < calls; ++i) {
      auto fire = spec.next_after(t);
      // Chain through a decade, then start over, so every call does real work.
      t = fire->at;
      if (i % 100000 == 99999) t = start_at;
    }
    const double rate = static_cast<double>(calls) / seconds_since(t0);
    const long allocs = g_allocations.load() - allocs_before;
    worst = std::min(worst, rate);
    std::printf("%-22s %-22s %14.0f %7.2fx %9.2fx %7ld\n", c.expr, c.zone, rate, rate / 2e6,
                rate / baseline_rate, allocs);
  }
  std::printf("slowest: %.0f calls/s = %.2fx the 2,000,000 calls/s target\n", worst, worst / 2e6);
  return 0;
}
