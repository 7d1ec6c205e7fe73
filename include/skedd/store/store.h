#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "skedd/core/run.h"
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
};

/// Fires of one job that did not run for one reason: consecutive ones are one record.
struct NotRunRecord {
  std::string job;
  RunState state = RunState::kSkipped;  ///< kSkipped or kMissed
  NotRunReason reason = NotRunReason::kOverlap;
  Instant first{};
  Instant last{};
  std::uint64_t count = 1;
};

/// Which runs to read, newest first.
struct RunQuery {
  std::optional<std::string> job;
  std::optional<RunState> state;
  std::size_t limit = 100;
};

/// Durable history. Writes are queued and committed in batches by one writer, so the caller
/// never waits for the disk; flush() waits until everything queued so far is committed.
class Store {
 public:
  virtual ~Store() = default;

  /// Records a run (insert or replace by run id): at its start and again when it ends.
  virtual void put_run(const RunRecord& run) = 0;
  /// Records the run's latest checkpoint.
  virtual void put_checkpoint(RunId run, const std::string& checkpoint) = 0;
  /// Records fires that did not run. When the job's latest history entry is a not-run record
  /// with the same state and reason, that record grows (its `last` and `count`) instead.
  virtual void put_not_run(const NotRunRecord& record) = 0;

  /// Records that `job` fired at `scheduled` (its latest fire: `every` anchors and catch-up
  /// after downtime count from it).
  virtual void put_last_fire(const std::string& job, Instant scheduled) = 0;
  /// Sets a daemon-wide value (such as the boot id @reboot jobs last ran in).
  virtual void put_meta(const std::string& key, const std::string& value) = 0;

  /// Retention: deletes finished runs beyond the newest `keep_runs` of each job or that
  /// ended before `cutoff`, and not-run records last seen before `cutoff` (0 keep_runs: no
  /// count limit; no cutoff: no age limit). Returns the log paths of the deleted runs, for
  /// the caller to remove. The deletion is queued like any write.
  virtual Result<std::vector<std::string>> prune(std::size_t keep_runs,
                                                 std::optional<Instant> cutoff) = 0;

  /// Waits until every write queued before the call is committed. Returns the writer's last
  /// error when a commit failed (the writes are kept and retried).
  virtual Status flush() = 0;

  virtual Result<std::vector<RunRecord>> runs(const RunQuery& query) = 0;
  virtual Result<std::vector<NotRunRecord>> not_run(const std::string& job, std::size_t limit) = 0;
  /// Every job's latest fire, as committed.
  virtual Result<std::map<std::string, Instant>> last_fires() = 0;
  /// A daemon-wide value, or nullopt when never set.
  virtual Result<std::optional<std::string>> meta(const std::string& key) = 0;
};

}  // namespace skedd
