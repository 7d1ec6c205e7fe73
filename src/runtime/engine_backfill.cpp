// Backfill: the fires of a past interval of a job's or a workflow's schedule, run oldest
// first with a sliding window of `concurrency` fires at a time (the next starts as soon as
// any ends, not batch by batch), each a fire of its own instant.
#include <algorithm>

#include "runtime/engine.h"
#include "runtime/log_fields.h"
#include "skedd/time/timestamp.h"

namespace skedd {

Result<Engine::BackfillPlan> Engine::backfill(const std::string& name, Instant from, Instant to,
                                              int concurrency, bool rerun) {
  if (shutting_down_) return Error{ErrorCode::kConflict, "skedd is shutting down"};
  if (backfills_.size() >= kMaxBackfills) {
    return Error{ErrorCode::kConflict,
                 std::to_string(kMaxBackfills) + " backfills are going on, the most at once"};
  }
  if (to < from) return Error::invalid_argument("--to is before --from");
  if (to > clock_.wall_now()) return Error::invalid_argument("--to is in the future");
  if (concurrency < 1 || concurrency > 16) {
    return Error::invalid_argument("concurrency must be 1 to 16");
  }
  Backfill b;
  b.name = name;
  b.concurrency = concurrency;
  const Schedule* schedule = nullptr;
  if (const auto w = workflows_.find(name); w != workflows_.end()) {
    if (!w->second->schedule) {
      return Error::invalid_argument("workflow " + name + " has no schedule to backfill");
    }
    schedule = &*w->second->schedule;
  } else {
    const auto job = job_by_name_.find(name);
    if (!job || jobs_[job->value].removed) {
      return Error::not_found("no job or workflow named \"" + name + "\"");
    }
    if (step_of_job(name)) {
      return Error::invalid_argument("job " + name +
                                     " is a workflow's step or schedule: backfill the workflow");
    }
    b.job = *job;
    schedule = &*jobs_[job->value].spec->schedule;
  }
  if (schedule->is_reboot()) {
    return Error::invalid_argument(name + " runs @reboot: it has no fires to backfill");
  }
  // The fires in [from, to]; an `every` schedule counts from `from`.
  std::vector<Instant> fires;
  const Instant before = from - Duration{1};
  for (auto next = schedule->next_after(before, before); next && next->at <= to;
       next = schedule->next_after(next->at, before)) {
    if (fires.size() == kMaxBackfillFires) {
      return Error::invalid_argument("the interval holds more than " +
                                     std::to_string(kMaxBackfillFires) +
                                     " fires, the most one backfill runs");
    }
    fires.push_back(next->at);
  }
  if (fires.empty()) return Error::invalid_argument("no fire of " + name + " in that interval");

  // What has run or been recorded already, with each fire's latest attempt.
  std::map<Instant, int> attempts;
  std::vector<std::pair<Instant, Instant>> not_run;
  if (b.job) {
    RunQuery query(name, std::nullopt, 1'000'000);
    query.since = from;
    auto runs = store_.runs(query);
    if (!runs) return runs.error();
    for (const RunRecord& r : runs.value()) {
      int& a = attempts[r.scheduled];
      a = std::max(a, r.attempt);
    }
    auto skipped = store_.not_run(name, 100'000);
    if (!skipped) return skipped.error();
    for (const NotRunRecord& r : skipped.value()) not_run.emplace_back(r.first, r.last);
  } else {
    WorkflowRunQuery query;
    query.workflow = name;
    query.limit = 1'000'000;
    auto runs = store_.workflow_runs(query);
    if (!runs) return runs.error();
    for (const WorkflowRunRecord& r : runs.value()) attempts[r.scheduled] = 1;
  }
  BackfillPlan plan;
  for (const Instant t : fires) {
    const auto a = attempts.find(t);
    const bool recorded =
        a != attempts.end() || std::any_of(not_run.begin(), not_run.end(), [&](const auto& range) {
          return range.first <= t && t <= range.second;
        });
    if (recorded && !rerun) {
      ++plan.skipped;
      continue;
    }
    b.todo.emplace_back(t, a != attempts.end() && b.job ? a->second + 1 : 1);
  }
  plan.fires = b.todo.size();
  plan.id = next_backfill_++;
  events_.emit(Severity::kInfo, EventKind::kBackfillStarted,
               {{"backfill", plan.id},
                {"name", name},
                {"from", utc(from)},
                {"to", utc(to)},
                {"fires", plan.fires},
                {"skipped", plan.skipped},
                {"concurrency", concurrency}});
  if (b.todo.empty()) return plan;
  b.total = plan.fires;
  b.started = clock_.mono_now();
  backfills_.emplace(plan.id, std::move(b));
  backfill_next(plan.id);
  pump();
  rearm();
  return plan;
}

void Engine::backfill_next(std::uint64_t id) {
  // Found again after each start: a start may end runs at once (a spawn refused), and their
  // ends come back here, moving this backfill on (or ending it) meanwhile.
  for (;;) {
    const auto it = backfills_.find(id);
    if (it == backfills_.end()) return;
    Backfill& b = it->second;
    if (b.going.empty() && b.todo.empty()) {
      events_.emit(Severity::kInfo, EventKind::kBackfillFinished,
                   {{"backfill", id},
                    {"name", b.name},
                    {"fires", b.total},
                    {"duration_s", seconds(clock_.mono_now() - b.started)}});
      backfills_.erase(it);
      return;
    }
    if (static_cast<int>(b.going.size()) >= b.concurrency || b.todo.empty()) return;
    const auto [scheduled, attempt] = b.todo.front();
    b.todo.pop_front();
    if (b.job) {
      const JobId job = *b.job;
      if (jobs_[job.value].removed || backfill_fires_.contains({job.value, scheduled})) continue;
      // A fire of its instant, run whatever the job's overlap and pause say (as a trigger),
      // and never too late to start: its instant is past by design.
      DispatchPolicy policy = policy_of(*jobs_[job.value].spec);
      policy.overlap = OverlapPolicy::kAllow;
      policy.starting_deadline.reset();
      backfill_fires_[{job.value, scheduled}] = id;
      b.going.insert(scheduled);
      const Fire fire{job, scheduled, clock_.wall_now(), attempt};
      if (handle_fire(fire, &policy).outcome == OfferOutcome::kSkipped) {
        backfill_fires_.erase({job.value, scheduled});
        if (const auto again = backfills_.find(id); again != backfills_.end()) {
          again->second.going.erase(scheduled);
        }
      }
      continue;
    }
    const std::string name = b.name;
    auto run = start_workflow_run(name, scheduled, true);
    if (!run) {
      events_.emit(Severity::kWarn, EventKind::kBackfillFireFailed,
                   {{"backfill", id},
                    {"name", name},
                    {"scheduled", utc(scheduled)},
                    {"error", run.error().message}});
      continue;
    }
    // It may have ended at once (requirements not met): then it is not going on.
    const auto again = backfills_.find(id);
    if (again != backfills_.end() && live_workflows_.contains(run.value())) {
      backfill_workflow_runs_[run.value()] = {id, scheduled};
      again->second.going.insert(scheduled);
    }
  }
}

void Engine::backfill_fire_ended(std::uint64_t id, Instant scheduled) {
  const auto it = backfills_.find(id);
  if (it == backfills_.end()) return;
  it->second.going.erase(scheduled);
  backfill_next(id);
}

void Engine::workflow_run_ended(RunId id, const std::string& workflow) {
  start_queued_run(workflow);
  const auto it = backfill_workflow_runs_.find(id);
  if (it == backfill_workflow_runs_.end()) return;
  const auto [backfill, scheduled] = it->second;
  backfill_workflow_runs_.erase(it);
  backfill_fire_ended(backfill, scheduled);
}

void Engine::start_queued_run(const std::string& workflow) {
  RunId first{};
  for (const auto& [id, live] : live_workflows_) {
    if (live.record.workflow != workflow) continue;
    if (!live.queued) return;  // a run of it goes on: the queued one waits on
    if (first.value == 0) first = id;
  }
  if (first.value == 0) return;
  {
    LiveWorkflowRun& live = live_workflows_.at(first);
    live.queued = false;
    live.record.message.clear();
    live.record.state = WorkflowRunState::kRunning;
    if (live.spec->requirements.empty()) {
      advance_workflow(first);
      return;
    }
    live.waiting_since = clock_.mono_now();
  }
  check_requirements(first);
}

}  // namespace skedd
