// Next-fire computation for cron expressions: a pure calendar search over civil time, and a
// walk over the zone's constant-offset segments that applies the DST rules. No allocation.
#include <bit>
#include <cstdio>
#include <string>

#include "skedd/schedule/cron_spec.h"

namespace skedd {
namespace {

using Seconds = cctz::time_point<cctz::seconds>;

constexpr int kDaysInMonth[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

bool is_leap(std::int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int days_in_month(std::int64_t y, int m) {
  return m == 2 && is_leap(y) ? 29 : kDaysInMonth[m];
}

// 0 = Sunday.
int weekday_of(std::int64_t y, int m, int d) {
  const cctz::weekday wd = cctz::get_weekday(cctz::civil_day(y, m, d));
  return (static_cast<int>(wd) + 1) % 7;  // cctz: monday = 0 ... sunday = 6
}

// Bits at or above `from`.
constexpr std::uint64_t at_or_above(int from) {
  return ~((std::uint64_t{1} << from) - 1);
}

Instant to_instant(const cctz::civil_second& cs, int utc_offset) {
  static const cctz::civil_second kEpoch(1970, 1, 1, 0, 0, 0);
  return Instant(std::chrono::seconds((cs - kEpoch) - utc_offset));
}

}  // namespace

std::uint32_t CronSpec::day_mask(std::int64_t y, int m) const {
  const int nd = days_in_month(y, m);
  const std::uint32_t valid = ((std::uint32_t{1} << nd) - 1) << 1;  // bits 1..nd
  const int wd1 = weekday_of(y, m, 1);
  const auto weekday = [wd1](int d) { return (wd1 + d - 1) % 7; };

  std::uint32_t dom = dom_ & valid;
  if (dom_last_) dom |= std::uint32_t{1} << nd;
  if (dom_last_weekday_) {
    const int wd = weekday(nd);
    dom |= std::uint32_t{1} << (wd == 6 ? nd - 1 : wd == 0 ? nd - 2 : nd);
  }
  // "nW": the weekday nearest to day n, never leaving the month (Quartz semantics).
  for (std::uint32_t bits = dom_nearest_weekday_ & valid; bits != 0; bits &= bits - 1) {
    const int n = std::countr_zero(bits);
    const int wd = weekday(n);
    int d = n;
    if (wd == 6) d = n == 1 ? n + 2 : n - 1;
    if (wd == 0) d = n == nd ? n - 2 : n + 1;
    dom |= std::uint32_t{1} << d;
  }

  // Repeat the weekly pattern so that day d (1-based) reads bit wd1 + d - 1.
  const std::uint64_t week = dow_;
  const std::uint64_t pattern =
      week | week << 7 | week << 14 | week << 21 | week << 28 | week << 35;
  std::uint32_t dow = static_cast<std::uint32_t>((pattern >> wd1) << 1) & valid;
  if (dow_last_ != 0 || dow_nth_ != 0) {
    for (int w = 0; w < 7; ++w) {
      const int first = 1 + (w - wd1 + 7) % 7;
      if (dow_last_ & (1u << w)) dow |= std::uint32_t{1} << (first + 7 * ((nd - first) / 7));
      for (int k = 0; k < 5; ++k) {
        const int d = first + 7 * k;
        if ((dow_nth_ >> (w * 5 + k)) & 1 && d <= nd) dow |= std::uint32_t{1} << d;
      }
    }
  }
  // cronie's rule: if either day field starts with '*', both must match; else either.
  return (dom_star_ || dow_star_) ? (dom & dow) : (dom | dow);
}

bool CronSpec::matches(const cctz::civil_second& t) const {
  return (months_ >> t.month() & 1) && (day_mask(t.year(), t.month()) >> t.day() & 1) &&
         (hours_ >> t.hour() & 1) && (minutes_ >> t.minute() & 1) && (seconds_ >> t.second() & 1);
}

std::optional<cctz::civil_second> CronSpec::next_civil_match(cctz::civil_second from,
                                                             std::int64_t last_year) const {
  cctz::civil_second cs = from;
  // Each step either returns or moves cs forward to the start of the next candidate unit
  // (year, month, day, hour, minute); civil_second normalizes overflowing fields.
  while (cs.year() <= last_year) {
    const std::int64_t y = cs.year();
    const std::uint64_t months = months_ & at_or_above(cs.month());
    if (months == 0) {
      cs = cctz::civil_second(y + 1, 1, 1, 0, 0, 0);
      continue;
    }
    const int m = std::countr_zero(months);
    if (m != cs.month()) cs = cctz::civil_second(y, m, 1, 0, 0, 0);

    const std::uint64_t days = day_mask(y, m) & at_or_above(cs.day());
    if (days == 0) {
      cs = cctz::civil_second(y, m + 1, 1, 0, 0, 0);
      continue;
    }
    const int d = std::countr_zero(days);
    if (d != cs.day()) cs = cctz::civil_second(y, m, d, 0, 0, 0);

    const std::uint64_t hours = hours_ & at_or_above(cs.hour());
    if (hours == 0) {
      cs = cctz::civil_second(y, m, d + 1, 0, 0, 0);
      continue;
    }
    const int h = std::countr_zero(hours);
    if (h != cs.hour()) cs = cctz::civil_second(y, m, d, h, 0, 0);

    const std::uint64_t minutes = minutes_ & at_or_above(cs.minute());
    if (minutes == 0) {
      cs = cctz::civil_second(y, m, d, h + 1, 0, 0);
      continue;
    }
    const int mi = std::countr_zero(minutes);
    if (mi != cs.minute()) cs = cctz::civil_second(y, m, d, h, mi, 0);

    const std::uint64_t seconds = seconds_ & at_or_above(cs.second());
    if (seconds == 0) {
      cs = cctz::civil_second(y, m, d, h, mi + 1, 0);
      continue;
    }
    return cctz::civil_second(y, m, d, h, mi, std::countr_zero(seconds));
  }
  return std::nullopt;
}

namespace {

// A stretch of time with one UTC offset: [begin, end), with what bounds it. Within a segment
// civil time and instants increase together.
struct Segment {
  cctz::time_zone zone;  // compares by identity; a cheap handle
  Seconds begin;
  Seconds end;
  int offset = 0;
  bool bounded = false;                      // a transition ends it
  cctz::time_zone::civil_transition next{};  // valid when bounded
  bool after_fall_back = false;              // it begins where the clock fell back
  cctz::civil_second repeat_end;             // ... from this civil time
};

Segment load_segment(const cctz::time_zone& tz, Seconds t) {
  Segment seg;
  seg.zone = tz;
  seg.offset = tz.lookup(t).offset;
  seg.bounded = tz.next_transition(t, &seg.next);
  // `next.from` is the civil time at the transition in this segment's offset.
  seg.end = seg.bounded
                ? Seconds(std::chrono::floor<cctz::seconds>(to_instant(seg.next.from, seg.offset)))
                : Seconds::max();
  cctz::time_zone::civil_transition prev;
  if (tz.prev_transition(t + cctz::seconds(1), &prev)) {
    seg.begin = std::chrono::floor<cctz::seconds>(to_instant(prev.to, seg.offset));
    seg.after_fall_back = prev.to < prev.from;
    seg.repeat_end = prev.from;
  } else {
    seg.begin = Seconds::min();
  }
  return seg;
}

// next_after() asks for the same few segments over and over (a zone changes offset about
// twice a year), so the last one is remembered per thread: no shared state, no allocation.
// Owner: the calling thread. Key: the zone (cctz keeps every zone it loaded for the process's
// life, so the comparison never meets a freed one) and the segment's [begin, end). A query
// outside it loads the segment holding it. Worth it: bench_next's slowest expression runs at
// 3.3M calls/s with it, 2.56M without (measured 2026-12-03).
const Segment& segment_at(const cctz::time_zone& tz, Seconds t) {
  thread_local Segment cache;
  thread_local bool valid = false;
  if (!valid || cache.zone != tz || t < cache.begin || t >= cache.end) {
    cache = load_segment(tz, t);
    valid = true;
  }
  return cache;
}

cctz::civil_second civil_at(Seconds t, int offset) {
  static const cctz::civil_second kEpoch(1970, 1, 1, 0, 0, 0);
  return kEpoch + (t.time_since_epoch().count() + offset);
}

}  // namespace

std::optional<FireTime> CronSpec::next_after(Instant after) const {
  if (never_) return std::nullopt;
  const cctz::time_zone& tz = zone_.cctz_zone();
  const bool fold_repeats = !wall_time_ && dst_repeated_ == DstRepeated::kOnce;
  const bool run_skipped = !wall_time_ && dst_skipped_ == DstSkipped::kRun;

  // Walk the zone's segments of constant UTC offset, starting with the one holding `after`;
  // within a segment the first civil match is the first fire.
  // Invariant: every fire before `cursor` is <= after.
  Seconds cursor = std::chrono::floor<cctz::seconds>(after);
  bool first_segment = true;
  std::int64_t last_year = 0;
  for (;;) {
    const Segment seg = segment_at(tz, cursor);
    cctz::civil_second from = civil_at(cursor, seg.offset);
    if (first_segment) {
      from += 1;  // fires are whole seconds, and must be strictly after `after`
      last_year = from.year() + 400;
      first_segment = false;
    }
    if (fold_repeats && seg.after_fall_back && from < seg.repeat_end) {
      // A fixed-time job already ran in the first pass through a repeated interval: in the
      // second pass, skip civil times up to where the clock fell back from.
      from = seg.repeat_end;
    }
    const std::optional<cctz::civil_second> match = next_civil_match(from, last_year);
    if (!match) return std::nullopt;
    if (!seg.bounded || *match < seg.next.from) return FireTime{to_instant(*match, seg.offset)};

    // No fire before the next transition.
    if (run_skipped && seg.next.from < seg.next.to && *match < seg.next.to) {
      // The wanted time falls in the gap: run once, right after the jump (cronie).
      return FireTime{Instant(seg.end), true, *match};
    }
    cursor = seg.end;
  }
}

std::string CronSpec::dst_note(const FireTime& fire) const {
  const auto clock_text = [](const cctz::civil_second& cs) {
    char buf[16];
    if (cs.second() != 0) {
      std::snprintf(buf, sizeof buf, "%02d:%02d:%02d", cs.hour(), cs.minute(), cs.second());
    } else {
      std::snprintf(buf, sizeof buf, "%02d:%02d", cs.hour(), cs.minute());
    }
    return std::string(buf);
  };
  if (fire.shifted) return "shifted: " + clock_text(fire.wanted) + " does not exist on this day";
  const cctz::time_zone& tz = zone_.cctz_zone();
  const Seconds at = std::chrono::floor<cctz::seconds>(fire.at);
  const cctz::civil_second cs = tz.lookup(at).cs;
  const cctz::time_zone::civil_lookup l = tz.lookup(cs);
  if (l.kind != cctz::time_zone::civil_lookup::REPEATED) return "";
  const std::string what = "repeated: " + clock_text(cs) + " occurs twice on this day; ";
  if (at == l.pre) {
    const bool once = !wall_time_ && dst_repeated_ == DstRepeated::kOnce;
    return what + (once ? "runs at the first only" : "this is the first");
  }
  return what + "this is the second";
}

}  // namespace skedd
