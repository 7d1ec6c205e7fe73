// The control service's replies: one struct per request type, what the service answers with,
// and encode(), the one place each becomes the JSON object sent on the socket (see
// protocol.h for the envelope: {"id": ..., "ok": true, ...fields...}). skedctl(1) and
// skedd(8) document the fields.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "skedd/control/protocol.h"
#include "skedd/core/run.h"
#include "skedd/store/store.h"
#include "skedd/time/types.h"

namespace skedd::control {

/// A request's reply, or why it was refused.
template <typename Reply>
using Answer = std::variant<Reply, Failure>;

struct StatusReply {
  std::string version;
  pid_t pid = 0;
  Instant started{};
  std::size_t jobs = 0;         ///< the caller's (all of them for root)
  std::size_t paused_jobs = 0;  ///< of those
  bool paused_all = false;
  bool draining = false;
  int running = 0;
  std::size_t queued = 0;
  int max_concurrent_runs = 0;
  StoreHealth store;
  /// What the administrator should act on, such as cron running on the same crontabs.
  std::vector<std::string> warnings;
};

struct ListReply {
  struct Last {
    RunId run;
    RunState state = RunState::kSucceeded;
    std::optional<Instant> ended;
  };
  struct Job {
    std::string name;
    std::string schedule;
    std::string zone;
    std::optional<Instant> next;
    bool paused = false;
    int running = 0;
    int stalled = 0;           ///< running runs marked stalled (stall_timeout)
    std::optional<Last> last;  ///< its latest ended run, when the caller may see it
    std::string command;       ///< as one line: a shell string, argv joined, "handler NAME"
  };
  std::vector<Job> jobs;
  bool paused_all = false;
  /// What the last read of the crontabs skipped, as cron would ("FILE[:LINE]: why"): all of
  /// it for root, a user's own spool crontab's for that user.
  std::vector<std::string> skipped;
};

struct ShowReply {
  struct Definition {
    std::string name;
    std::string schedule;
    std::string zone;
    /// The command line as given (a string run by /bin/sh, or argv), or "handler NAME PARAMS".
    nlohmann::json command;
    std::string user;
    std::string overlap;
    int priority = 0;
    std::string pool;
    int retries = 0;
    std::string defined_at;
    std::optional<std::string> handler;    ///< handler jobs
    std::optional<nlohmann::json> params;  ///< handler jobs
    /// The rest of its settings as skedd-jobs(5) names them (durations as "90s"), those
    /// left at their defaults included: timeouts, catch-up, deadlines, jitter, env, ...
    nlohmann::json settings = nlohmann::json::object();
    std::string command_line;  ///< the command as one line, as list shows it
  };
  Definition job;
  bool api = false;           ///< added over the socket
  bool api_shadowed = false;  ///< added over the socket, with a file job of its name loaded
  bool paused = false;
  bool paused_all = false;
  int running = 0;
  int stalled = 0;            ///< running runs marked stalled (stall_timeout)
  std::vector<Instant> next;  ///< its next fires, up to 5
  std::vector<RunRecord> runs;
  std::vector<NotRunRecord> not_run;
};

/// pause/resume of a job, of everything (`all`) or of a run.
struct PauseReply {
  std::string job;  ///< a job's
  bool all = false;
  std::optional<RunId> run;  ///< a run's
  bool paused = false;       ///< false: resumed
};

struct TriggerReply {
  std::string job;
  RunId run;
  bool queued = false;  ///< waits for a slot or its overlap turn
};

struct CancelReply {
  RunId run;
};

struct SendReply {
  RunId run;
};

struct RunReply {
  RunRecord run;
};

struct RunsReply {
  std::vector<RunRecord> runs;
};

struct LogsReply {
  RunId run;
  std::string data;
  std::uint64_t offset = 0;  ///< where the next read starts
  std::uint64_t size = 0;    ///< the log's size
  RunState state = RunState::kRunning;
  bool ended = false;
};

struct DrainReply {
  int running = 0;
};

struct ReloadReply {
  std::string summary;
};

struct SetReply {
  int max_concurrent_runs = 0;
};

/// add and update.
struct AddReply {
  std::string job;
  int version = 0;
};

struct RemoveReply {
  std::string job;
};

struct VersionsReply {
  struct Version {
    int version = 0;
    std::string definition;  ///< empty: the job was removed at this version
    std::string normalized;  ///< as skedd writes TOML (keys in order), for diffs
  };
  std::string job;
  std::vector<Version> versions;  ///< oldest first
  int current = 0;                ///< the loaded one; 0 when the job is not loaded
};

struct BackfillReply {
  std::uint64_t backfill = 0;
  std::size_t fires = 0;    ///< to run
  std::size_t skipped = 0;  ///< already run or recorded
};

struct CrontabReply {
  std::string user;
  std::optional<std::string> text;  ///< get
  bool removed = false;             ///< remove
  bool installed = false;           ///< put
  std::size_t jobs = 0;             ///< put: the crontab's entries
  std::vector<std::string> warnings;
};

struct WorkflowReply {
  struct Step {
    std::string name;
    std::string job;
    std::vector<std::string> needs;
    std::string when;
  };
  struct Workflow {
    std::string name;
    std::string schedule;         ///< empty: trigger only
    std::optional<Instant> next;  ///< its schedule's next fire
    bool paused = false;          ///< its schedule job is paused
    std::string user;
    std::string overlap;
    std::string defined_at;
    std::vector<Step> steps;
    std::size_t running = 0;
    std::string version;  ///< of the loaded definitions
  };
  WorkflowRequest::Action action = WorkflowRequest::Action::kList;
  std::vector<Workflow> workflows;      ///< list
  RunId run{};                          ///< trigger: the new run; cancel: the cancelled one
  std::vector<WorkflowRunRecord> runs;  ///< runs, newest first
  /// runs with `tree`: each step run's record, and its step job's usual duration (the median
  /// of its last 20 successful runs; none without one).
  struct StepRun {
    RunRecord run;
    std::optional<Duration> usual;
  };
  std::map<RunId, StepRun> step_runs;
  /// With `tree`: each workflow's final steps (those no step needs), whose outputs are the
  /// workflow run's outputs.
  std::map<std::string, std::set<std::string>> final_steps;
};

nlohmann::json encode(const StatusReply& reply);
nlohmann::json encode(const ListReply& reply);
nlohmann::json encode(const ShowReply& reply);
nlohmann::json encode(const PauseReply& reply);
nlohmann::json encode(const TriggerReply& reply);
nlohmann::json encode(const CancelReply& reply);
nlohmann::json encode(const SendReply& reply);
nlohmann::json encode(const RunReply& reply);
nlohmann::json encode(const RunsReply& reply);
nlohmann::json encode(const LogsReply& reply);
nlohmann::json encode(const DrainReply& reply);
nlohmann::json encode(const ReloadReply& reply);
nlohmann::json encode(const SetReply& reply);
nlohmann::json encode(const AddReply& reply);
nlohmann::json encode(const RemoveReply& reply);
nlohmann::json encode(const VersionsReply& reply);
nlohmann::json encode(const BackfillReply& reply);
nlohmann::json encode(const CrontabReply& reply);
nlohmann::json encode(const WorkflowReply& reply);
/// A run as every reply shows it.
nlohmann::json encode(const RunRecord& run);

}  // namespace skedd::control
