#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "skedd/core/run.h"
#include "skedd/core/workflow.h"
#include "skedd/time/types.h"
#include "skedd/util/result.h"

namespace skedd {

/// What the store keeps of one run (one attempt of one fire).
struct RunRecord {
  RunId run;
  std::string job;
  Instant scheduled{};  ///< the fire's instant, before jitter
  int attempt = 1;
  RunState state = RunState::kRunning;
  std::optional<int> exit_code;
  std::optional<int> signal;
  std::optional<pid_t> pid;
  /// The process's start time (/proc/PID/stat, clock ticks since boot): with the pid, it
  /// tells a run's process from a later one that reuses its pid.
  std::optional<std::uint64_t> pid_start;
  Instant started{};
  std::optional<Instant> ended;
  Duration lateness{0};
  std::string checkpoint;  ///< the last one
  std::string log_path;
  std::string message;
  std::optional<double> progress;  ///< the last `progress` line's percent
  std::string progress_message;    ///< and its message
  Duration frozen{0};              ///< time spent paused (SIGSTOP or cgroup freeze)
  std::string output_tail;         ///< the last 4 KiB of its log, once it has ended
  /// The uid the run belongs to (the one it ran as): requests about the run are authorized
  /// against it, never against whoever holds the job's name now. nullopt: the daemon's own
  /// uid (handler runs, which run inside the daemon).
  std::optional<uid_t> owner;
  /// Its `output KEY VALUE` results by key (the latest value of each), as Store::put_output()
  /// recorded them: read only when RunQuery::outputs asks, never written by put_run().
  std::map<std::string, std::string> outputs;
};

/// Whether `run` is a process run that failed before it had a process (its user gone, its
/// files not made, the spawn refused): failed with no pid, exit code or signal. (A handler
/// run that fails has an exit code.)
inline bool failed_to_start(const RunRecord& run) {
  return run.state == RunState::kFailed && !run.pid && !run.exit_code && !run.signal;
}

/// A fire the scheduler handed over that has neither started (a run row) nor been recorded
/// as not run: it waits for a slot, for its overlap turn, or (attempt > 1) for its retry time.
/// Kept so that a restart starts it instead of losing it.
struct PendingFire {
  std::string job;
  Instant scheduled{};
  Instant due{};  ///< when it may start (a retry's time)
  int attempt = 1;
  int resumes = 0;
  /// The run id reserved for it, which keys it: its run's record (the same id) or a not-run
  /// record naming it settles it; once a log file of that run exists, its spawn began.
  /// REQUIRES: not 0, and not the id of another pending fire (a fire written again under its
  /// id replaces the first).
  RunId run{};
};

/// The upper bounds (seconds) of the commit time buckets of StoreHealth.
inline constexpr std::array<double, 10> kCommitBounds = {0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                         0.025,  0.05,  0.1,    0.5,   1};

/// How long the store's commits took (a batch written, committed and synced), since it
/// opened: counts per bucket of kCommitBounds (the last: above every bound), not cumulative.
struct CommitTimes {
  std::array<std::uint64_t, kCommitBounds.size() + 1> counts{};
  double sum = 0;  ///< seconds
  void observe(double seconds) {
    std::size_t i = 0;
    while (i < kCommitBounds.size() && seconds > kCommitBounds[i]) ++i;
    ++counts[i];
    sum += seconds;
  }
};

/// Whether writes reach the disk (for status): the last commit's error, if it failed.
struct StoreHealth {
  bool ok = true;
  std::string error;            ///< the last failed commit's error
  std::uint64_t unwritten = 0;  ///< writes queued and not yet committed
  CommitTimes commits{};        ///< failed ones too (a store that keeps none: all 0)
};

/// Fires of one job that did not run for one reason: consecutive ones are one record.
struct NotRunRecord {
  std::string job;
  RunState state = RunState::kSkipped;  ///< kSkipped or kMissed
  NotRunReason reason = NotRunReason::kOverlap;
  Instant first{};
  Instant last{};
  std::uint64_t count = 1;
  /// The run id reserved for the fire, when it was pending (see PendingFire::run): the
  /// record settles that pending fire. 0: none was (a fold or a catch-up of fires never taken).
  RunId run{};
};

/// One step of a workflow run, as recorded.
struct WorkflowStepRecord {
  std::string step;
  StepState state = StepState::kPending;
  SkipReason reason = SkipReason::kNone;  ///< with kSkipped
  RunId run{};                            ///< its latest run (retries are runs too); 0: none
};

/// A workflow run: its state and its steps' (each step's runs are runs of its step job).
struct WorkflowRunRecord {
  RunId id;  ///< issued from the run ids, so never the id of a run
  std::string workflow;
  Instant scheduled{};  ///< its fire's instant: each step's run is a fire of this instant
  WorkflowRunState state = WorkflowRunState::kRunning;
  Instant started{};
  std::optional<Instant> ended;
  /// The uid its steps run as (the workflow's user); nullopt: skedd's own.
  std::optional<uid_t> owner;
  std::string message;                    ///< why it ended so, when it did not end by itself
  std::vector<WorkflowStepRecord> steps;  ///< in the workflow's step order
  std::string version;  ///< the definitions it runs with (WorkflowSpec::version); empty: unknown
};

/// Which workflow runs to read, newest first.
struct WorkflowRunQuery {
  std::optional<std::string> workflow;
  std::optional<RunId> id;
  bool unfinished = false;  ///< those not ended only
  std::size_t limit = 100;
};

/// Which runs to read, newest first.
struct RunQuery {
  RunQuery(std::optional<std::string> job_ = std::nullopt,
           std::optional<RunState> state_ = std::nullopt, std::size_t limit_ = 100)
      : job(std::move(job_)), state(state_), limit(limit_) {}
  std::optional<std::string> job;
  std::optional<RunState> state;
  std::size_t limit = 100;
  std::optional<RunId> run;      ///< that run only
  std::optional<Instant> since;  ///< runs started at or after
  /// Runs recorded as this uid's only (RunRecord::owner; a run without one is nobody's here).
  std::optional<uid_t> owner;
  /// With `job`: the runs of the job's current identity only (see Store::retire_job()).
  bool current_identity = true;
  /// Fills each run's RunRecord::outputs (one more read per run).
  bool outputs = false;
};

/// Durable history. Writes are queued and committed in batches by one writer, so the caller
/// never waits for the disk; flush() waits until everything queued so far is committed.
class Store {
 public:
  virtual ~Store() = default;

  /// Records a run (insert or replace by run id): before its spawn (state kScheduled, no
  /// pid), once spawned, and when it ends. Its fire (the pending fire of the same run id) is
  /// no longer pending.
  virtual void put_run(RunRecord run) = 0;
  /// Forgets a run recorded before a spawn that never happened (its fire is pending again).
  virtual void delete_run(RunId run) = 0;
  /// Records a fire taken from the scheduler as pending, and (attempt 1) as its job's latest
  /// fire, in one write: after a crash it is either pending or before the last fire.
  virtual void put_fire(const PendingFire& fire) = 0;
  /// A first attempt's fire taken from its job's schedule: put_fire() and put_next_fire()
  /// (`next`, the job's fire after it) as one write of the job's row, not two. `folded`: the
  /// job's earlier fires folded into this one (see put_fire_not_run()), recorded with it.
  virtual void put_fire_taken(const PendingFire& fire, std::optional<Instant> next,
                              std::optional<NotRunRecord> folded) = 0;
  void put_fire_taken(const PendingFire& fire, std::optional<Instant> next) {
    put_fire_taken(fire, next, std::nullopt);
  }
  /// Records the run's latest progress line.
  virtual void put_progress(RunId run, double percent, const std::string& message) = 0;
  /// Records the run's latest checkpoint.
  virtual void put_checkpoint(RunId run, const std::string& checkpoint) = 0;
  /// Records the run's output `key` (replacing an earlier value of it). Kept until the run's
  /// record is deleted or pruned. REQUIRES: a valid key (validate_output_key()); the caller
  /// bounds a run's outputs (OutputBudget).
  virtual void put_output(RunId run, const std::string& key, const std::string& value) = 0;
  /// Records a workflow run as it is now (replacing its earlier record).
  virtual void put_workflow_run(const WorkflowRunRecord& run) = 0;
  /// Records fires that did not run. When the job's latest history entry is a not-run record
  /// with the same state and reason, that record grows (its `last` and `count`) instead. The
  /// pending fire of `record.run` (if any) is no longer pending, and the job's last fire is at
  /// least `record.last`.
  virtual void put_not_run(const NotRunRecord& record) = 0;
  /// put_not_run() of a first attempt's fire taken from its job's schedule and never recorded
  /// pending, with `next` (the job's fire after it) as its job's next fire: one write of the
  /// job's row, as put_fire_taken() does for a fire that goes on.
  virtual void put_fire_not_run(const NotRunRecord& record, std::optional<Instant> next) = 0;
  /// Records the job's next fire (for status and `skedctl list`); nullopt: none.
  virtual void put_next_fire(const std::string& job, std::optional<Instant> next) = 0;
  /// put_next_fire() for many jobs as one queued write (loading a million jobs queues one).
  using NextFires = std::vector<std::pair<std::string, std::optional<Instant>>>;
  virtual void put_next_fires(NextFires fires) = 0;
  /// Per-job and global pause flags (the global one is job "" ).
  virtual void put_paused(const std::string& job, bool paused) = 0;
  /// Records a version of a job's definition added over the API: its text (TOML) and that
  /// text's tree (config's definition_tree(), read back at start-up instead of the text).
  /// `keep`: how many of the job's newest versions are kept, this one included (older ones
  /// are deleted in the same write); 0: all.
  virtual void put_job_version(const std::string& job, int version, const std::string& definition,
                               const std::string& tree, Instant created, int keep = 0) = 0;
  /// Sets a daemon-wide value (such as the boot id @reboot jobs last ran in).
  virtual void put_meta(const std::string& key, const std::string& value) = 0;
  /// Ends the identity of job name `job` (it was removed, or a new job takes the name): its
  /// runs (ids below `since_run`, which must be above every run id reserved for it) and
  /// not-run records so far stay in the history, but are no longer read as the job's; its
  /// pending fires, last and next fire and pause flag are deleted, so that nothing of it
  /// (a fire, a checkpoint, a catch-up) passes to the next job of the name.
  virtual void retire_job(const std::string& job, RunId since_run) = 0;
  /// Gives the runs of `job` recorded without an owner (by a skedd before owners were
  /// recorded) to `owner`, the uid the job runs as now. Queued like any write.
  virtual void assign_owner(const std::string& job, uid_t owner) = 0;

  /// Retention: deletes finished runs beyond the newest `keep_runs` of each job or that
  /// ended before `cutoff`, and not-run records last seen before `cutoff` (0 keep_runs: no
  /// count limit; no cutoff: no age limit). Returns the log paths of the deleted runs, for
  /// the caller to remove. The deletion is queued like any write.
  virtual Result<std::vector<std::string>> prune(std::size_t keep_runs,
                                                 std::optional<Instant> cutoff) = 0;

  /// Waits until every write queued before the call is committed. Returns the writer's last
  /// error when a commit failed (the writes are kept and retried).
  virtual Status flush() = 0;
  /// How soon a waiter needs its writes committed.
  enum class Pace {
    kNow,      ///< the writer commits at once
    kBatched,  ///< with the next batch, after the writer's gather window (tens of ms at most)
  };
  /// Calls `done` on the writer's thread once every write queued before the call is
  /// committed, or once a commit of them failed (with its error; they stay queued and are
  /// retried). Never blocks.
  virtual void when_committed(std::function<void(Status)> done, Pace pace = Pace::kNow) = 0;
  /// Writes between begin_group() and end_group() are committed in one transaction, never
  /// split between two (groups nest; keep them short: the writer waits for the end).
  virtual void begin_group() = 0;
  virtual void end_group() = 0;
  virtual StoreHealth health() = 0;

  virtual Result<std::vector<RunRecord>> runs(const RunQuery& query) = 0;
  /// Each job's latest run that has ended (of the job's current identity), by job name.
  virtual Result<std::map<std::string, RunRecord>> latest_ended_runs() = 0;
  /// As latest_ended_runs(), of the runs that ended in one of `states` (metrics' last
  /// success and last failure).
  virtual Result<std::map<std::string, RunRecord>> latest_runs_ended_as(
      const std::vector<RunState>& states) = 0;
  /// The job's not-run records (of its current identity), newest first.
  virtual Result<std::vector<NotRunRecord>> not_run(const std::string& job, std::size_t limit) = 0;
  /// Every job's latest fire, as committed.
  virtual Result<std::map<std::string, Instant>> last_fires() = 0;
  /// Every job's next fire, as last recorded.
  virtual Result<std::map<std::string, Instant>> next_fires() = 0;
  virtual Result<std::vector<PendingFire>> pending_fires() = 0;
  /// The paused jobs ("" for the global flag).
  virtual Result<std::vector<std::string>> paused() = 0;
  /// A job's recorded definitions: version and text, oldest first.
  virtual Result<std::vector<std::pair<int, std::string>>> job_versions(const std::string& job) = 0;
  /// Calls `visit` with every job's latest recorded definition: name, version, text (empty
  /// text: removed) and tree (empty if none was recorded), one row at a time, so that a
  /// million of them are never all in memory.
  using VersionVisitor = std::function<void(
      const std::string& job, int version, const std::string& definition, const std::string& tree)>;
  virtual Status for_each_latest_job_version(const VersionVisitor& visit) = 0;
  /// The first run id of the current identity of each job name whose identity was retired
  /// (see retire_job()): a recorded run or pending fire below it is of an ended identity.
  virtual Result<std::map<std::string, RunId>> identities() = 0;
  /// A daemon-wide value, or nullopt when never set.
  virtual Result<std::optional<std::string>> meta(const std::string& key) = 0;
  virtual Result<std::vector<WorkflowRunRecord>> workflow_runs(const WorkflowRunQuery& query) = 0;
};

/// Keeps the writes of its scope in one transaction.
class StoreGroup {
 public:
  explicit StoreGroup(Store& store) : store_(store) { store_.begin_group(); }
  ~StoreGroup() { store_.end_group(); }
  StoreGroup(const StoreGroup&) = delete;
  StoreGroup& operator=(const StoreGroup&) = delete;

 private:
  Store& store_;
};

}  // namespace skedd
