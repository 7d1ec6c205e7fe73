// The engine's side of the control socket: snapshots of its state and the operations that
// change it. Authorization and the protocol are the caller's (daemon/control.cpp).
#include "runtime/engine.h"

#include <algorithm>
#include <deque>
#include <future>
#include <string_view>
#include <thread>
#include <unordered_set>

#include "runtime/log_fields.h"
#include "skedd/runtime/events.h"

namespace skedd {

std::vector<Engine::JobInfo> Engine::jobs() const {
  std::vector<JobId> ids = job_by_name_.ids();
  std::sort(ids.begin(), ids.end(), [this](JobId a, JobId b) {
    return jobs_[a.value].spec->name < jobs_[b.value].spec->name;
  });
  std::vector<JobInfo> out;
  out.reserve(ids.size());
  for (const JobId id : ids) out.push_back(info_of(id));
  return out;
}

bool Engine::is_api_job(const std::string& name) const {
  const ApiJob* api = api_jobs_.find(name);
  const std::optional<JobId> id = job_by_name_.find(name);
  // A job added over the API is read from its recorded definition, whose place names the API
  // (its line and column in the definition), not a file.
  return api != nullptr && id &&
         jobs_[id->value].spec->defined_at.file() == api->spec->defined_at.file();
}

std::optional<Engine::JobInfo> Engine::job(const std::string& name) const {
  const std::optional<JobId> id = job_by_name_.find(name);
  if (!id) return std::nullopt;
  return info_of(*id);
}

std::optional<RunRecord> Engine::unrecorded_run(RunId run) const {
  if (auto record = handlers_.record_of(run)) return record;
  const Fire* fire = nullptr;
  if (const auto it = unspawned_.find(run); it != unspawned_.end()) fire = &it->second.fire;
  for (const Held& held : held_) {
    if (fire == nullptr && held.fire.run == run) fire = &held.fire;
  }
  if (fire == nullptr) fire = dispatcher_.waiting(run);
  if (fire == nullptr) fire = scheduler_.retry_of(run);
  if (fire == nullptr || fire->job.value >= jobs_.size()) return std::nullopt;
  const JobSpec& spec = *jobs_[fire->job.value].spec;
  RunRecord record;
  record.run = run;
  record.job = spec.name;
  record.scheduled = fire->scheduled;
  record.attempt = fire->attempt;
  record.state = RunState::kScheduled;
  if (!is_handler_job(spec)) record.owner = supervisor_.owner_of(spec);
  return record;
}

Engine::JobInfo Engine::info_of(JobId id) const {
  const SpecPtr& spec = jobs_[id.value].spec;
  const int running = dispatcher_.running_of(id);
  return JobInfo{spec, paused_.contains(spec->name), scheduler_.next_fire(id), running,
                 running > 0 ? supervisor_.stalled_of(id) + handlers_.stalled_of(id) : 0};
}

std::size_t Engine::paused_jobs() const {
  std::size_t n = 0;
  for (const std::string& name : paused_) n += job_by_name_.contains(name) ? 1 : 0;
  return n;
}

bool Engine::set_paused(const std::string& name, bool paused) {
  if (!job_by_name_.contains(name)) return false;
  const bool changed = paused ? paused_.insert(name).second : paused_.erase(name) > 0;
  if (changed) {
    store_.put_paused(name, paused);
    events_.emit(Severity::kInfo, paused ? EventKind::kJobPaused : EventKind::kJobResumed,
                 {{"job", name}});
  }
  return true;
}

void Engine::set_paused_all(bool paused) {
  if (!paused && draining_) {
    draining_ = false;
    events_.emit(Severity::kInfo, EventKind::kDrainEnded, {});
    pump();
    rearm();
  }
  if (paused_all_ == paused) return;
  paused_all_ = paused;
  store_.put_paused("", paused);
  events_.emit(Severity::kInfo, paused ? EventKind::kPausedAll : EventKind::kResumedAll);
}

void Engine::drain() {
  set_paused_all(true);
  if (draining_) return;
  draining_ = true;
  events_.emit(Severity::kInfo, EventKind::kDraining, {{"running", dispatcher_.running()}});
}

std::optional<Engine::Triggered> Engine::trigger(const std::string& name, bool force) {
  const std::optional<JobId> found = job_by_name_.find(name);
  if (!found || shutting_down_) return std::nullopt;
  const JobId id = *found;
  DispatchPolicy policy = policy_of(*jobs_[id.value].spec);
  if (force) policy.overlap = OverlapPolicy::kAllow;
  // A fire of its own: now, as its scheduled instant.
  const Instant now = clock_.wall_now();
  events_.emit(Severity::kInfo, EventKind::kTriggered,
               {{"job", name}, {"scheduled", utc(now)}, {"force", force}});
  const Triggered triggered = handle_fire(Fire{id, now, now}, &policy);
  pump();
  rearm();
  return triggered;
}

bool Engine::cancel(RunId run) {
  if (cancel_unspawned(run)) return true;
  if (handlers_.has_run(run)) {
    handlers_.cancel(run, RunState::kCancelled);
    return true;
  }
  if (!supervisor_.has_run(run)) return false;
  supervisor_.cancel(run, RunState::kCancelled);
  rearm();
  return true;
}

Status Engine::send_input(RunId run, const std::string& line) {
  if (handlers_.has_run(run)) return handlers_.send_input(run, line);
  return supervisor_.send_input(run, line);
}

bool Engine::set_run_paused(RunId run, bool paused) {
  const bool done = paused ? supervisor_.freeze(run) : supervisor_.thaw(run);
  rearm();
  return done;
}

void Engine::set_max_concurrent_runs(int n) {
  config_.daemon.max_concurrent_runs = n;
  dispatcher_.set_limits(DispatchLimits{n, config_.pools});
  events_.emit(Severity::kInfo, EventKind::kMaxConcurrentRunsSet, {{"max_concurrent_runs", n}});
  pump();
  rearm();
}

Engine::Counts Engine::counts() const {
  return Counts{dispatcher_.running(), dispatcher_.ready_size(), config_.daemon.max_concurrent_runs,
                job_by_name_.size(), supervisor_.stalled_runs() + handlers_.stalled_runs()};
}

}  // namespace skedd

namespace skedd {

Result<std::vector<Engine::ApiJob>> Engine::recorded_api_jobs(Store& store, const Config& config,
                                                              Events events) {
  // Parsing is most of a large load. Rows are read in chunks, and each chunk is parsed on a
  // thread of its own while the next ones are read: two chunks in flight per CPU at most, so
  // that the texts are never all in memory. Their jobs are taken in the order read. With one
  // a CPU, a core sat idle whenever the reader waited for the oldest chunk while a newer one
  // was done (a million jobs: 4.45 s median read and parse, 4.06 s with two).
  constexpr std::size_t kChunk = 4096;
  struct Row {
    std::string name;
    int version;
    std::string definition;
    std::string tree;
    std::shared_ptr<const JobSpec> spec;
    std::string error;  ///< why it no longer reads (told on the caller's thread)
  };
  using Chunk = std::vector<Row>;
  const std::size_t in_flight = 2 * std::max(1U, std::thread::hardware_concurrency());
  const auto parse_rows = [&config](Chunk rows) {
    for (Row& row : rows) {
      auto spec = parse_job_definition(row.definition, row.tree, "api", config);
      if (!spec) {
        row.error = spec.error().message;
        continue;
      }
      row.spec = std::make_shared<const JobSpec>(std::move(spec.value()));
      row.definition = {};
      row.tree = {};
    }
    return rows;
  };
  std::vector<ApiJob> jobs;
  std::deque<std::future<Chunk>> parsing;
  const auto take_oldest = [&] {
    Chunk rows = parsing.front().get();
    parsing.pop_front();
    for (Row& row : rows) {
      if (row.spec) {
        jobs.push_back({std::move(row.spec), row.version});
      } else {
        events.emit(Severity::kError, EventKind::kApiJobInvalid,
                    {{"job", row.name}, {"version", row.version}, {"error", row.error}});
      }
    }
  };
  Chunk chunk;
  chunk.reserve(kChunk);
  const auto hand_over = [&] {
    if (chunk.empty()) return;
    if (parsing.size() == in_flight) take_oldest();
    parsing.push_back(std::async(std::launch::async, parse_rows, std::exchange(chunk, {})));
    chunk.reserve(kChunk);
  };
  const Status read = store.for_each_latest_job_version([&](const std::string& name, int version,
                                                            const std::string& definition,
                                                            const std::string& tree) {
    if (definition.empty()) return;  // removed
    chunk.push_back({name, version, definition, tree, nullptr, {}});
    if (chunk.size() == kChunk) hand_over();
  });
  hand_over();
  while (!parsing.empty()) take_oldest();
  if (!read) return read.error();
  return jobs;
}

std::vector<Engine::SpecPtr> Engine::with_api_specs(std::vector<JobSpec> file_jobs,
                                                    std::span<const ApiJob> api_jobs) const {
  std::vector<SpecPtr> specs;
  specs.reserve(file_jobs.size() + api_jobs.size());
  // The file jobs' names that API jobs have too (API jobs are fewer: they are filed, not the
  // file jobs, a million of which take half a second to file).
  std::unordered_set<std::string_view> api_names;
  for (const ApiJob& api : api_jobs) {
    if (api.spec) api_names.insert(api.spec->name);
  }
  std::unordered_set<std::string_view> shadowed;
  for (JobSpec& spec : file_jobs) {
    specs.push_back(std::make_shared<const JobSpec>(std::move(spec)));
    if (auto it = api_names.find(specs.back()->name); it != api_names.end()) shadowed.insert(*it);
  }
  for (const ApiJob& api : api_jobs) {
    if (!api.spec) continue;
    if (shadowed.contains(api.spec->name)) {
      events_.emit(
          Severity::kWarn, EventKind::kApiJobShadowed,
          {{"job", api.spec->name}, {"effect", "a file job of the same name is used instead"}});
    } else {
      specs.push_back(api.spec);
    }
  }
  // Each job's hooks follow the jobs (their names hold a ':', which no job name has).
  const std::size_t jobs = specs.size();
  for (std::size_t i = 0; i < jobs; ++i) add_hook_specs(*specs[i], specs);
  return specs;
}

Result<int> Engine::put_api_job(JobSpec spec, std::string definition, bool replace) {
  const std::string name = spec.name;
  const ApiJob* api = api_jobs_.find(name);
  if (api == nullptr && job_by_name_.contains(name)) {
    return Error{ErrorCode::kConflict,
                 "job \"" + name + "\" is defined in " + job(name)->spec->defined_at.to_string() +
                     "; a file job can be paused, not replaced or removed over the socket"};
  }
  if (replace && api == nullptr) {
    return Error::not_found("no job named \"" + name + "\" was added over the socket");
  }
  if (!replace && api != nullptr) {
    return Error{ErrorCode::kConflict, "job \"" + name + "\" exists; update replaces it"};
  }
  // Versions written by this skedd are known here; the store has those of earlier ones.
  int version = 1;
  if (api != nullptr) {
    version = api->version + 1;
  } else if (const auto removed = removed_api_versions_.find(name);
             removed != removed_api_versions_.end()) {
    version = removed->second + 1;
  } else if (auto versions = store_.job_versions(name); versions && !versions->empty()) {
    version = versions->back().first + 1;
  }
  store_.put_job_version(name, version, definition, definition_tree(definition), clock_.wall_now(),
                         config_.store.keep_versions);
  events_.emit(Severity::kInfo, replace ? EventKind::kApiJobUpdated : EventKind::kApiJobAdded,
               {{"job", name}, {"version", version}});
  auto shared = std::make_shared<const JobSpec>(std::move(spec));
  if (const std::optional<JobId> loaded = job_by_name_.find(name)) {
    if (!same_owner(*jobs_[loaded->value].spec, *shared)) {
      // Another owner: a new job of the name, with a history of its own.
      remove_job(name, *loaded);
      job_by_name_.erase(name);
      add_job(shared);
    } else if (!same_definition(*jobs_[loaded->value].spec, *shared)) {
      change_job(*loaded, shared);
    }
  } else {
    // A new job: nothing of an earlier one of the name (removed while skedd was down, say)
    // is its.
    retire_identity(name);
    add_job(shared);
  }
  sync_hook_jobs(shared.get(), name);
  api_jobs_.put(ApiJob{std::move(shared), version});
  tick();
  return version;
}

std::size_t Engine::api_jobs_of(const std::string& user, const std::string& uid) const {
  std::size_t n = 0;
  for (const ApiJob& api : api_jobs_.entries()) {
    if (api.spec && api.spec->options->user &&
        (*api.spec->options->user == user || *api.spec->options->user == uid)) {
      ++n;
    }
  }
  return n;
}

Status Engine::remove_api_job(const std::string& name) {
  const ApiJob* api = api_jobs_.find(name);
  if (api == nullptr) {
    if (job_by_name_.contains(name)) {
      return Error{ErrorCode::kConflict, "job \"" + name +
                                             "\" is defined in a file; a file job can be "
                                             "paused, not removed over the socket"};
    }
    return Error::not_found("no job named \"" + name + "\"");
  }
  const int removed = api->version + 1;
  api_jobs_.erase(name);  // `api` points into api_jobs_: not used after this
  store_.put_job_version(name, removed, "", "", clock_.wall_now(), config_.store.keep_versions);
  removed_api_versions_[name] = removed;
  events_.emit(Severity::kInfo, EventKind::kApiJobRemoved, {{"job", name}});
  if (const std::optional<JobId> loaded = job_by_name_.find(name)) {
    remove_job(name, *loaded);
    job_by_name_.erase(name);
  }
  sync_hook_jobs(nullptr, name);
  tick();
  return Ok{};
}

}  // namespace skedd
