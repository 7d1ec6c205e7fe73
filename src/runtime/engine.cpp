#include "runtime/engine.h"

#include <malloc.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>

#include "exec/run_setup.h"
#include "runtime/after_commit.h"
#include "runtime/log_fields.h"
#include "skedd/core/catch_up.h"
#include "skedd/runtime/events.h"
#include "skedd/time/timestamp.h"

namespace skedd {
namespace {

using nlohmann::json;

// How often old runs and their logs are pruned (also at start).
constexpr Duration kPruneInterval = std::chrono::hours(1);
// Calendar timers are armed this far ahead when nothing is due, so a clock step is still seen.
constexpr Duration kIdleWallHorizon = std::chrono::hours(24);
// Fires are taken from the scheduler and recorded as pending this long before they are due,
// so that the record is committed by then and the spawn need not wait for the disk.
constexpr Duration kLookahead = std::chrono::milliseconds(50);
// Timers are armed on this grid (rounded up): fires due within one step start in one tick, so
// that a busy scheduler arms its timer, and wakes, a few thousand times a second at most,
// not once per fire.
constexpr Duration kTimerGrain = std::chrono::microseconds(250);
// How often a busy scheduler records when it was last seen (at most; also at shutdown).
constexpr Duration kLastSeenInterval = std::chrono::seconds(1);
// While the store is behind (see tick()), how often it is looked at again.
constexpr Duration kBehindPoll = std::chrono::milliseconds(5);

template <typename TimePoint>
TimePoint on_grain(TimePoint t) {
  const auto step = std::chrono::duration_cast<typename TimePoint::duration>(kTimerGrain);
  const auto since = t.time_since_epoch();
  const auto rest = since % step;
  return rest.count() == 0 ? t : t + (step - rest);
}

// This boot's id; empty when unreadable (then @reboot jobs run at every start).
std::string boot_id() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return id;
}

int handler_threads(const Config& config) {
  if (config.daemon.handler_threads > 0) return config.daemon.handler_threads;
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

DispatchLimits limits_of(const Config& config) {
  return DispatchLimits{config.daemon.max_concurrent_runs, config.pools,
                        config.daemon.runs_per_user()};
}

}  // namespace

Engine::Engine(asio::io_context& io, Config config, const Clock& clock, TimerService& timers,
               ProcessSpawner& spawner, Store& store, Random& random,
               const HandlerRegistry* handlers, Events events)
    : io_(io),
      store_(store),
      config_(std::move(config)),
      clock_(clock),
      random_(random),
      events_(events),
      scheduler_(clock, random, host_name()),
      dispatcher_(limits_of(config_)),
      supervisor_(io, clock, spawner, store, events,
                  SupervisorOptions{
                      config_.daemon.state_dir,
                      std::filesystem::path(config_.daemon.socket).parent_path().string(),
                      config_.daemon.kill_grace, config_.daemon.use_cgroups, config_.cron.sendmail},
                  [this](const RunOutcome& outcome) { on_run_finished(outcome); }),
      handlers_(io, clock, store, events, handlers, handler_threads(config_),
                [this](const RunOutcome& outcome) { on_run_finished(outcome); }),
      spawner_(spawner),
      wall_timer_(timers.wall_timer()),
      mono_timer_(timers.mono_timer()),
      // Run ids only need to be unique within the state dir until the store assigns them:
      // microseconds since the epoch at start, counting up, do that across restarts.
      next_run_id_(static_cast<std::uint64_t>(clock.wall_now().time_since_epoch().count())),
      // Ids below the first one are an earlier skedd's: their pending records are committed.
      settled_below_(next_run_id_),
      reserved_to_(next_run_id_),
      settling_to_(next_run_id_) {}

Engine::~Engine() = default;

void Engine::start(std::vector<ApiJob> api_jobs) {
  jobs_.reserve(config_.jobs.size() + api_jobs.size());
  for (SpecPtr& spec : with_api_specs(std::exchange(config_.jobs, {}), api_jobs)) {
    jobs_.push_back(Job{std::move(spec)});
  }
  // The jobs are filed by name, and the API jobs apart, on a thread of their own while they
  // are scheduled here (a million of each take a quarter of a second, mostly cache misses):
  // jobs_ is not changed, and neither index read, until it is joined.
  std::jthread filing([this, jobs = std::move(api_jobs)]() mutable {
    job_by_name_.reserve(jobs_.size());
    for (std::uint32_t i = 0; i < jobs_.size(); ++i) job_by_name_.assign(JobId{i});
    api_jobs_.reserve(jobs.size());
    for (ApiJob& api : jobs) api_jobs_.put(std::move(api));
  });
  const Instant now = clock_.wall_now();
  started_at_ = now;
  if (auto paused = store_.paused()) {
    for (std::string& name : paused.value()) {
      if (name.empty()) {
        paused_all_ = true;
      } else {
        paused_.insert(std::move(name));
      }
    }
  } else {
    events_.emit(Severity::kWarn, EventKind::kStoreReadFailed, {{"error", paused.error().message}});
  }
  // What the previous skedd left: each job's last fire, when it was last seen running, and
  // the boot its @reboot jobs ran in. A store that cannot be read means no catch-up.
  auto last_fires = store_.last_fires();
  if (!last_fires)
    events_.emit(Severity::kWarn, EventKind::kStoreReadFailed,
                 {{"error", last_fires.error().message}});
  std::optional<Instant> last_seen;
  if (auto seen = store_.meta("last_seen"); seen && seen.value()) {
    if (auto t = parse_rfc3339(*seen.value())) last_seen = t.value();
  }
  const std::string boot = boot_id();
  const auto stored_boot = store_.meta("boot_id");
  const bool same_boot = !boot.empty() && stored_boot && stored_boot.value() == boot;
  // Runs are adopted unless the store says another boot: a skedd killed before its first
  // start had committed the boot id left runs of this boot all the same.
  same_boot_ =
      !(stored_boot && stored_boot.value() && !boot.empty() && *stored_boot.value() != boot);
  // Before any fire is recorded: a run this skedd starts is committed after the boot it
  // started in, so a skedd killed at any moment leaves its runs adoptable.
  store_.put_meta("boot_id", boot);

  std::vector<std::pair<JobId, Instant>> catch_ups;
  Store::NextFires next_fires;
  next_fires.reserve(jobs_.size());
  for (std::uint32_t i = 0; i < jobs_.size(); ++i) {
    const JobId id{i};
    const JobSpec& spec = *jobs_[i].spec;
    std::optional<Instant> last;
    if (last_fires) {
      if (auto it = last_fires->find(spec.name); it != last_fires->end()) last = it->second;
    }
    if (same_boot && spec.schedule->is_reboot()) scheduler_.mark_reboot_done(id);
    schedule_added(id, last, &next_fires);
    // A one-shot has no last fire: whether it passed while skedd was down is measured from
    // when skedd was last seen. Other jobs catch up from their own last fire only, so that a
    // job added while skedd was down does not "catch up" fires from before it existed.
    const std::optional<Instant> since = spec.schedule->is_at() && !last ? last_seen : last;
    if (since && !spec.schedule->is_reboot()) catch_ups.emplace_back(id, *since);
  }
  store_.put_next_fires(std::move(next_fires));
  filing.join();
  assign_recorded_owners();
  // Pending fires are read before anything is written: recovery queues pending fires of its
  // own, which the writer may commit at any moment.
  auto pending = store_.pending_fires();
  if (auto identities = store_.identities()) identity_since_ = std::move(identities.value());
  // A pending fire whose reserved run has a log file was being spawned: it is a run recorded
  // before its spawn, found (or found interrupted) as such.
  std::vector<RunRecord> spawning;
  if (pending) {
    std::erase_if(pending.value(), [&](const PendingFire& p) {
      if (p.run.value == 0) return false;
      const std::string log = supervisor_.log_path(p.job, p.run);
      struct stat st {};
      if (::lstat(log.c_str(), &st) != 0) return false;
      RunRecord record;
      record.run = p.run;
      record.job = p.job;
      record.scheduled = p.scheduled;
      record.attempt = p.attempt;
      record.state = RunState::kScheduled;
      record.started = p.due;
      record.log_path = log;
      if (const std::optional<JobId> job = job_of_record(p.job, p.run)) {
        record.checkpoint = earlier_checkpoint(*job, p.scheduled, p.attempt);
      }
      spawning.push_back(std::move(record));
      return true;
    });
  }
  // Runs first, so that recovered and catch-up fires meet the adopted runs under their
  // overlap policy.
  recover_runs(now, std::move(spawning));
  if (pending) {
    recover_pending(pending.value(), now);
    identity_since_.clear();  // recovery is done; later retirements are the store's to keep
  } else {
    events_.emit(Severity::kWarn, EventKind::kStoreReadFailed,
                 {{"error", pending.error().message}});
  }
  for (const auto& [id, since] : catch_ups) {
    // Up to the job's first scheduled fire, not to `now`: time passes while the jobs are
    // added, and a fire between `now` and when its job was added (strictly after which the
    // scheduler queued its first fire) would otherwise be neither caught up nor scheduled.
    const auto first = scheduler_.next_fire(id);
    catch_up(id, since, first ? *first - std::chrono::microseconds(1) : clock_.wall_now());
  }
  // Loading many jobs leaves freed buffers (definitions, parse trees) scattered through the
  // heap: give those pages back.
  ::malloc_trim(0);
  store_.put_meta("last_seen", format_rfc3339_utc(now));
  prune_history();
  tick();
}

void Engine::recover_runs(Instant now, std::vector<RunRecord> spawning) {
  auto running = store_.runs(RunQuery{std::nullopt, RunState::kRunning, 1'000'000});
  auto unspawned = store_.runs(RunQuery{std::nullopt, RunState::kScheduled, 1'000'000});
  if (!running || !unspawned) {
    events_.emit(Severity::kWarn, EventKind::kStoreReadFailed,
                 {{"error", (!running ? running.error() : unspawned.error()).message}});
    return;
  }
  std::move(spawning.begin(), spawning.end(), std::back_inserter(unspawned.value()));
  // Read only when there is a run to recover: the history's interrupted runs can be many.
  InterruptedRuns interrupted =
      running->empty() && unspawned->empty() ? InterruptedRuns{} : interrupted_runs();
  // Recorded before a spawn: with no log, the spawn never began and the fire is offered
  // again as the same attempt; with one, its process is looked for (its pid was not recorded).
  for (RunRecord& record : unspawned.value()) {
    struct stat st {};
    if (record.log_path.empty() || ::lstat(record.log_path.c_str(), &st) != 0) {
      const std::optional<JobId> job = job_of_record(record.job, record.run);
      if (!job && job_by_name_.contains(record.job)) {
        store_.delete_run(record.run);  // of an ended identity: never offered to the new one
        continue;
      }
      if (!job) continue;  // kept until its job is back
      StoreGroup group(store_);
      store_.delete_run(record.run);
      const int resumes = interrupted.count(record.job, record.scheduled, record.run);
      offer_recovered(*job,
                      PendingFire{record.job, record.scheduled, record.started - record.lateness,
                                  record.attempt, resumes},
                      now);
      continue;
    }
    if (const auto pid =
            same_boot_ ? spawner_.find_run(record.run.value, supervisor_.control_path(record.run))
                       : std::nullopt) {
      record.pid = *pid;
      record.pid_start = spawner_.start_time(*pid);
    }
    running->push_back(std::move(record));
  }
  for (RunRecord& record : running.value()) {
    // A run of an ended identity of the name is not the loaded job's: never adopted as one of
    // its runs, nor resumed as its fire.
    const std::optional<JobId> job = job_of_record(record.job, record.run);
    // The same boot, pid and process start time: the very process the earlier skedd started
    // (a start time counts from boot: after a reboot another process may have the same pair).
    const bool alive = same_boot_ && record.pid && record.pid_start &&
                       spawner_.start_time(*record.pid) == record.pid_start;
    if (alive && job) {
      const Job& j = jobs_[job->value];
      if (supervisor_.adopt(record, *job, j.spec)) {
        dispatcher_.adopt(*job, record.run, j.spec->options->pool, policy_of(*j.spec).share);
        if (record.state != RunState::kRunning) {
          record.state = RunState::kRunning;
          store_.put_run(record);
        }
        continue;
      }
    }
    // Its process is gone (or its job is): the run was interrupted (what it wrote to its
    // control channel meanwhile went with the channel's last open end). Its record and the
    // next attempt's pending fire are one write.
    StoreGroup group(store_);
    const bool handler = job && is_handler_job(*jobs_[job->value].spec);
    record.ended = now;
    record.state = RunState::kInterrupted;
    record.message = alive     ? "its job is no longer defined; the process was left running"
                     : handler ? "the program running its handler stopped or was killed"
                               : "its process ended while skedd was not running";
    store_.put_run(record);
    events_.emit(Severity::kWarn, EventKind::kRunInterrupted,
                 {{"job", record.job}, {"run", record.run.value}, {"message", record.message}});
    // The earlier interrupted runs of its fire, not counting this one should its record
    // already be committed.
    const int earlier = interrupted.count(record.job, record.scheduled, record.run);
    interrupted.by_fire[{record.job, record.scheduled}].push_back(record.run);
    if (!alive && job) resume(*job, record, earlier);
  }
}

void Engine::recover_pending(const std::vector<PendingFire>& pending, Instant now) {
  for (const PendingFire& p : pending) {
    if (job_by_name_.contains(p.job) && !job_of_record(p.job, p.run)) continue;  // ended identity
    const std::optional<JobId> job = job_by_name_.find(p.job);
    if (!job) {
      events_.emit(Severity::kWarn, EventKind::kPendingFireKept,
                   {{"job", p.job},
                    {"scheduled", utc(p.scheduled)},
                    {"reason", "its job is not defined; it waits until the job is back"}});
      continue;
    }
    offer_recovered(*job, p, now);
  }
}

void Engine::offer_recovered(JobId id, const PendingFire& pending, Instant now) {
  const JobSpec& spec = *jobs_[id.value].spec;
  Fire fire{id, pending.scheduled, pending.due, pending.attempt};
  fire.resumes = pending.resumes;
  fire.run = pending.run;  // recorded pending under that id: its run or not-run settles it
  if (std::string checkpoint = earlier_checkpoint(id, fire.scheduled, fire.attempt);
      !checkpoint.empty()) {
    checkpoints_[{id.value, fire.scheduled}] = std::move(checkpoint);
  }
  events_.emit(Severity::kInfo, EventKind::kFireRecovered,
               {{"job", spec.name}, {"scheduled", utc(fire.scheduled)}, {"attempt", fire.attempt}});
  if (fire.due > now) {
    if (fire.attempt > 1) {
      scheduler_.schedule_retry(fire, fire.due - now);
    } else {
      // Taken ahead of its time before the restart.
      hold_until_due(fire, now, clock_.mono_now());
    }
    return;
  }
  handle_fire(fire);
}

std::string Engine::earlier_checkpoint(JobId id, Instant scheduled, int attempt) {
  if (attempt <= 1) return {};
  // A retry gets its fire's last checkpoint; so does a resume (on_interrupt = resume).
  const JobSpec& spec = *jobs_[id.value].spec;
  auto earlier = store_.runs(RunQuery{spec.name, std::nullopt, 1'000'000});
  if (!earlier) return {};
  for (const RunRecord& r : earlier.value()) {
    if (r.scheduled != scheduled || r.attempt >= attempt) continue;
    const bool restart =
        r.state == RunState::kInterrupted && spec.options->on_interrupt != OnInterrupt::kResume;
    return restart ? std::string() : r.checkpoint;
  }
  return {};
}

Engine::InterruptedRuns Engine::interrupted_runs() {
  InterruptedRuns runs;
  auto earlier = store_.runs(RunQuery{std::nullopt, RunState::kInterrupted, 1'000'000});
  if (earlier) {
    for (const RunRecord& r : earlier.value()) runs.by_fire[{r.job, r.scheduled}].push_back(r.run);
  }
  return runs;
}

int Engine::InterruptedRuns::count(const std::string& job, Instant scheduled, RunId except) const {
  const auto it = by_fire.find({job, scheduled});
  if (it == by_fire.end()) return 0;
  return static_cast<int>(std::ranges::count_if(it->second, [&](RunId r) { return r != except; }));
}

void Engine::resume(JobId id, const RunRecord& interrupted, int earlier) {
  const JobSpec& spec = *jobs_[id.value].spec;
  if (spec.options->on_interrupt == OnInterrupt::kFail) return;
  const int interrupts = 1 + earlier;
  if (interrupts > spec.options->max_interrupts) {
    events_.emit(Severity::kWarn, EventKind::kResumeRefused,
                 {{"job", spec.name},
                  {"scheduled", utc(interrupted.scheduled)},
                  {"interrupts", interrupts},
                  {"max_interrupts", spec.options->max_interrupts}});
    return;
  }
  // The same fire, a further attempt; a resume hands over the last checkpoint.
  Fire fire{id, interrupted.scheduled, clock_.wall_now(), interrupted.attempt + 1};
  fire.resumes = interrupts;  // resumes do not use up `retries`
  if (spec.options->on_interrupt == OnInterrupt::kResume && !interrupted.checkpoint.empty()) {
    checkpoints_[{id.value, fire.scheduled}] = interrupted.checkpoint;
  }
  events_.emit(Severity::kInfo, EventKind::kRunResumed,
               {{"job", spec.name},
                {"scheduled", utc(fire.scheduled)},
                {"attempt", fire.attempt},
                {"mode", to_string(spec.options->on_interrupt)}});
  handle_fire(fire);
}

void Engine::catch_up(JobId id, Instant since, Instant until) {
  const JobSpec& spec = *jobs_[id.value].spec;
  const CatchUpPlan plan = plan_catch_up(spec, since, until);
  if (plan.missed > 0) {
    Fire first{id, plan.first_missed, plan.first_missed};
    first.last_collapsed = plan.last_missed;
    record_not_run(first, RunState::kMissed, NotRunReason::kMissedWhileDown, plan.missed);
  }
  for (Instant t : plan.run) {
    events_.emit(Severity::kInfo, EventKind::kCatchUp, {{"job", spec.name}, {"scheduled", utc(t)}});
    handle_fire(Fire{id, t, t});
  }
}

JobId Engine::add_job(SpecPtr shared, std::optional<Instant> last_fire,
                      Store::NextFires* next_fires) {
  const JobId id{static_cast<std::uint32_t>(jobs_.size())};
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
  if (!events_.wants(event, Severity::kInfo)) return;
  events_.emit(Severity::kInfo, event,
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
  events_.emit(Severity::kInfo, EventKind::kJobRemoved, {{"job", name}});
}

void Engine::assign_recorded_owners() {
  // Set once the runs of a store from before owners were recorded have been given theirs.
  constexpr const char* kAssigned = "run_owners_assigned";
  const auto assigned = store_.meta(kAssigned);
  if (!assigned || assigned.value()) return;
  // Runs without an owner are the daemon's; only jobs that run as another user have any to
  // give away. Handler runs run inside the daemon and stay its own.
  std::map<std::string, std::optional<uid_t>> uids;
  for (const Job& job : jobs_) {
    const JobOptions& options = *job.spec->options;
    if (job.removed || !options.user || is_handler_job(*job.spec)) continue;
    const auto [it, added] = uids.try_emplace(*options.user);
    if (added) {
      if (auto user = lookup_user(*options.user)) it->second = user->uid;
    }
    if (it->second) store_.assign_owner(job.spec->name, *it->second);
  }
  store_.put_meta(kAssigned, "1");
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

void Engine::rearm() {
  std::optional<MonoInstant> mono_at = supervisor_.next_deadline();
  if (const auto h = handlers_.next_deadline(); h && (!mono_at || *h < *mono_at)) mono_at = h;
  if (!shutting_down_) {
    // With nothing due on the wall clock the timer still waits, far ahead, to see clock steps;
    // that far deadline is kept while it is more than half the horizon away, so that an idle
    // wall clock does not re-arm the timer on every event.
    const Instant wall_now = clock_.wall_now();
    // Fires are taken kLookahead before they are due (see tick()).
    std::optional<Instant> wall_at = scheduler_.next_wall_deadline();
    if (wall_at) *wall_at = on_grain(*wall_at - kLookahead);
    // While the store is behind, due fires wait: look again shortly, not at once.
    if (wall_at && store_behind_) wall_at = std::max(*wall_at, wall_now + kBehindPoll);
    if (!wall_at) {
      const bool idle_armed = wall_armed_ && *wall_armed_ > wall_now + kIdleWallHorizon / 2;
      wall_at = idle_armed ? *wall_armed_ : wall_now + kIdleWallHorizon;
    }
    if (wall_armed_ != wall_at) {
      wall_armed_ = wall_at;
      wall_timer_->arm(*wall_at, [this](bool clock_was_set) { on_wall_timer(clock_was_set); });
    }
    std::optional<MonoInstant> s = scheduler_.next_mono_deadline();
    if (s) *s -= kLookahead;
    if (s && store_behind_) s = std::max(*s, clock_.mono_now() + kBehindPoll);
    if (!held_.empty() && (!s || held_.front().due < *s)) s = held_.front().due;
    if (s) *s = on_grain(*s);
    if (s && (!mono_at || *s < *mono_at)) mono_at = s;
  }
  if (mono_at == mono_armed_) return;
  mono_armed_ = mono_at;
  if (mono_at) {
    mono_timer_->arm(*mono_at, [this] { on_mono_timer(); });
  } else {
    mono_timer_->cancel();
  }
}

void Engine::on_wall_timer(bool clock_was_set) {
  wall_armed_.reset();
  if (clock_was_set) {
    events_.emit(Severity::kWarn, EventKind::kClockSet, {{"now", utc(clock_.wall_now())}});
    scheduler_.clock_changed();
  }
  tick();
}

void Engine::on_mono_timer() {
  mono_armed_.reset();
  tick();
}

void Engine::prune_history() {
  last_prune_ = clock_.mono_now();
  const StoreConfig& keep = config_.store;
  std::optional<Instant> cutoff;
  if (keep.keep_days > 0) cutoff = clock_.wall_now() - std::chrono::days(keep.keep_days);
  auto logs = store_.prune(static_cast<std::size_t>(keep.keep_runs), cutoff);
  if (!logs) {
    events_.emit(Severity::kWarn, EventKind::kPruneFailed, {{"error", logs.error().message}});
    return;
  }
  for (const std::string& log : logs.value()) {
    ::unlink(log.c_str());
    ::unlink((log + ".1").c_str());
  }
  if (!logs->empty())
    events_.emit(Severity::kInfo, EventKind::kHistoryPruned, {{"runs", logs->size()}});
}

void Engine::tick() {
  supervisor_.on_deadlines();
  handlers_.on_deadlines();
  check_shutdown_done();  // a sweep may have dropped the last leftover group
  const StoreHealth health = check_store_health();
  if (clock_.mono_now() - last_prune_ >= kPruneInterval) prune_history();
  if (!shutting_down_) {
    const Instant wall_now = clock_.wall_now();
    const MonoInstant mono_now = clock_.mono_now();
    // Held fires first: they were taken earlier, so they are due no later than the rest.
    std::vector<Fire> due;
    while (!held_.empty() && held_.front().due <= mono_now) {
      std::pop_heap(held_.begin(), held_.end(), Held::later);
      due.push_back(held_.back().fire);
      held_.pop_back();
    }
    const bool behind = check_store_behind(health);
    if (behind) {
      held_back_ = true;
    } else {
      for (Fire& fire : scheduler_.pop_due(kLookahead)) {
        if (fire.due > wall_now) {
          hold_until_due(std::move(fire), wall_now, mono_now);
        } else {
          due.push_back(std::move(fire));
        }
      }
    }
    for (const Fire& fire : due) handle_fire(fire);
    held_back_ = behind;  // folds from here on are the scheduler's own lateness
    if (!due.empty() && mono_now - last_seen_written_ >= kLastSeenInterval) {
      last_seen_written_ = mono_now;
      store_.put_meta("last_seen", utc(wall_now));
    }
    pump();
  }
  rearm();
}

Engine::Triggered Engine::handle_fire(Fire fire, const DispatchPolicy* policy) {
  const Job& job = jobs_[fire.job.value];
  const bool recorded = fire.run.value != 0;
  if (!recorded) fire.run = reserve_run_id();
  if (fire.attempt == 1 && !policy && (paused_all_ || paused_.contains(job.spec->name))) {
    record_skipped(fire, recorded, NotRunReason::kPaused);
    return {OfferOutcome::kSkipped, fire.run};
  }
  // One write: the fire is pending (or not run) and the job's last fire moves with it, so
  // that after a crash the fire is either recorded or still ahead of the last fire.
  StoreGroup group(store_);
  std::optional<NotRunRecord> folded_record;
  if (fire.collapsed > 0) {
    // Folded fires: `first` is the earliest, `count` how many, `folded_into` the one that runs.
    Fire folded{fire.job, fire.first_collapsed, fire.first_collapsed};
    folded.last_collapsed = fire.last_collapsed;
    folded_record = not_run_of(folded, RunState::kMissed,
                               held_back_ ? NotRunReason::kOverloaded : NotRunReason::kClockJump,
                               fire.collapsed, fire.scheduled);
  }
  const OfferResult result = dispatcher_.offer(fire, policy ? *policy : policy_of(*job.spec));
  const bool goes_on = result.outcome != OfferOutcome::kSkipped && !recorded && fire.attempt == 1;
  if (folded_record && !(goes_on && result.displaced.empty() && result.to_cancel.empty())) {
    // Never recorded pending (folded as they were taken from the schedule): one write with the
    // job's next fire, as a skipped fire's, before the records of the fire's own outcome. The
    // common case, a fire that goes on and nothing else, records them with its pending fire.
    store_.put_fire_not_run(*folded_record, scheduler_.next_fire(fire.job));
    folded_record.reset();
  }
  for (const Fire& displaced : result.displaced) {
    record_not_run(displaced, RunState::kSkipped, NotRunReason::kOverlap);
  }
  for (RunId id : result.to_cancel) {
    if (!cancel_unspawned(id)) supervisor_.cancel(id, RunState::kCancelled);
  }
  switch (result.outcome) {
    case OfferOutcome::kSkipped:
      record_skipped(fire, recorded, NotRunReason::kOverlap);
      break;
    case OfferOutcome::kPending:
      if (events_.wants(EventKind::kFirePending, Severity::kDebug)) {
        events_.emit(Severity::kDebug, EventKind::kFirePending,
                     {{"job", job.spec->name}, {"scheduled", utc(fire.scheduled)}});
      }
      [[fallthrough]];
    case OfferOutcome::kReady:
      if (!recorded) record_pending(fire, std::move(folded_record));
      break;
  }
  return {result.outcome, fire.run};
}

void Engine::record_skipped(const Fire& fire, bool recorded, NotRunReason reason) {
  NotRunRecord record = not_run_of(fire, RunState::kSkipped, reason);
  if (recorded || fire.attempt > 1) {
    store_.put_not_run(record);
  } else {
    // Taken from its schedule now: its not-run record moves its job's next fire on, in the
    // same write (record_pending() does so for a fire that goes on).
    store_.put_fire_not_run(record, scheduler_.next_fire(fire.job));
  }
}

PendingFire Engine::pending_of(const Fire& fire) const {
  return PendingFire{jobs_[fire.job.value].spec->name,
                     fire.scheduled,
                     fire.due,
                     fire.attempt,
                     fire.resumes,
                     fire.run};
}

void Engine::record_pending(const Fire& fire, std::optional<NotRunRecord> folded) {
  if (fire.attempt == 1) {
    store_.put_fire_taken(pending_of(fire), scheduler_.next_fire(fire.job), std::move(folded));
  } else {
    store_.put_fire(pending_of(fire));
  }
}

RunId Engine::reserve_run_id() {
  const RunId id{next_run_id_++};
  reserved_to_ = id.value + 1;
  return id;
}

void Engine::hold_until_due(Fire fire, Instant wall_now, MonoInstant mono_now) {
  // A first attempt of a busy job that skips overlapping fires will most likely be skipped when
  // it is due: it is recorded then (pending, or not run), not as pending now and as not run
  // then. An overloaded scheduler skips many, and each cost as much as a run. Should the job
  // be free by then, its run waits for the pending record's commit (start_run()).
  const bool likely_skipped =
      fire.attempt == 1 && jobs_[fire.job.value].spec->options->overlap == OverlapPolicy::kSkip &&
      dispatcher_.busy(fire.job);
  if (fire.run.value == 0 && !likely_skipped) {
    fire.run = reserve_run_id();
    record_pending(fire);
  }
  held_.push_back(Held{mono_now + (fire.due - wall_now), held_seq_++, std::move(fire)});
  std::push_heap(held_.begin(), held_.end(), Held::later);
}

void Engine::settle_reservations() {
  if (reserved_to_ == settling_to_) return;
  settling_to_ = reserved_to_;
  // A failed commit settles them too: spawns do not wait for a disk that refuses writes.
  // Batched: these fires are due kLookahead from now at the soonest; a commit at once for each
  // tick would make a busy store commit a few fires at a time. Commits, and so these
  // callbacks, come in the order of the writes: each settles every id reserved before.
  after_commit(
      store_, io_, alive_,
      [this, upto = reserved_to_](const Status&) {
        settled_below_ = std::max(settled_below_, upto);
      },
      Store::Pace::kBatched);
}

void Engine::pump() {
  settle_reservations();
  if (shutting_down_ || draining_) return;
  std::vector<Dropped> dropped;
  const std::vector<Fire> startable = dispatcher_.take_startable(clock_.wall_now(), &dropped);
  for (const Dropped& d : dropped) record_not_run(d.fire, RunState::kMissed, d.reason);
  if (startable.empty()) return;
  std::vector<RunId> recorded, settling;
  for (const Fire& fire : startable) start_run(fire, recorded, settling);
  // Spawned once their records are committed: a kill -9 at any moment then leaves either a
  // pending fire, a run recorded before its spawn (found again at start), or a running run.
  // Handler runs wait for their pending fire's commit with the writer's next batch: no write
  // of their own, so that a scheduler behind its fires does not add one per fire.
  for (auto [ids, pace] :
       {std::pair{&recorded, Store::Pace::kNow}, std::pair{&settling, Store::Pace::kBatched}}) {
    if (ids->empty()) continue;
    after_commit(
        store_, io_, alive_,
        [this, ids = std::move(*ids)](const Status& status) { spawn_recorded(ids, status); }, pace);
  }
}

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
  return true;
}

bool Engine::check_store_behind(const StoreHealth& health) {
  // Backpressure: taking fires faster than their records commit would only put every run
  // behind a longer queue of writes (each waits for its fire's record), until none started at
  // all. While the store commits but is max_unwritten writes or more behind, fires stay in
  // the schedule and come late; those that fall an interval behind are folded into the next
  // (reason "overloaded"). A store that fails its commits is not waited for (see
  // check_store_health()): scheduling goes on.
  const bool behind =
      health.ok && health.unwritten >= static_cast<std::uint64_t>(config_.store.max_unwritten);
  if (behind && !store_behind_) {
    events_.emit(Severity::kWarn, EventKind::kStoreBehind,
                 {{"unwritten", health.unwritten},
                  {"effect", "no new fires are taken until the store catches up"}});
  } else if (!behind && store_behind_) {
    events_.emit(Severity::kInfo, EventKind::kStoreCaughtUp, {{"unwritten", health.unwritten}});
  }
  store_behind_ = behind;
  return behind;
}

StoreHealth Engine::check_store_health() {
  const StoreHealth health = store_.health();
  if (!health.ok && !store_failing_) {
    events_.emit(Severity::kError, EventKind::kStoreUnwritable,
                 {{"error", health.error},
                  {"unwritten", health.unwritten},
                  {"effect", "scheduling goes on; writes are kept and retried every second"}});
  } else if (health.ok && store_failing_) {
    events_.emit(Severity::kInfo, EventKind::kStoreWritable, {{"unwritten", health.unwritten}});
  }
  store_failing_ = !health.ok;
  return health;
}

void Engine::record_not_run(const Fire& fire, RunState state, NotRunReason reason,
                            std::uint64_t count, std::optional<Instant> folded_into) {
  store_.put_not_run(not_run_of(fire, state, reason, count, folded_into));
}

NotRunRecord Engine::not_run_of(const Fire& fire, RunState state, NotRunReason reason,
                                std::uint64_t count, std::optional<Instant> folded_into) {
  // A retry that will not run needs its checkpoint no more.
  if (fire.attempt > 1) checkpoints_.erase({fire.job.value, fire.scheduled});
  if (events_.wants(
          EventKind::kFireNotRun,
          Severity::kInfo)) {  // an overloaded scheduler skips many: no JSON unless logged
    json fields = {{"job", jobs_[fire.job.value].spec->name},
                   {"state", to_string(state)},
                   {"reason", to_string(reason)},
                   {"scheduled", utc(fire.scheduled)},
                   {"count", count}};
    if (folded_into) fields["folded_into"] = utc(*folded_into);
    events_.emit(Severity::kInfo, EventKind::kFireNotRun, fields);
  }
  const Instant last = count > 1 ? fire.last_collapsed : fire.scheduled;
  return NotRunRecord{
      jobs_[fire.job.value].spec->name, state, reason, fire.scheduled, last, count, fire.run};
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
  if (is_handler_job(*spec)) {
    handlers_.start(id, fire.job, std::move(spec), fire, std::move(checkpoint));
  } else {
    supervisor_.start(id, fire.job, std::move(spec), fire, std::move(checkpoint));
  }
}

void Engine::on_run_finished(const RunOutcome& outcome) {
  dispatcher_.finished(outcome.job, outcome.run);
  maybe_retry(outcome);
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

void Engine::maybe_retry(const RunOutcome& run) {
  if (shutting_down_) return;
  if (run.state != RunState::kFailed && run.state != RunState::kTimedOut) return;
  if (!run.retryable) return;
  // A removed job's identity has ended: a retry would be a fire of the next job of its name.
  if (jobs_[run.job.value].removed) return;
  if (run.fire.attempt - run.fire.resumes > run.spec->options->retries) return;
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
