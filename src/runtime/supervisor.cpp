// Runs' processes from spawn to exit: the spawn, the exit and what it means, leftovers, the
// supervision deadlines, adoption. (Also supervisor_channel.cpp, supervisor_files.cpp and
// supervisor_pause.cpp.)
#include "runtime/supervisor.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "runtime/after_commit.h"
#include "runtime/log_fields.h"
#include "runtime/run_mail.h"
#include "runtime/started_run.h"
#include "runtime/supervisor_run.h"
#include "skedd/runtime/events.h"
#include "skedd/time/duration.h"
#include "skedd/time/timestamp.h"

namespace skedd {
namespace {

using nlohmann::json;

// While leftover groups or undeleted cgroups remain, they are looked at this often.
constexpr Duration kSweepInterval = std::chrono::milliseconds(100);

}  // namespace

Supervisor::Supervisor(asio::io_context& io, const Clock& clock, ProcessSpawner& spawner,
                       Store& store, Events events, SupervisorOptions options,
                       OnFinished on_finished)
    : io_(io),
      clock_(clock),
      spawner_(spawner),
      store_(store),
      events_(events),
      options_(std::move(options)),
      on_finished_(std::move(on_finished)),
      self_(current_user()) {
  dev_null_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (dev_null_ < 0) throw std::system_error(errno, std::generic_category(), "open /dev/null");
  if (options_.use_cgroups) {
    std::string why_not;
    cgroups_ = Cgroups::detect(&why_not);
    if (cgroups_.enabled()) {
      events_.emit(Severity::kInfo, EventKind::kCgroups, {{"base", cgroups_.base()}});
    } else {
      events_.emit(
          Severity::kWarn, EventKind::kCgroupsUnavailable,
          {{"reason", why_not}, {"effect", "hard kills reach the run's process group only"}});
    }
  }
}

Supervisor::~Supervisor() {
  for (const auto& [pid, id] : run_by_pid_) spawner_.unwatch(pid);
  for (pid_t pid : helpers_) spawner_.unwatch(pid);
  files_.join();  // a mail being composed reads at most 2 * kMailPart
  run_files_.join();
  if (dev_null_ >= 0) ::close(dev_null_);
}

void Supervisor::start(RunId id, JobId job, std::shared_ptr<const JobSpec> spec, const Fire& fire,
                       std::string checkpoint) {
  auto owned = std::make_unique<Run>();
  Run& run = *owned;
  static_cast<StartedRun&>(run) =
      StartedRun{id, job, std::move(spec), fire, std::move(checkpoint), clock_.wall_now()};
  run.started_mono = clock_.mono_now();
  runs_.emplace(id, std::move(owned));

  run.spawning = true;
  spawn(run);
}

void Supervisor::spawned(RunId id, Result<pid_t> pid) {
  const auto it = runs_.find(id);
  if (it == runs_.end()) return;
  Run& run = *it->second;
  run.spawning = false;
  if (!pid) {
    events_.emit(Severity::kError, EventKind::kRunFailedToStart,
                 {{"job", run.spec->name}, {"run", id.value}, {"error", pid.error().message}});
    finish(run, RunState::kFailed, std::nullopt, std::nullopt, pid.error().message);
    return;
  }
  run.pid = pid.value();
  // Before the watch: a run host's answer holds the start time until the exit is watched.
  run.pid_start = spawner_.spawned_start_time(run.pid);
  // Unwatchable (out of descriptors): the spawner has killed it, so that it never runs unseen.
  if (const Status watched = watch_exit(run, false); !watched) {
    events_.emit(Severity::kError, EventKind::kRunFailedToStart,
                 {{"job", run.spec->name}, {"run", id.value}, {"error", watched.error().message}});
    run.pid = -1;
    finish(run, RunState::kFailed, std::nullopt, std::nullopt, watched.error().message);
    return;
  }
  store_.put_run(record_of(run, RunState::kRunning));
  run.last_activity = clock_.mono_now();
  events_.emit(Severity::kInfo, EventKind::kRunStarted,
               {{"job", run.spec->name},
                {"run", id.value},
                {"pid", run.pid},
                {"attempt", run.fire.attempt},
                {"scheduled", utc(run.fire.scheduled)},
                {"lateness_ms", millis(run.started - run.fire.due)},
                {"log", run.files.log_path}});
  run.control =
      std::make_unique<asio::posix::stream_descriptor>(io_, run.files.control_read.release());
  watch_control(run);
  push_timeouts(run);
  push_deadline(run, Deadline::kLogCheck, run.started_mono + kLogCheckInterval);
  // Cancelled while its spawn was under way: signalled now that it has a process group.
  if (run.cancelled_as) {
    signal_group(run, run.spec->options->soft_signal);
    run.grace_end = clock_.mono_now() + options_.kill_grace;
    push_deadline(run, Deadline::kGraceKill, *run.grace_end);
  }
  // Always after the engine's own pass: the run's files were made off the loop.
  if (on_late_start_) on_late_start_();
}

RunRecord Supervisor::record_of(const Run& run, RunState state) const {
  RunRecord r = run.record(state);
  if (run.pid > 0) r.pid = run.pid;
  r.log_path = run.files.log_path;
  r.pid_start = run.pid_start;
  r.progress = run.progress;
  r.progress_message = run.progress_message;
  r.frozen = run.frozen;
  r.owner = run.owner;
  if (run.frozen_since) r.frozen += clock_.mono_now() - *run.frozen_since;
  return r;
}

std::optional<uid_t> Supervisor::owner_of(const JobSpec& spec) const {
  if (!spec.options->user) return self_.uid;
  auto user = lookup_user(*spec.options->user);
  return user ? std::optional<uid_t>(user->uid) : std::nullopt;
}

bool Supervisor::has_run(RunId id) const {
  const auto it = runs_.find(id);
  return it != runs_.end() && (it->second->spawning || run_by_pid_.contains(it->second->pid));
}

Status Supervisor::send_input(RunId id, const std::string& line) {
  if (!has_run(id)) return Error::not_found("not running");
  Run& run = *runs_.at(id);
  if (!run.pid_start) return Error::not_found("its process is not known");
  // A token bucket: a user cannot make skedd and the host write without bound.
  const MonoInstant now = clock_.mono_now();
  const Duration per_line = Duration(std::chrono::seconds(1)) / kInputLinesPerSecond;
  run.input_tokens =
      std::min<double>(kInputLinesPerSecond,
                       run.input_tokens + static_cast<double>((now - run.input_filled).count()) /
                                              static_cast<double>(per_line.count()));
  run.input_filled = now;
  if (run.input_tokens < 1) {
    return Error::invalid_argument("more than " + std::to_string(kInputLinesPerSecond) +
                                   " lines a second");
  }
  run.input_tokens -= 1;
  return spawner_.send_input(run.pid, *run.pid_start, line);
}

std::string Supervisor::log_path(const std::string& job, RunId id) const {
  return run_log_path(options_.state_dir, job, id);
}

void Supervisor::reap_orphans() {
  spawner_.reap_orphans();
  sweep();
}

void Supervisor::sweep() {
  // A group that answers no more has no live process left (in a subreaper, once its orphans
  // were reaped above).
  for (auto it = leftover_groups_.begin(); it != leftover_groups_.end();) {
    const RunId id{it->first};
    if (spawner_.signal_group(it->second, 0)) {
      ++it;
      continue;
    }
    it = leftover_groups_.erase(it);
    if (auto run = runs_.find(id); run != runs_.end()) {
      remove_deadline(*run->second, Deadline::kGraceKill);
      if (run->second->has_cgroup) release_cgroup(*run->second);
      runs_.erase(run);
    }
  }
  // cgroup.kill is asynchronous: a cgroup is removed once its last process has been reaped.
  for (auto it = cgroups_to_remove_.begin(); it != cgroups_to_remove_.end();) {
    it = cgroups_.remove(RunId{*it}) ? cgroups_to_remove_.erase(it) : std::next(it);
  }
  arm_sweep();
}

void Supervisor::arm_sweep() {
  if (leftover_groups_.empty() && cgroups_to_remove_.empty()) return;
  if (deadlines_.contains(kSweepKey)) return;
  deadlines_.push(kSweepKey, clock_.mono_now() + kSweepInterval, 0,
                  Event{RunId{0}, Deadline::kSweep});
}

Status Supervisor::watch_exit(Run& run, bool adopted) {
  auto watched = spawner_.watch_exit(
      run.pid, adopted, [this, id = run.id](const ProcessExit& exit) { on_exit(id, exit); });
  if (watched) run_by_pid_[run.pid] = run.id;
  return watched;
}

Status Supervisor::watch_helper(pid_t pid) {
  // Unwatchable: the spawner has killed it.
  Status watched =
      spawner_.watch_exit(pid, false, [this, pid](const ProcessExit&) { helpers_.erase(pid); });
  if (watched) helpers_.insert(pid);
  return watched;
}

void Supervisor::on_deadlines() {
  for (const auto& entry : deadlines_.pop_due(clock_.mono_now())) on_deadline(entry.payload);
}

void Supervisor::remove_deadline(const Run& run, Deadline what) {
  deadlines_.remove(deadline_key(run.id, what));
}

void Supervisor::spawn(Run& run) {
  const auto tell = [this, id = run.id](Result<pid_t> pid) { spawned(id, std::move(pid)); };
  const JobSpec& spec = *run.spec;
  const JobOptions& options = *spec.options;
  // The daemon's own account is looked up once; a job's `user` on every run, so that an
  // account change takes effect without a restart.
  auto user = options.user ? lookup_user(*options.user) : Result<UserInfo>(self_);
  if (!user) return tell(user.error());
  run.owner = user->uid;
  auto credentials = job_credentials(spec, user.value());
  if (!credentials) return tell(credentials.error());
  // The log (whose existence tells a restarted skedd that the spawn had begun), the FIFO and
  // the cgroup, on run_files_; the spawn follows on the loop.
  off_loop(
      run_files_,
      [state_dir = options_.state_dir, runtime_dir = options_.runtime_dir, job = spec.name,
       id = run.id, uid = user->uid, gid = user->gid,
       cgroups = cgroups_.enabled() ? &cgroups_ : nullptr]() -> Result<PreparedRun> {
        auto files = create_run_files(state_dir, runtime_dir, job, id, uid, gid);
        if (!files) return files.error();
        PreparedRun prepared{std::move(files.value()), std::nullopt};
        if (cgroups != nullptr) prepared.cgroup_procs = cgroups->create(id);
        return prepared;
      },
      [this, id = run.id, user = user.value(),
       credentials = credentials.value()](Result<PreparedRun>& prepared) {
        if (!prepared) return spawned(id, prepared.error());
        spawn_prepared(id, user, credentials, prepared.value());
      });
}

void Supervisor::spawn_prepared(RunId id, const UserInfo& user,
                                const std::optional<Credentials>& credentials,
                                PreparedRun& prepared) {
  const auto it = runs_.find(id);
  if (it == runs_.end()) {
    remove_control_file(prepared.files.control_path);
    return;
  }
  Run& run = *it->second;
  const auto tell = [this, id](Result<pid_t> pid) { spawned(id, std::move(pid)); };
  const JobSpec& spec = *run.spec;
  const JobOptions& options = *spec.options;
  run.files = std::move(prepared.files);

  SpawnRequest request;
  request.argv = spec.command.to_vector();
  request.env = build_environment(
      spec, user, RunAttempt{run.id, run.fire.scheduled, run.fire.attempt, run.checkpoint});
  std::string path_list = default_path(user.uid);
  if (auto it = options.env.find("PATH"); it != options.env.end()) path_list = it->second;
  // Searched for by the child once it runs as the job's user (see SpawnRequest::path).
  request.path = std::string(spec.command.front());
  request.search_path = std::move(path_list);
  request.working_dir = options.working_dir.value_or(user.home);
  request.stdin_fd = dev_null_;
  request.output_fd = run.files.log.get();
  request.control_fd = run.files.control_child.get();
  if (options.umask) request.umask = static_cast<mode_t>(*options.umask);
  request.nice = options.nice;
  request.limit_nofile = options.limit_nofile;
  request.limit_memory = options.limit_memory;
  request.credentials = credentials;
  UniqueFd cgroup_procs;
  if (prepared.cgroup_procs) {
    if (*prepared.cgroup_procs) {
      cgroup_procs = std::move(prepared.cgroup_procs->value());
      request.cgroup_procs_fd = cgroup_procs.get();
      run.has_cgroup = true;
    } else {
      events_.emit(Severity::kWarn, EventKind::kCgroupFailed,
                   {{"run", run.id.value}, {"error", prepared.cgroup_procs->error().message}});
    }
  }
  // The child gets its own copies; skedd keeps only the read end of the channel. Taken out of
  // `run` first: spawned() may have ended it by the time spawn_async() returns.
  const UniqueFd log = std::move(run.files.log);
  const UniqueFd control_child = std::move(run.files.control_child);
  spawner_.spawn_async(request, tell);
}

void Supervisor::on_exit(RunId id, const ProcessExit& exit) {
  const auto it = runs_.find(id);
  if (it == runs_.end()) return;
  Run& run = *it->second;
  run_by_pid_.erase(run.pid);
  ended(run, exit);
}

void Supervisor::ended(Run& run, const ProcessExit& exit) {
  std::optional<int> exit_code = exit.exit_code;
  const std::optional<int> signal = exit.signal;
  read_control(run);
  handle_lines(run, true);
  // An adopted run's status is unknown to skedd: its own `exit <code>` line stands in.
  const bool unknown = !exit_code && !signal;
  if (unknown && run.reported_exit) exit_code = run.reported_exit;

  RunState state;
  std::string message;
  if (run.cancelled_as) {
    state = *run.cancelled_as;
  } else if (run.stall_killed) {
    state = RunState::kStalled;
    message = "stalled: no control line or output for " +
              format_duration(*run.spec->options->stall_timeout) + " (on_stall_kill)";
  } else if (run.soft_timeout_sent || run.hard_timeout_sent) {
    // Exiting after the soft signal, however it exits, is a timeout.
    state = RunState::kTimedOut;
    message = run.hard_timeout_sent ? "hard timeout" : "soft timeout";
  } else if (signal) {
    state = RunState::kKilled;
    message = "killed by " + signal_name(*signal);
  } else if (!exit_code) {
    state = RunState::kFailed;
    message = run.adopted ? "exit status unknown: adopted after a restart of skedd with no run "
                            "host keeping it, and the run wrote no `exit <code>` line"
                          : "exit status unknown: another waiter of the process took it, and "
                            "the run wrote no `exit <code>` line";
    if (run.spec->options->on_unknown_exit == OnUnknownExit::kRerun) {
      message += "; run again (on_unknown_exit = \"rerun\")";
    }
  } else {
    state = *exit_code == 0 ? RunState::kSucceeded : RunState::kFailed;
  }

  // Leftovers: processes still in the run's group after its main process exited.
  if (run.spec->options->kill_leftovers && spawner_.signal_group(run.pid, 0)) {
    spawner_.signal_group(run.pid, run.spec->options->soft_signal);
    spawner_.signal_group(run.pid, SIGCONT);
    leftover_groups_[run.id.value] = run.pid;
    arm_sweep();
    // A cancelled run's group had its soft signal already: its grace period is not renewed.
    push_deadline(run, Deadline::kGraceKill,
                  run.grace_end.value_or(clock_.mono_now() + options_.kill_grace));
    events_.emit(Severity::kInfo, EventKind::kLeftoversSignalled,
                 {{"job", run.spec->name}, {"run", run.id.value}, {"pgid", run.pid}});
  }
  finish(run, state, exit_code, signal, message, exit.ended);
}

bool Supervisor::adopt(const RunRecord& record, JobId job, std::shared_ptr<const JobSpec> spec) {
  if (!record.pid) return false;
  auto owned = std::make_unique<Run>();
  Run& run = *owned;
  static_cast<StartedRun&>(run) =
      StartedRun{record.run,
                 job,
                 std::move(spec),
                 Fire{job, record.scheduled, record.started - record.lateness, record.attempt},
                 record.checkpoint,
                 record.started};
  run.pid = *record.pid;
  run.adopted = true;
  run.pid_start = record.pid_start;
  // Its budget keeps counting from its recorded start, on this daemon's monotonic clock.
  run.started_mono = clock_.mono_now() - (clock_.wall_now() - record.started);
  run.last_activity = clock_.mono_now();
  run.frozen = record.frozen;
  run.owner = record.owner;
  run.outputs.restore(record.outputs);
  run.files.log_path = record.log_path;
  run.files.control_path = control_path(record.run);
  if (!watch_exit(run, true)) return false;
  runs_.emplace(run.id, std::move(owned));
  const RunId id = run.id;
  const int control =
      ::open(run.files.control_path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
  if (control >= 0) {
    run.control = std::make_unique<asio::posix::stream_descriptor>(io_, control);
    watch_control(run);
  }
  events_.emit(Severity::kInfo, EventKind::kRunAdopted,
               {{"job", run.spec->name},
                {"run", id.value},
                {"pid", run.pid},
                {"attempt", run.fire.attempt},
                {"control", control >= 0}});
  push_timeouts(run);
  if (!run.files.log_path.empty()) {
    push_deadline(run, Deadline::kLogCheck, clock_.mono_now() + kLogCheckInterval);
  }
  return true;
}

std::string Supervisor::control_path(RunId id) const {
  return options_.runtime_dir + "/runs/" + std::to_string(id.value) + ".ctl";
}

void Supervisor::finish(Run& run, RunState state, std::optional<int> exit_code,
                        std::optional<int> signal, const std::string& message,
                        std::optional<Instant> at) {
  const Instant ended = at.value_or(clock_.wall_now());
  json fields = {{"job", run.spec->name},
                 {"run", run.id.value},
                 {"state", to_string(state)},
                 {"attempt", run.fire.attempt},
                 {"scheduled", utc(run.fire.scheduled)},
                 {"started", utc(run.started)},
                 {"ended", utc(ended)},
                 {"duration_s", seconds(ended - run.started)},
                 {"lateness_ms", millis(run.started - run.fire.due)}};
  if (exit_code) fields["exit_code"] = *exit_code;
  if (signal) fields["signal"] = signal_name(*signal);
  if (run.reported_exit) fields["reported_exit_code"] = *run.reported_exit;
  if (!message.empty()) fields["message"] = message;
  if (!run.files.log_path.empty()) fields["log"] = run.files.log_path;
  const bool bad = state != RunState::kSucceeded;
  events_.emit(bad ? Severity::kWarn : Severity::kInfo, EventKind::kRunFinished, fields);
  RunRecord record = record_of(run, state);
  record.exit_code = exit_code;
  record.signal = signal;
  record.ended = ended;
  record.message = message;
  if (!run.files.log_path.empty()) record.output_tail = read_tail(run.files.log_path, kOutputTail);
  {
    // The run's end and what its owner makes of it (a retry's pending fire) are one write.
    StoreGroup group(store_);
    store_.put_run(record);
    const bool status_unknown = !exit_code && !signal;
    RunOutcome outcome{run.id, run.job, run.spec, run.fire, state, run.checkpoint, !status_unknown};
    outcome.exit_code = exit_code;
    outcome.signal = signal;
    outcome.message = message;
    outcome.log_path = run.files.log_path;
    on_finished_(outcome);
  }
  // A run host keeps the exit until this end is durable (then a restart finds it recorded).
  if (run.pid > 0 && run.pid_start) {
    after_commit(
        store_, commit_gate_,
        [this, pid = run.pid, start = *run.pid_start](const Status& committed) {
          if (committed) spawner_.release(pid, start);
        },
        Store::Pace::kBatched);
  }
  if (run.control) {
    boost::system::error_code ignored;
    run.control->close(ignored);
  }
  if (!run.files.control_path.empty()) remove_control_file(run.files.control_path);
  if (run.spec->options->mail_to && !run.files.log_path.empty()) mail(run);
  if (run.has_cgroup && !leftover_groups_.count(run.id.value)) release_cgroup(run);
  // Keep the grace-kill deadline of leftovers; drop the rest.
  remove_deadline(run, Deadline::kSoft);
  remove_deadline(run, Deadline::kHard);
  remove_deadline(run, Deadline::kLogCheck);
  if (!leftover_groups_.count(run.id.value)) runs_.erase(run.id);
}

void Supervisor::push_deadline(const Run& run, Deadline what, MonoInstant at) {
  deadlines_.push(deadline_key(run.id, what), at, 0, Event{run.id, what});
}

void Supervisor::signal_group(Run& run, int sig) {
  spawner_.signal_group(run.pid, sig);
  // A frozen (SIGSTOPped) group would not act on the signal until continued.
  if (sig != SIGKILL && sig != SIGCONT) spawner_.signal_group(run.pid, SIGCONT);
}

void Supervisor::on_deadline(const Event& event) {
  if (event.what == Deadline::kSweep) return sweep();
  const auto it = runs_.find(event.run);
  if (it == runs_.end()) return;
  Run& run = *it->second;
  switch (event.what) {
    case Deadline::kSoft:
      if (run_by_pid_.count(run.pid) == 0) return;
      run.soft_timeout_sent = true;
      events_.emit(Severity::kWarn, EventKind::kSoftTimeout,
                   {{"job", run.spec->name},
                    {"run", run.id.value},
                    {"signal", signal_name(run.spec->options->soft_signal)}});
      signal_group(run, run.spec->options->soft_signal);
      // Without a hard timeout, a run that ignores the soft signal is killed after kill_grace.
      if (!run.spec->options->hard_timeout) {
        push_deadline(run, Deadline::kHard, clock_.mono_now() + options_.kill_grace);
      }
      break;
    case Deadline::kHard:
      if (run_by_pid_.count(run.pid) == 0) return;
      run.hard_timeout_sent = true;
      events_.emit(Severity::kWarn, EventKind::kHardTimeout,
                   {{"job", run.spec->name}, {"run", run.id.value}});
      signal_group(run, SIGKILL);
      if (run.has_cgroup) cgroups_.kill(run.id);
      break;
    case Deadline::kGraceKill:
      if (run_by_pid_.count(run.pid) != 0) {
        // A cancelled run that outlived kill_grace.
        signal_group(run, SIGKILL);
        if (run.has_cgroup) cgroups_.kill(run.id);
        return;
      }
      if (leftover_groups_.erase(run.id.value) != 0) {
        spawner_.signal_group(run.pid, SIGKILL);
        if (run.has_cgroup) release_cgroup(run);
        runs_.erase(it);
      }
      break;
    case Deadline::kLogCheck: {
      write_progress(run);
      check_log(run);  // and then check_stall(), once the log's size is known
      push_deadline(run, Deadline::kLogCheck, clock_.mono_now() + kLogCheckInterval);
      break;
    }
    case Deadline::kSweep:
      break;
  }
}

int Supervisor::stalled_runs() const {
  int n = 0;
  for (const auto& [id, run] : runs_) n += run->stalled ? 1 : 0;
  return n;
}

int Supervisor::stalled_of(JobId job) const {
  int n = 0;
  for (const auto& [id, run] : runs_) n += run->stalled && run->job == job ? 1 : 0;
  return n;
}

void Supervisor::note_activity(Run& run) {
  run.last_activity = clock_.mono_now();
  if (!run.stalled) return;
  run.stalled = false;
  events_.emit(Severity::kInfo, EventKind::kRunActiveAgain,
               {{"job", run.spec->name}, {"run", run.id.value}});
}

void Supervisor::check_stall(Run& run) {
  const std::optional<Duration> limit = run.spec->options->stall_timeout;
  if (!limit || run.stalled || run.frozen_since || run_by_pid_.count(run.pid) == 0) return;
  const MonoInstant now = clock_.mono_now();
  if (now - run.last_activity < *limit) return;
  run.stalled = true;
  const bool kill = run.spec->options->on_stall_kill;
  events_.emit(Severity::kWarn, EventKind::kRunStalled,
               {{"job", run.spec->name},
                {"run", run.id.value},
                {"silent_s", seconds(now - run.last_activity)},
                {"effect", kill ? "ended (on_stall_kill)" : "marked stalled; it goes on"}});
  if (on_stall_) {
    RunOutcome stalled{
        run.id,         run.job, run.spec, run.fire, kill ? RunState::kStalled : RunState::kRunning,
        run.checkpoint, true};
    stalled.message = "silent for " + format_duration(now - run.last_activity);
    stalled.log_path = run.files.log_path;
    on_stall_(stalled);
  }
  if (!kill) return;
  run.stall_killed = true;
  signal_group(run, SIGKILL);
  if (run.has_cgroup) cgroups_.kill(run.id);
}

void Supervisor::push_timeouts(const Run& run) {
  const JobOptions& options = *run.spec->options;
  // Frozen time does not count: the budget runs from the start plus the time frozen.
  if (options.soft_timeout && !run.soft_timeout_sent) {
    push_deadline(run, Deadline::kSoft, run.started_mono + run.frozen + *options.soft_timeout);
  }
  if (options.hard_timeout && !run.hard_timeout_sent) {
    push_deadline(run, Deadline::kHard, run.started_mono + run.frozen + *options.hard_timeout);
  } else if (run.soft_timeout_sent && !run.hard_timeout_sent) {
    // Sent its soft signal, then frozen: kill_grace starts again.
    push_deadline(run, Deadline::kHard, clock_.mono_now() + options_.kill_grace);
  }
}

}  // namespace skedd
