#include "skedd/time/timestamp.h"

#include <cctz/civil_time.h>

#include <cstdio>
#include <optional>

namespace skedd {
namespace {

struct Parsed {
  cctz::civil_second civil;
  std::int64_t micros = 0;
  std::optional<int> offset_seconds;  // absent: a civil time
};

class TimestampReader {
 public:
  explicit TimestampReader(std::string_view text) : text_(text) {}

  Result<Parsed> read() {
    int y, mo, d, h, mi, s;
    if (!number(4, y) || !literal('-') || !number(2, mo) || !literal('-') || !number(2, d)) {
      return fail("expected YYYY-MM-DD");
    }
    if (pos_ >= text_.size() || (text_[pos_] != 'T' && text_[pos_] != 't' && text_[pos_] != ' ')) {
      return fail("expected 'T' between date and time");
    }
    ++pos_;
    const std::size_t time_start = pos_;
    if (!number(2, h) || !literal(':') || !number(2, mi) || !literal(':') || !number(2, s)) {
      pos_ = time_start;
      return fail("expected hh:mm:ss");
    }
    if (mo < 1 || mo > 12) return fail_at(5, "month " + std::to_string(mo) + " is out of range");
    const cctz::civil_day day(y, mo, d);
    if (d < 1 || day.day() != d) {
      return fail_at(8, "day " + std::to_string(d) + " does not exist in " + std::to_string(y) +
                            "-" + two(mo));
    }
    if (h > 23 || mi > 59 || s > 59) return fail_at(time_start, "time of day is out of range");
    Parsed out;
    out.civil = cctz::civil_second(y, mo, d, h, mi, s);
    if (pos_ < text_.size() && text_[pos_] == '.') {
      ++pos_;
      const std::size_t frac_start = pos_;
      std::int64_t scale = 100'000;
      while (pos_ < text_.size() && is_digit(text_[pos_])) {
        if (pos_ - frac_start >= 9) return fail("more than 9 fraction digits");
        out.micros += (text_[pos_] - '0') * scale;
        scale /= 10;
        ++pos_;
      }
      if (pos_ == frac_start) return fail("expected fraction digits after '.'");
    }
    if (pos_ == text_.size()) return out;
    const char c = text_[pos_];
    if (c == 'Z' || c == 'z') {
      ++pos_;
      out.offset_seconds = 0;
    } else if (c == '+' || c == '-') {
      ++pos_;
      int oh, om;
      if (!number(2, oh) || !literal(':') || !number(2, om) || oh > 23 || om > 59) {
        return fail("expected an offset like +01:00");
      }
      out.offset_seconds = (c == '-' ? -1 : 1) * (oh * 3600 + om * 60);
    } else {
      return fail("expected 'Z' or an offset like +01:00");
    }
    if (pos_ != text_.size()) return fail("unexpected text after the offset");
    return out;
  }

 private:
  static bool is_digit(char c) { return c >= '0' && c <= '9'; }
  static std::string two(int v) { return (v < 10 ? "0" : "") + std::to_string(v); }

  bool number(int digits, int& out) {
    out = 0;
    for (int i = 0; i < digits; ++i) {
      if (pos_ >= text_.size() || !is_digit(text_[pos_])) return false;
      out = out * 10 + (text_[pos_++] - '0');
    }
    return true;
  }
  bool literal(char c) {
    if (pos_ >= text_.size() || text_[pos_] != c) return false;
    ++pos_;
    return true;
  }
  Error fail(const std::string& what) const { return fail_at(pos_, what); }
  Error fail_at(std::size_t pos, const std::string& what) const {
    return Error::invalid_argument("invalid timestamp \"" + std::string(text_) + "\": " + what +
                                   " at column " + std::to_string(pos + 1));
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

Instant to_instant(cctz::time_point<cctz::seconds> seconds, std::int64_t micros) {
  return std::chrono::time_point_cast<Duration>(seconds) + Duration(micros);
}

}  // namespace

Result<Instant> parse_timestamp(std::string_view text, const TimeZone& zone) {
  auto parsed = TimestampReader(text).read();
  if (!parsed) return parsed.error();
  if (parsed->offset_seconds) {
    const auto utc = cctz::convert(parsed->civil, cctz::utc_time_zone());
    return to_instant(utc - cctz::seconds(*parsed->offset_seconds), parsed->micros);
  }
  return to_instant(cctz::convert(parsed->civil, zone.cctz_zone()), parsed->micros);
}

Result<Instant> parse_rfc3339(std::string_view text) {
  auto parsed = TimestampReader(text).read();
  if (!parsed) return parsed.error();
  if (!parsed->offset_seconds) {
    return Error::invalid_argument("invalid timestamp \"" + std::string(text) +
                                   "\": missing 'Z' or a UTC offset like +01:00 at column " +
                                   std::to_string(text.size() + 1));
  }
  return parse_timestamp(text, TimeZone());
}

std::string format_rfc3339(Instant t, const TimeZone& zone) {
  const auto secs = std::chrono::floor<std::chrono::seconds>(t);
  std::int64_t micros = (t - secs).count();
  const auto info = zone.cctz_zone().lookup(secs);
  // RFC 3339 offsets are whole minutes; a local mean time before standard time (New York's
  // -04:56:02 until 1883) would print as another instant, so it is given in UTC (found by
  // fuzz/at_fuzz.cpp).
  if (info.offset % 60 != 0) return format_rfc3339(t, TimeZone());
  const cctz::civil_second cs = info.cs;
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%04lld-%02d-%02dT%02d:%02d:%02d",
                        static_cast<long long>(cs.year()), cs.month(), cs.day(), cs.hour(),
                        cs.minute(), cs.second());
  std::string out(buf, static_cast<std::size_t>(n));
  if (micros != 0) {
    std::snprintf(buf, sizeof buf, ".%06lld", static_cast<long long>(micros));
    std::string frac = buf;
    while (frac.back() == '0') frac.pop_back();
    out += frac;
  }
  if (info.offset == 0 && zone.name() == "UTC") {
    out += 'Z';
  } else {
    const int off = info.offset < 0 ? -info.offset : info.offset;
    std::snprintf(buf, sizeof buf, "%c%02d:%02d", info.offset < 0 ? '-' : '+', off / 3600,
                  off % 3600 / 60);
    out += buf;
  }
  return out;
}

std::string format_rfc3339_utc(Instant t) {
  return format_rfc3339(t, TimeZone());
}

}  // namespace skedd
