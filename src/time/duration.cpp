#include "skedd/time/duration.h"

#include <cstdint>
#include <limits>

#include "util/chars.h"

namespace skedd {
namespace {

struct Unit {
  std::string_view name;
  std::int64_t micros;
};

// Longest names first so "ms" is not read as "m" followed by garbage.
constexpr Unit kUnits[] = {
    {"us", 1},
    {"ms", 1'000},
    {"s", 1'000'000},
    {"m", 60'000'000},
    {"h", 3'600'000'000},
    {"d", 86'400'000'000},
    {"w", 604'800'000'000},
};

Error duration_error(std::string_view text, std::size_t pos, std::string_view what) {
  return Error::invalid_argument("invalid duration \"" + std::string(text) + "\": " +
                                 std::string(what) + " at column " + std::to_string(pos + 1));
}

}  // namespace

Result<Duration> parse_duration(std::string_view text) {
  if (text.empty()) return Error::invalid_argument("invalid duration \"\": empty");
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max() / 2;
  std::int64_t total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t number_start = i;
    std::int64_t whole = 0;
    while (i < text.size() && is_digit(text[i])) {
      // Checked before multiplying: kMax * 10 still fits in int64, a larger value would not.
      if (whole > kMax / 10) return duration_error(text, number_start, "number too large");
      whole = whole * 10 + (text[i] - '0');
      ++i;
    }
    // Fraction digits, kept as numerator/denominator so "1.5h" is exact.
    std::int64_t frac = 0;
    std::int64_t frac_den = 1;
    bool had_digits = i > number_start;
    if (i < text.size() && text[i] == '.') {
      ++i;
      while (i < text.size() && is_digit(text[i])) {
        if (frac_den < 1'000'000'000) {
          frac = frac * 10 + (text[i] - '0');
          frac_den *= 10;
        }
        had_digits = true;
        ++i;
      }
    }
    if (!had_digits) {
      if (i < text.size() && text[i] == '-') return duration_error(text, i, "negative durations");
      return duration_error(text, i, "expected a number");
    }
    const std::size_t unit_start = i;
    while (i < text.size() && is_alpha(text[i])) ++i;
    const std::string_view unit_name = text.substr(unit_start, i - unit_start);
    if (unit_name.empty()) {
      return duration_error(text, unit_start,
                            unit_start == text.size() ? "missing unit (us, ms, s, m, h, d, w)"
                                                      : "unexpected character");
    }
    const Unit* unit = nullptr;
    for (const Unit& u : kUnits) {
      if (u.name == unit_name) unit = &u;
    }
    if (unit == nullptr) {
      return duration_error(
          text, unit_start,
          "unknown unit \"" + std::string(unit_name) + "\" (us, ms, s, m, h, d, w)");
    }
    if (whole > kMax / unit->micros) return duration_error(text, number_start, "too large");
    // frac / frac_den of the unit without overflow: frac < frac_den <= 10^9, so each product
    // below is less than the unit or than 10^18 (found by fuzz/duration_fuzz.cpp).
    const std::int64_t per_den = unit->micros / frac_den;
    const std::int64_t rest = unit->micros % frac_den;
    const std::int64_t term = whole * unit->micros + frac * per_den + frac * rest / frac_den;
    if (term > kMax - total) return duration_error(text, number_start, "too large");
    total += term;
  }
  return Duration(total);
}

std::string format_duration(Duration d) {
  std::int64_t us = d.count();
  if (us == 0) return "0s";
  std::string out;
  if (us < 0) {
    out = "-";
    us = -us;
  }
  for (std::size_t k = std::size(kUnits); k-- > 0;) {
    const Unit& u = kUnits[k];
    if (u.name == "w") continue;  // "14d" reads better than "2w"
    if (us >= u.micros) {
      out += std::to_string(us / u.micros);
      out += u.name;
      us %= u.micros;
    }
  }
  return out;
}

}  // namespace skedd
