// The engine's clock work: its timers, each tick taking the fires due from the scheduler,
// recording them and offering them to the dispatcher, and the pump that starts what may start.
// Start and recovery are in engine_recovery.cpp, the job table in engine_jobs.cpp, runs'
// starts and ends in engine_runs.cpp, what the control socket asks in engine_control.cpp.
#include "runtime/engine.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
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

int handler_threads(const Config& config) {
  if (config.daemon.handler_threads > 0) return config.daemon.handler_threads;
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
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
      settling_to_(next_run_id_) {
  supervisor_.set_on_late_start([this] { rearm(); });
  supervisor_.set_on_stall([this](const RunOutcome& run) { hooks_of_stall(run); });
  handlers_.set_on_stall([this](const RunOutcome& run) { hooks_of_stall(run); });
}

Engine::~Engine() = default;

DispatchLimits Engine::limits_of(const Config& config) {
  return DispatchLimits{config.daemon.max_concurrent_runs, config.pools,
                        config.daemon.runs_per_user()};
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
    if (const auto w = next_requirement_deadline(); w && (!s || *w < *s)) s = w;
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
    check_waiting_workflows();
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
  if (recovered_step_fires_) note_recovered_fire(fire.job, fire.scheduled, fire.run);
  if (fire.attempt == 1 && !policy && job_paused(job.spec->name)) {
    record_skipped(fire, recorded, NotRunReason::kPaused);
    return {OfferOutcome::kSkipped, fire.run};
  }
  if (job.spec->command.empty() && !is_handler_job(*job.spec) &&
      workflow_of_schedule_job(job.spec->name)) {
    return fire_workflow(fire, recorded);
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
      store_, commit_gate_,
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
        store_, commit_gate_,
        [this, ids = std::move(*ids)](const Status& status) { spawn_recorded(ids, status); }, pace);
  }
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
  hooks_of_not_run(fire.job, state, reason, fire.scheduled, count);
  const Instant last = count > 1 ? fire.last_collapsed : fire.scheduled;
  return NotRunRecord{
      jobs_[fire.job.value].spec->name, state, reason, fire.scheduled, last, count, fire.run};
}

}  // namespace skedd
