#include "skedd/core/run.h"

#include <array>
#include <string_view>

namespace skedd {
namespace {

constexpr std::array<std::string_view, 12> kRunStateNames = {
    "scheduled", "running", "paused", "succeeded",   "failed",    "timed_out",
    "killed",    "skipped", "missed", "interrupted", "cancelled", "stalled",
};

}  // namespace

const char* to_string(RunState s) {
  return kRunStateNames[static_cast<std::size_t>(s)].data();
}

std::optional<RunState> run_state_from_string(std::string_view s) {
  for (std::size_t i = 0; i < kRunStateNames.size(); ++i) {
    if (kRunStateNames[i] == s) return static_cast<RunState>(i);
  }
  return std::nullopt;
}

bool is_final(RunState s) {
  return s != RunState::kScheduled && s != RunState::kRunning && s != RunState::kPaused;
}

const char* to_string(NotRunReason r) {
  switch (r) {
    case NotRunReason::kOverlap:
      return "overlap";
    case NotRunReason::kPaused:
      return "paused";
    case NotRunReason::kStartingDeadline:
      return "starting_deadline";
    case NotRunReason::kClockJump:
      return "clock_jump";
    case NotRunReason::kMissedWhileDown:
      return "missed_while_down";
    case NotRunReason::kDstSkip:
      return "dst_skip";
    case NotRunReason::kOverloaded:
      return "overloaded";
    case NotRunReason::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

std::optional<NotRunReason> not_run_reason_from_string(std::string_view s) {
  for (int i = 0; i <= static_cast<int>(NotRunReason::kCancelled); ++i) {
    if (s == to_string(static_cast<NotRunReason>(i))) return static_cast<NotRunReason>(i);
  }
  return std::nullopt;
}

}  // namespace skedd
