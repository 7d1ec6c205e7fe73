#include "daemon/engine.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "daemon/event_log.h"
#include "exec/run_files.h"
#include "exec/run_setup.h"
#include "skedd/time/timestamp.h"

namespace skedd {
namespace {

using nlohmann::json;
using spdlog::level::debug;
using spdlog::level::err;
using spdlog::level::info;
using spdlog::level::warn;

// How often a running run's log is checked against log_max_size.
constexpr Duration kLogCheckInterval = std::chrono::seconds(1);
// Calendar timers are armed this far ahead when nothing is due, so a clock step is still seen.
constexpr Duration kIdleWallHorizon = std::chrono::hours(24);

std::string utc(Instant t) {
  return format_rfc3339_utc(t);
}

// Durations as log fields, from whole microseconds so they print without binary noise.
double seconds(Duration d) {
  return static_cast<double>(d.count()) / 1e6;
}
double millis(Duration d) {
  return static_cast<double>(d.count()) / 1e3;
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

DispatchLimits limits_of(const Config& config) {
  return DispatchLimits{config.daemon.max_concurrent_runs, config.pools};
}

}  // namespace

struct Engine::Run {
  RunId id;
  JobId job;
  std::shared_ptr<const JobSpec> spec;
  Fire fire;
  pid_t pid = -1;
  Instant started{};
  MonoInstant started_mono{};
  RunFiles files;
  std::unique_ptr<asio::posix::stream_descriptor> control;
  std::array<char, 4096> read_buffer{};
  LineSplitter lines;
  std::string checkpoint;
  bool soft_timeout_sent = false;
  bool hard_timeout_sent = false;
  std::optional<RunState> cancelled_as;  ///< kCancelled (stop, replace) when we ended it
  std::optional<int> reported_exit;      ///< from an `exit <code>` line
  std::optional<MonoInstant> grace_end;  ///< when a cancelled run's group gets SIGKILL
  bool has_cgroup = false;
};

Engine::Engine(asio::io_context& io, Config config, const Clock& clock, ProcessSpawner& spawner,
               Random& random)
    : io_(io),
      config_(std::move(config)),
      clock_(clock),
      spawner_(spawner),
      random_(random),
      scheduler_(clock, random, host_name()),
      dispatcher_(limits_of(config_)),
      self_(current_user()),
      runtime_dir_(std::filesystem::path(config_.daemon.socket).parent_path().string()),
      wall_timer_(io, CLOCK_REALTIME),
      mono_timer_(io, CLOCK_BOOTTIME),
      child_signal_(io, SIGCHLD),
      // Run ids only need to be unique within the state dir until the store assigns them:
      // microseconds since the epoch at start, counting up, do that across restarts.
      next_run_id_(static_cast<std::uint64_t>(clock.wall_now().time_since_epoch().count())) {
  dev_null_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (dev_null_ < 0) throw std::system_error(errno, std::generic_category(), "open /dev/null");
  if (config_.daemon.use_cgroups) {
    std::string why_not;
    cgroups_ = Cgroups::detect(&why_not);
    if (cgroups_.enabled()) {
      log_event(info, "cgroups", {{"base", cgroups_.base()}});
    } else {
      log_event(warn, "cgroups_unavailable",
                {{"reason", why_not}, {"effect", "hard kills reach the run's process group only"}});
    }
  }
}

Engine::~Engine() {
  if (dev_null_ >= 0) ::close(dev_null_);
}

void Engine::start() {
  std::vector<JobSpec> specs = std::move(config_.jobs);
  config_.jobs.clear();
  for (JobSpec& spec : specs) add_job(std::move(spec));
  child_signal_.async_wait([this](const boost::system::error_code& ec, int) {
    if (!ec) on_child_signal();
  });
  tick();
}

JobId Engine::add_job(JobSpec spec) {
  const JobId id{static_cast<std::uint32_t>(jobs_.size())};
  auto shared = std::make_shared<const JobSpec>(std::move(spec));
  jobs_.push_back(Job{shared, Dispatcher::policy_of(*shared)});
  job_by_name_[shared->name] = id;
  scheduler_.add(id, *shared);
  log_job(id, "job_loaded");
  return id;
}

void Engine::log_job(JobId id, std::string_view event) {
  const JobSpec& spec = *jobs_[id.value].spec;
  const auto next = scheduler_.next_fire(id);
  log_event(info, event,
            {{"job", spec.name},
             {"schedule", spec.schedule.text},
             {"timezone", spec.zone.name()},
             {"next", next ? format_rfc3339(*next, spec.zone) : "never"}});
}

void Engine::reload(Config config) {
  if (shutting_down_) return;
  if (config.daemon.state_dir != config_.daemon.state_dir ||
      config.daemon.socket != config_.daemon.socket) {
    log_event(warn, "reload_needs_restart",
              {{"what", "state_dir and socket"}, {"effect", "kept until skedd restarts"}});
    config.daemon.state_dir = config_.daemon.state_dir;
    config.daemon.socket = config_.daemon.socket;
  }
  std::vector<JobSpec> specs = std::move(config.jobs);
  config.jobs.clear();
  std::map<std::string, JobId> previous = std::move(job_by_name_);
  job_by_name_.clear();
  int kept = 0, changed = 0, added = 0;
  for (JobSpec& spec : specs) {
    const auto old = previous.find(spec.name);
    if (old == previous.end()) {
      add_job(std::move(spec));
      ++added;
      continue;
    }
    const JobId id = old->second;
    previous.erase(old);
    job_by_name_[spec.name] = id;
    if (same_definition(*jobs_[id.value].spec, spec)) {
      ++kept;
      continue;
    }
    // An `every` job keeps its rhythm: the new interval counts from the old next fire.
    const auto anchor = scheduler_.next_fire(id);
    auto shared = std::make_shared<const JobSpec>(std::move(spec));
    jobs_[id.value] = Job{shared, Dispatcher::policy_of(*shared)};
    scheduler_.add(id, *shared, shared->schedule.is_every() ? anchor : std::nullopt);
    log_job(id, "job_changed");
    ++changed;
  }
  for (const auto& [name, id] : previous) {
    scheduler_.remove(id);
    jobs_[id.value].removed = true;
    log_event(info, "job_removed", {{"job", name}});
  }
  dispatcher_.set_limits(limits_of(config));
  config_ = std::move(config);
  log_event(info, "reloaded",
            {{"kept", kept}, {"changed", changed}, {"added", added}, {"removed", previous.size()}});
  tick();
}

void Engine::rearm() {
  std::optional<MonoInstant> mono_at = deadlines_.next_deadline();
  if (!shutting_down_) {
    const Instant wall_now = clock_.wall_now();
    const Instant wall_at = scheduler_.next_wall_deadline().value_or(wall_now + kIdleWallHorizon);
    if (wall_armed_ != wall_at) {
      wall_armed_ = wall_at;
      wall_timer_.cancel();
      wall_timer_.arm(wall_at.time_since_epoch(), true);
      wall_timer_.async_wait([this](bool clock_was_set) { on_wall_timer(clock_was_set); });
    }
    if (const auto s = scheduler_.next_mono_deadline(); s && (!mono_at || *s < *mono_at)) {
      mono_at = s;
    }
  }
  if (mono_at == mono_armed_) return;
  mono_armed_ = mono_at;
  mono_timer_.cancel();
  if (mono_at) {
    mono_timer_.arm(mono_at->time_since_epoch(), false);
    mono_timer_.async_wait([this](bool) { on_mono_timer(); });
  }
}

void Engine::on_wall_timer(bool clock_was_set) {
  wall_armed_.reset();
  if (clock_was_set) {
    log_event(warn, "clock_set", {{"now", utc(clock_.wall_now())}});
    scheduler_.clock_changed();
  }
  tick();
}

void Engine::on_mono_timer() {
  mono_armed_.reset();
  tick();
}

void Engine::tick() {
  for (const auto& entry : deadlines_.pop_due(clock_.mono_now())) on_deadline(entry.payload);
  if (!shutting_down_) {
    for (const Fire& fire : scheduler_.pop_due()) handle_fire(fire);
    pump();
  }
  rearm();
}

void Engine::handle_fire(const Fire& fire) {
  const Job& job = jobs_[fire.job.value];
  if (fire.collapsed > 0) {
    // Folded fires: `first` is the earliest, `count` how many, `folded_into` the one that runs.
    record_not_run(Fire{fire.job, fire.first_collapsed, fire.first_collapsed}, RunState::kMissed,
                   NotRunReason::kClockJump, fire.collapsed, fire.scheduled);
  }
  const OfferResult result = dispatcher_.offer(fire, job.policy);
  for (const Fire& displaced : result.displaced) {
    record_not_run(displaced, RunState::kSkipped, NotRunReason::kOverlap);
  }
  for (RunId id : result.to_cancel) {
    if (auto it = runs_.find(id); it != runs_.end()) cancel(*it->second, RunState::kCancelled);
  }
  switch (result.outcome) {
    case OfferOutcome::kSkipped:
      record_not_run(fire, RunState::kSkipped, NotRunReason::kOverlap);
      break;
    case OfferOutcome::kPending:
      log_event(debug, "fire_pending",
                {{"job", job.spec->name}, {"scheduled", utc(fire.scheduled)}});
      break;
    case OfferOutcome::kReady:
      break;
  }
}

void Engine::pump() {
  if (shutting_down_) return;
  std::vector<Dropped> dropped;
  const std::vector<Fire> startable = dispatcher_.take_startable(clock_.wall_now(), &dropped);
  for (const Dropped& d : dropped) record_not_run(d.fire, RunState::kMissed, d.reason);
  for (const Fire& fire : startable) start_run(fire);
}

void Engine::record_not_run(const Fire& fire, RunState state, NotRunReason reason,
                            std::uint64_t count, std::optional<Instant> folded_into) {
  // A retry that will not run needs its checkpoint no more.
  if (fire.attempt > 1) checkpoints_.erase({fire.job.value, fire.scheduled});
  json fields = {{"job", jobs_[fire.job.value].spec->name},
                 {"state", to_string(state)},
                 {"reason", to_string(reason)},
                 {"scheduled", utc(fire.scheduled)},
                 {"count", count}};
  if (folded_into) fields["folded_into"] = utc(*folded_into);
  log_event(info, "fire_not_run", fields);
}

void Engine::start_run(const Fire& fire) {
  if (jobs_[fire.job.value].removed) {
    // Waited in the ready queue while a reload removed its job.
    dispatcher_.finished(fire.job, RunId{0});
    log_event(info, "fire_dropped",
              {{"job", jobs_[fire.job.value].spec->name}, {"reason", "job removed by reload"}});
    return;
  }
  auto run = std::make_unique<Run>();
  run->id = RunId{next_run_id_++};
  run->job = fire.job;
  run->spec = jobs_[fire.job.value].spec;
  run->fire = fire;
  if (auto it = checkpoints_.find({fire.job.value, fire.scheduled}); it != checkpoints_.end()) {
    run->checkpoint = std::move(it->second);
    checkpoints_.erase(it);
  }
  dispatcher_.started(fire.job, run->id);
  const Instant now = clock_.wall_now();
  run->started = now;
  run->started_mono = clock_.mono_now();

  auto pid = spawn_run(*run);
  Run& r = *run;
  runs_.emplace(r.id, std::move(run));
  if (!pid) {
    log_event(err, "run_failed_to_start",
              {{"job", r.spec->name}, {"run", r.id.value}, {"error", pid.error().message}});
    finish(r, RunState::kFailed, std::nullopt, std::nullopt, pid.error().message);
    return;
  }
  r.pid = pid.value();
  run_by_pid_[r.pid] = r.id;
  log_event(info, "run_started",
            {{"job", r.spec->name},
             {"run", r.id.value},
             {"pid", r.pid},
             {"attempt", fire.attempt},
             {"scheduled", utc(fire.scheduled)},
             {"lateness_ms", millis(now - fire.due)},
             {"log", r.files.log_path}});
  r.control = std::make_unique<asio::posix::stream_descriptor>(io_, r.files.control_read.release());
  watch_control(r);
  if (r.spec->soft_timeout)
    push_deadline(r, Deadline::kSoft, r.started_mono + *r.spec->soft_timeout);
  if (r.spec->hard_timeout)
    push_deadline(r, Deadline::kHard, r.started_mono + *r.spec->hard_timeout);
  push_deadline(r, Deadline::kLogCheck, r.started_mono + kLogCheckInterval);
}

Result<pid_t> Engine::spawn_run(Run& run) {
  const JobSpec& spec = *run.spec;
  // The daemon's own account is looked up once; a job's `user` on every run, so that an
  // account change takes effect without a restart.
  auto user = spec.user ? lookup_user(*spec.user) : Result<UserInfo>(self_);
  if (!user) return user.error();
  auto credentials = job_credentials(spec, user.value());
  if (!credentials) return credentials.error();
  auto files = create_run_files(config_.daemon.state_dir, runtime_dir_, spec.name, run.id,
                                user->uid, user->gid);
  if (!files) return files.error();
  run.files = std::move(files.value());

  SpawnRequest request;
  request.argv = spec.command;
  request.env = build_environment(
      spec, user.value(), RunContext{run.id, run.fire.scheduled, run.fire.attempt, run.checkpoint});
  std::string path_list = default_path(user->uid);
  if (auto it = spec.env.find("PATH"); it != spec.env.end()) path_list = it->second;
  // Found once per job (and definition): a PATH search is several stat calls per run.
  std::string& executable = executables_[run.spec.get()];
  if (executable.empty()) {
    auto found = resolve_executable(spec.command.front(), path_list);
    if (!found) return found.error();
    executable = found.value();
  }
  request.path = executable;
  request.working_dir = spec.working_dir.value_or(user->home);
  request.stdin_fd = dev_null_;
  request.output_fd = run.files.log.get();
  request.control_fd = run.files.control_child.get();
  if (spec.umask) request.umask = static_cast<mode_t>(*spec.umask);
  request.nice = spec.nice;
  request.limit_nofile = spec.limit_nofile;
  request.limit_memory = spec.limit_memory;
  request.credentials = credentials.value();
  UniqueFd cgroup_procs;
  if (cgroups_.enabled()) {
    auto procs = cgroups_.create(run.id);
    if (procs) {
      cgroup_procs = std::move(procs.value());
      request.cgroup_procs_fd = cgroup_procs.get();
      run.has_cgroup = true;
    } else {
      log_event(warn, "cgroup_failed", {{"run", run.id.value}, {"error", procs.error().message}});
    }
  }
  auto pid = spawner_.spawn(request);
  // The child holds its own copies now; skedd keeps only the read end of the channel.
  run.files.log.reset();
  run.files.control_child.reset();
  return pid;
}

void Engine::watch_control(Run& run) {
  const RunId id = run.id;
  run.control->async_wait(asio::posix::stream_descriptor::wait_read,
                          [this, id](const boost::system::error_code& ec) {
                            if (ec) return;  // closed: the run finished
                            auto it = runs_.find(id);
                            if (it == runs_.end()) return;
                            drain_control(*it->second);
                            watch_control(*it->second);
                          });
}

void Engine::drain_control(Run& run) {
  if (!run.control) return;
  for (;;) {
    const ssize_t n =
        ::read(run.control->native_handle(), run.read_buffer.data(), run.read_buffer.size());
    if (n <= 0) break;  // EAGAIN: drained (skedd holds a writer itself, so never 0)
    run.lines.append(std::string_view(run.read_buffer.data(), static_cast<std::size_t>(n)));
  }
  std::string line;
  while (run.lines.next(line)) handle_control_line(run, line);
}

void Engine::handle_control_line(Run& run, const std::string& line) {
  auto parsed = parse_run_channel_line(line);
  if (!parsed) {
    log_event(warn, "run_channel_error",
              {{"job", run.spec->name}, {"run", run.id.value}, {"error", parsed.error().message}});
    return;
  }
  std::visit(
      [&](const auto& msg) {
        using T = std::decay_t<decltype(msg)>;
        if constexpr (std::is_same_v<T, CheckpointLine>) {
          run.checkpoint = msg.text;
          log_event(info, "checkpoint",
                    {{"job", run.spec->name}, {"run", run.id.value}, {"checkpoint", msg.text}});
        } else if constexpr (std::is_same_v<T, ProgressLine>) {
          log_event(info, "progress",
                    {{"job", run.spec->name},
                     {"run", run.id.value},
                     {"percent", msg.percent},
                     {"message", msg.message}});
        } else if constexpr (std::is_same_v<T, HeartbeatLine>) {
          log_event(debug, "heartbeat", {{"job", run.spec->name}, {"run", run.id.value}});
        } else {
          run.reported_exit = msg.code;
        }
      },
      parsed.value());
}

void Engine::on_child_signal() {
  // One SIGCHLD may stand for many exits: reap until none is left.
  for (;;) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) break;
    on_exit(pid, status);
  }
  // skedd is a child subreaper: the orphans of a run are reparented to it and were reaped just
  // above, so a group that answers no more has no live process left.
  for (auto it = leftover_groups_.begin(); it != leftover_groups_.end();) {
    const RunId id{it->first};
    if (::kill(-it->second, 0) == 0) {
      ++it;
      continue;
    }
    it = leftover_groups_.erase(it);
    deadlines_.remove(id.value * 4 + static_cast<std::uint64_t>(Deadline::kGraceKill));
    if (auto run = runs_.find(id); run != runs_.end()) {
      if (run->second->has_cgroup) release_cgroup(*run->second);
      runs_.erase(run);
    }
  }
  // cgroup.kill is asynchronous: a cgroup is removed once its last process has been reaped.
  for (auto it = cgroups_to_remove_.begin(); it != cgroups_to_remove_.end();) {
    it = cgroups_.remove(RunId{*it}) ? cgroups_to_remove_.erase(it) : std::next(it);
  }
  child_signal_.async_wait([this](const boost::system::error_code& ec, int) {
    if (!ec) on_child_signal();
  });
  if (!shutting_down_) pump();
  rearm();
  check_shutdown_done();
}

void Engine::on_exit(pid_t pid, int status) {
  const auto found = run_by_pid_.find(pid);
  if (found == run_by_pid_.end()) return;  // not a run of ours (spawn failures reap their own)
  const auto it = runs_.find(found->second);
  run_by_pid_.erase(found);
  if (it == runs_.end()) return;
  Run& run = *it->second;
  drain_control(run);

  std::optional<int> exit_code;
  std::optional<int> signal;
  if (WIFEXITED(status)) exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) signal = WTERMSIG(status);

  RunState state;
  std::string message;
  if (run.cancelled_as) {
    state = *run.cancelled_as;
  } else if (run.soft_timeout_sent || run.hard_timeout_sent) {
    // Exiting after the soft signal, however it exits, is a timeout.
    state = RunState::kTimedOut;
    message = run.hard_timeout_sent ? "hard timeout" : "soft timeout";
  } else if (signal) {
    state = RunState::kKilled;
    message = "killed by " + signal_name(*signal);
  } else {
    state = *exit_code == 0 ? RunState::kSucceeded : RunState::kFailed;
  }

  // Leftovers: processes still in the run's group after its main process exited.
  if (run.spec->kill_leftovers && ::kill(-run.pid, 0) == 0) {
    ::kill(-run.pid, run.spec->soft_signal);
    ::kill(-run.pid, SIGCONT);
    leftover_groups_[run.id.value] = run.pid;
    // A cancelled run's group had its soft signal already: its grace period is not renewed.
    push_deadline(run, Deadline::kGraceKill,
                  run.grace_end.value_or(clock_.mono_now() + config_.daemon.kill_grace));
    log_event(info, "leftovers_signalled",
              {{"job", run.spec->name}, {"run", run.id.value}, {"pgid", run.pid}});
  }
  finish(run, state, exit_code, signal, message);
}

void Engine::finish(Run& run, RunState state, std::optional<int> exit_code,
                    std::optional<int> signal, const std::string& message) {
  const Instant ended = clock_.wall_now();
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
  log_event(bad ? warn : info, "run_finished", fields);

  dispatcher_.finished(run.job, run.id);
  maybe_retry(run, state);
  if (run.control) {
    boost::system::error_code ignored;
    run.control->close(ignored);
  }
  if (!run.files.control_path.empty()) remove_control_file(run.files.control_path);
  if (run.has_cgroup && !leftover_groups_.count(run.id.value)) release_cgroup(run);
  // Keep the grace-kill deadline of leftovers; drop the rest.
  deadlines_.remove(run.id.value * 4 + static_cast<std::uint64_t>(Deadline::kSoft));
  deadlines_.remove(run.id.value * 4 + static_cast<std::uint64_t>(Deadline::kHard));
  deadlines_.remove(run.id.value * 4 + static_cast<std::uint64_t>(Deadline::kLogCheck));
  if (!leftover_groups_.count(run.id.value)) runs_.erase(run.id);
}

void Engine::release_cgroup(const Run& run) {
  // Processes that left the run's group are the run's leftovers too; kill_leftovers = false
  // keeps them (and their cgroup, which is removed once they are gone).
  if (run.spec->kill_leftovers && !cgroups_.empty(run.id)) cgroups_.kill(run.id);
  if (!cgroups_.remove(run.id)) cgroups_to_remove_.insert(run.id.value);
}

void Engine::maybe_retry(const Run& run, RunState state) {
  if (shutting_down_) return;
  if (state != RunState::kFailed && state != RunState::kTimedOut) return;
  if (run.fire.attempt > run.spec->retries) return;
  Fire next = run.fire;
  ++next.attempt;
  next.collapsed = 0;
  const Duration delay = retry_delay(*run.spec, run.fire.attempt, random_);
  if (!run.checkpoint.empty()) checkpoints_[{run.job.value, run.fire.scheduled}] = run.checkpoint;
  scheduler_.schedule_retry(next, delay);
  log_event(info, "retry_scheduled",
            {{"job", run.spec->name},
             {"attempt", next.attempt},
             {"scheduled", utc(next.scheduled)},
             {"delay_s", seconds(delay)}});
}

void Engine::push_deadline(const Run& run, Deadline what, MonoInstant at) {
  deadlines_.push(run.id.value * 4 + static_cast<std::uint64_t>(what), at, 0,
                  SupervisionEvent{run.id, what});
}

void Engine::signal_group(Run& run, int sig) {
  ::kill(-run.pid, sig);
  // A frozen (SIGSTOPped) group would not act on the signal until continued.
  if (sig != SIGKILL && sig != SIGCONT) ::kill(-run.pid, SIGCONT);
}

void Engine::on_deadline(const SupervisionEvent& event) {
  const auto it = runs_.find(event.run);
  if (it == runs_.end()) return;
  Run& run = *it->second;
  switch (event.what) {
    case Deadline::kSoft:
      if (run_by_pid_.count(run.pid) == 0) return;
      run.soft_timeout_sent = true;
      log_event(warn, "soft_timeout",
                {{"job", run.spec->name},
                 {"run", run.id.value},
                 {"signal", signal_name(run.spec->soft_signal)}});
      signal_group(run, run.spec->soft_signal);
      // Without a hard timeout, a run that ignores the soft signal is killed after kill_grace.
      if (!run.spec->hard_timeout) {
        push_deadline(run, Deadline::kHard, clock_.mono_now() + config_.daemon.kill_grace);
      }
      break;
    case Deadline::kHard:
      if (run_by_pid_.count(run.pid) == 0) return;
      run.hard_timeout_sent = true;
      log_event(warn, "hard_timeout", {{"job", run.spec->name}, {"run", run.id.value}});
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
        ::kill(-run.pid, SIGKILL);
        if (run.has_cgroup) release_cgroup(run);
        runs_.erase(it);
        check_shutdown_done();
      }
      break;
    case Deadline::kLogCheck: {
      auto rotated = enforce_log_cap(run.files.log_path, run.spec->log_max_size);
      if (!rotated) {
        log_event(warn, "log_check_failed",
                  {{"run", run.id.value}, {"error", rotated.error().message}});
      } else if (rotated.value()) {
        log_event(info, "log_rotated", {{"job", run.spec->name}, {"run", run.id.value}});
      }
      push_deadline(run, Deadline::kLogCheck, clock_.mono_now() + kLogCheckInterval);
      break;
    }
  }
}

void Engine::cancel(Run& run, RunState as) {
  if (run.cancelled_as || run_by_pid_.count(run.pid) == 0) return;
  run.cancelled_as = as;
  log_event(info, "run_cancelled", {{"job", run.spec->name}, {"run", run.id.value}});
  signal_group(run, run.spec->soft_signal);
  run.grace_end = clock_.mono_now() + config_.daemon.kill_grace;
  push_deadline(run, Deadline::kGraceKill, *run.grace_end);
}

void Engine::shutdown(std::function<void()> done) {
  shutting_down_ = true;
  wall_timer_.cancel();
  shutdown_done_ = std::move(done);
  if (config_.daemon.on_shutdown == OnShutdown::kLeave) {
    log_event(info, "shutdown", {{"mode", "leave"}, {"running", run_by_pid_.size()}});
    child_signal_.cancel();
    mono_timer_.cancel();
    asio::post(io_, std::exchange(shutdown_done_, nullptr));
    return;
  }
  log_event(info, "shutdown", {{"mode", "stop"}, {"running", run_by_pid_.size()}});
  for (auto& [id, run] : runs_) cancel(*run, RunState::kCancelled);
  rearm();
  check_shutdown_done();
}

void Engine::check_shutdown_done() {
  if (!shutting_down_ || !shutdown_done_) return;
  if (!runs_.empty()) return;
  child_signal_.cancel();
  mono_timer_.cancel();
  asio::post(io_, std::exchange(shutdown_done_, nullptr));
}

}  // namespace skedd
