// Workflows: named sets of jobs whose steps wait for one another. The definition as the loader
// has checked it (a DAG whose steps are one user's jobs), the names a step's outputs take in
// the environment of the steps after it, and the planner that decides, from the states of a
// workflow run's steps, which start next and which will not run. Pure: no clock, no store.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "skedd/core/job_spec.h"
#include "skedd/core/run_channel.h"
#include "skedd/schedule/schedule.h"
#include "skedd/time/time_zone.h"
#include "skedd/time/types.h"
#include "skedd/util/result.h"

namespace skedd {

/// When a step runs, once every step it needs has settled.
enum class StepWhen : std::uint8_t {
  kSuccess,  ///< every step it needs succeeded (the default)
  kFailure,  ///< at least one of them failed (or ended unknown, or was skipped for a failure)
  kAlways,   ///< whatever they did
};
const char* to_string(StepWhen w);
std::optional<StepWhen> step_when_from_string(std::string_view s);

struct StepSpec {
  std::string name;
  std::string job;                 ///< the job it runs, with that job's own definition
  std::vector<std::size_t> needs;  ///< indices of earlier steps (the steps are in DAG order)
  StepWhen when = StepWhen::kSuccess;
};

/// `requires = [{ job = "dump", succeeded_within = "6h", wait_up_to = "2h" }]`: a workflow
/// run starts its steps only once `job` has succeeded within `succeeded_within`, waiting for
/// that up to `wait_up_to`.
struct Requirement {
  std::string job;
  Duration succeeded_within{0};
  Duration wait_up_to{0};
};

struct WorkflowSpec {
  std::string name;
  /// nullopt: it runs only when triggered.
  std::optional<Schedule> schedule;
  TimeZone zone;
  OverlapPolicy overlap = OverlapPolicy::kSkip;
  /// The user every step runs as (each step job's `user`; unset: skedd's own user).
  std::optional<std::string> user;
  /// In an order where every step comes after the steps it needs (file order otherwise).
  std::vector<StepSpec> steps;
  std::vector<Requirement> requirements;
  SourceLocation defined_at;
  /// Names the definitions its runs run with (the loader's digest of the workflow's table,
  /// its steps' job tables and [defaults]): 12 hex digits, the same while they are the same.
  std::string version;
};

/// At most this many steps in a workflow, needs of a step, and requirements.
constexpr std::size_t kMaxWorkflowSteps = 1000;
constexpr std::size_t kMaxStepNeeds = 100;
constexpr std::size_t kMaxRequirements = 100;

/// The part of SKEDD_IN_<STEP>_<KEY> a step's name gives: upper-cased, `.` and `-` as `_`.
std::string step_variable_part(std::string_view step);
/// SKEDD_IN_<STEP>_<KEY>: how step `step`'s output `key` reaches the steps after it.
std::string input_variable(std::string_view step, std::string_view key);

/// Where a step of a workflow run is.
enum class StepState : std::uint8_t {
  kPending,
  kRunning,
  kSucceeded,
  kFailed,
  kUnknown,    ///< its run ended and how is not known: a failure for `when`
  kSkipped,    ///< it will not run (see SkipReason)
  kCancelled,  ///< its run was cancelled
};
const char* to_string(StepState s);
std::optional<StepState> step_state_from_string(std::string_view s);

/// Why a step did not run.
enum class SkipReason : std::uint8_t {
  kNone,
  kUpstreamFailed,     ///< `when = "success"` and a step it needs failed
  kUpstreamSkipped,    ///< `when = "success"` and a step it needs did not run, none failing
  kConditionFalse,     ///< `when = "failure"` and no step it needs failed
  kCancelled,          ///< the workflow run was cancelled before it started
  kRequirementNotMet,  ///< the workflow's `requires` were not met within their wait_up_to
};
const char* to_string(SkipReason r);
std::optional<SkipReason> skip_reason_from_string(std::string_view s);

struct StepStatus {
  StepState state = StepState::kPending;
  SkipReason reason = SkipReason::kNone;  ///< with kSkipped
};

enum class WorkflowRunState : std::uint8_t {
  kPending,
  kRunning,
  kSucceeded,
  kFailed,
  kCancelled,
  kPaused,
  kNotRun,  ///< its `requires` were not met in time: no step ran
};
const char* to_string(WorkflowRunState s);
std::optional<WorkflowRunState> workflow_run_state_from_string(std::string_view s);
/// Whether a workflow run in state `s` has ended (succeeded, failed, cancelled).
inline bool is_final(WorkflowRunState s) {
  return s == WorkflowRunState::kSucceeded || s == WorkflowRunState::kFailed ||
         s == WorkflowRunState::kCancelled || s == WorkflowRunState::kNotRun;
}

/// What a workflow run does next.
struct WorkflowPlan {
  std::vector<std::size_t> start;  ///< steps to start now, in step order
  /// Steps that will not run, and why, in step order: a skip decided here lets the steps
  /// after it be decided in the same plan.
  std::vector<std::pair<std::size_t, SkipReason>> skip;
  /// The run's state once the starts and skips are applied.
  WorkflowRunState state = WorkflowRunState::kPending;
  std::size_t settled = 0;  ///< steps that succeeded, failed, ended unknown, skipped or cancelled
  std::size_t total = 0;
};

/// Plans the run of `workflow` whose steps are at `steps` (one per step, in step order).
/// A paused run starts nothing (its skips are still decided); a cancelled one starts nothing
/// and skips every pending step with kCancelled. The run has failed when a step of it failed,
/// ended unknown or was cancelled on its own; succeeded when every step settled otherwise.
WorkflowPlan plan_workflow(const WorkflowSpec& workflow, const std::vector<StepStatus>& steps,
                           bool paused, bool cancelled);

}  // namespace skedd
