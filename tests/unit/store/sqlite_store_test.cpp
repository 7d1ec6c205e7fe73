// What only the SQLite store does, on a real file in a temp dir: what a reopen or a crash
// leaves, the refusals (with their whole messages) and migrations of its schema, and its
// writer's batches, locks and timing. What every Store does is in store_contract_test.cpp.
#include "skedd/store/sqlite_store.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <filesystem>
#include <functional>
#include <future>
#include <iomanip>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <catch2/catch.hpp>

#include "skedd/time/timestamp.h"
#include "store/sqlite_schema.h"
#include "store/store_test_helpers.h"
#include "support/temp_dir.h"

namespace {

using skedd::NotRunReason;
using skedd::RunState;
using store_test::at;
using store_test::open;
using store_test::pending_at;
using store_test::run;
using store_test::sched;

skedd::Instant instant_of(std::int64_t us) {
  return skedd::Instant(skedd::Duration(us));
}

// Makes `path` a database of schema `version` (its first migrations only) holding `rows`.
void write_old_database(const std::string& path, int version, const char* rows) {
  SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  for (int v = 0; v < version; ++v) db.exec(skedd::sqlite_schema::kMigrations[v]);
  db.exec("PRAGMA user_version = " + std::to_string(version));
  db.exec(rows);
}

// All that `store` reads back: every run with every field, each job's latest ended run, the
// pending fires, last and next fires, pause flags, identities and latest job versions; of
// each of `jobs`, its not-run records, versions and current identity's runs; the meta values
// of `keys`. As text, so that a failed comparison shows both.
// A read's value, by value: a range-for over a temporary Result's value() would dangle.
template <typename R>
auto got(R result) {
  REQUIRE(result.ok());
  return std::move(result).value();
}

std::string everything_read(skedd::Store& store, const std::vector<std::string>& jobs,
                            const std::vector<std::string>& keys) {
  std::ostringstream out;
  out << std::setprecision(17);
  const auto us = [](skedd::Instant t) { return t.time_since_epoch().count(); };
  const auto opt = [](const auto& v) {
    std::ostringstream o;
    o << std::setprecision(17);
    if (v) {
      o << *v;
    } else {
      o << "-";
    }
    return o.str();
  };
  for (const skedd::RunRecord& r : got(store.runs({std::nullopt, std::nullopt, 1000}))) {
    out << "run " << r.run.value << " " << r.job << " scheduled " << us(r.scheduled) << " attempt "
        << r.attempt << " " << skedd::to_string(r.state) << " exit " << opt(r.exit_code)
        << " signal " << opt(r.signal) << " pid " << opt(r.pid) << " " << opt(r.pid_start)
        << " started " << us(r.started) << " ended "
        << (r.ended ? std::to_string(us(*r.ended)) : "-") << " lateness " << r.lateness.count()
        << " checkpoint " << r.checkpoint << " log " << r.log_path << " message " << r.message
        << " progress " << opt(r.progress) << " " << r.progress_message << " frozen "
        << r.frozen.count() << " tail " << r.output_tail << " owner " << opt(r.owner) << "\n";
  }
  for (const auto& [job, r] : got(store.latest_ended_runs())) {
    out << "latest ended of " << job << ": " << r.run.value << "\n";
  }
  for (const skedd::PendingFire& p : got(store.pending_fires())) {
    out << "pending " << p.run.value << " " << p.job << " " << us(p.scheduled) << " due "
        << us(p.due) << " attempt " << p.attempt << " resumes " << p.resumes << "\n";
  }
  for (const auto& [job, t] : got(store.last_fires())) {
    out << "last fire " << job << " " << us(t) << "\n";
  }
  for (const auto& [job, t] : got(store.next_fires())) {
    out << "next fire " << job << " " << us(t) << "\n";
  }
  for (const std::string& job : got(store.paused())) out << "paused '" << job << "'\n";
  for (const auto& [job, since] : got(store.identities())) {
    out << "identity " << job << " since " << since.value << "\n";
  }
  REQUIRE(
      store
          .for_each_latest_job_version([&](const std::string& job, int version,
                                           const std::string& definition, const std::string& tree) {
            out << "latest version " << job << " " << version << " " << definition << " tree "
                << tree << "\n";
          })
          .ok());
  for (const std::string& job : jobs) {
    for (const skedd::NotRunRecord& nr : got(store.not_run(job, 1000))) {
      out << "not run " << job << " " << skedd::to_string(nr.state) << " "
          << skedd::to_string(nr.reason) << " " << us(nr.first) << " " << us(nr.last) << " "
          << nr.count << "\n";
    }
    for (const auto& [version, definition] : got(store.job_versions(job))) {
      out << "version " << job << " " << version << " " << definition << "\n";
    }
    out << "runs of " << job << ":";
    for (const skedd::RunRecord& r : got(store.runs({job, std::nullopt, 1000}))) {
      out << " " << r.run.value;
    }
    out << "\n";
  }
  for (const std::string& key : keys) {
    out << "meta " << key << " " << store.meta(key).value().value_or("-") << "\n";
  }
  return out.str();
}

// Makes the same writes in two stores and reads both back, one still open and the other
// reopened: the reopened one reads back all that the open one does (which the contract tests
// check). The one reopened is only read after its close, which writes what its writer held.
void check_survives_reopen(const std::function<void(skedd::Store&)>& write,
                           const std::vector<std::string>& jobs,
                           const std::vector<std::string>& keys = {}) {
  skedd::test::TempDir dir("skedd-store-test");
  const std::string path = dir / "skedd.db";
  auto kept = open(dir / "kept.db");
  write(*kept);
  REQUIRE(kept->flush().ok());
  {
    auto store = open(path);
    write(*store);
    REQUIRE(store->flush().ok());
  }
  const std::string before = everything_read(*kept, jobs, keys);
  REQUIRE(before != everything_read(*open(dir / "empty.db"), jobs, keys));  // not vacuous
  CHECK(everything_read(*open(path), jobs, keys) == before);
}

}  // namespace

TEST_CASE("runs survive a reopen with every field", "[store]") {
  check_survives_reopen(store_test::write_runs_with_every_field, {"backup", "report"});
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
        "state database " + path + " has schema version 99, newer than this skedd knows (" +
            std::to_string(skedd::sqlite_schema::kSchemaVersion) +
            "): run the newer skedd, or restore a backup made by this version");
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

TEST_CASE("last fires and meta values survive a reopen", "[store]") {
  check_survives_reopen(store_test::write_last_fires_and_meta, {"a", "b"}, {"boot_id", "nothing"});
}

TEST_CASE("pending fires, and the records that settled others, survive a reopen", "[store]") {
  check_survives_reopen(store_test::write_fires_settled_or_not, {"a", "b", "c", "d"});
}

TEST_CASE("a run's progress and output survive a reopen, a run forgotten stays so", "[store]") {
  check_survives_reopen(store_test::write_run_forgotten_before_spawn, {"a"});
}

TEST_CASE("next fires, pause flags and job versions survive a reopen", "[store]") {
  check_survives_reopen(store_test::write_next_fires_pauses_versions,
                        {"", "a", "b", "c", "d", "e"});
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

TEST_CASE("a fire taken from its schedule survives a reopen", "[store]") {
  // Its job row was held back: the close writes it.
  check_survives_reopen(store_test::write_fires_taken, {"a", "b"});
}

TEST_CASE("runs not ended are in the index of such runs", "[store]") {
  skedd::test::TempDir dir("skedd-store-test");
  auto store = open(dir / "skedd.db");
  store_test::write_runs_in_each_state(*store);
  REQUIRE(store->flush().ok());
  // The queries for a state a run has not ended in use the index of such runs.
  SQLite::Database db(dir / "skedd.db", SQLite::OPEN_READONLY);
  CHECK(db.execAndGet("SELECT count(*) FROM runs INDEXED BY runs_active WHERE ended_us IS NULL "
                      "AND state = 'running'")
            .getInt() == 3);
}

TEST_CASE("a retired name's pending fires are found by its index, not a scan of all fires",
          "[store]") {
  skedd::test::TempDir dir("skedd-store-test");
  {
    auto store = open(dir / "skedd.db");
    store->put_fire(pending_at("backup", "2026-01-01T00:00:10Z", 10));
    store->put_fire(pending_at("other", "2026-01-01T00:00:10Z", 11));
    store->put_fire(pending_at("backup", "2026-01-01T00:00:20Z", 30));
    store->retire_job("backup", skedd::RunId{20});
    REQUIRE(store->flush().ok());
  }
  SQLite::Database db(dir / "skedd.db", SQLite::OPEN_READONLY);
  // With 100,000 jobs' fires pending, a scan per retirement (every job added retires its
  // name) held the writer, and every fire behind it, for seconds.
  SQLite::Statement plan(db,
                         "EXPLAIN QUERY PLAN DELETE FROM pending_fires WHERE job = ? AND run < ?");
  std::string steps;
  while (plan.executeStep()) steps += plan.getColumn(3).getString() + "; ";
  INFO(steps);
  CHECK(steps.find("SEARCH pending_fires USING INDEX pending_by_job (job=? AND run<?)") !=
        std::string::npos);
  CHECK(db.execAndGet("SELECT group_concat(run) FROM (SELECT run FROM pending_fires ORDER BY run)")
            .getString() == "11,30");
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

TEST_CASE("a fire skipped as it was taken survives a reopen", "[store]") {
  check_survives_reopen(store_test::write_fires_skipped_as_taken, {"a", "b"});
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

TEST_CASE("fires folded into a fire taken have their job row held with its", "[store]") {
  skedd::test::TempDir dir("skedd-store-test");
  const std::string path = dir / "skedd.db";
  auto store = open(path);
  store_test::write_fires_folded_into_taken(*store);
  REQUIRE(store->flush().ok());
  // What a crash leaves while the job row is held back: the last fire, from the pending fire.
  const std::string copy = committed_copy(path, dir / "copy.db");
  CHECK(open(copy)->last_fires().value().at("a") == sched(7));
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
