// The engine's workflows: a workflow run fires each step as a run of its step job
// ("WORKFLOW::STEP", loaded beside the jobs like a hook job and never due by itself) once the
// steps it needs have settled, hands it their outputs, and records the run after each change.
#include <nlohmann/json.hpp>

#include "runtime/engine.h"
#include "runtime/log_fields.h"
#include "skedd/time/duration.h"
#include "skedd/time/timestamp.h"

namespace skedd {
namespace {

using nlohmann::json;

// At most this many runs of one workflow go on at once (its overlap and --force aside): each
// holds its definition and steps in memory, and any user may trigger their own workflows.
constexpr std::size_t kMaxLiveRunsPerWorkflow = 16;
// The outputs a step receives in all (variable names and values): within what execve(2)
// takes, and what one launch copies in the daemon (1000 steps of 64 KiB would be 64 MiB).
constexpr std::size_t kMaxStepInputBytes = 1024 * 1024;

// Step job `step` of `workflow`: `job`'s definition, fired by its workflow runs only.
std::shared_ptr<const JobSpec> step_spec(const WorkflowSpec& workflow, const StepSpec& step,
                                         const JobSpec& job) {
  JobSpec s = job;
  s.name = Engine::step_job_name(workflow.name, step.name);
  Schedule never{AtSchedule{Instant{}}, "step " + step.name + " of workflow " + workflow.name};
  s.schedule = SharedValue<Schedule>(std::move(never));
  JobOptions options = *job.options;
  // The workflow's overlap policy decides which of its runs go on; within them, each fire of a
  // step is a run of its own. Its alert hooks are the workflow's failure steps.
  options.overlap = OverlapPolicy::kAllow;
  options.catch_up = CatchUp::kNone;
  options.starting_deadline.reset();
  options.jitter = Duration{0};
  options.hooks = {};
  options.hook_shell = {};
  options.hook_context = {
      {"SKEDD_WORKFLOW", workflow.name}, {"SKEDD_STEP", step.name}, {"SKEDD_JOB", job.name}};
  s.options = SharedValue<JobOptions>(std::move(options));
  return std::make_shared<const JobSpec>(std::move(s));
}

// The schedule job of a workflow with a schedule: its fires start the workflow's runs (see
// Engine::fire_workflow()); it has no command, so it never reaches the dispatcher.
std::shared_ptr<const JobSpec> schedule_spec(const WorkflowSpec& workflow) {
  JobSpec s;
  s.name = Engine::schedule_job_name(workflow.name);
  s.schedule = SharedValue<Schedule>(*workflow.schedule);
  s.zone = workflow.zone;
  s.defined_at = workflow.defined_at;
  JobOptions options;
  options.user = workflow.user;
  options.overlap = OverlapPolicy::kAllow;  // the workflow's overlap decides (fire_workflow())
  s.options = SharedValue<JobOptions>(std::move(options));
  return std::make_shared<const JobSpec>(std::move(s));
}

// The message of a run that overlap = "queue" keeps waiting (read back after a restart).
constexpr std::string_view kQueuedBehind = "queued behind workflow run ";

// Whether `workflow` has the steps `record` ran (by name, in order): a workflow run goes on, or
// is retried, with the definition loaded now only then.
bool has_steps_of(const WorkflowSpec& workflow, const WorkflowRunRecord& record) {
  if (workflow.steps.size() != record.steps.size()) return false;
  for (std::size_t i = 0; i < record.steps.size(); ++i) {
    if (workflow.steps[i].name != record.steps[i].step) return false;
  }
  return true;
}

// How a step's run ended, as its workflow's planner counts it.
StepState step_state_of(RunState state, bool retryable) {
  switch (state) {
    case RunState::kSucceeded:
      return StepState::kSucceeded;
    case RunState::kCancelled:
      return StepState::kCancelled;
    case RunState::kFailed:
      return retryable ? StepState::kFailed : StepState::kUnknown;
    case RunState::kScheduled:
    case RunState::kRunning:
    case RunState::kPaused:
      return StepState::kRunning;
    default:
      return StepState::kFailed;  // timed out, killed, stalled, interrupted, not run
  }
}

}  // namespace

std::optional<std::string> Engine::workflow_of_schedule_job(const std::string& name) {
  constexpr std::string_view kSuffix = "::@schedule";
  if (!name.ends_with(kSuffix)) return std::nullopt;
  return name.substr(0, name.size() - kSuffix.size());
}

std::optional<std::pair<std::string, std::string>> Engine::step_of_job(const std::string& name) {
  const std::size_t at = name.find("::");
  if (at == std::string::npos) return std::nullopt;
  return std::pair{name.substr(0, at), name.substr(at + 2)};
}

void Engine::append_step_specs(const Config& config,
                               std::vector<std::shared_ptr<const JobSpec>>& specs) {
  workflows_.clear();
  for (const WorkflowSpec& w : config.workflows) {
    auto shared = std::make_shared<const WorkflowSpec>(w);
    for (const StepSpec& step : w.steps) {
      const auto job = std::find_if(config.step_jobs.begin(), config.step_jobs.end(),
                                    [&](const JobSpec& j) { return j.name == step.job; });
      if (job != config.step_jobs.end()) specs.push_back(step_spec(w, step, *job));
    }
    if (w.schedule) specs.push_back(schedule_spec(w));
    workflows_.emplace(w.name, std::move(shared));
  }
}

std::vector<std::shared_ptr<const JobSpec>> Engine::step_specs_of(
    const WorkflowSpec& workflow) const {
  std::vector<std::shared_ptr<const JobSpec>> specs;
  for (const StepSpec& step : workflow.steps) {
    const auto job = job_by_name_.find(step_job_name(workflow.name, step.name));
    specs.push_back(job && !jobs_[job->value].removed ? jobs_[job->value].spec : nullptr);
  }
  return specs;
}

std::vector<Engine::WorkflowInfo> Engine::workflows() const {
  std::vector<WorkflowInfo> out;
  for (const auto& [name, spec] : workflows_) out.push_back(*workflow(name));
  return out;
}

std::optional<Engine::WorkflowInfo> Engine::workflow(const std::string& name) const {
  const auto it = workflows_.find(name);
  if (it == workflows_.end()) return std::nullopt;
  WorkflowInfo info{it->second, 0};
  for (const auto& [id, live] : live_workflows_) {
    if (live.record.workflow == name) ++info.running;
  }
  return info;
}

Result<RunId> Engine::trigger_workflow(const std::string& name, bool force) {
  return start_workflow_run(name, std::nullopt, force);
}

Result<RunId> Engine::start_workflow_run(const std::string& name, std::optional<Instant> fired,
                                         bool force) {
  const auto it = workflows_.find(name);
  if (it == workflows_.end()) return Error::not_found("no workflow named \"" + name + "\"");
  const std::shared_ptr<const WorkflowSpec>& spec = it->second;
  if (auto refused = workflow_run_refused(*spec, force)) return *refused;
  // A fire's instant is the run's (SKEDD_SCHEDULED_AT of its steps); a trigger's is now.
  Instant scheduled = fired.value_or(clock_.wall_now());
  for (const auto& [id, live] : live_workflows_) {
    if (live.record.workflow != name) continue;
    // Each run of a workflow has an instant of its own: its steps' fires are keyed by it.
    // Triggered runs take the next free microsecond; a fire keeps its own unless taken.
    if (fired ? live.record.scheduled == scheduled : live.record.scheduled >= scheduled) {
      scheduled = live.record.scheduled + Duration{1};
    }
  }
  WorkflowRunRecord record;
  record.id = reserve_run_id();
  record.workflow = name;
  record.scheduled = scheduled;
  record.state = WorkflowRunState::kRunning;
  record.started = clock_.wall_now();
  record.version = spec->version;
  for (const StepSpec& step : spec->steps) {
    record.steps.push_back(WorkflowStepRecord{step.name, StepState::kPending, SkipReason::kNone});
  }
  if (const auto job = job_by_name_.find(step_job_name(name, spec->steps.front().name))) {
    if (!is_handler_job(*jobs_[job->value].spec)) {
      record.owner = supervisor_.owner_of(*jobs_[job->value].spec);
    }
  }
  const RunId id = record.id;
  // Under overlap "queue" it waits for the run going on; under "replace" that run is
  // cancelled and this one starts now.
  std::optional<RunId> behind;
  std::vector<RunId> replaced;
  if (!force &&
      (spec->overlap == OverlapPolicy::kQueue || spec->overlap == OverlapPolicy::kReplace)) {
    for (const auto& [other, live] : live_workflows_) {
      if (live.record.workflow != name || live.cancelled) continue;
      if (spec->overlap == OverlapPolicy::kQueue) {
        behind = other;
      } else {
        replaced.push_back(other);
      }
    }
  }
  events_.emit(Severity::kInfo, EventKind::kWorkflowRunStarted,
               {{"workflow", name},
                {"run", id.value},
                {"scheduled", utc(scheduled)},
                {"by", fired ? "schedule" : "trigger"},
                {"steps", spec->steps.size()},
                {"queued_behind", behind ? json(behind->value) : json(nullptr)}});
  LiveWorkflowRun& live =
      live_workflows_.emplace(id, LiveWorkflowRun{std::move(record), spec}).first->second;
  live.step_specs = step_specs_of(*spec);
  for (const RunId other : replaced) {
    live_workflows_.at(other).record.message =
        "replaced by workflow run " + std::to_string(id.value) + " (overlap = \"replace\")";
    cancel_workflow_run(other);
  }
  if (behind) {
    live.queued = true;
    live.record.state = WorkflowRunState::kPending;
    live.record.message =
        std::string(kQueuedBehind) + std::to_string(behind->value) + " (overlap = \"queue\")";
    store_.put_workflow_run(live.record);
  } else if (!spec->requirements.empty()) {
    live.waiting_since = clock_.mono_now();
    check_requirements(id);
  } else {
    advance_workflow(id);
  }
  pump();
  rearm();
  return id;
}

std::optional<Error> Engine::workflow_run_refused(const WorkflowSpec& spec, bool force,
                                                  RunId except, bool strict) const {
  if (shutting_down_) return Error{ErrorCode::kConflict, "skedd is shutting down"};
  if (paused_all_) return Error{ErrorCode::kConflict, "skedd is paused (resume --all)"};
  std::size_t going_on = 0;
  for (const auto& [id, live] : live_workflows_) {
    if (live.record.workflow != spec.name || id == except) continue;
    if (++going_on >= kMaxLiveRunsPerWorkflow) {
      return Error{ErrorCode::kConflict, "workflow \"" + spec.name + "\" has " +
                                             std::to_string(kMaxLiveRunsPerWorkflow) +
                                             " runs going on, the most at once"};
    }
    if (force || spec.overlap == OverlapPolicy::kAllow) continue;
    if (strict || spec.overlap == OverlapPolicy::kSkip) {
      return Error{ErrorCode::kConflict, "workflow \"" + spec.name + "\" has a run going on (run " +
                                             std::to_string(id.value) + ") and its overlap is \"" +
                                             to_string(spec.overlap) + "\"" +
                                             (strict ? "" : " (--force starts one)")};
    }
    if (spec.overlap == OverlapPolicy::kQueue && live.queued) {
      return Error{ErrorCode::kConflict, "workflow \"" + spec.name + "\" has a run queued (run " +
                                             std::to_string(id.value) +
                                             ") already; overlap = \"queue\" keeps one"};
    }
  }
  return std::nullopt;
}

Result<RunId> Engine::retry_workflow_run(RunId id, const std::string& from) {
  if (live_workflows_.contains(id)) {
    return Error{ErrorCode::kConflict, "workflow run " + std::to_string(id.value) +
                                           " is going on: retry it once it has ended"};
  }
  WorkflowRunQuery query;
  query.id = id;
  query.limit = 1;
  auto found = store_.workflow_runs(query);
  if (!found) return found.error();
  if (found->empty()) return Error::not_found("no workflow run " + std::to_string(id.value));
  WorkflowRunRecord record = std::move(found->front());
  const auto it = workflows_.find(record.workflow);
  const bool same = it != workflows_.end() && has_steps_of(*it->second, record);
  if (!same) {
    return Error{
        ErrorCode::kConflict,
        "workflow " + record.workflow +
            (it == workflows_.end() ? " is no longer defined"
                                    : "'s steps changed since run " + std::to_string(id.value) +
                                          ": trigger a new run instead")};
  }
  const WorkflowSpec& spec = *it->second;
  std::optional<std::size_t> start;
  std::string names;
  for (std::size_t i = 0; i < spec.steps.size(); ++i) {
    if (spec.steps[i].name == from) start = i;
    names += (names.empty() ? "" : ", ") + spec.steps[i].name;
  }
  if (!start) {
    return Error::not_found("workflow " + spec.name + " has no step \"" + from +
                            "\" (its steps: " + names + ")");
  }
  if (auto refused = workflow_run_refused(spec, false, id, true)) return *refused;
  // The step and those after it: steps come after the steps they need.
  std::vector<bool> again(spec.steps.size(), false);
  again[*start] = true;
  for (std::size_t i = *start + 1; i < spec.steps.size(); ++i) {
    for (const std::size_t need : spec.steps[i].needs) again[i] = again[i] || again[need];
  }
  for (std::size_t i = 0; i < spec.steps.size(); ++i) {
    if (!again[i]) continue;
    record.steps[i] =
        WorkflowStepRecord{record.steps[i].step, StepState::kPending, SkipReason::kNone, RunId{}};
  }
  record.state = WorkflowRunState::kRunning;
  record.ended.reset();
  // The steps run again run with the definitions loaded now (the fix a retry follows).
  record.message = "retried from step " + from +
                   (record.version != spec.version
                        ? " with version " + spec.version + " (was " + record.version + ")"
                        : std::string());
  record.version = spec.version;
  events_.emit(Severity::kInfo, EventKind::kWorkflowRunRetried,
               {{"workflow", record.workflow},
                {"run", id.value},
                {"from", from},
                {"steps", std::count(again.begin(), again.end(), true)}});
  live_workflows_.emplace(id, LiveWorkflowRun{std::move(record), it->second})
      .first->second.step_specs = step_specs_of(spec);
  advance_workflow(id);
  pump();
  rearm();
  return id;
}

bool Engine::set_workflow_run_paused(RunId id, bool paused) {
  const auto it = live_workflows_.find(id);
  if (it == live_workflows_.end()) return false;
  it->second.paused = paused;
  for (const WorkflowStepRecord& step : it->second.record.steps) {
    if (step.state == StepState::kRunning && step.run.value != 0) set_run_paused(step.run, paused);
  }
  events_.emit(Severity::kInfo,
               paused ? EventKind::kWorkflowRunPaused : EventKind::kWorkflowRunResumedFromPause,
               {{"workflow", it->second.record.workflow}, {"run", id.value}});
  advance_workflow(id);
  pump();
  rearm();
  return true;
}

Engine::Triggered Engine::fire_workflow(const Fire& fire, bool recorded) {
  const JobSpec& spec = *jobs_[fire.job.value].spec;
  const std::string workflow = *workflow_of_schedule_job(spec.name);
  auto started = start_workflow_run(workflow, fire.scheduled, false);
  if (!started) {
    // Its overlap, a bound or a requirement refuses it: recorded as a skipped fire of the
    // schedule job, with the reason in the event.
    events_.emit(Severity::kInfo, EventKind::kWorkflowFireSkipped,
                 {{"workflow", workflow},
                  {"scheduled", utc(fire.scheduled)},
                  {"reason", started.error().message}});
    record_skipped(fire, recorded, NotRunReason::kOverlap);
    return {OfferOutcome::kSkipped, fire.run};
  }
  // The fire's run: it started the workflow run and is over. One write with the fire taken,
  // so that after a crash the fire is either before the last fire or recorded as run.
  StoreGroup group(store_);
  if (!recorded) record_pending(fire);
  const Instant now = clock_.wall_now();
  RunRecord run;
  run.run = fire.run;
  run.job = spec.name;
  run.scheduled = fire.scheduled;
  run.attempt = fire.attempt;
  run.state = RunState::kSucceeded;
  run.started = now;
  run.ended = now;
  run.lateness = now > fire.scheduled ? now - fire.scheduled : Duration{0};
  run.message = "started workflow run " + std::to_string(started->value);
  run.owner = supervisor_.owner_of(spec);
  store_.put_run(std::move(run));
  return {OfferOutcome::kReady, fire.run};
}

bool Engine::cancel_workflow_run(RunId id) {
  const auto it = live_workflows_.find(id);
  if (it == live_workflows_.end()) return false;
  if (it->second.paused) set_workflow_run_paused(id, false);  // its frozen steps take the signal
  it->second.cancelled = true;
  it->second.waiting_since.reset();
  it->second.queued = false;
  for (WorkflowStepRecord& step : it->second.record.steps) {
    if (step.state != StepState::kRunning || step.run.value == 0) continue;
    // A running step ends through its run's end; one cancelled before it was spawned, or
    // waiting for a slot (taken out, so that it never starts), ends here.
    if (const auto waiting = dispatcher_.withdraw(step.run)) {
      record_not_run(*waiting, RunState::kSkipped, NotRunReason::kCancelled);
    } else if (cancel(step.run) && has_live_run(step.run)) {
      continue;
    }
    step.state = StepState::kCancelled;
    if (const auto job = job_by_name_.find(step_job_name(it->second.record.workflow, step.step))) {
      const Instant scheduled = it->second.record.scheduled;
      step_fires_.erase({job->value, scheduled});
      // Its last attempt failed and the next waits for its time: it never comes.
      if (const auto retry = scheduler_.withdraw_retry(*job, scheduled)) {
        checkpoints_.erase({job->value, scheduled});
        record_not_run(*retry, RunState::kSkipped, NotRunReason::kCancelled);
      }
    }
  }
  advance_workflow(id);
  return true;
}

void Engine::check_requirements(RunId id, const std::string* succeeded) {
  const auto it = live_workflows_.find(id);
  if (it == live_workflows_.end() || !it->second.waiting_since) return;
  LiveWorkflowRun& live = it->second;
  const Instant now = clock_.wall_now();
  const Duration waited = clock_.mono_now() - *live.waiting_since;
  const Requirement* unmet = nullptr;
  for (const Requirement& r : live.spec->requirements) {
    bool met = succeeded != nullptr && *succeeded == r.job;
    if (!met) {
      // Its job's latest success (of the job's current identity), as committed.
      auto runs = store_.runs(RunQuery{r.job, RunState::kSucceeded, 1});
      if (!runs) {
        events_.emit(Severity::kWarn, EventKind::kStoreReadFailed,
                     {{"error", runs.error().message}});
      } else if (!runs->empty() && runs->front().ended) {
        met = *runs->front().ended >= now - r.succeeded_within;
      }
    }
    if (met) continue;
    // The unmet one whose wait ends first decides.
    if (unmet == nullptr || r.wait_up_to < unmet->wait_up_to) unmet = &r;
  }
  WorkflowRunRecord& record = live.record;
  if (unmet == nullptr) {
    live.waiting_since.reset();
    record.message.clear();
    advance_workflow(id);
    return;
  }
  if (waited < unmet->wait_up_to) {
    if (record.message.empty()) {
      record.state = WorkflowRunState::kPending;
      record.message = "waiting up to " + format_duration(unmet->wait_up_to) + " for job " +
                       unmet->job + " to succeed within " +
                       format_duration(unmet->succeeded_within);
      events_.emit(Severity::kInfo, EventKind::kWorkflowRequirementWait,
                   {{"workflow", record.workflow},
                    {"run", id.value},
                    {"job", unmet->job},
                    {"succeeded_within_s", seconds(unmet->succeeded_within)},
                    {"wait_up_to_s", seconds(unmet->wait_up_to)}});
      store_.put_workflow_run(record);
    }
    return;
  }
  // Not met in time: no step runs.
  record.state = WorkflowRunState::kNotRun;
  record.ended = now;
  record.message =
      "requirement_not_met: job " + unmet->job + " has not succeeded within " +
      format_duration(unmet->succeeded_within) +
      (unmet->wait_up_to > Duration{0} ? " (waited " + format_duration(unmet->wait_up_to) + ")"
                                       : std::string());
  for (WorkflowStepRecord& step : record.steps) {
    step.state = StepState::kSkipped;
    step.reason = SkipReason::kRequirementNotMet;
  }
  events_.emit(Severity::kWarn, EventKind::kWorkflowRunFinished,
               {{"workflow", record.workflow},
                {"run", id.value},
                {"state", to_string(record.state)},
                {"message", record.message}});
  store_.put_workflow_run(record);
  const std::string workflow = record.workflow;
  live_workflows_.erase(it);
  workflow_run_ended(id, workflow);
}

void Engine::requirement_job_succeeded(const std::string& job) {
  std::vector<RunId> waiting;
  for (const auto& [id, live] : live_workflows_) {
    if (!live.waiting_since) continue;
    for (const Requirement& r : live.spec->requirements) {
      if (r.job == job) waiting.push_back(id);
    }
  }
  for (const RunId id : waiting) check_requirements(id, &job);
}

void Engine::check_waiting_workflows() {
  const MonoInstant now = clock_.mono_now();
  std::vector<RunId> due;
  for (const auto& [id, live] : live_workflows_) {
    if (!live.waiting_since) continue;
    for (const Requirement& r : live.spec->requirements) {
      if (*live.waiting_since + r.wait_up_to <= now) {
        due.push_back(id);
        break;
      }
    }
  }
  for (const RunId id : due) check_requirements(id);
}

std::optional<MonoInstant> Engine::next_requirement_deadline() const {
  std::optional<MonoInstant> first;
  for (const auto& [id, live] : live_workflows_) {
    if (!live.waiting_since) continue;
    for (const Requirement& r : live.spec->requirements) {
      const MonoInstant at = *live.waiting_since + r.wait_up_to;
      if (!first || at < *first) first = at;
    }
  }
  return first;
}

void Engine::advance_workflow(RunId id) {
  const auto it = live_workflows_.find(id);
  if (it == live_workflows_.end()) return;
  LiveWorkflowRun& live = it->second;
  WorkflowRunRecord& record = live.record;
  // check_requirements() or the end of the run it is queued behind starts it.
  if ((live.waiting_since || live.queued) && !live.cancelled) return;
  const WorkflowSpec& spec = *live.spec;
  WorkflowPlan plan;
  for (bool again = true; again;) {
    again = false;
    std::vector<StepStatus> states;
    for (const WorkflowStepRecord& s : record.steps) {
      states.push_back(StepStatus{s.state, s.reason});
    }
    plan = plan_workflow(spec, states, live.paused && !live.cancelled, live.cancelled);
    for (const auto& [index, reason] : plan.skip) {
      record.steps[index].state = StepState::kSkipped;
      record.steps[index].reason = reason;
      events_.emit(Severity::kInfo, EventKind::kWorkflowStepSkipped,
                   {{"workflow", record.workflow},
                    {"run", id.value},
                    {"step", record.steps[index].step},
                    {"reason", to_string(reason)}});
    }
    for (const std::size_t index : plan.start) {
      WorkflowStepRecord& step = record.steps[index];
      const auto job = job_by_name_.find(step_job_name(record.workflow, step.step));
      if (!job || jobs_[job->value].removed) {
        // Its job went with a reload that removed the step: it fails, and the run is planned
        // again (the steps after it may be decided by that).
        step.state = StepState::kFailed;
        record.message = "step " + step.step + ": its job is no longer loaded";
        again = true;
        continue;
      }
      DispatchPolicy policy = policy_of(*jobs_[job->value].spec);
      policy.overlap = OverlapPolicy::kAllow;
      step_fires_[{job->value, record.scheduled}] = {id, index};
      const Triggered fired = handle_fire(Fire{*job, record.scheduled, clock_.wall_now()}, &policy);
      step.state = StepState::kRunning;
      step.run = fired.run;
      events_.emit(Severity::kInfo, EventKind::kWorkflowStepStarted,
                   {{"workflow", record.workflow},
                    {"run", id.value},
                    {"step", step.step},
                    {"step_run", fired.run.value}});
    }
  }
  record.state = plan.state;
  if (is_final(record.state)) {
    record.ended = clock_.wall_now();
    events_.emit(record.state == WorkflowRunState::kSucceeded ? Severity::kInfo : Severity::kWarn,
                 EventKind::kWorkflowRunFinished,
                 {{"workflow", record.workflow},
                  {"run", id.value},
                  {"state", to_string(record.state)},
                  {"steps", record.steps.size()},
                  {"duration_s", seconds(*record.ended - record.started)}});
  }
  store_.put_workflow_run(record);
  if (is_final(record.state)) {
    const std::string workflow = record.workflow;
    live_workflows_.erase(it);
    workflow_run_ended(id, workflow);
  }
}

bool Engine::workflow_step_ended(const RunOutcome& outcome, bool retried) {
  const auto it = step_fires_.find({outcome.job.value, outcome.fire.scheduled});
  if (it == step_fires_.end()) return false;
  const auto [id, index] = it->second;
  const auto live = live_workflows_.find(id);
  if (live == live_workflows_.end()) return false;
  WorkflowStepRecord& step = live->second.record.steps[index];
  step.run = outcome.run;
  if (retried) {
    // Its next attempt is a run of the same fire: the step goes on.
    store_.put_workflow_run(live->second.record);
    return true;
  }
  step.state = step_state_of(outcome.state, outcome.retryable);
  step_fires_.erase(it);
  advance_workflow(id);
  return true;
}

void Engine::add_step_inputs(RunId run, const Fire& fire, std::shared_ptr<const JobSpec>& spec) {
  const auto it = step_fires_.find({fire.job.value, fire.scheduled});
  if (it == step_fires_.end()) return;
  const auto live = live_workflows_.find(it->second.first);
  if (live == live_workflows_.end()) return;
  // The step runs with the definition its workflow run started with.
  if (it->second.second < live->second.step_specs.size() &&
      live->second.step_specs[it->second.second]) {
    spec = live->second.step_specs[it->second.second];
  }
  const WorkflowRunRecord& record = live->second.record;
  const WorkflowSpec& workflow = *live->second.spec;
  // The outputs of every step before it (those it needs, theirs, and so on), from their
  // latest runs. Committed: this run's own record was committed after theirs.
  std::vector<bool> before(workflow.steps.size(), false);
  std::vector<std::size_t> todo{it->second.second};
  while (!todo.empty()) {
    const std::size_t i = todo.back();
    todo.pop_back();
    for (const std::size_t need : workflow.steps[i].needs) {
      if (!before[need]) {
        before[need] = true;
        todo.push_back(need);
      }
    }
  }
  std::map<std::string, std::string> context{
      {"SKEDD_WORKFLOW_RUN", std::to_string(record.id.value)}};
  json inputs = json::object();
  std::size_t bytes = 0;
  std::size_t dropped = 0;
  for (std::size_t i = 0; i < before.size(); ++i) {
    if (!before[i] || record.steps[i].run.value == 0) continue;
    RunQuery query(std::nullopt, std::nullopt, 1);
    query.run = record.steps[i].run;
    query.outputs = true;
    auto runs = store_.runs(query);
    if (!runs) {
      events_.emit(Severity::kWarn, EventKind::kStoreReadFailed, {{"error", runs.error().message}});
      continue;
    }
    if (runs->empty()) continue;
    for (const auto& [key, value] : runs->front().outputs) {
      std::string variable = input_variable(record.steps[i].step, key);
      if (bytes + variable.size() + value.size() > kMaxStepInputBytes) {
        ++dropped;
        continue;
      }
      bytes += variable.size() + value.size();
      context[std::move(variable)] = value;
      inputs[record.steps[i].step][key] = value;
    }
  }
  if (dropped > 0) {
    events_.emit(Severity::kWarn, EventKind::kWorkflowInputsCut,
                 {{"workflow", record.workflow},
                  {"run", record.id.value},
                  {"step", record.steps[it->second.second].step},
                  {"kept_bytes", bytes},
                  {"dropped", dropped},
                  {"limit_bytes", kMaxStepInputBytes}});
  }
  if (is_handler_job(*spec)) {
    // A handler step has them in its params, as "skedd_in": {STEP: {KEY: VALUE}}.
    auto copy = std::make_shared<JobSpec>(*spec);
    json params = copy->params.empty() ? json::object() : json::parse(copy->params, nullptr, false);
    if (!params.is_object()) params = json::object();
    params["skedd_in"] = std::move(inputs);
    copy->params = params.dump();
    spec = std::move(copy);
    return;
  }
  auto& kept = hook_contexts_[run];
  for (auto& [name, value] : context) kept[name] = std::move(value);
}

void Engine::fail_workflow_record(WorkflowRunRecord& record, const std::string& message) {
  record.state = WorkflowRunState::kFailed;
  record.ended = clock_.wall_now();
  record.message = message;
  for (WorkflowStepRecord& step : record.steps) {
    if (step.state == StepState::kPending) {
      step.state = StepState::kSkipped;
      step.reason = SkipReason::kCancelled;
    } else if (step.state == StepState::kRunning) {
      step.state = StepState::kUnknown;
    }
  }
  store_.put_workflow_run(record);
  events_.emit(Severity::kWarn, EventKind::kWorkflowRunFinished,
               {{"workflow", record.workflow},
                {"run", record.id.value},
                {"state", to_string(record.state)},
                {"message", record.message}});
}

void Engine::reload_unfinished_workflow_runs() {
  recovered_step_fires_.emplace();
  WorkflowRunQuery query;
  query.unfinished = true;
  query.limit = 100'000;
  auto unfinished = store_.workflow_runs(query);
  if (!unfinished) {
    events_.emit(Severity::kWarn, EventKind::kStoreReadFailed,
                 {{"error", unfinished.error().message}});
    return;
  }
  for (WorkflowRunRecord& record : unfinished.value()) {
    const auto it = workflows_.find(record.workflow);
    // It goes on with the definition loaded now: the steps must be the ones it ran so far.
    const bool same = it != workflows_.end() && has_steps_of(*it->second, record);
    if (!same) {
      fail_workflow_record(record, it == workflows_.end()
                                       ? "interrupted by a restart of skedd: its workflow is no "
                                         "longer defined"
                                       : "interrupted by a restart of skedd: its workflow's steps "
                                         "changed meanwhile");
      continue;
    }
    if (!record.version.empty() && record.version != it->second->version) {
      // Its definitions changed while skedd was down: the steps still to run run the new
      // ones, and the run says so (the queued message, read back below, is kept).
      if (record.message.rfind(kQueuedBehind, 0) != 0) {
        record.message = "went on after a restart of skedd with version " + it->second->version +
                         " (was " + record.version + ")";
      }
      record.version = it->second->version;
    }
    for (std::size_t i = 0; i < record.steps.size(); ++i) {
      const StepState state = record.steps[i].state;
      if (state != StepState::kPending && state != StepState::kRunning) continue;
      if (const auto job =
              job_by_name_.find(step_job_name(record.workflow, record.steps[i].step))) {
        step_fires_[{job->value, record.scheduled}] = {record.id, i};
      }
    }
    const RunId id = record.id;
    const bool paused = record.state == WorkflowRunState::kPaused;
    auto& live =
        live_workflows_.emplace(id, LiveWorkflowRun{std::move(record), it->second}).first->second;
    live.step_specs = step_specs_of(*live.spec);
    live.paused = paused;
    live.queued = live.record.state == WorkflowRunState::kPending &&
                  live.record.message.rfind(kQueuedBehind, 0) == 0;
    if (!live.queued && !live.spec->requirements.empty() &&
        std::all_of(live.record.steps.begin(), live.record.steps.end(),
                    [](const WorkflowStepRecord& s) { return s.state == StepState::kPending; })) {
      // It was waiting for its requirements: it waits on, counting from its start.
      const Duration since = clock_.wall_now() - live.record.started;
      live.waiting_since = clock_.mono_now() - std::max(since, Duration{0});
    }
  }
}

void Engine::note_recovered_fire(JobId job, Instant scheduled, RunId run) {
  if (!recovered_step_fires_ || !step_fires_.contains({job.value, scheduled})) return;
  (*recovered_step_fires_)[{job.value, scheduled}] = run;
}

void Engine::settle_recovered_workflow_runs() {
  const auto recovered = std::move(recovered_step_fires_);
  recovered_step_fires_.reset();
  if (!recovered) return;
  std::vector<RunId> ids;
  for (auto& [id, live] : live_workflows_) {
    ids.push_back(id);
    WorkflowRunRecord& record = live.record;
    for (WorkflowStepRecord& step : record.steps) {
      if (step.state != StepState::kPending && step.state != StepState::kRunning) continue;
      const auto job = job_by_name_.find(step_job_name(record.workflow, step.step));
      if (!job) continue;  // planned again below: a step whose job is gone fails there
      const std::pair key{job->value, record.scheduled};
      if (const auto r = recovered->find(key); r != recovered->end()) {
        // Adopted, resumed or offered again: it settles when that run ends.
        step.state = StepState::kRunning;
        if (r->second.value != 0) step.run = r->second;
        continue;
      }
      // Not recovered: its last run ended before the stop (its end not yet in this record),
      // or it never started. Its step job's latest run of this instant says which.
      step_fires_.erase(key);
      RunQuery query(step_job_name(record.workflow, step.step), std::nullopt, 1'000);
      query.since = record.started;
      auto runs = store_.runs(query);
      if (!runs) {
        events_.emit(Severity::kWarn, EventKind::kStoreReadFailed,
                     {{"error", runs.error().message}});
      }
      const RunRecord* last = nullptr;
      if (runs) {
        for (const RunRecord& r : runs.value()) {
          if (r.scheduled == record.scheduled) {
            last = &r;
            break;
          }
        }
      }
      if (last != nullptr && last->state != RunState::kScheduled &&
          last->state != RunState::kRunning && last->state != RunState::kPaused) {
        // A failure with neither exit code nor signal from a process that ran: unknown.
        const bool unknown =
            last->state == RunState::kFailed && last->pid && !last->exit_code && !last->signal;
        step.state = step_state_of(last->state, !unknown);
        step.run = last->run;
      } else if (step.state == StepState::kRunning) {
        step.state = StepState::kUnknown;  // recorded running, and no run of it is known
      }
    }
    events_.emit(Severity::kInfo, EventKind::kWorkflowRunResumed,
                 {{"workflow", record.workflow}, {"run", id.value}});
  }
  std::set<std::string> names;
  for (const RunId id : ids) {
    const auto it = live_workflows_.find(id);
    if (it == live_workflows_.end()) continue;
    names.insert(it->second.record.workflow);
    if (it->second.waiting_since) {
      check_requirements(id);
    } else {
      advance_workflow(id);
    }
  }
  // A run queued behind one that did not go on past the restart starts now.
  for (const std::string& name : names) start_queued_run(name);
}

}  // namespace skedd
