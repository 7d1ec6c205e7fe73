#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "skedd/core/job_spec.h"
#include "skedd/schedule/schedule.h"
#include "skedd/time/time_zone.h"
#include "skedd/util/result.h"

namespace skedd {

/// Which of cron's two line formats a file uses.
enum class CrontabFormat : std::uint8_t {
  /// /etc/crontab and /etc/cron.d/*: a user name between the time fields and the command.
  kSystem,
  /// /var/spool/cron/crontabs/<user>: no user field; every line runs as the file's owner.
  kUser,
};

/// What read_crontab() needs besides the text. The reader does no I/O of its own (a CRON_TZ
/// zone is loaded through TimeZone::load, like any zone).
struct CrontabSource {
  /// The file as shown in messages ("/etc/cron.d/php"); its base name goes into job names.
  std::string path;
  CrontabFormat format = CrontabFormat::kSystem;
  /// kUser: the crontab's owner, who runs every line. Ignored for kSystem.
  std::string user;
  /// The zone of lines with no (or an empty) CRON_TZ in effect: the host's, as for cron.
  TimeZone default_zone;
};

/// One NAME=value line of a crontab, with cron's quoting removed.
struct CrontabVariable {
  std::string name;
  std::string value;
  friend bool operator==(const CrontabVariable&, const CrontabVariable&) = default;
};

/// One job line of a crontab, read as cron reads it.
struct CrontabEntry {
  std::string file;  ///< CrontabSource::path
  int line = 0;      ///< 1-based
  std::string user;  ///< the user field (kSystem) or the owner (kUser)
  /// The five time fields joined by single spaces, or the macro ("@daily", "@reboot"), in
  /// `zone`; cronie's day-field rule applies (DESIGN.md).
  Schedule schedule;
  /// The time fields as parse_cron() reads them to the same times ("5#2" is "5", names are
  /// numbers, what cron ignores is left out), or the macro; a field that matches nothing is
  /// "-" (the schedule then never fires).
  std::string cron_expression;
  TimeZone zone;  ///< CRON_TZ when set to a zone skedd loads, else CrontabSource::default_zone
  /// The command part of the line exactly as written (after the separating blanks, up to the
  /// end of the line): the job name's hash covers this text.
  std::string command_text;
  /// What the shell runs: command_text up to its first unescaped '%', with "\%" made '%'.
  std::string command;
  /// Standard input: the text after the first unescaped '%', each further unescaped '%'
  /// made a newline and "\%" made '%', ending in a newline (cron adds one). Empty when the
  /// line has no '%' or nothing after it: the command then reads end-of-file.
  std::string input;
  /// Every assignment made above this line, in the order first set; a later assignment of
  /// the same name replaces the value in place (cron's env_set). Includes MAILTO, CRON_TZ,
  /// RANDOM_DELAY and the rest: cron passes them all to the job.
  std::vector<CrontabVariable> env;
  /// cronie's RANDOM_DELAY in minutes, when set to a number (cronie reads its leading digits).
  std::optional<int> random_delay_minutes;
  /// `cron:<file base name>:<hash>`, see crontab_job_name(); a repeated identical line of the
  /// same file gets "-2", "-3", ... after the hash.
  std::string job_name;
};

/// A problem with one line: "file:line: message".
struct CrontabMessage {
  std::string file;
  int line = 0;
  std::string message;
  std::string to_string() const;
  friend bool operator==(const CrontabMessage&, const CrontabMessage&) = default;
};

/// A crontab as read: the lines that load, the lines that do not, and notes on lines that
/// load but behave in a way worth saying (a schedule that never fires, an ignored
/// RANDOM_DELAY or LOGNAME).
struct Crontab {
  std::vector<CrontabEntry> entries;     ///< in line order
  std::vector<CrontabMessage> errors;    ///< lines not loaded, in line order
  std::vector<CrontabMessage> warnings;  ///< loaded lines worth a note, in line order
};

/// Reads a crontab's text as Debian's cron does (entry.c, env.c): blank lines and lines whose
/// first non-blank character is '#' are skipped; NAME=value lines (cron's quoting: blanks
/// around '=' optional, a value in matching single or double quotes keeps its leading blanks
/// and loses the quotes, an empty value needs quotes; trailing blanks and one more pair of
/// matching quotes go) apply to the job lines after them; every other line is a job: five
/// time fields (numbers, names jan-dec and sun-sat, ranges, lists, steps on a range or '*';
/// text after a complete item ignored, with a warning) or a macro (@reboot @yearly @annually
/// @monthly @weekly @daily @midnight @hourly), then the user (kSystem), then the command.
/// CRON_TZ (cronie's; a plain variable to Debian's cron) sets the zone of the lines after it.
/// A line that cannot be read is an error naming the line and what is wrong; the other lines
/// are still read, so that every error is reported (Debian's cron then ignores the whole
/// file: load_crontabs does, the caller decides). As in cron, a job line without a newline
/// at the end of the file is not loaded. Never fails as a whole.
Crontab read_crontab(std::string_view text, const CrontabSource& source);

/// The name cron jobs get: `cron:<file>:<hash>`, where <file> is the base name of `path` and
/// <hash> the first 8 lowercase hex digits (the high 32 bits) of the 64-bit FNV-1a hash of
/// `user`, '\n', `schedule`, '\n', `command_text`. Stable across runs, builds and machines;
/// editing other lines of the file does not change it.
std::string crontab_job_name(std::string_view path, std::string_view user,
                             std::string_view schedule, std::string_view command_text);

/// 64-bit FNV-1a (offset basis 0xcbf29ce484222325, prime 0x100000001b3) of `bytes`.
std::uint64_t fnv1a_64(std::string_view bytes);

/// The shell that runs the entry: its SHELL variable when set and not empty, else /bin/sh.
std::string crontab_shell(const CrontabEntry& entry);

/// The script given to `crontab_shell(entry) -c`: the command itself, or, when the entry has
/// input, a here-document that makes the input the shell's standard input ahead of the
/// command (`exec 0<<'SKEDD_STDIN'` ... ), so that skedd, which starts runs with stdin on
/// /dev/null, gives the command the same bytes cron writes to its pipe.
std::string crontab_shell_script(const CrontabEntry& entry);

/// The environment a cron job starts with, as Debian's cron and cronie build it: SHELL=/bin/sh,
/// PATH=/usr/bin:/bin and HOME=`home` (each unless the crontab sets it), the crontab's
/// variables, then LOGNAME and USER = the entry's user (the crontab cannot change those).
std::map<std::string, std::string> crontab_environment(const CrontabEntry& entry,
                                                       const std::string& home);

/// Finds a user's home directory; nullopt when the user does not exist. Injected so that
/// the conversion stays pure (the daemon passes a getpwnam_r lookup, tests a table).
using HomeDirectoryLookup = std::function<std::optional<std::string>(const std::string& user)>;

/// The job skedd runs for `entry`, as cron would run it: named entry.job_name, the entry's
/// schedule and zone, `[shell, "-c", crontab_shell_script(entry)]` (`shell` true when the
/// shell is /bin/sh, as for a TOML command string), run as the entry's user with
/// crontab_environment(), overlap allow and kill_leftovers false (cron neither skips a fire
/// while the last run is going nor kills what a job leaves behind), RANDOM_DELAY minutes as
/// a fixed jitter (cronie draws one delay per job per daemon start), defined_at file:line.
/// Fails with kNotFound when `home` does not know the user (cron skips such lines too).
Result<JobSpec> crontab_job_spec(const CrontabEntry& entry, const HomeDirectoryLookup& home);

}  // namespace skedd
