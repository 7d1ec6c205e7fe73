// The SQLite store's single-row writes: a not-run record appended or grown, a pending fire
// settled, a job's last and next fire, meta values, an identity retired.
#include "store/sqlite_store_impl.h"

namespace skedd::sqlite_store {

void SqliteStore::apply_not_run(const NotRunRecord& nr) {
  upsert_last_fire(nr.job, nr.last);
  if (nr.run.value != 0) delete_pending(nr.run);
  append_not_run(nr);
}

void SqliteStore::delete_pending(RunId run) {
  SQLite::Statement& q = statement(delete_pending_, "DELETE FROM pending_fires WHERE run = ?");
  q.bind(1, static_cast<std::int64_t>(run.value));
  q.exec();
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

void SqliteStore::retire_identity(const std::string& job, RunId since_run) {
  // Nothing of the old identity may be written as the new one's after this: its held job
  // row (last and next fire) and the not_run row that a next record would extend.
  held_rows_.erase(job);
  tails_.erase(job);
  SQLite::Statement& identity =
      statement(upsert_identity_,
                "INSERT INTO identities (job, since_run, since_not_run) "
                "VALUES (?1, ?2, (SELECT IFNULL(MAX(id), 0) + 1 FROM not_run)) "
                "ON CONFLICT (job) DO UPDATE SET since_run = excluded.since_run, "
                "since_not_run = excluded.since_not_run");
  identity.bind(1, job);
  identity.bind(2, static_cast<std::int64_t>(since_run.value));
  identity.exec();
  SQLite::Statement& pending = statement(
      delete_old_pending_, "DELETE FROM pending_fires WHERE job = ? AND run < ?");  // by index
  pending.bind(1, job);
  pending.bind(2, static_cast<std::int64_t>(since_run.value));
  pending.exec();
  SQLite::Statement& state = statement(delete_job_state_, "DELETE FROM job_state WHERE job = ?");
  state.bind(1, job);
  state.exec();
  SQLite::Statement& paused = statement(delete_paused_, "DELETE FROM paused WHERE job = ?");
  paused.bind(1, job);
  paused.exec();
}

void SqliteStore::write_meta(const std::string& key, const std::optional<std::string>& value) {
  if (!value) {
    SQLite::Statement& q = statement(delete_meta_, "DELETE FROM meta WHERE key = ?");
    q.bind(1, key);
    q.exec();
    return;
  }
  SQLite::Statement& q = statement(upsert_meta_,
                                   "INSERT INTO meta (key, value) VALUES (?1, ?2) "
                                   "ON CONFLICT (key) DO UPDATE SET value = ?2");
  q.bind(1, key);
  q.bind(2, *value);
  q.exec();
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

void SqliteStore::write_next_fire(const std::string& job, std::optional<Instant> next) {
  if (const auto held = held_rows_.find(job); held != held_rows_.end()) held->second.next = next;
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

}  // namespace skedd::sqlite_store
