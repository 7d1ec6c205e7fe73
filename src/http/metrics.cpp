#include "http/metrics.h"

#include <charconv>
#include <chrono>

#include "skedd/time/timestamp.h"

namespace skedd::http {
namespace {

bool is_failure(const std::string& state) {
  return state == "failed" || state == "timed_out" || state == "killed";
}

double unix_seconds(Instant t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

// A number as Prometheus reads it: integers without a fraction, others with enough digits.
std::string number(double v) {
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);  // the shortest exact form
  return ec == std::errc() ? std::string(buf, end) : "NaN";
}

class Writer {
 public:
  /// The # HELP and # TYPE lines of a family, written once before its first sample.
  void family(const char* name, const char* type, const char* help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  void sample(const std::string& name, const std::string& labels, double v) {
    out_ += name;
    if (!labels.empty()) {
      out_ += '{';
      out_ += labels;
      out_ += '}';
    }
    out_ += ' ';
    out_ += number(v);
    out_ += '\n';
  }
  template <std::size_t N>
  void histogram(const std::string& name, const std::string& labels, const Histogram<N>& h,
                 const std::array<double, N>& bounds) {
    const std::string sep = labels.empty() ? "" : labels + ",";
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < N; ++i) {
      cumulative += h.counts[i];
      sample(name + "_bucket", sep + "le=\"" + number(bounds[i]) + "\"",
             static_cast<double>(cumulative));
    }
    cumulative += h.counts[N];
    sample(name + "_bucket", sep + "le=\"+Inf\"", static_cast<double>(cumulative));
    sample(name + "_sum", labels, h.sum);
    sample(name + "_count", labels, static_cast<double>(cumulative));
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

// The fire's scheduled instant, if it is the job's first since the start.
void note_first_fire(JobCounters& c, const nlohmann::json& f) {
  if (c.first_fire) return;
  if (const auto at = f.find("scheduled"); at != f.end() && at->is_string()) {
    if (auto t = parse_rfc3339(at->get_ref<const std::string&>())) c.first_fire = unix_seconds(*t);
  }
}

std::string job_label(const std::string& job) {
  return "job=\"" + label_value(job) + "\"";
}

}  // namespace

template <std::size_t N>
void Histogram<N>::observe(const std::array<double, N>& bounds, double v) {
  std::size_t i = 0;
  while (i < N && v > bounds[i]) ++i;
  ++counts[i];
  sum += v;
}

Duration expected_takes(const JobSpec& spec) {
  const JobOptions& o = *spec.options;
  return o.expect_duration.value_or(o.hard_timeout.value_or(std::chrono::hours(1))) +
         o.expect_grace;
}

std::optional<Instant> success_deadline(const JobSpec& spec, Instant next, Instant since) {
  const Duration takes = expected_takes(spec);
  if (const auto* every = std::get_if<EverySchedule>(&spec.schedule->kind)) {
    // Fires are next + k * interval for every integer k: the first after `since`.
    const Duration interval = every->interval;
    if (interval <= Duration::zero()) return std::nullopt;
    const auto k = (since - next) / interval;  // toward zero
    Instant first = next + k * interval;
    while (first <= since) first += interval;
    while (first - interval > since) first -= interval;
    return first + takes;
  }
  if (spec.schedule->is_at()) {
    return next > since ? std::optional<Instant>(next + takes) : std::nullopt;
  }
  const auto fire = spec.schedule->next_after(since, next);
  if (!fire) return std::nullopt;
  return fire->at + takes;
}

std::string label_value(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

bool Metrics::counted(EventKind kind) {
  switch (kind) {
    case EventKind::kRunStarted:
    case EventKind::kRunFinished:
    case EventKind::kFireNotRun:
    case EventKind::kRunResumed:
    case EventKind::kRunAdopted:
    case EventKind::kClockSet:
    case EventKind::kStoreUnwritable:
    case EventKind::kStoreFlushFailed:
    case EventKind::kStoreReadFailed:
    case EventKind::kPruneFailed:
    case EventKind::kJobRemoved:
    case EventKind::kApiJobRemoved:
    case EventKind::kHookFired:
    case EventKind::kHookCoalesced:
    case EventKind::kWorkflowRunFinished:
      return true;
    default:
      return false;
  }
}

bool Metrics::wants(EventKind kind, Severity severity) const {
  return counted(kind) || next_.wants(kind, severity);
}

JobCounters& Metrics::of(const nlohmann::json& fields) {
  const auto job = fields.find("job");
  static const std::string none;
  return jobs_[job != fields.end() && job->is_string() ? job->get_ref<const std::string&>() : none];
}

void Metrics::emit(const Event& event) {
  const nlohmann::json& f = event.fields;
  switch (event.kind) {
    case EventKind::kRunStarted: {
      JobCounters& c = of(f);
      ++c.started;
      note_first_fire(c, f);
      if (const auto late = f.find("lateness_ms"); late != f.end() && late->is_number()) {
        c.lateness.observe(kLatenessBounds, std::max(0.0, late->get<double>() / 1000));
      }
      break;
    }
    case EventKind::kRunFinished: {
      JobCounters& c = of(f);
      const std::string state = f.value("state", "unknown");
      ++c.runs[state];
      if (const auto d = f.find("duration_s"); d != f.end() && d->is_number()) {
        c.duration.observe(kDurationBounds, std::max(0.0, d->get<double>()));
      }
      double at =
          unix_seconds(std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now()));
      if (const auto ended = f.find("ended"); ended != f.end() && ended->is_string()) {
        if (auto t = parse_rfc3339(ended->get_ref<const std::string&>())) at = unix_seconds(*t);
      }
      if (state == "succeeded") c.last_success = at;
      if (is_failure(state)) c.last_failure = at;
      break;
    }
    case EventKind::kFireNotRun:
      note_first_fire(of(f), f);
      of(f).not_run[{f.value("state", "skipped"), f.value("reason", "unknown")}] +=
          f.value("count", std::uint64_t{1});
      break;
    case EventKind::kHookFired:
    case EventKind::kHookCoalesced:
      ++of(f).hooks[{f.value("hook", "unknown"),
                     event.kind == EventKind::kHookFired ? "fired" : "coalesced"}];
      break;
    case EventKind::kWorkflowRunFinished: {
      WorkflowCounters& c = workflows_[f.value("workflow", "")];
      const std::string state = f.value("state", "unknown");
      ++c.runs[state];
      const double now =
          unix_seconds(std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now()));
      if (state == "succeeded") c.last_success = now;
      if (state == "failed" || state == "not_run") c.last_failure = now;
      break;
    }
    case EventKind::kRunResumed:
      ++resumed_;
      break;
    case EventKind::kRunAdopted:
      ++adopted_;
      break;
    case EventKind::kClockSet:
      ++clock_jumps_;
      break;
    case EventKind::kStoreUnwritable:
    case EventKind::kStoreFlushFailed:
    case EventKind::kStoreReadFailed:
    case EventKind::kPruneFailed:
      ++store_errors_;
      break;
    case EventKind::kJobRemoved:
    case EventKind::kApiJobRemoved:
      // Its series end with it (a job of the name added later starts from 0).
      if (const auto job = f.find("job"); job != f.end() && job->is_string()) {
        jobs_.erase(job->get_ref<const std::string&>());
      }
      break;
    default:
      break;
  }
  if (next_.wants(event.kind, event.severity)) next_.emit(event);
}

void Metrics::seed(Store& store) {
  const std::pair<std::vector<RunState>, std::optional<double> JobCounters::*> kinds[] = {
      {{RunState::kSucceeded}, &JobCounters::last_success},
      {{RunState::kFailed, RunState::kTimedOut, RunState::kKilled}, &JobCounters::last_failure}};
  for (const auto& [states, field] : kinds) {
    auto latest = store.latest_runs_ended_as(states);
    if (!latest) continue;  // the timestamps start unknown, as for a job that never ran
    for (const auto& [job, run] : latest.value()) {
      if (run.ended) jobs_[job].*field = unix_seconds(*run.ended);
    }
  }
  // Workflows: from their newest runs (a workflow whose last success is older than its
  // newest 10,000 runs of all workflows starts unknown).
  WorkflowRunQuery query;
  query.limit = 10'000;
  if (auto runs = store.workflow_runs(query)) {
    for (const WorkflowRunRecord& r : runs.value()) {
      if (!r.ended) continue;
      WorkflowCounters& c = workflows_[r.workflow];
      if (r.state == WorkflowRunState::kSucceeded && !c.last_success) {
        c.last_success = unix_seconds(*r.ended);
      }
      if ((r.state == WorkflowRunState::kFailed || r.state == WorkflowRunState::kNotRun) &&
          !c.last_failure) {
        c.last_failure = unix_seconds(*r.ended);
      }
    }
  }
}

std::optional<double> Metrics::deadline_of(const Engine& engine,
                                           const Engine::JobInfo& info) const {
  if (info.paused || engine.paused_all() || !info.next) return std::nullopt;
  const auto it = jobs_.find(info.spec->name);
  const JobCounters* c = it == jobs_.end() ? nullptr : &it->second;
  if (c == nullptr || !c->last_success) {
    // Never succeeded: counted from its first fire since skedd started (its next one, when
    // it has not fired yet).
    const double takes = std::chrono::duration<double>(expected_takes(*info.spec)).count();
    return (c != nullptr && c->first_fire ? *c->first_fire : unix_seconds(*info.next)) + takes;
  }
  const auto deadline = success_deadline(*info.spec, *info.next,
                                         Instant(std::chrono::duration_cast<Duration>(
                                             std::chrono::duration<double>(*c->last_success))));
  if (!deadline) return std::nullopt;
  return unix_seconds(*deadline);
}

const JobCounters* Metrics::job(const std::string& name) const {
  const auto it = jobs_.find(name);
  return it == jobs_.end() ? nullptr : &it->second;
}

std::string Metrics::render(const Engine& engine, const Viewer& viewer,
                            const ScrapeContext& ctx) const {
  Writer w;
  w.family("skedd_build_info", "gauge", "The skedd version serving these metrics (always 1).");
  w.sample("skedd_build_info", "version=\"" + label_value(ctx.version) + "\"", 1);
  std::vector<Engine::JobInfo> jobs;
  std::size_t dropped = 0;
  for (Engine::JobInfo& info : engine.jobs()) {
    if (!viewer.admin && !(viewer.sees && viewer.sees(*info.spec))) continue;
    if (jobs.size() >= ctx.max_jobs) {
      ++dropped;
      continue;
    }
    jobs.push_back(std::move(info));
  }
  if (viewer.admin) {
    const Engine::Counts counts = engine.counts();
    w.family("skedd_start_time_seconds", "gauge", "When skedd started, in Unix seconds.");
    w.sample("skedd_start_time_seconds", "", ctx.started_at);
    w.family("skedd_jobs", "gauge", "Jobs loaded.");
    w.sample("skedd_jobs", "", static_cast<double>(counts.jobs));
    w.family("skedd_max_concurrent_runs", "gauge", "Run slots ([daemon] max_concurrent_runs).");
    w.sample("skedd_max_concurrent_runs", "", counts.max_concurrent_runs);
    w.family("skedd_ready_queue_depth", "gauge",
             "Fires waiting for a run slot, by pool (\"\": no pool).");
    const auto ready = engine.ready_by_pool();
    for (const auto& [pool, n] : ready) {
      w.sample("skedd_ready_queue_depth", "pool=\"" + label_value(pool) + "\"",
               static_cast<double>(n));
    }
    // A pool's jobs' lateness histograms, summed: how long its fires waited from due to start.
    std::map<std::string, Histogram<kLatenessBounds.size()>> waits;
    for (const auto& [pool, n] : ready) waits.try_emplace(pool);
    for (const auto& [name, c] : jobs_) {
      const auto info = engine.job(name);
      if (!info) continue;
      auto& h = waits[info->spec->options->pool];
      for (std::size_t i = 0; i < h.counts.size(); ++i) h.counts[i] += c.lateness.counts[i];
      h.sum += c.lateness.sum;
    }
    w.family("skedd_run_queue_wait_seconds", "histogram",
             "How long fires of the pool waited from their due time to their run's start.");
    for (const auto& [pool, h] : waits) {
      w.histogram("skedd_run_queue_wait_seconds", "pool=\"" + label_value(pool) + "\"", h,
                  kLatenessBounds);
    }
    w.family("skedd_runs_stalled", "gauge",
             "Running runs silent for their stall_timeout (no control line, no output).");
    w.sample("skedd_runs_stalled", "", counts.stalled);
    w.family("skedd_paused_all", "gauge", "1 while every job is paused (skedctl pause --all).");
    w.sample("skedd_paused_all", "", engine.paused_all() ? 1 : 0);
    w.family("skedd_draining", "gauge", "1 while skedd starts no runs (skedctl drain).");
    w.sample("skedd_draining", "", engine.draining() ? 1 : 0);
    w.family("skedd_runs_resumed_total", "counter", "Runs resumed from a checkpoint.");
    w.sample("skedd_runs_resumed_total", "", static_cast<double>(resumed_));
    w.family("skedd_runs_adopted_total", "counter",
             "Runs left by an earlier skedd and adopted by this one.");
    w.sample("skedd_runs_adopted_total", "", static_cast<double>(adopted_));
    w.family("skedd_clock_jumps_total", "counter", "Steps of the wall clock skedd noticed.");
    w.sample("skedd_clock_jumps_total", "", static_cast<double>(clock_jumps_));
    w.family("skedd_store_errors_total", "counter",
             "Failed commits, reads and prunes of the state database.");
    w.sample("skedd_store_errors_total", "", static_cast<double>(store_errors_));
    w.family("skedd_store_healthy", "gauge", "1 while the state database commits.");
    w.sample("skedd_store_healthy", "", ctx.store.ok ? 1 : 0);
    w.family("skedd_store_unwritten", "gauge", "Writes queued and not yet committed.");
    w.sample("skedd_store_unwritten", "", static_cast<double>(ctx.store.unwritten));
    w.family("skedd_store_commit_seconds", "histogram",
             "How long each commit of the state database took (its writes, commit and sync).");
    Histogram<kCommitBounds.size()> commits;
    commits.counts = ctx.store.commits.counts;
    commits.sum = ctx.store.commits.sum;
    w.histogram("skedd_store_commit_seconds", "", commits, kCommitBounds);
    w.family("skedd_loop_lag_seconds", "gauge",
             "How long this scrape waited for skedd's event loop.");
    w.sample("skedd_loop_lag_seconds", "", ctx.loop_lag);
  }
  w.family("skedd_metrics_jobs_dropped", "gauge",
           "Jobs without series: beyond [http] metrics_max_jobs.");
  w.sample("skedd_metrics_jobs_dropped", "", static_cast<double>(dropped));

  w.family("skedd_job_info", "gauge", "A loaded job (always 1) and its settings.");
  for (const Engine::JobInfo& info : jobs) {
    const JobSpec& spec = *info.spec;
    w.sample("skedd_job_info",
             job_label(spec.name) + ",schedule=\"" + label_value(spec.schedule->text) +
                 "\",timezone=\"" + label_value(spec.zone.name()) + "\",pool=\"" +
                 label_value(spec.options->pool) + "\",overlap=\"" +
                 to_string(spec.options->overlap) + "\"",
             1);
  }
  w.family("skedd_job_paused", "gauge", "1 while the job is paused.");
  for (const Engine::JobInfo& info : jobs) {
    w.sample("skedd_job_paused", job_label(info.spec->name), info.paused ? 1 : 0);
  }
  w.family("skedd_job_next_fire_timestamp_seconds", "gauge",
           "The job's next scheduled fire, in Unix seconds (absent: none).");
  for (const Engine::JobInfo& info : jobs) {
    if (info.next) {
      w.sample("skedd_job_next_fire_timestamp_seconds", job_label(info.spec->name),
               unix_seconds(*info.next));
    }
  }
  const auto per_job = [&](const char* name, const char* type, const char* help, auto&& each) {
    w.family(name, type, help);
    for (const Engine::JobInfo& info : jobs) {
      const auto it = jobs_.find(info.spec->name);
      if (it != jobs_.end()) each(info, it->second);
    }
  };
  per_job("skedd_job_last_success_timestamp_seconds", "gauge",
          "When the job's latest successful run ended, in Unix seconds.",
          [&](const Engine::JobInfo& info, const JobCounters& c) {
            if (c.last_success) {
              w.sample("skedd_job_last_success_timestamp_seconds", job_label(info.spec->name),
                       *c.last_success);
            }
          });
  per_job("skedd_job_last_failure_timestamp_seconds", "gauge",
          "When the job's latest failed, timed out or killed run ended, in Unix seconds.",
          [&](const Engine::JobInfo& info, const JobCounters& c) {
            if (c.last_failure) {
              w.sample("skedd_job_last_failure_timestamp_seconds", job_label(info.spec->name),
                       *c.last_failure);
            }
          });
  w.family("skedd_job_success_deadline_timestamp_seconds", "gauge",
           "When the job must have succeeded by: the first fire after its last success (or "
           "after skedd started), plus expect_duration and expect_grace; absent while paused "
           "or without a next fire. Alert on time() > this.");
  for (const Engine::JobInfo& info : jobs) {
    if (const auto deadline = deadline_of(engine, info)) {
      w.sample("skedd_job_success_deadline_timestamp_seconds", job_label(info.spec->name),
               *deadline);
    }
  }
  std::map<std::string, int> running_by_pool;
  for (const Engine::JobInfo& info : jobs)
    running_by_pool[info.spec->options->pool] += info.running;
  w.family("skedd_runs_running", "gauge", "Runs running, by pool (\"\": no pool).");
  for (const auto& [pool, n] : running_by_pool) {
    w.sample("skedd_runs_running", "pool=\"" + label_value(pool) + "\"", n);
  }
  per_job("skedd_runs_total", "counter", "Runs ended since skedd started, by final state.",
          [&](const Engine::JobInfo& info, const JobCounters& c) {
            for (const auto& [result, n] : c.runs) {
              w.sample("skedd_runs_total",
                       job_label(info.spec->name) + ",result=\"" + label_value(result) + "\"",
                       static_cast<double>(n));
            }
          });
  per_job("skedd_fires_total", "counter",
          "Fires since skedd started: outcome started, or skipped or missed with the reason.",
          [&](const Engine::JobInfo& info, const JobCounters& c) {
            w.sample("skedd_fires_total",
                     job_label(info.spec->name) + ",outcome=\"started\",reason=\"\"",
                     static_cast<double>(c.started));
            for (const auto& [key, n] : c.not_run) {
              w.sample("skedd_fires_total",
                       job_label(info.spec->name) + ",outcome=\"" + label_value(key.first) +
                           "\",reason=\"" + label_value(key.second) + "\"",
                       static_cast<double>(n));
            }
          });
  per_job("skedd_hooks_total", "counter",
          "The job's alert hooks fired, and those coalesced (not run: one still ran).",
          [&](const Engine::JobInfo& info, const JobCounters& c) {
            for (const auto& [key, n] : c.hooks) {
              w.sample("skedd_hooks_total",
                       job_label(info.spec->name) + ",hook=\"" + label_value(key.first) +
                           "\",outcome=\"" + key.second + "\"",
                       static_cast<double>(n));
            }
          });
  per_job("skedd_fire_lateness_seconds", "histogram",
          "How long after its due time a fire's run started.",
          [&](const Engine::JobInfo& info, const JobCounters& c) {
            w.histogram("skedd_fire_lateness_seconds", job_label(info.spec->name), c.lateness,
                        kLatenessBounds);
          });
  per_job("skedd_run_duration_seconds", "histogram", "How long the job's ended runs ran.",
          [&](const Engine::JobInfo& info, const JobCounters& c) {
            w.histogram("skedd_run_duration_seconds", job_label(info.spec->name), c.duration,
                        kDurationBounds);
          });
  // Workflows the viewer sees: those whose steps run as a user the viewer may see.
  std::vector<Engine::WorkflowInfo> workflows;
  for (Engine::WorkflowInfo& info : engine.workflows()) {
    const auto first =
        engine.job(Engine::step_job_name(info.spec->name, info.spec->steps.front().name));
    if (viewer.admin || (first && viewer.sees && viewer.sees(*first->spec))) {
      workflows.push_back(std::move(info));
    }
  }
  static const WorkflowCounters kNone;
  const auto counters = [&](const std::string& name) -> const WorkflowCounters& {
    const auto it = workflows_.find(name);
    return it == workflows_.end() ? kNone : it->second;
  };
  const auto label = [](const std::string& name) {
    return "workflow=\"" + label_value(name) + "\"";
  };
  if (!workflows.empty()) {
    w.family("skedd_workflow_runs_going_on", "gauge",
             "The workflow's runs going on (pending, running or paused).");
    for (const auto& info : workflows) {
      w.sample("skedd_workflow_runs_going_on", label(info.spec->name),
               static_cast<double>(info.running));
    }
    w.family("skedd_workflow_runs_total", "counter",
             "The workflow's runs that ended since skedd started, by state.");
    for (const auto& info : workflows) {
      for (const char* state : {"succeeded", "failed", "cancelled", "not_run"}) {
        const auto& runs = counters(info.spec->name).runs;
        const auto n = runs.find(state);
        w.sample("skedd_workflow_runs_total", label(info.spec->name) + ",state=\"" + state + "\"",
                 n == runs.end() ? 0.0 : static_cast<double>(n->second));
      }
    }
    w.family("skedd_workflow_last_success_timestamp_seconds", "gauge",
             "When the workflow's last successful run ended (Unix seconds).");
    for (const auto& info : workflows) {
      if (const auto t = counters(info.spec->name).last_success) {
        w.sample("skedd_workflow_last_success_timestamp_seconds", label(info.spec->name), *t);
      }
    }
    w.family("skedd_workflow_last_failure_timestamp_seconds", "gauge",
             "When the workflow's last failed (or not run) run ended (Unix seconds).");
    for (const auto& info : workflows) {
      if (const auto t = counters(info.spec->name).last_failure) {
        w.sample("skedd_workflow_last_failure_timestamp_seconds", label(info.spec->name), *t);
      }
    }
  }
  return w.take();
}

template struct Histogram<kLatenessBounds.size()>;

}  // namespace skedd::http
