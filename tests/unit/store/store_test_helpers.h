// What the store tests share: the records they write, the SQLite store opened on a test's
// file, and the writes of the tests that run both as contract tests (read back from the same
// store, store_contract_test.cpp) and as SQLite tests (read back after a reopen or a crash,
// sqlite_store_test.cpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <catch2/catch.hpp>

#include "skedd/store/sqlite_store.h"
#include "skedd/store/store.h"
#include "skedd/time/timestamp.h"

namespace store_test {

inline skedd::Instant at(const std::string& t) {
  return skedd::parse_rfc3339(t).value();
}

/// A run of `job` of the fire at 07:30, started a millisecond later, with a pid and a log.
inline skedd::RunRecord run(std::uint64_t id, const std::string& job, skedd::RunState state) {
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

/// A pending fire of `job` at `t` (RFC 3339) under run id `run`, due at `due` (default: `t`).
inline skedd::PendingFire pending_at(const std::string& job, const std::string& t,
                                     std::uint64_t run, const std::string& due = "",
                                     int attempt = 1) {
  return {job, at(t), at(due.empty() ? t : due), attempt, 0, skedd::RunId{run}};
}

/// The fires' instants in the batch tests: `i` seconds after a fixed start.
inline skedd::Instant sched(int i) {
  return at("2026-03-08T07:30:00Z") + std::chrono::seconds(i);
}

/// The SQLite store at `path`; the test fails with its error if it cannot be opened.
inline std::unique_ptr<skedd::Store> open(const std::string& path) {
  auto store = skedd::open_sqlite_store(path);
  INFO((store ? std::string() : store.error().message));
  REQUIRE(store.ok());
  return std::move(store).value();
}

// The writes below are each shared by a contract test, which says what is read back, and a
// SQLite test of the same writes across a reopen or a crash. None flushes.

/// Run 1 of backup, written running, given checkpoint step-2, then written again failed
/// (exit 3, ended 07:31, checkpoint step-3, message boom); then run 2 of report, succeeded.
inline void write_runs_with_every_field(skedd::Store& store) {
  skedd::RunRecord r = run(1, "backup", skedd::RunState::kRunning);
  store.put_run(r);
  store.put_checkpoint(r.run, "step-2");
  r.state = skedd::RunState::kFailed;
  r.exit_code = 3;
  r.ended = at("2026-03-08T07:31:00Z");
  r.checkpoint = "step-3";
  r.message = "boom";
  store.put_run(r);
  store.put_run(run(2, "report", skedd::RunState::kSucceeded));
}

/// Fires of a at 00:00:10 then (older) 00:00:05, of b on 01-02; meta boot_id set to one, then
/// two.
inline void write_last_fires_and_meta(skedd::Store& store) {
  store.put_fire(pending_at("a", "2026-01-01T00:00:10Z", 1));
  store.put_fire(pending_at("a", "2026-01-01T00:00:05Z", 2));
  store.put_fire(pending_at("b", "2026-01-02T00:00:00Z", 3));
  store.put_meta("boot_id", "one");
  store.put_meta("boot_id", "two");
}

/// Pending fires settled or not: a's (run 1, 07:30) by its run; b's (run 5, 07:31, due
/// 07:31:05) by a not-run record naming it; c's first attempt (run 2, 07:32) by its failed run,
/// with its retry (run 3, due 07:33) pending in the same group; d's (run 6, 07:40) neither by a
/// not-run record of no pending fire nor by run 7 of another fire at the same instant.
inline void write_fires_settled_or_not(skedd::Store& store) {
  using skedd::NotRunReason;
  using skedd::RunState;
  store.put_fire(pending_at("a", "2026-03-08T07:30:00Z", 1));
  store.put_fire(pending_at("b", "2026-03-08T07:31:00Z", 5, "2026-03-08T07:31:05Z"));
  store.put_fire(pending_at("c", "2026-03-08T07:32:00Z", 2));
  store.put_run(run(1, "a", RunState::kScheduled));  // a's fire is 07:30 too
  store.put_not_run({"b", RunState::kMissed, NotRunReason::kStartingDeadline,
                     at("2026-03-08T07:31:00Z"), at("2026-03-08T07:31:00Z"), 1, skedd::RunId{5}});
  {
    // A failed attempt and its retry's pending fire: one write.
    skedd::StoreGroup group(store);
    skedd::RunRecord failed = run(2, "c", RunState::kFailed);
    failed.scheduled = at("2026-03-08T07:32:00Z");
    store.put_run(failed);
    store.put_fire(pending_at("c", "2026-03-08T07:32:00Z", 3, "2026-03-08T07:33:00Z", 2));
  }
  // Settled by its own run id only: not by a not-run record of no pending fire (a fold),
  // nor by the run of another fire at the same instant (a trigger's).
  store.put_fire(pending_at("d", "2026-03-08T07:40:00Z", 6));
  store.put_not_run({"d", RunState::kMissed, NotRunReason::kOverloaded, at("2026-03-08T07:39:00Z"),
                     at("2026-03-08T07:40:00Z"), 2});
  skedd::RunRecord other = run(7, "d", RunState::kSucceeded);
  other.scheduled = at("2026-03-08T07:40:00Z");
  store.put_run(other);
}

/// Runs of a: 1 recorded before its spawn and deleted, 2 running with progress 42.5
/// "copying", 3 succeeded with an output tail of bytes "last\0bytes\xff" and 3 s frozen.
inline void write_run_forgotten_before_spawn(skedd::Store& store) {
  using skedd::RunState;
  store.put_run(run(1, "a", RunState::kScheduled));
  store.put_run(run(2, "a", RunState::kRunning));
  store.put_progress(skedd::RunId{2}, 42.5, "copying");
  store.delete_run(skedd::RunId{1});
  skedd::RunRecord done = run(3, "a", RunState::kSucceeded);
  done.output_tail = std::string("last\0bytes\xff", 11);
  done.frozen = std::chrono::seconds(3);
  store.put_run(done);
}

/// Next fires: a 08:00 and c 10:00 remain (b's and d's set, then cleared). Paused: a and the
/// global flag (b paused, then not). Versions: a 1 and 2 (tree "T\0" "2"), e 1 and 2 (removed:
/// empty text and tree).
inline void write_next_fires_pauses_versions(skedd::Store& store) {
  store.put_next_fire("a", at("2026-03-08T08:00:00Z"));
  store.put_next_fire("b", at("2026-03-08T09:00:00Z"));
  store.put_next_fire("b", std::nullopt);
  store.put_next_fires({{"c", at("2026-03-08T10:00:00Z")}, {"d", at("2026-03-08T11:00:00Z")}});
  store.put_next_fires({{"d", std::nullopt}});
  store.put_paused("a", true);
  store.put_paused("", true);
  store.put_paused("b", true);
  store.put_paused("b", false);
  store.put_job_version("a", 1, "command = [\"true\"]", "T1", at("2026-03-08T07:00:00Z"));
  store.put_job_version("a", 2, "command = [\"false\"]",
                        std::string("T\0"
                                    "2",
                                    3),
                        at("2026-03-08T07:10:00Z"));
  store.put_job_version("e", 1, "command = [\"true\"]", "T1", at("2026-03-08T07:00:00Z"));
  store.put_job_version("e", 2, "", "", at("2026-03-08T07:20:00Z"));
}

/// Fires taken: a's 07:30 (run 7, next 07:31), then a's older 07:20 (run 8, a catch-up, next
/// 07:31); b's 08:00 (run 9), a one-shot's with no next fire after one had been recorded.
inline void write_fires_taken(skedd::Store& store) {
  store.put_fire_taken(pending_at("a", "2026-03-08T07:30:00Z", 7), at("2026-03-08T07:31:00Z"));
  // An older fire taken later (a catch-up) keeps the last fire where it is.
  store.put_fire_taken(pending_at("a", "2026-03-08T07:20:00Z", 8), at("2026-03-08T07:31:00Z"));
  // A one-shot's fire: no next.
  store.put_next_fire("b", at("2026-03-08T08:00:00Z"));
  store.put_fire_taken(pending_at("b", "2026-03-08T08:00:00Z", 9), std::nullopt);
}

/// Fires skipped as they were taken: a's at 07:30 (next 07:30:01) and 07:30:01 (next
/// 07:30:02), both overlap; b's at 08:00, paused, a one-shot's (no next fire after it).
inline void write_fires_skipped_as_taken(skedd::Store& store) {
  using skedd::NotRunReason;
  using skedd::RunState;
  store.put_fire_not_run({"a", RunState::kSkipped, NotRunReason::kOverlap,
                          at("2026-03-08T07:30:00Z"), at("2026-03-08T07:30:00Z"), 1},
                         at("2026-03-08T07:30:01Z"));
  store.put_fire_not_run({"a", RunState::kSkipped, NotRunReason::kOverlap,
                          at("2026-03-08T07:30:01Z"), at("2026-03-08T07:30:01Z"), 1},
                         at("2026-03-08T07:30:02Z"));
  // A one-shot's: no next fire.
  store.put_next_fire("b", at("2026-03-08T08:00:00Z"));
  store.put_fire_not_run({"b", RunState::kSkipped, NotRunReason::kPaused,
                          at("2026-03-08T08:00:00Z"), at("2026-03-08T08:00:00Z"), 1},
                         std::nullopt);
}

/// Runs 1 (a, running), 2 (a, scheduled), 3 (b, running), 4 (b, succeeded, ended) and 5 (c,
/// running, written with an end time).
inline void write_runs_in_each_state(skedd::Store& store) {
  using skedd::RunState;
  store.put_run(run(1, "a", RunState::kRunning));
  store.put_run(run(2, "a", RunState::kScheduled));
  store.put_run(run(3, "b", RunState::kRunning));
  skedd::RunRecord done = run(4, "b", RunState::kSucceeded);
  done.ended = at("2026-03-08T07:31:00Z");
  store.put_run(done);
  // A run recorded as running with an end time is still found as running (no end is kept).
  skedd::RunRecord odd = run(5, "c", RunState::kRunning);
  odd.ended = at("2026-03-08T07:31:00Z");
  store.put_run(odd);
}

/// Fires of a taken with the fires folded into them: sched(5) (run 7, next sched(6)) with
/// sched(1) to sched(4) (4 fires), then sched(7) (run 8, next sched(8)) with sched(6).
inline void write_fires_folded_into_taken(skedd::Store& store) {
  using skedd::NotRunReason;
  using skedd::RunState;
  auto folded = [&](int first, int last, std::uint64_t count) {
    return skedd::NotRunRecord{"a",          RunState::kMissed, NotRunReason::kOverloaded,
                               sched(first), sched(last),       count};
  };
  store.put_fire_taken({"a", sched(5), sched(5), 1, 0, skedd::RunId{7}}, sched(6), folded(1, 4, 4));
  store.put_fire_taken({"a", sched(7), sched(7), 1, 0, skedd::RunId{8}}, sched(8), folded(6, 6, 1));
}

}  // namespace store_test
