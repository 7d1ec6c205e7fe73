// The engine at start: the jobs scheduled, and what an earlier skedd left recovered (runs
// adopted or resumed, pending fires offered again, missed fires caught up).
#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <thread>
#include <variant>

#include "exec/proc.h"
#include "exec/run_files.h"
#include "runtime/engine.h"
#include "runtime/log_fields.h"
#include "skedd/core/catch_up.h"
#include "skedd/schedule/schedule.h"
#include "skedd/time/timestamp.h"

namespace skedd {
namespace {

/// "PID START CONNECTION", as the store's meta keeps it.
std::string encode_host_session(const HostSession& s) {
  return std::to_string(s.pid) + " " + std::to_string(s.start) + " " + std::to_string(s.connection);
}

using nlohmann::json;

}  // namespace

void Engine::start(std::vector<ApiJob> api_jobs) {
  jobs_.reserve(config_.jobs.size() + api_jobs.size());
  std::vector<SpecPtr> specs = with_api_specs(std::exchange(config_.jobs, {}), api_jobs);
  append_step_specs(config_, specs);
  for (SpecPtr& spec : specs) {
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
  load_lines_ = 0;
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
  const auto seen = store_.meta("last_seen");
  if (seen && seen.value()) {
    if (auto t = parse_rfc3339(*seen.value())) last_seen = t.value();
  } else if (seen) {
    // A store no skedd has recorded itself up in: this one is up from `now`, recorded at
    // once, so that one killed while it starts leaves the instant later one-shots catch up
    // from. (A recorded time moves on only at the end, once the catch-ups from it are queued.)
    store_.put_meta("last_seen", format_rfc3339_utc(now));
  }
  // Empty when unreadable: then @reboot jobs run at every start.
  const std::string boot = current_boot_id();
  const auto stored_boot = store_.meta("boot_id");
  const bool same_boot = !boot.empty() && stored_boot && stored_boot.value() == boot;
  // Runs are adopted unless the store says another boot: a skedd killed before its first
  // start had committed the boot id left runs of this boot all the same.
  same_boot_ =
      !(stored_boot && stored_boot.value() && !boot.empty() && *stored_boot.value() != boot);
  // Before any fire is recorded: a run this skedd starts is committed after the boot it
  // started in, so a skedd killed at any moment leaves its runs adoptable.
  store_.put_meta("boot_id", boot);
  // The run host's session, also before any fire is recorded. When this skedd's session is
  // the one after the previous skedd's (the same host, the next connection), that host got
  // every spawn the previous skedd asked for: a run it neither runs nor kept never spawned.
  // A host that is lost and reconnected, restarted or re-executed starts another count.
  const std::optional<HostSession> session = spawner_.host_session();
  const auto stored_session = store_.meta("run_host");
  host_continuous_ =
      same_boot && session && session->connection > 1 && stored_session && stored_session.value() &&
      *stored_session.value() ==
          encode_host_session(HostSession{session->pid, session->start, session->connection - 1});
  store_.put_meta("run_host", session ? encode_host_session(*session) : "");

  // The next fires the previous skedd planned, for `every` jobs that have not fired yet.
  auto planned = store_.next_fires();
  std::vector<std::pair<JobId, Instant>> catch_ups;
  Store::NextFires next_fires;
  next_fires.reserve(jobs_.size());
  scheduler_.reserve(jobs_.size());
  for (std::uint32_t i = 0; i < jobs_.size(); ++i) {
    const JobId id{i};
    const JobSpec& spec = *jobs_[i].spec;
    std::optional<Instant> last;
    if (last_fires) {
      if (auto it = last_fires->find(spec.name); it != last_fires->end()) last = it->second;
    }
    if (same_boot && spec.schedule->is_reboot()) scheduler_.mark_reboot_done(id);
    // An `every` job counts from its last fire; one that has not fired yet, from the first
    // fire planned for it (the scheduler takes the first on that rhythm after now), else a
    // skedd restarted more often than its interval would put it off for ever.
    std::optional<Instant> anchor = last;
    if (!last && planned && spec.schedule->is_every()) {
      if (auto it = planned->find(spec.name); it != planned->end()) {
        anchor = it->second - std::get<EverySchedule>(spec.schedule->kind).interval;
      }
    }
    schedule_added(id, anchor, &next_fires);
    // A one-shot has no last fire: whether it passed while skedd was down is measured from
    // when skedd was last seen, or on a first start from `now` (one due while the jobs are
    // added is caught up). Other jobs catch up from their own last fire only, so that a
    // job added while skedd was down does not "catch up" fires from before it existed.
    const std::optional<Instant> since =
        spec.schedule->is_at() && !last ? last_seen.value_or(now) : last;
    if (since && !spec.schedule->is_reboot()) catch_ups.emplace_back(id, *since);
  }
  store_.put_next_fires(std::move(next_fires));
  log_job_lines_limited();
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
  reload_unfinished_workflow_runs();
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
  settle_recovered_workflow_runs();
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
  RunQuery live(std::nullopt, RunState::kRunning, 1'000'000);
  live.outputs = true;  // an adopted run's outputs count against its bound
  auto running = store_.runs(live);
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
    RunId reserved{};  // the run id the fire is offered under again (0: a new one)
    if (!record.log_path.empty() && ::lstat(record.log_path.c_str(), &st) == 0) {
      if (const auto pid =
              same_boot_ ? spawner_.find_run(record.run.value, supervisor_.control_path(record.run))
                         : std::nullopt) {
        record.pid = *pid;
        record.pid_start = spawner_.start_time(*pid);
        running->push_back(std::move(record));
        continue;
      }
      if (const auto kept = same_boot_ ? spawner_.kept_run(record.run.value) : std::nullopt) {
        // It ended while skedd was down, and the run host kept its exit: recorded as it ended,
        // not taken for a run that ended unseen.
        record.pid = kept->first;
        record.pid_start = kept->second;
        running->push_back(std::move(record));
        continue;
      }
      // Neither running nor kept by the run host that got every spawn the previous skedd
      // asked for, and its log empty: skedd stopped between making the run's files and
      // asking for the spawn. The spawn never began after all.
      if (!host_continuous_ || !S_ISREG(st.st_mode) || st.st_size != 0) {
        running->push_back(std::move(record));
        continue;
      }
      ::unlink(record.log_path.c_str());
      remove_control_file(supervisor_.control_path(record.run));
      // Under its own id: a pending fire that reserved it is settled by that run alone.
      reserved = record.run;
    }
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
                                record.attempt, resumes, reserved},
                    now);
  }
  for (RunRecord& record : running.value()) {
    // A run of an ended identity of the name is not the loaded job's: never adopted as one of
    // its runs, nor resumed as its fire.
    const std::optional<JobId> job = job_of_record(record.job, record.run);
    // The same boot, pid and process start time: the very process the earlier skedd started
    // (a start time counts from boot: after a reboot another process may have the same pair).
    const bool alive = same_boot_ && record.pid && record.pid_start &&
                       spawner_.start_time(*record.pid) == record.pid_start;
    // Or it ended while skedd was down, and the run host kept how: it is adopted all the same,
    // and ends at once with that status (and what it wrote to its channel meanwhile).
    const bool kept = same_boot_ && record.pid && record.pid_start &&
                      spawner_.kept_exit(*record.pid, *record.pid_start).has_value();
    if ((alive || kept) && job) {
      const Job& j = jobs_[job->value];
      if (supervisor_.adopt(record, *job, j.spec)) {
        dispatcher_.adopt(*job, record.run, j.spec->options->pool, policy_of(*j.spec).share);
        note_recovered_fire(*job, record.scheduled, record.run);
        if (record.state != RunState::kRunning) {
          record.state = RunState::kRunning;
          store_.put_run(record);
        }
        continue;
      }
    }
    const bool handler = job && is_handler_job(*jobs_[job->value].spec);
    // Its process ended in this boot, unseen and not kept by a run host: it was not
    // interrupted, it ended, and how is unknown (on_unknown_exit, not on_interrupt).
    if (!alive && !kept && job && !handler && same_boot_ && record.pid) {
      ended_unseen(*job, record, now);
      continue;
    }
    // Its process is gone (or its job is): the run was interrupted (what it wrote to its
    // control channel meanwhile went with the channel's last open end). Its record and the
    // next attempt's pending fire are one write.
    StoreGroup group(store_);
    record.ended = now;
    record.state = RunState::kInterrupted;
    record.message = alive         ? "its job is no longer defined; the process was left running"
                     : handler     ? "the program running its handler stopped or was killed"
                     : !same_boot_ ? "the machine restarted while it ran"
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

void Engine::ended_unseen(JobId id, RunRecord& record, Instant now) {
  const JobSpec& spec = *jobs_[id.value].spec;
  StoreGroup group(store_);
  record.ended = now;
  record.state = RunState::kFailed;
  record.message =
      "exit status unknown: its process ended while skedd was not running, and no run host kept "
      "its exit";
  if (spec.options->on_unknown_exit == OnUnknownExit::kRerun) {
    record.message += "; run again (on_unknown_exit = \"rerun\")";
  }
  store_.put_run(record);
  events_.emit(Severity::kWarn, EventKind::kRunExitUnknown,
               {{"job", record.job},
                {"run", record.run.value},
                {"message", record.message},
                {"on_unknown_exit", to_string(spec.options->on_unknown_exit)}});
  Fire fire{id, record.scheduled, record.started - record.lateness, record.attempt};
  rerun_unknown(RunOutcome{record.run, id, jobs_[id.value].spec, fire, RunState::kFailed,
                           record.checkpoint, false});
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
    note_recovered_fire(id, fire.scheduled, fire.run);
    if (fire.attempt > 1) {
      scheduler_.schedule_retry(fire, fire.due - now);
    } else {
      // Taken ahead of its time before the restart.
      hold_until_due(fire, now, clock_.mono_now());
    }
    return;
  }
  // catch_up = "all": a fire pending at the stop was one caught up, or due while the earlier
  // skedd ran; it runs beside the others and the adopted runs, as catch-up fires do (under
  // the job's overlap = "skip", a second stop in a row used to skip all but the first).
  if (spec.options->catch_up == CatchUp::kAll && !job_paused(spec.name)) {
    const DispatchPolicy policy = backlog_policy(spec);
    handle_fire(fire, &policy);
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

DispatchPolicy Engine::backlog_policy(const JobSpec& spec) const {
  // The fires `all` catches up would overlap one another, and a fire recovered or a run
  // adopted just before: under the job's own overlap policy all but the first would be
  // skipped. They run side by side, as overlap = "allow" lets them; the fires after them obey
  // the job's policy. `once` runs its fire under the job's policy.
  DispatchPolicy policy = policy_of(spec);
  if (spec.options->catch_up == CatchUp::kAll) policy.overlap = OverlapPolicy::kAllow;
  return policy;
}

void Engine::catch_up(JobId id, Instant since, Instant until) {
  const JobSpec& spec = *jobs_[id.value].spec;
  const CatchUpPlan plan = plan_catch_up(spec, since, until);
  if (plan.missed > 0) {
    Fire first{id, plan.first_missed, plan.first_missed};
    first.last_collapsed = plan.last_missed;
    record_not_run(first, RunState::kMissed, NotRunReason::kMissedWhileDown, plan.missed);
  }
  const DispatchPolicy policy = backlog_policy(spec);
  const bool paused = job_paused(spec.name);
  for (Instant t : plan.run) {
    events_.emit(Severity::kInfo, EventKind::kCatchUp, {{"job", spec.name}, {"scheduled", utc(t)}});
    // A paused job's fires are recorded paused (a given policy would start them).
    handle_fire(Fire{id, t, t}, paused ? nullptr : &policy);
  }
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

}  // namespace skedd
