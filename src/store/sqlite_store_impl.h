// The SQLite store's internals, shared by its files: the writes queued for the writer
// thread, and the store itself. sqlite_store.cpp opens the database and runs the writer and
// checkpoint threads; sqlite_writes.cpp turns batches of writes into statements;
// sqlite_reads.cpp answers the queries. Only src/store/ includes this.
#pragma once

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

#include "skedd/store/sqlite_store.h"
#include "store/multi_row.h"
#include "store/sqlite_schema.h"
#include "util/thread_name.h"

namespace skedd::sqlite_store {

using sqlite_schema::kMigrations;
using sqlite_schema::kSchemaVersion;

// How long the writer lets writes gather before a commit (see write_loop): the short window,
// and the long one it uses while the last batch held kBusyBatch writes or more. Under a heavy
// load each commit then carries more writes: a commit's cost is mostly the pages it writes,
// and pages are shared by the writes of one batch.
constexpr auto kGatherWindow = std::chrono::milliseconds(2);
constexpr auto kBusyGatherWindow = std::chrono::milliseconds(20);
constexpr std::size_t kBusyBatch = 256;
// How many queued writes' room the writer keeps between batches (see write_loop).
constexpr std::size_t kKeptCapacity = 8192;
// How often the WAL is copied into the database file (see checkpoint_loop).
constexpr auto kCheckpointInterval = std::chrono::milliseconds(500);
// The columns of a runs row and of a pending_fires row, as their inserts name them. A plain
// run (see is_plain()) has only the first nine: the others keep their defaults (NULL, '' or
// 0), as in the full row, with ten fewer values to bind and encode.
constexpr const char* kIntoRuns =
    " INTO runs (id, job, scheduled_us, attempt, state, exit_code, started_us, ended_us, "
    "lateness_us, signal, pid, checkpoint, log_path, message, pid_start, progress, "
    "progress_message, frozen_us, output_tail, owner) VALUES ";
constexpr const char* kRunRow = "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
constexpr const char* kIntoPlainRuns =
    " INTO runs (id, job, scheduled_us, attempt, state, exit_code, started_us, ended_us, "
    "lateness_us) VALUES ";
constexpr const char* kPlainRunRow = "(?,?,?,?,?,?,?,?,?)";
// A fire taken writes its job's job_state row (last and next fire) not at once but with the
// other rows held back (see held_rows_): kJobRowsAge after the first of them, after
// kJobRowsFires fires, before a write that deletes runs, when next_fires() is read, and when
// the store closes. A busy job fires many times between two writes of its row, and each write
// dirtied a page picked by the job's name: under a heavy load, nearly a page per fire.
constexpr auto kJobRowsAge = std::chrono::seconds(5);
constexpr std::size_t kJobRowsFires = 500000;
// The meta row holding, while some job rows are held back, the lowest run id among their
// fires: each such fire is on record from that id on, as a pending fire and then as its run
// (a not-run record writes its job's row at once), and last_fires() reads them.
constexpr const char* kHeldSinceKey = "job_rows_held_since_run";
constexpr const char* kIntoPending =
    " INTO pending_fires (job, scheduled_us, due_us, attempt, resumes, run) VALUES ";

inline std::int64_t us(Instant t) {
  return t.time_since_epoch().count();
}
inline Instant instant(std::int64_t v) {
  return Instant(Duration(v));
}

struct CheckpointOp {
  RunId run;
  std::string text;
};
struct OutputOp {
  RunId run;
  std::string key;
  std::string value;
};
struct DeleteRunOp {
  RunId run;
};
struct ProgressOp {
  RunId run;
  double percent;
  std::string message;
};
struct NextFireOp {
  std::string job;
  std::optional<Instant> next;
};
struct FireTakenOp {
  PendingFire fire;
  std::optional<Instant> next;
  std::optional<NotRunRecord> folded;  // the fires folded into it, see Store::put_fire_taken()
};
struct FireNotRunOp {
  NotRunRecord record;
  std::optional<Instant> next;
};
struct NextFiresOp {
  Store::NextFires fires;
};
struct PausedOp {
  std::string job;
  bool paused;
};
struct VersionOp {
  std::string job;
  int version;
  std::string definition;
  std::string tree;
  Instant created;
  int keep = 0;
};
struct MetaOp {
  std::string key;
  std::string value;
};
/// Writes the job rows held back (see kJobRowsAge).
struct JobRowsOp {};
struct RetireOp {
  std::string job;
  RunId since_run;
};
struct OwnerOp {
  std::string job;
  uid_t owner;
};
struct PruneOp {
  std::vector<std::int64_t> runs;
  std::optional<Instant> cutoff;
  std::size_t keep_runs = 0;  ///< of each workflow's runs (see Store::prune())
};
using Op =
    std::variant<RunRecord, CheckpointOp, OutputOp, WorkflowRunRecord, NotRunRecord, PendingFire,
                 FireTakenOp, FireNotRunOp, MetaOp, PruneOp, DeleteRunOp, ProgressOp, NextFireOp,
                 NextFiresOp, PausedOp, VersionOp, JobRowsOp, RetireOp, OwnerOp>;

class SqliteStore final : public Store {
 public:
  SqliteStore(std::unique_ptr<SQLite::Database> writer, std::unique_ptr<SQLite::Database> reader,
              std::unique_ptr<SQLite::Database> checkpointer, int wal_limit_pages)
      : wal_limit_pages_(wal_limit_pages),
        writer_db_(std::move(writer)),
        reader_db_(std::move(reader)),
        checkpoint_db_(std::move(checkpointer)) {
    ::sqlite3_wal_hook(writer_db_->getHandle(), &SqliteStore::on_wal_commit, this);
    thread_ = std::thread([this] {
      name_this_thread("skedd-store");
      write_loop();
    });
    checkpoint_thread_ = std::thread([this] {
      name_this_thread("skedd-wal");
      checkpoint_loop();
    });
  }
  ~SqliteStore() override {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    checkpoint_cv_.notify_all();
    thread_.join();
    checkpoint_thread_.join();
  }

  void put_run(RunRecord run) override { enqueue(std::move(run)); }
  void put_checkpoint(RunId run, const std::string& text) override {
    enqueue(CheckpointOp{run, text});
  }
  void put_output(RunId run, const std::string& key, const std::string& value) override {
    enqueue(OutputOp{run, key, value});
  }
  void put_workflow_run(const WorkflowRunRecord& run) override { enqueue(run); }
  Result<std::vector<WorkflowRunRecord>> workflow_runs(const WorkflowRunQuery& query) override;
  void put_not_run(const NotRunRecord& record) override { enqueue(record); }
  void put_fire_not_run(const NotRunRecord& record, std::optional<Instant> next) override {
    enqueue(FireNotRunOp{record, next});
  }
  void delete_run(RunId run) override { enqueue(DeleteRunOp{run}); }
  void put_fire(const PendingFire& fire) override { enqueue(fire); }
  void put_fire_taken(const PendingFire& fire, std::optional<Instant> next,
                      std::optional<NotRunRecord> folded) override {
    enqueue(FireTakenOp{fire, next, std::move(folded)});
  }
  void put_progress(RunId run, double percent, const std::string& message) override {
    enqueue(ProgressOp{run, percent, message});
  }
  void put_next_fire(const std::string& job, std::optional<Instant> next) override {
    enqueue(NextFireOp{job, next});
  }
  void put_next_fires(NextFires fires) override { enqueue(NextFiresOp{std::move(fires)}); }
  void put_paused(const std::string& job, bool paused) override { enqueue(PausedOp{job, paused}); }
  void put_job_version(const std::string& job, int version, const std::string& definition,
                       const std::string& tree, Instant created, int keep) override {
    enqueue(VersionOp{job, version, definition, tree, created, keep});
  }
  void put_meta(const std::string& key, const std::string& value) override {
    enqueue(MetaOp{key, value});
  }
  void retire_job(const std::string& job, RunId since_run) override {
    enqueue(RetireOp{job, since_run});
  }
  void assign_owner(const std::string& job, uid_t owner) override { enqueue(OwnerOp{job, owner}); }

  Status flush() override {
    std::unique_lock lock(mu_);
    const std::uint64_t target = queued_;
    const std::uint64_t failures = failures_;
    ++flush_waiting_;
    cv_.notify_one();
    // Done when committed, or when a commit tried after this call failed.
    done_cv_.wait(lock, [&] { return committed_ >= target || failures_ > failures; });
    --flush_waiting_;
    if (committed_ >= target) return Ok{};
    return Error::io(last_error_);
  }

  void when_committed(std::function<void(Status)> done, Pace pace) override {
    {
      std::lock_guard lock(mu_);
      if (committed_ < queued_) {
        waiters_.push_back(Waiter{queued_, std::move(done), pace == Pace::kNow});
        if (pace == Pace::kNow) {
          ++urgent_waiters_;
          cv_.notify_one();
        }
        return;
      }
    }
    done(Ok{});
  }

  void begin_group() override {
    std::lock_guard lock(mu_);
    if (open_groups_++ == 0) group_start_ = pending_.size();
  }
  void end_group() override {
    {
      std::lock_guard lock(mu_);
      if (--open_groups_ > 0 || pending_.empty()) return;
      // Writes before the group were takeable: the writer is awake or gathering already. A
      // wake-up per group (one per fire) cost both threads a futex call each.
      if (group_start_ > 0) return;
    }
    cv_.notify_one();
  }

  StoreHealth health() override {
    std::lock_guard lock(mu_);
    return StoreHealth{last_error_.empty(), last_error_, queued_ - committed_, commit_times_};
  }

  Result<std::vector<RunRecord>> runs(const RunQuery& query) override;
  Result<std::map<std::string, RunRecord>> latest_ended_runs() override;
  Result<std::map<std::string, RunRecord>> latest_runs_ended_as(
      const std::vector<RunState>& states) override;
  Result<std::vector<NotRunRecord>> not_run(const std::string& job, std::size_t limit) override;
  Result<std::map<std::string, Instant>> last_fires() override;
  Result<std::map<std::string, Instant>> next_fires() override;
  Result<std::vector<PendingFire>> pending_fires() override;
  Result<std::vector<std::string>> paused() override;
  Result<std::vector<std::pair<int, std::string>>> job_versions(const std::string& job) override;
  Status for_each_latest_job_version(const VersionVisitor& visit) override;
  Result<std::map<std::string, RunId>> identities() override;
  Result<std::optional<std::string>> meta(const std::string& key) override;
  Result<std::vector<std::string>> prune(std::size_t keep_runs,
                                         std::optional<Instant> cutoff) override;

 private:
  void enqueue(Op op) {
    bool wake = false;
    {
      std::lock_guard lock(mu_);
      // Only an empty queue can have the writer asleep on it: one wake-up per batch (an open
      // group wakes it when it ends).
      wake = pending_.empty() && open_groups_ == 0;
      pending_.push_back(std::move(op));
      ++queued_;
    }
    if (wake) cv_.notify_one();
  }
  // How many queued writes the writer may take: not those of an open group.
  std::size_t takeable() const { return open_groups_ > 0 ? group_start_ : pending_.size(); }
  // Calls the waiters whose writes are all in the first `upto` ops, with `status`.
  void notify_waiters(std::unique_lock<std::mutex>& lock, std::uint64_t upto, const Status& status);
  void write_loop();
  /// sqlite3_wal_hook: after each commit, the WAL's size in pages.
  static int on_wal_commit(void* self, sqlite3* db, const char* name, int frames);
  /// Copies the whole WAL into the database so that it starts over (see write_loop).
  void restart_wal();
  int wal_frames_ = 0;  // writer thread only: the WAL's size after the last commit
  const int wal_limit_pages_;
  /// Copies the WAL into the database file (and syncs it) off the writer's thread, so that a
  /// commit never waits for that; the writer's own automatic checkpoints are off.
  void checkpoint_loop();
  void apply(const Op& op);
  void write_next_fire(const std::string& job, std::optional<Instant> next);
  /// Upserts the meta row `key`, or (nullopt) deletes it.
  /// RetireOp: see Store::retire_job().
  void retire_identity(const std::string& job, RunId since_run);
  void write_meta(const std::string& key, const std::optional<std::string>& value);
  void insert_pending(const PendingFire& fire);

  std::unique_ptr<SQLite::Database> writer_db_;      // only the writer thread uses it
  std::unique_ptr<SQLite::Database> reader_db_;      // GUARDED_BY(read_mu_)
  std::unique_ptr<SQLite::Database> checkpoint_db_;  // only the checkpoint thread uses it
  std::thread checkpoint_thread_;
  // One checkpoint at a time: a RESTART that meets the passive one running gives up at once
  // (SQLite allows one checkpointer), and the WAL grows by a batch each time it does.
  std::mutex checkpoint_mu_;
  std::mutex read_mu_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable done_cv_;
  std::condition_variable checkpoint_cv_;  // the checkpoint thread's: stop_, or a WAL to copy
  // A vector, not a deque: an Op is a few hundred bytes, and a deque allocated a block for
  // each; the writer swaps it with its emptied batch, so both keep their capacity.
  std::vector<Op> pending_;      // GUARDED_BY(mu_)
  std::uint64_t queued_ = 0;     // GUARDED_BY(mu_): ops ever enqueued
  std::uint64_t committed_ = 0;  // GUARDED_BY(mu_): ops ever committed
  std::string last_error_;       // GUARDED_BY(mu_): empty after a successful commit
  CommitTimes commit_times_;     // GUARDED_BY(mu_)
  std::uint64_t failures_ = 0;   // GUARDED_BY(mu_): failed commits
  bool stop_ = false;            // GUARDED_BY(mu_)
  int flush_waiting_ = 0;        // GUARDED_BY(mu_): callers blocked in flush()
  struct Waiter {
    std::uint64_t target;  // committed_ at which it is done
    std::function<void(Status)> done;
    bool urgent;  // Pace::kNow
  };
  std::deque<Waiter> waiters_;   // GUARDED_BY(mu_), by target
  int urgent_waiters_ = 0;       // GUARDED_BY(mu_): those of waiters_ with Pace::kNow
  int open_groups_ = 0;          // GUARDED_BY(mu_)
  std::size_t group_start_ = 0;  // GUARDED_BY(mu_): pending_ index where the open group begins
  std::thread thread_;

  // Writer thread only: per job, the not_run row that a next record of the same state and
  // reason extends; cleared when a run of the job is recorded.
  struct Tail {
    std::int64_t row;
    RunState state;
    NotRunReason reason;
  };
  std::map<std::string, Tail> tails_;

  // Writer thread only: the job_state rows of fires taken, held back (see kJobRowsAge).
  struct HeldRow {
    Instant last;
    std::optional<Instant> next;
  };
  using HeldRows = std::unordered_map<std::string, HeldRow>;
  HeldRows held_rows_;
  std::int64_t held_low_run_ = 0;  // the lowest run id of their fires (0: none held)
  std::size_t held_fires_ = 0;
  std::chrono::steady_clock::time_point held_since_;
  // Rows written in the open transaction, put back if its commit fails, and their low run.
  HeldRows written_rows_;
  std::int64_t written_low_run_ = 0;
  std::int64_t recorded_low_run_ = 0;   // kHeldSinceKey as committed (0: no such row)
  std::int64_t recording_low_run_ = 0;  // as the open transaction writes it
  /// Adds `row` to `rows`: the later last fire of the two, and its next fire if `newer`.
  static void merge_row(HeldRows& rows, const std::string& job, const HeldRow& row, bool newer);
  /// Holds back the job row of `fire`, taken with `next` its job's fire after it.
  void hold_job_row(const FireTakenOp& fire);
  /// Writes the rows held back.
  void write_held_rows();
  /// At the end of a batch's transaction: the held rows written if they are due, and
  /// kHeldSinceKey made to match the rows still held.
  void end_held_rows(bool closing);
  /// After the transaction: `committed` or rolled back.
  void settle_held_rows(bool committed);

  // Writer thread only: prepared statements, see statement().
  SQLite::Statement& statement(std::unique_ptr<SQLite::Statement>& slot, const char* sql);
  std::unique_ptr<SQLite::Statement> upsert_fire_, upsert_meta_, delete_run_, delete_not_run_,
      update_checkpoint_, extend_not_run_, delete_pending_, update_progress_, upsert_next_,
      delete_next_, insert_paused_, delete_paused_, insert_version_, delete_meta_, upsert_identity_,
      delete_old_pending_, delete_job_state_, upsert_output_, delete_outputs_, upsert_workflow_run_;
  void write_workflow_run(const WorkflowRunRecord& run);
  /// Deletes run `id`'s record and its outputs.
  void delete_run_rows(std::int64_t id);
  /// Applies the batch; runs, fires taken and fires not run go by kind in multi-row statements,
  /// each job's writes in their order (see the definition).
  void apply_batch(const std::vector<Op>& batch);
  void apply_runs(const RunRecord* const* runs, std::size_t n);
  /// Runs `rows` for n rows, `bind(statement, base, k)` binding row k from parameter base + 1
  /// on; the rows it changed.
  template <typename Bind>
  int exec_rows(MultiRowStatement& rows, std::size_t n, const Bind& bind);
  /// Writes n rows with `insert` (OR IGNORE), or, if any was there already, each with
  /// `replace`; `bind` as for exec_rows().
  template <typename Bind>
  void insert_or_replace(MultiRowStatement& insert, MultiRowStatement& replace, std::size_t n,
                         const Bind& bind);
  void apply_fires_taken(const FireTakenOp* const* fires, std::size_t n);
  void apply_fires_not_run(const std::vector<const FireNotRunOp*>& ops);
  /// The not_run rows of `records`, in their order (see the definition).
  void append_not_runs(const std::vector<const NotRunRecord*>& records);
  /// Adds `nr`'s fires to the not_run row `row`.
  void extend_not_run(std::int64_t row, const NotRunRecord& nr);
  /// Writes new not_run rows, in order, and makes each its job's tail.
  void insert_not_runs(const std::vector<NotRunRecord>& records);
  // The multi-row writes say OR FAIL or OR IGNORE, never the default ABORT or REPLACE: with
  // those (a NOT NULL column without a default is enough) SQLite keeps a statement journal, a
  // copy of every page the statement changes, so as to undo just that statement. A failed
  // write here rolls the whole batch back, so that undo is never needed; it cost a quarter of
  // the writer's time. Rows that may exist already (a run's final row after its running row,
  // a retry's pending fire) are inserted OR IGNORE and, if any was ignored, the rows are
  // written again one by one with REPLACE (see insert_or_replace()).
  MultiRowStatement insert_not_run_{
      "INSERT OR FAIL INTO not_run (job, state, reason, first_us, last_us, count) VALUES ",
      "(?,?,?,?,?,?)", ","};
  MultiRowStatement insert_runs_{std::string("INSERT OR IGNORE") + kIntoRuns, kRunRow, ","};
  MultiRowStatement replace_run_{std::string("INSERT OR REPLACE") + kIntoRuns, kRunRow, ","};
  MultiRowStatement insert_plain_runs_{std::string("INSERT OR IGNORE") + kIntoPlainRuns,
                                       kPlainRunRow, ","};
  MultiRowStatement replace_plain_run_{std::string("INSERT OR REPLACE") + kIntoPlainRuns,
                                       kPlainRunRow, ","};
  MultiRowStatement insert_pending_{std::string("INSERT OR IGNORE") + kIntoPending, "(?,?,?,?,?,?)",
                                    ","};
  MultiRowStatement replace_pending_{std::string("INSERT OR REPLACE") + kIntoPending,
                                     "(?,?,?,?,?,?)", ","};
  MultiRowStatement upsert_taken_{
      "INSERT OR FAIL INTO job_state (job, last_fire_us, next_us) VALUES ", "(?,?,?)", ",",
      " ON CONFLICT (job) DO UPDATE SET last_fire_us = MAX(IFNULL(last_fire_us, "
      "excluded.last_fire_us), excluded.last_fire_us), next_us = excluded.next_us"};
  void apply_not_run(const NotRunRecord& nr);
  /// Settles the pending fire reserved as `run`, if there is one.
  void delete_pending(RunId run);
  /// The not_run row of `nr`: the job's last one extended, or a new one.
  void append_not_run(const NotRunRecord& nr);
  void upsert_last_fire(const std::string& job, Instant t);
};

}  // namespace skedd::sqlite_store
