// The SQLite store's queries, on the reader connection (one caller at a time, under
// read_mu_).
#include "store/sqlite_store_impl.h"
#include "store/workflow_steps.h"

namespace skedd::sqlite_store {

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
  if (!q.getColumn(19).isNull()) r.owner = static_cast<uid_t>(q.getColumn(19).getInt64());
  return r;
}

// The WHERE of index runs_active, as its queries must repeat it: runs not ended (apply_run
// records no end for them).
constexpr const char* kNotEnded = "ended_us IS NULL";

constexpr const char* kRunColumns =
    "SELECT id, job, scheduled_us, attempt, state, exit_code, signal, pid, started_us, ended_us, "
    "lateness_us, checkpoint, log_path, message, pid_start, progress, progress_message, "
    "frozen_us, output_tail, owner FROM runs ";

// The first run id and not_run id of job ?1's current identity (0 when it is the name's
// first), as a term of a WHERE.
constexpr const char* kSinceRun =
    "IFNULL((SELECT since_run FROM identities WHERE identities.job = ?1), 0)";
constexpr const char* kSinceNotRun =
    "IFNULL((SELECT since_not_run FROM identities WHERE identities.job = ?1), 0)";

}  // namespace

Result<std::vector<RunRecord>> SqliteStore::runs(const RunQuery& query) {
  std::lock_guard lock(read_mu_);
  try {
    // Only the terms asked for, so that the planner can use an index: runs_by_job for a job,
    // runs_active for a state a run has not yet ended in (its WHERE must be repeated).
    std::string where = "WHERE true";
    if (query.job) where += " AND job = ?1";
    if (query.job && query.current_identity) where += std::string(" AND id >= ") + kSinceRun;
    if (query.owner) where += " AND owner = ?6";
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
    if (query.owner) q.bind(6, static_cast<std::int64_t>(*query.owner));
    std::vector<RunRecord> out;
    while (q.executeStep()) {
      out.push_back(read_run(q));
    }
    if (query.outputs) {
      SQLite::Statement o(*reader_db_, "SELECT key, value FROM run_outputs WHERE run = ?");
      for (RunRecord& r : out) {
        o.bind(1, static_cast<std::int64_t>(r.run.value));
        while (o.executeStep()) {
          const SQLite::Column value = o.getColumn(1);
          r.outputs.emplace(o.getColumn(0).getString(),
                            std::string(static_cast<const char*>(value.getBlob()),
                                        static_cast<std::size_t>(value.getBytes())));
        }
        o.reset();
      }
    }
    return out;
  } catch (const std::exception& e) {
    return Error::io(std::string("reading runs: ") + e.what());
  }
}

Result<std::map<std::string, RunRecord>> SqliteStore::latest_ended_runs() {
  return latest_runs_ended_as({});
}

Result<std::map<std::string, RunRecord>> SqliteStore::latest_runs_ended_as(
    const std::vector<RunState>& states) {
  std::string in;
  for (const RunState s : states)
    in += std::string(in.empty() ? "" : ", ") + "'" + to_string(s) + "'";
  std::lock_guard lock(read_mu_);
  try {
    SQLite::Statement q(*reader_db_, std::string(kRunColumns) +
                                         "WHERE id IN (SELECT MAX(r.id) FROM runs r LEFT JOIN "
                                         "identities i ON i.job = r.job WHERE r.ended_us IS "
                                         "NOT NULL AND r.id >= IFNULL(i.since_run, 0) " +
                                         (in.empty() ? "" : "AND r.state IN (" + in + ") ") +
                                         "GROUP BY r.job)");
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
                        std::string("SELECT state, reason, first_us, last_us, count FROM not_run "
                                    "WHERE job = ?1 AND id >= ") +
                            kSinceNotRun + " ORDER BY id DESC LIMIT ?2");
    q.bind(1, job);
    q.bind(2, static_cast<std::int64_t>(limit));
    std::vector<NotRunRecord> out;
    while (q.executeStep()) {
      NotRunRecord r;
      r.job = job;
      r.state = run_state_from_string(q.getColumn(0).getString()).value_or(RunState::kMissed);
      r.reason =
          not_run_reason_from_string(q.getColumn(1).getString()).value_or(NotRunReason::kOverlap);
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
    std::map<std::string, Instant> out;
    auto take_latest = [&](SQLite::Statement& q) {
      while (q.executeStep()) {
        const Instant t = instant(q.getColumn(1).getInt64());
        const auto [it, added] = out.try_emplace(q.getColumn(0).getString(), t);
        if (!added) it->second = std::max(it->second, t);
      }
    };
    // One snapshot: the job rows, and the fires whose job rows were held back (see
    // kJobRowsAge): pending, or run with an id from kHeldSinceKey's on.
    SQLite::Transaction snapshot(*reader_db_);
    SQLite::Statement rows(
        *reader_db_, "SELECT job, last_fire_us FROM job_state WHERE last_fire_us IS NOT NULL");
    take_latest(rows);
    SQLite::Statement since(*reader_db_, "SELECT value FROM meta WHERE key = ?");
    since.bind(1, kHeldSinceKey);
    if (since.executeStep()) {
      // Not the runs of an identity that ended since (its job row is gone with it).
      SQLite::Statement runs(*reader_db_,
                             "SELECT r.job, MAX(r.scheduled_us) FROM runs r LEFT JOIN identities i "
                             "ON i.job = r.job WHERE r.id >= ? AND r.id >= IFNULL(i.since_run, 0) "
                             "GROUP BY r.job");
      runs.bind(1, static_cast<std::int64_t>(std::stoll(since.getColumn(0).getString())));
      take_latest(runs);
      SQLite::Statement pending(*reader_db_,
                                "SELECT job, MAX(scheduled_us) FROM pending_fires GROUP BY job");
      take_latest(pending);
    }
    snapshot.commit();
    return out;
  } catch (const std::exception& e) {
    return Error::io(std::string("reading last fires: ") + e.what());
  }
}

Result<std::map<std::string, Instant>> SqliteStore::next_fires() {
  // Those held back are written first (a failure to: the rows as committed).
  enqueue(JobRowsOp{});
  (void)flush();
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

Result<std::map<std::string, RunId>> SqliteStore::identities() {
  std::lock_guard lock(read_mu_);
  try {
    SQLite::Statement q(*reader_db_, "SELECT job, since_run FROM identities");
    std::map<std::string, RunId> out;
    while (q.executeStep()) {
      out[q.getColumn(0).getString()] =
          RunId{static_cast<std::uint64_t>(q.getColumn(1).getInt64())};
    }
    return out;
  } catch (const std::exception& e) {
    return Error::io(std::string("reading job identities: ") + e.what());
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
  PruneOp op{{}, cutoff, keep_runs};
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
  if (!op.runs.empty() || cutoff || keep_runs > 0) enqueue(std::move(op));
  return logs;
}

Result<std::vector<WorkflowRunRecord>> SqliteStore::workflow_runs(const WorkflowRunQuery& query) {
  std::lock_guard lock(read_mu_);
  try {
    std::string where = "WHERE true";
    if (query.workflow) where += " AND workflow = ?1";
    if (query.id) where += " AND id = ?2";
    if (query.unfinished) where += " AND ended_us IS NULL";
    SQLite::Statement q(*reader_db_,
                        "SELECT id, workflow, scheduled_us, state, started_us, ended_us, owner, "
                        "message, steps, version FROM workflow_runs " +
                            where + " ORDER BY id DESC LIMIT ?3");
    if (query.workflow) q.bind(1, *query.workflow);
    if (query.id) q.bind(2, static_cast<std::int64_t>(query.id->value));
    q.bind(3, static_cast<std::int64_t>(query.limit));
    std::vector<WorkflowRunRecord> out;
    while (q.executeStep()) {
      WorkflowRunRecord r;
      r.id = RunId{static_cast<std::uint64_t>(q.getColumn(0).getInt64())};
      r.workflow = q.getColumn(1).getString();
      r.scheduled = instant(q.getColumn(2).getInt64());
      const std::string state = q.getColumn(3).getString();
      r.state = workflow_run_state_from_string(state).value_or(WorkflowRunState::kFailed);
      r.started = instant(q.getColumn(4).getInt64());
      if (!q.getColumn(5).isNull()) r.ended = instant(q.getColumn(5).getInt64());
      if (!q.getColumn(6).isNull()) r.owner = static_cast<uid_t>(q.getColumn(6).getInt64());
      r.message = q.getColumn(7).getString();
      r.version = q.getColumn(9).getString();
      r.steps = decode_workflow_steps(q.getColumn(8).getString());
      out.push_back(std::move(r));
    }
    return out;
  } catch (const std::exception& e) {
    return Error::io(std::string("reading workflow runs: ") + e.what());
  }
}

}  // namespace skedd::sqlite_store
