#include "skedd/store/sqlite_store.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <cassert>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

#include "store/multi_row.h"
#include "store/sqlite_schema.h"
#include "util/thread_name.h"

namespace skedd {
namespace {

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
// The columns of a runs row and of a pending_fires row, as their inserts name them.
constexpr const char* kIntoRuns =
    " INTO runs (id, job, scheduled_us, attempt, state, exit_code, signal, pid, started_us, "
    "ended_us, lateness_us, checkpoint, log_path, message, pid_start, progress, "
    "progress_message, frozen_us, output_tail) VALUES ";
constexpr const char* kRunRow = "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
constexpr const char* kIntoPending =
    " INTO pending_fires (job, scheduled_us, due_us, attempt, resumes, run) VALUES ";

std::int64_t us(Instant t) {
  return t.time_since_epoch().count();
}
Instant instant(std::int64_t v) {
  return Instant(Duration(v));
}

struct CheckpointOp {
  RunId run;
  std::string text;
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
};
struct MetaOp {
  std::string key;
  std::string value;
};
struct PruneOp {
  std::vector<std::int64_t> runs;
  std::optional<Instant> cutoff;
};
using Op = std::variant<RunRecord, CheckpointOp, NotRunRecord, PendingFire, FireTakenOp,
                        FireNotRunOp, MetaOp, PruneOp, DeleteRunOp, ProgressOp, NextFireOp,
                        NextFiresOp, PausedOp, VersionOp>;

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
  void put_not_run(const NotRunRecord& record) override { enqueue(record); }
  void put_fire_not_run(const NotRunRecord& record, std::optional<Instant> next) override {
    enqueue(FireNotRunOp{record, next});
  }
  void delete_run(RunId run) override { enqueue(DeleteRunOp{run}); }
  void put_fire(const PendingFire& fire) override { enqueue(fire); }
  void put_fire_taken(const PendingFire& fire, std::optional<Instant> next) override {
    enqueue(FireTakenOp{fire, next});
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
                       const std::string& tree, Instant created) override {
    enqueue(VersionOp{job, version, definition, tree, created});
  }
  void put_meta(const std::string& key, const std::string& value) override {
    enqueue(MetaOp{key, value});
  }

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
    return StoreHealth{last_error_.empty(), last_error_, queued_ - committed_};
  }

  Result<std::vector<RunRecord>> runs(const RunQuery& query) override;
  Result<std::map<std::string, RunRecord>> latest_ended_runs() override;
  Result<std::vector<NotRunRecord>> not_run(const std::string& job, std::size_t limit) override;
  Result<std::map<std::string, Instant>> last_fires() override;
  Result<std::map<std::string, Instant>> next_fires() override;
  Result<std::vector<PendingFire>> pending_fires() override;
  Result<std::vector<std::string>> paused() override;
  Result<std::vector<std::pair<int, std::string>>> job_versions(const std::string& job) override;
  Status for_each_latest_job_version(const VersionVisitor& visit) override;
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
  void insert_pending(const PendingFire& fire);

  std::unique_ptr<SQLite::Database> writer_db_;      // only the writer thread uses it
  std::unique_ptr<SQLite::Database> reader_db_;      // GUARDED_BY(read_mu_)
  std::unique_ptr<SQLite::Database> checkpoint_db_;  // only the checkpoint thread uses it
  std::thread checkpoint_thread_;
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

  // Writer thread only: prepared statements, see statement().
  SQLite::Statement& statement(std::unique_ptr<SQLite::Statement>& slot, const char* sql);
  std::unique_ptr<SQLite::Statement> upsert_fire_, upsert_meta_, delete_run_, delete_not_run_,
      update_checkpoint_, extend_not_run_, delete_pending_, delete_pending_range_, update_progress_,
      upsert_next_, delete_next_, insert_paused_, delete_paused_, insert_version_;
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
  MultiRowStatement insert_pending_{std::string("INSERT OR IGNORE") + kIntoPending, "(?,?,?,?,?,?)",
                                    ","};
  MultiRowStatement replace_pending_{std::string("INSERT OR REPLACE") + kIntoPending,
                                     "(?,?,?,?,?,?)", ","};
  MultiRowStatement upsert_taken_{
      "INSERT OR FAIL INTO job_state (job, last_fire_us, next_us) VALUES ", "(?,?,?)", ",",
      " ON CONFLICT (job) DO UPDATE SET last_fire_us = MAX(IFNULL(last_fire_us, "
      "excluded.last_fire_us), excluded.last_fire_us), next_us = excluded.next_us"};
  void apply_not_run(const NotRunRecord& nr);
  /// The not_run row of `nr`: the job's last one extended, or a new one.
  void append_not_run(const NotRunRecord& nr);
  void upsert_last_fire(const std::string& job, Instant t);
};

void SqliteStore::write_loop() {
  std::size_t last_batch = 0;
  std::vector<Op> batch;
  for (;;) {
    batch.clear();
    // Past a burst, a capacity far above a busy batch's is given back.
    if (batch.capacity() > kKeptCapacity) std::vector<Op>().swap(batch);
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stop_ || takeable() > 0; });
      if (stop_ && pending_.empty()) return;
      // Let a burst gather for a moment: fewer, larger commits, and fewer wake-ups competing
      // with the event loop and the runs for the CPU. flush() and waiters cut the wait short.
      // Writes that queued up while the last batch was committed make a busy batch already:
      // waiting more would only delay them (and the runs waiting for them).
      if (takeable() < kBusyBatch) {
        cv_.wait_for(lock, last_batch >= kBusyBatch ? kBusyGatherWindow : kGatherWindow,
                     [&] { return stop_ || flush_waiting_ > 0 || urgent_waiters_ > 0; });
      }
      if (stop_ && open_groups_ > 0) group_start_ = pending_.size();  // none will end now
      const std::size_t n = takeable();
      if (n == 0) continue;
      last_batch = n;
      if (n == pending_.size()) {
        batch.swap(pending_);
      } else {
        batch.insert(batch.end(), std::make_move_iterator(pending_.begin()),
                     std::make_move_iterator(pending_.begin() + static_cast<std::ptrdiff_t>(n)));
        pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(n));
      }
      if (open_groups_ > 0) group_start_ = 0;
    }
    // Group commit: everything queued meanwhile goes in one transaction, one fsync.
    std::string error;
    try {
      SQLite::Transaction tx(*writer_db_);
      apply_batch(batch);
      tx.commit();
    } catch (const std::exception& e) {
      error = e.what();
      tails_.clear();  // the rolled-back rows may be among them
    }
    if (error.empty() && wal_frames_ > wal_limit_pages_) {
      restart_wal();
    } else if (error.empty() && wal_frames_ > wal_limit_pages_ / 2) {
      // Past half the limit, the checkpoint thread copies what it can now, so that the
      // restart has less left to copy on this thread (the one every write waits for).
      checkpoint_cv_.notify_all();
    }
    std::unique_lock lock(mu_);
    if (error.empty()) {
      committed_ += batch.size();
      last_error_.clear();
      notify_waiters(lock, committed_, Ok{});
      done_cv_.notify_all();
      continue;
    }
    // Keep the batch, in order, ahead of what came meanwhile, and try again shortly. Those
    // waiting for these writes hear of the failure: they go on without them.
    last_error_ = error;
    ++failures_;
    pending_.insert(pending_.begin(), std::make_move_iterator(batch.begin()),
                    std::make_move_iterator(batch.end()));
    if (open_groups_ > 0) group_start_ += batch.size();
    notify_waiters(lock, committed_ + batch.size(), Error::io(error));
    done_cv_.notify_all();
    if (stop_) return;
    cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stop_; });
    if (stop_) return;
  }
}

int SqliteStore::on_wal_commit(void* self, sqlite3*, const char*, int frames) {
  static_cast<SqliteStore*>(self)->wal_frames_ = frames;
  return SQLITE_OK;
}

void SqliteStore::restart_wal() {
  // The passive checkpoints never catch up with a writer that never pauses, and SQLite starts
  // the WAL over only once it has all been copied: under a sustained load it would grow
  // without bound. This copies it all, waiting for readers (busy_timeout), and the next
  // commit starts it over (its file truncated to wal_limit_pages_ by journal_size_limit).
  try {
    writer_db_->exec("PRAGMA wal_checkpoint(RESTART)");
  } catch (const std::exception&) {
    // Busy past the timeout, or failing: tried again after a later commit.
  }
  wal_frames_ = 0;
}

void SqliteStore::checkpoint_loop() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    checkpoint_cv_.wait_for(lock, kCheckpointInterval);
    if (stop_) break;
    lock.unlock();
    try {
      // PASSIVE: copies what no reader still needs, never blocks the writer.
      checkpoint_db_->exec("PRAGMA wal_checkpoint(PASSIVE)");
    } catch (const std::exception&) {
      // Busy or failing: the WAL keeps the data; the next round tries again.
    }
    lock.lock();
  }
}

void SqliteStore::notify_waiters(std::unique_lock<std::mutex>& lock, std::uint64_t upto,
                                 const Status& status) {
  std::vector<std::function<void(Status)>> ready;
  while (!waiters_.empty() && waiters_.front().target <= upto) {
    if (waiters_.front().urgent) --urgent_waiters_;
    ready.push_back(std::move(waiters_.front().done));
    waiters_.pop_front();
  }
  if (ready.empty()) return;
  lock.unlock();
  for (auto& done : ready) done(status);
  lock.lock();
}

SQLite::Statement& SqliteStore::statement(std::unique_ptr<SQLite::Statement>& slot,
                                          const char* sql) {
  // Prepared once per store: preparing is a good part of a small write's cost.
  if (!slot) slot = std::make_unique<SQLite::Statement>(*writer_db_, sql);
  // tryReset(): sqlite3_reset() repeats the error of the statement's last step; reset()
  // would throw it, so that after one failed commit (locked, disk full) every retry failed.
  (void)slot->tryReset();
  slot->clearBindings();
  return *slot;
}

namespace {

// Binds a job_state row (as upsert_taken_ names its columns) from parameter `base` + 1 on.
void bind_job_row(SQLite::Statement& q, int base, const std::string& job, Instant last,
                  std::optional<Instant> next) {
  q.bindNoCopy(base + 1, job);
  q.bind(base + 2, us(last));
  if (next) q.bind(base + 3, us(*next));
}

// The job whose rows alone an op writes, when it is of a kind applied in multi-row statements
// (see apply_batch); nullptr for the rest.
const std::string* bulk_job(const Op& op) {
  if (const auto* run = std::get_if<RunRecord>(&op)) return &run->job;
  if (const auto* taken = std::get_if<FireTakenOp>(&op)) return &taken->fire.job;
  if (const auto* skipped = std::get_if<FireNotRunOp>(&op)) return &skipped->record.job;
  return nullptr;
}

}  // namespace

void SqliteStore::apply_batch(const std::vector<Op>& batch) {
  // Runs, fires taken and fires not run write only their own job's rows (its runs, pending
  // fires, job_state row, not_run rows), so writes of different jobs commute: between two
  // writes of other kinds, each kind's writes go together in multi-row statements. A job's
  // writes keep their order: its first write of a second kind ends the segment. Within a kind,
  // rows are written in the order they came.
  struct Segment {
    std::vector<const FireTakenOp*> taken;
    std::vector<const FireNotRunOp*> skipped;
    std::vector<const RunRecord*> runs;
    std::unordered_map<std::string_view, std::size_t> kind_of_job;  // Op::index()
  };
  Segment segment;
  auto flush = [&] {
    MultiRowStatement::for_each_chunk(segment.taken.size(), [&](std::size_t first, std::size_t n) {
      apply_fires_taken(segment.taken.data() + first, n);
    });
    if (!segment.skipped.empty()) apply_fires_not_run(segment.skipped);
    MultiRowStatement::for_each_chunk(segment.runs.size(), [&](std::size_t first, std::size_t n) {
      apply_runs(segment.runs.data() + first, n);
    });
    segment.taken.clear();
    segment.skipped.clear();
    segment.runs.clear();
    segment.kind_of_job.clear();
  };
  for (const Op& op : batch) {
    const std::string* job = bulk_job(op);
    if (job == nullptr) {
      flush();
      apply(op);
      continue;
    }
    const auto [it, added] = segment.kind_of_job.try_emplace(*job, op.index());
    if (!added && it->second != op.index()) {
      flush();
      segment.kind_of_job.emplace(*job, op.index());
    }
    if (const auto* run = std::get_if<RunRecord>(&op)) {
      segment.runs.push_back(run);
    } else if (const auto* taken = std::get_if<FireTakenOp>(&op)) {
      segment.taken.push_back(taken);
    } else {
      segment.skipped.push_back(&std::get<FireNotRunOp>(op));
    }
  }
  flush();
}

void SqliteStore::apply_fires_not_run(const std::vector<const FireNotRunOp*>& ops) {
  // The job rows, as for fires taken.
  MultiRowStatement::for_each_chunk(ops.size(), [&](std::size_t first, std::size_t n) {
    exec_rows(upsert_taken_, n, [&](SQLite::Statement& q, int base, std::size_t k) {
      const NotRunRecord& nr = ops[first + k]->record;
      bind_job_row(q, base, nr.job, nr.last, ops[first + k]->next);
    });
  });
  // The not_run rows: each extends its job's last one (of the same state and reason) or is a
  // new one; new ones of one job in this group are merged before they are written, and all
  // new ones are written together.
  std::vector<NotRunRecord> fresh;
  std::unordered_map<std::string_view, std::size_t> fresh_of_job;
  for (const FireNotRunOp* op : ops) {
    const NotRunRecord& nr = op->record;
    if (const auto it = fresh_of_job.find(nr.job); it != fresh_of_job.end()) {
      NotRunRecord& merged = fresh[it->second];
      if (merged.state == nr.state && merged.reason == nr.reason) {
        merged.last = std::max(merged.last, nr.last);
        merged.count += nr.count;
        continue;
      }
    } else if (const auto tail = tails_.find(nr.job); tail != tails_.end() &&
                                                      tail->second.state == nr.state &&
                                                      tail->second.reason == nr.reason) {
      extend_not_run(tail->second.row, nr);
      continue;
    }
    fresh_of_job[nr.job] = fresh.size();  // the latest new one of the job
    fresh.push_back(nr);
  }
  insert_not_runs(fresh);
}

void SqliteStore::apply(const Op& op) {
  // REQUIRES: not of a kind apply_batch() writes in multi-row statements.
  assert(bulk_job(op) == nullptr);
  if (const auto* nr = std::get_if<NotRunRecord>(&op)) {
    apply_not_run(*nr);
  } else if (const auto* fire = std::get_if<PendingFire>(&op)) {
    insert_pending(*fire);
    if (fire->attempt == 1) upsert_last_fire(fire->job, fire->scheduled);
  } else if (const auto* cp = std::get_if<CheckpointOp>(&op)) {
    SQLite::Statement& q =
        statement(update_checkpoint_, "UPDATE runs SET checkpoint = ? WHERE id = ?");
    q.bind(1, cp->text);
    q.bind(2, static_cast<std::int64_t>(cp->run.value));
    q.exec();
  } else if (const auto* progress = std::get_if<ProgressOp>(&op)) {
    SQLite::Statement& q = statement(
        update_progress_, "UPDATE runs SET progress = ?, progress_message = ? WHERE id = ?");
    q.bind(1, progress->percent);
    q.bind(2, progress->message);
    q.bind(3, static_cast<std::int64_t>(progress->run.value));
    q.exec();
  } else if (const auto* next = std::get_if<NextFireOp>(&op)) {
    write_next_fire(next->job, next->next);
  } else if (const auto* many = std::get_if<NextFiresOp>(&op)) {
    for (const auto& [job, at] : many->fires) write_next_fire(job, at);
  } else if (const auto* meta = std::get_if<MetaOp>(&op)) {
    SQLite::Statement& q = statement(upsert_meta_,
                                     "INSERT INTO meta (key, value) VALUES (?1, ?2) "
                                     "ON CONFLICT (key) DO UPDATE SET value = ?2");
    q.bind(1, meta->key);
    q.bind(2, meta->value);
    q.exec();
  } else if (const auto* del = std::get_if<DeleteRunOp>(&op)) {
    SQLite::Statement& q = statement(delete_run_, "DELETE FROM runs WHERE id = ?");
    q.bind(1, static_cast<std::int64_t>(del->run.value));
    q.exec();
  } else if (const auto* paused = std::get_if<PausedOp>(&op)) {
    SQLite::Statement& q =
        paused->paused ? statement(insert_paused_, "INSERT OR IGNORE INTO paused (job) VALUES (?)")
                       : statement(delete_paused_, "DELETE FROM paused WHERE job = ?");
    q.bind(1, paused->job);
    q.exec();
  } else if (const auto* version = std::get_if<VersionOp>(&op)) {
    SQLite::Statement& q = statement(insert_version_,
                                     "INSERT OR REPLACE INTO job_versions (job, version, "
                                     "definition, created_us, tree) VALUES (?,?,?,?,?)");
    q.bind(1, version->job);
    q.bind(2, version->version);
    q.bind(3, version->definition);
    q.bind(4, us(version->created));
    q.bindNoCopy(5, version->tree.data(), static_cast<int>(version->tree.size()));
    q.exec();
  } else {
    const auto& prune = std::get<PruneOp>(op);
    SQLite::Statement& q = statement(delete_run_, "DELETE FROM runs WHERE id = ?");
    for (std::int64_t id : prune.runs) {
      q.bind(1, id);
      q.exec();
      q.reset();
    }
    if (prune.cutoff) {
      SQLite::Statement& nr = statement(delete_not_run_, "DELETE FROM not_run WHERE last_us < ?");
      nr.bind(1, us(*prune.cutoff));
      nr.exec();
      tails_.clear();  // a record being extended may be gone
    }
  }
}

namespace {

// Binds a pending fire's columns (as insert_pending_ names them) from parameter `base` + 1 on.
void bind_pending(SQLite::Statement& q, int base, const PendingFire& fire) {
  q.bindNoCopy(base + 1, fire.job);
  q.bind(base + 2, us(fire.scheduled));
  q.bind(base + 3, us(fire.due));
  q.bind(base + 4, fire.attempt);
  q.bind(base + 5, fire.resumes);
  q.bind(base + 6, static_cast<std::int64_t>(fire.run.value));
}

// Binds a run's columns (as insert_runs_ names them) from parameter `base` + 1 on.
void bind_run(SQLite::Statement& q, int base, const RunRecord& run) {
  // NoCopy: the op outlives the statement's step, and the statement's bindings are cleared
  // before its next use (SQLite would otherwise copy every string of every write).
  q.bind(base + 1, static_cast<std::int64_t>(run.run.value));
  q.bindNoCopy(base + 2, run.job);
  q.bind(base + 3, us(run.scheduled));
  q.bind(base + 4, run.attempt);
  q.bindNoCopy(base + 5, to_string(run.state));
  if (run.exit_code) q.bind(base + 6, *run.exit_code);
  if (run.signal) q.bind(base + 7, *run.signal);
  if (run.pid) q.bind(base + 8, static_cast<std::int32_t>(*run.pid));
  q.bind(base + 9, us(run.started));
  if (run.ended && is_final(run.state)) q.bind(base + 10, us(*run.ended));
  q.bind(base + 11, static_cast<std::int64_t>(run.lateness.count()));
  q.bindNoCopy(base + 12, run.checkpoint);
  q.bindNoCopy(base + 13, run.log_path);
  q.bindNoCopy(base + 14, run.message);
  if (run.pid_start) q.bind(base + 15, static_cast<std::int64_t>(*run.pid_start));
  if (run.progress) q.bind(base + 16, *run.progress);
  q.bindNoCopy(base + 17, run.progress_message);
  q.bind(base + 18, static_cast<std::int64_t>(run.frozen.count()));
  q.bindNoCopy(base + 19, run.output_tail.data(), static_cast<int>(run.output_tail.size()));
}

}  // namespace

void SqliteStore::insert_pending(const PendingFire& fire) {
  SQLite::Statement& q = replace_pending_.get(*writer_db_, 1);
  bind_pending(q, 0, fire);
  q.exec();
}

template <typename Bind>
int SqliteStore::exec_rows(MultiRowStatement& rows, std::size_t n, const Bind& bind) {
  SQLite::Statement& q = rows.get(*writer_db_, n);
  const int per_row = rows.params_per_row();
  for (std::size_t k = 0; k < n; ++k) bind(q, static_cast<int>(k) * per_row, k);
  return q.exec();
}

template <typename Bind>
void SqliteStore::insert_or_replace(MultiRowStatement& insert, MultiRowStatement& replace,
                                    std::size_t n, const Bind& bind) {
  if (static_cast<std::size_t>(exec_rows(insert, n, bind)) == n) return;
  // Some rows were there already (or broke a constraint: REPLACE then says which). Writing
  // again the rows just inserted changes nothing.
  for (std::size_t k = 0; k < n; ++k) {
    SQLite::Statement& one = replace.get(*writer_db_, 1);
    bind(one, 0, k);
    one.exec();
  }
}

void SqliteStore::apply_fires_taken(const FireTakenOp* const* fires, std::size_t n) {
  insert_or_replace(insert_pending_, replace_pending_, n,
                    [&](SQLite::Statement& q, int base, std::size_t k) {
                      bind_pending(q, base, fires[k]->fire);
                    });
  exec_rows(upsert_taken_, n, [&](SQLite::Statement& q, int base, std::size_t k) {
    bind_job_row(q, base, fires[k]->fire.job, fires[k]->fire.scheduled, fires[k]->next);
  });
}

void SqliteStore::upsert_last_fire(const std::string& job, Instant t) {
  SQLite::Statement& q =
      statement(upsert_fire_,
                "INSERT INTO job_state (job, last_fire_us) VALUES (?1, ?2) "
                "ON CONFLICT (job) DO UPDATE SET last_fire_us = MAX(IFNULL(last_fire_us, ?2), ?2)");
  q.bind(1, job);
  q.bind(2, us(t));
  q.exec();
}

void SqliteStore::apply_runs(const RunRecord* const* runs, std::size_t n) {
  insert_or_replace(
      insert_runs_, replace_run_, n,
      [&](SQLite::Statement& q, int base, std::size_t k) { bind_run(q, base, *runs[k]); });
  for (std::size_t k = 0; k < n; ++k) {
    const RunRecord& run = *runs[k];
    // One row a statement: ORed terms for many rows each search their key too, and then
    // gather the keys found in a temporary table (more instructions in all).
    SQLite::Statement& p =
        statement(delete_pending_, "DELETE FROM pending_fires WHERE job = ? AND scheduled_us = ?");
    p.bindNoCopy(1, run.job);
    p.bind(2, us(run.scheduled));
    p.exec();
    tails_.erase(run.job);
  }
}

void SqliteStore::apply_not_run(const NotRunRecord& nr) {
  upsert_last_fire(nr.job, nr.last);
  SQLite::Statement& p =
      statement(delete_pending_range_,
                "DELETE FROM pending_fires WHERE job = ? AND scheduled_us BETWEEN ? AND ?");
  p.bind(1, nr.job);
  p.bind(2, us(nr.first));
  p.bind(3, us(nr.last));
  p.exec();
  append_not_run(nr);
}

void SqliteStore::append_not_run(const NotRunRecord& nr) {
  const auto tail = tails_.find(nr.job);
  if (tail != tails_.end() && tail->second.state == nr.state && tail->second.reason == nr.reason) {
    extend_not_run(tail->second.row, nr);
  } else {
    insert_not_runs({nr});
  }
}

void SqliteStore::extend_not_run(std::int64_t row, const NotRunRecord& nr) {
  SQLite::Statement& q =
      statement(extend_not_run_,
                "UPDATE not_run SET last_us = MAX(last_us, ?), count = count + ? WHERE id = ?");
  q.bind(1, us(nr.last));
  q.bind(2, static_cast<std::int64_t>(nr.count));
  q.bind(3, row);
  q.exec();
}

void SqliteStore::insert_not_runs(const std::vector<NotRunRecord>& records) {
  MultiRowStatement::for_each_chunk(records.size(), [&](std::size_t i, std::size_t n) {
    exec_rows(insert_not_run_, n, [&](SQLite::Statement& q, int base, std::size_t k) {
      const NotRunRecord& nr = records[i + k];
      q.bindNoCopy(base + 1, nr.job);
      q.bindNoCopy(base + 2, to_string(nr.state));
      q.bindNoCopy(base + 3, to_string(nr.reason));
      q.bind(base + 4, us(nr.first));
      q.bind(base + 5, us(nr.last));
      q.bind(base + 6, static_cast<std::int64_t>(nr.count));
    });
    // AUTOINCREMENT ids, one writer: the rows got consecutive ids, in the order of the VALUES.
    const std::int64_t last_id = writer_db_->getLastInsertRowid();
    for (std::size_t k = 0; k < n; ++k) {
      const NotRunRecord& nr = records[i + k];
      tails_[nr.job] = Tail{last_id - static_cast<std::int64_t>(n - 1 - k), nr.state, nr.reason};
    }
  });
}

namespace {

RunRecord read_run(SQLite::Statement& q) {
  RunRecord r;
  r.run = RunId{static_cast<std::uint64_t>(q.getColumn(0).getInt64())};
  r.job = q.getColumn(1).getString();
  r.scheduled = instant(q.getColumn(2).getInt64());
  r.attempt = q.getColumn(3).getInt();
  r.state = run_state_from_string(q.getColumn(4).getString()).value_or(RunState::kFailed);
  if (!q.getColumn(5).isNull()) r.exit_code = q.getColumn(5).getInt();
  if (!q.getColumn(6).isNull()) r.signal = q.getColumn(6).getInt();
  if (!q.getColumn(7).isNull()) r.pid = q.getColumn(7).getInt();
  r.started = instant(q.getColumn(8).getInt64());
  if (!q.getColumn(9).isNull()) r.ended = instant(q.getColumn(9).getInt64());
  r.lateness = Duration(q.getColumn(10).getInt64());
  r.checkpoint = q.getColumn(11).getString();
  r.log_path = q.getColumn(12).getString();
  r.message = q.getColumn(13).getString();
  if (!q.getColumn(14).isNull()) {
    r.pid_start = static_cast<std::uint64_t>(q.getColumn(14).getInt64());
  }
  if (!q.getColumn(15).isNull()) r.progress = q.getColumn(15).getDouble();
  r.progress_message = q.getColumn(16).getString();
  r.frozen = Duration(q.getColumn(17).getInt64());
  const SQLite::Column tail = q.getColumn(18);
  r.output_tail.assign(static_cast<const char*>(tail.getBlob()),
                       static_cast<std::size_t>(tail.getBytes()));
  return r;
}

// The WHERE of index runs_active, as its queries must repeat it: runs not ended (apply_run
// records no end for them).
constexpr const char* kNotEnded = "ended_us IS NULL";

constexpr const char* kRunColumns =
    "SELECT id, job, scheduled_us, attempt, state, exit_code, signal, pid, started_us, ended_us, "
    "lateness_us, checkpoint, log_path, message, pid_start, progress, progress_message, "
    "frozen_us, output_tail FROM runs ";

}  // namespace

Result<std::vector<RunRecord>> SqliteStore::runs(const RunQuery& query) {
  std::lock_guard lock(read_mu_);
  try {
    // Only the terms asked for, so that the planner can use an index: runs_by_job for a job,
    // runs_active for a state a run has not yet ended in (its WHERE must be repeated).
    std::string where = "WHERE true";
    if (query.job) where += " AND job = ?1";
    if (query.state) {
      if (!is_final(*query.state)) where += " AND " + std::string(kNotEnded);
      where += " AND state = ?2";
    }
    if (query.run) where += " AND id = ?4";
    if (query.since) where += " AND started_us >= ?5";
    SQLite::Statement q(*reader_db_,
                        std::string(kRunColumns) + where + " ORDER BY id DESC LIMIT ?3");
    if (query.job) q.bind(1, *query.job);
    if (query.state) q.bind(2, to_string(*query.state));
    q.bind(3, static_cast<std::int64_t>(query.limit));
    if (query.run) q.bind(4, static_cast<std::int64_t>(query.run->value));
    if (query.since) q.bind(5, us(*query.since));
    std::vector<RunRecord> out;
    while (q.executeStep()) {
      out.push_back(read_run(q));
    }
    return out;
  } catch (const std::exception& e) {
    return Error::io(std::string("reading runs: ") + e.what());
  }
}

Result<std::map<std::string, RunRecord>> SqliteStore::latest_ended_runs() {
  std::lock_guard lock(read_mu_);
  try {
    SQLite::Statement q(*reader_db_, std::string(kRunColumns) +
                                         "WHERE id IN (SELECT MAX(id) FROM runs WHERE ended_us "
                                         "IS NOT NULL GROUP BY job)");
    std::map<std::string, RunRecord> out;
    while (q.executeStep()) {
      RunRecord r = read_run(q);
      std::string job = r.job;
      out.emplace(std::move(job), std::move(r));
    }
    return out;
  } catch (const std::exception& e) {
    return Error::io(std::string("reading the latest runs: ") + e.what());
  }
}

Result<std::vector<NotRunRecord>> SqliteStore::not_run(const std::string& job, std::size_t limit) {
  std::lock_guard lock(read_mu_);
  try {
    SQLite::Statement q(*reader_db_,
                        "SELECT state, reason, first_us, last_us, count FROM not_run "
                        "WHERE job = ? ORDER BY id DESC LIMIT ?");
    q.bind(1, job);
    q.bind(2, static_cast<std::int64_t>(limit));
    std::vector<NotRunRecord> out;
    while (q.executeStep()) {
      NotRunRecord r;
      r.job = job;
      r.state = run_state_from_string(q.getColumn(0).getString()).value_or(RunState::kMissed);
      const std::string reason = q.getColumn(1).getString();
      for (int i = 0; i <= static_cast<int>(NotRunReason::kOverloaded); ++i) {
        if (reason == to_string(static_cast<NotRunReason>(i)))
          r.reason = static_cast<NotRunReason>(i);
      }
      r.first = instant(q.getColumn(2).getInt64());
      r.last = instant(q.getColumn(3).getInt64());
      r.count = static_cast<std::uint64_t>(q.getColumn(4).getInt64());
      out.push_back(std::move(r));
    }
    return out;
  } catch (const std::exception& e) {
    return Error::io(std::string("reading not-run records: ") + e.what());
  }
}

Result<std::map<std::string, Instant>> SqliteStore::last_fires() {
  std::lock_guard lock(read_mu_);
  try {
    SQLite::Statement q(*reader_db_,
                        "SELECT job, last_fire_us FROM job_state WHERE last_fire_us IS NOT NULL");
    std::map<std::string, Instant> out;
    while (q.executeStep()) out[q.getColumn(0).getString()] = instant(q.getColumn(1).getInt64());
    return out;
  } catch (const std::exception& e) {
    return Error::io(std::string("reading last fires: ") + e.what());
  }
}

Result<std::map<std::string, Instant>> SqliteStore::next_fires() {
  std::lock_guard lock(read_mu_);
  try {
    SQLite::Statement q(*reader_db_,
                        "SELECT job, next_us FROM job_state WHERE next_us IS NOT NULL");
    std::map<std::string, Instant> out;
    while (q.executeStep()) out[q.getColumn(0).getString()] = instant(q.getColumn(1).getInt64());
    return out;
  } catch (const std::exception& e) {
    return Error::io(std::string("reading next fires: ") + e.what());
  }
}

Result<std::vector<PendingFire>> SqliteStore::pending_fires() {
  std::lock_guard lock(read_mu_);
  try {
    SQLite::Statement q(*reader_db_,
                        "SELECT job, scheduled_us, due_us, attempt, resumes, run FROM "
                        "pending_fires ORDER BY due_us");
    std::vector<PendingFire> out;
    while (q.executeStep()) {
      out.push_back(PendingFire{q.getColumn(0).getString(), instant(q.getColumn(1).getInt64()),
                                instant(q.getColumn(2).getInt64()), q.getColumn(3).getInt(),
                                q.getColumn(4).getInt(),
                                RunId{static_cast<std::uint64_t>(q.getColumn(5).getInt64())}});
    }
    return out;
  } catch (const std::exception& e) {
    return Error::io(std::string("reading pending fires: ") + e.what());
  }
}

Result<std::vector<std::string>> SqliteStore::paused() {
  std::lock_guard lock(read_mu_);
  try {
    SQLite::Statement q(*reader_db_, "SELECT job FROM paused ORDER BY job");
    std::vector<std::string> out;
    while (q.executeStep()) out.push_back(q.getColumn(0).getString());
    return out;
  } catch (const std::exception& e) {
    return Error::io(std::string("reading pause flags: ") + e.what());
  }
}

Result<std::vector<std::pair<int, std::string>>> SqliteStore::job_versions(const std::string& job) {
  std::lock_guard lock(read_mu_);
  try {
    SQLite::Statement q(*reader_db_,
                        "SELECT version, definition FROM job_versions WHERE job = ? "
                        "ORDER BY version");
    q.bind(1, job);
    std::vector<std::pair<int, std::string>> out;
    while (q.executeStep()) out.emplace_back(q.getColumn(0).getInt(), q.getColumn(1).getString());
    return out;
  } catch (const std::exception& e) {
    return Error::io("reading versions of " + job + ": " + e.what());
  }
}

void SqliteStore::write_next_fire(const std::string& job, std::optional<Instant> next) {
  if (next) {
    SQLite::Statement& q = statement(upsert_next_,
                                     "INSERT INTO job_state (job, next_us) VALUES (?1, ?2) "
                                     "ON CONFLICT (job) DO UPDATE SET next_us = ?2");
    q.bind(1, job);
    q.bind(2, us(*next));
    q.exec();
  } else {
    SQLite::Statement& q =
        statement(delete_next_, "UPDATE job_state SET next_us = NULL WHERE job = ?");
    q.bind(1, job);
    q.exec();
  }
}

Status SqliteStore::for_each_latest_job_version(const VersionVisitor& visit) {
  std::lock_guard lock(read_mu_);
  try {
    // One pass over the (job, version) key: with a single max(), SQLite takes the bare
    // column from the row holding it (half the time of a max() looked up for every row).
    SQLite::Statement q(*reader_db_,
                        "SELECT job, max(version), definition, tree FROM job_versions "
                        "GROUP BY job ORDER BY job");
    std::string job, definition, tree;
    while (q.executeStep()) {
      job = q.getColumn(0).getString();
      definition = q.getColumn(2).getString();
      const SQLite::Column t = q.getColumn(3);
      tree.clear();
      if (t.getBytes() > 0) {
        tree.assign(static_cast<const char*>(t.getBlob()), static_cast<std::size_t>(t.getBytes()));
      }
      visit(job, q.getColumn(1).getInt(), definition, tree);
    }
    return Ok{};
  } catch (const std::exception& e) {
    return Error::io(std::string("reading job definitions: ") + e.what());
  }
}

Result<std::optional<std::string>> SqliteStore::meta(const std::string& key) {
  std::lock_guard lock(read_mu_);
  try {
    SQLite::Statement q(*reader_db_, "SELECT value FROM meta WHERE key = ?");
    q.bind(1, key);
    if (!q.executeStep()) return std::optional<std::string>();
    return std::optional<std::string>(q.getColumn(0).getString());
  } catch (const std::exception& e) {
    return Error::io("reading " + key + ": " + e.what());
  }
}

Result<std::vector<std::string>> SqliteStore::prune(std::size_t keep_runs,
                                                    std::optional<Instant> cutoff) {
  PruneOp op{{}, cutoff};
  std::vector<std::string> logs;
  {
    std::lock_guard lock(read_mu_);
    try {
      SQLite::Statement q(
          *reader_db_,
          "SELECT id, log_path FROM (SELECT id, log_path, state, ended_us, "
          "ROW_NUMBER() OVER (PARTITION BY job ORDER BY id DESC) AS n FROM runs) "
          "WHERE state NOT IN ('running', 'paused') AND "
          "((?1 > 0 AND n > ?1) OR (?2 IS NOT NULL AND ended_us < ?2)) ORDER BY id DESC");
      q.bind(1, static_cast<std::int64_t>(keep_runs));
      if (cutoff) q.bind(2, us(*cutoff));
      while (q.executeStep()) {
        op.runs.push_back(q.getColumn(0).getInt64());
        const std::string log = q.getColumn(1).getString();
        if (!log.empty()) logs.push_back(log);
      }
    } catch (const std::exception& e) {
      return Error::io(std::string("selecting runs to prune: ") + e.what());
    }
  }
  if (!op.runs.empty() || cutoff) enqueue(std::move(op));
  return logs;
}

Status migrate(SQLite::Database& db, const std::string& path) {
  const int version = db.execAndGet("PRAGMA user_version").getInt();
  if (version > kSchemaVersion) {
    return Error::io("state database " + path + " has schema version " + std::to_string(version) +
                     ", newer than this skedd knows (" + std::to_string(kSchemaVersion) +
                     "): run the newer skedd, or restore a backup made by this version");
  }
  for (int v = version; v < kSchemaVersion; ++v) {
    SQLite::Transaction tx(db);
    db.exec(kMigrations[v]);
    db.exec("PRAGMA user_version = " + std::to_string(v + 1));
    tx.commit();
  }
  return Ok{};
}

}  // namespace

Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path,
                                                 const SqliteStoreOptions& options) {
  try {
    // NOMUTEX: each connection is used by one thread at a time (the reader under read_mu_), so
    // SQLite's lock around every call is not needed.
    auto writer = std::make_unique<SQLite::Database>(
        path,
        SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_NOFOLLOW | SQLite::OPEN_NOMUTEX,
        options.busy_timeout_ms);
    // The first statement reads the header: a file that is not a database fails here.
    const std::string mode = writer->execAndGet("PRAGMA journal_mode = WAL").getString();
    if (mode != "wal") {
      return Error::io("state database " + path + ": cannot use WAL mode (got " + mode + ")");
    }
    writer->exec(options.full_sync ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
    if (auto s = migrate(*writer, path); !s) return s.error();
    writer->exec("PRAGMA wal_autocheckpoint = 0");
    const auto page_size = writer->execAndGet("PRAGMA page_size").getInt64();
    writer->exec("PRAGMA journal_size_limit = " +
                 std::to_string(page_size * options.wal_limit_pages));
    auto reader = std::make_unique<SQLite::Database>(
        path, SQLite::OPEN_READONLY | SQLite::OPEN_NOMUTEX, options.busy_timeout_ms);
    auto checkpointer = std::make_unique<SQLite::Database>(
        path, SQLite::OPEN_READWRITE | SQLite::OPEN_NOFOLLOW | SQLite::OPEN_NOMUTEX,
        options.busy_timeout_ms);
    checkpointer->exec(options.full_sync ? "PRAGMA synchronous = FULL"
                                         : "PRAGMA synchronous = NORMAL");
    return std::unique_ptr<Store>(new SqliteStore(
        std::move(writer), std::move(reader), std::move(checkpointer), options.wal_limit_pages));
  } catch (const SQLite::Exception& e) {
    const int code = e.getErrorCode();
    if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT) {
      return Error::io("state database " + path + " is damaged (" + e.what() +
                       "): skedd will not overwrite it; move it aside to start a new history, "
                       "or restore it from a backup, then start skedd again");
    }
    if (code == SQLITE_BUSY || code == SQLITE_LOCKED) {
      return Error::io("state database " + path + " is locked by another process (" + e.what() +
                       "); is another skedd using this state dir?");
    }
    return Error::io("state database " + path + ": " + e.what());
  }
}

}  // namespace skedd
