// The syntax of one crontab line, as cron's load_env() and load_entry() read it.
#pragma once

#include <string>
#include <string_view>

#include "skedd/cron/crontab.h"
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

/// A job line cut into its parts, not yet checked beyond what cron's syntax allows.
struct JobFields {
  std::string schedule;      ///< the five time fields joined by single spaces, or the macro
  std::string user;          ///< kSystem only
  std::string command_text;  ///< the rest of the line after the blanks, as written
};

/// Cuts a job line into schedule, user (kSystem) and command. Fails, with the message the
/// crontab error shows, on: an unknown macro (@every is not cron's), fewer than five time
/// fields, what cron's field syntax does not take although parse_cron() does ('?', L, W,
/// '#', longer names, a step on a single value), a missing user or command, and a user or
/// command that starts with '*' (cron refuses those as a likely sixth time field).
Result<JobFields> split_job_line(std::string_view line, CrontabFormat format);

/// cron's '%' rules (do_command.c): `command` is `text` up to the first unescaped '%' with
/// "\%" made '%' (other backslashes kept); `input` is the rest with '%' made a newline and
/// "\%" made '%', plus a final newline when it does not end in one; empty when there is no
/// rest.
void split_command(std::string_view text, std::string& command, std::string& input);

/// The value of the entry's variable `name`, or nullptr when the crontab did not set it.
const std::string* crontab_variable(const CrontabEntry& entry, std::string_view name);

}  // namespace skedd
