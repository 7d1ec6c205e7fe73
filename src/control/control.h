// What each control request does, and who may do it: the handler behind ControlServer.
#pragma once

#include <sys/resource.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>

#include "control/control_server.h"
#include "runtime/engine.h"
#include "skedd/control/replies.h"
#include "skedd/store/store.h"

namespace skedd {

/// Who may see what: everything (root, the daemon's own user), or the jobs `sees` admits.
struct JobViewer {
  bool admin = false;
  std::function<bool(const JobSpec&)> sees;
};

class Control {
 public:
  /// `reload` re-reads the configuration and applies it; it returns a summary or the errors
  /// that made it refuse the new configuration (the old one stays). All must outlive this.
  /// `user_max_nofile`: the highest limit_nofile a user's job may set (the soft limit runs get
  /// by default, the one skedd started with: a user may lower it, not raise it).
  Control(Engine& engine, Store& store, std::function<Result<std::string>()> reload,
          rlim_t user_max_nofile = RLIM_INFINITY);

  /// Authorizes the request by the peer's uid and carries it out. Root (and the daemon's own
  /// user) manages everything; another user sees and manages only the jobs that run as that
  /// user, and is refused reload, set and pause/resume --all.
  ControlReply handle(const control::Request& request, const Peer& peer);
  /// What `peer` may see of the jobs, by the rule handle() applies (the HTTP API's metrics).
  JobViewer viewer_of(const Peer& peer);

 private:
  /// Who asks: root (or the daemon's own user) is `admin`.
  struct Caller {
    bool admin = false;
    std::string user;
    std::string uid;
    gid_t gid = 0;
    uid_t uid_value = 0;
    /// Whether a run recorded as `owner`'s (RunRecord::owner; nullopt: the daemon's) is the
    /// caller's to see and manage.
    bool owns_run(const std::optional<uid_t>& owner) const {
      return admin || (owner && *owner == uid_value);
    }
  };
  Caller caller_of(const Peer& peer);
  // One per request type, each answering with its typed reply; handle() picks by the
  // request's type and encodes the reply (skedd/control/replies.h).
  control::Answer<control::StatusReply> on(const control::StatusRequest& request,
                                           const Caller& caller);
  control::Answer<control::ListReply> on(const control::ListRequest& request, const Caller& caller);
  control::Answer<control::ShowReply> on(const control::ShowRequest& request, const Caller& caller);
  control::Answer<control::PauseReply> on(const control::PauseRequest& request,
                                          const Caller& caller);
  control::Answer<control::TriggerReply> on(const control::TriggerRequest& request,
                                            const Caller& caller);
  control::Answer<control::SendReply> on(const control::SendRequest& request, const Caller& caller);
  control::Answer<control::CancelReply> on(const control::CancelRequest& request,
                                           const Caller& caller);
  control::Answer<control::RunReply> on(const control::RunRequest& request, const Caller& caller);
  control::Answer<control::RunsReply> on(const control::RunsRequest& request, const Caller& caller);
  control::Answer<control::LogsReply> on(const control::LogsRequest& request, const Caller& caller);
  control::Answer<control::DrainReply> on(const control::DrainRequest& request,
                                          const Caller& caller);
  control::Answer<control::ReloadReply> on(const control::ReloadRequest& request,
                                           const Caller& caller);
  control::Answer<control::SetReply> on(const control::SetRequest& request, const Caller& caller);
  control::Answer<control::AddReply> on(const control::AddRequest& request, const Caller& caller) {
    return put_job(request, caller);
  }
  control::Answer<control::VersionsReply> on(const control::VersionsRequest& request,
                                             const Caller& caller);
  control::Answer<control::WorkflowReply> on(const control::WorkflowRequest& request,
                                             const Caller& caller);
  control::Answer<control::BackfillReply> on(const control::BackfillRequest& request,
                                             const Caller& caller);
  control::Answer<control::RemoveReply> on(const control::RemoveRequest& request,
                                           const Caller& caller) {
    return remove_job(request, caller);
  }
  control::Answer<control::CrontabReply> on(const control::CrontabRequest& request,
                                            const Caller& caller) {
    return crontab(request, caller);
  }
  bool owns(const Caller& caller, const JobSpec& spec) const;
  /// JOB_NOT_FOUND for `name`, with the nearest of the caller's jobs' names as a suggestion.
  control::Failure job_not_found(const Caller& caller, const std::string& name) const;
  static constexpr std::size_t kSuggestAmong = 200000;
  /// The job, if it is loaded and the caller may manage it (else JOB_NOT_FOUND or
  /// PERMISSION_DENIED).
  std::variant<Engine::JobInfo, control::Failure> visible_job(const Caller& caller,
                                                              const std::string& name) const;
  /// The run's record, if the caller may see it.
  /// `outputs`: with the run's outputs (RunQuery::outputs).
  std::variant<RunRecord, control::Failure> visible_run(const Caller& caller, RunId id,
                                                        bool outputs = false);
  std::optional<control::Failure> root_only(const Caller& caller, const char* what) const;
  control::Answer<control::AddReply> put_job(const control::AddRequest& request,
                                             const Caller& caller);
  control::Answer<control::RemoveReply> remove_job(const control::RemoveRequest& request,
                                                   const Caller& caller);
  control::Answer<control::CrontabReply> crontab(const control::CrontabRequest& request,
                                                 const Caller& caller);
  /// Why a user other than root may not have `spec` (after its user was filled in), if so.
  std::optional<control::Failure> refuse_for_user(const JobSpec& spec, const Caller& caller) const;

  Engine& engine_;
  Store& store_;
  std::function<Result<std::string>()> reload_;
  rlim_t user_max_nofile_;
  std::string daemon_user_;
  /// User names by uid, with when they were looked up.
  std::map<uid_t, std::pair<std::string, std::chrono::steady_clock::time_point>> names_;
};

}  // namespace skedd
