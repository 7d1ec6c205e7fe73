// What the scheduler tells about itself: typed events to a sink the embedding program (or the
// daemon, which writes them as log lines) provides. Library code logs nothing by itself.
#pragma once

#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

namespace skedd {

enum class Severity : std::uint8_t { kDebug, kInfo, kWarn, kError };

/// One kind per event; event_name() is its name in skedd's log (see skedd(8), LOG EVENTS).
enum class EventKind : std::uint8_t {
  // Jobs and their table.
  kJobLoaded,
  kJobChanged,
  kJobRemoved,
  kReloaded,
  kJobLinesLimited,
  kReloadNeedsRestart,
  kJobPaused,
  kJobResumed,
  kPausedAll,
  kResumedAll,
  kDraining,
  kDrainEnded,
  kTriggered,
  kMaxConcurrentRunsSet,
  kApiJobAdded,
  kApiJobUpdated,
  kApiJobRemoved,
  kApiJobInvalid,
  kApiJobShadowed,
  // Fires.
  kFirePending,
  kFireNotRun,
  kFireDropped,
  kFireRecovered,
  kPendingFireKept,
  kCatchUp,
  kRetryScheduled,
  kClockSet,
  // Runs.
  kRunStarted,
  kRunFailedToStart,
  kRunFinished,
  kRunCancelled,
  kRunInterrupted,
  kRunExitUnknown,
  kRunResumed,
  kResumeRefused,
  kRunAdopted,
  kRunLeft,
  kRunPaused,
  kRunResumedFromPause,
  kRunStalled,
  kRunActiveAgain,
  kHookFired,
  kWorkflowRunStarted,
  kWorkflowStepStarted,
  kWorkflowStepSkipped,
  kWorkflowRunFinished,
  kWorkflowInputsCut,
  kWorkflowFireSkipped,
  kWorkflowRunResumed,
  kWorkflowRunRetried,
  kBackfillStarted,
  kBackfillFinished,
  kBackfillFireFailed,
  kWorkflowRunPaused,
  kWorkflowRunResumedFromPause,
  kWorkflowRequirementWait,
  kHookCoalesced,
  kCheckpoint,
  kOutput,
  kProgress,
  kHeartbeat,
  kRunChannelError,
  kSoftTimeout,
  kHardTimeout,
  kLeftoversSignalled,
  kLogRotated,
  kLogCheckFailed,
  kMailFailed,
  kCgroups,
  kCgroupsUnavailable,
  kCgroupFailed,
  // The store.
  kStoreBehind,
  kStoreCaughtUp,
  kStoreUnwritable,
  kStoreWritable,
  kStoreReadFailed,
  kStoreFlushFailed,
  kHistoryPruned,
  kPruneFailed,
  kShutdown,
};

/// The event's name as skedd logs it: `run_finished`, `fire_not_run`, ...
std::string_view event_name(EventKind kind);
std::string_view severity_name(Severity severity);

struct Event {
  EventKind kind;
  Severity severity;
  /// A JSON object: `job`, `run`, `reason`, ... as skedd(8) lists them per event.
  const nlohmann::json& fields;
};

/// Where events go. Called on the scheduler's thread (and, for events of loading and closing
/// the store, on the thread that starts or stops it); an implementation must not block long
/// (the scheduler waits for it) nor call back into the scheduler.
class EventSink {
 public:
  virtual ~EventSink() = default;
  /// Whether events of this kind and severity are wanted at all: when not, the scheduler
  /// skips building their fields (some come at the rate of fires).
  virtual bool wants(EventKind kind, Severity severity) const = 0;
  virtual void emit(const Event& event) = 0;
};

/// The runtime's handle on a sink (none: events are dropped). A value, copied freely.
class Events {
 public:
  Events() = default;
  explicit Events(EventSink* sink) : sink_(sink) {}
  bool wants(EventKind kind, Severity severity) const {
    return sink_ != nullptr && sink_->wants(kind, severity);
  }
  void emit(Severity severity, EventKind kind,
            const nlohmann::json& fields = nlohmann::json::object()) const {
    if (wants(kind, severity)) sink_->emit(Event{kind, severity, fields});
  }

 private:
  EventSink* sink_ = nullptr;
};

}  // namespace skedd
