// Turns a JobSpec and one attempt's context into a SpawnRequest: who runs it, with which
// environment, from where.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "skedd/core/job_spec.h"
#include "skedd/core/run.h"
#include "skedd/exec/process_spawner.h"
#include "skedd/util/result.h"

namespace skedd {

/// A user account as the password database has it.
struct UserInfo {
  uid_t uid = 0;
  gid_t gid = 0;
  std::string name;
  std::string home;
  std::string shell;
};

/// Looks up a user by name or numeric uid. The error names the user.
Result<UserInfo> lookup_user(const std::string& name);
/// The account the daemon runs as (falls back to the uid when it has no passwd entry).
UserInfo current_user();
/// This host's name (gethostname), or "localhost" when it cannot be read.
std::string host_name();

/// What a run sees of its attempt: the SKEDD_* variables.
struct RunAttempt {
  RunId run;
  Instant scheduled{};
  int attempt = 1;
  std::string checkpoint;  ///< the fire's last checkpoint; empty: none
};

/// The cron-like base environment (HOME, LOGNAME, USER, SHELL, PATH) of `user`, then the job's
/// `env` (which may override any of them), then SKEDD_JOB, SKEDD_RUN_ID, SKEDD_SCHEDULED_AT,
/// SKEDD_ATTEMPT, SKEDD_CHECKPOINT (when there is one) and SKEDD_CONTROL_FD=3, and last a hook
/// run's context (JobOptions::hook_context; never SKEDD_RUN_ID). Sorted by name.
std::vector<std::string> build_environment(const JobSpec& spec, const UserInfo& user,
                                           const RunAttempt& context);

/// The PATH a job gets unless its `env` sets one: cron's, plus the sbin directories for root.
std::string default_path(uid_t uid);

/// Credentials for the job's `user`/`group`, or nullopt when it runs as the daemon's user.
/// A different user when the daemon is not root is an error saying so.
Result<std::optional<Credentials>> job_credentials(const JobSpec& spec, const UserInfo& user);

}  // namespace skedd
