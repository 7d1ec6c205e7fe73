// One crontab line: assignment or job, cut as cron's env.c, entry.c and do_command.c cut it.
#include "cron/crontab_line.h"

#include <array>
#include <vector>

#include "util/chars.h"

namespace skedd {
namespace {

// The next blank-separated word of `rest`, which is advanced past it; empty at the end.
std::string_view next_word(std::string_view& rest) {
  std::size_t b = 0;
  while (b < rest.size() && is_blank(rest[b])) ++b;
  std::size_t e = b;
  while (e < rest.size() && !is_blank(rest[e])) ++e;
  const std::string_view word = rest.substr(b, e - b);
  rest.remove_prefix(e);
  return word;
}

constexpr std::array<std::string_view, 8> kMacros = {"@reboot", "@yearly", "@annually", "@monthly",
                                                     "@weekly", "@daily",  "@midnight", "@hourly"};
// cron.h's MAX_COMMAND less the NUL.
constexpr std::size_t kMaxCommand = 999;
constexpr std::array<const char*, 5> kFieldNames = {"minute", "hour", "day-of-month", "month",
                                                    "day-of-week"};
constexpr std::array<int, 5> kLow = {0, 0, 1, 1, 0};
constexpr std::array<int, 5> kHigh = {59, 23, 31, 12, 7};
constexpr std::array<const char*, 12> kMonthNames = {"jan", "feb", "mar", "apr", "may", "jun",
                                                     "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<const char*, 7> kDayNames = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

bool same_letters(std::string_view word, const char* name) {
  std::size_t i = 0;
  for (; i < word.size() && name[i] != '\0'; ++i) {
    const char c =
        word[i] >= 'A' && word[i] <= 'Z' ? static_cast<char>(word[i] - 'A' + 'a') : word[i];
    if (c != name[i]) return false;
  }
  return i == word.size() && name[i] == '\0';
}

constexpr bool is_alnum(char c) {
  return is_alpha(c) || is_digit(c);
}

// One time field as Debian's cron reads it (entry.c: get_list, get_range, get_number):
//   list = range {"," range};  range = "*" ["/" step] | value ["-" value ["/" step]]
// where a value is the whole run of letters and digits there (a number, or a month or day
// name in any case) and a step a number above 0. A value out of the field's range, a name
// that is none, a missing value and a step on a single value ("5/10", a Debian patch) are
// errors ("bad minute"). What follows a complete item other than ',' is skipped up to the
// next blank, and a range that runs backwards (10-5) sets nothing: cron accepts both.
class FieldReader {
 public:
  FieldReader(std::size_t field, std::string_view text, std::string_view expr, std::size_t column)
      : field_(field), text_(text), expr_(expr), column_(column) {}

  // Sets `bits`; `canonical` gets the field as parse_cron() reads it the same way (names as
  // numbers, backward ranges and what cron ignores left out), `ignored` what cron ignores.
  Status read(std::uint64_t& bits, std::string& canonical, std::string& ignored) {
    bits = 0;
    for (;;) {
      if (auto s = range(bits, canonical); !s) return s;
      if (at_ >= text_.size() || text_[at_] != ',') break;
      ++at_;
    }
    if (at_ < text_.size()) {
      ignored = std::string(text_.substr(at_));
    } else if (!dropped_) {
      canonical = std::string(text_);  // as written, names and all
    }
    return Ok{};
  }

 private:
  Status range(std::uint64_t& bits, std::string& canonical) {
    const std::size_t item = at_;
    int first = kLow[field_];
    int last = kHigh[field_];
    std::string text = "*";
    if (peek() == '*') {
      ++at_;
    } else {
      if (auto s = value(first, true); !s) return s;
      text = std::to_string(first);
      if (peek() != '-') {
        if (peek() == '/') return single_step(item);
        bits |= std::uint64_t{1} << first;
        canonical += (canonical.empty() ? "" : ",") + text;
        return Ok{};
      }
      ++at_;
      if (auto s = value(last, true); !s) return s;
      text += "-" + std::to_string(last);
    }
    int step = 1;
    if (peek() == '/') {
      ++at_;
      const std::size_t at = at_;
      if (auto s = value(step, false); !s) return s;
      if (step <= 0) return error(at, "a step of 0");
      text += "/" + std::to_string(step);
    }
    for (int v = first; v <= last; v += step) bits |= std::uint64_t{1} << v;
    if (first <= last) {
      canonical += (canonical.empty() ? "" : ",") + text;
    } else {
      dropped_ = true;
    }
    return Ok{};
  }

  char peek() const { return at_ < text_.size() ? text_[at_] : '\0'; }

  // get_number(): the run of letters and digits at `at_`, a name of the field or a number.
  Status value(int& out, bool names) {
    const std::size_t start = at_;
    while (at_ < text_.size() && is_alnum(text_[at_])) ++at_;
    const std::string_view word = text_.substr(start, at_ - start);
    if (word.empty()) {
      return error(start, at_ < text_.size()
                              ? "'" + std::string(1, text_[at_]) + "' where a number belongs"
                              : std::string("a number is missing at the end"));
    }
    if (names && (field_ == 3 || field_ == 4)) {
      const auto* list = field_ == 3 ? kMonthNames.data() : kDayNames.data();
      const std::size_t count = field_ == 3 ? kMonthNames.size() : kDayNames.size();
      for (std::size_t i = 0; i < count; ++i) {
        if (same_letters(word, list[i])) {
          out = static_cast<int>(i) + kLow[field_];
          return Ok{};
        }
      }
    }
    bool digits = word.size() <= 9;
    for (char c : word) digits = digits && is_digit(c);
    if (!digits) {
      const bool named = names && (field_ == 3 || field_ == 4);
      return error(start, "\"" + std::string(word) + "\" is not " +
                              (named ? "a number or a three-letter name" : "a number"));
    }
    out = std::stoi(std::string(word));
    if (names && (out < kLow[field_] || out > kHigh[field_])) {
      return error(start, std::to_string(out) + " is out of range " + std::to_string(kLow[field_]) +
                              "-" + std::to_string(kHigh[field_]));
    }
    return Ok{};
  }

  Status single_step(std::size_t item) {
    const std::string before(text_.substr(item, at_ - item));
    std::size_t end = text_.find(',', at_);
    if (end == std::string_view::npos) end = text_.size();
    const std::string step(text_.substr(at_, end - at_));
    return error(item, "\"" + before + step +
                           "\" steps from a single value, which Debian's cron (\"bad " +
                           kFieldNames[field_] + "\") and cronie refuse; write \"" + before + "-" +
                           std::to_string(field_ == 4 ? 6 : kHigh[field_]) + step + "\" or \"" +
                           before + "\"");
  }

  Error error(std::size_t at, const std::string& what) const {
    return Error::invalid_argument(std::string(kFieldNames[field_]) + " field: " + what +
                                   " (column " + std::to_string(column_ + at + 1) + " of \"" +
                                   std::string(expr_) + "\")");
  }

  std::size_t field_;
  std::string_view text_;
  std::string_view expr_;
  std::size_t column_;
  std::size_t at_ = 0;
  bool dropped_ = false;  // a range that runs backwards, left out of the canonical text
};

std::string shown(std::string_view schedule) {
  return schedule.front() == '@' ? "\"" + std::string(schedule) + "\""
                                 : "the time fields \"" + std::string(schedule) + "\"";
}

}  // namespace

AssignmentParse parse_assignment(std::string_view line) {
  enum State { kNameI, kName, kEq1, kEq2, kValueI, kValue, kFini, kError };
  State state = kNameI;
  char quote = '\0';
  bool saw_equals = false;
  bool error_after_value = false;
  std::string name, value;
  std::string* out = &name;
  std::size_t i = 0;
  while (state != kError && i < line.size()) {
    const char c = line[i];
    switch (state) {
      case kNameI:
      case kValueI:
        if (c == '\'' || c == '"') {
          quote = c;
          ++i;
        }
        state = state == kNameI ? kName : kValue;
        break;
      case kName:
      case kValue:
        if (quote != '\0') {
          if (c == quote) {
            state = state == kName ? kEq1 : kFini;
            ++i;
            break;
          }
          if (state == kName && c == '=') {
            state = kError;
            break;
          }
        } else if (state == kName) {
          if (is_space(c) || c == '=') {
            if (c != '=') ++i;
            state = kEq1;
            break;
          }
        }
        out->push_back(c);
        ++i;
        break;
      case kEq1:
        if (c == '=') {
          state = kEq2;
          saw_equals = true;
          out = &value;
          quote = '\0';
        } else if (!is_space(c)) {
          state = kError;
        }
        ++i;
        break;
      case kEq2:
      case kFini:
        if (is_space(c)) {
          ++i;
        } else {
          error_after_value = state == kFini;
          state = state == kEq2 ? kValueI : kError;
        }
        break;
      case kError:
        break;
    }
  }
  AssignmentParse result;
  if (state == kFini || (state == kValue && quote == '\0')) {
    // env.c then strips trailing blanks of any value (strdtb), and one more pair of matching
    // quotes around what is left: A=" x " is " x", A="'x'" is x.
    while (!value.empty() && is_space(value.back())) value.pop_back();
    if (value.size() >= 2 && (value.front() == '\'' || value.front() == '"') &&
        value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    result.kind = AssignmentParse::kAssignment;
    result.variable = {std::move(name), std::move(value)};
    return result;
  }
  if (!saw_equals) return result;  // a job line
  result.kind = AssignmentParse::kMalformed;
  if (state == kEq2) {
    result.problem = "\"" + name + "=\" has no value: cron takes an empty value only in quotes, " +
                     "as in " + name + "=\"\"";
  } else if (error_after_value) {
    result.problem = std::string("text after the closing ") + quote + " of the value of " + name;
  } else {
    result.problem = std::string("the value of ") + name + " has no closing " + quote;
  }
  return result;
}

Result<JobFields> split_job_line(std::string_view line, CrontabFormat format) {
  std::string_view rest = line;
  const std::string_view first = next_word(rest);
  JobFields out;
  if (first.front() == '@') {
    bool known = false;
    for (std::string_view m : kMacros) known = known || m == first;
    if (!known) {
      return Error::invalid_argument(
          "unknown macro \"" + std::string(first) +
          "\" (cron takes @reboot, @yearly, @annually, @monthly, @weekly, @daily, @midnight "
          "and @hourly)");
    }
    out.schedule = std::string(first);
  } else {
    std::vector<std::string_view> fields{first};
    while (fields.size() < 5) {
      const std::string_view word = next_word(rest);
      if (word.empty()) break;
      fields.push_back(word);
    }
    std::vector<std::size_t> columns;
    for (std::string_view f : fields) {
      if (!out.schedule.empty()) out.schedule += ' ';
      columns.push_back(out.schedule.size());
      out.schedule += f;
    }
    if (fields.size() < 5) {
      return Error::invalid_argument(
          "expected five time fields (minute hour day-of-month month day-of-week) and a "
          "command, got only \"" +
          out.schedule + "\"");
    }
    std::array<std::uint64_t, 5> bits{};
    std::array<std::string, 5> canonical;
    for (std::size_t f = 0; f < 5; ++f) {
      std::string ignored;
      FieldReader reader(f, fields[f], out.schedule, columns[f]);
      if (auto s = reader.read(bits[f], canonical[f], ignored); !s) return s.error();
      if (!ignored.empty()) {
        const std::string_view used = fields[f].substr(0, fields[f].size() - ignored.size());
        out.notes.push_back(std::string(kFieldNames[f]) + " field \"" + std::string(fields[f]) +
                            "\": Debian's cron reads \"" + std::string(used) + "\" and ignores \"" +
                            ignored + "\", and so does skedd");
      }
    }
    CronFieldSets sets;
    sets.minutes = bits[0];
    sets.hours = static_cast<std::uint32_t>(bits[1]);
    sets.days_of_month = static_cast<std::uint32_t>(bits[2]);
    sets.months = static_cast<std::uint16_t>(bits[3]);
    // cron.c: Sunday is 0 and 7.
    sets.days_of_week = static_cast<std::uint8_t>((bits[4] | bits[4] >> 7) & 0x7F);
    sets.wall_time = fields[0].front() == '*' || fields[1].front() == '*';
    sets.dom_star = fields[2].front() == '*';
    sets.dow_star = fields[4].front() == '*';
    out.sets = sets;
    // A day field that matches nothing (fri-sun) leaves the other to decide when that one
    // is not '*', as '*' would (the day rule): either matches, or both must.
    if (canonical[2].empty() && !sets.dow_star) canonical[2] = "*";
    if (canonical[4].empty() && !sets.dom_star) canonical[4] = "*";
    for (const std::string& f : canonical) {
      out.expression += (out.expression.empty() ? "" : " ") + (f.empty() ? "-" : f);
    }
  }
  const bool system = format == CrontabFormat::kSystem;
  if (system) {
    out.user = std::string(next_word(rest));
    if (out.user.empty()) {
      return Error::invalid_argument("no user name and command after " + shown(out.schedule));
    }
    if (out.user.front() == '*') {
      return Error::invalid_argument(
          "the user name starts with '*': cron refuses this as a sixth time field (crontabs "
          "have five)");
    }
    // cron reads the user name up to a blank: with none before the end of the line, it
    // reads on into the next line and finds no such user.
    if (rest.empty()) {
      return Error::invalid_argument("no command after the user name \"" + out.user + "\"");
    }
  }
  while (!rest.empty() && is_blank(rest.front())) rest.remove_prefix(1);
  if (!rest.empty() && rest.front() == '*') {
    return Error::invalid_argument(
        "the command starts with '*': cron refuses this as a sixth time field (crontabs have "
        "five)");
  }
  // cron's MAX_COMMAND: a command of 999 characters or more may have been cut, so cron
  // refuses it ("bad command length" since Debian's Dont-silently-truncate-commands).
  if (rest.size() >= kMaxCommand) {
    return Error::invalid_argument("a command of " + std::to_string(rest.size()) +
                                   " characters: Debian's cron takes at most " +
                                   std::to_string(kMaxCommand - 1));
  }
  out.command_text = std::string(rest);
  return out;
}

void split_command(std::string_view text, std::string& command, std::string& input) {
  command.clear();
  input.clear();
  std::size_t i = 0;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') break;
    if (c == '\\' && i + 1 < text.size()) {
      // A backslash takes the next character out of play; "\%" and "\\" lose it.
      if (text[i + 1] != '%' && text[i + 1] != '\\') command += c;
      command += text[++i];
      continue;
    }
    command += c;
  }
  if (i + 1 >= text.size()) return;  // no '%', or nothing after it: stdin is empty
  bool escaped = false;
  bool need_newline = false;
  for (char c : text.substr(i + 1)) {
    if (escaped) {
      if (c != '%') input += '\\';
    } else if (c == '%') {
      c = '\n';
    }
    escaped = c == '\\';
    if (!escaped) {
      input += c;
      need_newline = c != '\n';
    }
  }
  if (escaped) input += '\\';
  if (need_newline) input += '\n';
}

const std::string* crontab_variable(const CrontabEntry& entry, std::string_view name) {
  for (const CrontabVariable& v : entry.env) {
    if (v.name == name) return &v.value;
  }
  return nullptr;
}

}  // namespace skedd
