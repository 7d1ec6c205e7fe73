// Mailing a cron job's output, as cron does: for jobs read from crontabs (JobSpec::mail_to).
// Composing reads the run's log (blocking file I/O, bounded) and is done off the event loop;
// sending spawns sendmail and is done on it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "exec/run_setup.h"
#include "skedd/core/job_spec.h"
#include "skedd/exec/process_spawner.h"
#include "skedd/util/result.h"
#include "util/unique_fd.h"

namespace skedd {

/// How much of a log a mail carries: its first and its last kMailPart bytes, with a line
/// saying how many were left out between them. A log of any size (a sparse 4 GiB one) costs
/// at most twice this to mail.
inline constexpr std::uint64_t kMailPart = 64 * 1024;

/// A composed message: an unlinked temporary file, positioned at its start, and who sends it.
struct MailMessage {
  UniqueFd file;
  UserInfo user;
  std::optional<Credentials> credentials;
};

/// Composes the mail of a run of `spec` whose output is in `log_path` (cron's subject "Cron
/// <user@host> command", headers, then the output's head and tail). nullopt when the job has
/// no recipient or the run wrote nothing; an error says why no mail can go out (the output
/// then stays in the run's log). Blocking file I/O: call it off the event loop.
Result<std::optional<MailMessage>> compose_mail(const std::string& sendmail, const JobSpec& spec,
                                                const std::string& log_path);

/// Sends `message` to spec.mail_to through `sendmail` (`sendmail -i -FCronDaemon -oem
/// RECIPIENT`, run as the job's user, with the message on its standard input). Does not wait
/// for sendmail: returns its pid, for the caller to reap.
Result<pid_t> send_mail(ProcessSpawner& spawner, const std::string& sendmail, const JobSpec& spec,
                        const MailMessage& message);

}  // namespace skedd
