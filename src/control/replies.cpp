// The one place replies become JSON.
#include "skedd/control/replies.h"

#include "runtime/log_fields.h"
#include "skedd/time/timestamp.h"

namespace skedd::control {
namespace {

using nlohmann::json;

json time_or_null(const std::optional<Instant>& t) {
  return t ? json(utc(*t)) : json(nullptr);
}

template <typename T>
json array_of(const std::vector<T>& items) {
  json out = json::array();
  for (const T& item : items) out.push_back(encode(item));
  return out;
}

json encode_not_run(const NotRunRecord& nr) {
  return {{"state", to_string(nr.state)},
          {"reason", to_string(nr.reason)},
          {"first", utc(nr.first)},
          {"last", utc(nr.last)},
          {"count", nr.count}};
}

}  // namespace

json encode(const RunRecord& r) {
  json j{{"run", r.run.value},
         {"job", r.job},
         {"scheduled", utc(r.scheduled)},
         {"attempt", r.attempt},
         {"state", to_string(r.state)},
         {"started", utc(r.started)},
         {"ended", time_or_null(r.ended)},
         {"lateness_ms", millis(r.lateness)},
         {"log", r.log_path}};
  if (r.exit_code) j["exit_code"] = *r.exit_code;
  if (r.signal) j["signal"] = *r.signal;
  if (r.pid) j["pid"] = *r.pid;
  if (failed_to_start(r)) j["failed_to_start"] = true;
  if (!r.checkpoint.empty()) j["checkpoint"] = r.checkpoint;
  if (r.progress) {
    j["progress"] = *r.progress;
    j["progress_message"] = r.progress_message;
  }
  if (!r.message.empty()) j["message"] = r.message;
  if (r.frozen.count() > 0) j["frozen_s"] = seconds(r.frozen);
  if (!r.outputs.empty()) j["outputs"] = r.outputs;
  return j;
}

json encode(const StatusReply& r) {
  return {
      {"version", r.version},
      {"pid", r.pid},
      {"started", utc(r.started)},
      {"jobs", r.jobs},
      {"paused_jobs", r.paused_jobs},
      {"paused_all", r.paused_all},
      {"draining", r.draining},
      {"running", r.running},
      {"queued", r.queued},
      {"max_concurrent_runs", r.max_concurrent_runs},
      {"store", {{"ok", r.store.ok}, {"error", r.store.error}, {"unwritten", r.store.unwritten}}},
      {"warnings", r.warnings}};
}

json encode(const ListReply& r) {
  json jobs = json::array();
  for (const ListReply::Job& job : r.jobs) {
    json j{{"name", job.name},       {"schedule", job.schedule},
           {"zone", job.zone},       {"next", time_or_null(job.next)},
           {"paused", job.paused},   {"running", job.running},
           {"stalled", job.stalled}, {"last", nullptr},
           {"command", job.command}};
    if (job.last) {
      j["last"] = {{"run", job.last->run.value},
                   {"state", to_string(job.last->state)},
                   {"ended", time_or_null(job.last->ended)}};
    }
    jobs.push_back(std::move(j));
  }
  return {{"jobs", std::move(jobs)}, {"paused_all", r.paused_all}, {"skipped", r.skipped}};
}

json encode(const ShowReply& r) {
  const ShowReply::Definition& d = r.job;
  json job{{"name", d.name},         {"schedule", d.schedule},
           {"zone", d.zone},         {"command", d.command},
           {"user", d.user},         {"overlap", d.overlap},
           {"priority", d.priority}, {"pool", d.pool},
           {"retries", d.retries},   {"defined_at", d.defined_at}};
  if (d.handler) job["handler"] = *d.handler;
  if (d.params) job["params"] = *d.params;
  job["settings"] = d.settings;
  job["command_line"] = d.command_line;
  json next = json::array();
  for (const Instant t : r.next) next.push_back(utc(t));
  json not_run = json::array();
  for (const NotRunRecord& nr : r.not_run) not_run.push_back(encode_not_run(nr));
  return {{"job", std::move(job)},          {"api", r.api},
          {"api_shadowed", r.api_shadowed}, {"paused", r.paused},
          {"paused_all", r.paused_all},     {"running", r.running},
          {"stalled", r.stalled},           {"next", std::move(next)},
          {"runs", array_of(r.runs)},       {"not_run", std::move(not_run)}};
}

json encode(const PauseReply& r) {
  if (r.run) return {{"run", r.run->value}, {"paused", r.paused}};
  if (r.all) return {{"paused_all", r.paused}};
  return {{"job", r.job}, {"paused", r.paused}};
}

json encode(const TriggerReply& r) {
  return {{"job", r.job}, {"run", r.run.value}, {"queued", r.queued}};
}

json encode(const CancelReply& r) {
  return {{"run", r.run.value}, {"cancelling", true}};
}

json encode(const SendReply& r) {
  return {{"run", r.run.value}, {"sent", true}};
}

json encode(const RunReply& r) {
  return {{"run", encode(r.run)}};
}

json encode(const RunsReply& r) {
  return {{"runs", array_of(r.runs)}};
}

json encode(const LogsReply& r) {
  return {{"run", r.run.value},          {"data", r.data},  {"offset", r.offset}, {"size", r.size},
          {"state", to_string(r.state)}, {"ended", r.ended}};
}

json encode(const DrainReply& r) {
  return {{"draining", true}, {"running", r.running}};
}

json encode(const ReloadReply& r) {
  return {{"summary", r.summary}};
}

json encode(const SetReply& r) {
  return {{"max_concurrent_runs", r.max_concurrent_runs}};
}

json encode(const AddReply& r) {
  return {{"job", r.job}, {"version", r.version}};
}

json encode(const VersionsReply& r) {
  json versions = json::array();
  for (const VersionsReply::Version& v : r.versions) {
    versions.push_back({{"version", v.version},
                        {"definition", v.definition},
                        {"normalized", v.normalized},
                        {"removed", v.definition.empty()}});
  }
  return {{"job", r.job}, {"versions", std::move(versions)}, {"current", r.current}};
}

json encode(const RemoveReply& r) {
  return {{"job", r.job}, {"removed", true}};
}

json encode(const BackfillReply& r) {
  return {{"backfill", r.backfill}, {"fires", r.fires}, {"skipped", r.skipped}};
}

json encode(const CrontabReply& r) {
  if (r.text) return {{"user", r.user}, {"text", *r.text}};
  if (r.removed) return {{"user", r.user}, {"removed", true}};
  return {{"user", r.user}, {"installed", r.installed}, {"jobs", r.jobs}, {"warnings", r.warnings}};
}

json encode(const WorkflowReply& r) {
  using Action = WorkflowRequest::Action;
  if (r.action == Action::kTrigger) return {{"run", r.run.value}};
  if (r.action == Action::kCancel) return {{"run", r.run.value}, {"cancelled", true}};
  if (r.action == Action::kRetry) return {{"run", r.run.value}, {"retried", true}};
  if (r.action == Action::kPause || r.action == Action::kResume) {
    return {{"run", r.run.value}, {"paused", r.action == Action::kPause}};
  }
  if (r.action == Action::kList) {
    json workflows = json::array();
    for (const WorkflowReply::Workflow& w : r.workflows) {
      json steps = json::array();
      for (const WorkflowReply::Step& s : w.steps) {
        steps.push_back({{"name", s.name}, {"job", s.job}, {"needs", s.needs}, {"when", s.when}});
      }
      workflows.push_back({{"name", w.name},
                           {"schedule", w.schedule.empty() ? json(nullptr) : json(w.schedule)},
                           {"next", time_or_null(w.next)},
                           {"paused", w.paused},
                           {"user", w.user},
                           {"overlap", w.overlap},
                           {"defined_at", w.defined_at},
                           {"steps", std::move(steps)},
                           {"running", w.running},
                           {"version", w.version}});
    }
    return {{"workflows", std::move(workflows)}};
  }
  json runs = json::array();
  for (const WorkflowRunRecord& run : r.runs) {
    json steps = json::array();
    std::size_t settled = 0;
    for (const WorkflowStepRecord& s : run.steps) {
      json step{{"step", s.step}, {"state", to_string(s.state)}};
      if (s.reason != SkipReason::kNone) step["reason"] = to_string(s.reason);
      if (s.run.value != 0) step["run"] = s.run.value;
      if (const auto d = r.step_runs.find(s.run); s.run.value != 0 && d != r.step_runs.end()) {
        const RunRecord& sr = d->second.run;
        step["run_state"] = to_string(sr.state);
        step["attempt"] = sr.attempt;
        step["started"] = utc(sr.started);
        step["ended"] = time_or_null(sr.ended);
        if (sr.ended) step["duration_s"] = seconds(*sr.ended - sr.started);
        if (d->second.usual) step["usual_s"] = seconds(*d->second.usual);
      }
      if (s.state != StepState::kPending && s.state != StepState::kRunning) ++settled;
      steps.push_back(std::move(step));
    }
    json j{{"run", run.id.value},
           {"workflow", run.workflow},
           {"scheduled", utc(run.scheduled)},
           {"state", to_string(run.state)},
           {"started", utc(run.started)},
           {"ended", time_or_null(run.ended)},
           {"settled", settled},
           {"total", run.steps.size()},
           {"steps", std::move(steps)}};
    if (!run.message.empty()) j["message"] = run.message;
    if (!run.version.empty()) j["version"] = run.version;
    // Its outputs: those of its final steps that ran.
    if (const auto finals = r.final_steps.find(run.workflow); finals != r.final_steps.end()) {
      json outputs = json::object();
      for (const WorkflowStepRecord& s : run.steps) {
        const auto d = r.step_runs.find(s.run);
        if (s.run.value == 0 || d == r.step_runs.end() || !finals->second.contains(s.step)) {
          continue;
        }
        for (const auto& [key, value] : d->second.run.outputs) outputs[s.step][key] = value;
      }
      j["outputs"] = std::move(outputs);
    }
    runs.push_back(std::move(j));
  }
  return {{"runs", std::move(runs)}};
}

}  // namespace skedd::control
