#include "skedd/core/workflow.h"

namespace skedd {
namespace {

/// What a settled step says to the `when` of the steps after it.
enum class Outcome : std::uint8_t { kUnsettled, kSuccess, kFailure, kNotRun };

Outcome outcome_of(const StepStatus& s) {
  switch (s.state) {
    case StepState::kPending:
    case StepState::kRunning:
      return Outcome::kUnsettled;
    case StepState::kSucceeded:
      return Outcome::kSuccess;
    case StepState::kFailed:
    case StepState::kUnknown:
    case StepState::kCancelled:
      return Outcome::kFailure;
    case StepState::kSkipped:
      // A failure upstream carries on through the steps it kept from running, so that a
      // `when = "failure"` step after them still hears of it.
      return s.reason == SkipReason::kUpstreamFailed ? Outcome::kFailure : Outcome::kNotRun;
  }
  return Outcome::kUnsettled;
}

bool settled(const StepStatus& s) {
  return outcome_of(s) != Outcome::kUnsettled;
}

}  // namespace

const char* to_string(StepWhen w) {
  switch (w) {
    case StepWhen::kSuccess:
      return "success";
    case StepWhen::kFailure:
      return "failure";
    case StepWhen::kAlways:
      return "always";
  }
  return "?";
}

std::optional<StepWhen> step_when_from_string(std::string_view s) {
  if (s == "success") return StepWhen::kSuccess;
  if (s == "failure") return StepWhen::kFailure;
  if (s == "always") return StepWhen::kAlways;
  return std::nullopt;
}

const char* to_string(StepState s) {
  switch (s) {
    case StepState::kPending:
      return "pending";
    case StepState::kRunning:
      return "running";
    case StepState::kSucceeded:
      return "succeeded";
    case StepState::kFailed:
      return "failed";
    case StepState::kUnknown:
      return "unknown";
    case StepState::kSkipped:
      return "skipped";
    case StepState::kCancelled:
      return "cancelled";
  }
  return "?";
}

std::optional<StepState> step_state_from_string(std::string_view s) {
  for (StepState v :
       {StepState::kPending, StepState::kRunning, StepState::kSucceeded, StepState::kFailed,
        StepState::kUnknown, StepState::kSkipped, StepState::kCancelled}) {
    if (s == to_string(v)) return v;
  }
  return std::nullopt;
}

std::optional<SkipReason> skip_reason_from_string(std::string_view s) {
  for (SkipReason v :
       {SkipReason::kNone, SkipReason::kUpstreamFailed, SkipReason::kUpstreamSkipped,
        SkipReason::kConditionFalse, SkipReason::kCancelled, SkipReason::kRequirementNotMet}) {
    if (s == to_string(v)) return v;
  }
  return std::nullopt;
}

std::optional<WorkflowRunState> workflow_run_state_from_string(std::string_view s) {
  for (WorkflowRunState v :
       {WorkflowRunState::kPending, WorkflowRunState::kRunning, WorkflowRunState::kSucceeded,
        WorkflowRunState::kFailed, WorkflowRunState::kCancelled, WorkflowRunState::kPaused,
        WorkflowRunState::kNotRun}) {
    if (s == to_string(v)) return v;
  }
  return std::nullopt;
}

const char* to_string(SkipReason r) {
  switch (r) {
    case SkipReason::kNone:
      return "";
    case SkipReason::kUpstreamFailed:
      return "upstream_failed";
    case SkipReason::kUpstreamSkipped:
      return "upstream_skipped";
    case SkipReason::kConditionFalse:
      return "condition_false";
    case SkipReason::kCancelled:
      return "cancelled";
    case SkipReason::kRequirementNotMet:
      return "requirement_not_met";
  }
  return "?";
}

const char* to_string(WorkflowRunState s) {
  switch (s) {
    case WorkflowRunState::kPending:
      return "pending";
    case WorkflowRunState::kRunning:
      return "running";
    case WorkflowRunState::kSucceeded:
      return "succeeded";
    case WorkflowRunState::kFailed:
      return "failed";
    case WorkflowRunState::kCancelled:
      return "cancelled";
    case WorkflowRunState::kPaused:
      return "paused";
    case WorkflowRunState::kNotRun:
      return "not_run";
  }
  return "?";
}

std::string step_variable_part(std::string_view step) {
  std::string out;
  out.reserve(step.size());
  for (char c : step) {
    if (c == '.' || c == '-') {
      out += '_';
    } else if (c >= 'a' && c <= 'z') {
      out += static_cast<char>(c - 'a' + 'A');
    } else {
      out += c;
    }
  }
  return out;
}

std::string input_variable(std::string_view step, std::string_view key) {
  std::string out = "SKEDD_IN_" + step_variable_part(step) + "_";
  for (char c : key) out += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  return out;
}

WorkflowPlan plan_workflow(const WorkflowSpec& workflow, const std::vector<StepStatus>& steps,
                           bool paused, bool cancelled) {
  WorkflowPlan plan;
  plan.total = workflow.steps.size();
  // Decided here as if applied, so that a skip settles the steps after it in this one pass
  // (a step's needs come before it).
  std::vector<StepStatus> now = steps;
  now.resize(workflow.steps.size());
  bool started_any = false;
  for (std::size_t i = 0; i < workflow.steps.size(); ++i) {
    if (now[i].state != StepState::kPending) {
      started_any = true;
      continue;
    }
    if (cancelled) {
      now[i] = {StepState::kSkipped, SkipReason::kCancelled};
      plan.skip.emplace_back(i, SkipReason::kCancelled);
      continue;
    }
    const StepSpec& step = workflow.steps[i];
    bool waiting = false, failure = false, not_run = false;
    for (std::size_t need : step.needs) {
      switch (outcome_of(now[need])) {
        case Outcome::kUnsettled:
          waiting = true;
          break;
        case Outcome::kFailure:
          failure = true;
          break;
        case Outcome::kNotRun:
          not_run = true;
          break;
        case Outcome::kSuccess:
          break;
      }
    }
    if (waiting) continue;
    SkipReason skip = SkipReason::kNone;
    if (step.when == StepWhen::kSuccess && failure) skip = SkipReason::kUpstreamFailed;
    if (step.when == StepWhen::kSuccess && !failure && not_run) skip = SkipReason::kUpstreamSkipped;
    if (step.when == StepWhen::kFailure && !failure) skip = SkipReason::kConditionFalse;
    if (skip != SkipReason::kNone) {
      now[i] = {StepState::kSkipped, skip};
      plan.skip.emplace_back(i, skip);
    } else if (!paused) {
      now[i].state = StepState::kRunning;
      plan.start.push_back(i);
      started_any = true;
    }
  }
  bool failed = false;
  for (const StepStatus& s : now) {
    if (s.state == StepState::kRunning) started_any = true;  // started now or before
    if (settled(s)) ++plan.settled;
    if (s.state == StepState::kFailed || s.state == StepState::kUnknown ||
        s.state == StepState::kCancelled) {
      failed = true;
    }
  }
  if (plan.settled < plan.total) {
    plan.state = paused        ? WorkflowRunState::kPaused
                 : started_any ? WorkflowRunState::kRunning
                               : WorkflowRunState::kPending;
  } else if (cancelled) {
    plan.state = WorkflowRunState::kCancelled;
  } else {
    plan.state = failed ? WorkflowRunState::kFailed : WorkflowRunState::kSucceeded;
  }
  return plan;
}

}  // namespace skedd
