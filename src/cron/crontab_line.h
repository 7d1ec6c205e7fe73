// The syntax of one crontab line, as cron's load_env() and load_entry() read it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "skedd/cron/crontab.h"
#include "skedd/schedule/cron_spec.h"
#include "skedd/util/result.h"

namespace skedd {

/// What cron's load_env() makes of a line.
struct AssignmentParse {
  enum Kind {
    kNotAssignment,  ///< a job line (or garbage), for split_job_line()
    kAssignment,     ///< `variable` holds the name and the unquoted value
    kMalformed,      ///< NAME= followed by something cron refuses; `problem` says what
  };
  Kind kind = kNotAssignment;
  CrontabVariable variable;
  std::string problem;
};

/// Reads `line` (no newline; not blank, not a comment) with cron's state machine: a name
/// (quotable), blanks, '=', blanks, a value; a quoted value loses its quotes and may be
/// followed only by blanks, an unquoted one loses its trailing blanks. An empty value needs
/// quotes. A line that reaches its '=' but then breaks these rules is kMalformed (cron would
/// read it as a job line and refuse it with "bad minute").
AssignmentParse parse_assignment(std::string_view line);

/// A job line cut into its parts, the time fields read as Debian's cron reads them.
struct JobFields {
  std::string schedule;  ///< the five time fields joined by single spaces, or the macro
  /// The five fields' sets; nullopt for a macro line (parse_cron_schedule reads `schedule`).
  std::optional<CronFieldSets> sets;
  /// The fields as parse_cron() reads them to the same times (crontab_import writes it);
  /// a field that matches nothing is "-". Empty for a macro line.
  std::string expression;
  std::string user;          ///< kSystem only
  std::string command_text;  ///< the rest of the line after the blanks, as written; may be empty
  /// What cron ignores in the fields ("5#2" is 5), for warnings.
  std::vector<std::string> notes;
};

/// Cuts a job line into schedule, user (kSystem) and command, as Debian's cron's load_entry()
/// does. Fails, with the message the crontab error shows, where cron refuses the line: an
/// unknown macro (@every is not cron's), fewer than five time fields, a field cron cannot read
/// (see FieldReader in the .cpp: a value out of range, an unknown name, '?', L, W, a step on a
/// single value), a missing user, a user or command that starts with '*' (cron refuses those
/// as a likely sixth time field), a command of 999 characters or more. An empty command is
/// taken, as cron takes it.
Result<JobFields> split_job_line(std::string_view line, CrontabFormat format);

/// cron's '%' rules (do_command.c): `command` is `text` up to the first unescaped '%' with
/// "\%" made '%' and "\\" made '\' (other backslashes kept); `input` is the rest with '%' made a
/// newline and
/// "\%" made '%', plus a final newline when it does not end in one; empty when there is no
/// rest.
void split_command(std::string_view text, std::string& command, std::string& input);

/// The value of the entry's variable `name`, or nullptr when the crontab did not set it.
const std::string* crontab_variable(const CrontabEntry& entry, std::string_view name);

}  // namespace skedd
