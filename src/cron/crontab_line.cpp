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
constexpr std::array<const char*, 5> kFieldNames = {"minute", "hour", "day-of-month", "month",
                                                    "day-of-week"};
constexpr std::array<const char*, 5> kFieldMax = {"59", "23", "31", "12", "6"};

// What cron's get_list() takes and parse_cron() takes too; parse_cron() then checks ranges
// and names. `expr` is the joined fields, `column` the field's offset in it.
Status check_cron_field(std::size_t field, std::string_view text, std::string_view expr,
                        std::size_t column) {
  const auto error = [&](std::size_t at, const std::string& what) {
    return Error::invalid_argument(std::string(kFieldNames[field]) + " field: " + what +
                                   " (column " + std::to_string(column + at + 1) + " of \"" +
                                   std::string(expr) + "\")");
  };
  const bool names = field == 3 || field == 4;
  std::size_t item = 0;  // start of the current list item
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (is_alpha(c) && names) {
      std::size_t end = i;
      while (end < text.size() && is_alpha(text[end])) ++end;
      if (end - i != 3) {
        return error(i,
                     "\"" + std::string(text.substr(i, end - i)) + "\" is not a three-letter name");
      }
      i = end - 1;
    } else if (c == ',') {
      item = i + 1;
    } else if (c == '/') {
      const std::string_view before = text.substr(item, i - item);
      if (before != "*" && before.find('-') == std::string_view::npos) {
        std::size_t end = text.find(',', i);
        if (end == std::string_view::npos) end = text.size();
        const std::string step(text.substr(i, end - i));
        return error(item, "\"" + std::string(before) + step +
                               "\" steps from a single value, which Debian's cron (\"bad "
                               "minute\") and cronie refuse; write \"" +
                               std::string(before) + "-" + kFieldMax[field] + step + "\" or \"" +
                               std::string(before) + "\"");
      }
    } else if (!is_digit(c) && c != '*' && c != '-') {
      return error(i, "'" + std::string(1, c) + "' is not cron syntax");
    }
  }
  return Ok{};
}

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
    while (state == kValue && !value.empty() && is_space(value.back())) value.pop_back();
    if (name.empty()) {
      result.kind = AssignmentParse::kMalformed;
      result.problem = "empty variable name before '='";
      return result;
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
    for (std::size_t f = 0; f < 5; ++f) {
      if (auto s = check_cron_field(f, fields[f], out.schedule, columns[f]); !s) return s.error();
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
  }
  while (!rest.empty() && is_blank(rest.front())) rest.remove_prefix(1);
  if (rest.empty()) {
    return Error::invalid_argument(system ? "no command after the user name \"" + out.user + "\""
                                          : "no command after " + shown(out.schedule));
  }
  if (rest.front() == '*') {
    return Error::invalid_argument(
        "the command starts with '*': cron refuses this as a sixth time field (crontabs have "
        "five)");
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
      // A backslash takes the next character out of play; only "\%" loses the backslash.
      if (text[i + 1] != '%') command += c;
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
