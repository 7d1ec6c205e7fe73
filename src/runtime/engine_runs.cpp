// The engine's runs: started once their records are committed, ended (a retry, a freed slot),
// and stopped at shutdown.
#include "runtime/after_commit.h"
#include "runtime/engine.h"
#include "runtime/log_fields.h"
#include "skedd/time/timestamp.h"

namespace skedd {

using nlohmann::json;

void Engine::spawn_recorded(const std::vector<RunId>& ids, const Status& status) {
  if (!status) {
    // The spawn does not wait for a disk that refuses writes; the records are retried.
    check_store_health();
  }
  // A shutdown leaves them recorded and unspawned: the next start offers them again.
  if (shutting_down_) return;
  for (RunId id : ids) {
    const auto it = unspawned_.find(id);
    if (it == unspawned_.end()) continue;  // cancelled meanwhile
    Unspawned run = std::move(it->second);
    unspawned_.erase(it);
    launch(id, run.fire, std::move(run.spec), std::move(run.checkpoint));
  }
  rearm();
}

bool Engine::cancel_unspawned(RunId id) {
  const auto it = unspawned_.find(id);
  if (it == unspawned_.end()) return false;
  const Unspawned& run = it->second;
  RunRecord record;
  record.run = id;
  record.job = run.spec->name;
  record.scheduled = run.fire.scheduled;
  record.attempt = run.fire.attempt;
  record.state = RunState::kCancelled;
  record.started = clock_.wall_now();
  record.ended = record.started;
  record.checkpoint = run.checkpoint;
  record.message = is_handler_job(*run.spec) ? "cancelled before its handler started"
                                             : "cancelled before its process was spawned";
  store_.put_run(record);
  events_.emit(Severity::kInfo, EventKind::kRunCancelled,
               {{"job", record.job}, {"run", id.value}, {"spawned", false}});
  dispatcher_.finished(run.fire.job, id);
  unspawned_.erase(it);
  hook_contexts_.erase(id);
  return true;
}

void Engine::start_run(const Fire& fire, std::vector<RunId>& recorded,
                       std::vector<RunId>& settling) {
  const Job& job = jobs_[fire.job.value];
  if (job.removed) {
    // Waited in the ready queue while a reload removed its job.
    dispatcher_.finished(fire.job, RunId{0});
    events_.emit(Severity::kInfo, EventKind::kFireDropped,
                 {{"job", job.spec->name}, {"reason", "job removed by reload"}});
    return;
  }
  std::string checkpoint;
  if (auto it = checkpoints_.find({fire.job.value, fire.scheduled}); it != checkpoints_.end()) {
    checkpoint = std::move(it->second);
    checkpoints_.erase(it);
  }
  const RunId id = fire.run.value != 0 ? fire.run : RunId{next_run_id_++};
  dispatcher_.started(fire.job, id);
  if (fire.run.value != 0 && id.value < settled_below_) {
    // Its pending record, under this run id, is committed: after a crash from here on, a
    // log file of the run tells that its spawn began, and its process is looked for.
    launch(id, fire, job.spec, std::move(checkpoint));
    return;
  }
  if (fire.run.value != 0 && is_handler_job(*job.spec)) {
    // Its pending record is written, not yet committed: a handler run needs nothing more
    // (if the program dies after it starts, that record offers the fire again).
    unspawned_.emplace(id, Unspawned{fire, job.spec, std::move(checkpoint)});
    settling.push_back(id);
    return;
  }
  RunRecord record;
  record.run = id;
  record.job = job.spec->name;
  if (!is_handler_job(*job.spec)) record.owner = supervisor_.owner_of(*job.spec);
  record.scheduled = fire.scheduled;
  record.attempt = fire.attempt;
  record.state = RunState::kScheduled;
  record.started = clock_.wall_now();
  record.lateness = record.started - fire.due;
  record.checkpoint = checkpoint;
  if (!is_handler_job(*job.spec)) record.log_path = supervisor_.log_path(job.spec->name, id);
  store_.put_run(record);
  unspawned_.emplace(id, Unspawned{fire, job.spec, std::move(checkpoint)});
  recorded.push_back(id);
}

void Engine::launch(RunId id, const Fire& fire, std::shared_ptr<const JobSpec> spec,
                    std::string checkpoint) {
  if (observer_) observer_(RunEvent{id, spec->name, fire.scheduled, fire.attempt});
  if (step_of_job(spec->name)) add_step_inputs(id, fire, spec);
  if (spec->options->hook_of || hook_contexts_.contains(id)) {
    spec = with_hook_context(id, std::move(spec));
  }
  if (is_handler_job(*spec)) {
    handlers_.start(id, fire.job, std::move(spec), fire, std::move(checkpoint));
  } else {
    supervisor_.start(id, fire.job, std::move(spec), fire, std::move(checkpoint));
  }
}

void Engine::on_run_finished(const RunOutcome& outcome) {
  dispatcher_.finished(outcome.job, outcome.run);
  const bool retried = maybe_retry(outcome);
  hooks_of_end(outcome, retried);
  workflow_step_ended(outcome, retried);
  if (outcome.state == RunState::kSucceeded) requirement_job_succeeded(outcome.spec->name);
  if (!retried && !backfill_fires_.empty()) {
    const auto b = backfill_fires_.find({outcome.job.value, outcome.fire.scheduled});
    if (b != backfill_fires_.end()) {
      const std::uint64_t id = b->second;
      backfill_fires_.erase(b);
      backfill_fire_ended(id, outcome.fire.scheduled);
    }
  }
  if (observer_) {
    observer_(RunEvent{outcome.run, outcome.spec->name, outcome.fire.scheduled,
                       outcome.fire.attempt, outcome.state});
  }
  // The slots freed by a batch of ends (handlers returning, pidfds becoming readable in one
  // turn of the loop) are filled once.
  if (!shutting_down_ && !pump_posted_) {
    pump_posted_ = true;
    asio::post(io_, [this, alive = std::weak_ptr(alive_)] {
      if (!alive.lock()) return;
      pump_posted_ = false;
      if (shutting_down_) return;
      pump();
      rearm();
    });
  }
  check_shutdown_done();
}

void Engine::reap_orphans() {
  supervisor_.reap_orphans();
  check_shutdown_done();
}

void Engine::rerun_unknown(const RunOutcome& run) {
  if (shutting_down_ || run.retryable || run.state != RunState::kFailed) return;
  const JobSpec& spec = *run.spec;
  if (spec.options->on_unknown_exit != OnUnknownExit::kRerun) return;
  if (jobs_[run.job.value].removed) return;
  // A rerun is counted as an interrupt: max_interrupts bounds a run that keeps vanishing.
  const int reruns = run.fire.resumes + 1;
  if (reruns > spec.options->max_interrupts) {
    events_.emit(Severity::kWarn, EventKind::kResumeRefused,
                 {{"job", spec.name},
                  {"scheduled", utc(run.fire.scheduled)},
                  {"interrupts", reruns},
                  {"max_interrupts", spec.options->max_interrupts}});
    return;
  }
  Fire next{run.job, run.fire.scheduled, clock_.wall_now(), run.fire.attempt + 1};
  next.resumes = reruns;  // reruns do not use up `retries`
  if (!run.checkpoint.empty()) checkpoints_[{run.job.value, next.scheduled}] = run.checkpoint;
  events_.emit(Severity::kInfo, EventKind::kRunResumed,
               {{"job", spec.name},
                {"scheduled", utc(next.scheduled)},
                {"attempt", next.attempt},
                {"mode", "rerun"}});
  handle_fire(next);
}

bool Engine::maybe_retry(const RunOutcome& run) {
  if (shutting_down_) return false;
  if (!run.retryable) {
    rerun_unknown(run);
    return false;
  }
  if (run.state != RunState::kFailed && run.state != RunState::kTimedOut) return false;
  // A removed job's identity has ended: a retry would be a fire of the next job of its name.
  if (jobs_[run.job.value].removed) return false;
  if (run.fire.attempt - run.fire.resumes > run.spec->options->retries) return false;
  Fire next = run.fire;
  ++next.attempt;
  next.collapsed = 0;
  const Duration delay = retry_delay(*run.spec, run.fire.attempt, random_);
  if (!run.checkpoint.empty()) checkpoints_[{run.job.value, run.fire.scheduled}] = run.checkpoint;
  // Pending from now on (in one write with the failed run's record, see Supervisor::finish),
  // so that a restart before its time still retries it.
  next.due = clock_.wall_now() + delay;
  next.run = reserve_run_id();
  store_.put_fire(pending_of(next));
  scheduler_.schedule_retry(next, delay);
  events_.emit(Severity::kInfo, EventKind::kRetryScheduled,
               {{"job", run.spec->name},
                {"attempt", next.attempt},
                {"scheduled", utc(next.scheduled)},
                {"delay_s", seconds(delay)}});
  return true;
}

void Engine::shutdown(std::function<void()> done) {
  shutting_down_ = true;
  store_.put_meta("last_seen", utc(clock_.wall_now()));
  wall_timer_->cancel();
  shutdown_done_ = std::move(done);
  if (config_.daemon.on_shutdown == OnShutdown::kLeave) {
    events_.emit(Severity::kInfo, EventKind::kShutdown,
                 {{"mode", "leave"},
                  {"running", supervisor_.running()},
                  {"handlers_running", handlers_.running()}});
    // Processes are left running; handler runs are asked to stop, left recorded as running,
    // and resumed at the next start. Their threads are waited for.
    handlers_.stop_all();
    if (handlers_.idle()) {
      mono_timer_->cancel();
      asio::post(io_, std::exchange(shutdown_done_, nullptr));
    }
    return;
  }
  events_.emit(Severity::kInfo, EventKind::kShutdown,
               {{"mode", "stop"},
                {"running", supervisor_.running()},
                {"handlers_running", handlers_.running()}});
  supervisor_.cancel_all();
  handlers_.cancel_all(RunState::kCancelled);
  rearm();
  check_shutdown_done();
}

void Engine::check_shutdown_done() {
  if (!shutting_down_ || !shutdown_done_) return;
  if (!handlers_.idle()) return;
  if (config_.daemon.on_shutdown == OnShutdown::kLeave) {
    mono_timer_->cancel();
    asio::post(io_, std::exchange(shutdown_done_, nullptr));
    return;
  }
  if (!supervisor_.idle()) return;
  mono_timer_->cancel();
  asio::post(io_, std::exchange(shutdown_done_, nullptr));
}

}  // namespace skedd
