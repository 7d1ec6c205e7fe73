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
      if (io.poll() != 0) continue;
      if (!engine || !engine->off_loop_pending()) return;
      // A run's files are being made on the supervisor's thread: the loop waits for its
      // result, which is work of the loop's until it is back.
      io.restart();
      io.run_one();
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

namespace skedd::test {

/// The memory store with a writer that can be made to fall behind: health() reports
/// `unwritten` writes queued (the engine's backpressure reads it), everything else is the
/// memory store's.
class BehindStore final : public Store {
 public:
  std::uint64_t unwritten = 0;

  using Store::put_fire_taken;
  void put_run(RunRecord run) override { s_->put_run(std::move(run)); }
  void delete_run(RunId run) override { s_->delete_run(run); }
  void put_fire(const PendingFire& fire) override { s_->put_fire(fire); }
  void put_fire_taken(const PendingFire& fire, std::optional<Instant> next,
                      std::optional<NotRunRecord> folded) override {
    s_->put_fire_taken(fire, next, std::move(folded));
  }
  void put_progress(RunId run, double percent, const std::string& message) override {
    s_->put_progress(run, percent, message);
  }
  void put_checkpoint(RunId run, const std::string& checkpoint) override {
    s_->put_checkpoint(run, checkpoint);
  }
  void put_output(RunId run, const std::string& key, const std::string& value) override {
    s_->put_output(run, key, value);
  }
  void put_workflow_run(const WorkflowRunRecord& run) override { s_->put_workflow_run(run); }
  Result<std::vector<WorkflowRunRecord>> workflow_runs(const WorkflowRunQuery& query) override {
    return s_->workflow_runs(query);
  }
  void put_not_run(const NotRunRecord& record) override { s_->put_not_run(record); }
  void put_fire_not_run(const NotRunRecord& record, std::optional<Instant> next) override {
    s_->put_fire_not_run(record, next);
  }
  void put_next_fire(const std::string& job, std::optional<Instant> next) override {
    s_->put_next_fire(job, next);
  }
  void put_next_fires(NextFires fires) override { s_->put_next_fires(std::move(fires)); }
  void put_paused(const std::string& job, bool paused) override { s_->put_paused(job, paused); }
  void put_job_version(const std::string& job, int version, const std::string& definition,
                       const std::string& tree, Instant created, int keep) override {
    s_->put_job_version(job, version, definition, tree, created, keep);
  }
  void put_meta(const std::string& key, const std::string& value) override {
    s_->put_meta(key, value);
  }
  void retire_job(const std::string& job, RunId since_run) override {
    s_->retire_job(job, since_run);
  }
  void assign_owner(const std::string& job, uid_t owner) override { s_->assign_owner(job, owner); }
  Result<std::vector<std::string>> prune(std::size_t keep_runs,
                                         std::optional<Instant> cutoff) override {
    return s_->prune(keep_runs, cutoff);
  }
  Status flush() override { return s_->flush(); }
  void when_committed(std::function<void(Status)> done, Pace pace) override {
    s_->when_committed(std::move(done), pace);
  }
  void begin_group() override { s_->begin_group(); }
  void end_group() override { s_->end_group(); }
  StoreHealth health() override { return StoreHealth{true, "", unwritten, {}}; }
  Result<std::vector<RunRecord>> runs(const RunQuery& query) override { return s_->runs(query); }
  Result<std::map<std::string, RunRecord>> latest_ended_runs() override {
    return s_->latest_ended_runs();
  }
  Result<std::map<std::string, RunRecord>> latest_runs_ended_as(
      const std::vector<RunState>& states) override {
    return s_->latest_runs_ended_as(states);
  }
  Result<std::vector<NotRunRecord>> not_run(const std::string& job, std::size_t limit) override {
    return s_->not_run(job, limit);
  }
  Result<std::map<std::string, Instant>> last_fires() override { return s_->last_fires(); }
  Result<std::map<std::string, Instant>> next_fires() override { return s_->next_fires(); }
  Result<std::vector<PendingFire>> pending_fires() override { return s_->pending_fires(); }
  Result<std::vector<std::string>> paused() override { return s_->paused(); }
  Result<std::vector<std::pair<int, std::string>>> job_versions(const std::string& job) override {
    return s_->job_versions(job);
  }
  Status for_each_latest_job_version(const VersionVisitor& visit) override {
    return s_->for_each_latest_job_version(visit);
  }
  Result<std::map<std::string, RunId>> identities() override { return s_->identities(); }
  Result<std::optional<std::string>> meta(const std::string& key) override { return s_->meta(key); }

 private:
  std::unique_ptr<Store> s_ = make_memory_store();
};

}  // namespace skedd::test
