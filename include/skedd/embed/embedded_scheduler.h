// libskedd: skedd's scheduler inside your own program, with in-process handlers.
#pragma once

// Boost 1.74's Asio needs <utility> first (see src/util/asio.h).
#include <utility>

#include <boost/asio/io_context.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "skedd/core/job_spec.h"
#include "skedd/core/run.h"
#include "skedd/embed/handler.h"
#include "skedd/runtime/events.h"
#include "skedd/runtime/timers.h"
#include "skedd/store/store.h"
#include "skedd/time/clock.h"
#include "skedd/util/result.h"

namespace skedd {

struct EmbeddedOptions {
  /// Where history, checkpoints, pending fires and jobs live (created if missing; one process
  /// per state dir). Empty: in memory, a private directory on a RAM-backed file system
  /// (/dev/shm) removed by stop(); nothing survives the process.
  std::string state_dir;
  /// The zone of jobs that name none (IANA name); empty: the host's.
  std::string timezone;
  int max_concurrent_runs = 64;  ///< runs at once over all jobs, handlers and processes
  std::map<std::string, int> pools;
  int handler_threads = 0;  ///< the handler pool's size; 0: one per CPU
  bool full_sync = false;   ///< true: every commit survives power loss (synchronous = FULL)
  int keep_runs = 100;      ///< history kept per job (0: no count limit)
  int keep_days = 30;       ///< and by age (0: no age limit)
  /// Writes queued and not yet committed from which on no new fires are taken until the store
  /// catches up (fires that then fall an interval behind are folded, reason "overloaded").
  int max_unwritten = 20000;
  /// Between the soft signal and SIGKILL, for jobs that run commands.
  Duration kill_grace = std::chrono::seconds(10);
  /// Where the scheduler's events go (see skedd/runtime/events.h); null: nowhere. It must
  /// outlive the scheduler. Called on the scheduler's thread, and during start() and stop()
  /// on the thread that calls them.
  EventSink* events = nullptr;
  /// The clock the scheduler reads and the timers it waits on (skedd/runtime/timers.h): both
  /// or neither; null: the host's. They must outlive the scheduler. For tests: FakeClock
  /// (tests/fakes) implements both, and its advance() fires what comes due, with no sleep.
  const Clock* clock = nullptr;
  TimerService* timers = nullptr;
  /// Jobs and workflows loaded by every start(), as a jobs file of skedd-jobs(5) gives them:
  /// `[job.NAME]` and `[workflow.NAME]` tables (steps may be handlers or commands). They are
  /// not recorded as added jobs: the program gives them again at each start. start() fails
  /// on an error in them, naming "definitions:LINE:COLUMN".
  std::string definitions;
};

/// The scheduler of the skedd daemon, embedded: the same schedules, priorities, pools,
/// overlap policies, timeouts, retries, checkpoints, catch-up and durable history, with jobs
/// whose action is an in-process handler (`handler = "NAME"`, `params = { ... }`) as well as
/// ones that run a command.
///
/// Lifecycle: construct, register_handler() each handler, on_run() if wanted, then start()
/// (it loads the jobs recorded in the state dir, resumes interrupted handler runs from their
/// last checkpoint and catches up missed fires), then add/update/remove/pause/trigger jobs;
/// stop() or the destructor ends it.
///
/// Threads: the scheduler runs on one io_context thread (its own, or the caller's); handlers
/// run on a pool of `handler_threads`. Every member function may be called from any thread,
/// including from a handler and from the io_context's thread. With a caller's io_context, a
/// call from another thread waits until that io_context runs it.
///
/// A handler cannot be killed: at its job's soft_timeout (and on cancel and stop) its stop
/// token is signalled; at its hard_timeout the run is recorded timed_out, and its slot (the
/// global bound, its pool, its job's overlap) stays held until the handler returns.
class EmbeddedScheduler {
 public:
  /// Runs on a thread of its own, started by start().
  explicit EmbeddedScheduler(EmbeddedOptions options);
  /// Runs on `io`, which the caller runs (it must outlive the scheduler).
  EmbeddedScheduler(boost::asio::io_context& io, EmbeddedOptions options);
  /// stop(), then waits for running handlers to return.
  ~EmbeddedScheduler();
  EmbeddedScheduler(const EmbeddedScheduler&) = delete;
  EmbeddedScheduler& operator=(const EmbeddedScheduler&) = delete;

  /// Registers a handler by name; before start() only. Fails for an invalid or duplicate
  /// name (kInvalidArgument) or after start() (kConflict).
  Status register_handler(const std::string& name, Handler handler);
  /// Calls `observer` on the scheduler's thread for every run that starts or ends; before
  /// start() only (a later call has no effect).
  void on_run(std::function<void(const RunEvent&)> observer);

  /// Opens the state dir and starts scheduling. Fails when the state dir cannot be created or
  /// is in use by another process (kConflict), or its database cannot be opened. A recorded
  /// job whose handler is no longer registered is reported and left out.
  Status start();
  /// Stops starting runs; handler runs are asked to stop, and are left recorded as running
  /// so that the next start() over the same state dir resumes them from their last checkpoint
  /// (per on_interrupt); command runs are left running and adopted by the next start. Waits
  /// for handlers to return, then commits everything. Idempotent. Called from a handler or
  /// an observer, it only stops starting runs; the destructor (on another thread) finishes.
  void stop();

  /// Adds a job from its definition: TOML text holding one [job.NAME] table, as in skedd's
  /// jobs.d (see skedd-jobs(5)); recorded, so a restart keeps it. Returns its version (1).
  /// Errors: kInvalidArgument with the file:line:column message (an unregistered handler is
  /// one), kConflict when the name exists.
  Result<int> add(const std::string& definition);
  /// Replaces a job with a new definition (a new version); kNotFound when there is none.
  Result<int> update(const std::string& definition);
  Status remove(const std::string& job);
  /// Pauses or resumes a job's fires (recorded: paused fires are recorded as not run).
  Status pause(const std::string& job);
  Status resume(const std::string& job);
  /// A fire of `job` now, under its overlap policy; returns the run it will be (kConflict
  /// when the overlap policy skipped it).
  Result<RunId> trigger(const std::string& job);
  /// Cancels a run: a handler's stop token is signalled, a process gets its soft signal.
  Status cancel(RunId run);
  /// Gives a running run a line: a handler's RunContext::next_input() returns it (at most 64
  /// wait). kNotFound when the run is not running.
  Status send(RunId run, const std::string& line);
  /// The job's next fire, nullopt when it has none; kNotFound for an unknown job.
  Result<std::optional<Instant>> next_fire(const std::string& job);
  /// The names of the loaded jobs.
  Result<std::vector<std::string>> jobs();
  /// Recorded runs, newest first (read from the store; any thread).
  Result<std::vector<RunRecord>> runs(const RunQuery& query);

  /// Workflows (EmbeddedOptions::definitions; skedd-jobs(5) WORKFLOWS). A handler step
  /// returns its outputs with RunContext::output() and receives those of the steps before it
  /// in its params as "skedd_in": {"STEP": {"KEY": "VALUE"}}.
  /// Starts a run of workflow `name` now (kNotFound; kConflict as skedctl's trigger refuses).
  Result<RunId> trigger_workflow(const std::string& name);
  /// Runs ended workflow run `run` again from step `from`, keeping the steps before it.
  Status retry_workflow(RunId run, const std::string& from);
  /// Cancels a workflow run going on (kNotFound when it is not going on).
  Status cancel_workflow(RunId run);
  /// Recorded workflow runs, newest first, each with its steps and their runs.
  Result<std::vector<WorkflowRunRecord>> workflow_runs(const WorkflowRunQuery& query);
  /// Waits until every write so far is committed.
  Status flush();

  /// The state dir in use (the private one for an in-memory scheduler).
  const std::string& state_dir() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace skedd
