// Mailing a cron job's output, as cron does: for jobs read from crontabs (JobSpec::mail_to).
#pragma once

#include <string>

#include "skedd/core/job_spec.h"
#include "skedd/exec/process_spawner.h"
#include "skedd/util/result.h"

namespace skedd {

/// Mails the output in `log_path` of a run of `spec` to spec.mail_to through `sendmail`
/// (`sendmail -i -FCronDaemon -oem RECIPIENT`, run as the job's user, with the message on its
/// standard input), with cron's subject "Cron <user@host> command". Nothing to do when the
/// job has no recipient or the run wrote nothing. Does not wait for sendmail (the daemon
/// reaps it). An error says why no mail went out: the output then stays in the run's log.
Status mail_output(ProcessSpawner& spawner, const std::string& sendmail, const JobSpec& spec,
                   const std::string& log_path);

}  // namespace skedd
