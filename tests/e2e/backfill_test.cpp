// Backfill end to end: the fires of a past interval run as fires of their own instants, with a
// sliding window of --concurrency at a time (not batches); fires already run are left out
// unless --rerun; a workflow's fires are workflow runs of their instants.
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include "skedd/time/timestamp.h"
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

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

}  // namespace

TEST_CASE("a backfill of 10 fires runs 2 at a time, sliding, each a fire of its instant",
          "[backfill]") {
  TempDir dir;
  dir.write("slots/.keep", "");
  // One run holds its slot until DIR/release exists; with a sliding window the other nine run
  // one after another in the second slot meanwhile. Each counts the runs going on as it starts.
  const std::string config = write_config(
      dir, "",
      job(dir, "slice", "cron = \"0 * * * *\"",
          R"sh(mkdir "$DIR/slots/$SKEDD_RUN_ID"
ls "$DIR/slots" | wc -l >> "$DIR/counts"
echo "$SKEDD_SCHEDULED_AT" >> "$DIR/order"
if mkdir "$DIR/holder" 2>/dev/null; then
  while [ ! -e "$DIR/release" ]; do sleep 0.02; done
fi
rmdir "$DIR/slots/$SKEDD_RUN_ID"
)sh") + job(dir, "step", "", "echo \"$SKEDD_SCHEDULED_AT\"\n") +
          "[workflow.hourly]\ncron = \"0 * * * *\"\nsteps.only = { job = \"step\" }\n");
  Daemon d(dir, config);
  d.wait_for("listening");
  // Their own schedules stay out of the way; a backfill runs whatever the pause says.
  REQUIRE(skedctl(dir, {"pause", "slice"}).exit_code == 0);
  REQUIRE(skedctl(dir, {"pause", "hourly::@schedule"}).exit_code == 0);
  const auto hour = std::chrono::floor<std::chrono::hours>(std::chrono::system_clock::now());
  const std::string from = skedd::test::rfc3339_utc_ms(hour - 10h);
  const std::string to = skedd::test::rfc3339_utc_ms(hour - 1h);

  const CommandResult started =
      skedctl(dir, {"backfill", "slice", "--from", from, "--to", to, "--concurrency", "2"});
  SHOW(started);
  REQUIRE(started.exit_code == 0);
  CHECK(started.out.find(": 10 fire(s) to run, 2 at a time; 0 already run or recorded\n") !=
        std::string::npos);
  // All ten start while the first still holds its slot: a window, not batches of two.
  REQUIRE(skedd::test::wait_until(
      [&] { return lines_of(skedd::test::slurp(dir / "order")).size() == 10; }, 10000ms));
  CHECK(lines_of(skedd::test::slurp(dir / "order")).size() == 10);
  dir.write("release", "");
  d.wait_for("backfill_finished");
  SHOW_LOG(d);
  for (const std::string& n : lines_of(skedd::test::slurp(dir / "counts")))
    CHECK(std::stoi(n) <= 2);
  const json runs = json::parse(skedctl(dir, {"runs", "slice", "--json"}).out)["runs"];
  REQUIRE(runs.size() == 10);
  std::set<std::string> instants;
  for (const json& r : runs) {
    CHECK(r["state"] == "succeeded");
    CHECK(r["attempt"] == 1);
    instants.insert(r["scheduled"].get<std::string>());
  }
  CHECK(instants.size() == 10);
  const std::string first =
      skedd::format_rfc3339_utc(std::chrono::time_point_cast<skedd::Duration>(hour - 10h));
  CHECK(*instants.begin() == first);
  // Oldest first: run ids are given in the order the fires are offered (newest run first).
  for (std::size_t i = 1; i < runs.size(); ++i) {
    CHECK(runs[i - 1]["scheduled"].get<std::string>() > runs[i]["scheduled"].get<std::string>());
  }

  // Run already: left out, unless --rerun (their next attempt).
  const CommandResult again = skedctl(dir, {"backfill", "slice", "--from", from, "--to", to});
  CHECK(again.out.find(": 0 fire(s) to run, 1 at a time; 10 already run or recorded\n") !=
        std::string::npos);
  REQUIRE(skedctl(dir, {"backfill", "slice", "--from", from, "--to", to, "--rerun", "--concurrency",
                        "4"})
              .exit_code == 0);
  d.wait_for("backfill_finished", 2);
  const json reruns = json::parse(skedctl(dir, {"runs", "slice", "--json"}).out)["runs"];
  REQUIRE(reruns.size() == 20);
  CHECK(reruns[0]["attempt"] == 2);

  // A workflow's fires are workflow runs of their instants.
  REQUIRE(skedctl(dir, {"backfill", "hourly", "--from", from, "--to",
                        skedd::test::rfc3339_utc_ms(hour - 8h)})
              .exit_code == 0);
  d.wait_for("backfill_finished", 3);
  const json wf = json::parse(skedctl(dir, {"workflow", "runs", "hourly", "--json"}).out)["runs"];
  REQUIRE(wf.size() == 3);
  CHECK(wf[2]["scheduled"] == first);
  CHECK(wf[0]["state"] == "succeeded");

  // Bad requests name what is wrong.
  const CommandResult future = skedctl(
      dir, {"backfill", "slice", "--from", from, "--to", skedd::test::rfc3339_utc_ms(hour + 2h)});
  CHECK(future.err == "skedctl: --to is in the future (INVALID_ARGUMENT)\n");
  const CommandResult bad = skedctl(dir, {"backfill", "slice", "--from", "yesterday", "--to", to});
  CHECK(bad.err.rfind("skedctl: --from yesterday: ", 0) == 0);
  const CommandResult many =
      skedctl(dir, {"backfill", "slice", "--from", "2020-01-01T00:00:00Z", "--to", to});
  CHECK(many.err ==
        "skedctl: the interval holds more than 10000 fires, the most one backfill runs "
        "(INVALID_ARGUMENT)\n");
  CHECK(skedctl(dir, {"backfill", "nope", "--from", from, "--to", to}).exit_code == 3);
}

TEST_CASE("another user cannot backfill, trigger, retry or read root's workflows",
          "[backfill][workflow]") {
  const skedd::test::TestUser account = skedd::test::test_user_or_skip();
  TempDir dir;
  ::chmod(dir.path().c_str(), 0755);  // the socket is reachable; root's jobs are not theirs
  const std::string config = write_config(
      dir, "",
      job(dir, "nightly", "cron = \"0 * * * *\"", "true\n") + job(dir, "step", "", "true\n") +
          "[workflow.w]\ncron = \"0 * * * *\"\nsteps.only = { job = \"step\" }\n");
  for (const char* f : {"skedd.toml", "jobs.d/test.toml"}) ::chmod((dir / f).c_str(), 0644);
  Daemon d(dir, config);
  d.wait_for("listening");
  const auto hour = std::chrono::floor<std::chrono::hours>(std::chrono::system_clock::now());
  const std::string from = skedd::test::rfc3339_utc_ms(hour - 3h);
  const std::string to = skedd::test::rfc3339_utc_ms(hour - 1h);
  const auto as_user = [&](std::vector<std::string> args) {
    return skedctl(dir, std::move(args), account.as);
  };
  const CommandResult job = as_user({"backfill", "nightly", "--from", from, "--to", to});
  CHECK(job.exit_code != 0);
  CHECK(job.err ==
        "skedctl: job \"nightly\" does not run as " + account.name + " (PERMISSION_DENIED)\n");
  const CommandResult workflow = as_user({"backfill", "w", "--from", from, "--to", to});
  CHECK(workflow.err == "skedctl: no job or workflow named \"w\" (JOB_NOT_FOUND)\n");
  CHECK(as_user({"workflow", "trigger", "w"}).exit_code == 3);
  CHECK(json::parse(as_user({"workflow", "list", "--json"}).out)["workflows"].empty());

  const json run = json::parse(skedctl(dir, {"workflow", "trigger", "w", "--wait", "--json"}).out);
  REQUIRE(run["state"] == "succeeded");
  const std::string id = run["run"].dump();
  CHECK(json::parse(as_user({"workflow", "runs", "--json"}).out)["runs"].empty());
  CHECK(as_user({"workflow", "retry", id, "--from", "only"}).err ==
        "skedctl: no workflow run " + id + " (RUN_NOT_FOUND)\n");
  CHECK(as_user({"workflow", "cancel", id}).exit_code != 0);
  CHECK(as_user({"runs", "--tree", "--json"}).out.find("\"runs\":[]") != std::string::npos);
}
