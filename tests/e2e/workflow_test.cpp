// Workflows end to end: the real skedd runs a workflow's steps as runs of their jobs, in the
// order their needs give, hands each step the outputs of the steps before it, takes the
// failure branch, and records the workflow run with every step's state and reason.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
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

  // Retried from validate once it would pass: extract and transform keep their runs, and
  // their outputs reach store.
  dir.write("valid", "");
  const std::string id = run["run"].dump();
  const CommandResult nope = skedctl(dir, {"workflow", "retry", id, "--from", "nope"});
  CHECK(nope.exit_code == 1);
  CHECK(nope.err ==
        "skedctl: workflow pipe has no step \"nope\" (its steps: extract, transform, validate, "
        "store, alert) (INVALID_ARGUMENT)\n");
  const CommandResult retried =
      skedctl(dir, {"workflow", "retry", id, "--from", "validate", "--wait", "--json"});
  SHOW(retried);
  CHECK(retried.exit_code == 0);
  const json again = json::parse(retried.out);
  CHECK(again["run"] == run["run"]);
  CHECK(again["state"] == "succeeded");
  CHECK(again["message"] == "retried from step validate");
  auto retried_steps = steps_of(again);
  CHECK(retried_steps["extract"]["run"] == steps["extract"]["run"]);
  CHECK(retried_steps["transform"]["run"] == steps["transform"]["run"]);
  CHECK(retried_steps["validate"]["run"] != steps["validate"]["run"]);
  CHECK(retried_steps["validate"]["state"] == "succeeded");
  CHECK(retried_steps["alert"]["reason"] == "condition_false");
  CHECK(log_of(dir, retried_steps["store"]) == "stored 1201 of 1200\n");
  // Its outputs are its final steps': alert did not run, and store gives none.
  CHECK(again["outputs"] == json::object());
  CHECK(json::parse(skedctl(dir, {"runs", "pipe::extract", "--json"}).out)["runs"].size() == 1);

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
  CHECK(runs["runs"][1]["state"] == "succeeded");
  CHECK(runs["runs"][1]["run"] == run["run"]);

  const std::vector<skedd::test::Json> finished = d.events_named("workflow_run_finished");
  REQUIRE(finished.size() == 3);
  CHECK(finished[0]["state"] == "failed");
  CHECK(finished[1]["state"] == "succeeded");
  CHECK(d.events_named("workflow_step_skipped").size() == 3);
  CHECK(d.events_named("workflow_run_retried").size() == 1);

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

  // As trees: each step under those it needs, with its times and usual duration.
  const json tree = json::parse(skedctl(dir, {"runs", "--tree", "pipe", "--json"}).out);
  REQUIRE(tree["runs"].size() == 2);
  const json& extract = tree["runs"][0]["steps"][0];
  CHECK(extract["run_state"] == "succeeded");
  CHECK(extract["duration_s"].is_number());
  CHECK(extract["usual_s"].is_number());  // the median of its successful runs
  CHECK_FALSE(tree["runs"][0]["steps"][4].contains("started"));  // alert did not run
  const std::string text = skedctl(dir, {"runs", "--tree", "pipe"}).out;
  CHECK(text.find("\n  extract  ") != std::string::npos);
  CHECK(text.find("\n    transform  ") != std::string::npos);
  CHECK(text.find("\n        store  ") != std::string::npos);
}

TEST_CASE("a workflow run is cancelled, and one a stop left going on goes on after it",
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
    const CommandResult early = skedctl(dir, {"workflow", "retry", id, "--from", "then"});
    CHECK(early.err ==
          "skedctl: workflow run " + id + " is going on: retry it once it has ended (CONFLICT)\n");
    // Paused: its running step's run is paused too; resumed, it goes on.
    CHECK(skedctl(dir, {"workflow", "pause", id}).out == "paused workflow run " + id + "\n");
    const json paused = json::parse(skedctl(dir, {"workflow", "runs", "--run", id, "--json"}).out);
    CHECK(paused["runs"][0]["state"] == "paused");
    CHECK(json::parse(skedctl(dir, {"runs", "slow::first", "--json"}).out)["runs"][0]["state"] ==
          "paused");
    CHECK(skedctl(dir, {"workflow", "resume", id}).exit_code == 0);
    const json resumed = json::parse(skedctl(dir, {"workflow", "runs", "--run", id, "--json"}).out);
    CHECK(resumed["runs"][0]["state"] == "running");
    const std::string tree = skedctl(dir, {"workflow", "runs", "--run", id, "--tree"}).out;
    INFO(tree);
    CHECK(tree.find("running  ") != std::string::npos);
    CHECK(tree.find("started ") != std::string::npos);
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
  {
    // It goes on: its running step was left to the run host and is adopted, then the next.
    Daemon again(dir, config);
    again.wait_for("workflow_run_resumed");
    const json finished = again.wait_for("workflow_run_finished");
    SHOW_LOG(again);
    CHECK(finished["state"] == "succeeded");
    const json runs = json::parse(skedctl(dir, {"workflow", "runs", "slow", "--json"}).out);
    REQUIRE(runs["runs"].size() == 2);
    CHECK(runs["runs"][0]["state"] == "succeeded");
    auto steps = steps_of(runs["runs"][0]);
    CHECK(steps["first"]["state"] == "succeeded");
    CHECK(steps["then"]["state"] == "succeeded");
    CHECK(json::parse(skedctl(dir, {"runs", "slow::first", "--json"}).out)["runs"].size() == 2);

    // Left going on again, and the workflow's steps change while skedd is down.
    ::unlink((dir / "go").c_str());
    skedctl(dir, {"workflow", "trigger", "slow"});
    again.wait_for("run_started", [](const skedd::test::Json& e) { return e["run"] != nullptr; });
    again.signal(SIGTERM);
    REQUIRE(again.wait_exit(5000ms) == 0);
    again.leave_runs();
  }
  dir.write("go", "");
  const std::string changed =
      write_config(dir, "",
                   job(dir, "wait", "", "while [ ! -e \"$DIR/go\" ]; do sleep 0.05; done\n") +
                       job(dir, "after", "", "true\n") + R"([workflow.slow]
steps.first = { job = "wait" }
steps.second = { job = "after", needs = ["first"] }
)");
  Daemon third(dir, changed);
  third.wait_for("listening");
  const json runs = json::parse(skedctl(dir, {"workflow", "runs", "slow", "--json"}).out);
  SHOW_LOG(third);
  REQUIRE(runs["runs"].size() == 3);
  CHECK(runs["runs"][0]["state"] == "failed");
  CHECK(runs["runs"][0]["message"] ==
        "interrupted by a restart of skedd: its workflow's steps changed meanwhile");
  auto steps = steps_of(runs["runs"][0]);
  CHECK(steps["first"]["state"] == "unknown");
  CHECK(steps["then"]["reason"] == "cancelled");
}

TEST_CASE("kill -9 of skedd mid-step: the workflow run goes on where it was", "[workflow]") {
  TempDir dir;
  const auto jobs = [&](const std::string& says) {
    return job(dir, "rows", "", "echo \"output rows 7\" >&3\n") +
           job(dir, "double", "",
               "touch \"$DIR/started\"\nwhile [ ! -e \"$DIR/go\" ]; do sleep 0.05; done\n"
               "echo \"output n $((SKEDD_IN_A_ROWS * 2))\" >&3\n") +
           job(dir, "report", "", "echo \"" + says + " $SKEDD_IN_A_ROWS $SKEDD_IN_B_N\"\n") +
           R"([workflow.chain]
steps.a = { job = "rows" }
steps.b = { job = "double", needs = ["a"] }
steps.c = { job = "report", needs = ["b"] }
)";
  };
  std::string config = write_config(dir, "", jobs("first"));
  std::string id, version;
  {
    Daemon first(dir, config);
    first.wait_for("listening");
    id = json::parse(skedctl(dir, {"workflow", "trigger", "chain", "--json"}).out)["run"].dump();
    REQUIRE(
        skedd::test::wait_until([&] { return std::filesystem::exists(dir / "started"); }, 5000ms));
    version = json::parse(
        skedctl(dir, {"workflow", "runs", "--run", id, "--json"}).out)["runs"][0]["version"];
    first.signal(SIGKILL);
    first.wait_exit(5000ms);
    first.leave_runs();
  }
  // The last step's job changes while skedd is down: the run goes on with it, and says so.
  config = write_config(dir, "", jobs("then"));
  Daemon second(dir, config);
  const json resumed = second.wait_for("workflow_run_resumed");
  CHECK(resumed["run"].dump() == id);
  second.wait_for("run_adopted");
  dir.write("go", "");
  const json finished = second.wait_for("workflow_run_finished");
  SHOW_LOG(second);
  CHECK(finished["state"] == "succeeded");
  const json runs = json::parse(skedctl(dir, {"workflow", "runs", "--run", id, "--json"}).out);
  REQUIRE(runs["runs"].size() == 1);
  auto steps = steps_of(runs["runs"][0]);
  CHECK(steps["a"]["state"] == "succeeded");
  CHECK(steps["b"]["state"] == "succeeded");
  // The finished step was not run again; the one going on was adopted, not started anew; the
  // outputs of both reached the last.
  CHECK(json::parse(skedctl(dir, {"runs", "chain::a", "--json"}).out)["runs"].size() == 1);
  CHECK(json::parse(skedctl(dir, {"runs", "chain::b", "--json"}).out)["runs"].size() == 1);
  CHECK(log_of(dir, steps["c"]) == "then 7 14\n");
  const json& after = runs["runs"][0];
  CHECK(after["version"] != version);
  CHECK(after["message"] == "went on after a restart of skedd with version " +
                                after["version"].get<std::string>() + " (was " + version + ")");
  // Shown with the run: the outputs of its final steps (c gives none; b is not final).
  const json tree = json::parse(skedctl(dir, {"runs", "--tree", "chain", "--json"}).out);
  CHECK(tree["runs"][0]["outputs"] == json::object());
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

TEST_CASE("a workflow runs on its schedule, each run a fire of its instant", "[workflow]") {
  TempDir dir;
  const std::string config =
      write_config(dir, "",
                   job(dir, "stamp", "", "echo \"output at $SKEDD_SCHEDULED_AT\" >&3\n") +
                       job(dir, "hold", "", "while [ ! -e \"$DIR/go\" ]; do sleep 0.05; done\n") +
                       R"([workflow.ticker]
every = "1s"
steps.only = { job = "stamp" }
[workflow.slow]
every = "1s"
steps.only = { job = "hold" }
)");
  Daemon d(dir, config);
  d.wait_for("listening");
  d.wait_for("workflow_run_finished", 2,
             [](const skedd::test::Json& e) { return e["workflow"] == "ticker"; });
  // `slow` has a run going on: its next fires are recorded skipped (overlap = "skip").
  const auto skipped = d.wait_for("workflow_fire_skipped");
  CHECK(skipped["workflow"] == "slow");
  CHECK(skipped["reason"].get<std::string>().find("has a run going on") != std::string::npos);
  dir.write("go", "");

  const json runs = json::parse(skedctl(dir, {"workflow", "runs", "ticker", "--json"}).out);
  SHOW_LOG(d);
  REQUIRE(runs["runs"].size() >= 2);
  const json& run = runs["runs"][runs["runs"].size() - 1];  // the first
  CHECK(run["state"] == "succeeded");
  // Its step ran as a fire of the workflow run's instant, which is a fire of the schedule.
  auto steps = steps_of(run);
  const json step = json::parse(skedctl(dir, {"wait", steps["only"]["run"].dump(), "--json"}).out);
  CHECK(step["scheduled"] == run["scheduled"]);
  CHECK(step["outputs"]["at"] == run["scheduled"]);
  // The workflow run's outputs are those of its final steps, shown with it.
  const json tree = json::parse(
      skedctl(dir, {"workflow", "runs", "ticker", "--run", run["run"].dump(), "--tree", "--json"})
          .out);
  CHECK(tree["runs"][0]["outputs"] == json{{"only", {{"at", run["scheduled"]}}}});
  CHECK(skedctl(dir, {"workflow", "runs", "ticker", "--run", run["run"].dump(), "--tree"})
            .out.find("\n  output only.at: " + run["scheduled"].get<std::string>() + "\n") !=
        std::string::npos);
  // The schedule job records each fire as a run that started a workflow run.
  const json fires = json::parse(skedctl(dir, {"runs", "ticker::@schedule", "--json"}).out);
  bool found = false;
  for (const json& f : fires["runs"]) {
    if (f["message"] == "started workflow run " + run["run"].dump()) {
      found = true;
      CHECK(f["scheduled"] == run["scheduled"]);
      CHECK(f["state"] == "succeeded");
    }
  }
  CHECK(found);
  const json list = json::parse(skedctl(dir, {"workflow", "list", "--json"}).out);
  CHECK(list["workflows"][1]["schedule"] == "every 1s");
  CHECK(list["workflows"][1]["next"].is_string());
  CHECK(list["workflows"][1]["paused"] == false);
  // Pausing the schedule job pauses the workflow's schedule (its fires are recorded skipped).
  REQUIRE(skedctl(dir, {"pause", "ticker::@schedule"}).exit_code == 0);
  const json paused = json::parse(skedctl(dir, {"workflow", "list", "--json"}).out);
  CHECK(paused["workflows"][1]["paused"] == true);
  CHECK(skedctl(dir, {"workflow", "list"}).out.find("ticker  every 1s  paused") !=
        std::string::npos);
  const CommandResult direct = skedctl(dir, {"trigger", "ticker::@schedule"});
  CHECK(direct.exit_code == 1);
  CHECK(direct.err.find("holds the schedule of workflow ticker") != std::string::npos);
}

TEST_CASE("a workflow run waits for its requirements, up to wait_up_to", "[workflow]") {
  constexpr const char* kLater = "at = \"2099-01-01T00:00:00Z\"";
  TempDir dir;
  const std::string config =
      write_config(dir, "",
                   job(dir, "dump", kLater, "true\n") + job(dir, "never", kLater, "true\n") +
                       job(dir, "use", "", "echo used\n") + job(dir, "use2", "", "true\n") +
                       job(dir, "use3", "", "true\n") + R"([workflow.strict]
requires = [{ job = "dump", succeeded_within = "1h" }]
steps.only = { job = "use" }
[workflow.gated]
requires = [{ job = "dump", succeeded_within = "1h", wait_up_to = "1h" }]
steps.only = { job = "use2" }
[workflow.brief]
requires = [{ job = "never", succeeded_within = "1h", wait_up_to = "1s" }]
steps.only = { job = "use3" }
)");
  Daemon d(dir, config);
  d.wait_for("listening");

  // wait_up_to 0 (the default): not met now, not run.
  const CommandResult strict = skedctl(dir, {"workflow", "trigger", "strict", "--wait", "--json"});
  SHOW(strict);
  CHECK(strict.exit_code == 1);
  json run = json::parse(strict.out);
  CHECK(run["state"] == "not_run");
  CHECK(run["message"] == "requirement_not_met: job dump has not succeeded within 1h");
  CHECK(steps_of(run)["only"]["reason"] == "requirement_not_met");

  // It waits: pending until dump succeeds, then its steps run.
  const std::string gated =
      json::parse(skedctl(dir, {"workflow", "trigger", "gated", "--json"}).out)["run"].dump();
  const json wait = d.wait_for("workflow_requirement_wait");
  CHECK(wait["job"] == "dump");
  run = json::parse(skedctl(dir, {"workflow", "runs", "--run", gated, "--json"}).out)["runs"][0];
  CHECK(run["state"] == "pending");
  CHECK(run["message"] == "waiting up to 1h for job dump to succeed within 1h");
  REQUIRE(skedctl(dir, {"trigger", "dump", "--wait"}).exit_code == 0);
  const json finished = d.wait_for("workflow_run_finished", [&](const skedd::test::Json& e) {
    return e["run"].dump() == gated;
  });
  SHOW_LOG(d);
  CHECK(finished["state"] == "succeeded");
  // Met now: the strict one runs at once.
  CHECK(skedctl(dir, {"workflow", "trigger", "strict", "--wait"}).exit_code == 0);

  // Not met within wait_up_to: recorded not run once it has passed.
  const CommandResult brief = skedctl(dir, {"workflow", "trigger", "brief", "--wait", "--json"});
  CHECK(brief.exit_code == 1);
  run = json::parse(brief.out);
  CHECK(run["state"] == "not_run");
  CHECK(run["message"] == "requirement_not_met: job never has not succeeded within 1h (waited 1s)");
}

TEST_CASE("etc/jobs.d/pipeline.toml runs, fails validation, and is retried from validate",
          "[workflow]") {
  TempDir dir;
  // The example as shipped, without its nightly schedule (no test waits for a wall-clock time)
  // and with validate wanting more rows than transform gives.
  std::string example = skedd::test::read_whole_file(SKEDD_SOURCE_DIR "/etc/jobs.d/pipeline.toml");
  const std::size_t cron = example.find("cron = \"15 3 * * *\"\n");
  REQUIRE(cron != std::string::npos);
  example.erase(cron, std::string("cron = \"15 3 * * *\"\n").size());
  const auto with_min_rows = [&](const std::string& rows) {
    std::string text = example;
    const std::size_t at = text.find("MIN_ROWS = \"1000\"");
    REQUIRE(at != std::string::npos);
    return text.replace(at, std::string("MIN_ROWS = \"1000\"").size(),
                        "MIN_ROWS = \"" + rows + "\"");
  };
  const std::string config = write_config(dir, "", with_min_rows("5000"));
  Daemon d(dir, config);
  d.wait_for("listening");

  const CommandResult failed =
      skedctl(dir, {"workflow", "trigger", "pipeline", "--wait", "--json"});
  SHOW(failed);
  SHOW_LOG(d);
  CHECK(failed.exit_code == 1);
  const json run = json::parse(failed.out);
  auto steps = steps_of(run);
  CHECK(steps["validate"]["state"] == "failed");
  CHECK(log_of(dir, steps["validate"]) == "only 1197 rows, want 5000\n");
  CHECK(steps["store"]["reason"] == "upstream_failed");
  CHECK(log_of(dir, steps["alert"]) == "paging: workflow run " + run["run"].dump() + " failed\n");

  // Fixed and reloaded, the run is retried from validate: extract is not run again, and its
  // outputs and transform's reach validate and store.
  write_config(dir, "", with_min_rows("1000"));
  REQUIRE(skedctl(dir, {"reload"}).exit_code == 0);
  const CommandResult retried = skedctl(
      dir, {"workflow", "retry", run["run"].dump(), "--from", "validate", "--wait", "--json"});
  SHOW(retried);
  CHECK(retried.exit_code == 0);
  const json again = json::parse(retried.out);
  auto after = steps_of(again);
  CHECK(after["extract"]["run"] == steps["extract"]["run"]);
  CHECK(log_of(dir, after["store"]) ==
        "stored 1197 of 1200 rows from orders-" + steps["extract"]["run"].dump() + ".csv\n");
  CHECK(after["alert"]["reason"] == "condition_false");
}

TEST_CASE("a workflow run keeps the definitions it started with across a reload", "[workflow]") {
  TempDir dir;
  const auto jobs = [&](const std::string& says) {
    return job(dir, "wait", "", "while [ ! -e \"$DIR/go\" ]; do sleep 0.05; done\n") +
           job(dir, "say", "", "echo " + says + "\n") + R"([workflow.pinned]
steps.first = { job = "wait" }
steps.then  = { job = "say", needs = ["first"] }
)";
  };
  const std::string config = write_config(dir, "", jobs("v1"));
  Daemon d(dir, config);
  d.wait_for("listening");
  const std::string before =
      json::parse(skedctl(dir, {"workflow", "list", "--json"}).out)["workflows"][0]["version"];
  CHECK(before.size() == 12);
  const std::string id =
      json::parse(skedctl(dir, {"workflow", "trigger", "pinned", "--json"}).out)["run"].dump();
  d.wait_for("run_started");
  // `say` changes while the run goes on: its step, started after the reload, still says v1.
  write_config(dir, "", jobs("v2"));
  REQUIRE(skedctl(dir, {"reload"}).exit_code == 0);
  const std::string after =
      json::parse(skedctl(dir, {"workflow", "list", "--json"}).out)["workflows"][0]["version"];
  CHECK(after != before);
  dir.write("go", "");
  d.wait_for("workflow_run_finished");
  json run = json::parse(skedctl(dir, {"workflow", "runs", "--run", id, "--json"}).out)["runs"][0];
  SHOW_LOG(d);
  CHECK(run["version"] == before);
  CHECK(log_of(dir, steps_of(run)["then"]) == "v1\n");
  CHECK(skedctl(dir, {"workflow", "runs", "--run", id}).out.find(", version " + before + "\n") !=
        std::string::npos);
  // A new run runs the new definitions.
  const CommandResult next = skedctl(dir, {"workflow", "trigger", "pinned", "--wait", "--json"});
  run = json::parse(next.out);
  CHECK(run["version"] == after);
  CHECK(log_of(dir, steps_of(run)["then"]) == "v2\n");
  // A retry runs the steps again with the definitions loaded now, and says so.
  write_config(dir, "", jobs("v3"));
  REQUIRE(skedctl(dir, {"reload"}).exit_code == 0);
  const CommandResult retried =
      skedctl(dir, {"workflow", "retry", id, "--from", "then", "--wait", "--json"});
  run = json::parse(retried.out);
  CHECK(log_of(dir, steps_of(run)["then"]) == "v3\n");
  CHECK(run["message"].get<std::string>().rfind("retried from step then with version ", 0) == 0);
  CHECK(run["message"].get<std::string>().find("(was " + before + ")") != std::string::npos);
}

TEST_CASE("a workflow's overlap queues a second run behind the first, or replaces it",
          "[workflow]") {
  TempDir dir;
  const std::string config = write_config(
      dir, "",
      job(dir, "hold", "", "while [ ! -e \"$DIR/go\" ]; do sleep 0.05; done\n") +
          job(dir, "hold2", "", "while [ ! -e \"$DIR/go2\" ]; do sleep 0.05; done\n") +
          "[workflow.queued]\noverlap = \"queue\"\nsteps.only = { job = \"hold\" }\n"
          "[workflow.replaced]\noverlap = \"replace\"\nsteps.only = { job = \"hold2\" }\n");
  Daemon d(dir, config);
  d.wait_for("listening");
  const auto trigger = [&](const std::string& name) {
    const CommandResult r = skedctl(dir, {"workflow", "trigger", name, "--json"});
    REQUIRE(r.exit_code == 0);
    return json::parse(r.out)["run"].dump();
  };
  const auto run_of = [&](const std::string& id) {
    return json::parse(skedctl(dir, {"workflow", "runs", "--run", id, "--json"}).out)["runs"][0];
  };

  const std::string first = trigger("queued");
  d.wait_for("run_started");
  const std::string second = trigger("queued");
  CHECK(run_of(second)["state"] == "pending");
  CHECK(run_of(second)["message"] ==
        "queued behind workflow run " + first + " (overlap = \"queue\")");
  const CommandResult third = skedctl(dir, {"workflow", "trigger", "queued"});
  CHECK(third.err == "skedctl: workflow \"queued\" has a run queued (run " + second +
                         ") already; overlap = \"queue\" keeps one (CONFLICT)\n");
  dir.write("go", "");
  d.wait_for("workflow_run_finished", 2,
             [](const skedd::test::Json& e) { return e["workflow"] == "queued"; });
  CHECK(run_of(first)["state"] == "succeeded");
  CHECK(run_of(second)["state"] == "succeeded");
  CHECK_FALSE(run_of(second).contains("message"));

  const std::string old = trigger("replaced");
  d.wait_for("run_started",
             [](const skedd::test::Json& e) { return e["job"] == "replaced::only"; });
  const std::string newer = trigger("replaced");
  const json ended = d.wait_for("workflow_run_finished", [](const skedd::test::Json& e) {
    return e["workflow"] == "replaced";
  });
  SHOW_LOG(d);
  CHECK(ended["run"].dump() == old);
  CHECK(ended["state"] == "cancelled");
  CHECK(run_of(old)["message"] == "replaced by workflow run " + newer + " (overlap = \"replace\")");
  CHECK(run_of(newer)["state"] == "running");
  dir.write("go2", "");
  d.wait_for("workflow_run_finished", 2,
             [](const skedd::test::Json& e) { return e["workflow"] == "replaced"; });
  CHECK(run_of(newer)["state"] == "succeeded");
}

TEST_CASE("a step waiting for a run slot when its workflow run is cancelled never starts",
          "[workflow]") {
  TempDir dir;
  const std::string config = write_config(
      dir, "max_concurrent_runs = 1\n",
      job(dir, "hold", "", "while [ ! -e \"$DIR/go\" ]; do sleep 0.05; done\n") +
          job(dir, "also", "", "touch \"$DIR/also-ran\"\n") +
          job(dir, "probe", "at = \"2099-01-01T00:00:00Z\"", "true\n") +
          "[workflow.w]\nsteps.a = { job = \"hold\" }\nsteps.b = { job = \"also\" }\n");
  Daemon d(dir, config);
  d.wait_for("listening");
  const std::string id =
      json::parse(skedctl(dir, {"workflow", "trigger", "w", "--json"}).out)["run"].dump();
  d.wait_for("run_started");  // a; b waits for the one slot
  REQUIRE(skedctl(dir, {"workflow", "cancel", id}).exit_code == 0);
  d.wait_for("workflow_run_finished");
  // The slot is free again: a fire still waiting would start before this one.
  REQUIRE(skedctl(dir, {"trigger", "probe", "--wait"}).exit_code == 0);
  SHOW_LOG(d);
  CHECK_FALSE(std::filesystem::exists(dir / "also-ran"));
  CHECK(json::parse(skedctl(dir, {"runs", "w::b", "--json"}).out)["runs"].empty());
  const json run =
      json::parse(skedctl(dir, {"workflow", "runs", "--run", id, "--json"}).out)["runs"][0];
  CHECK(run["state"] == "cancelled");
  CHECK(steps_of(run)["b"]["state"] == "cancelled");
  const auto not_run =
      d.events_named("fire_not_run", [](const skedd::test::Json& e) { return e["job"] == "w::b"; });
  REQUIRE(not_run.size() == 1);
  CHECK(not_run[0]["reason"] == "cancelled");
}

TEST_CASE("a step whose retry waits when its workflow run is cancelled is not retried",
          "[workflow]") {
  TempDir dir;
  const std::string config =
      write_config(dir, "",
                   job(dir, "flaky", "", "echo ran >> \"$DIR/attempts\"\nexit 1\n",
                       "retries = 2\nretry_backoff = \"1s\"\n") +
                       "[workflow.w]\nsteps.only = { job = \"flaky\" }\n");
  Daemon d(dir, config);
  d.wait_for("listening");
  const std::string id =
      json::parse(skedctl(dir, {"workflow", "trigger", "w", "--json"}).out)["run"].dump();
  d.wait_for("retry_scheduled");
  REQUIRE(skedctl(dir, {"workflow", "cancel", id}).exit_code == 0);
  const json finished = d.wait_for("workflow_run_finished");
  CHECK(finished["state"] == "cancelled");
  const json not_run =
      d.wait_for("fire_not_run", [](const skedd::test::Json& e) { return e["job"] == "w::only"; });
  CHECK(not_run["reason"] == "cancelled");
  // Its retry was due 1 s after the failure: it does not come.
  CHECK_FALSE(
      skedd::test::wait_until([&] { return d.events_named("run_started").size() > 1; }, 2500ms));
  SHOW_LOG(d);
  CHECK(skedd::test::slurp(dir / "attempts") == "ran\n");
}
