// The running daemon: the scheduler's fires go through the dispatcher to the supervisor.
// Everything here runs on the io_context's one thread.
#pragma once

#include <sys/types.h>

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "runtime/after_commit.h"
#include "runtime/api_jobs.h"
#include "runtime/handler_runner.h"
#include "runtime/name_index.h"
#include "runtime/supervisor.h"
#include "skedd/config/config.h"
#include "skedd/core/dispatcher.h"
#include "skedd/core/run.h"
#include "skedd/core/run_channel.h"
#include "skedd/core/scheduler.h"
#include "skedd/core/timer_queue.h"
#include "skedd/core/workflow.h"
#include "skedd/exec/process_spawner.h"
#include "skedd/runtime/events.h"
#include "skedd/runtime/timers.h"
#include "skedd/time/clock.h"
#include "skedd/util/random.h"
#include "util/asio.h"

namespace skedd {

class Engine {
 public:
  /// Clock, timers, spawner, store, random, `handlers` (null: none) and the sink of `events`
  /// must outlive the engine. Throws std::system_error when a timer or the state dir cannot
  /// be set up (start-up only).
  Engine(asio::io_context& io, Config config, const Clock& clock, TimerService& timers,
         ProcessSpawner& spawner, Store& store, Random& random,
         const HandlerRegistry* handlers = nullptr, Events events = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  using ApiJob = skedd::ApiJob;
  /// The jobs added over the API, as last recorded in `store`, read against `config`; one
  /// that no longer reads (its handler gone, say) is logged as api_job_invalid and left out.
  static Result<std::vector<ApiJob>> recorded_api_jobs(Store& store, const Config& config,
                                                       Events events = {});
  /// Schedules every job (the configuration's and `api_jobs`, those added over the control
  /// socket before) and starts waiting. A file job shadows an API job of the same name.
  void start(std::vector<ApiJob> api_jobs = {});
  /// Applies a new, already validated configuration as a diff: jobs whose definition is the
  /// same keep their state and next fire; a changed job is rescheduled (its running runs
  /// finish on the old definition); a removed job's running runs are not killed; new jobs
  /// start. Daemon limits and pools apply at once; state_dir and socket only at restart.
  void reload(Config config);

  /// Stops starting runs, then per [daemon] on_shutdown: "leave" returns at once and leaves
  /// runs going; "stop" signals every run, SIGKILLs what is left after kill_grace, and calls
  /// `done` once all have been reaped.
  void shutdown(std::function<void()> done);
  /// For a child subreaper (the daemon), on SIGCHLD: reaps the orphans of runs (see
  /// Supervisor::reap_orphans). Runs are reaped through their pidfds: the engine has no
  /// SIGCHLD handler and never waits for children it did not start.
  void reap_orphans();

  // What the control socket reads and does (engine_control.cpp), on the loop's thread.

  struct JobInfo {
    std::shared_ptr<const JobSpec> spec;
    bool paused = false;
    std::optional<Instant> next;  ///< its next scheduled fire
    int running = 0;              ///< runs counted as running
    int stalled = 0;              ///< of them, runs marked stalled (stall_timeout)
  };
  /// The loaded jobs, by name.
  std::vector<JobInfo> jobs() const;
  /// Calls `visit` with each loaded job's definition, in no particular order, until it
  /// returns false.
  void for_each_spec(const std::function<bool(const JobSpec&)>& visit) const {
    for (const JobId id : job_by_name_.ids()) {
      if (!visit(*jobs_[id.value].spec)) return;
    }
  }
  /// nullopt when no such job is loaded.
  std::optional<JobInfo> job(const std::string& name) const;
  bool paused_all() const { return paused_all_; }
  /// How many loaded jobs are paused.
  std::size_t paused_jobs() const;
  /// Pauses or resumes the fires of a job (recorded, so it lasts across restarts): while
  /// paused, its fires are recorded as not run (reason "paused"); retries and resumes of fires
  /// taken before go on. False when no such job is loaded.
  bool set_paused(const std::string& job, bool paused);
  /// The global pause: every job's fires, as above; per-job flags are left as they are.
  /// Lifting it also ends a drain.
  void set_paused_all(bool paused);
  /// Stops starting runs: the global pause, and fires already waiting for a slot wait on
  /// (they are recorded, and start after `resume --all` or at the next start). Running runs
  /// go on; the caller watches counts().running reach 0.
  void drain();
  bool draining() const { return draining_; }
  struct Triggered {
    OfferOutcome outcome;
    RunId run;  ///< the run it will be (when not skipped)
  };
  /// A fire of `job` now, under its overlap policy (`force`: as overlap = "allow"), paused or
  /// not. nullopt when no such job is loaded.
  std::optional<Triggered> trigger(const std::string& job, bool force);
  /// Cancels a running run (soft signal, then SIGKILL after kill_grace) or one recorded and
  /// not yet spawned. False when `run` is neither.
  bool cancel(RunId run);
  /// Whether `run` is running (a process or a handler run of this skedd).
  bool has_live_run(RunId run) const { return supervisor_.has_run(run) || handlers_.has_run(run); }
  /// A run this skedd issued that its history does not hold (yet): a fire reserved as `run`
  /// and waiting (for its time, a slot, its retry, its record's commit), state scheduled;
  /// or a handler run that has written no row yet, state running. nullopt for any other id.
  std::optional<RunRecord> unrecorded_run(RunId run) const;
  /// Hands `line` to running run `run`'s input (SKEDD_INPUT_FD), as Supervisor::send_input().
  Status send_input(RunId run, const std::string& line);
  /// Freezes (`paused`) or continues a running run; see Supervisor::freeze(). False when it
  /// is not a running (or, to continue, a frozen) run.
  bool set_run_paused(RunId run, bool paused);
  /// Adds (`replace` false) or replaces an API job: its definition is recorded as a new
  /// version, and the job applied as a reload applies a change. Fails with kConflict when a
  /// file job has the name or (add) an API job does; kNotFound (replace) when none does.
  Result<int> put_api_job(JobSpec spec, std::string definition, bool replace);
  /// Removes an API job (recorded as an empty version); its running runs finish.
  Status remove_api_job(const std::string& name);
  /// True when the job loaded as `name` was added over the API (not a file job of its name,
  /// which shadows the added one).
  bool is_api_job(const std::string& name) const;
  /// True when a job added over the API as `name` is kept but a file job of that name is
  /// loaded instead.
  bool is_shadowed_api_job(const std::string& name) const {
    return api_jobs_.contains(name) && !is_api_job(name);
  }
  const Config& config() const { return config_; }
  /// How many jobs added over the API run as `user` (a name or a uid, as `user` says).
  std::size_t api_jobs_of(const std::string& user, const std::string& uid) const;
  /// The global bound on concurrent runs, until the next reload or restart.
  void set_max_concurrent_runs(int n);
  struct Counts {
    int running = 0;         ///< runs counted as running
    std::size_t queued = 0;  ///< fires waiting for a slot
    int max_concurrent_runs = 0;
    std::size_t jobs = 0;
    int stalled = 0;  ///< running runs that are stalled (stall_timeout)
  };
  Counts counts() const;
  /// Fires waiting for a run slot, by pool ("": no pool); every configured pool is named.
  std::map<std::string, std::size_t> ready_by_pool() const {
    auto by_pool = dispatcher_.ready_by_pool();
    by_pool.try_emplace("");
    for (const auto& [pool, size] : config_.pools) by_pool.try_emplace(pool);
    return by_pool;
  }
  /// See Supervisor::off_loop_pending().
  bool off_loop_pending() const { return supervisor_.off_loop_pending(); }
  Instant started_at() const { return started_at_; }
  /// Whether the calling thread runs handlers (any thread may ask).
  bool on_handler_thread() const { return handlers_.on_pool_thread(); }

  // Workflows (engine_workflows.cpp): each step a run of its step job "WORKFLOW::STEP".
  struct WorkflowInfo {
    std::shared_ptr<const WorkflowSpec> spec;
    std::size_t running = 0;  ///< its runs going on
  };
  /// The loaded workflows, by name.
  std::vector<WorkflowInfo> workflows() const;
  std::optional<WorkflowInfo> workflow(const std::string& name) const;
  /// A step job's workflow and step ("nightly::extract"), or nullopt for any other name.
  static std::optional<std::pair<std::string, std::string>> step_of_job(const std::string& name);
  /// The step job of `step` of `workflow`: "WORKFLOW::STEP" ("::" is in no job name, hook job
  /// "JOB:KIND" or crontab job "cron:USER:HASH").
  static std::string step_job_name(const std::string& workflow, const std::string& step) {
    return workflow + "::" + step;
  }
  /// The job that holds a scheduled workflow's schedule: "WORKFLOW::@schedule" (no step is
  /// called "@schedule"). Its fires start workflow runs; it runs nothing itself.
  static std::string schedule_job_name(const std::string& workflow) {
    return workflow + "::@schedule";
  }
  /// The workflow whose schedule job `name` is, or nullopt.
  static std::optional<std::string> workflow_of_schedule_job(const std::string& name);
  /// Starts a run of workflow `name` now; its first steps are fired at once. kNotFound; or
  /// kConflict while skedd is paused or shutting down, when a run of it goes on and its
  /// overlap is not "allow" (unless `force`), or when it has `requires` (not waited for yet).
  Result<RunId> trigger_workflow(const std::string& name, bool force);
  /// Cancels a workflow run going on: its running steps are cancelled, and the steps not yet
  /// started are recorded as not run (cancelled). False when it is not going on.
  bool cancel_workflow_run(RunId id);
  /// Runs ended workflow run `id` again from step `from`: that step and every step after it
  /// (those that need it, theirs, and so on) are pending again and run as a new fire of the
  /// run's instant; the other steps keep their state and runs, so their outputs reach the
  /// steps run again. kNotFound (no such run or step); kConflict while it goes on, when its
  /// steps changed since, or as trigger_workflow() refuses a second run.
  Result<RunId> retry_workflow_run(RunId id, const std::string& from);
  /// Pauses (or resumes) workflow run `id` going on: no step of it starts while it is paused,
  /// and its running steps' runs are paused as `skedctl pause --run` pauses a run. False when
  /// it is not going on.
  bool set_workflow_run_paused(RunId id, bool paused);

  // Backfill (engine_backfill.cpp): the fires of a past interval, a sliding window at a time.
  struct BackfillPlan {
    std::uint64_t id = 0;
    std::size_t fires = 0;    ///< to run
    std::size_t skipped = 0;  ///< already run or recorded (without `rerun`)
  };
  /// At most this many fires in one backfill, and backfills going on at once.
  static constexpr std::size_t kMaxBackfillFires = 10'000;
  static constexpr std::size_t kMaxBackfills = 16;
  /// Runs the fires of job or workflow `name`'s schedule in [from, to], oldest first, at most
  /// `concurrency` at a time (the next starts as soon as one ends), each a fire of its own
  /// instant. Fires already run or recorded (runs, not-run records; for a workflow, its runs)
  /// are left out unless `rerun` (a job's then run as their next attempt). kNotFound; kInvalid
  /// argument (no schedule, an empty or reversed interval, more than kMaxBackfillFires fires);
  /// kConflict (kMaxBackfills going on, shutting down).
  Result<BackfillPlan> backfill(const std::string& name, Instant from, Instant to, int concurrency,
                                bool rerun);

  /// Called on the loop's thread when a run starts and when it ends (its slot freed).
  void set_run_observer(std::function<void(const RunEvent&)> observer) {
    observer_ = std::move(observer);
  }

 private:
  JobInfo info_of(JobId id) const;
  /// The definitions of `workflow`'s step jobs as loaded now (nullptr: not loaded).
  std::vector<std::shared_ptr<const JobSpec>> step_specs_of(const WorkflowSpec& workflow) const;
  /// Loads `config`'s workflows and appends their step jobs to `specs`.
  void append_step_specs(const Config& config, std::vector<std::shared_ptr<const JobSpec>>& specs);
  /// Plans workflow run `id` again: records the steps that will not run, fires those that may
  /// start, and records the run (ended, once every step has settled).
  void advance_workflow(RunId id);
  /// A run has ended: when it is a step of a workflow run going on, that step has (unless
  /// `retried`) and the workflow run moves on. False when it is no step.
  bool workflow_step_ended(const RunOutcome& outcome, bool retried);
  /// At launch of a step's run: the outputs of the steps before it, as SKEDD_IN_STEP_KEY
  /// variables (a process) or in params as "skedd_in" (a handler, whose `spec` is replaced).
  void add_step_inputs(RunId run, const Fire& fire, std::shared_ptr<const JobSpec>& spec);
  /// At start, before runs are recovered: the workflow runs an earlier skedd left going on go
  /// on (a run whose workflow is gone or whose steps changed is recorded failed), their
  /// unsettled steps' fires known, so that the recovery of a step's run is noted.
  void reload_unfinished_workflow_runs();
  /// A fire of `job` of instant `scheduled` (as run `run`) is recovered: adopted, resumed or
  /// offered again. Noted when it is a step of a workflow run going on.
  void note_recovered_fire(JobId job, Instant scheduled, RunId run);
  /// At start, after runs are recovered: each step of the reloaded workflow runs is running
  /// (its fire recovered), settled as its last recorded run ended, or pending; then each run
  /// is planned again.
  void settle_recovered_workflow_runs();
  /// Workflow run `id`, waiting for its requirements: starts its steps when they are all met
  /// (`succeeded`: a job whose run just succeeded, so met whatever the store has committed),
  /// or is recorded not run once an unmet one's wait_up_to has passed.
  void check_requirements(RunId id, const std::string* succeeded = nullptr);
  /// A run of `job` succeeded: the workflow runs waiting for it are checked.
  void requirement_job_succeeded(const std::string& job);
  /// Checks the waiting workflow runs whose wait has passed (tick()).
  void check_waiting_workflows();
  /// When the first waiting workflow run's wait passes.
  std::optional<MonoInstant> next_requirement_deadline() const;
  /// Records workflow run `record` (one not going on here) failed, with `message`.
  void fail_workflow_record(WorkflowRunRecord& record, const std::string& message);
  /// Why a run of workflow `spec` may not start now (it is not `except`): skedd is shutting
  /// down or paused, its bound of runs going on, or its overlap (unless `force`).
  /// `strict`: any run going on refuses it unless overlap = "allow" (a retry); otherwise
  /// "queue" refuses only while one is queued, and "replace" never.
  std::optional<Error> workflow_run_refused(const WorkflowSpec& spec, bool force,
                                            RunId except = RunId{}, bool strict = false) const;
  /// Starts a run of workflow `name` of instant `scheduled` (a fire of its schedule) or, with
  /// nullopt, of now (a trigger). The refusals of trigger_workflow().
  Result<RunId> start_workflow_run(const std::string& name, std::optional<Instant> scheduled,
                                   bool force);
  /// A fire of a workflow's schedule job: a workflow run starts, recorded as the fire's run
  /// (succeeded at once, naming it), or the fire is recorded skipped when none may.
  Triggered fire_workflow(const Fire& fire, bool recorded);
  struct LiveWorkflowRun {
    WorkflowRunRecord record;
    /// The definition it started with, kept for all its steps across reloads.
    std::shared_ptr<const WorkflowSpec> spec;
    bool cancelled = false;
    bool paused = false;
    /// Waits, overlap = "queue", for the workflow's run going on to end (state pending).
    bool queued = false;
    /// Its steps' job definitions as they were when it started (nullptr: not loaded then),
    /// which its steps run with whatever a reload does meanwhile. Taken again at a restart.
    std::vector<std::shared_ptr<const JobSpec>> step_specs = {};
    /// While it waits for its workflow's `requires`: since when (each one's wait_up_to counts
    /// from then). No step starts meanwhile.
    std::optional<MonoInstant> waiting_since = std::nullopt;
  };
  std::map<std::string, std::shared_ptr<const WorkflowSpec>> workflows_;
  /// The workflow runs going on, by id; erased when they end.
  std::map<RunId, LiveWorkflowRun> live_workflows_;
  /// The step fires of the runs going on: (step job, the workflow run's instant) -> (workflow
  /// run, step index). Each of a workflow's runs has an instant of its own, so a step's fire
  /// (and its retries, fires of the same instant) names one. Erased when the step settles.
  std::map<std::pair<std::uint32_t, Instant>, std::pair<RunId, std::size_t>> step_fires_;
  /// While recovery runs at start: the step fires recovered (see note_recovered_fire()), with
  /// their runs. Emptied when settle_recovered_workflow_runs() has read it.
  std::optional<std::map<std::pair<std::uint32_t, Instant>, RunId>> recovered_step_fires_;
  struct Backfill {
    std::string name;
    std::optional<JobId> job;                  ///< nullopt: a workflow
    std::deque<std::pair<Instant, int>> todo;  ///< fires not started yet, with their attempt
    std::set<Instant> going;                   ///< started, not ended
    int concurrency = 1;
    std::size_t total = 0;
    MonoInstant started{};
  };
  /// Starts backfill `id`'s next fires while it has room; ends it when all have ended.
  void backfill_next(std::uint64_t id);
  /// A fire of a backfill ended (a job's last attempt, or a workflow run).
  void backfill_fire_ended(std::uint64_t id, Instant scheduled);
  /// Workflow run `id` of `workflow` ended: a run of it queued behind starts, and a backfill
  /// whose fire it was moves on.
  void workflow_run_ended(RunId id, const std::string& workflow);
  /// Starts the first run of `workflow` queued (overlap = "queue") when none other goes on.
  void start_queued_run(const std::string& workflow);
  /// The backfills going on, by id; erased when their last fire ends. A restart forgets
  /// them (their started fires are recovered as fires; run the backfill again for the rest).
  std::map<std::uint64_t, Backfill> backfills_;
  std::uint64_t next_backfill_ = 1;
  /// Their started fires: a job's (job, instant), a workflow's run -> backfill. Erased when
  /// the fire ends.
  std::map<std::pair<std::uint32_t, Instant>, std::uint64_t> backfill_fires_;
  std::map<RunId, std::pair<std::uint64_t, Instant>> backfill_workflow_runs_;
  struct Job {
    std::shared_ptr<const JobSpec> spec;  ///< its dispatch policy: Dispatcher::policy_of(*spec)
    bool removed = false;  ///< by a reload; the slot stays so that ids are never reused
  };

  using SpecPtr = std::shared_ptr<const JobSpec>;
  /// `next_fires`: where to collect the job's next fire for one write with others (start),
  /// instead of writing it at once.
  JobId add_job(SpecPtr spec, std::optional<Instant> last_fire = std::nullopt,
                Store::NextFires* next_fires = nullptr);
  /// Schedules job `id`, in jobs_ already, as add_job() does.
  void schedule_added(JobId id, std::optional<Instant> last_fire, Store::NextFires* next_fires);
  /// Reschedules job `id` under a changed definition; its running runs finish on the old one.
  void change_job(JobId id, SpecPtr spec);
  /// Stops scheduling job `name` (`id`) and ends its identity (Store::retire_job()); its
  /// running runs are not killed.
  void remove_job(const std::string& name, JobId id);
  /// Ends the identity of job name `name`: what the store and the engine keep of it passes
  /// to no later job of the name.
  void retire_identity(const std::string& name);
  /// The dispatcher's global, pool and per-user bounds of `config`.
  static DispatchLimits limits_of(const Config& config);
  /// The job's dispatch policy, with the share of run slots of the user it runs as.
  DispatchPolicy policy_of(const JobSpec& spec) const;
  /// The policy of fires from before this start (caught up, or recovered pending): see
  /// catch_up().
  DispatchPolicy backlog_policy(const JobSpec& spec) const;
  /// Whether the job, or every job, is paused.
  bool job_paused(const std::string& name) const { return paused_all_ || paused_.contains(name); }
  /// The loaded job a recorded run or pending fire `run` of job name `name` belongs to:
  /// nullopt when none is loaded, or when `run` is of an identity of the name that ended.
  std::optional<JobId> job_of_record(const std::string& name, RunId run) const;
  /// Whether two definitions of a job run as the same user (else they are two jobs).
  static bool same_owner(const JobSpec& a, const JobSpec& b);
  /// Gives the runs recorded without an owner (by a skedd before owners were recorded) to
  /// their job's owner, once.
  void assign_recorded_owners();
  /// Adopts the runs an earlier skedd left running, and handles those whose process is gone
  /// as interrupted. Runs recorded before a spawn that never happened are offered again.
  /// `spawning`: pending fires whose run's spawn had begun (recorded as kScheduled runs).
  void recover_runs(Instant now, std::vector<RunRecord> spawning);
  /// Offers again the fires an earlier skedd had taken and neither started nor recorded.
  void recover_pending(const std::vector<PendingFire>& pending, Instant now);
  /// Offers a fire that is already recorded as pending (or whose unstarted run was).
  void offer_recovered(JobId id, const PendingFire& pending, Instant now);
  /// The checkpoint attempt `attempt` (> 1) of the fire gets: the last one of an earlier
  /// attempt, unless that attempt was interrupted and the job restarts interrupted runs.
  std::string earlier_checkpoint(JobId id, Instant scheduled, int attempt);
  /// The interrupted runs in the history by fire (job, scheduled): read once per recovery,
  /// not once per run it recovers.
  struct InterruptedRuns {
    std::map<std::pair<std::string, Instant>, std::vector<RunId>> by_fire;
    /// How many runs of the fire (`job`, `scheduled`) were interrupted, `except` one.
    int count(const std::string& job, Instant scheduled, RunId except) const;
  };
  InterruptedRuns interrupted_runs();
  /// A further attempt of an interrupted run's fire, per its job's on_interrupt; `earlier`:
  /// the fire's interrupted runs before this one.
  void resume(JobId id, const RunRecord& interrupted, int earlier);
  /// A run whose process ended while skedd was down, its exit not kept: recorded failed with
  /// an unknown status, then run again if its job says on_unknown_exit = "rerun".
  void ended_unseen(JobId id, RunRecord& record, Instant now);
  /// A further attempt of a fire whose run ended with an unknown status, per on_unknown_exit.
  void rerun_unknown(const RunOutcome& run);
  /// Runs or records the fires `id` missed after `since` and up to `until`, per its catch_up.
  /// The fires `all` runs are offered at once, each recorded pending, as overlap = "allow"
  /// offers them (else all but the first would be skipped for overlapping it), within the run
  /// slots.
  void catch_up(JobId id, Instant since, Instant until);
  /// Logs the job with its next fire, and records that next fire (or adds it to `batch`).
  void log_job(JobId id, EventKind event, Store::NextFires* batch = nullptr);
  /// The severity of the next per-job line (loaded, changed, removed): in a start or a
  /// reload, info for the first kJobLinesPerLoad and debug after them (a million jobs would
  /// write a million lines, more than a journal keeps); else info.
  Severity job_line_severity() {
    if (!load_lines_) return Severity::kInfo;
    return (*load_lines_)++ < kJobLinesPerLoad ? Severity::kInfo : Severity::kDebug;
  }
  /// Ends the count of a start's or reload's lines, saying how many went to debug if any.
  void log_job_lines_limited();
  static constexpr std::size_t kJobLinesPerLoad = 1000;
  void on_wall_timer(bool clock_was_set);
  void on_mono_timer();
  void tick();
  void rearm();
  /// Offers a fire that came due to the dispatcher, recording it (pending, or not run) unless
  /// it was recorded already (`fire.run` set).
  /// `policy`: instead of the job's own (a forced trigger).
  Triggered handle_fire(Fire fire, const DispatchPolicy* policy = nullptr);
  PendingFire pending_of(const Fire& fire) const;
  /// Records a fire as pending under its reserved run id; a first attempt also moves its
  /// job's last and next fire, in the same write.
  /// `folded`: the not-run record of the fires folded into it (a first attempt's only).
  void record_pending(const Fire& fire, std::optional<NotRunRecord> folded = std::nullopt);
  /// A run id for a fire about to be recorded as pending, unsettled until committed.
  RunId reserve_run_id();
  /// Keeps a fire taken from the scheduler before it is due until it is; it is recorded as
  /// pending meanwhile, so that its record is committed by the time it may start.
  void hold_until_due(Fire fire, Instant wall_now, MonoInstant mono_now);
  /// Marks the run ids reserved since the last call as committed once they are.
  void settle_reservations();
  void pump();
  /// Spawns the fire's run at once when its pending record is committed; otherwise a handler
  /// run waits for that commit (its id added to `settling`), and a process run is recorded
  /// (kScheduled) first and spawned once that record is committed (its id in `recorded`).
  void start_run(const Fire& fire, std::vector<RunId>& recorded, std::vector<RunId>& settling);
  /// Spawns the recorded runs `ids` (their records are committed, or `status` says why not).
  void spawn_recorded(const std::vector<RunId>& ids, const Status& status);
  /// Cancels a run recorded and not yet spawned; false when `id` is not one.
  bool cancel_unspawned(RunId id);
  /// Logs when the store stops or resumes committing; returns its health.
  StoreHealth check_store_health();
  /// Whether the store (of `health`) is too far behind for new fires to be taken (logged
  /// when that starts and ends).
  bool check_store_behind(const StoreHealth& health);
  void on_run_finished(const RunOutcome& outcome);
  /// Starts a run: the handler runner for handler jobs, the supervisor for the rest.
  void launch(RunId id, const Fire& fire, std::shared_ptr<const JobSpec> spec,
              std::string checkpoint);
  /// True when the failed run's fire is retried.
  bool maybe_retry(const RunOutcome& run);

  // Alert hooks (engine_hooks.cpp). A job's hook is a job of its own, "<job>:on_failure",
  // loaded beside it: run as the job's user, in its share of run slots, with overlap "skip"
  // (one at a time per job and kind: later ones are coalesced), recorded like any run. Hook
  // jobs have no hooks, so hooks never fire hooks.
  /// `spec`'s hook jobs.
  static void add_hook_specs(const JobSpec& spec, std::vector<SpecPtr>& specs);
  /// Adds, changes or removes the hook jobs of job `name` (an API job put or removed) to
  /// match `about` (nullptr: removed).
  void sync_hook_jobs(const JobSpec* about, const std::string& name);
  /// The hooks of a run's end: on_success, or on_failure once no retry follows. None for a
  /// run that a restart of skedd interrupted (or whose exit it lost) or that was cancelled.
  void hooks_of_end(const RunOutcome& run, bool retried);
  /// on_stall of a run marked stalled.
  void hooks_of_stall(const RunOutcome& run);
  /// on_missed of fires not run (none for the pause, which is the operator's own doing).
  void hooks_of_not_run(JobId job, RunState state, NotRunReason reason, Instant scheduled,
                        std::uint64_t count);
  /// Queues hook `kind` of `about` with `context`, fired on the next turn of the loop.
  void queue_hook(const JobSpec& about, HookKind kind, std::map<std::string, std::string> context);
  /// Fires the queued hooks.
  void fire_queued_hooks();
  /// `spec` with the context of hook run `id`, if it is one.
  std::shared_ptr<const JobSpec> with_hook_context(RunId id, std::shared_ptr<const JobSpec> spec);
  struct QueuedHook {
    std::string about;  ///< the job it is for
    HookKind kind;
    std::map<std::string, std::string> context;
  };
  /// Bounded by the hook jobs: a second hook of a job and kind before the first is fired
  /// replaces it (coalesced).
  std::map<std::uint32_t, QueuedHook> hooks_queued_;
  bool hooks_posted_ = false;
  /// The context of each hook run fired and not yet launched; erased at launch (or cancel).
  std::map<RunId, std::map<std::string, std::string>> hook_contexts_;
  /// Logs and records a fire (or `count` fires from `fire.scheduled` on) that did not run.
  void record_not_run(const Fire& fire, RunState state, NotRunReason reason,
                      std::uint64_t count = 1, std::optional<Instant> folded_into = std::nullopt);
  /// Logs such fires and returns their record (not yet written).
  NotRunRecord not_run_of(const Fire& fire, RunState state, NotRunReason reason,
                          std::uint64_t count = 1,
                          std::optional<Instant> folded_into = std::nullopt);
  /// Records a first attempt (or a retry) skipped as it came due; `recorded`: it was recorded
  /// pending before (held, or recovered).
  void record_skipped(const Fire& fire, bool recorded, NotRunReason reason);
  void check_shutdown_done();
  /// Applies [store] keep_runs and keep_days to the history and removes pruned runs' logs.
  void prune_history();

  asio::io_context& io_;
  Store& store_;
  Config config_;
  const Clock& clock_;
  Random& random_;
  Events events_;
  Scheduler scheduler_;
  Dispatcher dispatcher_;
  Supervisor supervisor_;
  HandlerRunner handlers_;
  std::function<void(const RunEvent&)> observer_;
  std::vector<Job> jobs_;  ///< by JobId
  /// The jobs' names as name_of_job() reads them.
  std::function<std::string_view(JobId)> name_of_job() const {
    return [this](JobId id) -> std::string_view { return jobs_[id.value].spec->name; };
  }
  NameIndex<> job_by_name_{name_of_job()};
  ProcessSpawner& spawner_;
  std::unique_ptr<WallTimer> wall_timer_;
  std::unique_ptr<MonoTimer> mono_timer_;
  /// What each timer is armed for, so rearm() touches the kernel only on a change.
  std::optional<Instant> wall_armed_;
  std::optional<MonoInstant> mono_armed_;
  /// The last checkpoint of each fire with an attempt still to come (retry or resume).
  std::map<std::pair<std::uint32_t, Instant>, std::string> checkpoints_;
  std::uint64_t next_run_id_;
  MonoInstant last_prune_{};
  MonoInstant last_seen_written_{};  ///< when tick() last recorded last_seen
  bool pump_posted_ = false;         ///< a pump() after handler returns is posted
  /// Runs recorded (kScheduled) whose spawn waits for the record's commit, and handler runs
  /// waiting for their pending record's.
  struct Unspawned {
    Fire fire;
    std::shared_ptr<const JobSpec> spec;
    std::string checkpoint;
  };
  std::map<RunId, Unspawned> unspawned_;
  /// Fires taken from the scheduler ahead of time (kLookahead): a heap, the first due (and
  /// of those, the first taken) at the front.
  struct Held {
    MonoInstant due;
    std::uint64_t seq;
    Fire fire;
    static bool later(const Held& a, const Held& b) {
      return a.due != b.due ? a.due > b.due : a.seq > b.seq;
    }
  };
  std::vector<Held> held_;
  std::uint64_t held_seq_ = 0;
  /// Run ids reserved in pending records, in increasing order: those below settled_below_
  /// have their records committed; reserved_to_ is one past the last reserved, settling_to_
  /// the same when settle_reservations() last asked for a commit.
  std::uint64_t settled_below_;
  std::uint64_t reserved_to_;
  std::uint64_t settling_to_;
  bool store_failing_ = false;
  bool store_behind_ = false;  ///< see check_store_behind()
  /// Fires were held back (the store behind) since the last ones were handled: the folds of
  /// those popped now come from that.
  bool held_back_ = false;
  /// Expires with the engine, so that what it posted to the loop is dropped.
  std::shared_ptr<const int> alive_ = std::make_shared<const int>(0);
  /// Closed with the engine, so that commit notices heard later are dropped.
  CommitGate commit_gate_{io_};
  bool shutting_down_ = false;
  /// This boot is the one the store last ran in (boot ids compared at start): only then can
  /// a recorded run's process still be running.
  bool same_boot_ = false;
  /// This skedd's run host session follows the previous skedd's (see start()).
  bool host_continuous_ = false;
  /// Store::identities(), read at start for recovery.
  std::map<std::string, RunId> identity_since_;
  bool paused_all_ = false;
  bool draining_ = false;
  ApiJobs api_jobs_;  ///< their specs shared with jobs_ while loaded

 public:
  /// The version of job `name` added over the socket; nullopt when it is not one.
  std::optional<int> api_version(const std::string& name) const {
    const ApiJob* api = api_jobs_.find(name);
    return api != nullptr ? std::optional<int>(api->version) : std::nullopt;
  }

 private:
  /// `file_jobs` as shared specs, plus the API jobs (`api`, entries without a spec skipped)
  /// none of them shadows.
  std::vector<SpecPtr> with_api_specs(std::vector<JobSpec> file_jobs,
                                      std::span<const ApiJob> api) const;
  /// The latest version recorded for each API job removed since start.
  std::map<std::string, int> removed_api_versions_;
  std::set<std::string> paused_;  ///< names of paused jobs (kept while a job is not loaded)
  Instant started_at_{};
  /// Per-job lines of the start or reload under way; none between them.
  std::optional<std::size_t> load_lines_;
  std::function<void()> shutdown_done_;
};

}  // namespace skedd
