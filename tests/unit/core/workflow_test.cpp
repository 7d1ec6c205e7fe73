// The workflow planner on hand-made runs: which steps start, which will not run and why, and
// the run's state; and the names outputs take.
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "skedd/core/workflow.h"

namespace {

using skedd::SkipReason;
using skedd::StepState;
using skedd::StepStatus;
using skedd::StepWhen;
using skedd::WorkflowRunState;

// extract -> transform -> validate -> store -> alert (when = failure).
skedd::WorkflowSpec pipeline() {
  skedd::WorkflowSpec w;
  w.name = "nightly";
  w.steps = {{"extract", "extract", {}, StepWhen::kSuccess},
             {"transform", "transform", {0}, StepWhen::kSuccess},
             {"validate", "validate", {1}, StepWhen::kSuccess},
             {"store", "store", {2}, StepWhen::kSuccess},
             {"alert", "page", {3}, StepWhen::kFailure}};
  return w;
}

std::vector<StepStatus> states(std::initializer_list<StepState> s) {
  std::vector<StepStatus> out;
  for (StepState state : s) out.push_back({state, SkipReason::kNone});
  return out;
}

using Skips = std::vector<std::pair<std::size_t, SkipReason>>;

}  // namespace

TEST_CASE("workflow plan: a pipeline starts its first step, then each after the one before",
          "[workflow]") {
  const auto w = pipeline();
  auto plan = skedd::plan_workflow(w, std::vector<StepStatus>(5), false, false);
  CHECK(plan.start == std::vector<std::size_t>{0});
  CHECK(plan.skip.empty());
  CHECK(plan.state == WorkflowRunState::kRunning);
  CHECK(plan.settled == 0);
  CHECK(plan.total == 5);

  plan =
      skedd::plan_workflow(w, states({StepState::kSucceeded, StepState::kRunning}), false, false);
  CHECK(plan.start.empty());
  CHECK(plan.settled == 1);
  // Started before this plan, still running: the run is running, not pending.
  CHECK(plan.state == WorkflowRunState::kRunning);

  // Every step succeeded: the failure branch is not taken, and the run succeeded.
  plan = skedd::plan_workflow(w,
                              states({StepState::kSucceeded, StepState::kSucceeded,
                                      StepState::kSucceeded, StepState::kSucceeded}),
                              false, false);
  CHECK(plan.start.empty());
  CHECK(plan.skip == Skips{{4, SkipReason::kConditionFalse}});
  CHECK(plan.state == WorkflowRunState::kSucceeded);
  CHECK(plan.settled == 5);
}

TEST_CASE("workflow plan: a failure skips what follows on success and runs the failure branch",
          "[workflow]") {
  const auto w = pipeline();
  SECTION("the step just before the branch failed") {
    auto plan = skedd::plan_workflow(w,
                                     states({StepState::kSucceeded, StepState::kSucceeded,
                                             StepState::kSucceeded, StepState::kFailed}),
                                     false, false);
    CHECK(plan.start == std::vector<std::size_t>{4});
    CHECK(plan.skip.empty());
    CHECK(plan.state == WorkflowRunState::kRunning);
  }
  SECTION("an earlier step failed: the failure carries through the steps it kept from running") {
    auto plan = skedd::plan_workflow(
        w, states({StepState::kSucceeded, StepState::kSucceeded, StepState::kFailed}), false,
        false);
    CHECK(plan.skip == Skips{{3, SkipReason::kUpstreamFailed}});
    CHECK(plan.start == std::vector<std::size_t>{4});
    // Once the alert has run, the run has failed all the same.
    auto after = states({StepState::kSucceeded, StepState::kSucceeded, StepState::kFailed,
                         StepState::kSkipped, StepState::kSucceeded});
    after[3].reason = SkipReason::kUpstreamFailed;
    plan = skedd::plan_workflow(w, after, false, false);
    CHECK(plan.state == WorkflowRunState::kFailed);
    CHECK(plan.settled == 5);
  }
  SECTION("an outcome that is not known counts as a failure") {
    auto plan = skedd::plan_workflow(w,
                                     states({StepState::kSucceeded, StepState::kSucceeded,
                                             StepState::kSucceeded, StepState::kUnknown}),
                                     false, false);
    CHECK(plan.start == std::vector<std::size_t>{4});
  }
}

TEST_CASE("workflow plan: fan-in waits for every step it needs, always and upstream skips",
          "[workflow]") {
  skedd::WorkflowSpec w;
  w.steps = {
      {"a", "a", {}, StepWhen::kSuccess},           {"b", "b", {}, StepWhen::kSuccess},
      {"c", "c", {0, 1}, StepWhen::kSuccess},       {"on_fail", "f", {0}, StepWhen::kFailure},
      {"after_fail", "g", {3}, StepWhen::kSuccess}, {"cleanup", "h", {2, 4}, StepWhen::kAlways}};
  auto plan = skedd::plan_workflow(w, std::vector<StepStatus>(6), false, false);
  CHECK(plan.start == std::vector<std::size_t>{0, 1});

  plan =
      skedd::plan_workflow(w, states({StepState::kSucceeded, StepState::kRunning}), false, false);
  CHECK(plan.start.empty());  // c waits for b
  // on_fail's condition is false; after_fail did not run because on_fail did not (no failure).
  CHECK(plan.skip == Skips{{3, SkipReason::kConditionFalse}, {4, SkipReason::kUpstreamSkipped}});

  plan =
      skedd::plan_workflow(w, states({StepState::kSucceeded, StepState::kSucceeded}), false, false);
  CHECK(plan.start == std::vector<std::size_t>{2});
  // cleanup runs whatever c did, once c has settled.
  auto done = states({StepState::kSucceeded, StepState::kSucceeded, StepState::kFailed,
                      StepState::kSkipped, StepState::kSkipped});
  done[3].reason = SkipReason::kConditionFalse;
  done[4].reason = SkipReason::kUpstreamSkipped;
  plan = skedd::plan_workflow(w, done, false, false);
  CHECK(plan.start == std::vector<std::size_t>{5});
}

TEST_CASE("workflow plan: paused starts nothing, cancelled skips every pending step",
          "[workflow]") {
  const auto w = pipeline();
  const auto now = states({StepState::kSucceeded, StepState::kRunning});
  auto plan = skedd::plan_workflow(w, states({StepState::kSucceeded}), true, false);
  CHECK(plan.start.empty());
  CHECK(plan.state == WorkflowRunState::kPaused);

  plan = skedd::plan_workflow(w, now, false, true);
  CHECK(plan.skip == Skips{{2, SkipReason::kCancelled},
                           {3, SkipReason::kCancelled},
                           {4, SkipReason::kCancelled}});
  CHECK(plan.state == WorkflowRunState::kRunning);  // transform still runs
  auto ended = now;
  ended[1].state = StepState::kCancelled;
  plan = skedd::plan_workflow(w, ended, false, true);
  CHECK(plan.state == WorkflowRunState::kCancelled);
}

TEST_CASE("workflow outputs: SKEDD_IN_ names and keys", "[workflow]") {
  CHECK(skedd::step_variable_part("load.db-eu_1") == "LOAD_DB_EU_1");
  CHECK(skedd::input_variable("extract", "rows") == "SKEDD_IN_EXTRACT_ROWS");
  CHECK(skedd::validate_output_key("rows_2"));
  CHECK(skedd::validate_output_key(std::string(64, 'k')));
  CHECK(skedd::validate_output_key(std::string(65, 'k')).error().message ==
        "invalid output key \"" + std::string(65, 'k') + "\": longer than 64 characters");
  CHECK(skedd::validate_output_key("2rows").error().message ==
        "invalid output key \"2rows\": must start with a letter");
  CHECK(skedd::validate_output_key("row-count").error().message ==
        "invalid output key \"row-count\": character 4 is not a letter, digit or '_'");
  CHECK(skedd::validate_output_key("").error().message == "invalid output key \"\": empty");
}
