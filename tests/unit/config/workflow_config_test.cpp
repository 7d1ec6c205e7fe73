// [workflow.NAME] tables: what a valid one loads as, and every config error as its whole text.
#include <algorithm>
#include <string>

#include <catch2/catch.hpp>

#include "support/temp_dir.h"

#include "skedd/config/config.h"

namespace {

using skedd::Config;
using skedd::StepWhen;

// The main file of these tests, in UTC, with `extra` after [daemon].
std::string workflow_main(const skedd::test::TempDir& dir, const std::string& extra) {
  return dir.write("skedd.toml", "[daemon]\ntimezone = \"UTC\"\n" + extra);
}

std::string workflow_error(const std::string& path) {
  auto cfg = skedd::load_config(path);
  REQUIRE_FALSE(cfg.ok());
  return cfg.error().message;
}

// Five step jobs (of workflow "all") and a scheduled one, in jobs.d/steps.toml.
constexpr const char* kStepJobs = R"([job.extract]
command = ["/bin/true"]

[job.transform]
command = ["/bin/true"]

[job.validate]
command = ["/bin/true"]

[job.store]
command = ["/bin/true"]

[job.page]
command = ["/bin/true"]

[job.upstream-dump]
cron = "0 1 * * *"
command = ["/bin/true"]

[workflow.all]
steps.a = { job = "extract" }
steps.b = { job = "transform" }
steps.c = { job = "validate" }
steps.d = { job = "store" }
steps.e = { job = "page" }
)";

}  // namespace

TEST_CASE("workflow: the issue's pipeline loads as a DAG of step jobs", "[config][workflow]") {
  skedd::test::TempDir dir("skedd-workflow-test");
  dir.write("jobs.d/steps.toml", kStepJobs);
  // Steps written out of order: they are put after the steps they need.
  const std::string main = workflow_main(dir, R"(
[workflow.nightly]
cron = "0 2 * * *"
timezone = "Europe/Berlin"
overlap = "queue"
steps.alert     = { job = "page",      needs = ["store"],    when = "failure" }
steps.extract   = { job = "extract" }
steps.transform = { job = "transform", needs = ["extract"] }
steps.store     = { job = "store",     needs = ["validate"], when = "success" }
steps.validate  = { job = "validate",  needs = ["transform"] }
requires = [{ job = "upstream-dump", succeeded_within = "6h", wait_up_to = "2h" }]
)");
  auto cfg = skedd::load_config(main);
  INFO((cfg ? std::string() : cfg.error().message));
  REQUIRE(cfg);
  REQUIRE(cfg->workflows.size() == 2);  // the main file's first
  const skedd::WorkflowSpec& w = cfg->workflows[0];
  CHECK(w.name == "nightly");
  REQUIRE(w.schedule);
  CHECK(w.schedule->is_cron());
  CHECK(w.zone.name() == "Europe/Berlin");
  CHECK(w.overlap == skedd::OverlapPolicy::kQueue);
  CHECK_FALSE(w.user);  // the step jobs' user: skedd's own
  std::vector<std::string> order;
  for (const auto& s : w.steps) order.push_back(s.name);
  CHECK(order == std::vector<std::string>{"extract", "transform", "validate", "store", "alert"});
  CHECK(w.steps[0].needs.empty());
  CHECK(w.steps[1].needs == std::vector<std::size_t>{0});
  CHECK(w.steps[4].needs == std::vector<std::size_t>{3});
  CHECK(w.steps[4].when == StepWhen::kFailure);
  CHECK(w.steps[4].job == "page");
  REQUIRE(w.requirements.size() == 1);
  CHECK(w.requirements[0].job == "upstream-dump");
  CHECK(w.requirements[0].succeeded_within == std::chrono::hours(6));
  CHECK(w.requirements[0].wait_up_to == std::chrono::hours(2));
  // Step jobs fire only through their workflow: kept apart from the scheduled jobs.
  REQUIRE(cfg->jobs.size() == 1);
  CHECK(cfg->jobs[0].name == "upstream-dump");
  CHECK(cfg->step_jobs.size() == 5);
}

TEST_CASE("workflow: fan-out and fan-in, and a trigger-only workflow", "[config][workflow]") {
  skedd::test::TempDir dir("skedd-workflow-test");
  dir.write("jobs.d/steps.toml", kStepJobs);
  const std::string main = workflow_main(dir, R"(
[workflow.fan]
steps.a = { job = "extract" }
steps.b = { job = "transform", needs = ["a"] }
steps.c = { job = "validate", needs = ["a"] }
steps.d = { job = "store", needs = ["c", "b"], when = "always" }
)");
  auto cfg = skedd::load_config(main);
  INFO((cfg ? std::string() : cfg.error().message));
  REQUIRE(cfg);
  const skedd::WorkflowSpec& w = cfg->workflows.at(0);
  CHECK_FALSE(w.schedule);
  REQUIRE(w.steps.size() == 4);
  CHECK(w.steps[3].name == "d");
  CHECK(w.steps[3].needs == std::vector<std::size_t>{1, 2});
  CHECK(w.steps[3].when == StepWhen::kAlways);
}

TEST_CASE("workflow: config errors name the path of a cycle or what is missing",
          "[config][workflow]") {
  skedd::test::TempDir dir("skedd-workflow-test");
  dir.write("jobs.d/steps.toml", kStepJobs);
  const std::string main_path = dir / "skedd.toml";
  SECTION("a cycle") {
    workflow_main(dir, R"(
[workflow.w]
steps.a = { job = "extract", needs = ["c"] }
steps.b = { job = "transform", needs = ["a"] }
steps.c = { job = "validate", needs = ["b"] }
steps.d = { job = "store" }
)");
    CHECK(workflow_error(main_path) ==
          main_path +
              ":5:11: workflow \"w\": its steps form a cycle: \"a\" needs \"c\" needs \"b\" needs "
              "\"a\"");
  }
  SECTION("a step that needs itself") {
    workflow_main(dir, "[workflow.w]\nsteps.a = { job = \"extract\", needs = [\"a\"] }\n");
    CHECK(workflow_error(main_path) ==
          main_path + ":4:11: workflow \"w\": its steps form a cycle: \"a\" needs \"a\"");
  }
  SECTION("an unknown job and an unknown need") {
    workflow_main(dir, R"([workflow.w]
steps.a = { job = "extrct" }
steps.b = { job = "transform", needs = ["aa"] }
)");
    CHECK(workflow_error(main_path) ==
          main_path + ":4:11: workflow \"w\": step \"a\": job \"extrct\" is not defined\n" +
              main_path +
              ":5:41: workflow \"w\": step \"b\": needs \"aa\", which is not a step of workflow "
              "\"w\"");
  }
  SECTION("a bad when") {
    workflow_main(dir, R"([workflow.w]
steps.a = { job = "extract" }
steps.b = { job = "transform", needs = ["a"], when = "sometimes" }
)");
    CHECK(workflow_error(main_path) ==
          main_path +
              ":5:54: workflow \"w\": step \"b\": when: \"sometimes\" is not one of success, "
              "failure, always");
  }
  SECTION("when = failure on a step that needs none") {
    workflow_main(dir, "[workflow.w]\nsteps.a = { job = \"extract\", when = \"failure\" }\n");
    CHECK(workflow_error(main_path) ==
          main_path +
              ":4:37: workflow \"w\": step \"a\": when = \"failure\" follows the steps it needs, "
              "and it needs none");
  }
  SECTION("a job of another user") {
    dir.write("jobs.d/bob.toml", "[job.bobs]\nuser = \"bob\"\ncommand = [\"/bin/true\"]\n");
    workflow_main(dir, R"([workflow.w]
steps.a = { job = "extract" }
steps.b = { job = "bobs", needs = ["a"] }
)");
    CHECK(workflow_error(main_path) ==
          main_path +
              ":5:11: workflow \"w\": step \"b\": job \"bobs\" runs as user \"bob\", and the "
              "workflow's steps as skedd's own user (job \"extract\"): a workflow's steps are one "
              "user's jobs");
  }
  SECTION("a workflow's user that its steps do not run as") {
    workflow_main(dir, "[workflow.w]\nuser = \"alice\"\nsteps.a = { job = \"extract\" }\n");
    CHECK(workflow_error(main_path) ==
          main_path +
              ":5:11: workflow \"w\": step \"a\": job \"extract\" runs as skedd's own user, and "
              "the workflow's steps as user \"alice\" (its user): a workflow's steps are one "
              "user's jobs");
  }
  SECTION("a step job with a schedule of its own") {
    dir.write("jobs.d/hourly.toml",
              "[job.hourly]\ncron = \"@hourly\"\ncommand = [\"/bin/true\"]\n");
    workflow_main(dir, "[workflow.w]\nsteps.a = { job = \"hourly\" }\n");
    CHECK(workflow_error(main_path) ==
          dir /
              "jobs.d/hourly.toml:2:8: job \"hourly\": cron: it is a step of workflow \"w\", "
              "which alone fires it: a step's job has no schedule of its own");
  }
  SECTION("two steps whose names give the same variables") {
    workflow_main(dir, R"([workflow.w]
steps.load-db = { job = "extract" }
steps."load.db" = { job = "transform" }
)");
    CHECK(workflow_error(main_path) ==
          main_path +
              ":5:19: workflow \"w\": steps \"load-db\" and \"load.db\" both give variables "
              "SKEDD_IN_LOAD_DB_*: rename one");
  }
  SECTION("a workflow named as a job, and one with no steps") {
    workflow_main(dir,
                  "[workflow.upstream-dump]\nsteps.a = { job = \"extract\" }\n\n"
                  "[workflow.empty]\ncron = \"@daily\"\n");
    CHECK(workflow_error(main_path) ==
          main_path + ":3:11: workflow \"upstream-dump\": a job of that name is defined at " +
              dir / "jobs.d/steps.toml:16:1 (workflows and jobs share one namespace)\n" +
              main_path + ":6:1: workflow \"empty\": no steps: set steps.NAME = { job = \"...\" }");
  }
  SECTION("a requirement without succeeded_within, and one of an unknown job") {
    workflow_main(dir, R"([workflow.w]
steps.a = { job = "extract" }
requires = [{ job = "upstream-dump" }, { job = "nope", succeeded_within = "1h" }]
)");
    CHECK(workflow_error(main_path) ==
          main_path +
              ":5:13: workflow \"w\": requires: each must be a table with job and "
              "succeeded_within, such as { job = \"dump\", succeeded_within = \"6h\" }\n" +
              main_path + ":5:40: workflow \"w\": requires: job \"nope\" is not defined");
  }
}
