// The engine on fakes: a FakeClock for time and timers, a FakeSpawner for processes, the memory
// store and a recording sink. Nothing sleeps: time moves only when a test advances it, and
// every process ends when the test says.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "fakes/fake_clock.h"
#include "fakes/fake_spawner.h"
#include "fakes/recording_sink.h"
#include "runtime/engine.h"
#include "skedd/config/config.h"
#include "skedd/store/memory_store.h"
#include "skedd/time/timestamp.h"
#include "support/temp_dir.h"

namespace skedd::test {

inline Instant utc_at(const std::string& t) {
  return parse_rfc3339(t).value();
}

struct RuntimeRig {
  /// `jobs`: [job.NAME] tables, as a jobs.d file holds them.
  explicit RuntimeRig(const std::string& jobs, Instant now = utc_at("2026-03-08T07:29:55Z"))
      : clock(now) {
    std::filesystem::create_directories(dir / "state");
    std::filesystem::create_directories(dir / "run");
    config.path = "test";
    config.daemon.state_dir = dir / "state";
    config.daemon.socket = dir / "run/skedd.sock";
    config.daemon.timezone = TimeZone::load("UTC").value();
    config.daemon.use_cgroups = false;
    config.daemon.handler_threads = 2;
    set_jobs(jobs);
  }
  ~RuntimeRig() {
    engine.reset();
    settle();
  }

  void set_jobs(const std::string& jobs) {
    auto parsed = parse_job_definitions(jobs, "test", config);
    INFO((parsed ? std::string() : parsed.error().message));
    REQUIRE(parsed);
    config.jobs = std::move(parsed.value());
  }

  void start() {
    engine = std::make_unique<Engine>(io, config, clock, clock, spawner, *store, random, &handlers,
                                      Events(&sink));
    engine->start();
    settle();
  }

  /// Runs what the loop has to do now, until nothing is left.
  void settle() {
    for (int i = 0; i < 10'000; ++i) {
      io.restart();
      if (io.poll() == 0) return;
    }
    FAIL("the loop never became idle");
  }

  /// Time passes: each timer fires at its own instant, and what it starts runs then.
  void advance(Duration d) {
    const MonoInstant end = clock.mono_now() + d;
    settle();
    for (auto next = clock.next_due(); next && clock.mono_now() + *next <= end;
         next = clock.next_due()) {
      clock.advance(std::max(*next, Duration::zero()));
      settle();
    }
    clock.advance(end - clock.mono_now());
    settle();
  }

  std::vector<RunRecord> runs(const std::string& job) {
    auto r = store->runs(RunQuery(job));
    REQUIRE(r);
    return r.value();
  }
  std::vector<NotRunRecord> not_run(const std::string& job) {
    auto r = store->not_run(job, 100);
    REQUIRE(r);
    return r.value();
  }
  /// The process spawned `n`th (from 0).
  FakeSpawner::Process& spawned(std::size_t n) {
    const auto all = spawner.spawned();
    REQUIRE(all.size() > n);
    return *all[n];
  }
  std::size_t spawns() { return spawner.spawned().size(); }
  /// The run writes `line` on its fd 3.
  void say(FakeSpawner::Process& p, const std::string& line) {
    const std::string text = line + "\n";
    REQUIRE(::write(p.control.get(), text.data(), text.size()) ==
            static_cast<ssize_t>(text.size()));
    settle();
  }
  static std::string env(const FakeSpawner::Process& p, const std::string& name) {
    for (const std::string& e : p.request.env) {
      if (e.rfind(name + "=", 0) == 0) return e.substr(name.size() + 1);
    }
    return "";
  }
  void exit(FakeSpawner::Process& p, int code) {
    spawner.exit(p.pid, code);
    settle();
  }

  TempDir dir{"skedd-runtime-test"};
  boost::asio::io_context io;
  FakeClock clock;
  FakeSpawner spawner{io};
  std::unique_ptr<Store> store = make_memory_store();
  ScriptedRandom random{{0}};
  RecordingSink sink;
  HandlerRegistry handlers;
  Config config;
  std::unique_ptr<Engine> engine;
};

}  // namespace skedd::test
