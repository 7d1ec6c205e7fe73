#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "skedd/schedule/schedule.h"
#include "skedd/time/time_zone.h"
#include "skedd/time/types.h"
#include "skedd/util/result.h"
#include "skedd/util/shared_value.h"

namespace skedd {

/// What to do with a fire while the previous run of the same job is still running.
enum class OverlapPolicy : std::uint8_t { kSkip, kQueue, kReplace, kAllow };
/// Which fires missed while the daemon was down still run.
enum class CatchUp : std::uint8_t { kNone, kOnce, kAll };
/// What happens to a run whose process vanished while the daemon was down.
enum class OnInterrupt : std::uint8_t { kResume, kRestart, kFail };
/// What happens to a run whose process ended unseen, its exit status unknown (no run host
/// kept it): recorded failed, or run again as a further attempt.
enum class OnUnknownExit : std::uint8_t { kFail, kRerun };

/// The alert hooks a job may have: commands run when one of its runs failed or succeeded,
/// when a fire of it was not run, when a run of it stalled.
enum class HookKind : std::uint8_t { kFailure, kSuccess, kMissed, kStall };
inline constexpr std::size_t kHookKinds = 4;
/// "on_failure", "on_success", "on_missed", "on_stall": the key, and the suffix of the hook's
/// job name ("backup:on_failure").
const char* to_string(HookKind k);

const char* to_string(OverlapPolicy p);
const char* to_string(CatchUp c);
const char* to_string(OnInterrupt o);
const char* to_string(OnUnknownExit o);
const char* to_string(DstSkipped d);
const char* to_string(DstRepeated d);
std::optional<OverlapPolicy> overlap_from_string(std::string_view s);
std::optional<CatchUp> catch_up_from_string(std::string_view s);
std::optional<OnInterrupt> on_interrupt_from_string(std::string_view s);
std::optional<OnUnknownExit> on_unknown_exit_from_string(std::string_view s);
std::optional<DstSkipped> dst_skipped_from_string(std::string_view s);
std::optional<DstRepeated> dst_repeated_from_string(std::string_view s);

/// Where a definition came from, for error messages: "jobs.d/backup.toml:4:1". The file name
/// is kept once per process for all the locations in that file (a million jobs name a few
/// files), so a location is 16 bytes.
class SourceLocation {
 public:
  SourceLocation() = default;
  SourceLocation(std::string_view file, int line, int column);

  const std::string& file() const;
  int line() const { return line_; }
  int column() const { return column_; }
  std::string to_string() const;

 private:
  const std::string* file_ = nullptr;  ///< in a process-lifetime table; null: none
  int line_ = 0;
  int column_ = 0;
};

/// A process's argv in one string: each argument followed by a NUL (so none may hold one).
/// Every job has a command of its own, and a million of them are loaded: a vector of strings
/// takes two to four allocations and 120 bytes or more where this takes one and about 60.
class Argv {
 public:
  Argv() = default;
  /// No argument may contain a NUL.
  Argv(std::initializer_list<std::string_view> args);
  explicit Argv(const std::vector<std::string>& args);

  bool empty() const { return text_.empty(); }
  std::size_t size() const;
  /// Argument `i` (counted from the start: O(length)).
  std::string_view operator[](std::size_t i) const;
  std::string_view front() const { return (*this)[0]; }
  std::string_view back() const;
  /// `arg` must not contain a NUL.
  void push_back(std::string_view arg);
  void clear() { text_.clear(); }
  std::vector<std::string> to_vector() const;

  friend bool operator==(const Argv&, const Argv&) = default;
  friend bool operator==(const Argv& a, const std::vector<std::string>& b) { return a == Argv(b); }

 private:
  template <typename Args>
  void assign(const Args& args);
  std::string text_;
};

/// Everything in a job's definition but its name, schedule and parameters: what it runs, as
/// whom, with which limits and policies. Jobs whose definitions differ only in those share one
/// JobOptions (intern_shared_parts()), which is what lets a million jobs fit in memory.
struct JobOptions {
  /// Whether the job's command came as a string, run as {"/bin/sh", "-c", text}.
  bool shell = false;
  /// Instead of a command: the name of an in-process handler (libskedd, or one compiled into
  /// the daemon), called with the job's `params`. Empty for process jobs.
  std::string handler;

  std::optional<std::string> user;
  std::optional<std::string> group;
  std::optional<std::string> working_dir;
  std::map<std::string, std::string> env;
  std::optional<int> umask;
  std::optional<int> nice;
  std::optional<std::uint64_t> limit_nofile;
  std::optional<std::uint64_t> limit_memory;  ///< bytes

  int priority = 0;
  std::string pool;  ///< empty: no pool
  std::optional<Duration> soft_timeout;
  std::optional<Duration> hard_timeout;
  int soft_signal = 15;  ///< SIGTERM
  bool kill_leftovers = true;

  int retries = 0;
  Duration retry_backoff = std::chrono::seconds(30);
  Duration retry_backoff_max = std::chrono::hours(1);

  OverlapPolicy overlap = OverlapPolicy::kSkip;
  CatchUp catch_up = CatchUp::kNone;
  int max_catch_up = 10;
  std::optional<Duration> starting_deadline;
  Duration jitter{0};
  bool jitter_fixed = false;
  OnInterrupt on_interrupt = OnInterrupt::kResume;
  int max_interrupts = 3;
  OnUnknownExit on_unknown_exit = OnUnknownExit::kFail;
  std::uint64_t log_max_size = 10 * 1024 * 1024;
  /// Where a run's output is mailed when it wrote any, as cron mails it (jobs read from
  /// crontabs: MAILTO, else the crontab's user; empty or unset: no mail).
  std::optional<std::string> mail_to;
  /// How long a run may take and how much later a success may come (metrics' success
  /// deadline: the first fire after the last success, plus both). No expect_duration: the
  /// hard timeout, else an hour.
  std::optional<Duration> expect_duration;
  Duration expect_grace = std::chrono::minutes(5);
  /// A running run that writes no control line (heartbeat, progress, checkpoint, ...) and no
  /// output for this long is stalled; with on_stall_kill it is then ended (state kStalled).
  std::optional<Duration> stall_timeout;
  bool on_stall_kill = false;
  /// The alert hooks' commands, by HookKind (empty: none), each run as a job of its own,
  /// "<job>:<kind>" (see Engine: hooks), bounded by hook_timeout.
  std::array<Argv, kHookKinds> hooks;
  std::array<bool, kHookKinds> hook_shell{};  ///< the hook's command came as a string
  Duration hook_timeout = std::chrono::minutes(5);
  /// Set on a hook's own job: which hook it is (such a job has no hooks of its own).
  std::optional<HookKind> hook_of;
  /// A hook run's context (SKEDD_JOB of the job it is about, SKEDD_HOOK_RUN_ID, SKEDD_STATE,
  /// ...), set last in its environment; empty for every other run. Per run, never shared.
  std::map<std::string, std::string> hook_context;

  friend bool operator==(const JobOptions&, const JobOptions&) = default;
};

/// A job's full definition: what, when, as whom, and with which limits. Built once from
/// config or the API; immutable while the job runs.
struct JobSpec {
  std::string name;
  /// argv (empty for handler jobs); when the config gave a string, {"/bin/sh", "-c", text}
  /// and `options->shell` is true. Kept out of the options, which jobs share: each job has
  /// a command of its own.
  Argv command;
  /// Shared, like the options, by the jobs with the same recurring schedule.
  SharedValue<Schedule> schedule;
  TimeZone zone;
  /// For handler jobs: the handler's parameters, a JSON object's text.
  std::string params;
  SharedValue<JobOptions> options;
  SourceLocation defined_at;
};

/// Makes `spec` share its options, and its schedule unless a one-shot, with every other
/// interned spec whose options (schedule) are equal (thread-safe). The loader calls it for
/// each job it reads.
void intern_shared_parts(JobSpec& spec);

/// Whether two definitions would run the same way (the source location is ignored). A reload
/// keeps the state of jobs whose definition is the same.
bool same_definition(const JobSpec& a, const JobSpec& b);

/// True when the job's action is an in-process handler rather than a process.
inline bool is_handler_job(const JobSpec& spec) {
  return !spec.options->handler.empty();
}

/// Checks a job name against [A-Za-z0-9][A-Za-z0-9_.-]{0,63} (names become file names).
/// The message says what is wrong with it.
Status validate_job_name(std::string_view name);
/// The same rule for the name of a `kind` of thing ("workflow", "step"), named in the message.
Status validate_name(std::string_view kind, std::string_view name);

/// Parses a signal name ("TERM", "SIGTERM", "INT", "HUP", "USR1", ...) or number.
std::optional<int> signal_from_string(std::string_view s);
/// "SIGTERM" for 15; "signal 99" for unknown numbers.
std::string signal_name(int sig);

}  // namespace skedd
