// The SQLite store: opening (and migrating) the database, the writer thread's loop of batched
// commits, and the checkpoint thread that copies the WAL into the database file.
#include "store/sqlite_store_impl.h"

#include <cassert>

namespace skedd {
namespace sqlite_store {

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
      if (stop_ && pending_.empty()) break;
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
    const auto began = std::chrono::steady_clock::now();
    try {
      SQLite::Transaction tx(*writer_db_);
      apply_batch(batch);
      end_held_rows(false);
      tx.commit();
      settle_held_rows(true);
    } catch (const std::exception& e) {
      error = e.what();
      tails_.clear();  // the rolled-back rows may be among them
      settle_held_rows(false);
    }
    if (error.empty() && wal_frames_ > wal_limit_pages_) {
      restart_wal();
    } else if (error.empty() && wal_frames_ > wal_limit_pages_ / 2) {
      // Past half the limit, the checkpoint thread copies what it can now, so that the
      // restart has less left to copy on this thread (the one every write waits for).
      checkpoint_cv_.notify_all();
    }
    const double took =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
    std::unique_lock lock(mu_);
    commit_times_.observe(took);
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
  // Closing: the job rows held back are written (else the next start reads their fires'
  // runs). A failure leaves them on record as runs and pending fires, as after a crash.
  try {
    SQLite::Transaction tx(*writer_db_);
    end_held_rows(true);
    tx.commit();
  } catch (const std::exception&) {
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
    std::lock_guard lock(checkpoint_mu_);
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
      // PASSIVE: copies what no reader still needs, never blocks the writer's commits.
      std::lock_guard checkpointing(checkpoint_mu_);
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

}  // namespace sqlite_store

namespace {

using sqlite_schema::kMigrations;
using sqlite_schema::kSchemaVersion;

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

// A skedd that ended while it held job rows back (see kJobRowsAge) left kHeldSinceKey: the
// last fires of those rows are only in its runs and pending fires from that id on. They are
// written into job_state now, before this store holds rows of its own and moves the key past
// them (which lost a fire's last-fire record after two restarts, so that a third start caught
// the fire up as missed although it had run).
void fold_held_rows(SQLite::Database& db) {
  SQLite::Statement since(db, "SELECT value FROM meta WHERE key = ?");
  since.bind(1, sqlite_store::kHeldSinceKey);
  if (!since.executeStep()) return;
  const std::int64_t low = std::stoll(since.getColumn(0).getString());
  since.reset();
  SQLite::Transaction tx(db);
  for (const char* select :
       {"SELECT r.job, MAX(r.scheduled_us) FROM runs r LEFT JOIN identities i ON i.job = r.job "
        "WHERE r.id >= ?1 AND r.id >= IFNULL(i.since_run, 0) GROUP BY r.job",
        "SELECT job, MAX(scheduled_us) FROM pending_fires WHERE run >= ?1 GROUP BY job"}) {
    SQLite::Statement fold(
        db, std::string("INSERT INTO job_state (job, last_fire_us) ") + select +
                " ON CONFLICT (job) DO UPDATE SET last_fire_us = "
                "MAX(IFNULL(last_fire_us, excluded.last_fire_us), excluded.last_fire_us)");
    fold.bind(1, low);
    fold.exec();
  }
  SQLite::Statement done(db, "DELETE FROM meta WHERE key = ?");
  done.bind(1, sqlite_store::kHeldSinceKey);
  done.exec();
  tx.commit();
}

}  // namespace

namespace {

Error damaged(const std::string& path, const std::string& what) {
  return Error::io("state database " + path + " is damaged (" + what +
                   "): skedd will not overwrite it; move it aside to start a new history, "
                   "or restore it from a backup, then start skedd again");
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
    // A damaged page would show only when read, maybe long after the start, maybe as a
    // write that then fails forever: the whole file is checked once, before anything is
    // written (every page and row, not the indexes' contents).
    {
      SQLite::Statement check(*writer, "PRAGMA quick_check(1)");
      if (check.executeStep()) {
        const std::string verdict = check.getColumn(0).getString();
        if (verdict != "ok") return damaged(path, "quick_check: " + verdict);
      }
    }
    if (auto s = migrate(*writer, path); !s) return s.error();
    fold_held_rows(*writer);
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
    return std::unique_ptr<Store>(new sqlite_store::SqliteStore(
        std::move(writer), std::move(reader), std::move(checkpointer), options.wal_limit_pages));
  } catch (const SQLite::Exception& e) {
    const int code = e.getErrorCode();
    if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT) return damaged(path, e.what());
    if (code == SQLITE_BUSY || code == SQLITE_LOCKED) {
      return Error::io("state database " + path + " is locked by another process (" + e.what() +
                       "); is another skedd using this state dir?");
    }
    return Error::io("state database " + path + ": " + e.what());
  }
}

}  // namespace skedd
