#include "control/control.h"

#include <fcntl.h>
#include <grp.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "exec/run_setup.h"
#include "runtime/log_fields.h"
#include "skedd/config/config.h"
#include "skedd/version.h"

namespace skedd {
namespace {

using control::Failure;
using nlohmann::json;

std::string user_name(uid_t uid) {
  auto user = lookup_user(std::to_string(uid));
  return user ? user->name : std::to_string(uid);
}

json time_or_null(const std::optional<Instant>& t) {
  return t ? json(utc(*t)) : json(nullptr);
}

json run_json(const RunRecord& r) {
  json j{{"run", r.run.value},
         {"job", r.job},
         {"scheduled", utc(r.scheduled)},
         {"attempt", r.attempt},
         {"state", to_string(r.state)},
         {"started", utc(r.started)},
         {"ended", time_or_null(r.ended)},
         {"lateness_ms", millis(r.lateness)},
         {"log", r.log_path}};
  if (r.exit_code) j["exit_code"] = *r.exit_code;
  if (r.signal) j["signal"] = *r.signal;
  if (r.pid) j["pid"] = *r.pid;
  if (!r.checkpoint.empty()) j["checkpoint"] = r.checkpoint;
  if (r.progress) {
    j["progress"] = *r.progress;
    j["progress_message"] = r.progress_message;
  }
  if (!r.message.empty()) j["message"] = r.message;
  if (r.frozen.count() > 0) j["frozen_s"] = seconds(r.frozen);
  return j;
}

Failure job_not_found(const std::string& job) {
  return {control::kJobNotFound, "no job named \"" + job + "\""};
}

Failure run_not_found(RunId run) {
  return {control::kRunNotFound, "no run " + std::to_string(run.value)};
}

Failure store_failure(const Error& error) {
  return {control::kInternal, "reading the history: " + error.message};
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
  return std::visit([&](const auto& r) { return on(r, caller); }, request);
}

bool Control::owns(const Caller& caller, const JobSpec& spec) const {
  // A job belongs to the user it runs as (the daemon's own user when it names none).
  if (caller.admin) return true;
  const std::string& user = spec.options->user ? *spec.options->user : daemon_user_;
  return user == caller.user || user == caller.uid;
}

std::variant<Engine::JobInfo, Failure> Control::visible_job(const Caller& caller,
                                                            const std::string& name) const {
  auto info = engine_.job(name);
  if (!info) return job_not_found(name);
  if (!owns(caller, *info->spec)) {
    return Failure{control::kPermissionDenied,
                   "job \"" + name + "\" does not run as " + caller.user};
  }
  return *info;
}

std::variant<RunRecord, Failure> Control::visible_run(const Caller& caller, RunId id) {
  RunQuery query(std::nullopt, std::nullopt, 1);
  query.run = id;
  auto runs = store_.runs(query);
  if (!runs) return store_failure(runs.error());
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

ControlReply Control::on(const control::StatusRequest&, const Caller& caller) {
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
  return json{
      {"version", kVersion},
      {"pid", ::getpid()},
      {"started", utc(engine_.started_at())},
      {"jobs", jobs},
      {"paused_jobs", paused},
      {"paused_all", engine_.paused_all()},
      {"draining", engine_.draining()},
      {"running", counts.running},
      {"queued", counts.queued},
      {"max_concurrent_runs", counts.max_concurrent_runs},
      {"store", {{"ok", health.ok}, {"error", health.error}, {"unwritten", health.unwritten}}}};
}

ControlReply Control::on(const control::ListRequest&, const Caller& caller) {
  auto latest = store_.latest_ended_runs();
  if (!latest) return store_failure(latest.error());
  json jobs = json::array();
  for (const Engine::JobInfo& info : engine_.jobs()) {
    if (!owns(caller, *info.spec)) continue;
    json j{{"name", info.spec->name},
           {"schedule", info.spec->schedule->text},
           {"zone", info.spec->zone.name()},
           {"next", time_or_null(info.next)},
           {"paused", info.paused},
           {"running", info.running},
           {"last", nullptr}};
    if (auto it = latest->find(info.spec->name);
        it != latest->end() && caller.owns_run(it->second.owner)) {
      j["last"] = {{"run", it->second.run.value},
                   {"state", to_string(it->second.state)},
                   {"ended", time_or_null(it->second.ended)}};
    }
    jobs.push_back(std::move(j));
  }
  return json{{"jobs", std::move(jobs)}, {"paused_all", engine_.paused_all()}};
}

ControlReply Control::on(const control::ShowRequest& request, const Caller& caller) {
  auto found = visible_job(caller, request.job);
  if (auto* failure = std::get_if<Failure>(&found)) return *failure;
  const Engine::JobInfo& info = std::get<Engine::JobInfo>(found);
  const JobSpec& spec = *info.spec;
  const JobOptions& options = *spec.options;
  json next = json::array();
  if (info.next) {
    Instant t = *info.next;
    next.push_back(utc(t));
    for (int i = 1; i < 5; ++i) {
      const auto fire = spec.schedule->next_after(t, *info.next);
      if (!fire) break;
      t = fire->at;
      next.push_back(utc(t));
    }
  }
  RunQuery recent(spec.name, std::nullopt, 10);
  if (!caller.admin) recent.owner = caller.uid_value;
  auto runs = store_.runs(recent);
  auto not_run = store_.not_run(spec.name, 10);
  if (!runs) return store_failure(runs.error());
  if (!not_run) return store_failure(not_run.error());
  json last_runs = json::array();
  for (const RunRecord& run : runs.value()) last_runs.push_back(run_json(run));
  json skipped = json::array();
  for (const NotRunRecord& nr : not_run.value()) {
    skipped.push_back({{"state", to_string(nr.state)},
                       {"reason", to_string(nr.reason)},
                       {"first", utc(nr.first)},
                       {"last", utc(nr.last)},
                       {"count", nr.count}});
  }
  json command = options.shell && options.command.size() == 3 ? json(options.command[2])
                                                              : json(options.command);
  if (is_handler_job(spec)) {
    // Shown as `handler NAME {params}`; the JSON has the two fields too.
    command = "handler " + options.handler + " " + spec.params;
  }
  json reply = json{{"job",
                     {{"name", spec.name},
                      {"schedule", spec.schedule->text},
                      {"zone", spec.zone.name()},
                      {"command", std::move(command)},
                      {"user", options.user ? *options.user : daemon_user_},
                      {"overlap", to_string(options.overlap)},
                      {"priority", options.priority},
                      {"pool", options.pool},
                      {"retries", options.retries},
                      {"defined_at", spec.defined_at.to_string()}}},
                    {"api", engine_.is_api_job(spec.name)},
                    {"api_shadowed", engine_.is_shadowed_api_job(spec.name)},
                    {"paused", info.paused},
                    {"paused_all", engine_.paused_all()},
                    {"running", info.running},
                    {"next", std::move(next)},
                    {"runs", std::move(last_runs)},
                    {"not_run", std::move(skipped)}};
  if (is_handler_job(spec)) {
    reply["job"]["handler"] = options.handler;
    reply["job"]["params"] = json::parse(spec.params, nullptr, false);
  }
  return reply;
}

ControlReply Control::on(const control::PauseRequest& request, const Caller& caller) {
  if (request.run) {
    auto found = visible_run(caller, *request.run);
    if (auto* failure = std::get_if<Failure>(&found)) return *failure;
    if (!engine_.set_run_paused(*request.run, request.pause)) {
      return Failure{
          control::kConflict,
          "run " + std::to_string(request.run->value) +
              (request.pause ? " is not running, or is paused already" : " is not paused")};
    }
    return json{{"run", request.run->value}, {"paused", request.pause}};
  }
  if (request.all) {
    if (auto denied = root_only(caller, request.pause ? "pause --all" : "resume --all"))
      return *denied;
    engine_.set_paused_all(request.pause);
    return json{{"paused_all", request.pause}};
  }
  auto found = visible_job(caller, request.job);
  if (auto* failure = std::get_if<Failure>(&found)) return *failure;
  engine_.set_paused(request.job, request.pause);
  return json{{"job", request.job}, {"paused", request.pause}};
}

ControlReply Control::on(const control::TriggerRequest& request, const Caller& caller) {
  auto found = visible_job(caller, request.job);
  if (auto* failure = std::get_if<Failure>(&found)) return *failure;
  const auto triggered = engine_.trigger(request.job, request.force);
  if (!triggered) return Failure{control::kConflict, "skedd is shutting down"};
  if (triggered->outcome == OfferOutcome::kSkipped) {
    return Failure{control::kConflict, "job \"" + request.job +
                                           "\" is running and its overlap policy skips this "
                                           "fire (recorded as skipped); --force starts it anyway"};
  }
  return json{
      {"job", request.job},
      {"run", triggered->run.value},
      {"queued", triggered->outcome != OfferOutcome::kReady || engine_.counts().queued > 0}};
}

ControlReply Control::on(const control::CancelRequest& request, const Caller& caller) {
  auto found = visible_run(caller, request.run);
  if (auto* failure = std::get_if<Failure>(&found)) return *failure;
  const RunRecord& run = std::get<RunRecord>(found);
  if (!engine_.cancel(request.run)) {
    return Failure{control::kConflict, "run " + std::to_string(request.run.value) +
                                           " is not running (" + to_string(run.state) + ")"};
  }
  return json{{"run", request.run.value}, {"cancelling", true}};
}

ControlReply Control::on(const control::RunRequest& request, const Caller& caller) {
  auto found = visible_run(caller, request.run);
  if (auto* failure = std::get_if<Failure>(&found)) return *failure;
  return json{{"run", run_json(std::get<RunRecord>(found))}};
}

ControlReply Control::on(const control::RunsRequest& request, const Caller& caller) {
  RunQuery query(request.job, request.state, request.limit);
  query.since = request.since;
  if (request.job) {
    auto found = visible_job(caller, *request.job);
    if (auto* failure = std::get_if<Failure>(&found)) {
      // The history of a job no longer loaded is still there: all of it for root, the runs
      // that ran as them for others.
      if (failure->code != control::kJobNotFound) return *failure;
      query.current_identity = false;
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
  json out = json::array();
  for (const RunRecord& run : runs.value()) out.push_back(run_json(run));
  return json{{"runs", std::move(out)}};
}

ControlReply Control::on(const control::LogsRequest& request, const Caller& caller) {
  auto found = visible_run(caller, request.run);
  if (auto* failure = std::get_if<Failure>(&found)) return *failure;
  const RunRecord& run = std::get<RunRecord>(found);
  if (run.log_path.empty()) {
    return Failure{control::kRunNotFound,
                   "run " + std::to_string(request.run.value) +
                       " ran an in-process handler: it has no log (its result and message are "
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
  return json{{"run", request.run.value},
              {"data", std::move(data)},
              {"offset", offset + static_cast<std::uint64_t>(n > 0 ? n : 0)},
              {"size", size},
              {"state", to_string(run.state)},
              {"ended", ended}};
}

ControlReply Control::on(const control::DrainRequest&, const Caller& caller) {
  if (auto denied = root_only(caller, "drain")) return *denied;
  engine_.drain();
  return json{{"draining", true}, {"running", engine_.counts().running}};
}

ControlReply Control::on(const control::ReloadRequest&, const Caller& caller) {
  if (auto denied = root_only(caller, "reload")) return *denied;
  auto result = reload_();
  if (!result) return Failure{control::kInvalidArgument, result.error().message};
  return json{{"summary", result.value()}};
}

ControlReply Control::on(const control::SetRequest& request, const Caller& caller) {
  if (auto denied = root_only(caller, "set")) return *denied;
  engine_.set_max_concurrent_runs(request.max_concurrent_runs);
  return json{{"max_concurrent_runs", request.max_concurrent_runs}};
}

}  // namespace skedd
