// Runs paused (their cgroup frozen, else SIGSTOP) and continued, and cancelled.
#include <signal.h>

#include "runtime/log_fields.h"
#include "runtime/supervisor_run.h"
#include "skedd/time/timestamp.h"

namespace skedd {

bool Supervisor::freeze(RunId id) {
  const auto it = runs_.find(id);
  if (it == runs_.end()) return false;
  Run& run = *it->second;
  if (run.frozen_since || run.cancelled_as || run_by_pid_.count(run.pid) == 0) return false;
  run.frozen_by_cgroup = run.has_cgroup && cgroups_.freeze(run.id, true);
  if (!run.frozen_by_cgroup) spawner_.signal_group(run.pid, SIGSTOP);
  run.frozen_since = clock_.mono_now();
  remove_deadline(run, Deadline::kSoft);
  remove_deadline(run, Deadline::kHard);
  store_.put_run(record_of(run, RunState::kPaused));
  events_.emit(Severity::kInfo, EventKind::kRunPaused,
               {{"job", run.spec->name},
                {"run", run.id.value},
                {"how", run.frozen_by_cgroup ? "cgroup freeze" : "SIGSTOP"}});
  return true;
}

bool Supervisor::thaw(RunId id) {
  const auto it = runs_.find(id);
  if (it == runs_.end() || !it->second->frozen_since) return false;
  Run& run = *it->second;
  if (run.frozen_by_cgroup) {
    cgroups_.freeze(run.id, false);
  } else {
    spawner_.signal_group(run.pid, SIGCONT);
  }
  run.frozen += clock_.mono_now() - *run.frozen_since;
  run.frozen_since.reset();
  run.frozen_by_cgroup = false;
  run.last_activity = clock_.mono_now();  // frozen time is not silence
  push_timeouts(run);
  if (run_by_pid_.count(run.pid) != 0) store_.put_run(record_of(run, RunState::kRunning));
  events_.emit(Severity::kInfo, EventKind::kRunResumedFromPause,
               {{"job", run.spec->name}, {"run", run.id.value}, {"frozen_s", seconds(run.frozen)}});
  return true;
}

bool Supervisor::frozen(RunId id) const {
  const auto it = runs_.find(id);
  return it != runs_.end() && it->second->frozen_since.has_value();
}

void Supervisor::cancel(RunId id, RunState as) {
  const auto it = runs_.find(id);
  if (it == runs_.end()) return;
  Run& run = *it->second;
  if (run.cancelled_as || (!run.spawning && run_by_pid_.count(run.pid) == 0)) return;
  thaw(id);  // a frozen run must run to act on its signal
  run.cancelled_as = as;
  events_.emit(Severity::kInfo, EventKind::kRunCancelled,
               {{"job", run.spec->name}, {"run", run.id.value}});
  if (run.spawning) return;  // signalled once spawned()
  signal_group(run, run.spec->options->soft_signal);
  run.grace_end = clock_.mono_now() + options_.kill_grace;
  push_deadline(run, Deadline::kGraceKill, *run.grace_end);
}

void Supervisor::cancel_all() {
  std::vector<RunId> ids;
  for (const auto& [id, run] : runs_) ids.push_back(id);
  for (RunId id : ids) cancel(id, RunState::kCancelled);
}

}  // namespace skedd
