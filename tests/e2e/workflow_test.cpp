// Workflows end to end: the real skedd runs a workflow's steps as runs of their jobs, in the
// order their needs give, hands each step the outputs of the steps before it, takes the
// failure branch, and records the workflow run with every step's state and reason.
#include <signal.h>

#include <chrono>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include "support/command.h"
#include "support/daemon.h"
#include "support/daemon_jobs.h"
#include "support/temp_dir.h"

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using skedd::test::CommandResult;
using skedd::test::Daemon;
using skedd::test::job;
using skedd::test::skedctl;
using skedd::test::TempDir;
using skedd::test::write_config;

// The pipeline of the design documents, as processes: extract, transform, validate (which
// fails unless DIR/valid exists), store, and a failure step that pages.
std::string pipeline_jobs(const TempDir& dir) {
  return job(dir, "extract", "", R"(echo "output rows 1200" >&3
echo "output path /srv/dump one.sql" >&3
)") +
         job(dir, "transform", "",
             R"sh([ "$SKEDD_WORKFLOW" = pipe ] && [ "$SKEDD_STEP" = transform ] || exit 9
echo "got $SKEDD_IN_EXTRACT_ROWS rows from $SKEDD_IN_EXTRACT_PATH"
echo "output rows $((SKEDD_IN_EXTRACT_ROWS + 1))" >&3
)sh") + job(dir, "validate", "", R"(test -e "$DIR/valid"
)") + job(dir, "store", "", R"(echo "stored $SKEDD_IN_TRANSFORM_ROWS of $SKEDD_IN_EXTRACT_ROWS"
)") + job(dir, "page", "", R"(echo "paged for run $SKEDD_WORKFLOW_RUN"
)") + R"([workflow.pipe]
steps.extract   = { job = "extract" }
steps.transform = { job = "transform", needs = ["extract"] }
steps.validate  = { job = "validate",  needs = ["transform"] }
steps.store     = { job = "store",     needs = ["validate"], when = "success" }
steps.alert     = { job = "page",      needs = ["store"],    when = "failure" }
)";
}

// The steps of a workflow run reply: name -> {state, reason, run}.
std::map<std::string, json> steps_of(const json& run) {
  std::map<std::string, json> out;
  for (const json& s : run["steps"]) out[s["step"].get<std::string>()] = s;
  return out;
}

std::string log_of(const TempDir& dir, const json& step) {
  return skedctl(dir, {"logs", step["run"].dump()}).out;
}

}  // namespace

TEST_CASE("a workflow runs its steps in order, hands on outputs and takes the failure branch",
          "[workflow]") {
  TempDir dir;
  const std::string config = write_config(dir, "", pipeline_jobs(dir));
  Daemon d(dir, config);
  d.wait_for("listening");

  const CommandResult failed = skedctl(dir, {"workflow", "trigger", "pipe", "--wait", "--json"});
  SHOW(failed);
  SHOW_LOG(d);
  CHECK(failed.exit_code == 1);
  const json run = json::parse(failed.out);
  CHECK(run["state"] == "failed");
  CHECK(run["settled"] == 5);
  CHECK(run["total"] == 5);
  auto steps = steps_of(run);
  CHECK(steps["extract"]["state"] == "succeeded");
  CHECK(steps["transform"]["state"] == "succeeded");
  CHECK(steps["validate"]["state"] == "failed");
  CHECK(steps["store"]["state"] == "skipped");
  CHECK(steps["store"]["reason"] == "upstream_failed");
  CHECK_FALSE(steps["store"].contains("run"));
  CHECK(steps["alert"]["state"] == "succeeded");
  CHECK(log_of(dir, steps["transform"]) == "got 1200 rows from /srv/dump one.sql\n");
  CHECK(log_of(dir, steps["alert"]) == "paged for run " + run["run"].dump() + "\n");
  // Each step is a run of its step job, a fire of the workflow run's instant.
  const json transform =
      json::parse(skedctl(dir, {"wait", steps["transform"]["run"].dump(), "--json"}).out);
  CHECK(transform["job"] == "pipe::transform");
  CHECK(transform["scheduled"] == run["scheduled"]);
  CHECK(transform["outputs"] == json{{"rows", "1201"}});

  dir.write("valid", "");
  const CommandResult succeeded = skedctl(dir, {"workflow", "trigger", "pipe", "--wait"});
  SHOW(succeeded);
  CHECK(succeeded.exit_code == 0);
  CHECK(succeeded.out.find(": succeeded, 5/5 steps settled") != std::string::npos);
  const json runs = json::parse(skedctl(dir, {"workflow", "runs", "pipe", "--json"}).out);
  REQUIRE(runs["runs"].size() == 2);
  steps = steps_of(runs["runs"][0]);  // newest first
  CHECK(runs["runs"][0]["state"] == "succeeded");
  CHECK(steps["alert"]["state"] == "skipped");
  CHECK(steps["alert"]["reason"] == "condition_false");
  CHECK(log_of(dir, steps["store"]) == "stored 1201 of 1200\n");
  CHECK(runs["runs"][1]["state"] == "failed");

  const std::vector<skedd::test::Json> finished = d.events_named("workflow_run_finished");
  REQUIRE(finished.size() == 2);
  CHECK(finished[0]["state"] == "failed");
  CHECK(finished[1]["state"] == "succeeded");
  CHECK(d.events_named("workflow_step_skipped").size() == 2);

  // A step job fires only through its workflow.
  const CommandResult direct = skedctl(dir, {"trigger", "pipe::extract"});
  CHECK(direct.exit_code == 1);
  CHECK(direct.err.find("is step extract of workflow pipe") != std::string::npos);
  const json list = json::parse(skedctl(dir, {"workflow", "list", "--json"}).out);
  REQUIRE(list["workflows"].size() == 1);
  CHECK(list["workflows"][0]["name"] == "pipe");
  CHECK(list["workflows"][0]["schedule"].is_null());
  CHECK(list["workflows"][0]["steps"][4] ==
        json{{"name", "alert"}, {"job", "page"}, {"needs", {"store"}}, {"when", "failure"}});
  CHECK(skedctl(dir, {"workflow", "trigger", "nope"}).exit_code == 3);
}

TEST_CASE("a workflow run is cancelled, and one a restart interrupted is recorded failed",
          "[workflow]") {
  TempDir dir;
  const std::string config =
      write_config(dir, "",
                   job(dir, "wait", "", "while [ ! -e \"$DIR/go\" ]; do sleep 0.05; done\n") +
                       job(dir, "after", "", "true\n") + R"([workflow.slow]
steps.first = { job = "wait" }
steps.then  = { job = "after", needs = ["first"] }
)");
  {
    Daemon d(dir, config);
    d.wait_for("listening");
    const json started = json::parse(skedctl(dir, {"workflow", "trigger", "slow", "--json"}).out);
    const std::string id = started["run"].dump();
    d.wait_for("run_started");
    // overlap = "skip" (the default): a second run is refused while this one goes on.
    const CommandResult second = skedctl(dir, {"workflow", "trigger", "slow"});
    CHECK(second.exit_code == 1);
    CHECK(second.err.find("has a run going on (run " + id + ")") != std::string::npos);
    CHECK(skedctl(dir, {"workflow", "cancel", id}).exit_code == 0);
    d.wait_for("workflow_run_finished");
    const json runs = json::parse(skedctl(dir, {"workflow", "runs", "--run", id, "--json"}).out);
    SHOW_LOG(d);
    REQUIRE(runs["runs"].size() == 1);
    CHECK(runs["runs"][0]["state"] == "cancelled");
    auto steps = steps_of(runs["runs"][0]);
    CHECK(steps["first"]["state"] == "cancelled");
    CHECK(steps["then"]["state"] == "skipped");
    CHECK(steps["then"]["reason"] == "cancelled");
    CHECK(skedctl(dir, {"workflow", "cancel", id}).exit_code == 1);  // not going on

    // A run going on when skedd stops (on_shutdown = "leave").
    skedctl(dir, {"workflow", "trigger", "slow"});
    d.wait_for("run_started", [](const skedd::test::Json& e) { return e["run"] != nullptr; });
    d.signal(SIGTERM);
    REQUIRE(d.wait_exit(5000ms) == 0);
    d.leave_runs();
  }
  dir.write("go", "");
  Daemon again(dir, config);
  again.wait_for("listening");
  const json runs = json::parse(skedctl(dir, {"workflow", "runs", "slow", "--json"}).out);
  SHOW_LOG(again);
  REQUIRE(runs["runs"].size() == 2);
  CHECK(runs["runs"][0]["state"] == "failed");
  CHECK(runs["runs"][0]["message"].get<std::string>().find("interrupted by a restart of skedd") ==
        0);
  auto steps = steps_of(runs["runs"][0]);
  CHECK(steps["first"]["state"] == "unknown");
  CHECK(steps["then"]["reason"] == "cancelled");
}

TEST_CASE("a workflow's runs going on and the inputs a step receives are bounded", "[workflow]") {
  TempDir dir;
  const std::string skedctl_path = SKEDCTL_BINARY;
  // `many`: one waiting step, overlap allow. `chain`: 19 steps in a row, each giving a 60,000
  // byte output; the last counts the inputs it received.
  std::string jobs =
      job(dir, "hold", "", "while [ ! -e \"$DIR/go\" ]; do sleep 0.05; done\n") +
      job(dir, "big", "",
          "v=$(head -c 60000 /dev/zero | tr '\\0' x)\n" + skedctl_path + " output v \"$v\"\n") +
      job(dir, "count", "", "env | grep -c '^SKEDD_IN_'\n") +
      "[workflow.many]\noverlap = \"allow\"\nsteps.only = { job = \"hold\" }\n"
      "[workflow.chain]\nsteps.s1 = { job = \"big\" }\n";
  for (int i = 2; i <= 18; ++i) {
    jobs += "steps.s" + std::to_string(i) + " = { job = \"big\", needs = [\"s" +
            std::to_string(i - 1) + "\"] }\n";
  }
  jobs += "steps.last = { job = \"count\", needs = [\"s18\"] }\n";
  const std::string config = write_config(dir, "", jobs);
  Daemon d(dir, config);
  d.wait_for("listening");

  for (int i = 0; i < 16; ++i) {
    REQUIRE(skedctl(dir, {"workflow", "trigger", "many"}).exit_code == 0);
  }
  const CommandResult refused = skedctl(dir, {"workflow", "trigger", "many", "--force"});
  CHECK(refused.exit_code == 1);
  CHECK(refused.err ==
        "skedctl: workflow \"many\" has 16 runs going on, the most at once (CONFLICT)\n");
  dir.write("go", "");

  const CommandResult chain = skedctl(dir, {"workflow", "trigger", "chain", "--wait", "--json"});
  SHOW(chain);
  SHOW_LOG(d);
  REQUIRE(chain.exit_code == 0);
  auto steps = steps_of(json::parse(chain.out));
  // 17 of the 18 outputs before it fit in 1 MiB of names and values; the last is left out.
  CHECK(log_of(dir, steps["last"]) == "17\n");
  const auto cut = d.events_named("workflow_inputs_cut");
  REQUIRE(cut.size() == 1);
  CHECK(cut[0]["step"] == "last");
  CHECK(cut[0]["dropped"] == 1);
  CHECK(cut[0]["limit_bytes"] == 1048576);
}
