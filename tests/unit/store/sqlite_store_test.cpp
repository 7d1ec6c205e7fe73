// The SQLite store on a real file in a temp dir: round trips, coalescing, reopening, and the
// refusals with their whole messages.
#include "skedd/store/sqlite_store.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <filesystem>
#include <functional>
#include <future>
#include <string>
#include <tuple>
#include <vector>

#include <catch2/catch.hpp>

#include "skedd/time/timestamp.h"
#include "store/sqlite_schema.h"
#include "support/temp_dir.h"

namespace {

using skedd::NotRunReason;
using skedd::RunState;

skedd::Instant at(const std::string& t) {
  return skedd::parse_rfc3339(t).value();
}

skedd::RunRecord run(std::uint64_t id, const std::string& job, RunState state) {
  skedd::RunRecord r;
  r.run = skedd::RunId{id};
  r.job = job;
  r.scheduled = at("2026-03-08T07:30:00Z");
  r.started = at("2026-03-08T07:30:00.001Z");
  r.state = state;
  r.pid = 4242;
  r.pid_start = 987654;
  r.log_path = "/var/lib/skedd/logs/" + job + "." + std::to_string(id) + ".log";
  return r;
}

// A pending fire of `job` at `t` (RFC 3339) under run id `run`, due at `due` (default: `t`).
skedd::PendingFire pending_at(const std::string& job, const std::string& t, std::uint64_t run,
                              const std::string& due = "", int attempt = 1) {
  return {job, at(t), at(due.empty() ? t : due), attempt, 0, skedd::RunId{run}};
}

// The fires' instants in the batch tests: `i` seconds after a fixed start.
skedd::Instant sched(int i) {
  return at("2026-03-08T07:30:00Z") + std::chrono::seconds(i);
}

skedd::Instant instant_of(std::int64_t us) {
  return skedd::Instant(skedd::Duration(us));
}

std::unique_ptr<skedd::Store> open(const std::string& path) {
  auto store = skedd::open_sqlite_store(path);
  INFO((store ? std::string() : store.error().message));
  REQUIRE(store.ok());
  return std::move(store).value();
}

// Makes `path` a database of schema `version` (its first migrations only) holding `rows`.
void write_old_database(const std::string& path, int version, const char* rows) {
  SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  for (int v = 0; v < version; ++v) db.exec(skedd::sqlite_schema::kMigrations[v]);
  db.exec("PRAGMA user_version = " + std::to_string(version));
  db.exec(rows);
}

}  // namespace

TEST_CASE("runs survive a reopen with every field", "[store]") {
  skedd::test::TempDir dir("skedd-store-test");
  const std::string path = dir / "skedd.db";
  {
    auto store = open(path);
    skedd::RunRecord r = run(1, "backup", RunState::kRunning);
    store->put_run(r);
    store->put_checkpoint(r.run, "step-2");
    r.state = RunState::kFailed;
    r.exit_code = 3;
    r.ended = at("2026-03-08T07:31:00Z");
    r.checkpoint = "step-3";
    r.message = "boom";
    store->put_run(r);
    store->put_run(run(2, "report", RunState::kSucceeded));
    REQUIRE(store->flush().ok());
  }
  auto store = open(path);
  auto all = store->runs({});
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

  auto failed = store->runs({std::string("backup"), RunState::kFailed, 10});
  REQUIRE(failed.ok());
  CHECK(failed->size() == 1);
  auto none = store->runs({std::string("backup"), RunState::kSucceeded, 10});
  REQUIRE(none.ok());
  CHECK(none->empty());
}

TEST_CASE("consecutive not-run fires of a job with one reason are one record", "[store]") {
  skedd::test::TempDir dir("skedd-store-test");
  auto store = open(dir / "skedd.db");
  auto skipped = [](const std::string& t) {
    return skedd::NotRunRecord{"tick", RunState::kSkipped, NotRunReason::kPaused, at(t), at(t), 1};
  };
  for (int s = 0; s < 50; ++s) {
    store->put_not_run(
        skipped("2026-01-01T00:00:" + std::string(s < 10 ? "0" : "") + std::to_string(s) + "Z"));
  }
  store->put_not_run({"tick", RunState::kSkipped, NotRunReason::kOverlap,
                      at("2026-01-01T00:01:00Z"), at("2026-01-01T00:01:00Z"), 1});
  store->put_run(run(7, "tick", RunState::kSucceeded));
  store->put_not_run(skipped("2026-01-01T00:02:00Z"));
  REQUIRE(store->flush().ok());
  auto records = store->not_run("tick", 10);
  REQUIRE(records.ok());
  REQUIRE(records->size() == 3);
  const auto& paused = records.value()[2];
  CHECK(paused.count == 50);
  CHECK(skedd::format_rfc3339_utc(paused.first) == "2026-01-01T00:00:00Z");
  CHECK(skedd::format_rfc3339_utc(paused.last) == "2026-01-01T00:00:49Z");
  CHECK(records.value()[1].reason == NotRunReason::kOverlap);
  CHECK(records.value()[0].count == 1);  // after a run: a new record
}

TEST_CASE("a file that is not a database is refused, never overwritten", "[store]") {
  skedd::test::TempDir dir("skedd-store-test");
  const std::string path = dir.write("skedd.db", std::string(4096, 'x'));
  auto store = skedd::open_sqlite_store(path);
  REQUIRE_FALSE(store.ok());
  CHECK(store.error().message ==
        "state database " + path +
            " is damaged (file is not a database): skedd will not overwrite it; move it aside "
            "to start a new history, or restore it from a backup, then start skedd again");
}

TEST_CASE("a database from a newer skedd is refused", "[store]") {
  skedd::test::TempDir dir("skedd-store-test");
  const std::string path = dir / "skedd.db";
  { open(path); }
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  auto store = skedd::open_sqlite_store(path);
  REQUIRE_FALSE(store.ok());
  CHECK(store.error().message ==
        "state database " + path +
            " has schema version 99, newer than this skedd knows (9): run the newer skedd, or "
            "restore a backup made by this version");
}

TEST_CASE("a reopened database keeps its schema version and data", "[store]") {
  skedd::test::TempDir dir("skedd-store-test");
  const std::string path = dir / "skedd.db";
  {
    auto store = open(path);
    store->put_run(run(1, "a", RunState::kSucceeded));
    REQUIRE(store->flush().ok());
  }
  { open(path); }  // migrations run only from the stored version on
  auto store = open(path);
  CHECK(store->runs({})->size() == 1);
}

TEST_CASE("last fires and meta values survive a reopen, a last fire never moves back", "[store]") {
  skedd::test::TempDir dir("skedd-store-test");
  const std::string path = dir / "skedd.db";
  {
    auto store = open(path);
    store->put_fire(pending_at("a", "2026-01-01T00:00:10Z", 1));
    store->put_fire(pending_at("a", "2026-01-01T00:00:05Z", 2));
    store->put_fire(pending_at("b", "2026-01-02T00:00:00Z", 3));
    store->put_meta("boot_id", "one");
    store->put_meta("boot_id", "two");
    REQUIRE(store->flush().ok());
  }
  auto store = open(path);
  const auto fires = store->last_fires();
  REQUIRE(fires.ok());
  CHECK(fires->size() == 2);
  CHECK(skedd::format_rfc3339_utc(fires->at("a")) == "2026-01-01T00:00:10Z");
  CHECK(store->meta("boot_id").value() == std::optional<std::string>("two"));
  CHECK_FALSE(store->meta("nothing").value().has_value());
}

TEST_CASE("retention keeps the newest runs of each job and drops old ones", "[store]") {
  skedd::test::TempDir dir("skedd-store-test");
  auto store = open(dir / "skedd.db");
  for (std::uint64_t i = 1; i <= 5; ++i) {
    skedd::RunRecord r = run(i, "a", RunState::kSucceeded);
    r.ended = at("2026-01-0" + std::to_string(i) + "T00:00:00Z");
    store->put_run(r);
  }
  store->put_run(run(6, "a", RunState::kRunning));  // never pruned while it runs
  skedd::RunRecord b = run(7, "b", RunState::kFailed);
  b.ended = at("2026-01-05T00:00:00Z");
  store->put_run(b);
  store->put_not_run({"a", RunState::kMissed, NotRunReason::kMissedWhileDown,
                      at("2026-01-01T00:00:00Z"), at("2026-01-01T01:00:00Z"), 2});
  REQUIRE(store->flush().ok());

  auto by_count = store->prune(3, std::nullopt);
  REQUIRE(by_count.ok());
  // The running run counts among the newest three: 6 (running), 5, 4 stay.
  CHECK(by_count.value() == std::vector<std::string>{"/var/lib/skedd/logs/a.3.log",
                                                     "/var/lib/skedd/logs/a.2.log",
                                                     "/var/lib/skedd/logs/a.1.log"});
  REQUIRE(store->flush().ok());
  CHECK(store->runs({std::string("a"), std::nullopt, 10})->size() == 3);

  auto by_age = store->prune(0, at("2026-01-04T12:00:00Z"));
  REQUIRE(by_age.ok());
  CHECK(by_age.value() == std::vector<std::string>{"/var/lib/skedd/logs/a.4.log"});
  REQUIRE(store->flush().ok());
  std::vector<std::uint64_t> left;
  const auto remaining = store->runs({});
  REQUIRE(remaining.ok());
  for (const auto& r : remaining.value()) left.push_back(r.run.value);
  CHECK(left == std::vector<std::uint64_t>{7, 6, 5});
  CHECK(store->not_run("a", 10)->empty());
}

TEST_CASE("a fire is pending until its run or not-run record is written", "[store]") {
  skedd::test::TempDir dir("skedd-store-test");
  const std::string path = dir / "skedd.db";
  {
    auto store = open(path);
    store->put_fire(pending_at("a", "2026-03-08T07:30:00Z", 1));
    store->put_fire(pending_at("b", "2026-03-08T07:31:00Z", 5, "2026-03-08T07:31:05Z"));
    store->put_fire(pending_at("c", "2026-03-08T07:32:00Z", 2));
    store->put_run(run(1, "a", RunState::kScheduled));  // a's fire is 07:30 too
    store->put_not_run({"b", RunState::kMissed, NotRunReason::kStartingDeadline,
                        at("2026-03-08T07:31:00Z"), at("2026-03-08T07:31:00Z"), 1,
                        skedd::RunId{5}});
    {
      // A failed attempt and its retry's pending fire: one write.
      skedd::StoreGroup group(*store);
      skedd::RunRecord failed = run(2, "c", RunState::kFailed);
      failed.scheduled = at("2026-03-08T07:32:00Z");
      store->put_run(failed);
      store->put_fire(pending_at("c", "2026-03-08T07:32:00Z", 3, "2026-03-08T07:33:00Z", 2));
    }
    // Settled by its own run id only: not by a not-run record of no pending fire (a fold),
    // nor by the run of another fire at the same instant (a trigger's).
    store->put_fire(pending_at("d", "2026-03-08T07:40:00Z", 6));
    store->put_not_run({"d", RunState::kMissed, NotRunReason::kOverloaded,
                        at("2026-03-08T07:39:00Z"), at("2026-03-08T07:40:00Z"), 2});
    skedd::RunRecord other = run(7, "d", RunState::kSucceeded);
    other.scheduled = at("2026-03-08T07:40:00Z");
    store->put_run(other);
    REQUIRE(store->flush().ok());
  }
  auto store = open(path);
  const auto pending = store->pending_fires();
  REQUIRE(pending.ok());
  REQUIRE(pending->size() == 2);
  CHECK(pending->at(1).job == "d");
  CHECK(pending->at(1).run.value == 6);
  CHECK(pending->at(0).job == "c");
  CHECK(pending->at(0).attempt == 2);
  CHECK(skedd::format_rfc3339_utc(pending->at(0).due) == "2026-03-08T07:33:00Z");
  // Every fire moved its job's last fire, whether it ran or not.
  const auto last = store->last_fires().value();
  CHECK(skedd::format_rfc3339_utc(last.at("a")) == "2026-03-08T07:30:00Z");
  CHECK(skedd::format_rfc3339_utc(last.at("b")) == "2026-03-08T07:31:00Z");
  CHECK(skedd::format_rfc3339_utc(last.at("c")) == "2026-03-08T07:32:00Z");
}

TEST_CASE("a run recorded before its spawn can be forgotten, progress and output are kept",
          "[store]") {
  skedd::test::TempDir dir("skedd-store-test");
  const std::string path = dir / "skedd.db";
  {
    auto store = open(path);
    store->put_run(run(1, "a", RunState::kScheduled));
    store->put_run(run(2, "a", RunState::kRunning));
    store->put_progress(skedd::RunId{2}, 42.5, "copying");
    store->delete_run(skedd::RunId{1});
    skedd::RunRecord done = run(3, "a", RunState::kSucceeded);
    done.output_tail = std::string("last\0bytes\xff", 11);
    done.frozen = std::chrono::seconds(3);
    store->put_run(done);
    REQUIRE(store->flush().ok());
  }
  auto store = open(path);
  const auto runs = store->runs({}).value();
  REQUIRE(runs.size() == 2);
  CHECK(runs[0].output_tail == std::string("last\0bytes\xff", 11));
  CHECK(runs[0].frozen == std::chrono::seconds(3));
  CHECK(runs[1].progress == std::optional<double>(42.5));
  CHECK(runs[1].progress_message == "copying");
}

TEST_CASE("next fires, pause flags and job versions survive a reopen", "[store]") {
  skedd::test::TempDir dir("skedd-store-test");
  const std::string path = dir / "skedd.db";
  {
    auto store = open(path);
    store->put_next_fire("a", at("2026-03-08T08:00:00Z"));
    store->put_next_fire("b", at("2026-03-08T09:00:00Z"));
    store->put_next_fire("b", std::nullopt);
    store->put_next_fires({{"c", at("2026-03-08T10:00:00Z")}, {"d", at("2026-03-08T11:00:00Z")}});
    store->put_next_fires({{"d", std::nullopt}});
    store->put_paused("a", true);
    store->put_paused("", true);
    store->put_paused("b", true);
    store->put_paused("b", false);
    store->put_job_version("a", 1, "command = [\"true\"]", "T1", at("2026-03-08T07:00:00Z"));
    store->put_job_version("a", 2, "command = [\"false\"]",
                           std::string("T\0"
                                       "2",
                                       3),
                           at("2026-03-08T07:10:00Z"));
    store->put_job_version("e", 1, "command = [\"true\"]", "T1", at("2026-03-08T07:00:00Z"));
    store->put_job_version("e", 2, "", "", at("2026-03-08T07:20:00Z"));
    REQUIRE(store->flush().ok());
  }
  auto store = open(path);
  const auto next = store->next_fires().value();
  CHECK(next.size() == 2);
  CHECK(skedd::format_rfc3339_utc(next.at("a")) == "2026-03-08T08:00:00Z");
  CHECK(skedd::format_rfc3339_utc(next.at("c")) == "2026-03-08T10:00:00Z");
  std::vector<std::tuple<std::string, int, std::string, std::string>> latest;
  REQUIRE(
      store
          ->for_each_latest_job_version(
              [&](const std::string& job, int version, const std::string& definition,
                  const std::string& tree) { latest.emplace_back(job, version, definition, tree); })
          .ok());
  // The tree comes back byte for byte (a NUL in it too).
  CHECK(latest == std::vector<std::tuple<std::string, int, std::string, std::string>>{
                      {"a", 2, "command = [\"false\"]",
                       std::string("T\0"
                                   "2",
                                   3)},
                      {"e", 2, "", ""}});
  CHECK(store->paused().value() == std::vector<std::string>{"", "a"});
  const auto versions = store->job_versions("a").value();
  REQUIRE(versions.size() == 2);
  CHECK(versions[1] == std::pair<int, std::string>{2, "command = [\"false\"]"});
}

TEST_CASE("a waiter hears of its writes' commit, and writes of an open group wait for its end",
          "[store]") {
  skedd::test::TempDir dir("skedd-store-test");
  auto store = open(dir / "skedd.db");
  std::promise<bool> committed;
  store->begin_group();
  store->put_meta("k", "v");
  store->when_committed([&](skedd::Status s) { committed.set_value(s.ok()); });
  auto future = committed.get_future();
  // Far longer than the writer's gather window: the group holds the write back.
  CHECK(future.wait_for(std::chrono::milliseconds(50)) == std::future_status::timeout);
  CHECK_FALSE(store->meta("k").value().has_value());
  store->end_group();
  CHECK(future.get());
  CHECK(store->meta("k").value() == std::optional<std::string>("v"));
  CHECK(store->health().ok);
}

TEST_CASE("a locked database fails a commit after the busy timeout, the writes are retried",
          "[store]") {
  skedd::test::TempDir dir("skedd-store-test");
  const std::string path = dir / "skedd.db";
  auto opened = skedd::open_sqlite_store(path, skedd::SqliteStoreOptions{false, 50});
  REQUIRE(opened.ok());
  auto store = std::move(opened).value();
  SQLite::Database other(path, SQLite::OPEN_READWRITE);
  other.exec("BEGIN EXCLUSIVE");
  std::promise<std::string> first;
  store->put_meta("k", "v");
  store->when_committed([&](skedd::Status s) { first.set_value(s ? "" : s.error().message); });
  const std::string error = first.get_future().get();
  CHECK_THAT(error, Catch::Contains("locked"));
  const skedd::StoreHealth failing = store->health();
  CHECK_FALSE(failing.ok);
  CHECK(failing.unwritten == 1);
  other.exec("COMMIT");
  const skedd::Status flushed = store->flush();  // retried within a second
  INFO((flushed ? std::string() : flushed.error().message));
  REQUIRE(flushed.ok());
  CHECK(store->health().ok);
  CHECK(store->meta("k").value() == std::optional<std::string>("v"));
}

TEST_CASE("a fire taken from its schedule records it pending, the last and the next fire",
          "[store]") {
  skedd::test::TempDir dir("skedd-store-test");
  const std::string path = dir / "skedd.db";
  {
    auto store = open(path);
    store->put_fire_taken(pending_at("a", "2026-03-08T07:30:00Z", 7), at("2026-03-08T07:31:00Z"));
    // An older fire taken later (a catch-up) keeps the last fire where it is.
    store->put_fire_taken(pending_at("a", "2026-03-08T07:20:00Z", 8), at("2026-03-08T07:31:00Z"));
    // A one-shot's fire: no next.
    store->put_next_fire("b", at("2026-03-08T08:00:00Z"));
    store->put_fire_taken(pending_at("b", "2026-03-08T08:00:00Z", 9), std::nullopt);
    REQUIRE(store->flush().ok());
  }
  auto store = open(path);
  const auto last = store->last_fires().value();
  CHECK(skedd::format_rfc3339_utc(last.at("a")) == "2026-03-08T07:30:00Z");
  CHECK(skedd::format_rfc3339_utc(last.at("b")) == "2026-03-08T08:00:00Z");
  const auto next = store->next_fires().value();
  CHECK(next.size() == 1);
  CHECK(skedd::format_rfc3339_utc(next.at("a")) == "2026-03-08T07:31:00Z");
  const auto pending = store->pending_fires().value();
  REQUIRE(pending.size() == 3);
  CHECK(pending[1].job == "a");
  CHECK(pending[1].run.value == 7);
}

TEST_CASE("runs are found by state, job and id alone or together", "[store]") {
  skedd::test::TempDir dir("skedd-store-test");
  auto store = open(dir / "skedd.db");
  store->put_run(run(1, "a", RunState::kRunning));
  store->put_run(run(2, "a", RunState::kScheduled));
  store->put_run(run(3, "b", RunState::kRunning));
  skedd::RunRecord done = run(4, "b", RunState::kSucceeded);
  done.ended = at("2026-03-08T07:31:00Z");
  store->put_run(done);
  // A run recorded as running with an end time is still found as running (no end is kept).
  skedd::RunRecord odd = run(5, "c", RunState::kRunning);
  odd.ended = at("2026-03-08T07:31:00Z");
  store->put_run(odd);
  REQUIRE(store->flush().ok());
  const auto ids = [&](const skedd::RunQuery& q) {
    std::vector<std::uint64_t> out;
    const auto runs = store->runs(q);
    REQUIRE(runs.ok());
    for (const skedd::RunRecord& r : runs.value()) out.push_back(r.run.value);
    return out;
  };
  CHECK(ids({std::nullopt, RunState::kRunning}) == std::vector<std::uint64_t>{5, 3, 1});
  CHECK(ids({"a", RunState::kRunning}) == std::vector<std::uint64_t>{1});
  CHECK(ids({std::nullopt, RunState::kScheduled}) == std::vector<std::uint64_t>{2});
  CHECK(ids({std::nullopt, RunState::kSucceeded}) == std::vector<std::uint64_t>{4});
  CHECK(ids({"b"}) == std::vector<std::uint64_t>{4, 3});
  CHECK(ids({std::nullopt, std::nullopt, 2}) == std::vector<std::uint64_t>{5, 4});
  skedd::RunQuery one;
  one.run = skedd::RunId{3};
  CHECK(ids(one) == std::vector<std::uint64_t>{3});
  // The queries for a state a run has not ended in use the index of such runs.
  SQLite::Database db(dir / "skedd.db", SQLite::OPEN_READONLY);
  CHECK(db.execAndGet("SELECT count(*) FROM runs INDEXED BY runs_active WHERE ended_us IS NULL "
                      "AND state = 'running'")
            .getInt() == 3);
}

TEST_CASE("a version 5 database is migrated with its fires, pending fires and runs", "[store]") {
  skedd::test::TempDir dir("skedd-store-test");
  const std::string path = dir / "skedd.db";
  write_old_database(
      path, 5,
      "INSERT INTO job_state VALUES ('a', 100), ('b', 200);"
      "INSERT INTO next_fires VALUES ('b', 300), ('c', 400);"
      "INSERT INTO pending_fires (job, scheduled_us, due_us, attempt, resumes, run) "
      "VALUES ('a', 100, 150, 2, 1, 77);"
      "INSERT INTO runs (id, job, scheduled_us, attempt, state, started_us, lateness_us) "
      "VALUES (1, 'a', 50, 1, 'running', 51, 1), (2, 'b', 60, 1, 'succeeded', 61, 1);"
      "UPDATE runs SET ended_us = 70 WHERE id = 2;"
      "INSERT INTO job_versions VALUES ('a', 1, 'every = \"5m\"', 10);");
  auto store = open(path);
  // A definition recorded before trees were has none: its text is parsed.
  std::vector<std::pair<std::string, std::string>> versions;
  REQUIRE(store
              ->for_each_latest_job_version(
                  [&](const std::string&, int, const std::string& text, const std::string& tree) {
                    versions.emplace_back(text, tree);
                  })
              .ok());
  CHECK(versions == std::vector<std::pair<std::string, std::string>>{{"every = \"5m\"", ""}});
  const auto last = store->last_fires().value();
  CHECK(last.size() == 2);
  CHECK(last.at("a").time_since_epoch().count() == 100);
  CHECK(last.at("b").time_since_epoch().count() == 200);
  const auto next = store->next_fires().value();
  CHECK(next.size() == 2);
  CHECK(next.at("b").time_since_epoch().count() == 300);
  CHECK(next.at("c").time_since_epoch().count() == 400);
  const auto pending = store->pending_fires().value();
  REQUIRE(pending.size() == 1);
  CHECK(pending[0].attempt == 2);
  CHECK(pending[0].resumes == 1);
  CHECK(pending[0].run.value == 77);
  const auto running = store->runs({std::nullopt, RunState::kRunning}).value();
  REQUIRE(running.size() == 1);
  CHECK(running[0].run.value == 1);
  // Writes go on in the new tables.
  store->put_fire_taken({"c", instant_of(500), instant_of(500), 1, 0, skedd::RunId{90}},
                        instant_of(600));
  REQUIRE(store->flush().ok());
  CHECK(store->last_fires().value().at("c").time_since_epoch().count() == 500);
  CHECK(store->next_fires().value().at("c").time_since_epoch().count() == 600);
}

TEST_CASE("a version 7 database's pending fires are keyed by run id, one without gets a new id",
          "[store]") {
  skedd::test::TempDir dir("skedd-store-test");
  const std::string path = dir / "skedd.db";
  write_old_database(
      path, 7,
      "INSERT INTO pending_fires (job, scheduled_us, due_us, attempt, resumes, run) VALUES "
      "('a', 100, 150, 2, 1, 77), ('b', 200, 200, 1, 0, 0), ('c', 300, 300, 1, 0, 0);"
      "INSERT INTO runs (id, job, scheduled_us, attempt, state, started_us, lateness_us) "
      "VALUES (500, 'a', 50, 1, 'failed', 51, 1);");
  auto store = open(path);
  auto pending = store->pending_fires().value();  // by due
  REQUIRE(pending.size() == 3);
  CHECK(pending[0].job == "a");
  CHECK(pending[0].run.value == 77);
  CHECK(pending[0].attempt == 2);
  CHECK(pending[0].resumes == 1);
  CHECK(pending[0].due.time_since_epoch().count() == 150);
  CHECK(pending[1].job == "b");
  CHECK(pending[1].run.value == 501);  // above every id in use, the runs' and the fires'
  CHECK(pending[2].job == "c");
  CHECK(pending[2].run.value == 502);
  // Settled by those ids.
  skedd::RunRecord b = run(501, "b", RunState::kSucceeded);
  b.scheduled = instant_of(200);
  store->put_run(b);
  store->put_not_run({"c", RunState::kSkipped, NotRunReason::kOverlap, instant_of(300),
                      instant_of(300), 1, skedd::RunId{502}});
  REQUIRE(store->flush().ok());
  pending = store->pending_fires().value();
  REQUIRE(pending.size() == 1);
  CHECK(pending[0].job == "a");
}

TEST_CASE("the WAL is started over past its limit under writes that never pause", "[store]") {
  skedd::test::TempDir dir("skedd-store-test");
  const std::string path = dir / "skedd.db";
  skedd::SqliteStoreOptions options;
  options.wal_limit_pages = 64;
  auto opened = skedd::open_sqlite_store(path, options);
  REQUIRE(opened.ok());
  auto store = std::move(opened).value();
  // 2,000 runs with 4 KiB of output each, committed 20 at a time: 8 MB through the WAL.
  for (std::uint64_t id = 1; id <= 2000; ++id) {
    skedd::RunRecord r = run(id, "j" + std::to_string(id % 50), RunState::kSucceeded);
    r.ended = at("2026-03-08T07:31:00Z");
    r.output_tail = std::string(4096, static_cast<char>('a' + id % 26));
    store->put_run(r);
    if (id % 20 == 0) REQUIRE(store->flush().ok());
  }
  // At most the limit plus a batch or two, not the 8 MB written.
  CHECK(std::filesystem::file_size(path + "-wal") < 1'000'000);
  CHECK(store->runs({std::nullopt, std::nullopt, 5000})->size() == 2000);
}

TEST_CASE("writes of one batch go in multi-row statements and keep every field and their order",
          "[store]") {
  // 70 fires and runs: two full statements of 32 rows and a shorter one, so that a row's
  // parameters at any place in a statement are checked.
  skedd::test::TempDir dir("skedd-store-test");
  const std::string path = dir / "skedd.db";
  constexpr int kJobs = 70;
  {
    auto store = open(path);
    skedd::StoreGroup group(*store);  // one transaction, in this order
    for (int i = 0; i < kJobs; ++i) {
      store->put_fire_taken({"j" + std::to_string(i), sched(i), sched(i) + std::chrono::seconds(1),
                             1, i % 3, skedd::RunId{static_cast<std::uint64_t>(100 + i)}},
                            sched(i) + std::chrono::minutes(1));
    }
    for (int i = 0; i < kJobs - 1; ++i) {
      skedd::RunRecord r = run(100 + i, "j" + std::to_string(i), RunState::kRunning);
      r.scheduled = sched(i);
      store->put_run(r);  // the same run twice in one statement: the later row wins
      r.state = RunState::kSucceeded;
      r.exit_code = i;
      r.message = "m" + std::to_string(i);
      r.checkpoint = "c" + std::to_string(i);
      r.ended = sched(i) + std::chrono::seconds(2);
      store->put_run(r);
    }
    // A run recorded, then its fire taken again (a trigger at the same instant): pending again,
    // as the writes came in that order.
    store->put_fire_taken(
        {"j0", sched(0), sched(0) + std::chrono::seconds(9), 1, 0, skedd::RunId{300}},
        sched(0) + std::chrono::minutes(1));
    store->put_meta("k", "v");  // a write of another kind ends a statement's rows
  }
  {
    auto store = open(path);
    REQUIRE(store->flush().ok());
  }
  auto store = open(path);
  const auto pending = store->pending_fires().value();  // by due
  REQUIRE(pending.size() == 2);
  CHECK(pending[0].job == "j0");
  CHECK(pending[0].run.value == 300);
  CHECK(pending[1].job == "j69");
  CHECK(pending[1].run.value == 169);
  CHECK(pending[1].resumes == 69 % 3);
  CHECK(pending[1].due == sched(69) + std::chrono::seconds(1));
  const auto runs = store->runs(skedd::RunQuery(std::nullopt, std::nullopt, 1000)).value();
  REQUIRE(runs.size() == kJobs - 1);
  for (std::size_t k = 0; k < runs.size(); ++k) {
    const skedd::RunRecord& r = runs[k];
    const int i = static_cast<int>(r.run.value) - 100;
    INFO("run " << r.run.value);
    CHECK(r.job == "j" + std::to_string(i));
    CHECK(r.state == RunState::kSucceeded);
    CHECK(r.exit_code == i);
    CHECK(r.message == "m" + std::to_string(i));
    CHECK(r.checkpoint == "c" + std::to_string(i));
    CHECK(r.scheduled == sched(i));
    CHECK(r.ended == sched(i) + std::chrono::seconds(2));
    CHECK(r.log_path ==
          "/var/lib/skedd/logs/j" + std::to_string(i) + "." + std::to_string(100 + i) + ".log");
  }
  const auto lasts = store->last_fires().value();
  const auto nexts = store->next_fires().value();
  REQUIRE(lasts.size() == kJobs);
  for (int i = 0; i < kJobs; ++i) {
    const std::string job = "j" + std::to_string(i);
    CHECK(lasts.at(job) == sched(i));
    CHECK(nexts.at(job) == sched(i) + std::chrono::minutes(1));
  }
  CHECK(store->meta("k").value() == std::optional<std::string>("v"));
}

TEST_CASE("a run's row and a pending fire written again in a later batch replace the first",
          "[store]") {
  // The multi-row inserts skip rows that are there already and then write that statement's
  // rows again one by one, replacing: 40 rows, so that one full statement and a shorter one
  // each meet rows committed before, among new ones.
  skedd::test::TempDir dir("skedd-store-test");
  const std::string path = dir / "skedd.db";
  constexpr int kRuns = 40;
  auto fire = [&](int i, int resumes) {
    return skedd::PendingFire{"j" + std::to_string(i),
                              sched(i),
                              sched(i) + std::chrono::seconds(resumes),
                              1,
                              resumes,
                              skedd::RunId{static_cast<std::uint64_t>(100 + i)}};
  };
  auto store = open(path);
  for (int i = 0; i < kRuns; i += 2) {
    store->put_run(run(100 + i, "j" + std::to_string(i), RunState::kRunning));
    store->put_fire_taken(fire(i, 0), sched(i) + std::chrono::minutes(1));
  }
  REQUIRE(store->flush().ok());
  for (int i = 0; i < kRuns; ++i) {
    skedd::RunRecord r = run(100 + i, "j" + std::to_string(i), RunState::kFailed);
    r.exit_code = i;
    r.ended = sched(i) + std::chrono::seconds(2);
    store->put_run(r);
  }
  for (int i = 0; i < kRuns; ++i)
    store->put_fire_taken(fire(i, 5), sched(i) + std::chrono::minutes(2));
  REQUIRE(store->flush().ok());
  const auto runs = store->runs(skedd::RunQuery(std::nullopt, std::nullopt, 1000)).value();
  REQUIRE(runs.size() == kRuns);
  for (const skedd::RunRecord& r : runs) {
    INFO("run " << r.run.value);
    CHECK(r.state == RunState::kFailed);
    CHECK(r.exit_code == static_cast<int>(r.run.value) - 100);
    CHECK(r.ended.has_value());
  }
  const auto pending = store->pending_fires().value();
  REQUIRE(pending.size() == kRuns);
  for (const skedd::PendingFire& p : pending) {
    INFO(p.job);
    CHECK(p.resumes == 5);
  }
}

TEST_CASE("runs with only the common fields are written short, any other field is kept",
          "[store]") {
  // Most handler runs have no process, log, checkpoint or message: a statement of those
  // only names fewer columns. A run in it that had a longer row before replaces it whole; a
  // run with any other field set makes its statement name them all.
  skedd::test::TempDir dir("skedd-store-test");
  auto store = open(dir / "skedd.db");
  auto plain = [](std::uint64_t id, int i) {
    skedd::RunRecord r;
    r.run = skedd::RunId{id};
    r.job = "p" + std::to_string(i);
    r.scheduled = sched(i);
    r.attempt = 2;
    r.state = RunState::kSucceeded;
    r.exit_code = 0;
    r.started = sched(i) + std::chrono::milliseconds(3);
    r.ended = sched(i) + std::chrono::milliseconds(9);
    r.lateness = std::chrono::milliseconds(3);
    return r;
  };
  store->put_run(run(1, "p0", RunState::kRunning));  // pid, log path
  REQUIRE(store->flush().ok());
  for (int i = 0; i < 3; ++i) store->put_run(plain(1 + i, i));
  REQUIRE(store->flush().ok());
  auto one = [&](std::uint64_t id) {
    skedd::RunQuery query(std::nullopt, std::nullopt, 1);
    query.run = skedd::RunId{id};
    auto found = store->runs(query).value();
    REQUIRE(found.size() == 1);
    return found[0];
  };
  for (std::uint64_t id = 1; id <= 3; ++id) {
    const skedd::RunRecord r = one(id);
    const int i = static_cast<int>(id) - 1;
    INFO("run " << id);
    CHECK(r.job == "p" + std::to_string(i));
    CHECK(r.scheduled == sched(i));
    CHECK(r.attempt == 2);
    CHECK(r.state == RunState::kSucceeded);
    CHECK(r.exit_code == 0);
    CHECK(r.started == sched(i) + std::chrono::milliseconds(3));
    CHECK(r.ended == sched(i) + std::chrono::milliseconds(9));
    CHECK(r.lateness == std::chrono::milliseconds(3));
    CHECK_FALSE(r.pid.has_value());  // replaced whole: the running row's fields are gone
    CHECK_FALSE(r.pid_start.has_value());
    CHECK(r.log_path.empty());
    CHECK(r.output_tail.empty());
    CHECK(r.frozen.count() == 0);
  }
  // Each field alone, in a statement with plain runs.
  std::uint64_t next_id = 10;
  const std::vector<std::function<void(skedd::RunRecord&)>> fields = {
      [](skedd::RunRecord& r) { r.signal = 9; },
      [](skedd::RunRecord& r) { r.pid = 77; },
      [](skedd::RunRecord& r) { r.pid_start = 1234; },
      [](skedd::RunRecord& r) { r.progress = 42.5; },
      [](skedd::RunRecord& r) { r.frozen = std::chrono::seconds(4); },
      [](skedd::RunRecord& r) { r.checkpoint = "step-4"; },
      [](skedd::RunRecord& r) { r.log_path = "/var/log/x.log"; },
      [](skedd::RunRecord& r) { r.message = "boom"; },
      [](skedd::RunRecord& r) { r.progress_message = "half"; },
      [](skedd::RunRecord& r) { r.output_tail = std::string("out\0put", 7); },
  };
  for (std::size_t f = 0; f < fields.size(); ++f) {
    INFO("field " << f);
    skedd::RunRecord odd = plain(next_id + 1, 100);
    fields[f](odd);
    store->put_run(plain(next_id, 101));
    store->put_run(odd);
    store->put_run(plain(next_id + 2, 102));
    REQUIRE(store->flush().ok());
    const skedd::RunRecord got = one(next_id + 1);
    CHECK(got.signal == odd.signal);
    CHECK(got.pid == odd.pid);
    CHECK(got.pid_start == odd.pid_start);
    CHECK(got.progress == odd.progress);
    CHECK(got.frozen == odd.frozen);
    CHECK(got.checkpoint == odd.checkpoint);
    CHECK(got.log_path == odd.log_path);
    CHECK(got.message == odd.message);
    CHECK(got.progress_message == odd.progress_message);
    CHECK(got.output_tail == odd.output_tail);
    CHECK(one(next_id + 2).job == "p102");
    next_id += 3;
  }
}

TEST_CASE("writes queued in a group while the writer is idle are committed without a flush",
          "[store]") {
  skedd::test::TempDir dir("skedd-store-test");
  auto store = open(dir / "skedd.db");
  for (int round = 0; round < 3; ++round) {
    {
      skedd::StoreGroup group(*store);
      store->put_meta("k", std::to_string(round));
    }
    std::promise<void> committed;
    store->when_committed([&](skedd::Status) { committed.set_value(); },
                          skedd::Store::Pace::kBatched);
    // Nothing else wakes the writer: the group's end must.
    REQUIRE(committed.get_future().wait_for(std::chrono::seconds(5)) == std::future_status::ready);
    CHECK(store->meta("k").value() == std::optional<std::string>(std::to_string(round)));
  }
}

TEST_CASE("a fire skipped as it was taken moves its job's last and next fire with its record",
          "[store]") {
  skedd::test::TempDir dir("skedd-store-test");
  const std::string path = dir / "skedd.db";
  {
    auto store = open(path);
    store->put_fire_not_run({"a", RunState::kSkipped, NotRunReason::kOverlap,
                             at("2026-03-08T07:30:00Z"), at("2026-03-08T07:30:00Z"), 1},
                            at("2026-03-08T07:30:01Z"));
    store->put_fire_not_run({"a", RunState::kSkipped, NotRunReason::kOverlap,
                             at("2026-03-08T07:30:01Z"), at("2026-03-08T07:30:01Z"), 1},
                            at("2026-03-08T07:30:02Z"));
    // A one-shot's: no next fire.
    store->put_next_fire("b", at("2026-03-08T08:00:00Z"));
    store->put_fire_not_run({"b", RunState::kSkipped, NotRunReason::kPaused,
                             at("2026-03-08T08:00:00Z"), at("2026-03-08T08:00:00Z"), 1},
                            std::nullopt);
    REQUIRE(store->flush().ok());
  }
  auto store = open(path);
  const auto last = store->last_fires().value();
  CHECK(skedd::format_rfc3339_utc(last.at("a")) == "2026-03-08T07:30:01Z");
  CHECK(skedd::format_rfc3339_utc(last.at("b")) == "2026-03-08T08:00:00Z");
  const auto next = store->next_fires().value();
  CHECK(next.size() == 1);
  CHECK(skedd::format_rfc3339_utc(next.at("a")) == "2026-03-08T07:30:02Z");
  const auto a = store->not_run("a", 10).value();
  REQUIRE(a.size() == 1);  // consecutive skips of one reason: one record
  CHECK(a[0].count == 2);
  CHECK(skedd::format_rfc3339_utc(a[0].last) == "2026-03-08T07:30:01Z");
  CHECK(store->not_run("b", 10).value().at(0).reason == NotRunReason::kPaused);
}

TEST_CASE("writes of different jobs go together by kind, each job's writes keep their order",
          "[store]") {
  skedd::test::TempDir dir("skedd-store-test");
  const std::string path = dir / "skedd.db";
  auto skipped = [&](const std::string& job, int s) {
    return skedd::NotRunRecord{job,      RunState::kSkipped, NotRunReason::kOverlap,
                               sched(s), sched(s),           1};
  };
  auto ended = [&](std::uint64_t id, const std::string& job, int s) {
    skedd::RunRecord r = run(id, job, RunState::kSucceeded);
    r.scheduled = sched(s);
    r.ended = sched(s);
    return r;
  };
  {
    auto store = open(path);
    skedd::StoreGroup group(*store);  // one batch, the jobs' writes interleaved
    store->put_run(ended(1, "a", 1));
    store->put_fire_not_run(skipped("b", 1), sched(2));
    store->put_fire_taken({"c", sched(1), sched(1), 1, 0, skedd::RunId{10}}, sched(2));
    store->put_fire_not_run(skipped("a", 2), sched(3));
    store->put_run(ended(2, "b", 2));
    store->put_fire_not_run(skipped("c", 2), sched(3));
    store->put_fire_not_run(skipped("a", 3), sched(4));
    store->put_fire_not_run(skipped("b", 3), sched(4));
    store->put_fire_taken({"c", sched(3), sched(3), 1, 0, skedd::RunId{11}}, sched(4));
  }
  auto store = open(path);
  // a: its run, then two skips: one record after the run.
  const auto a = store->not_run("a", 10).value();
  REQUIRE(a.size() == 1);
  CHECK(a[0].count == 2);
  CHECK(a[0].first == sched(2));
  CHECK(a[0].last == sched(3));
  // b: a skip, its run, a skip: two records.
  const auto b = store->not_run("b", 10).value();
  REQUIRE(b.size() == 2);
  CHECK(b[0].first == sched(3));
  CHECK(b[1].first == sched(1));
  CHECK(store->runs(skedd::RunQuery(std::string("b"))).value().size() == 1);
  // c: taken, skipped, taken: its next fire is the last one written.
  CHECK(store->next_fires().value().at("c") == sched(4));
  CHECK(store->last_fires().value().at("c") == sched(3));
  const auto pending = store->pending_fires().value();
  REQUIRE(pending.size() == 2);
  CHECK(pending[0].run.value == 10);
  CHECK(pending[1].run.value == 11);
  CHECK(store->next_fires().value().at("a") == sched(4));
}

namespace {

// What a crash would leave of the database at `path` now: its committed state, copied to `to`.
std::string committed_copy(const std::string& path, const std::string& to) {
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  db.backup(to.c_str(), SQLite::Database::Save);
  return to;
}

}  // namespace

TEST_CASE("a fire's job row written later is found from its pending fire or run after a crash",
          "[store]") {
  skedd::test::TempDir dir("skedd-store-test");
  const std::string path = dir / "skedd.db";
  auto store = open(path);
  // b's row is on record (a not-run record writes it at once), then a later fire is taken.
  store->put_fire_not_run({"b", RunState::kSkipped, NotRunReason::kOverlap,
                           at("2026-03-08T07:00:00Z"), at("2026-03-08T07:00:00Z"), 1},
                          at("2026-03-08T07:30:00Z"));
  REQUIRE(store->flush().ok());
  store->put_fire_taken(pending_at("a", "2026-03-08T07:30:00Z", 7), at("2026-03-08T07:31:00Z"));
  store->put_fire_taken(pending_at("b", "2026-03-08T07:30:00Z", 8), at("2026-03-08T08:00:00Z"));
  REQUIRE(store->flush().ok());
  {
    // Held back: no row for a, b's as the not-run record left it, and the first held run id.
    SQLite::Database db(path, SQLite::OPEN_READONLY);
    CHECK(db.execAndGet("SELECT COUNT(*) FROM job_state WHERE job = 'a'").getInt() == 0);
    CHECK(db.execAndGet("SELECT next_us FROM job_state WHERE job = 'b'").getInt64() ==
          at("2026-03-08T07:30:00Z").time_since_epoch().count());
    CHECK(
        db.execAndGet("SELECT value FROM meta WHERE key = 'job_rows_held_since_run'").getString() ==
        "7");
  }
  const std::string while_pending = committed_copy(path, dir / "pending.db");
  CHECK(store->last_fires().value().at("a") == at("2026-03-08T07:30:00Z"));
  // Their runs settle the pending fires: the runs are the record now.
  store->put_run(run(7, "a", RunState::kSucceeded));
  store->put_run(run(8, "b", RunState::kSucceeded));
  REQUIRE(store->flush().ok());
  REQUIRE(store->pending_fires().value().empty());
  const std::string after_runs = committed_copy(path, dir / "runs.db");
  for (const auto& copy : {while_pending, after_runs}) {
    INFO(copy);
    const auto last = open(copy)->last_fires().value();
    CHECK(last.at("a") == at("2026-03-08T07:30:00Z"));
    CHECK(last.at("b") == at("2026-03-08T07:30:00Z"));
  }
  // Closing writes the rows, and the meta row goes.
  store.reset();
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  SQLite::Statement rows(db, "SELECT job, last_fire_us, next_us FROM job_state ORDER BY job");
  std::vector<std::tuple<std::string, std::int64_t, std::int64_t>> got;
  while (rows.executeStep()) {
    got.emplace_back(rows.getColumn(0).getString(), rows.getColumn(1).getInt64(),
                     rows.getColumn(2).getInt64());
  }
  auto us = [](const char* t) { return at(t).time_since_epoch().count(); };
  CHECK(got == std::vector<std::tuple<std::string, std::int64_t, std::int64_t>>{
                   {"a", us("2026-03-08T07:30:00Z"), us("2026-03-08T07:31:00Z")},
                   {"b", us("2026-03-08T07:30:00Z"), us("2026-03-08T08:00:00Z")}});
  CHECK(db.execAndGet("SELECT COUNT(*) FROM meta WHERE key = 'job_rows_held_since_run'").getInt() ==
        0);
}

TEST_CASE("a fire's job row held back is written before a run is deleted or next fires read",
          "[store]") {
  skedd::test::TempDir dir("skedd-store-test");
  const std::string path = dir / "skedd.db";
  auto store = open(path);
  auto rows = [&] {
    SQLite::Database db(path, SQLite::OPEN_READONLY);
    return db.execAndGet("SELECT COUNT(*) FROM job_state").getInt();
  };
  store->put_fire_taken(pending_at("a", "2026-03-08T07:30:00Z", 7), at("2026-03-08T07:31:00Z"));
  store->put_run(run(7, "a", RunState::kScheduled));
  REQUIRE(store->flush().ok());
  REQUIRE(rows() == 0);
  // The run was the record of a's fire: the row goes first.
  store->delete_run(skedd::RunId{7});
  REQUIRE(store->flush().ok());
  CHECK(rows() == 1);
  const std::string copy = committed_copy(path, dir / "copy.db");
  CHECK(open(copy)->last_fires().value().at("a") == at("2026-03-08T07:30:00Z"));

  store->put_fire_taken(pending_at("b", "2026-03-08T07:30:00Z", 8), at("2026-03-08T07:32:00Z"));
  REQUIRE(store->flush().ok());
  REQUIRE(rows() == 1);
  CHECK(store->next_fires().value().at("b") == at("2026-03-08T07:32:00Z"));
  CHECK(rows() == 2);
}

TEST_CASE("fires folded into a fire taken are recorded with it, their job row held with its",
          "[store]") {
  skedd::test::TempDir dir("skedd-store-test");
  const std::string path = dir / "skedd.db";
  auto store = open(path);
  auto folded = [&](int first, int last, std::uint64_t count) {
    return skedd::NotRunRecord{"a",          RunState::kMissed, NotRunReason::kOverloaded,
                               sched(first), sched(last),       count};
  };
  store->put_fire_taken({"a", sched(5), sched(5), 1, 0, skedd::RunId{7}}, sched(6),
                        folded(1, 4, 4));
  store->put_fire_taken({"a", sched(7), sched(7), 1, 0, skedd::RunId{8}}, sched(8),
                        folded(6, 6, 1));
  REQUIRE(store->flush().ok());
  // One record of both folds (one state and reason, nothing between).
  const auto a = store->not_run("a", 10).value();
  REQUIRE(a.size() == 1);
  CHECK(a[0].count == 5);
  CHECK(a[0].first == sched(1));
  CHECK(a[0].last == sched(6));
  CHECK(store->pending_fires().value().size() == 2);
  const std::string copy = committed_copy(path, dir / "copy.db");
  CHECK(open(copy)->last_fires().value().at("a") == sched(7));
  CHECK(store->next_fires().value().at("a") == sched(8));
}

TEST_CASE("a retired job name starts an identity with an empty history", "[store]") {
  skedd::test::TempDir dir("skedd-store-test");
  auto store = open(dir / "skedd.db");
  skedd::RunRecord old_run = run(10, "backup", RunState::kSucceeded);
  old_run.ended = old_run.started;
  old_run.checkpoint = "root-cp";
  old_run.owner = 0;
  store->put_run(old_run);
  store->put_not_run({"backup", RunState::kSkipped, NotRunReason::kOverlap, sched(1), sched(1), 1});
  store->put_fire_taken(pending_at("backup", "2026-03-08T08:00:00Z", 11), sched(3600));
  store->put_fire(pending_at("backup", "2026-03-08T07:30:00Z", 12, "2026-03-08T09:00:00Z", 2));
  store->put_paused("backup", true);
  store->retire_job("backup", skedd::RunId{20});
  // Written after the retirement: the new identity's.
  store->put_not_run({"backup", RunState::kSkipped, NotRunReason::kOverlap, sched(5), sched(5), 1});
  skedd::RunRecord new_run = run(21, "backup", RunState::kRunning);
  new_run.owner = 1000;
  store->put_run(new_run);
  REQUIRE(store->flush().ok());

  const auto runs = store->runs(skedd::RunQuery("backup"));
  REQUIRE(runs->size() == 1);
  CHECK(runs->front().run == skedd::RunId{21});
  CHECK(runs->front().owner == 1000u);
  skedd::RunQuery every_identity("backup");
  every_identity.current_identity = false;
  CHECK(store->runs(every_identity)->size() == 2);
  // The new not-run record is a record of its own, not the old one grown.
  const auto not_run = store->not_run("backup", 10);
  REQUIRE(not_run->size() == 1);
  CHECK(not_run->front().first == sched(5));
  CHECK(store->pending_fires()->empty());
  CHECK(store->paused()->empty());
  // Its last fire is the new identity's latest (its fire not run), not the old one's (08:00).
  CHECK(store->last_fires()->at("backup") == sched(5));
  CHECK(store->latest_ended_runs()->empty());  // the old identity's ended run is not the job's

  // Owners: a filter, and runs recorded without one given to a job's owner.
  skedd::RunQuery of_1000;
  of_1000.owner = 1000;
  CHECK(store->runs(of_1000)->size() == 1);
  skedd::RunRecord legacy = run(30, "report", RunState::kSucceeded);
  store->put_run(legacy);
  store->assign_owner("report", 1001);
  REQUIRE(store->flush().ok());
  CHECK(store->runs(skedd::RunQuery("report"))->front().owner == 1001u);
}

TEST_CASE("regression: a fire's held last fire survives two crashes in a row", "[store]") {
  // The kill loop's seed 2263654216 (and 106469637): a fire taken by one skedd, killed while
  // its job row was held back, was run by the next; that skedd held rows of its own, which
  // moved the key of held rows past the fire's run. The third start found no last fire for
  // the job and caught the fire up as missed_while_down although it had run.
  skedd::test::TempDir dir("skedd-store-test");
  const std::string path = dir / "skedd.db";
  {
    auto store = open(path);
    store->put_fire_taken(pending_at("a", "2026-03-08T07:30:00Z", 7), at("2026-03-08T07:31:00Z"));
    REQUIRE(store->flush().ok());
    committed_copy(path, dir / "first-crash.db");
  }
  const std::string second = dir / "first-crash.db";
  {
    auto store = open(second);
    // The next skedd runs the fire (its run settles the pending fire) and takes another job's.
    store->put_run(run(7, "a", RunState::kSucceeded));
    store->put_fire_taken(pending_at("b", "2026-03-08T07:40:00Z", 20), at("2026-03-08T07:41:00Z"));
    REQUIRE(store->flush().ok());
    committed_copy(second, dir / "second-crash.db");
  }
  {
    SQLite::Database db(dir / "second-crash.db", SQLite::OPEN_READONLY);
    SQLite::Statement q(db, "SELECT key, value FROM meta");
    while (q.executeStep()) WARN(q.getColumn(0).getString() << "=" << q.getColumn(1).getString());
    SQLite::Statement j(db, "SELECT job, last_fire_us FROM job_state");
    while (j.executeStep()) WARN(j.getColumn(0).getString() << " " << j.getColumn(1).getInt64());
  }
  const auto last = open(dir / "second-crash.db")->last_fires().value();
  CHECK(last.at("a") == at("2026-03-08T07:30:00Z"));
  CHECK(last.at("b") == at("2026-03-08T07:40:00Z"));
}
