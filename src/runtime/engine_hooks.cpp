// The engine's alert hooks: on_failure, on_success, on_missed and on_stall, each a job of its
// own ("<job>:on_failure") fired with the context of what it is about.
#include "runtime/engine.h"
#include "runtime/log_fields.h"
#include "skedd/time/timestamp.h"

namespace skedd {
namespace {

using nlohmann::json;

constexpr std::array<HookKind, kHookKinds> kAllHooks = {HookKind::kFailure, HookKind::kSuccess,
                                                        HookKind::kMissed, HookKind::kStall};

std::string hook_job_name(const std::string& about, HookKind kind) {
  return about + ":" + to_string(kind);
}

// The job of `about`'s hook `kind`, or nullptr when it has none.
std::shared_ptr<const JobSpec> hook_spec(const JobSpec& about, HookKind kind) {
  const JobOptions& of = *about.options;
  const auto i = static_cast<std::size_t>(kind);
  if (of.hook_of || of.hooks[i].empty()) return nullptr;
  JobSpec hook;
  hook.name = hook_job_name(about.name, kind);
  hook.command = of.hooks[i];
  // Never due by itself: fired by the engine only (or by `skedctl trigger`, to try it).
  Schedule schedule{AtSchedule{Instant{}}, std::string(to_string(kind)) + " of " + about.name};
  hook.schedule = SharedValue<Schedule>(std::move(schedule));
  hook.zone = about.zone;
  hook.defined_at = about.defined_at;
  // As the job's user, group, directory, environment and limits; its own timeout; no pool
  // (an alert does not wait behind the runs it is about); nothing that would run it twice.
  JobOptions options = of;
  options.handler.clear();
  options.shell = of.hook_shell[i];
  options.hooks = {};
  options.hook_shell = {};
  options.hook_of = kind;
  options.hook_context = {{"SKEDD_HOOK", to_string(kind)}, {"SKEDD_JOB", about.name}};
  options.pool.clear();
  options.soft_timeout.reset();
  options.hard_timeout = of.hook_timeout;
  options.retries = 0;
  options.overlap = OverlapPolicy::kSkip;
  options.catch_up = CatchUp::kNone;
  options.starting_deadline.reset();
  options.jitter = Duration{0};
  options.on_interrupt = OnInterrupt::kFail;
  options.on_unknown_exit = OnUnknownExit::kFail;
  options.mail_to.reset();
  options.expect_duration.reset();
  options.stall_timeout.reset();
  options.on_stall_kill = false;
  hook.options = SharedValue<JobOptions>(std::move(options));
  return std::make_shared<const JobSpec>(std::move(hook));
}

bool is_failure(RunState state) {
  return state == RunState::kFailed || state == RunState::kTimedOut || state == RunState::kKilled ||
         state == RunState::kStalled;
}

}  // namespace

void Engine::add_hook_specs(const JobSpec& spec, std::vector<SpecPtr>& specs) {
  for (HookKind kind : kAllHooks) {
    if (auto hook = hook_spec(spec, kind)) specs.push_back(std::move(hook));
  }
}

void Engine::sync_hook_jobs(const JobSpec* about, const std::string& name) {
  for (HookKind kind : kAllHooks) {
    SpecPtr wanted = about != nullptr ? hook_spec(*about, kind) : nullptr;
    const std::string hook = hook_job_name(name, kind);
    const std::optional<JobId> loaded = job_by_name_.find(hook);
    if (loaded && (!wanted || !same_owner(*jobs_[loaded->value].spec, *wanted))) {
      remove_job(hook, *loaded);
      job_by_name_.erase(hook);
      if (wanted) add_job(std::move(wanted));
    } else if (loaded) {
      if (!same_definition(*jobs_[loaded->value].spec, *wanted)) change_job(*loaded, wanted);
    } else if (wanted) {
      retire_identity(hook);
      add_job(std::move(wanted));
    }
  }
}

void Engine::hooks_of_end(const RunOutcome& run, bool retried) {
  const JobOptions& options = *run.spec->options;
  if (options.hook_of || shutting_down_) return;
  HookKind kind;
  if (run.state == RunState::kSucceeded) {
    kind = HookKind::kSuccess;
  } else if (is_failure(run.state) && !retried && run.retryable) {
    // Not retryable: its exit is unknown, which a restart of skedd did (on_unknown_exit).
    kind = HookKind::kFailure;
  } else {
    return;  // retried, cancelled, interrupted by a restart of skedd, skipped
  }
  if (options.hooks[static_cast<std::size_t>(kind)].empty()) return;
  std::map<std::string, std::string> context{
      {"SKEDD_HOOK_RUN_ID", std::to_string(run.run.value)},
      {"SKEDD_STATE", to_string(run.state)},
      {"SKEDD_SCHEDULED_AT", utc(run.fire.scheduled)},
      {"SKEDD_ATTEMPT", std::to_string(run.fire.attempt)},
  };
  if (run.exit_code) context["SKEDD_EXIT_CODE"] = std::to_string(*run.exit_code);
  if (run.signal) context["SKEDD_SIGNAL"] = signal_name(*run.signal);
  if (!run.log_path.empty()) context["SKEDD_LOG"] = run.log_path;
  if (!run.message.empty()) context["SKEDD_REASON"] = run.message;
  queue_hook(*run.spec, kind, std::move(context));
}

void Engine::hooks_of_stall(const RunOutcome& run) {
  if (run.spec->options->hooks[static_cast<std::size_t>(HookKind::kStall)].empty()) return;
  std::map<std::string, std::string> context{
      {"SKEDD_HOOK_RUN_ID", std::to_string(run.run.value)},
      {"SKEDD_STATE", "stalled"},
      {"SKEDD_SCHEDULED_AT", utc(run.fire.scheduled)},
      {"SKEDD_ATTEMPT", std::to_string(run.fire.attempt)},
      {"SKEDD_REASON", run.message},
  };
  if (!run.log_path.empty()) context["SKEDD_LOG"] = run.log_path;
  queue_hook(*run.spec, HookKind::kStall, std::move(context));
}

void Engine::hooks_of_not_run(JobId job, RunState state, NotRunReason reason, Instant scheduled,
                              std::uint64_t count) {
  const JobSpec& spec = *jobs_[job.value].spec;
  if (spec.options->hooks[static_cast<std::size_t>(HookKind::kMissed)].empty()) return;
  if (reason == NotRunReason::kPaused || shutting_down_) return;
  queue_hook(spec, HookKind::kMissed,
             {{"SKEDD_STATE", to_string(state)},
              {"SKEDD_REASON", to_string(reason)},
              {"SKEDD_SCHEDULED_AT", utc(scheduled)},
              {"SKEDD_COUNT", std::to_string(count)}});
}

void Engine::queue_hook(const JobSpec& about, HookKind kind,
                        std::map<std::string, std::string> context) {
  const std::optional<JobId> hook = job_by_name_.find(hook_job_name(about.name, kind));
  if (!hook) return;  // its job is being replaced by a reload
  auto [it, added] = hooks_queued_.try_emplace(hook->value);
  if (!added) {
    events_.emit(Severity::kInfo, EventKind::kHookCoalesced,
                 {{"job", about.name},
                  {"hook", to_string(kind)},
                  {"why", "another came before it was fired"}});
  }
  it->second = QueuedHook{about.name, kind, std::move(context)};
  if (hooks_posted_) return;
  // Fired on a turn of the loop of their own: a hook's fire never nests in the handling of
  // the fire or run it is about.
  hooks_posted_ = true;
  asio::post(io_, [this, alive = std::weak_ptr(alive_)] {
    if (!alive.lock()) return;
    hooks_posted_ = false;
    fire_queued_hooks();
  });
}

void Engine::fire_queued_hooks() {
  if (shutting_down_) return hooks_queued_.clear();
  for (auto& [index, queued] : std::exchange(hooks_queued_, {})) {
    const JobId id{index};
    if (jobs_[index].removed) continue;
    const JobSpec& hook = *jobs_[index].spec;
    const Instant now = clock_.wall_now();
    const Triggered fired = handle_fire(Fire{id, now, now});
    if (fired.outcome == OfferOutcome::kSkipped) {
      // The same hook of the job still runs (recorded as a fire not run), or all are paused.
      events_.emit(Severity::kInfo, EventKind::kHookCoalesced,
                   {{"job", queued.about},
                    {"hook", to_string(queued.kind)},
                    {"why", "the last one still runs, or it is paused"}});
      continue;
    }
    json fields = {{"job", queued.about},
                   {"hook", to_string(queued.kind)},
                   {"hook_job", hook.name},
                   {"run", fired.run.value}};
    if (auto about = queued.context.find("SKEDD_HOOK_RUN_ID"); about != queued.context.end()) {
      fields["for_run"] = std::stoull(about->second);
    }
    events_.emit(Severity::kInfo, EventKind::kHookFired, fields);
    hook_contexts_[fired.run] = std::move(queued.context);
  }
  pump();
  rearm();
}

std::shared_ptr<const JobSpec> Engine::with_hook_context(RunId id,
                                                         std::shared_ptr<const JobSpec> spec) {
  const auto it = hook_contexts_.find(id);
  // None: a hook fire recovered after a restart, or `skedctl trigger`: SKEDD_HOOK and
  // SKEDD_JOB only.
  if (it == hook_contexts_.end()) return spec;
  auto copy = std::make_shared<JobSpec>(*spec);
  JobOptions options = *spec->options;
  for (auto& [name, value] : it->second) options.hook_context[name] = std::move(value);
  copy->options = SharedValue<JobOptions>(std::move(options));
  hook_contexts_.erase(it);
  return copy;
}

}  // namespace skedd
