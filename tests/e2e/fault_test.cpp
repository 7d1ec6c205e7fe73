// Faults injected for real under a running (or starting) skedd, each with the outcome the user
// sees asserted: the error text, the exit code, the history afterwards. Mounts are made in a
// private mount namespace of the test process (support/mounts.h), so nothing leaks onto the
// machine. What each fault does is written in skedd(8), FAULTS.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include "support/command.h"
#include "support/daemon.h"
#include "support/daemon_jobs.h"
#include "support/mounts.h"
#include "support/temp_dir.h"

#include "skedd/store/sqlite_store.h"
#include "skedd/time/timestamp.h"

namespace skedd::fault {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using skedd::test::CommandResult;
using skedd::test::Daemon;
using skedd::test::job;
using skedd::test::Json;
using skedd::test::of_job;
using skedd::test::of_run;
using skedd::test::run_command;
using skedd::test::skedctl;
using skedd::test::slurp;
using skedd::test::TempDir;
using skedd::test::wait_until;
using skedd::test::write_config;

// The fires of a job with one fire every `period` from its first to its last, each accounted
// for other than exactly once (by its runs, a not-run record or a pending fire).
std::vector<std::string> fires_not_once(Store& store, const std::string& name, Duration period) {
  std::map<Instant, int> n;
  std::set<Instant> ran;
  const auto runs = store.runs({name, std::nullopt, 100'000}).value();
  const auto not_run = store.not_run(name, 100'000).value();
  const auto pending = store.pending_fires().value();
  for (const RunRecord& r : runs) ran.insert(r.scheduled);
  for (Instant t : ran) ++n[t];
  for (const NotRunRecord& nr : not_run) {
    for (Instant t = nr.first; t <= nr.last; t += period) ++n[t];
  }
  for (const PendingFire& p : pending) {
    if (p.job == name && !ran.count(p.scheduled)) ++n[p.scheduled];
  }
  std::vector<std::string> wrong;
  if (n.empty()) return {"no fire at all"};
  const Instant last = store.last_fires().value().at(name);
  for (Instant t = n.begin()->first; t <= last; t += period) {
    const auto it = n.find(t);
    if (it == n.end() || it->second != 1) {
      wrong.push_back(format_rfc3339_utc(t) + " x" +
                      std::to_string(it == n.end() ? 0 : it->second));
    }
  }
  return wrong;
}

std::unique_ptr<Store> open_state(const TempDir& dir) {
  auto store = open_sqlite_store(dir / "state/skedd.db");
  REQUIRE(store.ok());
  return std::move(store.value());
}

// skedd started on `config`, expected to exit at once: its exit status (-1 when it still ran
// after 15 s, and was killed) and what it wrote to stderr.
CommandResult start_to_end(const TempDir& dir, const std::string& config) {
  Daemon d(dir, config);
  const std::optional<int> status = d.wait_exit(15000ms);
  return CommandResult{status.value_or(-1), "", d.log_text()};
}

// Runs `tick` (every second, echoing) until it has finished twice, then stops skedd: a
// database with some history in it.
void make_history(const TempDir& dir, const std::string& config) {
  Daemon d(dir, config);
  d.wait_for("run_finished", 2, of_job("tick"));
  d.signal(SIGTERM);
  REQUIRE(d.wait_exit(15000ms) == 0);  // ASan under parallel tests is slow
}

std::string tick(const TempDir& dir) {
  return job(dir, "tick", R"(cron = "* * * * * *")", "echo tick output\n");
}

TEST_CASE("fault: the state dir's file system full, scheduling goes on and the history catches up",
          "[fault][root]") {
  skedd::test::private_mounts_or_skip();
  TempDir dir;
  const std::string state = dir / "state";
  fs::create_directories(state);
  REQUIRE(skedd::test::mount_tmpfs(state, "4m"));
  const skedd::test::Unmount unmount{state};
  // Each run sends a 30,000-byte checkpoint (over its control channel, not the disk) that goes
  // into its history row, so the database must grow with every run: a job that records
  // nothing new could live off pages SQLite frees and reuses, and never see the disk full.
  const std::string config = write_config(
      dir, "",
      job(dir, "tick", R"(cron = "* * * * * *")",
          "printf 'checkpoint %s\\n' \"$(head -c 30000 /dev/zero | tr '\\0' x)\" >&3\n"));
  Daemon d(dir, config);
  d.wait_for("run_finished", of_job("tick"));
  // Fill the file system: the next commits fail with "database or disk is full".
  {
    std::ofstream filler(state + "/filler", std::ios::binary);
    const std::string block(64 * 1024, 'x');
    while (filler.write(block.data(), static_cast<std::streamsize>(block.size()))) {
    }
  }
  const Json unwritable = d.wait_for("store_unwritable");
  SHOW_LOG(d);
  CHECK_THAT(unwritable["error"].get<std::string>(), Catch::Contains("full"));
  const std::size_t finished_when_full = d.events_named("run_finished", of_job("tick")).size();
  // Scheduling goes on: more runs start and finish while nothing can be written.
  d.wait_for("run_finished", finished_when_full + 2, of_job("tick"));
  CHECK(d.running());
  fs::remove(state + "/filler");
  d.wait_for("store_writable");
  d.signal(SIGTERM);
  REQUIRE(d.wait_exit(15000ms) == 0);  // ASan under parallel tests is slow
  // The runs of the full-disk time reached the history once space was back.
  auto store = open_state(dir);
  const auto runs = store->runs({std::string("tick"), std::nullopt, 1000});
  REQUIRE(runs.ok());
  CHECK(runs->size() >= finished_when_full + 2);
  CHECK(fires_not_once(*store, "tick", std::chrono::seconds(1)) == std::vector<std::string>{});
}

TEST_CASE("fault: the state dir on a read-only mount", "[fault][root]") {
  skedd::test::private_mounts_or_skip();
  TempDir dir;
  const std::string state = dir / "state";
  const std::string config = write_config(dir, "", tick(dir));
  make_history(dir, config);

  SECTION("at start: skedd exits 73 naming what it cannot write") {
    REQUIRE(skedd::test::bind_self(state));
    const skedd::test::Unmount unmount{state};
    REQUIRE(skedd::test::remount_bind(state, true));  // root ignores modes, not this
    const CommandResult r = start_to_end(dir, config);
    SHOW(r);
    CHECK(r.exit_code == 73);
    CHECK_THAT(r.err, Catch::Contains(state) && Catch::Contains("Read-only file system"));
  }
  SECTION("mounted read-only over it while skedd runs: runs fail to open their logs") {
    // A mount with files open for writing cannot be made read-only (EBUSY): a read-only bind
    // goes over the state dir instead. What skedd holds open (the database) stays writable;
    // what it opens by name from now on is on the read-only mount.
    Daemon d(dir, config);
    d.wait_for("run_finished", of_job("tick"));
    REQUIRE(skedd::test::bind_self(state));
    std::optional<skedd::test::Unmount> unmount;
    unmount.emplace(state);
    REQUIRE(skedd::test::remount_bind(state, true));
    const Json failed = d.wait_for("run_finished", [](const Json& e) {
      return e.value("job", "") == "tick" && e.value("state", "") == "failed";
    });
    SHOW_LOG(d);
    CHECK_THAT(failed.value("message", ""),
               Catch::Contains("cannot open log") && Catch::Contains("Read-only file system"));
    CHECK(d.running());
    unmount.reset();  // writable again: the next runs succeed
    const std::size_t failures =
        d.events_named("run_finished", [](const Json& e) {
           return e.value("job", "") == "tick" && e.value("state", "") == "failed";
         }).size();
    d.wait_for(
        "run_finished",
        [](const Json& e) {
          return e.value("job", "") == "tick" && e.value("state", "") == "succeeded";
        },
        5000ms);
    d.signal(SIGTERM);
    REQUIRE(d.wait_exit(15000ms) == 0);  // ASan under parallel tests is slow
    auto store = open_state(dir);
    CHECK(fires_not_once(*store, "tick", std::chrono::seconds(1)) == std::vector<std::string>{});
    const auto runs = store->runs({std::string("tick"), skedd::RunState::kFailed, 100}).value();
    CHECK(runs.size() >= failures);
  }
}

TEST_CASE("fault: the database damaged or replaced: skedd exits 74 and leaves it as it is",
          "[fault]") {
  TempDir dir;
  const std::string config = write_config(dir, "", tick(dir));
  make_history(dir, config);
  const std::string db = dir / "state/skedd.db";
  std::string expected;
  SECTION("a page overwritten") {
    {
      std::fstream f(db, std::ios::binary | std::ios::in | std::ios::out);
      f.seekp(4096);
      const std::string garbage(4096, '\xa5');
      f.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
      REQUIRE(f.good());
    }
    expected = "is damaged";
  }
  SECTION("replaced by a file that is not a database") {
    fs::remove(db);
    dir.write("state/skedd.db", std::string(8192, 'x'), 0600);
    expected = "not a database";
  }
  const std::string before = slurp(db);
  const CommandResult r = start_to_end(dir, config);
  SHOW(r);
  CHECK(r.exit_code == 74);
  CHECK_THAT(r.err, Catch::Contains(db) && Catch::Contains(expected));
  CHECK(slurp(db) == before);  // nothing was thrown away or rewritten
}

TEST_CASE("fault: the database locked by another process, the history waits and catches up",
          "[fault]") {
  TempDir dir;
  const std::string config = write_config(dir, "", tick(dir));
  Daemon d(dir, config);
  d.wait_for("run_finished", of_job("tick"));
  // sqlite3(1) holds the write lock for 7 s: longer than skedd's 5 s busy timeout.
  const std::string db = dir / "state/skedd.db";
  const std::string script = dir.write("lock.sql", "BEGIN EXCLUSIVE;\n.shell sleep 7\nCOMMIT;\n");
  pid_t holder = ::fork();
  REQUIRE(holder >= 0);
  if (holder == 0) {
    const int in = ::open(script.c_str(), O_RDONLY);
    ::dup2(in, 0);
    ::execl("/usr/bin/sqlite3", "sqlite3", db.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  const Json unwritable = d.wait_for("store_unwritable", {}, 15000ms);
  SHOW_LOG(d);
  CHECK_THAT(unwritable["error"].get<std::string>(), Catch::Contains("locked"));
  const std::size_t finished = d.events_named("run_finished", of_job("tick")).size();
  d.wait_for("run_finished", finished + 1, of_job("tick"));  // runs go on meanwhile
  d.wait_for("store_writable", {}, 15000ms);
  CHECK(wait_until([&] { return d.gone(holder); }, 5000ms));  // it let go and ended
  d.signal(SIGTERM);
  REQUIRE(d.wait_exit(15000ms) == 0);  // ASan under parallel tests is slow
  auto store = open_state(dir);
  CHECK(store->runs({std::string("tick"), std::nullopt, 1000})->size() >= finished + 1);
  CHECK(fires_not_once(*store, "tick", std::chrono::seconds(1)) == std::vector<std::string>{});
}

TEST_CASE("fault: the log directory removed under a running skedd: the next run makes it again",
          "[fault]") {
  TempDir dir;
  const std::string config = write_config(dir, "", tick(dir));
  Daemon d(dir, config);
  d.wait_for("run_finished", of_job("tick"));
  fs::remove_all(dir / "state/logs");
  const std::size_t finished = d.events_named("run_finished", of_job("tick")).size();
  const Json next = d.wait_for("run_finished", finished + 2, of_job("tick")).back();
  SHOW_LOG(d);
  CHECK(next["state"] == "succeeded");
  const CommandResult logs = skedctl(dir, {"logs", skedd::test::run_id(next)});
  SHOW(logs);
  CHECK(logs.exit_code == 0);
  CHECK(logs.out == "tick output\n");
}

TEST_CASE("fault: the runtime directory removed: the socket comes back, runs keep their channel",
          "[fault]") {
  TempDir dir;
  const std::string runtime = dir / "run";
  // A run that checkpoints after its control FIFO's directory is gone.
  const std::string config = write_config(
      dir, "",
      job(dir, "later", skedd::test::at_line(), "sleep 1.5\necho checkpoint after >&3\n") +
          tick(dir));
  Daemon d(dir, config, {"--socket", runtime + "/skedd.sock"});
  const Json started = d.wait_for("run_started", of_job("later"));
  fs::remove_all(runtime);
  // Within a few seconds the socket is back (it is looked at every second).
  const Json back = d.wait_for("socket_recreated", {}, 5000ms);
  SHOW_LOG(d);
  CHECK(back["socket"] == runtime + "/skedd.sock");
  const CommandResult status =
      run_command({SKEDCTL_BINARY, "--socket", runtime + "/skedd.sock", "status"});
  SHOW(status);
  CHECK(status.exit_code == 0);
  const Json finished = d.wait_for("run_finished", of_run(started));
  CHECK(finished["state"] == "succeeded");
  d.wait_for("run_finished", 2, of_job("tick"));  // new runs make runs/ again
  d.signal(SIGTERM);
  REQUIRE(d.wait_exit(15000ms) == 0);  // ASan under parallel tests is slow
  auto store = open_state(dir);
  const auto later = store->runs({std::string("later"), std::nullopt, 10}).value();
  REQUIRE(later.size() == 1);
  CHECK(later[0].checkpoint == "after");
}

TEST_CASE("fault: skedd stopped (SIGSTOP) for longer than a job's interval, then continued",
          "[fault]") {
  TempDir dir;
  const std::string config =
      write_config(dir, "",
                   job(dir, "every", R"(every = "1s")", "true\n") +
                       job(dir, "cron", R"(cron = "* * * * * *")", "true\n"));
  Daemon d(dir, config);
  d.wait_for("run_finished", 2, of_job("cron"));
  d.signal(SIGSTOP);
  std::this_thread::sleep_for(3500ms);
  const std::size_t before = d.events_named("run_started").size();
  d.signal(SIGCONT);
  std::this_thread::sleep_for(700ms);
  // No burst: the fires of the stop are not all started at once.
  const std::size_t burst = d.events_named("run_started").size() - before;
  SHOW_LOG(d);
  CHECK(burst <= 4);
  d.wait_for("run_finished", 4, of_job("cron"));
  d.wait_for("run_finished", 4, of_job("every"));
  CHECK(d.running());
  d.signal(SIGTERM);
  REQUIRE(d.wait_exit(15000ms) == 0);  // ASan under parallel tests is slow
  // Every fire of the stop is in the history once: run, or not run with its reason.
  auto store = open_state(dir);
  CHECK(fires_not_once(*store, "cron", std::chrono::seconds(1)) == std::vector<std::string>{});
  CHECK(fires_not_once(*store, "every", std::chrono::seconds(1)) == std::vector<std::string>{});
  std::set<std::string> reasons;
  for (const std::string name : {"cron", "every"}) {
    const auto not_run = store->not_run(name, 100).value();
    for (const skedd::NotRunRecord& nr : not_run) {
      reasons.insert(name + ": " + skedd::to_string(nr.reason));
    }
  }
  // Folded: the fires of the stop are recorded as passed over, the latest ran (a loaded
  // machine may also skip a fire for overlapping a slow run).
  CHECK(reasons.count("cron: clock_jump") == 1);
  CHECK(reasons.count("every: clock_jump") == 1);
  for (const std::string& r : reasons) {
    INFO(r);
    CHECK((r.ends_with(": clock_jump") || r.ends_with(": overlap")));
  }
}

TEST_CASE("fault: a process group that ignores every signal but SIGKILL: the hard timeout ends it",
          "[fault]") {
  TempDir dir;
  const std::string config =
      write_config(dir, "",
                   job(dir, "stubborn", skedd::test::at_line(),
                       "trap '' HUP INT QUIT TERM USR1 USR2 ALRM\n"
                       "sh -c \"trap '' HUP INT QUIT TERM USR1 USR2 ALRM; sleep 60\" &\nsleep 60\n",
                       "soft_timeout = \"300ms\"\nhard_timeout = \"1s\""));
  Daemon d(dir, config);
  const Json started = d.wait_for("run_started", of_job("stubborn"));
  const Json finished = d.wait_for("run_finished", of_run(started), 10000ms);
  SHOW_LOG(d);
  CHECK(finished["state"] == "timed_out");
  CHECK(finished.value("message", "") == "hard timeout");
  CHECK(finished["duration_s"].get<double>() < 3);
  const pid_t pgid = started["pid"].get<pid_t>();
  CHECK(wait_until([&] { return d.group_gone(pgid); }, 3000ms));
}

TEST_CASE("fault: a run that forks 1,000 children and exits: all are ended, skedd answers",
          "[fault]") {
  TempDir dir;
  const std::string config =
      write_config(dir, "kill_grace = \"1s\"\n",
                   job(dir, "forky", skedd::test::at_line(),
                       "i=0\nwhile [ $i -lt 1000 ]; do sleep 60 & i=$((i + 1)); done\nexit 0\n"));
  Daemon d(dir, config);
  const Json started = d.wait_for("run_started", of_job("forky"));
  const Json finished = d.wait_for("run_finished", of_run(started), 60000ms);
  SHOW_LOG(d);
  CHECK(finished["state"] == "succeeded");
  const CommandResult status = skedctl(dir, {"status"});
  CHECK(status.exit_code == 0);
  // The 1,000 left in its process group got the soft signal (sleep dies of it).
  const pid_t pgid = started["pid"].get<pid_t>();
  CHECK(wait_until([&] { return d.group_gone(pgid); }, 20000ms));
  CHECK(d.running());
}

TEST_CASE("fault: fork fails for the job's user (RLIMIT_NPROC): the run fails, its log says why",
          "[fault][root]") {
  const skedd::test::TestUser user = skedd::test::test_user_or_skip();
  TempDir dir;
  ::chmod(dir.path().c_str(), 0755);
  // The user may have 2 processes and has them (two sleeps). skedd's run host forks as root,
  // so the run starts; the run's own fork fails.
  const rlimit limit{2, 2};
  REQUIRE(::setrlimit(RLIMIT_NPROC, &limit) == 0);  // inherited by skedd; root is not held to it
  std::vector<pid_t> sleepers;
  for (int i = 0; i < 2; ++i) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      if (::setgid(user.as.gid) != 0 || ::setuid(user.as.uid) != 0) ::_exit(126);
      ::execl("/bin/sleep", "sleep", "60", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    sleepers.push_back(pid);
  }
  // Both count against the user's limit once they run as the user: before that (a loaded
  // machine), the first run's fork could still succeed.
  for (pid_t pid : sleepers) {
    REQUIRE(wait_until(
        [&] {
          return slurp("/proc/" + std::to_string(pid) + "/comm") == "sleep\n" &&
                 slurp("/proc/" + std::to_string(pid) + "/status")
                         .find("Uid:\t" + std::to_string(user.as.uid) + "\t") != std::string::npos;
        },
        5000ms));
  }
  const std::string config =
      write_config(dir, "",
                   job(dir, "crowded", R"(cron = "* * * * * *")", "true &\nwait\necho ran\n",
                       "user = \"" + user.name + "\""));
  Daemon d(dir, config);
  const Json failed = d.wait_for("run_finished", of_job("crowded"));
  SHOW_LOG(d);
  CHECK(failed["state"] == "failed");
  CHECK(failed["exit_code"] == 2);
  const CommandResult log = skedctl(dir, {"logs", skedd::test::run_id(failed)});
  CHECK_THAT(log.out, Catch::Contains("Cannot fork"));
  // Room again: the next fires run.
  for (pid_t pid : sleepers) {
    ::kill(pid, SIGKILL);
    REQUIRE(wait_until([&] { return d.gone(pid); }, 3000ms));
  }
  const Json ran = d.wait_for(
      "run_finished",
      [](const Json& e) {
        return e.value("job", "") == "crowded" && e.value("state", "") == "succeeded";
      },
      5000ms);
  CHECK(skedctl(dir, {"logs", skedd::test::run_id(ran)}).out == "ran\n");
  CHECK(d.running());
}

TEST_CASE(
    "fault: a crontab rewritten in place while skedd reads it: skedd ends on the last version",
    "[fault][root]") {
  if (::geteuid() != 0) std::_Exit(77);  // crontab files must be owned by root
  TempDir dir("skedd-crontab-test");
  ::chmod(dir.path().c_str(), 0755);
  // Versions differ in the hour of all 50 lines.
  auto version = [](int hour) {
    std::string text;
    for (int i = 0; i < 50; ++i) {
      text += std::to_string(i) + " " + std::to_string(hour) + " * * * root echo " +
              std::to_string(i) + "\n";
    }
    return text;
  };
  const std::string tab = dir.write("cron.d/churn", version(3));
  dir.write("jobs.d/none.toml", "");
  const std::string config = dir.write(
      "skedd.toml", "[daemon]\nstate_dir = \"" + dir / "state" + "\"\nsocket = \"" +
                        dir / "skedd.sock" + "\"\ntimezone = \"UTC\"\n[cron]\nsources = [\"" +
                        dir / "cron.d" + "\"]\n");
  Daemon d(dir, config);
  d.wait_for("crontabs_read");
  // Rewritten in place (truncated, then written a line at a time) for 3 s, as an editor that
  // does not replace the file would, while skedd looks at it every second.
  const auto until = std::chrono::steady_clock::now() + 3s;
  for (int round = 0; std::chrono::steady_clock::now() < until; ++round) {
    const std::string text = version(round % 2 == 0 ? 4 : 3);
    std::ofstream out(tab, std::ios::trunc);
    for (std::size_t at = 0; at < text.size();) {
      const std::size_t nl = text.find('\n', at) + 1;
      out.write(text.data() + at, static_cast<std::streamsize>(nl - at));
      out.flush();
      at = nl;
      std::this_thread::sleep_for(1ms);
    }
  }
  {
    std::ofstream out(tab, std::ios::trunc);
    out << version(5);
  }
  // The last version wins: its 50 lines are the jobs, none of the torn reads' is left.
  std::string listed;
  const bool settled = wait_until(
      [&] {
        const CommandResult r = skedctl(dir, {"list", "--json"});
        listed = r.out + r.err;
        if (r.exit_code != 0) return false;
        int jobs = 0;
        const Json list = Json::parse(r.out);
        for (const Json& j : list["jobs"]) {
          if (j["name"].get<std::string>().rfind("cron:churn:", 0) != 0) continue;
          ++jobs;
          const std::string schedule = j.value("schedule", "");
          if (schedule.find(" 5 * * *") == std::string::npos) return false;
        }
        return jobs == 50;
      },
      10000ms, 200ms);
  INFO("skedctl list: " << listed);
  CHECK(settled);
  CHECK(d.running());
}

}  // namespace skedd::fault
