// The control socket's workflow requests: list, trigger, runs and cancel. A workflow belongs
// to the user its steps run as; its runs are authorized against the owner recorded with them.
#include <algorithm>

#include "control/control.h"
#include "runtime/engine.h"
#include "skedd/time/timestamp.h"

namespace skedd {

using control::Failure;

namespace {

// The job spec a workflow's steps run as (its first step's), nullptr when not loaded.
std::shared_ptr<const JobSpec> first_step_spec(const Engine& engine, const WorkflowSpec& workflow) {
  if (workflow.steps.empty()) return nullptr;
  const auto info = engine.job(Engine::step_job_name(workflow.name, workflow.steps.front().name));
  return info ? info->spec : nullptr;
}

// The records of `runs`' step runs, and each step job's usual duration: the median of its
// last 20 successful runs. What cannot be read is left out.
void add_step_runs(Store& store, const std::vector<WorkflowRunRecord>& runs,
                   std::map<RunId, control::WorkflowReply::StepRun>& out) {
  std::map<std::string, std::optional<Duration>> usual;  // by step job
  for (const WorkflowRunRecord& run : runs) {
    for (const WorkflowStepRecord& step : run.steps) {
      if (step.run.value == 0) continue;
      RunQuery query(std::nullopt, std::nullopt, 1);
      query.run = step.run;
      query.outputs = true;
      auto found = store.runs(query);
      if (!found || found->empty()) continue;
      const std::string job = Engine::step_job_name(run.workflow, step.step);
      auto [it, fresh] = usual.try_emplace(job);
      if (fresh) {
        if (auto done = store.runs(RunQuery{job, RunState::kSucceeded, 20})) {
          std::vector<Duration> took;
          for (const RunRecord& r : done.value()) {
            if (r.ended) took.push_back(*r.ended - r.started);
          }
          if (!took.empty()) {
            std::nth_element(took.begin(), took.begin() + took.size() / 2, took.end());
            it->second = took[took.size() / 2];
          }
        }
      }
      out[step.run] = control::WorkflowReply::StepRun{std::move(found->front()), it->second};
    }
  }
}

Failure history_unreadable(const Error& error) {
  return {control::kStoreUnavailable, "reading the workflow runs: " + error.message};
}

}  // namespace

control::Answer<control::WorkflowReply> Control::on(const control::WorkflowRequest& request,
                                                    const Caller& caller) {
  using Action = control::WorkflowRequest::Action;
  control::WorkflowReply reply;
  reply.action = request.action;
  const auto visible = [&](const WorkflowSpec& w) {
    const auto spec = first_step_spec(engine_, w);
    return caller.admin || (spec && owns(caller, *spec));
  };
  switch (request.action) {
    case Action::kList:
      for (const Engine::WorkflowInfo& info : engine_.workflows()) {
        const WorkflowSpec& w = *info.spec;
        const auto spec = first_step_spec(engine_, w);
        if (!caller.admin && !(spec && owns(caller, *spec))) continue;
        control::WorkflowReply::Workflow out;
        out.name = w.name;
        if (w.schedule) {
          out.schedule = w.schedule->text;
          if (const auto job = engine_.job(Engine::schedule_job_name(w.name))) {
            out.next = job->next;
            out.paused = job->paused;
          }
        }
        // The user its steps run as (the workflow's `user`, when it sets one, is the same).
        out.user = spec && spec->options->user ? *spec->options->user : daemon_user_;
        out.overlap = to_string(w.overlap);
        out.defined_at = w.defined_at.to_string();
        for (const StepSpec& step : w.steps) {
          control::WorkflowReply::Step s{step.name, step.job, {}, to_string(step.when)};
          for (const std::size_t need : step.needs) s.needs.push_back(w.steps[need].name);
          out.steps.push_back(std::move(s));
        }
        out.running = info.running;
        out.version = w.version;
        reply.workflows.push_back(std::move(out));
      }
      return reply;
    case Action::kTrigger: {
      const auto info = engine_.workflow(request.workflow);
      if (!info || !visible(*info->spec)) {
        return Failure{control::kJobNotFound, "no workflow named \"" + request.workflow + "\""};
      }
      auto run = engine_.trigger_workflow(request.workflow, request.force);
      if (!run) {
        return Failure{
            run.error().code == ErrorCode::kNotFound ? control::kJobNotFound : control::kConflict,
            run.error().message};
      }
      reply.run = run.value();
      return reply;
    }
    case Action::kRuns:
    case Action::kCancel:
    case Action::kRetry:
    case Action::kPause:
    case Action::kResume: {
      WorkflowRunQuery query;
      if (!request.workflow.empty()) query.workflow = request.workflow;
      query.id = request.run;
      query.limit = request.action == Action::kRuns ? request.limit : 1;
      (void)store_.flush();  // a run just triggered or moved on is read as it is now
      auto runs = store_.workflow_runs(query);
      if (!runs) return history_unreadable(runs.error());
      // Another user reads the runs recorded as theirs only.
      std::erase_if(runs.value(),
                    [&](const WorkflowRunRecord& r) { return !caller.owns_run(r.owner); });
      if (request.action == Action::kRuns) {
        if (request.run && runs->empty()) {
          return Failure{control::kRunNotFound,
                         "no workflow run " + std::to_string(request.run->value)};
        }
        if (request.tree) {
          add_step_runs(store_, runs.value(), reply.step_runs);
          for (const WorkflowRunRecord& r : runs.value()) {
            const auto info = engine_.workflow(r.workflow);
            if (!info || reply.final_steps.contains(r.workflow)) continue;
            std::vector<bool> needed(info->spec->steps.size(), false);
            for (const StepSpec& s : info->spec->steps) {
              for (const std::size_t n : s.needs) needed[n] = true;
            }
            auto& finals = reply.final_steps[r.workflow];
            for (std::size_t i = 0; i < needed.size(); ++i) {
              if (!needed[i]) finals.insert(info->spec->steps[i].name);
            }
          }
        }
        reply.runs = std::move(runs.value());
        return reply;
      }
      if (runs->empty()) {
        return Failure{control::kRunNotFound,
                       "no workflow run " + std::to_string(request.run->value)};
      }
      if (request.action == Action::kRetry) {
        auto retried = engine_.retry_workflow_run(*request.run, request.from);
        if (!retried) {
          return Failure{retried.error().code == ErrorCode::kNotFound ? control::kInvalidArgument
                                                                      : control::kConflict,
                         retried.error().message};
        }
        reply.run = *request.run;
        return reply;
      }
      if (request.action != Action::kCancel) {
        if (!engine_.set_workflow_run_paused(*request.run, request.action == Action::kPause)) {
          return Failure{control::kConflict, "workflow run " + std::to_string(request.run->value) +
                                                 " is not going on (" +
                                                 to_string(runs->front().state) + ")"};
        }
        reply.run = *request.run;
        return reply;
      }
      if (!engine_.cancel_workflow_run(*request.run)) {
        return Failure{control::kConflict, "workflow run " + std::to_string(request.run->value) +
                                               " is not going on (" +
                                               to_string(runs->front().state) + ")"};
      }
      reply.run = *request.run;
      return reply;
    }
  }
  return Failure{control::kInvalidArgument, "unknown workflow action"};
}

control::Answer<control::BackfillReply> Control::on(const control::BackfillRequest& request,
                                                    const Caller& caller) {
  // Only the caller's own jobs and workflows (root: any).
  if (const auto info = engine_.workflow(request.name)) {
    const auto spec = first_step_spec(engine_, *info->spec);
    if (!caller.admin && !(spec && owns(caller, *spec))) {
      return Failure{control::kJobNotFound, "no job or workflow named \"" + request.name + "\""};
    }
  } else {
    auto found = visible_job(caller, request.name);
    if (auto* failure = std::get_if<Failure>(&found)) return *failure;
  }
  const auto instant = [](const char* flag, const std::string& text) -> Result<Instant> {
    auto t = parse_rfc3339(text);
    if (!t) {
      return Error::invalid_argument(std::string(flag) + " " + text + ": " + t.error().message +
                                     " (an RFC 3339 time such as 2026-12-01T02:00:00Z)");
    }
    return t.value();
  };
  auto from = instant("--from", request.from);
  if (!from) return Failure{control::kInvalidArgument, from.error().message};
  auto to = instant("--to", request.to);
  if (!to) return Failure{control::kInvalidArgument, to.error().message};
  auto plan = engine_.backfill(request.name, *from, *to, request.concurrency, request.rerun);
  if (!plan) {
    const ErrorCode code = plan.error().code;
    return Failure{code == ErrorCode::kNotFound          ? control::kJobNotFound
                   : code == ErrorCode::kInvalidArgument ? control::kInvalidArgument
                                                         : control::kConflict,
                   plan.error().message};
  }
  return control::BackfillReply{plan->id, plan->fires, plan->skipped};
}

}  // namespace skedd
