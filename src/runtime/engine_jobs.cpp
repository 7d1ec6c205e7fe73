// The engine's job table: jobs added, changed by a reload and removed, each name's identity.
#include "runtime/engine.h"
#include "runtime/log_fields.h"
#include "skedd/time/timestamp.h"

namespace skedd {

using nlohmann::json;

JobId Engine::add_job(SpecPtr shared, std::optional<Instant> last_fire,
                      Store::NextFires* next_fires) {
  const JobId id{static_cast<std::uint32_t>(jobs_.size())};
  // Added while skedd runs (a reload, the API): an @reboot job waits for the next boot, as
  // cron runs @reboot lines only when it starts at boot.
  if (shared->schedule->is_reboot()) scheduler_.mark_reboot_done(id);
  jobs_.push_back(Job{std::move(shared)});
  job_by_name_.assign(id);
  schedule_added(id, last_fire, next_fires);
  return id;
}

void Engine::schedule_added(JobId id, std::optional<Instant> last_fire,
                            Store::NextFires* next_fires) {
  const JobSpec& spec = *jobs_[id.value].spec;
  // An `every` job keeps its rhythm across restarts: it counts from its last fire.
  scheduler_.add(id, spec, spec.schedule->is_every() ? last_fire : std::nullopt);
  log_job(id, EventKind::kJobLoaded, next_fires);
}

void Engine::log_job(JobId id, EventKind event, Store::NextFires* batch) {
  const JobSpec& spec = *jobs_[id.value].spec;
  const auto next = scheduler_.next_fire(id);
  if (batch != nullptr) {
    batch->emplace_back(spec.name, next);
  } else {
    store_.put_next_fire(spec.name, next);
  }
  const Severity severity = job_line_severity();
  if (!events_.wants(event, severity)) return;
  events_.emit(severity, event,
               {{"job", spec.name},
                {"schedule", spec.schedule->text},
                {"timezone", spec.zone.name()},
                {"next", next ? format_rfc3339(*next, spec.zone) : "never"}});
}

void Engine::reload(Config config) {
  if (shutting_down_) return;
  if (config.daemon.state_dir != config_.daemon.state_dir ||
      config.daemon.socket != config_.daemon.socket) {
    events_.emit(Severity::kWarn, EventKind::kReloadNeedsRestart,
                 {{"what", "state_dir and socket"}, {"effect", "kept until skedd restarts"}});
    config.daemon.state_dir = config_.daemon.state_dir;
    config.daemon.socket = config_.daemon.socket;
  }
  std::vector<SpecPtr> specs = with_api_specs(std::exchange(config.jobs, {}), api_jobs_.entries());
  append_step_specs(config, specs);
  load_lines_ = 0;
  NameIndex<> previous = std::exchange(job_by_name_, NameIndex<>(name_of_job()));
  int kept = 0, changed = 0, added = 0;
  for (SpecPtr& spec : specs) {
    const std::optional<JobId> old = previous.find(spec->name);
    if (!old) {
      add_job(std::move(spec));
      ++added;
      continue;
    }
    const JobId id = *old;
    previous.erase(spec->name);
    if (!same_owner(*jobs_[id.value].spec, *spec)) {
      // Another owner: a new job of the name, with a history of its own.
      remove_job(spec->name, id);
      add_job(std::move(spec));
      ++changed;
      continue;
    }
    job_by_name_.assign(id);
    if (same_definition(*jobs_[id.value].spec, *spec)) {
      ++kept;
      continue;
    }
    change_job(id, std::move(spec));
    ++changed;
  }
  const std::vector<JobId> removed = previous.ids();
  for (const JobId id : removed) remove_job(jobs_[id.value].spec->name, id);
  dispatcher_.set_limits(limits_of(config));
  supervisor_.set_kill_grace(config.daemon.kill_grace);
  config_ = std::move(config);
  log_job_lines_limited();
  events_.emit(
      Severity::kInfo, EventKind::kReloaded,
      {{"kept", kept}, {"changed", changed}, {"added", added}, {"removed", previous.size()}});
  tick();
}

void Engine::change_job(JobId id, SpecPtr shared) {
  // An `every` job keeps its rhythm: the new interval counts from the old next fire. A fire
  // already taken from the scheduler (held until due) is not taken again.
  const auto anchor = scheduler_.next_fire(id);
  std::optional<Instant> taken;
  for (const auto& [at, seq, fire] : held_) {
    if (fire.job == id && fire.attempt == 1)
      taken = std::max(taken.value_or(fire.scheduled), fire.scheduled);
  }
  jobs_[id.value] = Job{shared};
  if (shared->schedule->is_reboot()) scheduler_.mark_reboot_done(id);  // as in add_job()
  scheduler_.add(id, *shared, shared->schedule->is_every() ? anchor : std::nullopt, taken);
  log_job(id, EventKind::kJobChanged);
}

void Engine::remove_job(const std::string& job_name, JobId id) {
  const std::string name = job_name;  // `job_name` may be the removed spec's own
  scheduler_.remove(id);
  // Its definition is let go (its running runs hold their own): the slot, kept so that ids
  // are never reused, holds only its name, for the fires of it that are still to be dropped.
  auto tombstone = std::make_shared<JobSpec>();
  tombstone->name = name;
  jobs_[id.value] = Job{std::move(tombstone), true};
  retire_identity(name);
  events_.emit(job_line_severity(), EventKind::kJobRemoved, {{"job", name}});
}

void Engine::log_job_lines_limited() {
  const std::size_t lines = std::exchange(load_lines_, std::nullopt).value_or(0);
  if (lines > kJobLinesPerLoad) {
    events_.emit(Severity::kInfo, EventKind::kJobLinesLimited,
                 {{"logged", kJobLinesPerLoad}, {"at_debug", lines - kJobLinesPerLoad}});
  }
}

DispatchPolicy Engine::policy_of(const JobSpec& spec) const {
  DispatchPolicy policy = Dispatcher::policy_of(spec);
  // A user's runs share [daemon] max_runs_per_user slots; root's and the daemon's own user's
  // (no `user`) are exempt. Handler runs run inside the daemon: its own.
  if (spec.options->user && !is_handler_job(spec)) {
    const std::optional<uid_t> uid = supervisor_.owner_of(spec);
    if (uid && *uid != 0 && *uid != ::geteuid())
      policy.share = static_cast<std::uint32_t>(*uid) + 1;
  }
  return policy;
}

std::optional<JobId> Engine::job_of_record(const std::string& name, RunId run) const {
  const auto since = identity_since_.find(name);
  if (since != identity_since_.end() && run.value < since->second.value) return std::nullopt;
  return job_by_name_.find(name);
}

void Engine::retire_identity(const std::string& name) {
  // Every run id reserved from here on is at least next_run_id_: the runs of the name's old
  // identity (its running runs finish and are recorded later) all have lower ids.
  store_.retire_job(name, RunId{next_run_id_});
  paused_.erase(name);
}

bool Engine::same_owner(const JobSpec& a, const JobSpec& b) {
  return a.options->user == b.options->user;
}

}  // namespace skedd
