#include "control/control.h"

#include <fcntl.h>
#include <grp.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#include "config/crontab_sources.h"
#include "exec/host_protocol.h"
#include "exec/run_setup.h"
#include "runtime/log_fields.h"
#include "skedd/config/config.h"
#include "skedd/time/duration.h"
#include "skedd/version.h"
#include "util/suggest.h"

namespace skedd {
namespace {

using control::Failure;
using nlohmann::json;

std::string user_name(uid_t uid) {
  auto user = lookup_user(std::to_string(uid));
  return user ? user->name : std::to_string(uid);
}

std::optional<std::string> duration_or_none(const std::optional<Duration>& d) {
  if (!d) return std::nullopt;
  return format_duration(*d);
}

// A job's settings beyond those ShowReply names, as skedd-jobs(5) spells them.
json settings_of(const JobOptions& o) {
  const auto opt = [](const auto& v) { return v ? json(*v) : json(nullptr); };
  json s{{"soft_timeout", opt(duration_or_none(o.soft_timeout))},
         {"hard_timeout", opt(duration_or_none(o.hard_timeout))},
         {"soft_signal", signal_name(o.soft_signal)},
         {"kill_leftovers", o.kill_leftovers},
         {"retry_backoff", format_duration(o.retry_backoff)},
         {"retry_backoff_max", format_duration(o.retry_backoff_max)},
         {"catch_up", to_string(o.catch_up)},
         {"max_catch_up", o.max_catch_up},
         {"starting_deadline", opt(duration_or_none(o.starting_deadline))},
         {"jitter", format_duration(o.jitter)},
         {"jitter_fixed", o.jitter_fixed},
         {"on_interrupt", to_string(o.on_interrupt)},
         {"max_interrupts", o.max_interrupts},
         {"on_unknown_exit", to_string(o.on_unknown_exit)},
         {"expect_duration", opt(duration_or_none(o.expect_duration))},
         {"expect_grace", format_duration(o.expect_grace)},
         {"stall_timeout", opt(duration_or_none(o.stall_timeout))},
         {"on_stall_kill", o.on_stall_kill},
         {"group", opt(o.group)},
         {"working_dir", opt(o.working_dir)},
         {"env", o.env},
         {"umask", o.umask ? json(*o.umask) : json(nullptr)},
         {"nice", opt(o.nice)},
         {"limit_nofile", opt(o.limit_nofile)},
         {"limit_memory", opt(o.limit_memory)},
         {"log_max_size", o.log_max_size},
         {"mail_to", opt(o.mail_to)}};
  if (o.umask) {
    char octal[8];
    std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(*o.umask));
    s["umask"] = octal;
  }
  return s;
}

// A job's command as one line (list's COMMAND column).
std::string command_line(const JobSpec& spec) {
  if (is_handler_job(spec)) return "handler " + spec.options->handler;
  if (spec.options->shell && spec.command.size() == 3) return std::string(spec.command[2]);
  std::string line;
  for (const std::string& arg : spec.command.to_vector()) {
    if (!line.empty()) line += ' ';
    const bool plain = !arg.empty() && arg.find_first_of(" \t\n'\"\\$`") == std::string::npos;
    line += plain ? arg : json(arg).dump();
  }
  return line;
}

Failure run_not_found(RunId run) {
  return {control::kRunNotFound, "no run " + std::to_string(run.value)};
}

Failure store_failure(const Error& error) {
  return {control::kStoreUnavailable, "reading the history: " + error.message};
}

}  // namespace

Control::Control(Engine& engine, Store& store, std::function<Result<std::string>()> reload,
                 rlim_t user_max_nofile)
    : engine_(engine),
      store_(store),
      reload_(std::move(reload)),
      user_max_nofile_(user_max_nofile),
      daemon_user_(user_name(::geteuid())) {}

Control::Caller Control::caller_of(const Peer& peer) {
  // The account database is read once a minute per uid at most, not for every request.
  const auto now = std::chrono::steady_clock::now();
  auto it = names_.find(peer.uid);
  if (it == names_.end() || now - it->second.second > std::chrono::minutes(1)) {
    it = names_.insert_or_assign(peer.uid, std::pair{user_name(peer.uid), now}).first;
  }
  return Caller{peer.uid == 0 || peer.uid == ::geteuid(), it->second.first,
                std::to_string(peer.uid), peer.gid, peer.uid};
}

ControlReply Control::handle(const control::Request& request, const Peer& peer) {
  const Caller caller = caller_of(peer);
  return std::visit(
      [&](const auto& r) -> ControlReply {
        auto answer = on(r, caller);
        if (auto* failure = std::get_if<Failure>(&answer)) return std::move(*failure);
        return control::encode(std::get<0>(answer));
      },
      request);
}

JobViewer Control::viewer_of(const Peer& peer) {
  Caller caller = caller_of(peer);
  const bool admin = caller.admin;
  return JobViewer{admin, [this, caller = std::move(caller)](const JobSpec& spec) {
                     return owns(caller, spec);
                   }};
}

bool Control::owns(const Caller& caller, const JobSpec& spec) const {
  // A job belongs to the user it runs as (the daemon's own user when it names none).
  if (caller.admin) return true;
  const std::string& user = spec.options->user ? *spec.options->user : daemon_user_;
  return user == caller.user || user == caller.uid;
}

Failure Control::job_not_found(const Caller& caller, const std::string& name) const {
  // The nearest name among the caller's jobs (the first kSuggestAmong of them: a typo must
  // not cost the loop a scan of a million names).
  Suggestion nearest(name);
  std::size_t offered = 0;
  engine_.for_each_spec([&](const JobSpec& spec) {
    if (owns(caller, spec)) nearest.offer(spec.name);
    return ++offered < kSuggestAmong;
  });
  return {control::kJobNotFound, "no job named \"" + name + "\"" + nearest.hint()};
}

std::variant<Engine::JobInfo, Failure> Control::visible_job(const Caller& caller,
                                                            const std::string& name) const {
  auto info = engine_.job(name);
  if (!info) return job_not_found(caller, name);
  if (!owns(caller, *info->spec)) {
    return Failure{control::kPermissionDenied,
                   "job \"" + name + "\" does not run as " + caller.user};
  }
  return *info;
}

std::variant<RunRecord, Failure> Control::visible_run(const Caller& caller, RunId id,
                                                      bool outputs) {
  RunQuery query(std::nullopt, std::nullopt, 1);
  query.run = id;
  query.outputs = outputs;
  auto runs = store_.runs(query);
  if (!runs) return store_failure(runs.error());
  if (runs->empty() && engine_.has_live_run(id)) {
    // Started, its record still on the writer's queue: committed first, so that a run named
    // by its run_started event is found. Only for a live run, so only in that short window.
    (void)store_.flush();
    runs = store_.runs(query);
    if (!runs) return store_failure(runs.error());
  }
  if (runs->empty()) {
    // Issued and not recorded yet (a queued trigger, a retry waiting for its time): said to
    // be scheduled, so that `skedctl wait` waits for it; an id never issued is not found.
    if (auto waiting = engine_.unrecorded_run(id)) runs->push_back(std::move(*waiting));
  }
  if (runs->empty()) return run_not_found(id);
  RunRecord& r = runs.value()[0];
  // Authorized against the owner recorded with the run, never against whoever holds its
  // job's name now (a name may be reused by another user once its job is removed).
  if (!caller.owns_run(r.owner)) {
    return Failure{control::kPermissionDenied,
                   "run " + std::to_string(id.value) + " did not run as " + caller.user};
  }
  return std::move(r);
}

std::optional<Failure> Control::root_only(const Caller& caller, const char* what) const {
  if (caller.admin) return std::nullopt;
  return Failure{control::kPermissionDenied, std::string(what) + " is for root only"};
}

control::Answer<control::StatusReply> Control::on(const control::StatusRequest&,
                                                  const Caller& caller) {
  const Engine::Counts counts = engine_.counts();
  const StoreHealth health = store_.health();
  // Root's counts are the engine's own; another user's, of its jobs (a walk over them).
  std::size_t jobs = counts.jobs, paused = engine_.paused_jobs();
  if (!caller.admin) {
    jobs = paused = 0;
    for (const Engine::JobInfo& info : engine_.jobs()) {
      if (!owns(caller, *info.spec)) continue;
      ++jobs;
      if (info.paused) ++paused;
    }
  }
  control::StatusReply reply{kVersion,
                             ::getpid(),
                             engine_.started_at(),
                             jobs,
                             paused,
                             engine_.paused_all(),
                             engine_.draining(),
                             counts.running,
                             counts.queued,
                             counts.max_concurrent_runs,
                             health,
                             {}};
  // A walk over /proc (a few hundred entries), only where sources name cron's files.
  const std::vector<std::string>& sources = engine_.config().cron.sources;
  if (!cron_files_among(sources).empty()) {
    if (std::string conflict = cron_conflict(sources, cron_daemon_running()); !conflict.empty()) {
      reply.warnings.push_back(std::move(conflict));
    }
  }
  return reply;
}

control::Answer<control::ListReply> Control::on(const control::ListRequest&, const Caller& caller) {
  auto latest = store_.latest_ended_runs();
  if (!latest) return store_failure(latest.error());
  control::ListReply reply;
  reply.paused_all = engine_.paused_all();
  for (const std::string& skipped : engine_.config().cron.skipped) {
    // Root's files (/etc/crontab, cron.d) are root's to see; a spool crontab, its user's:
    // by the path the line starts with (its message may quote any text).
    const std::string path = skipped.substr(0, skipped.find(':'));
    const bool theirs = path.ends_with("/crontabs/" + caller.user);
    if (caller.admin || theirs) reply.skipped.push_back(skipped);
  }
  for (const Engine::JobInfo& info : engine_.jobs()) {
    if (!owns(caller, *info.spec)) continue;
    control::ListReply::Job& j = reply.jobs.emplace_back();
    j.name = info.spec->name;
    j.schedule = info.spec->schedule->text;
    j.zone = info.spec->zone.name();
    j.next = info.next;
    j.paused = info.paused;
    j.running = info.running;
    j.stalled = info.stalled;
    j.command = command_line(*info.spec);
    if (auto it = latest->find(info.spec->name);
        it != latest->end() && caller.owns_run(it->second.owner)) {
      j.last = control::ListReply::Last{it->second.run, it->second.state, it->second.ended};
    }
  }
  return reply;
}

control::Answer<control::ShowReply> Control::on(const control::ShowRequest& request,
                                                const Caller& caller) {
  auto found = visible_job(caller, request.job);
  if (auto* failure = std::get_if<Failure>(&found)) return *failure;
  const Engine::JobInfo& info = std::get<Engine::JobInfo>(found);
  const JobSpec& spec = *info.spec;
  const JobOptions& options = *spec.options;
  control::ShowReply reply;
  if (info.next) {
    Instant t = *info.next;
    reply.next.push_back(t);
    for (int i = 1; i < 5; ++i) {
      const auto fire = spec.schedule->next_after(t, *info.next);
      if (!fire) break;
      t = fire->at;
      reply.next.push_back(t);
    }
  }
  RunQuery recent(spec.name, std::nullopt, 10);
  if (!caller.admin) recent.owner = caller.uid_value;
  auto runs = store_.runs(recent);
  auto not_run = store_.not_run(spec.name, 10);
  if (!runs) return store_failure(runs.error());
  if (!not_run) return store_failure(not_run.error());
  reply.runs = std::move(runs.value());
  reply.not_run = std::move(not_run.value());
  control::ShowReply::Definition& d = reply.job;
  d.name = spec.name;
  d.schedule = spec.schedule->text;
  d.zone = spec.zone.name();
  d.command = options.shell && spec.command.size() == 3 ? json(spec.command[2])
                                                        : json(spec.command.to_vector());
  if (is_handler_job(spec)) {
    // Shown as `handler NAME {params}`; the JSON has the two fields too.
    d.command = "handler " + options.handler + " " + spec.params;
    d.handler = options.handler;
    d.params = json::parse(spec.params, nullptr, false);
  }
  d.user = options.user ? *options.user : daemon_user_;
  d.overlap = to_string(options.overlap);
  d.priority = options.priority;
  d.pool = options.pool;
  d.retries = options.retries;
  d.defined_at = spec.defined_at.to_string();
  d.settings = settings_of(options);
  d.command_line = command_line(spec);
  reply.api = engine_.is_api_job(spec.name);
  reply.api_shadowed = engine_.is_shadowed_api_job(spec.name);
  reply.paused = info.paused;
  reply.paused_all = engine_.paused_all();
  reply.running = info.running;
  reply.stalled = info.stalled;
  return reply;
}

control::Answer<control::PauseReply> Control::on(const control::PauseRequest& request,
                                                 const Caller& caller) {
  if (request.run) {
    auto found = visible_run(caller, *request.run);
    if (auto* failure = std::get_if<Failure>(&found)) return *failure;
    if (!engine_.set_run_paused(*request.run, request.pause)) {
      return Failure{
          control::kConflict,
          "run " + std::to_string(request.run->value) +
              (request.pause ? " is not running, or is paused already" : " is not paused")};
    }
    return control::PauseReply{"", false, request.run, request.pause};
  }
  if (request.all) {
    if (auto denied = root_only(caller, request.pause ? "pause --all" : "resume --all"))
      return *denied;
    engine_.set_paused_all(request.pause);
    return control::PauseReply{"", true, std::nullopt, request.pause};
  }
  auto found = visible_job(caller, request.job);
  if (auto* failure = std::get_if<Failure>(&found)) return *failure;
  engine_.set_paused(request.job, request.pause);
  return control::PauseReply{request.job, false, std::nullopt, request.pause};
}

control::Answer<control::TriggerReply> Control::on(const control::TriggerRequest& request,
                                                   const Caller& caller) {
  auto found = visible_job(caller, request.job);
  if (auto* failure = std::get_if<Failure>(&found)) return *failure;
  if (const auto workflow = Engine::workflow_of_schedule_job(request.job)) {
    return Failure{control::kConflict, "job \"" + request.job +
                                           "\" holds the schedule of workflow " + *workflow +
                                           " (skedctl workflow trigger " + *workflow + ")"};
  }
  if (const auto step = Engine::step_of_job(request.job)) {
    return Failure{control::kConflict, "job \"" + request.job + "\" is step " + step->second +
                                           " of workflow " + step->first +
                                           ": it runs in that workflow's runs (skedctl workflow "
                                           "trigger " +
                                           step->first + ")"};
  }
  const auto triggered = engine_.trigger(request.job, request.force);
  if (!triggered) return Failure{control::kConflict, "skedd is shutting down"};
  if (triggered->outcome == OfferOutcome::kSkipped) {
    return Failure{control::kConflict, "job \"" + request.job +
                                           "\" is running and its overlap policy skips this "
                                           "fire (recorded as skipped); --force starts it anyway"};
  }
  return control::TriggerReply{
      request.job, triggered->run,
      triggered->outcome != OfferOutcome::kReady || engine_.counts().queued > 0};
}

control::Answer<control::CancelReply> Control::on(const control::CancelRequest& request,
                                                  const Caller& caller) {
  auto found = visible_run(caller, request.run);
  if (auto* failure = std::get_if<Failure>(&found)) return *failure;
  const RunRecord& run = std::get<RunRecord>(found);
  if (!engine_.cancel(request.run)) {
    return Failure{control::kConflict, "run " + std::to_string(request.run.value) +
                                           " is not running (" + to_string(run.state) + ")"};
  }
  return control::CancelReply{request.run};
}

control::Answer<control::SendReply> Control::on(const control::SendRequest& request,
                                                const Caller& caller) {
  if (request.text.size() >= runhost::kMaxInputLine ||
      request.text.find('\n') != std::string::npos) {
    return Failure{control::kInvalidArgument, "a line sent to a run is one line of less than " +
                                                  std::to_string(runhost::kMaxInputLine) +
                                                  " bytes"};
  }
  RunId id{0};
  if (request.run) {
    id = *request.run;
  } else {
    // The job's one running run (among the caller's own).
    const RunQuery query{request.job, RunState::kRunning, 2};
    auto running = store_.runs(query);
    if (running && running->empty()) {
      // Its run may have started with its record not yet committed (as in visible_run()).
      const auto info = engine_.job(request.job);
      if (info && info->running > 0) {
        (void)store_.flush();
        running = store_.runs(query);
      }
    }
    if (!running) return Failure{control::kInternal, running.error().message};
    if (running->empty()) {
      return Failure{control::kConflict, "job \"" + request.job + "\" has no running run"};
    }
    if (running->size() > 1) {
      return Failure{control::kConflict,
                     "job \"" + request.job + "\" has more than one running run: give a run id"};
    }
    id = running->front().run;
  }
  auto found = visible_run(caller, id);
  if (auto* failure = std::get_if<Failure>(&found)) return *failure;
  const RunRecord& run = std::get<RunRecord>(found);
  if (Status sent = engine_.send_input(id, request.text); !sent) {
    return Failure{control::kConflict, "run " + std::to_string(id.value) + " (" +
                                           to_string(run.state) + "): " + sent.error().message};
  }
  return control::SendReply{id};
}

control::Answer<control::RunReply> Control::on(const control::RunRequest& request,
                                               const Caller& caller) {
  // Its outputs are the owner's as the run is (authorized against the run's recorded owner).
  auto found = visible_run(caller, request.run, true);
  if (auto* failure = std::get_if<Failure>(&found)) return *failure;
  return control::RunReply{std::move(std::get<RunRecord>(found))};
}

control::Answer<control::RunsReply> Control::on(const control::RunsRequest& request,
                                                const Caller& caller) {
  RunQuery query(request.job, request.state, request.limit);
  query.since = request.since;
  if (request.job) {
    auto found = visible_job(caller, *request.job);
    if (auto* failure = std::get_if<Failure>(&found)) {
      // The history of a job no longer loaded is still there: all of it for root, the runs
      // that ran as them for others.
      if (failure->code != control::kJobNotFound) return *failure;
      query.current_identity = false;
      // Neither loaded nor in the history (a typo): said so, not an empty table.
      if (!caller.admin) query.owner = caller.uid_value;
      RunQuery any = query;
      any.limit = 1;
      any.state.reset();
      any.since.reset();
      auto some = store_.runs(any);
      if (!some) return store_failure(some.error());
      if (some->empty()) return *failure;
    }
  }
  // Another user reads the runs recorded as theirs, selected by the store (no scan).
  if (!caller.admin) query.owner = caller.uid_value;
  // Read your writes: what this skedd recorded before the request (a pause, a run's end) is
  // committed first, so that the history agrees with the reply that came before it. A failed
  // commit is not waited on again: the history is read as it is. Root's only: the wait blocks
  // the loop, and any user could send runs requests without pause (a user's own pauses are
  // committed before their replies anyway; its view lags by the writer's gather window).
  if (caller.admin) (void)store_.flush();
  auto runs = store_.runs(query);
  if (!runs) return store_failure(runs.error());
  return control::RunsReply{std::move(runs.value())};
}

control::Answer<control::LogsReply> Control::on(const control::LogsRequest& request,
                                                const Caller& caller) {
  auto found = visible_run(caller, request.run);
  if (auto* failure = std::get_if<Failure>(&found)) return *failure;
  const RunRecord& run = std::get<RunRecord>(found);
  if (run.log_path.empty()) {
    const std::string of = "run " + std::to_string(request.run.value);
    if (failed_to_start(run)) {
      return Failure{control::kRunNotFound,
                     of + " failed to start (" + run.message + "): it has no log"};
    }
    if (run.state == RunState::kScheduled) {
      return Failure{control::kRunNotFound, of + " has not started yet: it has no log yet"};
    }
    return Failure{control::kRunNotFound,
                   of + " ran an in-process handler: it has no log (its result and message are "
                        "in `skedctl runs`)"};
  }
  const int fd = ::open(run.log_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    return Failure{control::kRunNotFound, "the log of run " + std::to_string(request.run.value) +
                                              " is gone (" + run.log_path + ")"};
  }
  struct stat st {};
  ::fstat(fd, &st);
  const auto size = static_cast<std::uint64_t>(st.st_size);
  // Past the end: the log was rotated (log_max_size); start again from its beginning.
  const std::uint64_t offset = request.offset > size ? 0 : request.offset;
  std::string data(static_cast<std::size_t>(std::min(size - offset, request.max_bytes)), '\0');
  const ssize_t n = ::pread(fd, data.data(), data.size(), static_cast<off_t>(offset));
  ::close(fd);
  data.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  const bool ended = run.ended.has_value();
  return control::LogsReply{
      request.run, std::move(data), offset + static_cast<std::uint64_t>(n > 0 ? n : 0),
      size,        run.state,       ended};
}

control::Answer<control::DrainReply> Control::on(const control::DrainRequest&,
                                                 const Caller& caller) {
  if (auto denied = root_only(caller, "drain")) return *denied;
  engine_.drain();
  return control::DrainReply{engine_.counts().running};
}

control::Answer<control::ReloadReply> Control::on(const control::ReloadRequest&,
                                                  const Caller& caller) {
  if (auto denied = root_only(caller, "reload")) return *denied;
  auto result = reload_();
  if (!result) return Failure{control::kInvalidArgument, result.error().message};
  return control::ReloadReply{result.value()};
}

control::Answer<control::SetReply> Control::on(const control::SetRequest& request,
                                               const Caller& caller) {
  if (auto denied = root_only(caller, "set")) return *denied;
  engine_.set_max_concurrent_runs(request.max_concurrent_runs);
  return control::SetReply{request.max_concurrent_runs};
}

}  // namespace skedd
