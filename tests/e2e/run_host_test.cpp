// The run host (skedd-runhost): runs outlive skedd with their exits kept, a lost host falls
// back to adoption with unknown exits, and a deadline skedd stops renewing kills its runs.
// The real skedd and host in a temp dir; runs are /bin/sh scripts that wait for files.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "skedd/store/sqlite_store.h"
#include "support/command.h"
#include "support/daemon.h"
#include "support/daemon_jobs.h"
#include "support/temp_dir.h"

namespace {

using namespace std::chrono_literals;
using skedd::test::at_line;
using skedd::test::CommandResult;
using skedd::test::Daemon;
using skedd::test::job;
using skedd::test::Json;
using skedd::test::of_job;
using skedd::test::of_run;
using skedd::test::slurp;
using skedd::test::TempDir;
using skedd::test::wait_until;
using skedd::test::write_config;

// Every run recorded in DIR's state, by job.
std::map<std::string, std::vector<skedd::RunRecord>> recorded_runs(const TempDir& dir) {
  auto store = skedd::open_sqlite_store(dir / "state/skedd.db");
  REQUIRE(store.ok());
  std::map<std::string, std::vector<skedd::RunRecord>> by_job;
  auto runs = store.value()->runs({std::nullopt, std::nullopt, 100'000});
  REQUIRE(runs.ok());
  for (skedd::RunRecord& r : runs.value()) by_job[r.job].push_back(std::move(r));
  return by_job;
}

// Waits for a file named `name` to exist in DIR: the scripts' way of saying they are waiting.
const char* kWaitForGo = "while [ ! -e \"$DIR/go\" ]; do sleep 0.05; done\n";

}  // namespace

TEST_CASE("a run that ends while skedd is stopped is recorded as it ended, not run again",
          "[runhost]") {
  TempDir dir;
  const std::string at = at_line();
  const std::string config =
      write_config(dir, "",
                   job(dir, "ok", at,
                       std::string("echo started >> \"$DIR/ok.starts\"\n") + kWaitForGo +
                           "echo checkpoint written-while-down >&3\nexit 0\n") +
                       job(dir, "bad", at, std::string(kWaitForGo) + "exit 3\n"));
  Daemon first(dir, config);
  const Json ok = first.wait_for("run_started", of_job("ok"));
  const Json bad = first.wait_for("run_started", of_job("bad"));
  first.signal(SIGTERM);  // on_shutdown = "leave": the runs go on with the host
  REQUIRE(first.wait_exit(5000ms) == 0);
  first.leave_runs();
  dir.write("go", "");
  REQUIRE(wait_until([&] { return first.gone(ok["pid"].get<pid_t>()); }, 5000ms));
  REQUIRE(wait_until([&] { return first.gone(bad["pid"].get<pid_t>()); }, 5000ms));
  const auto ended_by = std::chrono::system_clock::now();

  Daemon second(dir, config);
  const Json ok_end = second.wait_for("run_finished", of_run(ok));
  const Json bad_end = second.wait_for("run_finished", of_run(bad));
  SHOW_LOG(second);
  CHECK(second.events_named("run_host_connected").size() == 1);
  CHECK(ok_end["state"] == "succeeded");
  CHECK(ok_end["exit_code"] == 0);
  CHECK(bad_end["state"] == "failed");
  CHECK(bad_end["exit_code"] == 3);
  CHECK_FALSE(bad_end.contains("message"));  // not "exit status unknown"
  CHECK(second.events_named("run_interrupted").empty());
  CHECK(second.events_named("run_started").empty());
  CHECK(slurp(dir / "ok.starts") == "started\n");
  second.signal(SIGTERM);
  REQUIRE(second.wait_exit(5000ms) == 0);
  const auto runs = recorded_runs(dir);
  REQUIRE(runs.at("ok").size() == 1);
  const skedd::RunRecord& r = runs.at("ok")[0];
  // What it wrote to its channel while skedd was down waited in the FIFO the host held.
  CHECK(r.checkpoint == "written-while-down");
  // Its end is when it ended, not when the second skedd learnt of it.
  REQUIRE(r.ended.has_value());
  CHECK(*r.ended <= std::chrono::time_point_cast<skedd::Duration>(ended_by));
}

TEST_CASE("kill -9 of skedd: an adopted run's outputs are kept and still count to its bound",
          "[runhost]") {
  TempDir dir;
  const std::string skedctl = SKEDCTL_BINARY;
  const std::string config = write_config(
      dir, "",
      job(dir, "outs", at_line(),
          "big=$(head -c 60000 /dev/zero | tr '\\0' a)\n" + skedctl + " output first \"$big\"\n" +
              "touch \"$DIR/wrote\"\n" + kWaitForGo + skedctl +
              " output second \"$(head -c 10000 /dev/zero | tr '\\0' b)\"\n" +
              "echo output third 3 >&3\n"));
  Daemon first(dir, config);
  const Json started = first.wait_for("run_started", of_job("outs"));
  first.wait_for("output", of_run(started));
  REQUIRE(wait_until([&] { return std::filesystem::exists(dir / "wrote"); }, 5000ms));
  first.signal(SIGKILL);
  first.wait_exit(5000ms);
  first.leave_runs();

  Daemon second(dir, config);
  second.wait_for("run_adopted", of_run(started));
  dir.write("go", "");
  const Json finished = second.wait_for("run_finished", of_run(started));
  SHOW_LOG(second);
  CHECK(finished["state"] == "succeeded");
  // 60,005 bytes kept from before: `second` would pass 64 KiB in all, `third` fits.
  const auto errors = second.events_named("run_channel_error", of_run(started));
  REQUIRE(errors.size() == 1);
  CHECK(errors[0]["error"] ==
        "output second dropped: the run's outputs would pass 65536 bytes in all");
  second.signal(SIGTERM);
  REQUIRE(second.wait_exit(5000ms) == 0);
  auto store = skedd::open_sqlite_store(dir / "state/skedd.db");
  REQUIRE(store.ok());
  skedd::RunQuery query;
  query.run = skedd::RunId{started["run"].get<std::uint64_t>()};
  query.outputs = true;
  const auto runs = store.value()->runs(query);
  REQUIRE(runs.ok());
  REQUIRE(runs->size() == 1);
  CHECK(runs->front().outputs ==
        std::map<std::string, std::string>{{"first", std::string(60000, 'a')}, {"third", "3"}});
}

TEST_CASE("a relative --state-dir and --socket are taken from the current directory", "[runhost]") {
  // The run host is started with the state dir and refuses a relative one: without the daemon
  // making it absolute, runs fell back to skedd's own spawner (bench_control found it).
  TempDir dir;
  const std::string config =
      write_config(dir, "", job(dir, "quick", at_line(), "echo ran > \"$DIR/ran\"\n"));
  const std::filesystem::path here = std::filesystem::current_path();
  Daemon d(dir, config,
           {"--state-dir", std::filesystem::relative(dir / "state", here).string(), "--socket",
            std::filesystem::relative(dir / "skedd.sock", here).string()});
  const Json started = d.wait_for("run_host_started");
  CHECK(started["log"] == dir / "state/runhost/host.log");
  d.wait_for("run_finished", of_job("quick"));
  SHOW_LOG(d);
  CHECK(d.events_named("run_host_unavailable").empty());
  CHECK(slurp(dir / "ran") == "ran\n");
  const Json starting = d.wait_for("starting");
  CHECK(starting["state_dir"] == dir / "state");
  d.signal(SIGTERM);
  REQUIRE(d.wait_exit(15000ms) == 0);
}

TEST_CASE(
    "a run whose pid was not yet recorded when skedd stopped, and that ended meanwhile, "
    "is recorded as it ended",
    "[runhost]") {
  // What a skedd stopped between a run's spawn and the commit of its pid leaves: the fire
  // pending under its reserved run id, the log file, no pid. The host keeps the exit by run id
  // (the kill loop found such runs taken for ones that ended unseen, and rerun).
  TempDir dir;
  const std::string config =
      write_config(dir, "", job(dir, "quick", at_line(), std::string(kWaitForGo) + "exit 5\n"));
  Daemon first(dir, config);
  const Json started = first.wait_for("run_started", of_job("quick"));
  first.signal(SIGTERM);  // on_shutdown = "leave"
  REQUIRE(first.wait_exit(15000ms) == 0);
  first.leave_runs();
  {
    const skedd::RunRecord r = recorded_runs(dir).at("quick").at(0);
    REQUIRE(r.pid.has_value());
    auto store = skedd::open_sqlite_store(dir / "state/skedd.db");
    REQUIRE(store.ok());
    store.value()->delete_run(r.run);
    store.value()->put_fire(
        skedd::PendingFire{r.job, r.scheduled, r.started - r.lateness, r.attempt, 0, r.run});
    REQUIRE(store.value()->flush().ok());
  }
  dir.write("go", "");
  REQUIRE(wait_until([&] { return first.gone(started["pid"].get<pid_t>()); }, 5000ms));

  Daemon second(dir, config);
  const Json finished = second.wait_for("run_finished", of_run(started));
  SHOW_LOG(second);
  CHECK(finished["state"] == "failed");
  CHECK(finished["exit_code"] == 5);
  CHECK_FALSE(finished.contains("message"));  // not "exit status unknown"
  CHECK(second.events_named("run_interrupted").empty());
  CHECK(second.events_named("run_started").empty());
  second.signal(SIGTERM);
  REQUIRE(second.wait_exit(15000ms) == 0);
  const auto runs = recorded_runs(dir);
  REQUIRE(runs.at("quick").size() == 1);
  CHECK(runs.at("quick")[0].exit_code == std::optional<int>(5));
}

TEST_CASE("skedd killed while 50 runs end at random moments: each exit recorded once, as it was",
          "[runhost]") {
  TempDir dir;
  const unsigned seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937 random(seed);
  std::uniform_int_distribution<int> run_ms(100, 2500);
  const std::string at = at_line(1500ms);
  std::string jobs;
  for (int i = 0; i < 50; ++i) {
    const int ms = run_ms(random);
    jobs += job(dir, "r" + std::to_string(i), at,
                "sleep " + std::to_string(ms / 1000) + "." + std::to_string(ms % 1000 / 100) +
                    std::to_string(ms % 100 / 10) + std::to_string(ms % 10) + "\nexit " +
                    std::to_string(i % 5) + "\n");
  }
  const std::string config = write_config(dir, "", jobs);
  {
    Daemon first(dir, config);
    first.wait_for("run_started", 50, {}, 10000ms);
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 1200)(random)));
    first.signal(SIGKILL);
    REQUIRE(first.wait_exit(5000ms).has_value());
    first.leave_runs();
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 800)(random)));
  }
  Daemon second(dir, config);
  REQUIRE(wait_until(
      [&] {
        auto store = skedd::open_sqlite_store(dir / "state/skedd.db");
        if (!store) return false;
        auto running = store.value()->runs({std::nullopt, skedd::RunState::kRunning, 100});
        auto all = store.value()->runs({std::nullopt, std::nullopt, 1000});
        return running.ok() && all.ok() && running->empty() && all->size() >= 50;
      },
      10000ms));
  SHOW_LOG(second);
  CHECK(second.events_named("run_started").empty());
  CHECK(second.events_named("run_interrupted").empty());
  CHECK(second.events_named("run_exit_unknown").empty());
  second.signal(SIGTERM);
  REQUIRE(second.wait_exit(5000ms) == 0);
  const auto runs = recorded_runs(dir);
  for (int i = 0; i < 50; ++i) {
    const std::string name = "r" + std::to_string(i);
    INFO("job " << name);
    REQUIRE(runs.count(name) == 1);
    REQUIRE(runs.at(name).size() == 1);
    const skedd::RunRecord& r = runs.at(name)[0];
    CHECK(r.exit_code == i % 5);
    CHECK(r.state == (i % 5 == 0 ? skedd::RunState::kSucceeded : skedd::RunState::kFailed));
  }
}

TEST_CASE("the run host killed: its runs go on, their exits unknown, per on_unknown_exit",
          "[runhost]") {
  TempDir dir;
  const std::string at = at_line();
  const std::string config =
      write_config(dir, "",
                   job(dir, "plain", at, kWaitForGo) +
                       job(dir, "again", at,
                           std::string("echo \"attempt $SKEDD_ATTEMPT\" >> \"$DIR/again\"\n"
                                       "if [ \"$SKEDD_ATTEMPT\" = 1 ]; then\n") +
                               kWaitForGo + "fi\n",
                           "on_unknown_exit = \"rerun\""));
  Daemon d(dir, config);
  const pid_t host = d.wait_for("run_host_started")["pid"].get<pid_t>();
  const Json plain = d.wait_for("run_started", of_job("plain"));
  const Json again = d.wait_for("run_started", of_job("again"));
  ::kill(host, SIGKILL);
  d.wait_for("run_host_lost");
  CHECK_FALSE(d.gone(plain["pid"].get<pid_t>()));  // the runs outlive their host
  CHECK_FALSE(d.gone(again["pid"].get<pid_t>()));
  dir.write("go", "");
  const Json plain_end = d.wait_for("run_finished", of_run(plain));
  SHOW_LOG(d);
  CHECK(plain_end["state"] == "failed");
  CHECK(plain_end["message"].get<std::string>().find("exit status unknown") != std::string::npos);
  // Run again as attempt 2, through a new host.
  const Json rerun = d.wait_for("run_finished", [](const Json& e) {
    return e.value("job", "") == "again" && e.value("attempt", 0) == 2;
  });
  CHECK(rerun["state"] == "succeeded");
  CHECK(d.events_named("run_host_started").size() == 2);
  CHECK(slurp(dir / "again") == "attempt 1\nattempt 2\n");
}

TEST_CASE("a stopped skedd's runs are killed by the run host once its deadline passes",
          "[runhost]") {
  TempDir dir;
  const std::string config = write_config(dir, "run_host_deadline = \"600ms\"\n",
                                          job(dir, "long", at_line(), "sleep 60\n"));
  Daemon d(dir, config);
  const Json started = d.wait_for("run_started", of_job("long"));
  const pid_t pid = started["pid"].get<pid_t>();
  // Renewed every 200 ms: a running skedd's runs are left alone well past the deadline.
  std::this_thread::sleep_for(1500ms);
  REQUIRE_FALSE(d.gone(pid));
  d.signal(SIGSTOP);
  const bool killed = wait_until([&] { return d.gone(pid); }, 5000ms);
  d.signal(SIGCONT);
  REQUIRE(killed);
  const Json finished = d.wait_for("run_finished", of_run(started));
  SHOW_LOG(d);
  CHECK(finished["state"] == "killed");
  CHECK(finished["signal"] == "SIGKILL");
}

TEST_CASE("skedctl send gives a running run a line on its input, bounded, by run or job",
          "[runhost]") {
  TempDir dir;
  // Reads its input until "stop", writing what it got.
  const std::string config = write_config(dir, "",
                                          job(dir, "reader", at_line(),
                                              "while read -r line <&\"$SKEDD_INPUT_FD\"; do\n"
                                              "  echo \"got $line\" >> \"$DIR/got\"\n"
                                              "  [ \"$line\" = stop ] && exit 0\n"
                                              "done\nexit 1\n"));
  Daemon d(dir, config);
  const Json started = d.wait_for("run_started", of_job("reader"));
  const std::string run = std::to_string(started["run"].get<std::uint64_t>());
  const CommandResult by_run = skedctl(dir, {"send", run, "batch=500"});
  CHECK(by_run.exit_code == 0);
  CHECK(by_run.out == "sent to run " + run + "\n");
  const CommandResult too_long = skedctl(dir, {"send", run, std::string(5000, 'x')});
  CHECK(too_long.exit_code == 1);
  CHECK(too_long.err.find("less than 4096 bytes") != std::string::npos);
  CHECK(skedctl(dir, {"send", run, "two\nlines"}).exit_code == 1);
  CHECK(skedctl(dir, {"send", "reader", "stop"}).exit_code == 0);  // its one running run
  const Json finished = d.wait_for("run_finished", of_run(started));
  SHOW_LOG(d);
  CHECK(finished["state"] == "succeeded");
  CHECK(slurp(dir / "got") == "got batch=500\ngot stop\n");
  // Ended: nothing to send to.
  CHECK(skedctl(dir, {"send", run, "late"}).exit_code == 1);
  CHECK(skedctl(dir, {"send", "reader", "late"}).exit_code == 1);
  CHECK(skedctl(dir, {"send", "4242424242424242", "x"}).exit_code == 3);
}

#ifdef SKEDD_NEXT_BINARY  // the next release is built in the normal build only
TEST_CASE("an upgraded skedd has the running host re-execute as its own, keeping the runs",
          "[runhost]") {
  TempDir dir;
  const std::string config =
      write_config(dir, "", job(dir, "long", at_line(), std::string(kWaitForGo) + "exit 7\n"));
  Daemon first(dir, config);
  const pid_t host = first.wait_for("run_host_started")["pid"].get<pid_t>();
  const Json started = first.wait_for("run_started", of_job("long"));
  first.signal(SIGTERM);
  REQUIRE(first.wait_exit(5000ms) == 0);
  first.leave_runs();

  // The next release: its skedd speaks protocol 2, and its host is beside it.
  Daemon second(dir, config, {}, false, SKEDD_NEXT_BINARY);
  const Json upgrade = second.wait_for("run_host_upgrade");
  CHECK(upgrade["from_protocol"] == 1);
  CHECK(upgrade["to_protocol"] == 2);
  const Json connected = second.wait_for("run_host_connected");
  SHOW_LOG(second);
  CHECK(connected["protocol"] == 2);
  CHECK(connected["pid"] == host);  // the same process, re-executed
  CHECK(connected["runs"] == 1);
  CHECK(std::filesystem::read_symlink("/proc/" + std::to_string(host) + "/exe")
            .parent_path()
            .filename() == "upgrade");
  dir.write("go", "");
  const Json finished = second.wait_for("run_finished", of_run(started));
  CHECK(finished["state"] == "failed");
  CHECK(finished["exit_code"] == 7);  // still its child across the exec: the status is known
  CHECK(second.events_named("run_adopted").size() == 1);
}
#endif
