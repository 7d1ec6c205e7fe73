// A run's files and leftovers of it: its log kept under its cap and mailed on the file
// thread, its cgroup released.
#include <sys/stat.h>

#include "runtime/log_fields.h"
#include "runtime/run_mail.h"
#include "runtime/supervisor_run.h"
#include "skedd/time/timestamp.h"

namespace skedd {

void Supervisor::check_log(Run& run) {
  // On the file thread: a rotation copies up to log_max_size bytes. One check at a time per
  // run; a run that ends meanwhile is not waited for (its log stays where it is).
  if (run.files.log_path.empty()) return check_stall(run);
  if (run.log_check_running) return;
  run.log_check_running = true;
  off_loop(
      files_,
      [log = run.files.log_path, cap = run.spec->options->log_max_size] {
        Result<bool> rotated = enforce_log_cap(log, cap);
        struct stat st {};
        const std::uint64_t size =
            ::stat(log.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
        return std::pair{std::move(rotated), size};
      },
      [this, id = run.id,
       job = run.spec->name](const std::pair<Result<bool>, std::uint64_t>& checked) {
        const Result<bool>& rotated = checked.first;
        if (auto it = runs_.find(id); it != runs_.end()) {
          Run& r = *it->second;
          r.log_check_running = false;
          // Output is activity (a rotation shrinks the log: any change of size counts).
          if (checked.second != r.log_size_seen) {
            r.log_size_seen = checked.second;
            note_activity(r);
          }
          check_stall(r);
        }
        if (!rotated) {
          events_.emit(Severity::kWarn, EventKind::kLogCheckFailed,
                       {{"run", id.value}, {"error", rotated.error().message}});
        } else if (rotated.value()) {
          events_.emit(Severity::kInfo, EventKind::kLogRotated, {{"job", job}, {"run", id.value}});
        }
      });
}

void Supervisor::mail(const Run& run) {
  // Composed on the file thread (it reads the log: a slow disk must not stall the loop), sent
  // from the loop, which has the spawner reap sendmail once it exits.
  off_loop(
      files_,
      [spec = run.spec, sendmail = options_.sendmail, log = run.files.log_path] {
        return compose_mail(sendmail, *spec, log);
      },
      [this, spec = run.spec, id = run.id](const Result<std::optional<MailMessage>>& composed) {
        Status sent = Ok{};
        if (!composed) {
          sent = composed.error();
        } else if (composed.value()) {
          auto pid = send_mail(spawner_, options_.sendmail, *spec, *composed.value());
          if (pid) {
            sent = watch_helper(pid.value());
          } else {
            sent = pid.error();
          }
        }
        if (!sent) {
          events_.emit(Severity::kWarn, EventKind::kMailFailed,
                       {{"job", spec->name}, {"run", id.value}, {"error", sent.error().message}});
        }
      });
}

void Supervisor::release_cgroup(const Run& run) {
  // Processes that left the run's group are the run's leftovers too; kill_leftovers = false
  // keeps them (and their cgroup, which is removed once they are gone).
  if (run.spec->options->kill_leftovers && !cgroups_.empty(run.id)) cgroups_.kill(run.id);
  if (!cgroups_.remove(run.id)) {
    cgroups_to_remove_.insert(run.id.value);
    arm_sweep();
  }
}

}  // namespace skedd
