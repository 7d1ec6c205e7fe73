#include "skedd/runtime/events.h"

namespace skedd {

std::string_view event_name(EventKind kind) {
  switch (kind) {
    case EventKind::kJobLoaded:
      return "job_loaded";
    case EventKind::kJobChanged:
      return "job_changed";
    case EventKind::kJobRemoved:
      return "job_removed";
    case EventKind::kReloaded:
      return "reloaded";
    case EventKind::kJobLinesLimited:
      return "job_lines_limited";
    case EventKind::kReloadNeedsRestart:
      return "reload_needs_restart";
    case EventKind::kJobPaused:
      return "job_paused";
    case EventKind::kJobResumed:
      return "job_resumed";
    case EventKind::kPausedAll:
      return "paused_all";
    case EventKind::kResumedAll:
      return "resumed_all";
    case EventKind::kDraining:
      return "draining";
    case EventKind::kDrainEnded:
      return "drain_ended";
    case EventKind::kTriggered:
      return "triggered";
    case EventKind::kMaxConcurrentRunsSet:
      return "max_concurrent_runs_set";
    case EventKind::kApiJobAdded:
      return "api_job_added";
    case EventKind::kApiJobUpdated:
      return "api_job_updated";
    case EventKind::kApiJobRemoved:
      return "api_job_removed";
    case EventKind::kApiJobInvalid:
      return "api_job_invalid";
    case EventKind::kApiJobShadowed:
      return "api_job_shadowed";
    case EventKind::kFirePending:
      return "fire_pending";
    case EventKind::kFireNotRun:
      return "fire_not_run";
    case EventKind::kFireDropped:
      return "fire_dropped";
    case EventKind::kFireRecovered:
      return "fire_recovered";
    case EventKind::kPendingFireKept:
      return "pending_fire_kept";
    case EventKind::kCatchUp:
      return "catch_up";
    case EventKind::kRetryScheduled:
      return "retry_scheduled";
    case EventKind::kClockSet:
      return "clock_set";
    case EventKind::kRunStarted:
      return "run_started";
    case EventKind::kRunFailedToStart:
      return "run_failed_to_start";
    case EventKind::kRunFinished:
      return "run_finished";
    case EventKind::kRunCancelled:
      return "run_cancelled";
    case EventKind::kRunInterrupted:
      return "run_interrupted";
    case EventKind::kRunExitUnknown:
      return "run_exit_unknown";
    case EventKind::kRunResumed:
      return "run_resumed";
    case EventKind::kResumeRefused:
      return "resume_refused";
    case EventKind::kRunAdopted:
      return "run_adopted";
    case EventKind::kRunLeft:
      return "run_left";
    case EventKind::kRunPaused:
      return "run_paused";
    case EventKind::kRunResumedFromPause:
      return "run_resumed_from_pause";
    case EventKind::kCheckpoint:
      return "checkpoint";
    case EventKind::kProgress:
      return "progress";
    case EventKind::kHeartbeat:
      return "heartbeat";
    case EventKind::kRunChannelError:
      return "run_channel_error";
    case EventKind::kSoftTimeout:
      return "soft_timeout";
    case EventKind::kHardTimeout:
      return "hard_timeout";
    case EventKind::kLeftoversSignalled:
      return "leftovers_signalled";
    case EventKind::kLogRotated:
      return "log_rotated";
    case EventKind::kLogCheckFailed:
      return "log_check_failed";
    case EventKind::kMailFailed:
      return "mail_failed";
    case EventKind::kCgroups:
      return "cgroups";
    case EventKind::kCgroupsUnavailable:
      return "cgroups_unavailable";
    case EventKind::kCgroupFailed:
      return "cgroup_failed";
    case EventKind::kStoreBehind:
      return "store_behind";
    case EventKind::kStoreCaughtUp:
      return "store_caught_up";
    case EventKind::kStoreUnwritable:
      return "store_unwritable";
    case EventKind::kStoreWritable:
      return "store_writable";
    case EventKind::kStoreReadFailed:
      return "store_read_failed";
    case EventKind::kStoreFlushFailed:
      return "store_flush_failed";
    case EventKind::kHistoryPruned:
      return "history_pruned";
    case EventKind::kPruneFailed:
      return "prune_failed";
    case EventKind::kShutdown:
      return "shutdown";
  }
  return "event";
}

std::string_view severity_name(Severity severity) {
  switch (severity) {
    case Severity::kDebug:
      return "debug";
    case Severity::kInfo:
      return "info";
    case Severity::kWarn:
      return "warning";
    case Severity::kError:
      return "error";
  }
  return "info";
}

}  // namespace skedd
