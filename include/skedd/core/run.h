#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "skedd/time/types.h"

namespace skedd {

/// A job's index in the engine's job table. Stable while the job is loaded.
struct JobId {
  std::uint32_t value = 0;
  auto operator<=>(const JobId&) const = default;
};

/// One attempt of one fire. Unique for the life of the state dir (later: assigned by the store).
struct RunId {
  std::uint64_t value = 0;
  auto operator<=>(const RunId&) const = default;
};

/// A fire: (job, scheduled instant before jitter, UTC). Retries and resumes are further
/// attempts of the same fire.
struct Fire {
  JobId job;
  Instant scheduled{};  ///< the schedule's instant, before jitter
  Instant due{};        ///< when it may start: scheduled + jitter, or the retry time
  int attempt = 1;      ///< 1 for the first run of the fire
  int resumes = 0;      ///< attempts that were resumes after an interruption (not retries)
  /// Earlier fires of the same job that were overdue together with this one (clock step,
  /// suspend) and were folded into it rather than run in a burst; 0 normally.
  std::uint64_t collapsed = 0;
  Instant first_collapsed{};  ///< the earliest folded fire, when collapsed > 0
  Instant last_collapsed{};   ///< the latest folded fire, when collapsed > 0
  /// The id of the run this attempt will be, reserved when the attempt was recorded as a
  /// pending fire (0: not recorded yet). A restart finds the process by it.
  RunId run{};
};

/// The states of a run, as the protocol and store name them.
enum class RunState : std::uint8_t {
  kScheduled,
  kRunning,
  kPaused,
  kSucceeded,
  kFailed,
  kTimedOut,
  kKilled,
  kSkipped,
  kMissed,
  kInterrupted,
  kCancelled,
  /// Ended by skedd after it wrote nothing for its stall_timeout (on_stall_kill).
  kStalled,
};
const char* to_string(RunState s);
std::optional<RunState> run_state_from_string(std::string_view s);
/// True for states a run never leaves.
bool is_final(RunState s);

/// Why a fire did not run (recorded with state kSkipped or kMissed).
enum class NotRunReason : std::uint8_t {
  kOverlap,           ///< the job was still running (overlap = skip, or queue already full)
  kPaused,            ///< the job or the scheduler was paused
  kStartingDeadline,  ///< waited in the ready queue longer than starting_deadline
  kClockJump,         ///< folded into a later fire after a clock step or suspend
  kMissedWhileDown,   ///< the daemon was not running
  kDstSkip,           ///< dst_skipped = "skip"
  /// folded into a later fire while no fires were taken because the store was behind
  kOverloaded,
  kCancelled,  ///< cancelled while it waited to start (its workflow run was cancelled)
};
const char* to_string(NotRunReason r);
std::optional<NotRunReason> not_run_reason_from_string(std::string_view s);

/// A run started (state kRunning) or ended (its final state), as an observer hears of it.
struct RunEvent {
  RunId run;
  std::string job;
  Instant scheduled{};
  int attempt = 1;
  RunState state = RunState::kRunning;
};

}  // namespace skedd
