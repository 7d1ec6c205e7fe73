// Cron expression parsing: text -> CronSpec bitsets. Pure.
#include <array>
#include <cctype>
#include <cstdint>
#include <string>
#include <vector>

#include "skedd/schedule/cron_spec.h"
#include "util/chars.h"

namespace skedd {
namespace {

enum class Field { kSecond, kMinute, kHour, kDayOfMonth, kMonth, kDayOfWeek };

struct FieldInfo {
  const char* name;
  int min;
  int max;
};

constexpr FieldInfo kFieldInfo[] = {
    {"second", 0, 59},       {"minute", 0, 59}, {"hour", 0, 23},
    {"day-of-month", 1, 31}, {"month", 1, 12},  {"day-of-week", 0, 7},
};

constexpr std::array<const char*, 12> kMonthNames = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                     "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr std::array<const char*, 7> kDayNames = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

struct Macro {
  std::string_view name;
  std::string_view expansion;
};
constexpr Macro kMacros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

// A token of one field, with its position in the whole expression.
struct Token {
  std::string_view text;
  std::size_t column;  // 0-based offset into the expression
};

// The Gregorian calendar repeats every 400 years: a day that never matches in one full cycle
// never matches at all. Decided once per spec so next_after() never searches in vain.
bool never_matches(const CronSpec& spec) {
  return !spec.next_civil_match(cctz::civil_second(2000, 1, 1, 0, 0, 0), 2399).has_value();
}

}  // namespace

// Parses one expression; a friend of CronSpec so it can fill the bitsets.
class CronParser {
 public:
  CronParser(std::string_view expr, CronSpec& spec) : expr_(expr), spec_(spec) {}

  Status parse() {
    std::vector<Token> fields;
    std::size_t i = 0;
    while (i < expr_.size()) {
      while (i < expr_.size() && is_blank(expr_[i])) ++i;
      const std::size_t start = i;
      while (i < expr_.size() && !is_blank(expr_[i])) ++i;
      if (i > start) fields.push_back({expr_.substr(start, i - start), start});
    }
    if (fields.size() != 5 && fields.size() != 6) {
      return Error::invalid_argument(
          "expected 5 fields (minute hour day-of-month month "
          "day-of-week) or 6 with leading seconds, got " +
          std::to_string(fields.size()) + " in \"" + std::string(expr_) + "\"");
    }
    spec_.has_seconds_ = fields.size() == 6;
    std::size_t f = 0;
    if (spec_.has_seconds_) {
      if (auto s = parse_field(Field::kSecond, fields[f++]); !s) return s;
    } else {
      spec_.seconds_ = 1;  // second 0
    }
    for (Field field :
         {Field::kMinute, Field::kHour, Field::kDayOfMonth, Field::kMonth, Field::kDayOfWeek}) {
      if (auto s = parse_field(field, fields[f++]); !s) return s;
    }
    const std::size_t base = spec_.has_seconds_ ? 1 : 0;
    spec_.wall_time_ =
        starts_with_star(fields[base].text) || starts_with_star(fields[base + 1].text);
    spec_.dom_star_ = starts_with_star(fields[base + 2].text);
    spec_.dow_star_ = starts_with_star(fields[base + 4].text);
    return Ok{};
  }

 private:
  static bool starts_with_star(std::string_view t) {
    return !t.empty() && (t.front() == '*' || t.front() == '?');
  }

  Error error(Field field, std::size_t column, const std::string& what) const {
    return Error::invalid_argument(std::string(kFieldInfo[static_cast<int>(field)].name) +
                                   " field: " + what + " (column " + std::to_string(column + 1) +
                                   " of \"" + std::string(expr_) + "\")");
  }

  Status parse_field(Field field, Token tok) {
    std::size_t start = 0;
    for (std::size_t i = 0; i <= tok.text.size(); ++i) {
      if (i == tok.text.size() || tok.text[i] == ',') {
        if (i == start) {
          return error(field, tok.column + i,
                       "empty list item in \"" + std::string(tok.text) + "\"");
        }
        if (auto s = parse_item(field, {tok.text.substr(start, i - start), tok.column + start});
            !s) {
          return s;
        }
        start = i + 1;
      }
    }
    return Ok{};
  }

  // Reads a number or a name at the front of `t`; advances `t` past it.
  Result<int> read_value(Field field, Token& t) {
    const FieldInfo& info = kFieldInfo[static_cast<int>(field)];
    std::size_t n = 0;
    if (!t.text.empty() && is_digit(t.text[0])) {
      long v = 0;
      while (n < t.text.size() && is_digit(t.text[n])) {
        if (v < 1000) v = v * 10 + (t.text[n] - '0');
        ++n;
      }
      const std::string shown(t.text.substr(0, n));
      if (v < info.min || v > info.max) {
        return error(field, t.column,
                     shown + " is out of range " + std::to_string(info.min) + "-" +
                         std::to_string(info.max));
      }
      t = {t.text.substr(n), t.column + n};
      return static_cast<int>(v);
    }
    while (n < t.text.size() && is_alpha(t.text[n])) ++n;
    if (n == 0) {
      const std::string what =
          t.text.empty() ? "end of field" : "'" + std::string(1, t.text[0]) + "'";
      return error(field, t.column, "expected a value, got " + what);
    }
    std::string upper(t.text.substr(0, n));
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    // "FRIL" is a weekday name followed by 'L'.
    if (field == Field::kDayOfWeek && upper.size() == 4 && upper.back() == 'L') {
      upper.pop_back();
      n = 3;
    }
    if (field == Field::kMonth) {
      for (std::size_t i = 0; i < kMonthNames.size(); ++i) {
        if (upper == kMonthNames[i]) {
          t = {t.text.substr(n), t.column + n};
          return static_cast<int>(i + 1);
        }
      }
    } else if (field == Field::kDayOfWeek) {
      for (std::size_t i = 0; i < kDayNames.size(); ++i) {
        if (upper == kDayNames[i]) {
          t = {t.text.substr(n), t.column + n};
          return static_cast<int>(i);
        }
      }
    }
    return error(field, t.column, "unknown name \"" + std::string(t.text.substr(0, n)) + "\"");
  }

  Status parse_item(Field field, Token item) {
    const FieldInfo& info = kFieldInfo[static_cast<int>(field)];
    const std::string_view text = item.text;
    if (field == Field::kDayOfMonth) {
      if (auto handled = parse_dom_special(item); handled.ok() && handled.value())
        return Ok{};
      else if (!handled)
        return handled.error();
    }
    if (field == Field::kDayOfWeek) {
      if (auto handled = parse_dow_special(item); handled.ok() && handled.value())
        return Ok{};
      else if (!handled)
        return handled.error();
    }
    int lo = info.min;
    int hi = field == Field::kDayOfWeek ? 6 : info.max;
    Token rest = item;
    bool range_given = false;
    if (text[0] == '*' || text[0] == '?') {
      rest = {text.substr(1), item.column + 1};
    } else {
      auto first = read_value(field, rest);
      if (!first) return first.error();
      lo = hi = first.value();
      if (!rest.text.empty() && rest.text[0] == '-') {
        rest = {rest.text.substr(1), rest.column + 1};
        auto second = read_value(field, rest);
        if (!second) return second.error();
        hi = second.value();
        // "FRI-SUN": a day-of-week range may end on Sunday written as 0.
        if (field == Field::kDayOfWeek && hi == 0 && lo > 0) hi = 7;
        if (hi < lo) {
          const std::string range(text.substr(0, rest.column - item.column));
          return error(field, item.column, "range " + range + " is reversed");
        }
        range_given = true;
      }
    }
    int step = 1;
    if (!rest.text.empty() && rest.text[0] == '/') {
      const std::size_t step_column = rest.column + 1;
      std::string_view digits = rest.text.substr(1);
      std::size_t n = 0;
      long v = 0;
      while (n < digits.size() && is_digit(digits[n])) {
        if (v < 100000) v = v * 10 + (digits[n] - '0');
        ++n;
      }
      if (n == 0) return error(field, step_column, "expected a step number after '/'");
      if (v == 0) return error(field, step_column, "step 0 must be at least 1");
      step = static_cast<int>(v);
      // "a/n" means a, a+n, ... up to the field's maximum (Saturday for day-of-week, so
      // that "1/2" does not wrap around into Sunday written as 7).
      if (!range_given && text[0] != '*' && text[0] != '?') {
        hi = field == Field::kDayOfWeek ? 6 : info.max;
      }
      rest = {digits.substr(n), step_column + n};
    }
    if (!rest.text.empty()) {
      return error(field, rest.column, "unexpected '" + std::string(1, rest.text[0]) + "'");
    }
    for (int v = lo; v <= hi; v += step) set_bit(field, v);
    return Ok{};
  }

  void set_bit(Field field, int v) {
    switch (field) {
      case Field::kSecond:
        spec_.seconds_ |= std::uint64_t{1} << v;
        break;
      case Field::kMinute:
        spec_.minutes_ |= std::uint64_t{1} << v;
        break;
      case Field::kHour:
        spec_.hours_ |= std::uint32_t{1} << v;
        break;
      case Field::kDayOfMonth:
        spec_.dom_ |= std::uint32_t{1} << v;
        break;
      case Field::kMonth:
        spec_.months_ |= static_cast<std::uint16_t>(1u << v);
        break;
      case Field::kDayOfWeek:
        spec_.dow_ |= static_cast<std::uint8_t>(1u << (v % 7));
        break;
    }
  }

  // L, LW, nW. Returns true when the item was one of them.
  Result<bool> parse_dom_special(Token item) {
    const std::string_view t = item.text;
    auto upper_eq = [](std::string_view a, std::string_view b) {
      if (a.size() != b.size()) return false;
      for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::toupper(static_cast<unsigned char>(a[i])) != b[i]) return false;
      }
      return true;
    };
    if (upper_eq(t, "L")) {
      spec_.dom_last_ = true;
      return true;
    }
    if (upper_eq(t, "LW") || upper_eq(t, "WL")) {
      spec_.dom_last_weekday_ = true;
      return true;
    }
    if (t.size() >= 2 && (t.back() == 'W' || t.back() == 'w') && is_digit(t[0])) {
      Token value{t.substr(0, t.size() - 1), item.column};
      auto day = read_value(Field::kDayOfMonth, value);
      if (!day) return day.error();
      if (!value.text.empty()) {
        return error(Field::kDayOfMonth, value.column,
                     "'W' must follow a single day of month, as in \"15W\"");
      }
      spec_.dom_nearest_weekday_ |= std::uint32_t{1} << day.value();
      return true;
    }
    return false;
  }

  // nL, n#k. Returns true when the item was one of them.
  Result<bool> parse_dow_special(Token item) {
    const std::string_view t = item.text;
    const bool last = t.size() >= 2 && (t.back() == 'L' || t.back() == 'l');
    const std::size_t hash = t.find('#');
    if (!last && hash == std::string_view::npos) return false;
    if (t[0] == '*' || t[0] == '?') {
      return error(Field::kDayOfWeek, item.column, "'L' and '#' need a day of week, as in \"5L\"");
    }
    Token value{last ? t.substr(0, t.size() - 1) : t.substr(0, hash), item.column};
    auto day = read_value(Field::kDayOfWeek, value);
    if (!day) return day.error();
    if (!value.text.empty()) {
      return error(Field::kDayOfWeek, value.column,
                   "unexpected '" + std::string(1, value.text[0]) + "'");
    }
    const int weekday = day.value() % 7;
    if (last) {
      spec_.dow_last_ |= static_cast<std::uint8_t>(1u << weekday);
      return true;
    }
    const std::string_view k = t.substr(hash + 1);
    if (k.size() != 1 || k[0] < '1' || k[0] > '5') {
      return error(Field::kDayOfWeek, item.column + hash + 1,
                   "occurrence after '#' must be 1-5, got \"" + std::string(k) + "\"");
    }
    spec_.dow_nth_ |= std::uint64_t{1} << (weekday * 5 + (k[0] - '1'));
    return true;
  }

  std::string_view expr_;
  CronSpec& spec_;
};

Result<CronSpec> parse_cron(std::string_view text, const TimeZone& zone) {
  std::size_t b = 0;
  std::size_t e = text.size();
  while (b < e && is_blank(text[b])) ++b;
  while (e > b && is_blank(text[e - 1])) --e;
  const std::string_view trimmed = text.substr(b, e - b);
  if (trimmed.empty()) return Error::invalid_argument("empty cron expression");
  if (trimmed[0] == '@') {
    for (const Macro& m : kMacros) {
      if (m.name == trimmed) return parse_cron(m.expansion, zone);
    }
    return Error::invalid_argument(
        "unknown macro \"" + std::string(trimmed) +
        "\" (expected @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly, "
        "@reboot or @every <duration>)");
  }
  CronSpec spec;
  spec.zone_ = zone;
  if (auto s = CronParser(trimmed, spec).parse(); !s) return s.error();
  spec.never_ = never_matches(spec);
  return spec;
}

CronSpec cron_spec_from_sets(const CronFieldSets& sets, const TimeZone& zone) {
  CronSpec spec;
  spec.zone_ = zone;
  spec.seconds_ = 1;  // second 0
  spec.minutes_ = sets.minutes & ((std::uint64_t{1} << 60) - 1);
  spec.hours_ = sets.hours & ((std::uint32_t{1} << 24) - 1);
  spec.dom_ = sets.days_of_month & ~std::uint32_t{1};
  spec.months_ = static_cast<std::uint16_t>(sets.months & 0x1FFE);
  spec.dow_ = static_cast<std::uint8_t>(sets.days_of_week & 0x7F);
  spec.dom_star_ = sets.dom_star;
  spec.dow_star_ = sets.dow_star;
  spec.wall_time_ = sets.wall_time;
  spec.never_ = spec.minutes_ == 0 || spec.hours_ == 0 || never_matches(spec);
  return spec;
}

}  // namespace skedd
