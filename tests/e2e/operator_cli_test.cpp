// skedctl as an administrator uses it: runs by job name, exit codes a script can trust,
// errors in JSON, suggestions for typos, and the smaller things that were wrong (the issue
// "Operator CLI"). The real skedd and skedctl in a temp dir; nothing waits for the minute.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include "support/command.h"
#include "support/daemon.h"
#include "support/pty.h"
#include "support/temp_dir.h"

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using skedd::test::CommandResult;
using skedd::test::Daemon;
using skedd::test::skedctl;
using skedd::test::TempDir;

// skedd.toml (UTC, state and socket in `dir`, `daemon` added to [daemon]) and jobs.d.
std::string ops_config(const TempDir& dir, const std::string& jobs,
                       const std::string& daemon = "") {
  dir.write("jobs.d/test.toml", jobs);
  return dir.write("skedd.toml", "[daemon]\nstate_dir = \"" + dir / "state" + "\"\nsocket = \"" +
                                     dir / "skedd.sock" + "\"\ntimezone = \"UTC\"\n" + daemon);
}

// Columns the longest line of `text` takes on a terminal (UTF-8 code points).
std::size_t ops_widest(const std::string& text) {
  std::size_t widest = 0, n = 0;
  for (const char c : text) {
    if (c == '\n') {
      widest = std::max(widest, n);
      n = 0;
    } else if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) {
      ++n;
    }
  }
  return std::max(widest, n);
}

// skedctl on a terminal of `columns` x `rows`, TZ=UTC, with `env` on top.
CommandResult ops_tty(const TempDir& dir, std::vector<std::string> args, unsigned short columns,
                      unsigned short rows, std::map<std::string, std::string> env = {}) {
  args.insert(args.begin(), {SKEDCTL_BINARY, "--socket", dir / "skedd.sock"});
  env.emplace("TZ", "UTC");
  return skedd::test::run_in_pty(args, columns, rows, env);
}

// The run id a --json reply names.
std::string ops_run_of(const CommandResult& r) {
  SHOW(r);
  REQUIRE(r.exit_code == 0);
  return json::parse(r.out)["run"].dump();
}

}  // namespace

TEST_CASE("skedctl takes a job for a run: JOB, JOB~N and job:NAME", "[control]") {
  TempDir dir("skedd-ops-test");
  Daemon d(dir, ops_config(dir, R"([job.count]
every = "1h"
command = ["/bin/sh", "-c", "echo run-$SKEDD_RUN_ID"]

[job.42]
every = "1h"
command = ["/bin/sh", "-c", "echo forty-two"]

[job.slow]
every = "1h"
overlap = "allow"
command = ["/bin/sleep", "30"]
)"));
  d.wait_for("listening");
  const std::string first = ops_run_of(skedctl(dir, {"trigger", "count", "--wait", "--json"}));
  const std::string second = ops_run_of(skedctl(dir, {"trigger", "count", "--wait", "--json"}));
  CHECK(skedctl(dir, {"logs", "count"}).out == "run-" + second + "\n");  // the latest
  CHECK(skedctl(dir, {"logs", "count~0"}).out == "run-" + second + "\n");
  CHECK(skedctl(dir, {"logs", "count~1"}).out == "run-" + first + "\n");
  CHECK(skedctl(dir, {"logs", first}).out == "run-" + first + "\n");  // a number is a run id
  const CommandResult too_far = skedctl(dir, {"logs", "count~2"});
  CHECK(too_far.exit_code == 3);
  CHECK(too_far.err ==
        "skedctl: job count has 2 run(s): count~2 is not one of them (RUN_NOT_FOUND)\n");
  // A job called 42: job:42 is the job, 42 a run id.
  REQUIRE(skedctl(dir, {"trigger", "42", "--wait"}).exit_code == 0);
  CHECK(skedctl(dir, {"logs", "job:42"}).out == "forty-two\n");
  CHECK(skedctl(dir, {"logs", "42"}).exit_code == 3);
  CHECK(skedctl(dir, {"wait", "count"}).out ==
        "run " + second + " of count succeeded, exit code 0\n");
  // cancel JOB: its running run.
  const CommandResult none_running = skedctl(dir, {"cancel", "slow"});
  CHECK(none_running.exit_code == 3);
  CHECK(none_running.err == "skedctl: job slow has no running run (RUN_NOT_FOUND)\n");
  const std::string slow = ops_run_of(skedctl(dir, {"trigger", "slow", "--json"}));
  d.wait_for("run_started", [](const json& e) { return e.value("job", "") == "slow"; });
  CHECK(skedctl(dir, {"pause", "--run", "slow"}).out == "run " + slow + " paused\n");
  CHECK(skedctl(dir, {"resume", "--run", "slow"}).out == "run " + slow + " resumed\n");
  CHECK(skedctl(dir, {"cancel", "slow"}).out == "cancelling run " + slow + "\n");
  const CommandResult cancelled = skedctl(dir, {"wait", "slow"});
  CHECK(cancelled.exit_code == 128 + 15);  // SIGTERM, skedd's soft signal
  CHECK(cancelled.out.find("run " + slow + " of slow cancelled") == 0);
  // An unknown job: not found, with the nearest name.
  const CommandResult typo = skedctl(dir, {"logs", "cuont"});
  CHECK(typo.exit_code == 3);
  CHECK(typo.err == "skedctl: no job named \"cuont\" (did you mean count?) (JOB_NOT_FOUND)\n");
  const CommandResult runs_typo = skedctl(dir, {"runs", "cuont"});
  CHECK(runs_typo.exit_code == 3);
  CHECK(runs_typo.out.empty());  // not an empty table
}

TEST_CASE("skedctl wait and trigger --wait exit as the run ended, 3 for no such run", "[control]") {
  TempDir dir("skedd-ops-test");
  Daemon d(dir, ops_config(dir, R"([job.three]
every = "1h"
command = ["/bin/sh", "-c", "exit 3"]

[job.stubborn]
every = "1h"
soft_timeout = "1s"
command = ["/bin/sh", "-c", "trap 'exit 0' TERM; sleep 30 & wait"]

[job.ghost]
every = "1h"
user = "skedd-no-such-user"
command = ["/bin/true"]

[job.hold]
every = "1h"
command = ["/bin/sleep", "30"]

[job.after]
every = "1h"
command = ["/bin/sh", "-c", "exit 7"]
)",
                           "max_concurrent_runs = 1\n"));
  d.wait_for("listening");
  CHECK(skedctl(dir, {"trigger", "three", "--wait"}).exit_code == 3);  // its own code
  // Timed out, though it exited 0 after its soft signal: 124, as timeout(1).
  const CommandResult timed_out = skedctl(dir, {"trigger", "stubborn", "--wait"});
  CHECK(timed_out.exit_code == 124);
  CHECK(timed_out.out.find(" timed_out") != std::string::npos);
  // Failed to start: 126, and its logs say so (not "an in-process handler").
  const CommandResult ghost = skedctl(dir, {"trigger", "ghost", "--wait"});
  CHECK(ghost.exit_code == 126);
  CHECK(ghost.out.find("user \"skedd-no-such-user\" does not exist") != std::string::npos);
  const CommandResult ghost_logs = skedctl(dir, {"logs", "ghost"});
  CHECK(ghost_logs.exit_code == 3);
  CHECK(ghost_logs.err.find("failed to start (user \"skedd-no-such-user\" does not exist") !=
        std::string::npos);
  // A run id never issued: not found at once, not waited for.
  const CommandResult unknown = skedctl(dir, {"wait", "42"});
  CHECK(unknown.exit_code == 3);
  CHECK(unknown.err == "skedctl: no run 42 (RUN_NOT_FOUND)\n");
  // A queued trigger (the one slot is taken) is waited for, then reported as it ended.
  const std::string held = ops_run_of(skedctl(dir, {"trigger", "hold", "--json"}));
  d.wait_for("run_started", [](const json& e) { return e.value("job", "") == "hold"; });
  const CommandResult queued = skedctl(dir, {"trigger", "after", "--json"});
  REQUIRE(queued.exit_code == 0);
  CHECK(json::parse(queued.out)["queued"] == true);
  const std::string after = json::parse(queued.out)["run"].dump();
  const json waiting = json::parse(skedctl(dir, {"runs", "--json"}).out);  // not yet recorded
  for (const json& r : waiting["runs"]) CHECK(r["run"].dump() != after);
  CommandResult waited;
  std::thread waiter([&] { waited = skedctl(dir, {"wait", after, "--json"}); });
  std::this_thread::sleep_for(500ms);  // it waits for the queued run; the slot frees then
  const CommandResult freed = skedctl(dir, {"cancel", held});
  waiter.join();
  CHECK(freed.exit_code == 0);
  SHOW(waited);
  CHECK(waited.exit_code == 7);
  CHECK(json::parse(waited.out)["job"] == "after");
}

TEST_CASE("skedctl errors: 125 with the daemon down, JSON on stdout with --json", "[control]") {
  TempDir dir("skedd-ops-test");  // no daemon
  CHECK(skedctl(dir, {"trigger", "x", "--wait"}).exit_code == 125);
  CHECK(skedctl(dir, {"wait", "42"}).exit_code == 125);
  CHECK(skedctl(dir, {"status"}).exit_code == 1);
  const CommandResult down = skedctl(dir, {"list", "--json"});
  CHECK(down.exit_code == 1);
  const json error = json::parse(down.out);
  CHECK(error["ok"] == false);
  CHECK(error["error"]["code"] == "UNREACHABLE");
  CHECK(error["error"]["message"].get<std::string>().find(dir / "skedd.sock") != std::string::npos);
  // A typo of a command: the nearest one, and the usage code.
  const CommandResult typo = skedctl(dir, {"lsit"});
  CHECK(typo.exit_code == 2);
  CHECK(typo.err ==
        "skedctl: unknown command \"lsit\" (did you mean list?); skedctl --help lists them\n");
  CHECK(skedctl(dir, {"histroy"}).err.find("(did you mean history?)") != std::string::npos);
  // validate names why a file cannot be read.
  const CommandResult missing = skedctl(dir, {"validate", dir / "nonexistent.toml"});
  CHECK(missing.exit_code == 1);
  CHECK(missing.err == dir / "nonexistent.toml" + ": cannot be read: No such file or directory\n");
  // --json everywhere, errors included, on stdout.
  const CommandResult validated = skedctl(dir, {"validate", dir / "nonexistent.toml", "--json"});
  CHECK(validated.exit_code == 1);
  CHECK(json::parse(validated.out)["ok"] == false);
  CHECK(json::parse(validated.out)["errors"][0] ==
        dir / "nonexistent.toml" + ": cannot be read: No such file or directory");
  const CommandResult next = skedctl(dir, {"next", "--json", "61 * * * *"});
  CHECK(next.exit_code == 1);
  CHECK(json::parse(next.out)["error"]["message"].get<std::string>().find("minute field") !=
        std::string::npos);
  CHECK(next.err.empty());
  CHECK(json::parse(skedctl(dir, {"version", "--json"}).out)["version"].is_string());
  const CommandResult logs = skedctl(dir, {"logs", "42", "--json"});  // daemon down
  CHECK(json::parse(logs.out)["error"]["code"] == "UNREACHABLE");
}

TEST_CASE("reload counts the jobs list shows, and @reboot jobs added later wait for a boot",
          "[control]") {
  TempDir dir("skedd-ops-test");
  const std::string config =
      ops_config(dir, "[job.file]\nevery = \"1h\"\ncommand = [\"/bin/true\"]\n");
  Daemon d(dir, config);
  d.wait_for("listening");
  dir.write("api.toml", "[job.api]\nevery = \"1h\"\ncommand = [\"/bin/true\"]\n");
  REQUIRE(skedctl(dir, {"add", "--file", dir / "api.toml"}).exit_code == 0);
  dir.write("jobs.d/test.toml",
            "[job.file]\nevery = \"1h\"\ncommand = [\"/bin/true\"]\n"
            "[job.booted]\ncron = \"@reboot\"\ncommand = [\"/bin/sh\", \"-c\", \"touch " +
                dir / "booted" + "\"]\n");
  const CommandResult reloaded = skedctl(dir, {"reload"});
  SHOW(reloaded);
  CHECK(reloaded.out ==
        "reloaded " + config + ": 3 job(s) loaded, 2 of them from the configuration\n");
  const json list = json::parse(skedctl(dir, {"list", "--json"}).out);
  CHECK(list["jobs"].size() == 3);
  std::this_thread::sleep_for(1500ms);  // an @reboot job added while skedd runs fired at once
  CHECK_FALSE(std::filesystem::exists(dir / "booted"));
  CHECK(d.events_named("run_started").empty());
  // It runs when asked to.
  CHECK(skedctl(dir, {"trigger", "booted", "--wait"}).exit_code == 0);
  CHECK(std::filesystem::exists(dir / "booted"));
}

TEST_CASE("skedctl on a terminal: tables fit its width, long output is paged, states in colour",
          "[control]") {
  TempDir dir("skedd-ops-test");
  std::string jobs = R"([job.a-job-with-a-name-far-longer-than-any-terminal-column-would-hold]
every = "1h"
command = ["/bin/sh", "-c", "echo a command line that is long enough to be cut at eighty columns"]

[job.failing]
every = "1h"
soft_timeout = "1h"
env = { GREETING = "hello" }
command = ["/bin/sh", "-c", "echo first; echo second; echo third; exit 2"]
)";
  for (int i = 0; i < 30; ++i) {
    jobs += "[job.filler-" + std::to_string(i) + "]\nevery = \"" + std::to_string(i + 2) +
            "h\"\ncommand = [\"/bin/true\"]\n";
  }
  Daemon d(dir, ops_config(dir, jobs));
  d.wait_for("listening");
  REQUIRE(skedctl(dir, {"trigger", "failing", "--wait"}).exit_code == 2);
  const std::map<std::string, std::string> plain{{"NO_COLOR", "1"}, {"PAGER", "cat"}};

  // 80 columns: every line fits, long cells end in "…"; --wide cuts nothing.
  const CommandResult narrow = ops_tty(dir, {"list"}, 80, 200, plain);
  SHOW(narrow);
  CHECK(ops_widest(narrow.out) <= 80);
  CHECK(narrow.out.find("\u2026") != std::string::npos);
  CHECK(narrow.out.find("COMMAND") != std::string::npos);
  CHECK(narrow.out.find("\x1b[") == std::string::npos);  // NO_COLOR
  const CommandResult wide = ops_tty(dir, {"list", "--wide"}, 80, 200, plain);
  CHECK(wide.out.find("a-job-with-a-name-far-longer-than-any-terminal-column-would-hold") !=
        std::string::npos);
  CHECK(ops_widest(wide.out) > 80);
  // Not a terminal: nothing is cut, nothing coloured.
  const CommandResult piped = skedctl(dir, {"list"});
  CHECK(piped.out.find("eighty columns") != std::string::npos);
  CHECK(piped.out.find("\x1b[") == std::string::npos);
  // Colours on a terminal without NO_COLOR: a failed state in red.
  const CommandResult coloured = ops_tty(dir, {"runs", "failing"}, 120, 200, {{"PAGER", "cat"}});
  CHECK(coloured.out.find("\x1b[31mfailed\x1b[0m") != std::string::npos);

  // Longer than the terminal: through $PAGER; shorter: straight out.
  const std::string paged = dir / "paged";
  const std::map<std::string, std::string> pager{{"NO_COLOR", "1"}, {"PAGER", "cat > " + paged}};
  const CommandResult tall = ops_tty(dir, {"list"}, 100, 10, pager);
  CHECK(tall.out.find("filler-7") == std::string::npos);  // not on the terminal itself
  CHECK(skedd::test::read_whole_file(paged).find("filler-7") != std::string::npos);
  std::filesystem::remove(paged);
  CHECK(ops_tty(dir, {"list", "fail*"}, 100, 10, pager).out.find("failing") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(paged));
  CHECK(ops_tty(dir, {"--no-pager", "list"}, 100, 10, pager).out.find("filler-7") !=
        std::string::npos);

  // runs: local times to the second with the relative form, the reason under a failed run.
  const CommandResult runs = ops_tty(dir, {"runs", "failing"}, 80, 50, plain);
  SHOW(runs);
  CHECK(runs.out.find("RUN") == 0);
  CHECK(std::regex_search(runs.out,
                          std::regex(R"(  20\d\d-\d\d-\d\d \d\d:\d\d:\d\d \((now|\d+s ago)\)  )")));
  CHECK(runs.out.find("\n  reason: ") == std::string::npos);  // an exit code needs no reason
  // show: every setting, in the job's zone as the header says.
  const CommandResult shown = skedctl(dir, {"show", "failing"});
  CHECK(shown.out.find("\nsoft_timeout:       1h\n") != std::string::npos);
  CHECK(shown.out.find("\nenv GREETING:       hello\n") != std::string::npos);
  CHECK(shown.out.find("\ncatch_up:           none\n") != std::string::npos);
  CHECK(shown.out.find("\ntimes in UTC\n") != std::string::npos);
  const json show = json::parse(skedctl(dir, {"show", "failing", "--json"}).out);
  CHECK(show["job"]["settings"]["soft_timeout"] == "1h");
  CHECK(show["job"]["settings"]["starting_deadline"].is_null());
  // status JOB: as systemctl status shows a unit, its log's last lines too.
  const CommandResult status = skedctl(dir, {"status", "failing"});
  SHOW(status);
  CHECK(status.out.find(
            "* failing - /bin/sh -c \"echo first; echo second; echo third; exit 2\"\n") == 0);
  CHECK(status.out.find("     State: idle\n") != std::string::npos);
  CHECK(status.out.find("first\nsecond\nthird\n") != std::string::npos);
  // list PATTERN, --sort next, and the global pause said at the top.
  const json sorted =
      json::parse(skedctl(dir, {"list", "filler-*", "--sort", "next", "--json"}).out);
  REQUIRE(sorted["jobs"].size() == 30);
  CHECK(sorted["jobs"][0]["name"] == "filler-0");  // every 2h: the soonest
  CHECK(sorted["jobs"][29]["name"] == "filler-29");
  REQUIRE(skedctl(dir, {"pause", "--all"}).exit_code == 0);
  const CommandResult paused = skedctl(dir, {"list", "failing"});
  CHECK(paused.out.find("ALL JOBS ARE PAUSED") == 0);
  CHECK(paused.out.find("paused") != std::string::npos);
}

TEST_CASE("a failed run's reason is shown in runs, and --since takes 1h, today, yesterday",
          "[control]") {
  TempDir dir("skedd-ops-test");
  Daemon d(dir, ops_config(dir, R"([job.ghost]
every = "1h"
user = "skedd-no-such-user"
command = ["/bin/true"]
)"));
  d.wait_for("listening");
  REQUIRE(skedctl(dir, {"trigger", "ghost", "--wait"}).exit_code == 126);
  const CommandResult runs = skedctl(dir, {"runs", "ghost"});
  SHOW(runs);
  CHECK(runs.out.find("\n  reason: user \"skedd-no-such-user\" does not exist") !=
        std::string::npos);
  const CommandResult wide = skedctl(dir, {"runs", "ghost", "--wide"});
  CHECK(wide.out.find("REASON") != std::string::npos);
  for (const char* since : {"1h", "today", "yesterday"}) {
    const json recent = json::parse(skedctl(dir, {"runs", "--since", since, "--json"}).out);
    CHECK(recent["runs"].size() == 1);
  }
  CHECK(json::parse(skedctl(dir, {"runs", "--since", "2099-01-01T00:00:00", "--json"}).out)["runs"]
            .empty());
  const CommandResult bad = skedctl(dir, {"runs", "--since", "soon"});
  CHECK(bad.exit_code == 2);
  const CommandResult state = skedctl(dir, {"runs", "--state", "faild"});
  CHECK(state.exit_code == 2);
  CHECK(state.err.find("(did you mean failed?)") != std::string::npos);
}

TEST_CASE("update changes only the flags given, and versions, diff and rollback show and undo it",
          "[control]") {
  TempDir dir("skedd-ops-test");
  Daemon d(dir, ops_config(dir, "[job.file]\nevery = \"1h\"\ncommand = [\"/bin/true\"]\n"));
  d.wait_for("listening");
  REQUIRE(skedctl(dir, {"add", "nightly", "--cron", "0 3 * * *", "--command", "echo hi",
                        "--soft-timeout", "10m"})
              .exit_code == 0);
  // Only the schedule: the command and the timeout are kept.
  const CommandResult updated = skedctl(dir, {"update", "nightly", "--every", "2h"});
  SHOW(updated);
  CHECK(updated.out == "updated job nightly (version 2)\n");
  const json shown = json::parse(skedctl(dir, {"show", "nightly", "--json"}).out);
  CHECK(shown["job"]["schedule"] == "every 2h");
  CHECK(shown["job"]["command"] == "echo hi");
  CHECK(shown["job"]["settings"]["soft_timeout"] == "10m");
  // An error in a flag is told as that flag, not as a line of the text skedctl made.
  const CommandResult bad = skedctl(dir, {"update", "nightly", "--cron", "61 * * * *"});
  CHECK(bad.exit_code == 1);
  CHECK(bad.err ==
        "skedctl: --cron: minute field: 61 is out of range 0-59 (column 1 of \"61 * * * "
        "*\") (INVALID_ARGUMENT)\n");
  CHECK(bad.err.find("api:") == std::string::npos);
  CHECK(skedctl(dir, {"update", "nightly"}).exit_code == 2);  // nothing to change

  const CommandResult versions = skedctl(dir, {"versions", "nightly"});
  SHOW(versions);
  CHECK(versions.out.find("1 ") != std::string::npos);
  CHECK(versions.out.find("2        current") != std::string::npos);
  const CommandResult diff = skedctl(dir, {"diff", "nightly"});
  SHOW(diff);
  CHECK(diff.out.find("--- nightly version 1\n+++ nightly version 2\n") == 0);
  CHECK(diff.out.find("\n-cron = '0 3 * * *'\n") != std::string::npos);
  CHECK(diff.out.find("\n+every = '2h'\n") != std::string::npos);
  const CommandResult back = skedctl(dir, {"rollback", "nightly"});
  CHECK(back.out == "job nightly: version 1 put back as version 3\n");
  CHECK(json::parse(skedctl(dir, {"show", "nightly", "--json"}).out)["job"]["schedule"] ==
        "0 3 * * *");
  CHECK(skedctl(dir, {"rollback", "nightly", "9"}).exit_code == 3);
  // A file job's versions are the file's.
  const CommandResult file = skedctl(dir, {"versions", "file"});
  CHECK(file.exit_code == 1);
  CHECK(file.err.find("its versions are that file's (CONFLICT)") != std::string::npos);
}

TEST_CASE("add --at takes a civil time in --timezone and refuses one in the past", "[control]") {
  TempDir dir("skedd-ops-test");
  Daemon d(dir, ops_config(dir, ""));
  d.wait_for("listening");
  const CommandResult civil = skedctl(dir, {"add", "once", "--at", "2099-12-24 18:00", "--timezone",
                                            "Europe/Berlin", "--command", "true", "--json"});
  SHOW(civil);
  REQUIRE(civil.exit_code == 0);
  const json shown = json::parse(skedctl(dir, {"show", "once", "--json"}).out);
  CHECK(shown["next"][0] == "2099-12-24T17:00:00Z");  // 18:00 in Berlin, CET
  const CommandResult past = skedctl(dir, {"add", "late", "--at", "2020-01-01T00:00:00",
                                           "--timezone", "UTC", "--command", "true"});
  CHECK(past.exit_code == 2);
  CHECK(past.err ==
        "skedctl: --at: 2020-01-01T00:00:00Z is in the past: a one-shot must be ahead "
        "(INVALID_ARGUMENT)\n");
  const CommandResult nonsense =
      skedctl(dir, {"add", "late", "--at", "tomorrow", "--command", "true"});
  CHECK(nonsense.exit_code == 2);
  CHECK(nonsense.err.find("--at: \"tomorrow\" is not a time") != std::string::npos);
}

TEST_CASE("wait on a terminal shows a run without progress lines as running, and since when",
          "[control]") {
  TempDir dir("skedd-ops-test");
  Daemon d(dir, ops_config(dir, "[job.nap]\nevery = \"1h\"\ncommand = [\"/bin/sleep\", \"2\"]\n"));
  d.wait_for("listening");
  const std::string run = ops_run_of(skedctl(dir, {"trigger", "nap", "--json"}));
  const CommandResult waited = ops_tty(dir, {"wait", "nap"}, 100, 30, {{"NO_COLOR", "1"}});
  SHOW(waited);
  CHECK(waited.exit_code == 0);
  CHECK(waited.out.find("\rrun " + run + " of nap: running, started ") != std::string::npos);
  CHECK(waited.out.find("\nrun " + run + " of nap succeeded, exit code 0\n") != std::string::npos);
}
