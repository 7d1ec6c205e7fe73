// The engine, supervisor and handler runner on fakes (see runtime_rig.h): fires through
// dispatch to runs and their records, overlap, priorities, retries, timeouts, leftovers,
// pauses, checkpoints and recovery at start. No test sleeps.
#include <signal.h>

#include <algorithm>
#include <fstream>

#include "exec/proc.h"
#include "runtime/runtime_rig.h"

namespace {

using namespace std::chrono_literals;
using skedd::EventKind;
using skedd::NotRunReason;
using skedd::RunState;
using skedd::test::RuntimeRig;
using skedd::test::utc_at;

bool got(const skedd::test::FakeSpawner::Process& p, int sig) {
  return std::find(p.signals.begin(), p.signals.end(), sig) != p.signals.end();
}

// A run an earlier skedd recorded as running, with its process `pid` started at `pid_start`.
skedd::RunRecord left_running(const std::string& job, const std::string& scheduled, pid_t pid,
                              std::uint64_t pid_start) {
  skedd::RunRecord record;
  record.run = skedd::RunId{42};
  record.job = job;
  record.scheduled = utc_at(scheduled);
  record.started = utc_at(scheduled);
  record.state = RunState::kRunning;
  record.pid = pid;
  record.pid_start = pid_start;
  record.owner = ::getuid();
  return record;
}

}  // namespace

TEST_CASE("runtime: a fire goes through dispatch to a run, and its end to the history",
          "[runtime]") {
  RuntimeRig rig(R"([job.tick]
cron = "*/10 * * * * *"
command = ["/bin/true", "x"]
)");
  rig.start();
  CHECK(rig.spawns() == 0);
  rig.advance(5s);  // 07:30:00
  REQUIRE(rig.spawns() == 1);
  auto& p = rig.spawned(0);
  CHECK(p.request.argv == std::vector<std::string>{"/bin/true", "x"});
  CHECK(RuntimeRig::env(p, "SKEDD_JOB") == "tick");
  CHECK(RuntimeRig::env(p, "SKEDD_SCHEDULED_AT") == "2026-03-08T07:30:00Z");
  CHECK(RuntimeRig::env(p, "SKEDD_ATTEMPT") == "1");
  auto runs = rig.runs("tick");
  REQUIRE(runs.size() == 1);
  CHECK(runs[0].state == RunState::kRunning);
  CHECK(runs[0].pid == p.pid);
  CHECK(runs[0].pid_start == p.start);
  CHECK(runs[0].scheduled == utc_at("2026-03-08T07:30:00Z"));
  CHECK(RuntimeRig::env(p, "SKEDD_RUN_ID") == std::to_string(runs[0].run.value));
  CHECK(rig.engine->counts().running == 1);

  rig.advance(2s);
  rig.exit(p, 0);
  runs = rig.runs("tick");
  REQUIRE(runs.size() == 1);
  CHECK(runs[0].state == RunState::kSucceeded);
  CHECK(runs[0].exit_code == 0);
  CHECK(runs[0].ended == utc_at("2026-03-08T07:30:02Z"));
  CHECK(rig.engine->counts().running == 0);
  CHECK(rig.sink.count(EventKind::kRunStarted) == 1);
  CHECK(rig.sink.count(EventKind::kRunFinished) == 1);
  // The next fire, and nothing before it.
  rig.advance(7s);
  CHECK(rig.spawns() == 1);
  rig.advance(1s);
  CHECK(rig.spawns() == 2);
}

TEST_CASE("runtime: a failed run is retried after its backoff with its last checkpoint",
          "[runtime]") {
  RuntimeRig rig(R"([job.flaky]
cron = "30 7 * * *"
command = ["/bin/false"]
retries = 2
retry_backoff = "30s"
)");
  rig.start();
  rig.advance(5s);
  REQUIRE(rig.spawns() == 1);
  rig.say(rig.spawned(0), "checkpoint step-3");
  REQUIRE(rig.runs("flaky").front().checkpoint == "step-3");
  rig.exit(rig.spawned(0), 2);
  CHECK(rig.runs("flaky").front().state == RunState::kFailed);
  CHECK(rig.sink.count(EventKind::kRetryScheduled) == 1);
  // Equal jitter: from [b/2, b], the random draw 0 gives b/2.
  rig.advance(14900ms);
  CHECK(rig.spawns() == 1);
  rig.advance(100ms);
  REQUIRE(rig.spawns() == 2);
  auto& second = rig.spawned(1);
  CHECK(RuntimeRig::env(second, "SKEDD_ATTEMPT") == "2");
  CHECK(RuntimeRig::env(second, "SKEDD_CHECKPOINT") == "step-3");
  CHECK(RuntimeRig::env(second, "SKEDD_SCHEDULED_AT") == "2026-03-08T07:30:00Z");
  rig.exit(second, 0);
  const auto runs = rig.runs("flaky");
  REQUIRE(runs.size() == 2);
  CHECK(runs[0].attempt == 2);
  CHECK(runs[0].state == RunState::kSucceeded);
  rig.advance(10min);
  CHECK(rig.spawns() == 2);  // no third attempt after a success
}

TEST_CASE("runtime: overlap skip records the fires that came while the job ran", "[runtime]") {
  RuntimeRig rig(R"([job.slow]
cron = "*/10 * * * * *"
command = ["/bin/sleep", "60"]
overlap = "skip"
)");
  rig.start();
  rig.advance(5s);
  REQUIRE(rig.spawns() == 1);
  rig.advance(30s);  // :10, :20 and :30 come while it runs
  CHECK(rig.spawns() == 1);
  const auto skipped = rig.not_run("slow");
  REQUIRE(skipped.size() == 1);  // consecutive fires of one reason are one record
  CHECK(skipped[0].state == RunState::kSkipped);
  CHECK(skipped[0].reason == NotRunReason::kOverlap);
  CHECK(skipped[0].count == 3);
  CHECK(skipped[0].first == utc_at("2026-03-08T07:30:10Z"));
  CHECK(skipped[0].last == utc_at("2026-03-08T07:30:30Z"));
  rig.exit(rig.spawned(0), 0);
  rig.advance(10s);
  CHECK(rig.spawns() == 2);
}

TEST_CASE("runtime: under saturation the higher priority starts first", "[runtime]") {
  RuntimeRig rig(R"([job.low]
cron = "30 7 * * *"
command = ["/bin/true"]
priority = 1
[job.high]
cron = "30 7 * * *"
command = ["/bin/true"]
priority = 9
[job.middle]
cron = "30 7 * * *"
command = ["/bin/true"]
priority = 5
)");
  rig.config.daemon.max_concurrent_runs = 1;
  rig.start();
  rig.advance(5s);
  REQUIRE(rig.spawns() == 1);
  CHECK(RuntimeRig::env(rig.spawned(0), "SKEDD_JOB") == "high");
  CHECK(rig.engine->counts().queued == 2);
  rig.exit(rig.spawned(0), 0);
  REQUIRE(rig.spawns() == 2);
  CHECK(RuntimeRig::env(rig.spawned(1), "SKEDD_JOB") == "middle");
  rig.exit(rig.spawned(1), 0);
  REQUIRE(rig.spawns() == 3);
  CHECK(RuntimeRig::env(rig.spawned(2), "SKEDD_JOB") == "low");
}

TEST_CASE("runtime: the soft timeout signals the group, the hard one kills it", "[runtime]") {
  const std::string job = R"([job.t]
cron = "30 7 * * *"
command = ["/bin/sleep", "600"]
soft_timeout = "5s"
hard_timeout = "8s"
)";
  SECTION("a run that exits on the soft signal is timed out") {
    RuntimeRig rig(job);
    rig.start();
    rig.advance(5s);
    auto& p = rig.spawned(0);
    rig.advance(4900ms);
    CHECK(p.signals.empty());
    rig.advance(100ms);
    CHECK(got(p, SIGTERM));
    const auto runs = rig.runs("t");
    CHECK(runs[0].state == RunState::kTimedOut);
    CHECK(runs[0].message == "soft timeout");
    CHECK(runs[0].signal == SIGTERM);
    CHECK(rig.sink.count(EventKind::kSoftTimeout) == 1);
  }
  SECTION("a run that ignores it gets SIGKILL at the hard timeout") {
    RuntimeRig rig(job);
    rig.spawner.ignore_next({SIGTERM});
    rig.start();
    rig.advance(5s);
    auto& p = rig.spawned(0);
    rig.advance(5s);
    CHECK(got(p, SIGTERM));
    CHECK(rig.runs("t")[0].state == RunState::kRunning);
    rig.advance(2900ms);
    CHECK_FALSE(got(p, SIGKILL));
    rig.advance(100ms);
    CHECK(got(p, SIGKILL));
    const auto runs = rig.runs("t");
    CHECK(runs[0].state == RunState::kTimedOut);
    CHECK(runs[0].message == "hard timeout");
    CHECK(rig.sink.count(EventKind::kHardTimeout) == 1);
  }
}

TEST_CASE("runtime: leftovers get the soft signal at the run's end, SIGKILL after kill_grace",
          "[runtime]") {
  RuntimeRig rig(R"([job.forks]
cron = "30 7 * * *"
command = ["/bin/true"]
)");
  rig.config.daemon.kill_grace = 10s;
  rig.spawner.leftovers_next(true);
  rig.spawner.ignore_next({SIGTERM});
  rig.start();
  rig.advance(5s);
  auto& p = rig.spawned(0);
  rig.exit(p, 0);
  CHECK(rig.runs("forks")[0].state == RunState::kSucceeded);  // leftovers do not change it
  CHECK(got(p, SIGTERM));
  CHECK(rig.sink.count(EventKind::kLeftoversSignalled) == 1);
  CHECK(rig.spawner.signal_group(p.pid, 0));  // they ignored it
  rig.advance(9900ms);
  CHECK_FALSE(got(p, SIGKILL));
  rig.advance(100ms);
  CHECK(got(p, SIGKILL));
  CHECK_FALSE(rig.spawner.signal_group(p.pid, 0));
}

TEST_CASE("runtime: a paused run's timeouts stand still until it continues", "[runtime]") {
  RuntimeRig rig(R"([job.t]
cron = "30 7 * * *"
command = ["/bin/sleep", "600"]
soft_timeout = "5s"
)");
  rig.start();
  rig.advance(5s);
  auto& p = rig.spawned(0);
  const skedd::RunId id = rig.runs("t")[0].run;
  rig.advance(2s);
  REQUIRE(rig.engine->set_run_paused(id, true));
  CHECK(got(p, SIGSTOP));
  CHECK(rig.runs("t")[0].state == RunState::kPaused);
  rig.advance(1h);
  CHECK_FALSE(got(p, SIGTERM));
  REQUIRE(rig.engine->set_run_paused(id, false));
  CHECK(got(p, SIGCONT));
  CHECK(rig.runs("t")[0].frozen == std::chrono::duration_cast<skedd::Duration>(1h));
  rig.advance(2900ms);
  CHECK_FALSE(got(p, SIGTERM));
  rig.advance(100ms);
  CHECK(got(p, SIGTERM));
}

TEST_CASE("runtime: a run that cannot be spawned or watched fails with the reason", "[runtime]") {
  RuntimeRig rig(R"([job.j]
cron = "*/10 * * * * *"
command = ["/bin/true"]
)");
  rig.spawner.fail_next(skedd::Error::io("chdir /nowhere: No such file or directory"));
  rig.start();
  rig.advance(5s);
  auto runs = rig.runs("j");
  REQUIRE(runs.size() == 1);
  CHECK(runs[0].state == RunState::kFailed);
  CHECK(runs[0].message == "chdir /nowhere: No such file or directory");
  CHECK(rig.engine->counts().running == 0);
  rig.spawner.refuse_watch(true);
  rig.advance(10s);
  runs = rig.runs("j");
  REQUIRE(runs.size() == 2);
  CHECK(runs[0].state == RunState::kFailed);
  CHECK(runs[0].message.find("cannot watch its process") != std::string::npos);
  CHECK(rig.spawned(0).exited);  // killed: nothing runs unseen
}

TEST_CASE("runtime: a run left by an earlier skedd is adopted, its end told by its exit line",
          "[runtime]") {
  RuntimeRig rig(R"([job.long]
cron = "0 3 * * *"
command = ["/bin/sleep", "600"]
)");
  auto& old = rig.spawner.add_process(777);
  rig.store->put_run(left_running("long", "2026-03-08T07:00:00Z", old.pid, 777));
  // No boot recorded: the store does not say another boot, so its runs may still run.
  rig.start();
  CHECK(rig.sink.count(EventKind::kRunAdopted) == 1);
  CHECK(rig.spawner.watched(old.pid));
  CHECK(rig.engine->counts().running == 1);
  rig.spawner.exit(old.pid, 0);
  rig.settle();
  const auto runs = rig.runs("long");
  REQUIRE(runs.size() == 1);
  // Not our child: its status is unknown, and it wrote no `exit` line.
  CHECK(runs[0].state == RunState::kFailed);
  CHECK(runs[0].message.find("adopted") != std::string::npos);
  CHECK(rig.spawns() == 0);  // not run again
}

TEST_CASE("runtime: a run of a boot before this one is resumed from its last checkpoint",
          "[runtime]") {
  RuntimeRig rig(R"([job.etl]
cron = "0 3 * * *"
command = ["/bin/etl"]
max_interrupts = 2
)");
  // The machine restarted: the run was interrupted (on_interrupt), not ended.
  rig.store->put_meta("boot_id", "a-boot-before-this-one");
  auto record =
      left_running("etl", "2026-03-08T03:00:00Z", skedd::test::FakeSpawner::kFirstPid + 999, 5);
  record.checkpoint = "rows=1000";
  rig.store->put_run(record);
  rig.start();
  auto runs = rig.runs("etl");
  REQUIRE(runs.size() == 2);
  CHECK(runs[1].state == RunState::kInterrupted);
  CHECK(rig.sink.count(EventKind::kRunInterrupted) == 1);
  CHECK(rig.sink.count(EventKind::kRunResumed) == 1);
  REQUIRE(rig.spawns() == 1);
  CHECK(RuntimeRig::env(rig.spawned(0), "SKEDD_ATTEMPT") == "2");
  CHECK(RuntimeRig::env(rig.spawned(0), "SKEDD_CHECKPOINT") == "rows=1000");
  CHECK(RuntimeRig::env(rig.spawned(0), "SKEDD_SCHEDULED_AT") == "2026-03-08T03:00:00Z");
}

TEST_CASE("runtime: a run that ended while skedd was down gets the exit its run host kept",
          "[runtime]") {
  RuntimeRig rig(R"([job.backup]
cron = "0 3 * * *"
command = ["/bin/backup"]
)");
  const skedd::Instant ended = utc_at("2026-03-08T03:20:00Z");
  const pid_t pid = rig.spawner.add_kept_exit(4242, skedd::ProcessExit{0, std::nullopt, ended});
  rig.store->put_run(left_running("backup", "2026-03-08T03:00:00Z", pid, 4242));
  rig.start();
  rig.settle();
  const auto runs = rig.runs("backup");
  REQUIRE(runs.size() == 1);
  CHECK(runs[0].state == RunState::kSucceeded);
  CHECK(runs[0].exit_code == 0);
  CHECK(runs[0].ended == ended);
  CHECK(rig.spawns() == 0);  // not run again
  CHECK(rig.sink.count(EventKind::kRunInterrupted) == 0);
  // Released once its end is committed, so that the host forgets it.
  REQUIRE(rig.spawner.released().size() == 1);
  CHECK(rig.spawner.released()[0] == std::pair<pid_t, std::uint64_t>(pid, 4242));
}

TEST_CASE("runtime: a spawn the run host never got is offered again, not taken as interrupted",
          "[runtime]") {
  // skedd was killed after making a run's files (its log exists, empty) and before its spawn
  // request reached the run host. The soak kill loop found it recorded as interrupted.
  RuntimeRig rig(R"([job.backup]
cron = "29 7 * * *"
command = ["/bin/backup"]
)");
  std::filesystem::create_directories(rig.dir / "state/logs");
  const std::string log = rig.dir / "state/logs/backup.42.log";
  { std::ofstream touch(log); }
  skedd::RunRecord record = left_running("backup", "2026-03-08T07:29:00Z", 0, 0);
  record.state = RunState::kScheduled;
  record.pid.reset();
  record.pid_start.reset();
  record.log_path = log;
  rig.store->put_run(record);
  rig.store->put_meta("boot_id", skedd::current_boot_id());
  rig.store->put_meta("run_host", "9000 1234 4");
  SECTION("the host served the previous skedd from its start: the same attempt runs") {
    rig.spawner.set_session(skedd::HostSession{9000, 1234, 5});
    rig.start();
    CHECK(rig.sink.count(EventKind::kRunInterrupted) == 0);
    REQUIRE(rig.spawns() == 1);
    CHECK(RuntimeRig::env(rig.spawned(0), "SKEDD_ATTEMPT") == "1");
    CHECK(RuntimeRig::env(rig.spawned(0), "SKEDD_SCHEDULED_AT") == "2026-03-08T07:29:00Z");
    CHECK(RuntimeRig::env(rig.spawned(0), "SKEDD_RUN_ID") == "42");
  }
  SECTION("reserved by a pending fire, not a run record: that fire is settled by the run") {
    rig.store->delete_run(skedd::RunId{42});
    rig.store->put_fire(
        skedd::PendingFire{"backup", record.scheduled, record.scheduled, 1, 0, skedd::RunId{42}});
    rig.spawner.set_session(skedd::HostSession{9000, 1234, 5});
    rig.start();
    CHECK(rig.sink.count(EventKind::kRunInterrupted) == 0);
    REQUIRE(rig.spawns() == 1);
    CHECK(RuntimeRig::env(rig.spawned(0), "SKEDD_RUN_ID") == "42");
    auto pending = rig.store->pending_fires();
    REQUIRE(pending);
    CHECK(pending->empty());
  }
  SECTION("another connection came between, or another host: interrupted, as before") {
    rig.spawner.set_session(GENERATE(skedd::HostSession{9000, 1234, 6},
                                     skedd::HostSession{9000, 99, 5},
                                     skedd::HostSession{9001, 1234, 5}));
    rig.start();
    CHECK(rig.sink.count(EventKind::kRunInterrupted) == 1);
    CHECK(std::filesystem::exists(log));
  }
  SECTION("the log is not empty: something ran") {
    { std::ofstream(log) << "partial output\n"; }
    rig.spawner.set_session(skedd::HostSession{9000, 1234, 5});
    rig.start();
    CHECK(rig.sink.count(EventKind::kRunInterrupted) == 1);
  }
  // The session is recorded for the next skedd.
  auto stored = rig.store->meta("run_host");
  REQUIRE(stored);
  CHECK(stored.value() == std::optional<std::string>(
                              rig.spawner.host_session()
                                  ? std::to_string(rig.spawner.host_session()->pid) + " " +
                                        std::to_string(rig.spawner.host_session()->start) + " " +
                                        std::to_string(rig.spawner.host_session()->connection)
                                  : ""));
}

TEST_CASE("runtime: a run that ended unseen fails as unknown, or is rerun if its job says so",
          "[runtime]") {
  SECTION("on_unknown_exit = fail (the default): failed, not run again") {
    RuntimeRig rig(R"([job.etl]
cron = "0 3 * * *"
command = ["/bin/etl"]
)");
    rig.store->put_run(
        left_running("etl", "2026-03-08T03:00:00Z", skedd::test::FakeSpawner::kFirstPid + 999, 5));
    rig.start();
    rig.settle();
    const auto runs = rig.runs("etl");
    REQUIRE(runs.size() == 1);
    CHECK(runs[0].state == RunState::kFailed);
    CHECK(runs[0].message.find("exit status unknown") != std::string::npos);
    CHECK(rig.sink.count(EventKind::kRunExitUnknown) == 1);
    CHECK(rig.sink.count(EventKind::kRunInterrupted) == 0);
    CHECK(rig.spawns() == 0);
  }
  SECTION("on_unknown_exit = rerun: a further attempt with the last checkpoint") {
    RuntimeRig rig(R"([job.etl]
cron = "0 3 * * *"
command = ["/bin/etl"]
on_unknown_exit = "rerun"
retries = 0
)");
    auto record =
        left_running("etl", "2026-03-08T03:00:00Z", skedd::test::FakeSpawner::kFirstPid + 999, 5);
    record.checkpoint = "rows=7";
    rig.store->put_run(record);
    rig.start();
    rig.settle();
    REQUIRE(rig.spawns() == 1);
    CHECK(RuntimeRig::env(rig.spawned(0), "SKEDD_ATTEMPT") == "2");
    CHECK(RuntimeRig::env(rig.spawned(0), "SKEDD_CHECKPOINT") == "rows=7");
    const auto runs = rig.runs("etl");
    CHECK(std::ranges::count_if(runs, [](const skedd::RunRecord& r) {
            return r.state == RunState::kFailed && r.message.find("rerun") != std::string::npos;
          }) == 1);
  }
  SECTION("a run adopted without a host whose exit is unknown is rerun too") {
    RuntimeRig rig(R"([job.long]
cron = "0 3 * * *"
command = ["/bin/sleep", "600"]
on_unknown_exit = "rerun"
)");
    auto& old = rig.spawner.add_process(777);
    rig.store->put_run(left_running("long", "2026-03-08T07:00:00Z", old.pid, 777));
    rig.start();
    rig.spawner.exit(old.pid, 0);
    rig.settle();
    REQUIRE(rig.spawns() == 1);
    CHECK(RuntimeRig::env(rig.spawned(0), "SKEDD_ATTEMPT") == "2");
  }
}

TEST_CASE("runtime: a fire recorded pending by an earlier skedd starts at the next start",
          "[runtime]") {
  RuntimeRig rig(R"([job.p]
cron = "0 3 * * *"
command = ["/bin/true"]
)");
  rig.store->put_fire(skedd::PendingFire{"p", utc_at("2026-03-08T07:29:00Z"),
                                         utc_at("2026-03-08T07:29:00Z"), 1, 0, skedd::RunId{77}});
  rig.start();
  REQUIRE(rig.spawns() == 1);
  CHECK(RuntimeRig::env(rig.spawned(0), "SKEDD_SCHEDULED_AT") == "2026-03-08T07:29:00Z");
  CHECK(RuntimeRig::env(rig.spawned(0), "SKEDD_RUN_ID") == "77");
  auto pending = rig.store->pending_fires();
  REQUIRE(pending);
  CHECK(pending->empty());
}

TEST_CASE("runtime: fires of a catch_up = all job pending at a stop all run, side by side",
          "[runtime]") {
  // A skedd that caught up two fires and was stopped before they started leaves them
  // pending. Under overlap = "skip" the next skedd ran the first and skipped the second as
  // overlapping it (the kill loop found it): they are the fires catch_up = "all" promises.
  const auto started_with_two_pending = [](const std::string& catch_up) {
    auto rig = std::make_unique<RuntimeRig>(
        "[job.j]\ncron = \"0 3 * * *\"\ncommand = [\"/bin/sleep\", \"60\"]\ncatch_up = \"" +
        catch_up + "\"\n");
    for (const auto& [at, run] :
         {std::pair{"2026-03-08T07:28:00Z", 81}, {"2026-03-08T07:29:00Z", 82}}) {
      rig->store->put_fire(skedd::PendingFire{"j", utc_at(at), utc_at(at), 1, 0,
                                              skedd::RunId{static_cast<std::uint64_t>(run)}});
    }
    rig->start();
    return rig;
  };
  SECTION("catch_up = all") {
    auto rig = started_with_two_pending("all");
    REQUIRE(rig->spawns() == 2);
    CHECK(RuntimeRig::env(rig->spawned(0), "SKEDD_SCHEDULED_AT") == "2026-03-08T07:28:00Z");
    CHECK(RuntimeRig::env(rig->spawned(1), "SKEDD_SCHEDULED_AT") == "2026-03-08T07:29:00Z");
    CHECK(rig->not_run("j").empty());
  }
  SECTION("catch_up = once: the job's own overlap policy") {
    auto rig = started_with_two_pending("once");
    REQUIRE(rig->spawns() == 1);
    const auto skipped = rig->not_run("j");
    REQUIRE(skipped.size() == 1);
    CHECK(skipped[0].reason == NotRunReason::kOverlap);
  }
}

TEST_CASE("runtime: fires missed while down are caught up once or recorded missed", "[runtime]") {
  const std::string last_seen = "2026-03-08T04:00:00Z";
  SECTION("catch_up = once runs the latest missed fire") {
    RuntimeRig rig(R"([job.hourly]
cron = "0 * * * *"
command = ["/bin/true"]
catch_up = "once"
)");
    rig.store->put_fire(skedd::PendingFire{"hourly", utc_at("2026-03-08T04:00:00Z"),
                                           utc_at("2026-03-08T04:00:00Z"), 1, 0, skedd::RunId{5}});
    rig.store->put_not_run(skedd::NotRunRecord{"hourly", RunState::kSkipped, NotRunReason::kPaused,
                                               utc_at("2026-03-08T04:00:00Z"),
                                               utc_at("2026-03-08T04:00:00Z"), 1, skedd::RunId{5}});
    rig.store->put_meta("last_seen", last_seen);
    rig.start();
    REQUIRE(rig.spawns() == 1);  // 05:00, 06:00 and 07:00 were missed: 07:00 runs
    CHECK(RuntimeRig::env(rig.spawned(0), "SKEDD_SCHEDULED_AT") == "2026-03-08T07:00:00Z");
  }
  SECTION("catch_up = none records them as missed while down") {
    RuntimeRig rig(R"([job.hourly]
cron = "0 * * * *"
command = ["/bin/true"]
)");
    rig.store->put_not_run(skedd::NotRunRecord{"hourly", RunState::kSkipped, NotRunReason::kPaused,
                                               utc_at("2026-03-08T04:00:00Z"),
                                               utc_at("2026-03-08T04:00:00Z"), 1, skedd::RunId{0}});
    rig.store->put_meta("last_seen", last_seen);
    rig.start();
    CHECK(rig.spawns() == 0);
    const auto missed = rig.not_run("hourly");
    REQUIRE_FALSE(missed.empty());
    CHECK(missed[0].state == RunState::kMissed);
    CHECK(missed[0].reason == NotRunReason::kMissedWhileDown);
    CHECK(missed[0].count == 3);
  }
}

TEST_CASE(
    "runtime: a paused job's fires are recorded not run, and the clock stepping back "
    "does not run a fire twice",
    "[runtime]") {
  RuntimeRig rig(R"([job.j]
cron = "*/10 * * * * *"
command = ["/bin/true"]
)");
  rig.start();
  REQUIRE(rig.engine->set_paused("j", true));
  rig.advance(25s);
  CHECK(rig.spawns() == 0);
  auto skipped = rig.not_run("j");
  REQUIRE(skipped.size() == 1);
  CHECK(skipped[0].reason == NotRunReason::kPaused);
  CHECK(skipped[0].count == 3);
  REQUIRE(rig.engine->set_paused("j", false));
  rig.advance(10s);  // 07:30:30
  REQUIRE(rig.spawns() == 1);
  rig.exit(rig.spawned(0), 0);
  rig.clock.step_wall(-30s);  // someone set the clock back, to 07:30:00
  rig.advance(41s);
  // 07:30:10 and :20 are before the last fire (07:30:30): not again; 07:30:40 runs.
  REQUIRE(rig.spawns() == 2);
  CHECK(RuntimeRig::env(rig.spawned(1), "SKEDD_SCHEDULED_AT") == "2026-03-08T07:30:40Z");
  CHECK(rig.sink.count(EventKind::kClockSet) == 1);
}

TEST_CASE("runtime: overlap queue, replace and allow", "[runtime]") {
  const auto job = [](const std::string& overlap) {
    return "[job.j]\ncron = \"*/10 * * * * *\"\ncommand = [\"/bin/sleep\", \"60\"]\noverlap = \"" +
           overlap + "\"\n";
  };
  SECTION("queue: the fire that came while it ran starts when it ends") {
    RuntimeRig rig(job("queue"));
    rig.start();
    rig.advance(5s);
    REQUIRE(rig.spawns() == 1);
    rig.advance(10s);  // 07:30:10 waits its turn
    CHECK(rig.spawns() == 1);
    rig.exit(rig.spawned(0), 0);
    REQUIRE(rig.spawns() == 2);
    CHECK(RuntimeRig::env(rig.spawned(1), "SKEDD_SCHEDULED_AT") == "2026-03-08T07:30:10Z");
  }
  SECTION("replace: the running run is cancelled and the new fire starts") {
    RuntimeRig rig(job("replace"));
    rig.start();
    rig.advance(5s);
    auto& first = rig.spawned(0);
    rig.advance(10s);
    CHECK(got(first, SIGTERM));
    REQUIRE(rig.spawns() == 2);
    CHECK(RuntimeRig::env(rig.spawned(1), "SKEDD_SCHEDULED_AT") == "2026-03-08T07:30:10Z");
    const auto runs = rig.runs("j");
    REQUIRE(runs.size() == 2);
    CHECK(runs[1].state == RunState::kCancelled);
    CHECK(runs[0].state == RunState::kRunning);
  }
  SECTION("allow: the runs go side by side") {
    RuntimeRig rig(job("allow"));
    rig.start();
    rig.advance(25s);
    CHECK(rig.spawns() == 3);
    CHECK(rig.spawner.running().size() == 3);
    CHECK(rig.engine->counts().running == 3);
  }
}

TEST_CASE("runtime: a fire interrupted max_interrupts times is not resumed again", "[runtime]") {
  RuntimeRig rig(R"([job.etl]
cron = "0 3 * * *"
command = ["/bin/etl"]
max_interrupts = 1
)");
  auto earlier = left_running("etl", "2026-03-08T03:00:00Z", 0, 0);
  earlier.run = skedd::RunId{41};
  earlier.pid.reset();
  earlier.pid_start.reset();
  earlier.state = RunState::kInterrupted;
  earlier.ended = utc_at("2026-03-08T04:00:00Z");
  rig.store->put_run(earlier);
  rig.store->put_meta("boot_id", "a-boot-before-this-one");
  rig.store->put_run(
      left_running("etl", "2026-03-08T03:00:00Z", skedd::test::FakeSpawner::kFirstPid + 999, 5));
  rig.start();
  CHECK(rig.spawns() == 0);
  CHECK(rig.sink.count(EventKind::kResumeRefused) == 1);
  const auto runs = rig.runs("etl");
  REQUIRE(runs.size() == 2);
  CHECK(runs[0].state == RunState::kInterrupted);
  CHECK(runs[1].state == RunState::kInterrupted);
}

TEST_CASE(
    "runtime: while the store is behind no fire is taken, and those passed over are "
    "folded as overloaded",
    "[runtime]") {
  RuntimeRig rig(R"([job.j]
cron = "*/10 * * * * *"
command = ["/bin/true"]
)");
  auto owned = std::make_unique<skedd::test::BehindStore>();
  skedd::test::BehindStore& behind = *owned;
  rig.store = std::move(owned);
  rig.config.store.max_unwritten = 10;
  rig.start();
  behind.unwritten = 10;
  rig.advance(25s);  // 07:30:00, :10 and :20 come due
  CHECK(rig.spawns() == 0);
  CHECK(rig.sink.count(EventKind::kStoreBehind) >= 1);
  behind.unwritten = 0;
  rig.advance(1s);
  REQUIRE(rig.spawns() == 1);  // one run for the fires passed over
  CHECK(RuntimeRig::env(rig.spawned(0), "SKEDD_SCHEDULED_AT") == "2026-03-08T07:30:20Z");
  const auto folded = rig.not_run("j");
  REQUIRE(folded.size() == 1);
  CHECK(folded[0].state == RunState::kMissed);
  CHECK(folded[0].reason == NotRunReason::kOverloaded);
  CHECK(folded[0].count == 2);
}

TEST_CASE("runtime: a spawn answered later: the run starts then, and what came meanwhile waits",
          "[runtime]") {
  // A run host answers a spawn after the loop has gone on (issue 28): until then the run has
  // no process group to signal, and nothing is recorded of it as running.
  RuntimeRig rig(R"([job.j]
cron = "*/10 * * * * *"
command = ["/bin/sleep", "60"]
)");
  rig.spawner.hold_answers(true);
  rig.config.daemon.on_shutdown = skedd::OnShutdown::kStop;
  rig.start();
  rig.advance(5s);  // 07:30:00
  REQUIRE(rig.spawner.held_answers() == 1);
  REQUIRE(rig.spawns() == 1);
  auto& p = rig.spawned(0);
  const skedd::RunId id{std::stoull(RuntimeRig::env(p, "SKEDD_RUN_ID"))};
  CHECK(rig.sink.count(EventKind::kRunStarted) == 0);
  for (const skedd::RunRecord& r : rig.runs("j")) CHECK(r.state != RunState::kRunning);

  SECTION("answered: it runs, and ends as usual") {
    rig.spawner.answer_spawns();
    rig.settle();
    CHECK(rig.sink.count(EventKind::kRunStarted) == 1);
    auto runs = rig.runs("j");
    REQUIRE(runs.size() == 1);
    CHECK(runs[0].state == RunState::kRunning);
    CHECK(runs[0].pid == p.pid);
    CHECK(runs[0].pid_start == p.start);
    rig.exit(p, 0);
    runs = rig.runs("j");
    REQUIRE(runs.size() == 1);
    CHECK(runs[0].state == RunState::kSucceeded);
  }
  SECTION("cancelled before the answer: signalled once answered, recorded cancelled") {
    CHECK(rig.engine->cancel(id));
    rig.settle();
    CHECK(p.signals.empty());  // no group yet: nothing was signalled (no kill(-(-1)))
    rig.spawner.answer_spawns();
    rig.settle();
    CHECK(got(p, SIGTERM));
    const auto runs = rig.runs("j");
    REQUIRE(runs.size() == 1);
    CHECK(runs[0].state == RunState::kCancelled);
  }
  SECTION("a shutdown that stops runs waits for the answer, then stops the run") {
    bool done = false;
    rig.engine->shutdown([&] { done = true; });
    rig.settle();
    CHECK_FALSE(done);
    rig.spawner.answer_spawns();
    rig.settle();
    CHECK(got(p, SIGTERM));
    rig.engine->reap_orphans();  // the daemon's SIGCHLD, which looks at the shutdown again
    rig.settle();
    CHECK(done);
  }
  SECTION("a spawn that failed: recorded failed to start with the reason") {
    rig.spawner.hold_answers(false);
    rig.spawner.answer_spawns();
    rig.settle();
    rig.exit(p, 0);
    rig.spawner.hold_answers(true);
    rig.spawner.fail_next(skedd::Error::io("the run host went away before it answered"));
    rig.advance(10s);  // 07:30:10
    REQUIRE(rig.spawner.held_answers() == 1);
    rig.spawner.answer_spawns();
    rig.settle();
    CHECK(rig.sink.count(EventKind::kRunFailedToStart) == 1);
    const auto runs = rig.runs("j");
    REQUIRE(runs.size() == 2);
    bool failed = false;
    for (const skedd::RunRecord& r : runs) {
      if (r.state == RunState::kFailed) failed = r.message.find("went away") != std::string::npos;
    }
    CHECK(failed);
  }
}

TEST_CASE("runtime: a run whose spawn is answered later keeps its timeouts", "[runtime]") {
  // The answer comes from the loop, after the engine armed its timer for the start.
  RuntimeRig rig(R"([job.j]
cron = "0 * * * * *"
command = ["/bin/sleep", "600"]
soft_timeout = "5s"
)");
  rig.spawner.hold_answers(true);
  rig.start();
  rig.advance(5s);  // 07:30:00
  REQUIRE(rig.spawner.held_answers() == 1);
  rig.spawner.answer_spawns();
  rig.settle();
  auto& p = rig.spawned(0);
  rig.advance(4s);
  CHECK_FALSE(got(p, SIGTERM));
  rig.advance(2s);
  CHECK(got(p, SIGTERM));
}

TEST_CASE("runtime: a start or reload logs the first 1,000 jobs at info, the rest at debug",
          "[runtime]") {
  std::string jobs;
  for (int i = 0; i < 1005; ++i) {
    jobs += "[job.j" + std::to_string(i) + "]\ncron = \"0 3 * * *\"\ncommand = [\"/bin/true\"]\n";
  }
  RuntimeRig rig(jobs);
  rig.sink.set_min(skedd::Severity::kDebug);
  rig.start();
  const auto loaded = rig.sink.of(EventKind::kJobLoaded);
  REQUIRE(loaded.size() == 1005);
  CHECK(loaded[999].severity == skedd::Severity::kInfo);
  CHECK(loaded[1000].severity == skedd::Severity::kDebug);
  auto limited = rig.sink.of(EventKind::kJobLinesLimited);
  REQUIRE(limited.size() == 1);
  CHECK(limited[0].fields["logged"] == 1000);
  CHECK(limited[0].fields["at_debug"] == 5);

  // A reload that removes all but one: the count starts again, and a small load says nothing.
  rig.sink.clear();
  rig.set_jobs("[job.j0]\ncron = \"0 3 * * *\"\ncommand = [\"/bin/true\"]\n");
  rig.engine->reload(rig.config);
  rig.settle();
  const auto removed = rig.sink.of(EventKind::kJobRemoved);
  REQUIRE(removed.size() == 1004);
  CHECK(removed[999].severity == skedd::Severity::kInfo);
  CHECK(removed[1000].severity == skedd::Severity::kDebug);
  REQUIRE(rig.sink.count(EventKind::kJobLinesLimited) == 1);
  CHECK(rig.sink.of(EventKind::kJobLinesLimited)[0].fields["at_debug"] == 4);

  rig.sink.clear();
  rig.set_jobs("[job.j1]\ncron = \"0 3 * * *\"\ncommand = [\"/bin/true\"]\n");
  rig.engine->reload(rig.config);
  rig.settle();
  CHECK(rig.sink.of(EventKind::kJobLoaded).at(0).severity == skedd::Severity::kInfo);
  CHECK(rig.sink.count(EventKind::kJobLinesLimited) == 0);
}
