// The Store contract (store.h), run on both implementations: the SQLite store on a fresh file
// in a temp dir and the memory store. Each test reads back from the store it wrote to; what
// only the SQLite store does (its file and schema, reopening, crashes, its writer's batches
// and timing) is tested in sqlite_store_test.cpp.
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "skedd/store/memory_store.h"
#include "skedd/time/timestamp.h"
#include "store/pg_test_schema.h"
#include "store/store_test_helpers.h"
#include "support/temp_dir.h"

namespace {

using skedd::NotRunReason;
using skedd::RunState;
using store_test::at;
using store_test::pending_at;
using store_test::run;
using store_test::sched;

// Runs `test` on a new store of each implementation, each in a section named after it, so
// that a failure says which store it failed on. The SQLite store commits on its writer's
// thread: a test flushes before it reads (at once on the memory store).
// The PostgreSQL store too when the run has a server (ctest's store_contract_postgres: the
// fixture of scripts/pg-test-server), each test in a schema of its own.
void for_each_store(const std::function<void(skedd::Store&)>& test) {
  const std::optional<std::string> pg_url = store_test::postgres_url();
  for (const std::string kind : {"sqlite", "memory", "postgres"}) {
    if (kind == "postgres" && !pg_url) continue;
    DYNAMIC_SECTION(kind << " store") {
      skedd::test::TempDir dir("skedd-store-test");
      std::optional<store_test::PgSchema> schema;  // outlives the store: dropped after it
      std::unique_ptr<skedd::Store> store;
      if (kind == "sqlite") {
        store = store_test::open(dir / "skedd.db");
      } else if (kind == "memory") {
        store = skedd::make_memory_store();
      } else {
        schema.emplace(*pg_url);
        store = schema->open();
      }
      test(*store);
    }
  }
}

// The ids of the runs `query` finds, in their order.
std::vector<std::uint64_t> run_ids(skedd::Store& store, const skedd::RunQuery& query) {
  std::vector<std::uint64_t> out;
  const auto runs = store.runs(query);
  REQUIRE(runs.ok());
  for (const skedd::RunRecord& r : runs.value()) out.push_back(r.run.value);
  return out;
}

}  // namespace

TEST_CASE("store contract: runs are read back with every field", "[store]") {
  for_each_store([](skedd::Store& store) {
    store_test::write_runs_with_every_field(store);
    REQUIRE(store.flush().ok());
    auto all = store.runs({});
    REQUIRE(all.ok());
    REQUIRE(all->size() == 2);
    CHECK(all.value()[0].job == "report");  // newest first
    const skedd::RunRecord& b = all.value()[1];
    CHECK(b.run.value == 1);
    CHECK(b.state == RunState::kFailed);
    CHECK(b.exit_code == 3);
    CHECK_FALSE(b.signal.has_value());
    CHECK(b.pid == 4242);
    CHECK(b.pid_start == 987654u);
    CHECK(skedd::format_rfc3339_utc(b.scheduled) == "2026-03-08T07:30:00Z");
    CHECK(skedd::format_rfc3339_utc(*b.ended) == "2026-03-08T07:31:00Z");
    CHECK(b.checkpoint == "step-3");
    CHECK(b.message == "boom");
    CHECK(b.log_path == "/var/lib/skedd/logs/backup.1.log");

    auto failed = store.runs({std::string("backup"), RunState::kFailed, 10});
    REQUIRE(failed.ok());
    CHECK(failed->size() == 1);
    auto none = store.runs({std::string("backup"), RunState::kSucceeded, 10});
    REQUIRE(none.ok());
    CHECK(none->empty());
  });
}

TEST_CASE("store contract: consecutive not-run fires of a job with one reason are one record",
          "[store]") {
  for_each_store([](skedd::Store& store) {
    auto skipped = [](const std::string& t) {
      return skedd::NotRunRecord{"tick", RunState::kSkipped, NotRunReason::kPaused, at(t), at(t),
                                 1};
    };
    for (int s = 0; s < 50; ++s) {
      store.put_not_run(
          skipped("2026-01-01T00:00:" + std::string(s < 10 ? "0" : "") + std::to_string(s) + "Z"));
    }
    store.put_not_run({"tick", RunState::kSkipped, NotRunReason::kOverlap,
                       at("2026-01-01T00:01:00Z"), at("2026-01-01T00:01:00Z"), 1});
    store.put_run(run(7, "tick", RunState::kSucceeded));
    store.put_not_run(skipped("2026-01-01T00:02:00Z"));
    REQUIRE(store.flush().ok());
    auto records = store.not_run("tick", 10);
    REQUIRE(records.ok());
    REQUIRE(records->size() == 3);
    const auto& paused = records.value()[2];
    CHECK(paused.count == 50);
    CHECK(skedd::format_rfc3339_utc(paused.first) == "2026-01-01T00:00:00Z");
    CHECK(skedd::format_rfc3339_utc(paused.last) == "2026-01-01T00:00:49Z");
    CHECK(records.value()[1].reason == NotRunReason::kOverlap);
    CHECK(records.value()[0].count == 1);  // after a run: a new record
  });
}

TEST_CASE("store contract: a last fire never moves back, a meta value is the last one set",
          "[store]") {
  for_each_store([](skedd::Store& store) {
    store_test::write_last_fires_and_meta(store);
    REQUIRE(store.flush().ok());
    const auto fires = store.last_fires();
    REQUIRE(fires.ok());
    CHECK(fires->size() == 2);
    CHECK(skedd::format_rfc3339_utc(fires->at("a")) == "2026-01-01T00:00:10Z");
    CHECK(store.meta("boot_id").value() == std::optional<std::string>("two"));
    CHECK_FALSE(store.meta("nothing").value().has_value());
  });
}

TEST_CASE("store contract: retention keeps the newest runs of each job and drops old ones",
          "[store]") {
  for_each_store([](skedd::Store& store) {
    for (std::uint64_t i = 1; i <= 5; ++i) {
      skedd::RunRecord r = run(i, "a", RunState::kSucceeded);
      r.ended = at("2026-01-0" + std::to_string(i) + "T00:00:00Z");
      store.put_run(r);
    }
    store.put_run(run(6, "a", RunState::kRunning));  // never pruned while it runs
    skedd::RunRecord b = run(7, "b", RunState::kFailed);
    b.ended = at("2026-01-05T00:00:00Z");
    store.put_run(b);
    store.put_not_run({"a", RunState::kMissed, NotRunReason::kMissedWhileDown,
                       at("2026-01-01T00:00:00Z"), at("2026-01-01T01:00:00Z"), 2});
    REQUIRE(store.flush().ok());

    auto by_count = store.prune(3, std::nullopt);
    REQUIRE(by_count.ok());
    // The running run counts among the newest three: 6 (running), 5, 4 stay.
    CHECK(by_count.value() == std::vector<std::string>{"/var/lib/skedd/logs/a.3.log",
                                                       "/var/lib/skedd/logs/a.2.log",
                                                       "/var/lib/skedd/logs/a.1.log"});
    REQUIRE(store.flush().ok());
    CHECK(store.runs({std::string("a"), std::nullopt, 10})->size() == 3);

    auto by_age = store.prune(0, at("2026-01-04T12:00:00Z"));
    REQUIRE(by_age.ok());
    CHECK(by_age.value() == std::vector<std::string>{"/var/lib/skedd/logs/a.4.log"});
    REQUIRE(store.flush().ok());
    std::vector<std::uint64_t> left;
    const auto remaining = store.runs({});
    REQUIRE(remaining.ok());
    for (const auto& r : remaining.value()) left.push_back(r.run.value);
    CHECK(left == std::vector<std::uint64_t>{7, 6, 5});
    CHECK(store.not_run("a", 10)->empty());
  });
}

TEST_CASE("store contract: a run's outputs are kept by key until its record goes", "[store]") {
  for_each_store([](skedd::Store& store) {
    store.put_run(run(1, "a", RunState::kRunning));
    store.put_output(skedd::RunId{1}, "rows", "1200");
    store.put_output(skedd::RunId{1}, "path", "/srv/dump one.sql");
    store.put_output(skedd::RunId{1}, "rows", "1300");  // replaces
    store.put_output(skedd::RunId{2}, "empty", "");     // before its record, as a handler may
    skedd::RunRecord ended = run(1, "a", RunState::kSucceeded);
    ended.ended = at("2026-01-01T00:00:00Z");
    store.put_run(ended);  // a run's record written again leaves its outputs
    skedd::RunRecord second = run(2, "a", RunState::kSucceeded);
    second.ended = at("2026-01-02T00:00:00Z");
    store.put_run(second);
    store.put_run(run(3, "a", RunState::kRunning));
    REQUIRE(store.flush().ok());

    skedd::RunQuery with({}, std::nullopt, 10);
    with.outputs = true;
    const auto runs = store.runs(with);
    REQUIRE(runs.ok());
    REQUIRE(runs->size() == 3);
    CHECK(runs.value()[2].outputs ==
          std::map<std::string, std::string>{{"path", "/srv/dump one.sql"}, {"rows", "1300"}});
    CHECK(runs.value()[1].outputs == std::map<std::string, std::string>{{"empty", ""}});
    CHECK(runs.value()[0].outputs.empty());
    // Not asked for: not read.
    const auto without = store.runs({});
    REQUIRE(without.ok());
    for (const skedd::RunRecord& r : without.value()) CHECK(r.outputs.empty());

    store.delete_run(skedd::RunId{2});
    REQUIRE(store.prune(1, std::nullopt).ok());  // run 1 goes: 3 is the newest
    REQUIRE(store.flush().ok());
    // A record written again under a deleted id starts with none.
    store.put_run(run(1, "a", RunState::kRunning));
    store.put_run(run(2, "a", RunState::kRunning));
    REQUIRE(store.flush().ok());
    const auto again = store.runs(with);
    REQUIRE(again.ok());
    for (const skedd::RunRecord& r : again.value()) CHECK(r.outputs.empty());
  });
}

TEST_CASE("store contract: workflow runs are kept whole with their steps, and pruned", "[store]") {
  for_each_store([](skedd::Store& store) {
    using skedd::StepState;
    using skedd::WorkflowRunState;
    skedd::WorkflowRunRecord first;
    first.id = skedd::RunId{10};
    first.workflow = "nightly";
    first.scheduled = at("2026-01-01T02:00:00Z");
    first.started = at("2026-01-01T02:00:00.5Z");
    first.ended = at("2026-01-01T02:10:00Z");  // not kept: it has not ended
    first.owner = 1000;
    first.version = "0123456789ab";
    first.steps = {{"extract", StepState::kSucceeded, skedd::SkipReason::kNone, skedd::RunId{11}},
                   {"load.db", StepState::kRunning, skedd::SkipReason::kNone, skedd::RunId{12}},
                   {"alert", StepState::kPending, skedd::SkipReason::kNone, skedd::RunId{0}}};
    store.put_workflow_run(first);
    skedd::WorkflowRunRecord other = first;
    other.id = skedd::RunId{20};
    other.workflow = "hourly";
    other.owner.reset();
    other.steps.resize(1);
    store.put_workflow_run(other);
    REQUIRE(store.flush().ok());
    const auto all = store.workflow_runs({});
    REQUIRE(all.ok());
    REQUIRE(all->size() == 2);
    CHECK(all.value()[0].id.value == 20);  // newest first
    const skedd::WorkflowRunRecord& read = all.value()[1];
    CHECK(read.workflow == "nightly");
    CHECK(read.scheduled == first.scheduled);
    CHECK(read.started == first.started);
    CHECK_FALSE(read.ended.has_value());
    CHECK(read.state == WorkflowRunState::kRunning);
    CHECK(read.owner == std::optional<uid_t>(1000));
    CHECK(read.version == "0123456789ab");
    CHECK(all.value()[0].version == "0123456789ab");
    REQUIRE(read.steps.size() == 3);
    CHECK(read.steps[1].step == "load.db");
    CHECK(read.steps[1].state == StepState::kRunning);
    CHECK(read.steps[1].run.value == 12);
    CHECK(read.steps[2].run.value == 0);
    CHECK_FALSE(all.value()[0].owner.has_value());

    // Rewritten as it ends: the last record is what is kept.
    first.state = WorkflowRunState::kFailed;
    first.message = "step load.db failed";
    first.steps[1].state = StepState::kFailed;
    first.steps[2] = {"alert", StepState::kSkipped, skedd::SkipReason::kConditionFalse,
                      skedd::RunId{0}};
    store.put_workflow_run(first);
    REQUIRE(store.flush().ok());
    skedd::WorkflowRunQuery nightly;
    nightly.workflow = "nightly";
    const auto ended = store.workflow_runs(nightly);
    REQUIRE(ended.ok());
    REQUIRE(ended->size() == 1);
    CHECK(ended.value()[0].state == WorkflowRunState::kFailed);
    CHECK(ended.value()[0].ended == first.ended);
    CHECK(ended.value()[0].message == "step load.db failed");
    CHECK(ended.value()[0].steps[2].state == StepState::kSkipped);
    CHECK(ended.value()[0].steps[2].reason == skedd::SkipReason::kConditionFalse);
    skedd::WorkflowRunQuery unfinished;
    unfinished.unfinished = true;
    CHECK(store.workflow_runs(unfinished)->front().id.value == 20);
    CHECK(store.workflow_runs(unfinished)->size() == 1);
    skedd::WorkflowRunQuery by_id;
    by_id.id = skedd::RunId{20};
    CHECK(store.workflow_runs(by_id)->front().workflow == "hourly");

    // Pruned as runs are; one still running is never.
    REQUIRE(store.prune(0, at("2026-01-02T00:00:00Z")).ok());
    REQUIRE(store.flush().ok());
    const auto left = store.workflow_runs({});
    REQUIRE(left->size() == 1);
    CHECK(left->front().id.value == 20);
  });
}

TEST_CASE("store contract: a fire is pending until its run or not-run record is written",
          "[store]") {
  for_each_store([](skedd::Store& store) {
    store_test::write_fires_settled_or_not(store);
    REQUIRE(store.flush().ok());
    const auto pending = store.pending_fires();
    REQUIRE(pending.ok());
    REQUIRE(pending->size() == 2);
    CHECK(pending->at(1).job == "d");
    CHECK(pending->at(1).run.value == 6);
    CHECK(pending->at(0).job == "c");
    CHECK(pending->at(0).attempt == 2);
    CHECK(skedd::format_rfc3339_utc(pending->at(0).due) == "2026-03-08T07:33:00Z");
    // Every fire moved its job's last fire, whether it ran or not.
    const auto last = store.last_fires().value();
    CHECK(skedd::format_rfc3339_utc(last.at("a")) == "2026-03-08T07:30:00Z");
    CHECK(skedd::format_rfc3339_utc(last.at("b")) == "2026-03-08T07:31:00Z");
    CHECK(skedd::format_rfc3339_utc(last.at("c")) == "2026-03-08T07:32:00Z");
  });
}

TEST_CASE(
    "store contract: a run recorded before its spawn can be forgotten, progress and output are "
    "kept",
    "[store]") {
  for_each_store([](skedd::Store& store) {
    store_test::write_run_forgotten_before_spawn(store);
    REQUIRE(store.flush().ok());
    const auto runs = store.runs({}).value();
    REQUIRE(runs.size() == 2);
    CHECK(runs[0].output_tail == std::string("last\0bytes\xff", 11));
    CHECK(runs[0].frozen == std::chrono::seconds(3));
    CHECK(runs[1].progress == std::optional<double>(42.5));
    CHECK(runs[1].progress_message == "copying");
  });
}

TEST_CASE("store contract: next fires, pause flags and job versions are kept", "[store]") {
  for_each_store([](skedd::Store& store) {
    store_test::write_next_fires_pauses_versions(store);
    REQUIRE(store.flush().ok());
    const auto next = store.next_fires().value();
    CHECK(next.size() == 2);
    CHECK(skedd::format_rfc3339_utc(next.at("a")) == "2026-03-08T08:00:00Z");
    CHECK(skedd::format_rfc3339_utc(next.at("c")) == "2026-03-08T10:00:00Z");
    std::vector<std::tuple<std::string, int, std::string, std::string>> latest;
    REQUIRE(store
                .for_each_latest_job_version([&](const std::string& job, int version,
                                                 const std::string& definition,
                                                 const std::string& tree) {
                  latest.emplace_back(job, version, definition, tree);
                })
                .ok());
    // The tree comes back byte for byte (a NUL in it too).
    CHECK(latest == std::vector<std::tuple<std::string, int, std::string, std::string>>{
                        {"a", 2, "command = [\"false\"]",
                         std::string("T\0"
                                     "2",
                                     3)},
                        {"e", 2, "", ""}});
    CHECK(store.paused().value() == std::vector<std::string>{"", "a"});
    const auto versions = store.job_versions("a").value();
    REQUIRE(versions.size() == 2);
    CHECK(versions[1] == std::pair<int, std::string>{2, "command = [\"false\"]"});
  });
}

TEST_CASE("store contract: a job version recorded with keep deletes the job's older ones",
          "[store]") {
  using Versions = std::vector<std::pair<int, std::string>>;
  for_each_store([](skedd::Store& store) {
    const skedd::Instant created = at("2026-03-08T07:00:00Z");
    for (int v = 1; v <= 3; ++v) {
      store.put_job_version("a", v, "a" + std::to_string(v), "", created);
    }
    store.put_job_version("b", 1, "b1", "", created);
    store.put_job_version("a", 4, "a4", "", created, 2);  // 3 and 4 kept
    REQUIRE(store.flush().ok());
    CHECK(store.job_versions("a").value() == Versions{{3, "a3"}, {4, "a4"}});
    CHECK(store.job_versions("b").value() == Versions{{1, "b1"}});  // another job's: all
    store.put_job_version("a", 5, "a5", "", created, 1);
    REQUIRE(store.flush().ok());
    CHECK(store.job_versions("a").value() == Versions{{5, "a5"}});
  });
}

TEST_CASE(
    "store contract: a fire taken from its schedule records it pending, the last and the "
    "next fire",
    "[store]") {
  for_each_store([](skedd::Store& store) {
    store_test::write_fires_taken(store);
    REQUIRE(store.flush().ok());
    const auto last = store.last_fires().value();
    CHECK(skedd::format_rfc3339_utc(last.at("a")) == "2026-03-08T07:30:00Z");
    CHECK(skedd::format_rfc3339_utc(last.at("b")) == "2026-03-08T08:00:00Z");
    const auto next = store.next_fires().value();
    CHECK(next.size() == 1);
    CHECK(skedd::format_rfc3339_utc(next.at("a")) == "2026-03-08T07:31:00Z");
    const auto pending = store.pending_fires().value();
    REQUIRE(pending.size() == 3);
    CHECK(pending[1].job == "a");
    CHECK(pending[1].run.value == 7);
  });
}

TEST_CASE("store contract: runs are found by state, job and id alone or together", "[store]") {
  for_each_store([](skedd::Store& store) {
    store_test::write_runs_in_each_state(store);
    REQUIRE(store.flush().ok());
    const auto ids = [&](const skedd::RunQuery& q) { return run_ids(store, q); };
    CHECK(ids({std::nullopt, RunState::kRunning}) == std::vector<std::uint64_t>{5, 3, 1});
    CHECK(ids({"a", RunState::kRunning}) == std::vector<std::uint64_t>{1});
    CHECK(ids({std::nullopt, RunState::kScheduled}) == std::vector<std::uint64_t>{2});
    CHECK(ids({std::nullopt, RunState::kSucceeded}) == std::vector<std::uint64_t>{4});
    CHECK(ids({"b"}) == std::vector<std::uint64_t>{4, 3});
    CHECK(ids({std::nullopt, std::nullopt, 2}) == std::vector<std::uint64_t>{5, 4});
    skedd::RunQuery one;
    one.run = skedd::RunId{3};
    CHECK(ids(one) == std::vector<std::uint64_t>{3});
  });
}

TEST_CASE("store contract: runs are found by start time, and each job's latest ended run",
          "[store]") {
  for_each_store([](skedd::Store& store) {
    // Runs 1 to 4 of a and b in turn, started 10 s apart; then 5 of a, running, started first.
    for (std::uint64_t i = 1; i <= 4; ++i) {
      skedd::RunRecord r = run(i, i % 2 == 1 ? "a" : "b", RunState::kSucceeded);
      r.started = sched(static_cast<int>(i) * 10);
      r.ended = r.started + std::chrono::seconds(1);
      store.put_run(r);
    }
    store.put_run(run(5, "a", RunState::kRunning));
    REQUIRE(store.flush().ok());
    skedd::RunQuery since;
    since.since = sched(20);  // at or after
    CHECK(run_ids(store, since) == std::vector<std::uint64_t>{4, 3, 2});
    since.job = "a";
    CHECK(run_ids(store, since) == std::vector<std::uint64_t>{3});
    // a's latest run has not ended: its latest ended one is 3.
    const auto latest = store.latest_ended_runs().value();
    REQUIRE(latest.size() == 2);
    CHECK(latest.at("a").run.value == 3);
    CHECK(latest.at("b").run.value == 4);
  });
}

TEST_CASE("store contract: each job's latest run that ended in one of some states", "[store]") {
  for_each_store([](skedd::Store& store) {
    // a: 1 succeeded, 2 failed, 3 timed out, 4 running; b: 5 failed, 6 succeeded.
    const std::pair<std::uint64_t, RunState> runs[] = {
        {1, RunState::kSucceeded}, {2, RunState::kFailed}, {3, RunState::kTimedOut},
        {4, RunState::kRunning},   {5, RunState::kFailed}, {6, RunState::kSucceeded}};
    for (const auto& [id, state] : runs) {
      skedd::RunRecord r = run(id, id <= 4 ? "a" : "b", state);
      r.started = sched(static_cast<int>(id) * 10);
      if (state != RunState::kRunning) r.ended = r.started + std::chrono::seconds(1);
      store.put_run(r);
    }
    REQUIRE(store.flush().ok());
    const auto succeeded = store.latest_runs_ended_as({RunState::kSucceeded}).value();
    REQUIRE(succeeded.size() == 2);
    CHECK(succeeded.at("a").run.value == 1);
    CHECK(succeeded.at("b").run.value == 6);
    const auto failed =
        store.latest_runs_ended_as({RunState::kFailed, RunState::kTimedOut}).value();
    REQUIRE(failed.size() == 2);
    CHECK(failed.at("a").run.value == 3);
    CHECK(failed.at("b").run.value == 5);
    CHECK(store.latest_runs_ended_as({RunState::kKilled}).value().empty());
  });
}

TEST_CASE(
    "store contract: a fire skipped as it was taken moves its job's last and next fire "
    "with its record",
    "[store]") {
  for_each_store([](skedd::Store& store) {
    store_test::write_fires_skipped_as_taken(store);
    REQUIRE(store.flush().ok());
    const auto last = store.last_fires().value();
    CHECK(skedd::format_rfc3339_utc(last.at("a")) == "2026-03-08T07:30:01Z");
    CHECK(skedd::format_rfc3339_utc(last.at("b")) == "2026-03-08T08:00:00Z");
    const auto next = store.next_fires().value();
    CHECK(next.size() == 1);
    CHECK(skedd::format_rfc3339_utc(next.at("a")) == "2026-03-08T07:30:02Z");
    const auto a = store.not_run("a", 10).value();
    REQUIRE(a.size() == 1);  // consecutive skips of one reason: one record
    CHECK(a[0].count == 2);
    CHECK(skedd::format_rfc3339_utc(a[0].last) == "2026-03-08T07:30:01Z");
    CHECK(store.not_run("b", 10).value().at(0).reason == NotRunReason::kPaused);
  });
}

TEST_CASE("store contract: fires folded into a fire taken are recorded with it", "[store]") {
  for_each_store([](skedd::Store& store) {
    store_test::write_fires_folded_into_taken(store);
    REQUIRE(store.flush().ok());
    // One record of both folds (one state and reason, nothing between).
    const auto a = store.not_run("a", 10).value();
    REQUIRE(a.size() == 1);
    CHECK(a[0].count == 5);
    CHECK(a[0].first == sched(1));
    CHECK(a[0].last == sched(6));
    CHECK(store.pending_fires().value().size() == 2);
    CHECK(store.last_fires().value().at("a") == sched(7));
    CHECK(store.next_fires().value().at("a") == sched(8));
  });
}

TEST_CASE("store contract: a retired job name starts an identity with an empty history",
          "[store]") {
  for_each_store([](skedd::Store& store) {
    skedd::RunRecord old_run = run(10, "backup", RunState::kSucceeded);
    old_run.ended = old_run.started;
    old_run.checkpoint = "root-cp";
    old_run.owner = 0;
    store.put_run(old_run);
    store.put_not_run(
        {"backup", RunState::kSkipped, NotRunReason::kOverlap, sched(1), sched(1), 1});
    store.put_fire_taken(pending_at("backup", "2026-03-08T08:00:00Z", 11), sched(3600));
    store.put_fire(pending_at("backup", "2026-03-08T07:30:00Z", 12, "2026-03-08T09:00:00Z", 2));
    store.put_paused("backup", true);
    store.retire_job("backup", skedd::RunId{20});
    // Written after the retirement: the new identity's.
    store.put_not_run(
        {"backup", RunState::kSkipped, NotRunReason::kOverlap, sched(5), sched(5), 1});
    skedd::RunRecord new_run = run(21, "backup", RunState::kRunning);
    new_run.owner = 1000;
    store.put_run(new_run);
    REQUIRE(store.flush().ok());

    const auto runs = store.runs(skedd::RunQuery("backup"));
    REQUIRE(runs->size() == 1);
    CHECK(runs->front().run == skedd::RunId{21});
    CHECK(runs->front().owner == 1000u);
    skedd::RunQuery every_identity("backup");
    every_identity.current_identity = false;
    CHECK(store.runs(every_identity)->size() == 2);
    // The new not-run record is a record of its own, not the old one grown.
    const auto not_run = store.not_run("backup", 10);
    REQUIRE(not_run->size() == 1);
    CHECK(not_run->front().first == sched(5));
    CHECK(store.pending_fires()->empty());
    CHECK(store.paused()->empty());
    // Its last fire is the new identity's latest (its fire not run), not the old one's (08:00).
    CHECK(store.last_fires()->at("backup") == sched(5));
    CHECK(store.latest_ended_runs()->empty());  // the old identity's ended run is not the job's
    const auto identities = store.identities().value();
    REQUIRE(identities.size() == 1);
    CHECK(identities.at("backup").value == 20);

    // Owners: a filter, and runs recorded without one given to a job's owner.
    skedd::RunQuery of_1000;
    of_1000.owner = 1000;
    CHECK(store.runs(of_1000)->size() == 1);
    skedd::RunRecord legacy = run(30, "report", RunState::kSucceeded);
    store.put_run(legacy);
    store.assign_owner("report", 1001);
    REQUIRE(store.flush().ok());
    CHECK(store.runs(skedd::RunQuery("report"))->front().owner == 1001u);
  });
}

TEST_CASE("store contract: a waiter hears of its writes' commit at either pace", "[store]") {
  for_each_store([](skedd::Store& store) {
    for (const auto pace : {skedd::Store::Pace::kNow, skedd::Store::Pace::kBatched}) {
      const std::string value = pace == skedd::Store::Pace::kNow ? "now" : "batched";
      INFO(value);
      store.put_meta("k", value);
      std::promise<bool> committed;
      store.when_committed([&](skedd::Status s) { committed.set_value(s.ok()); }, pace);
      CHECK(committed.get_future().get());
      CHECK(store.meta("k").value() == std::optional<std::string>(value));
    }
    const skedd::StoreHealth health = store.health();
    CHECK(health.ok);
    CHECK(health.unwritten == 0);
    // Nothing queued: the waiter is called all the same.
    std::promise<bool> nothing;
    store.when_committed([&](skedd::Status s) { nothing.set_value(s.ok()); });
    CHECK(nothing.get_future().get());
    CHECK(store.flush().ok());
  });
}

TEST_CASE("store contract: the writes of a group are committed once it ends", "[store]") {
  for_each_store([](skedd::Store& store) {
    std::promise<bool> committed;
    {
      skedd::StoreGroup group(store);
      store.put_meta("k", "v");
      {
        skedd::StoreGroup inner(store);  // groups nest
        store.put_run(run(1, "a", RunState::kSucceeded));
      }
      store.put_fire(pending_at("a", "2026-03-08T08:00:00Z", 2));
      // Its writes are the group's: committed by the group's end at the latest.
      store.when_committed([&](skedd::Status s) { committed.set_value(s.ok()); });
    }
    CHECK(committed.get_future().get());
    CHECK(store.meta("k").value() == std::optional<std::string>("v"));
    CHECK(run_ids(store, {}) == std::vector<std::uint64_t>{1});
    REQUIRE(store.pending_fires().value().size() == 1);
    CHECK(store.last_fires().value().at("a") == at("2026-03-08T08:00:00Z"));
    CHECK(store.flush().ok());
  });
}
