// The PostgreSQL store: the Store contract on tables of one schema of a PostgreSQL database,
// through libpq. Writes are closures queued for one writer thread, which commits them in
// batches (a transaction each) on its own connection; reads run on a second connection, one
// caller at a time. The SQL is plain (no advisory locks, no LISTEN/NOTIFY), so that what
// PostgreSQL-compatible engines run it too (skedd(8), Cluster mode).
#include "skedd/store/postgres_store.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <iterator>
#include <map>
#include <mutex>
#include <regex>
#include <thread>
#include <tuple>

#include "store/pg_conn.h"
#include "store/workflow_steps.h"
#include "util/thread_name.h"

namespace skedd {
namespace {

using pg::Conn;
using pg::Param;
using pg::PgError;
using pg::Rows;

// Each entry brings the schema from version i to i + 1. Never edit a released entry: append.
// Times are microseconds since the epoch (as in the SQLite store); text a run or a user
// controls (checkpoints, messages, outputs, definitions) is bytea: a text column refuses a
// NUL byte or invalid UTF-8, and one refused write would hold every write after it.
constexpr const char* kMigrations[] = {
    R"(CREATE TABLE runs (
         id BIGINT PRIMARY KEY, job TEXT NOT NULL, scheduled_us BIGINT NOT NULL,
         attempt INTEGER NOT NULL, state TEXT NOT NULL, exit_code INTEGER, signal INTEGER,
         pid INTEGER, pid_start BIGINT, started_us BIGINT NOT NULL, ended_us BIGINT,
         lateness_us BIGINT NOT NULL, checkpoint BYTEA NOT NULL, log_path BYTEA NOT NULL,
         message BYTEA NOT NULL, progress DOUBLE PRECISION, progress_message BYTEA NOT NULL,
         frozen_us BIGINT NOT NULL, output_tail BYTEA NOT NULL, owner BIGINT);
       CREATE INDEX runs_by_job ON runs (job, id);
       CREATE INDEX runs_active ON runs (state) WHERE ended_us IS NULL;
       CREATE TABLE not_run (
         id BIGSERIAL PRIMARY KEY, job TEXT NOT NULL, state TEXT NOT NULL, reason TEXT NOT NULL,
         first_us BIGINT NOT NULL, last_us BIGINT NOT NULL, count BIGINT NOT NULL);
       CREATE INDEX not_run_by_job ON not_run (job, id);
       CREATE TABLE job_state (
         job TEXT PRIMARY KEY, last_fire_us BIGINT, next_us BIGINT, tail_not_run BIGINT);
       CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
       CREATE TABLE pending_fires (
         run BIGINT PRIMARY KEY, job TEXT NOT NULL, scheduled_us BIGINT NOT NULL,
         due_us BIGINT NOT NULL, attempt INTEGER NOT NULL, resumes INTEGER NOT NULL);
       CREATE INDEX pending_by_job ON pending_fires (job, run);
       CREATE TABLE paused (job TEXT PRIMARY KEY);
       CREATE TABLE job_versions (
         job TEXT NOT NULL, version INTEGER NOT NULL, definition BYTEA NOT NULL,
         created_us BIGINT NOT NULL, tree BYTEA, PRIMARY KEY (job, version));
       CREATE TABLE identities (
         job TEXT PRIMARY KEY, since_run BIGINT NOT NULL, since_not_run BIGINT NOT NULL);
       CREATE TABLE run_outputs (
         run BIGINT NOT NULL, key TEXT NOT NULL, value BYTEA NOT NULL, PRIMARY KEY (run, key));
       CREATE TABLE workflow_runs (
         id BIGINT PRIMARY KEY, workflow TEXT NOT NULL, scheduled_us BIGINT NOT NULL,
         state TEXT NOT NULL, started_us BIGINT NOT NULL, ended_us BIGINT, owner BIGINT,
         message BYTEA NOT NULL, steps TEXT NOT NULL, version TEXT NOT NULL);
       CREATE INDEX workflow_runs_by_workflow ON workflow_runs (workflow, id);)",
};
constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

// How many queued writes one transaction carries at most, and how long the writer waits
// after a failed commit before it tries again (doubling up to the longest).
constexpr std::size_t kMaxBatch = 2000;
constexpr auto kFirstBackoff = std::chrono::milliseconds(50);
constexpr auto kLongestBackoff = std::chrono::seconds(1);
// Jobs per statement of put_next_fires().
constexpr std::size_t kNextFiresChunk = 5000;

std::int64_t us(Instant t) {
  return t.time_since_epoch().count();
}
Instant instant(std::int64_t v) {
  return Instant(Duration(v));
}
Param id(RunId run) {
  return pg::integer(static_cast<std::int64_t>(run.value));
}
// `ids` as one bigint[] parameter (its text form), for `= ANY($n::bigint[])`.
template <typename Ids, typename Value>
Param bigint_array(const Ids& ids, const Value& value) {
  std::string list = "{";
  for (const auto& v : ids) list += (list.size() > 1 ? "," : "") + std::to_string(value(v));
  return pg::text(list + '}');
}

constexpr const char* kRunColumns =
    "SELECT id, job, scheduled_us, attempt, state, exit_code, signal, pid, started_us, ended_us, "
    "lateness_us, checkpoint, log_path, message, pid_start, progress, progress_message, "
    "frozen_us, output_tail, owner FROM runs ";

RunRecord read_run(const Rows& q, int i) {
  RunRecord r;
  r.run = RunId{static_cast<std::uint64_t>(q.i64(i, 0))};
  r.job = q.str(i, 1);
  r.scheduled = instant(q.i64(i, 2));
  r.attempt = static_cast<int>(q.i64(i, 3));
  r.state = run_state_from_string(q.str(i, 4)).value_or(RunState::kFailed);
  if (auto v = q.opt(i, 5)) r.exit_code = static_cast<int>(*v);
  if (auto v = q.opt(i, 6)) r.signal = static_cast<int>(*v);
  if (auto v = q.opt(i, 7)) r.pid = static_cast<pid_t>(*v);
  r.started = instant(q.i64(i, 8));
  if (auto v = q.opt(i, 9)) r.ended = instant(*v);
  r.lateness = Duration(q.i64(i, 10));
  r.checkpoint = q.bytes_at(i, 11);
  r.log_path = q.bytes_at(i, 12);
  r.message = q.bytes_at(i, 13);
  if (auto v = q.opt(i, 14)) r.pid_start = static_cast<std::uint64_t>(*v);
  if (!q.null(i, 15)) r.progress = q.f64(i, 15);
  r.progress_message = q.bytes_at(i, 16);
  r.frozen = Duration(q.i64(i, 17));
  r.output_tail = q.bytes_at(i, 18);
  if (auto v = q.opt(i, 19)) r.owner = static_cast<uid_t>(*v);
  return r;
}

// A queued write (`apply` on the writer's connection, inside its batch's transaction), or a
// waiter to tell once the writes before it are committed (`done`).
struct Queued {
  std::function<void(Conn&)> apply;
  std::function<void(Status)> done;
};

class PostgresStore final : public Store {
 public:
  PostgresStore(std::vector<std::pair<std::string, std::string>> conninfo,
                const std::string& schema)
      : writer_conn_(conninfo, "SET search_path TO " + schema),
        reader_conn_(std::move(conninfo), "SET search_path TO " + schema) {}

  ~PostgresStore() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (writer_.joinable()) writer_.join();
  }

  // Makes the schema and its tables, then starts the writer.
  Status open(const std::string& schema) {
    try {
      migrate(schema);
    } catch (const PgError& e) {
      return Error::io("postgres store: " + std::string(e.what()));
    } catch (const Error& e) {
      return e;
    }
    writer_ = std::thread([this] { write_loop(); });
    return Ok{};
  }

  // --- writes ---

  void put_run(RunRecord run) override {
    if (!is_final(run.state)) run.ended.reset();
    enqueue([run = std::move(run)](Conn& c) {
      c.exec(
          "INSERT INTO runs (id, job, scheduled_us, attempt, state, exit_code, signal, pid, "
          "started_us, ended_us, lateness_us, checkpoint, log_path, message, pid_start, progress, "
          "progress_message, frozen_us, output_tail, owner) VALUES "
          "($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20) "
          "ON CONFLICT (id) DO UPDATE SET job = excluded.job, scheduled_us = "
          "excluded.scheduled_us, attempt = excluded.attempt, state = excluded.state, exit_code "
          "= excluded.exit_code, signal = excluded.signal, pid = excluded.pid, started_us = "
          "excluded.started_us, ended_us = excluded.ended_us, lateness_us = excluded.lateness_us, "
          "checkpoint = excluded.checkpoint, log_path = excluded.log_path, message = "
          "excluded.message, pid_start = excluded.pid_start, progress = excluded.progress, "
          "progress_message = excluded.progress_message, frozen_us = excluded.frozen_us, "
          "output_tail = excluded.output_tail, owner = excluded.owner",
          {id(run.run),
           pg::text(run.job),
           pg::integer(us(run.scheduled)),
           pg::integer(run.attempt),
           pg::text(to_string(run.state)),
           pg::maybe(run.exit_code),
           pg::maybe(run.signal),
           pg::maybe(run.pid),
           pg::integer(us(run.started)),
           run.ended ? pg::integer(us(*run.ended)) : pg::null(),
           pg::integer(run.lateness.count()),
           pg::bytes(run.checkpoint),
           pg::bytes(run.log_path),
           pg::bytes(run.message),
           pg::maybe(run.pid_start),
           run.progress ? pg::real(*run.progress) : pg::null(),
           pg::bytes(run.progress_message),
           pg::integer(run.frozen.count()),
           pg::bytes(run.output_tail),
           pg::maybe(run.owner)});
      delete_pending(c, run.run);
      // The job's latest history entry is a run now: no not-run record grows after it.
      c.exec("UPDATE job_state SET tail_not_run = NULL WHERE job = $1 AND tail_not_run IS NOT NULL",
             {pg::text(run.job)});
    });
  }
  void delete_run(RunId run) override {
    enqueue([run](Conn& c) { delete_run_rows(c, run); });
  }
  void put_fire(const PendingFire& fire) override {
    enqueue([fire](Conn& c) { add_pending(c, fire); });
  }
  void put_fire_taken(const PendingFire& fire, std::optional<Instant> next,
                      std::optional<NotRunRecord> folded) override {
    enqueue([fire, next, folded = std::move(folded)](Conn& c) {
      if (folded) append_not_run(c, *folded);
      add_pending(c, fire);
      if (folded) move_last_fire(c, fire.job, folded->last);
      set_next(c, fire.job, next);
    });
  }
  void put_progress(RunId run, double percent, const std::string& message) override {
    enqueue([run, percent, message](Conn& c) {
      c.exec("UPDATE runs SET progress = $1, progress_message = $2 WHERE id = $3",
             {pg::real(percent), pg::bytes(message), id(run)});
    });
  }
  void put_checkpoint(RunId run, const std::string& checkpoint) override {
    enqueue([run, checkpoint](Conn& c) {
      c.exec("UPDATE runs SET checkpoint = $1 WHERE id = $2", {pg::bytes(checkpoint), id(run)});
    });
  }
  void put_output(RunId run, const std::string& key, const std::string& value) override {
    enqueue([run, key, value](Conn& c) {
      c.exec(
          "INSERT INTO run_outputs (run, key, value) VALUES ($1,$2,$3) "
          "ON CONFLICT (run, key) DO UPDATE SET value = excluded.value",
          {id(run), pg::text(key), pg::bytes(value)});
    });
  }
  void put_workflow_run(const WorkflowRunRecord& run) override {
    enqueue([run, steps = encode_workflow_steps(run.steps)](Conn& c) {
      c.exec(
          "INSERT INTO workflow_runs (id, workflow, scheduled_us, state, started_us, ended_us, "
          "owner, message, steps, version) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) "
          "ON CONFLICT (id) DO UPDATE SET workflow = excluded.workflow, scheduled_us = "
          "excluded.scheduled_us, state = excluded.state, started_us = excluded.started_us, "
          "ended_us = excluded.ended_us, owner = excluded.owner, message = excluded.message, "
          "steps = excluded.steps, version = excluded.version",
          {id(run.id), pg::text(run.workflow), pg::integer(us(run.scheduled)),
           pg::text(to_string(run.state)), pg::integer(us(run.started)),
           run.ended && is_final(run.state) ? pg::integer(us(*run.ended)) : pg::null(),
           pg::maybe(run.owner), pg::bytes(run.message), pg::text(steps), pg::text(run.version)});
    });
  }
  void put_not_run(const NotRunRecord& record) override {
    enqueue([record](Conn& c) {
      move_last_fire(c, record.job, record.last);
      if (record.run.value != 0) delete_pending(c, record.run);
      append_not_run(c, record);
    });
  }
  void put_fire_not_run(const NotRunRecord& record, std::optional<Instant> next) override {
    enqueue([record, next](Conn& c) {
      move_last_fire(c, record.job, record.last);
      set_next(c, record.job, next);
      append_not_run(c, record);
    });
  }
  void put_next_fire(const std::string& job, std::optional<Instant> next) override {
    enqueue([job, next](Conn& c) { set_next(c, job, next); });
  }
  void put_next_fires(NextFires fires) override {
    // A statement per few thousand jobs (arrays unnested), not one per job: a start with a
    // million jobs writes them all.
    for (std::size_t first = 0; first < fires.size(); first += kNextFiresChunk) {
      std::string jobs = "{";
      std::string nexts = "{";
      const std::size_t end = std::min(fires.size(), first + kNextFiresChunk);
      for (std::size_t i = first; i < end; ++i) {
        if (i > first) {
          jobs += ',';
          nexts += ',';
        }
        jobs += pg::array_element(fires[i].first);
        nexts += fires[i].second ? std::to_string(us(*fires[i].second)) : "NULL";
      }
      jobs += '}';
      nexts += '}';
      enqueue([jobs = std::move(jobs), nexts = std::move(nexts)](Conn& c) {
        c.exec(
            "INSERT INTO job_state (job, next_us) SELECT * FROM unnest($1::text[], $2::bigint[]) "
            "ON CONFLICT (job) DO UPDATE SET next_us = excluded.next_us",
            {pg::text(jobs), pg::text(nexts)});
      });
    }
  }
  void put_paused(const std::string& job, bool paused) override {
    enqueue([job, paused](Conn& c) {
      c.exec(paused ? "INSERT INTO paused (job) VALUES ($1) ON CONFLICT DO NOTHING"
                    : "DELETE FROM paused WHERE job = $1",
             {pg::text(job)});
    });
  }
  void put_job_version(const std::string& job, int version, const std::string& definition,
                       const std::string& tree, Instant created, int keep) override {
    enqueue([=](Conn& c) {
      c.exec(
          "INSERT INTO job_versions (job, version, definition, created_us, tree) "
          "VALUES ($1,$2,$3,$4,$5) ON CONFLICT (job, version) DO UPDATE SET definition = "
          "excluded.definition, created_us = excluded.created_us, tree = excluded.tree",
          {pg::text(job), pg::integer(version), pg::bytes(definition), pg::integer(us(created)),
           pg::bytes(tree)});
      if (keep > 0) {
        c.exec("DELETE FROM job_versions WHERE job = $1 AND version <= $2",
               {pg::text(job), pg::integer(version - keep)});
      }
    });
  }
  void put_meta(const std::string& key, const std::string& value) override {
    enqueue([key, value](Conn& c) {
      c.exec(
          "INSERT INTO meta (key, value) VALUES ($1, $2) "
          "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
          {pg::text(key), pg::text(value)});
    });
  }
  void retire_job(const std::string& job, RunId since_run) override {
    enqueue([job, since_run](Conn& c) {
      c.exec(
          "INSERT INTO identities (job, since_run, since_not_run) "
          "VALUES ($1, $2, (SELECT COALESCE(MAX(id), 0) + 1 FROM not_run)) "
          "ON CONFLICT (job) DO UPDATE SET since_run = excluded.since_run, "
          "since_not_run = excluded.since_not_run",
          {pg::text(job), id(since_run)});
      c.exec("DELETE FROM pending_fires WHERE job = $1 AND run < $2",
             {pg::text(job), id(since_run)});
      c.exec("DELETE FROM job_state WHERE job = $1", {pg::text(job)});
      c.exec("DELETE FROM paused WHERE job = $1", {pg::text(job)});
    });
  }
  void assign_owner(const std::string& job, uid_t owner) override {
    enqueue([job, owner](Conn& c) {
      c.exec("UPDATE runs SET owner = $1 WHERE job = $2 AND owner IS NULL",
             {pg::integer(owner), pg::text(job)});
    });
  }

  Result<std::vector<std::string>> prune(std::size_t keep_runs,
                                         std::optional<Instant> cutoff) override {
    const Param keep = pg::integer(static_cast<std::int64_t>(keep_runs));
    const Param before = cutoff ? pg::integer(us(*cutoff)) : pg::null();
    std::vector<std::int64_t> ids;
    std::vector<std::string> logs;
    auto selected = read("selecting runs to prune", [&](Conn& c) {
      const Rows q = c.exec(
          "SELECT id, log_path FROM (SELECT id, log_path, state, ended_us, "
          "ROW_NUMBER() OVER (PARTITION BY job ORDER BY id DESC) AS n FROM runs) AS r "
          "WHERE state NOT IN ('running', 'paused') AND "
          "(($1::bigint > 0 AND n > $1::bigint) OR ($2::bigint IS NOT NULL AND ended_us < "
          "$2::bigint)) ORDER BY id DESC",
          {keep, before});
      for (int i = 0; i < q.size(); ++i) {
        ids.push_back(q.i64(i, 0));
        if (std::string log = q.bytes_at(i, 1); !log.empty()) logs.push_back(std::move(log));
      }
    });
    if (!selected) return selected.error();
    enqueue([ids = std::move(ids), keep, before](Conn& c) {
      const Param list = bigint_array(ids, [](std::int64_t v) { return v; });
      c.exec("DELETE FROM runs WHERE id = ANY($1::bigint[])", {list});
      c.exec("DELETE FROM run_outputs WHERE run = ANY($1::bigint[])", {list});
      c.exec(
          "DELETE FROM workflow_runs WHERE id IN (SELECT id FROM (SELECT id, ended_us, "
          "ROW_NUMBER() OVER (PARTITION BY workflow ORDER BY id DESC) AS n FROM workflow_runs) "
          "AS w WHERE ended_us IS NOT NULL AND (($1::bigint > 0 AND n > $1::bigint) OR "
          "($2::bigint IS NOT NULL AND ended_us < $2::bigint)))",
          {keep, before});
      if (before.value) c.exec("DELETE FROM not_run WHERE last_us < $1", {before});
    });
    return logs;
  }

  Status flush() override {
    std::promise<Status> committed;
    auto done = committed.get_future();
    when_committed([&committed](Status s) { committed.set_value(std::move(s)); }, Pace::kNow);
    return done.get();
  }
  void when_committed(std::function<void(Status)> done, Pace) override {
    {
      std::lock_guard lock(mu_);
      queue_.push_back(Queued{nullptr, std::move(done)});
      ++back_seq_;
    }
    cv_.notify_all();
  }
  void begin_group() override {
    std::lock_guard lock(mu_);
    if (group_depth_++ == 0) group_start_ = back_seq_;
  }
  void end_group() override {
    {
      std::lock_guard lock(mu_);
      --group_depth_;
    }
    cv_.notify_all();
  }
  StoreHealth health() override {
    std::lock_guard lock(mu_);
    StoreHealth h = health_;
    h.unwritten = unwritten_;
    return h;
  }

  // --- reads ---

  Result<std::vector<RunRecord>> runs(const RunQuery& query) override {
    std::vector<RunRecord> out;
    auto done = read("reading runs", [&](Conn& c) {
      std::string where = "WHERE true";
      std::vector<Param> params;
      auto param = [&](Param p) {
        params.push_back(std::move(p));
        return "$" + std::to_string(params.size());
      };
      if (query.job) {
        const std::string job = param(pg::text(*query.job));
        where += " AND job = " + job;
        if (query.current_identity) {
          where +=
              " AND id >= COALESCE((SELECT since_run FROM identities WHERE "
              "identities.job = " +
              job + "), 0)";
        }
      }
      if (query.state) {
        where += " AND state = " + param(pg::text(to_string(*query.state)));
        if (!is_final(*query.state)) where += " AND ended_us IS NULL";
      }
      if (query.run) where += " AND id = " + param(id(*query.run));
      if (query.since) where += " AND started_us >= " + param(pg::integer(us(*query.since)));
      if (query.owner) where += " AND owner = " + param(pg::integer(*query.owner));
      const std::string limit = param(pg::integer(static_cast<std::int64_t>(query.limit)));
      const Rows q = c.exec(kRunColumns + where + " ORDER BY id DESC LIMIT " + limit, params);
      for (int i = 0; i < q.size(); ++i) out.push_back(read_run(q, i));
      if (query.outputs && !out.empty()) {
        const Rows o =
            c.exec("SELECT run, key, value FROM run_outputs WHERE run = ANY($1::bigint[])",
                   {bigint_array(out, [](const RunRecord& r) { return r.run.value; })});
        std::map<std::uint64_t, RunRecord*> by_id;
        for (RunRecord& r : out) by_id[r.run.value] = &r;
        for (int i = 0; i < o.size(); ++i) {
          const auto it = by_id.find(static_cast<std::uint64_t>(o.i64(i, 0)));
          if (it != by_id.end()) it->second->outputs[o.str(i, 1)] = o.bytes_at(i, 2);
        }
      }
    });
    if (!done) return done.error();
    return out;
  }
  Result<std::map<std::string, RunRecord>> latest_ended_runs() override {
    return latest_runs_ended_as({});
  }
  Result<std::map<std::string, RunRecord>> latest_runs_ended_as(
      const std::vector<RunState>& states) override {
    std::string in;
    for (const RunState s : states) in += std::string(in.empty() ? "" : ",") + to_string(s);
    std::map<std::string, RunRecord> out;
    auto done = read("reading the latest runs", [&](Conn& c) {
      const Rows q = c.exec(std::string(kRunColumns) +
                                "WHERE id IN (SELECT MAX(r.id) FROM runs r LEFT JOIN identities i "
                                "ON i.job = r.job WHERE r.ended_us IS NOT NULL AND r.id >= "
                                "COALESCE(i.since_run, 0) AND ($1 = '' OR r.state = "
                                "ANY(string_to_array($1, ','))) GROUP BY r.job)",
                            {pg::text(in)});
      for (int i = 0; i < q.size(); ++i) {
        RunRecord r = read_run(q, i);
        std::string job = r.job;
        out.emplace(std::move(job), std::move(r));
      }
    });
    if (!done) return done.error();
    return out;
  }
  Result<std::vector<NotRunRecord>> not_run(const std::string& job, std::size_t limit) override {
    std::vector<NotRunRecord> out;
    auto done = read("reading not-run records", [&](Conn& c) {
      const Rows q = c.exec(
          "SELECT state, reason, first_us, last_us, count FROM not_run WHERE job = $1 AND id >= "
          "COALESCE((SELECT since_not_run FROM identities WHERE identities.job = $1), 0) "
          "ORDER BY id DESC LIMIT $2",
          {pg::text(job), pg::integer(static_cast<std::int64_t>(limit))});
      for (int i = 0; i < q.size(); ++i) {
        NotRunRecord r;
        r.job = job;
        r.state = run_state_from_string(q.str(i, 0)).value_or(RunState::kMissed);
        r.reason = not_run_reason_from_string(q.str(i, 1)).value_or(NotRunReason::kOverlap);
        r.first = instant(q.i64(i, 2));
        r.last = instant(q.i64(i, 3));
        r.count = static_cast<std::uint64_t>(q.i64(i, 4));
        out.push_back(std::move(r));
      }
    });
    if (!done) return done.error();
    return out;
  }
  Result<std::map<std::string, Instant>> last_fires() override {
    return instants("SELECT job, last_fire_us FROM job_state WHERE last_fire_us IS NOT NULL",
                    "reading the last fires");
  }
  Result<std::map<std::string, Instant>> next_fires() override {
    return instants("SELECT job, next_us FROM job_state WHERE next_us IS NOT NULL",
                    "reading the next fires");
  }
  Result<std::vector<PendingFire>> pending_fires() override {
    std::vector<PendingFire> out;
    auto done = read("reading the pending fires", [&](Conn& c) {
      const Rows q = c.exec(
          "SELECT job, scheduled_us, due_us, attempt, resumes, run FROM pending_fires "
          "ORDER BY due_us, run");
      for (int i = 0; i < q.size(); ++i) {
        out.push_back(PendingFire{q.str(i, 0), instant(q.i64(i, 1)), instant(q.i64(i, 2)),
                                  static_cast<int>(q.i64(i, 3)), static_cast<int>(q.i64(i, 4)),
                                  RunId{static_cast<std::uint64_t>(q.i64(i, 5))}});
      }
    });
    if (!done) return done.error();
    return out;
  }
  Result<std::vector<std::string>> paused() override {
    std::vector<std::string> out;
    auto done = read("reading the pause flags", [&](Conn& c) {
      const Rows q = c.exec("SELECT job FROM paused ORDER BY job");
      for (int i = 0; i < q.size(); ++i) out.push_back(q.str(i, 0));
    });
    if (!done) return done.error();
    return out;
  }
  Result<std::vector<std::pair<int, std::string>>> job_versions(const std::string& job) override {
    std::vector<std::pair<int, std::string>> out;
    auto done = read("reading job versions", [&](Conn& c) {
      const Rows q =
          c.exec("SELECT version, definition FROM job_versions WHERE job = $1 ORDER BY version",
                 {pg::text(job)});
      for (int i = 0; i < q.size(); ++i) {
        out.emplace_back(static_cast<int>(q.i64(i, 0)), q.bytes_at(i, 1));
      }
    });
    if (!done) return done.error();
    return out;
  }
  Status for_each_latest_job_version(const VersionVisitor& visit) override {
    // Read whole, then visited without the reader held: `visit` may call back into the store.
    // (A keyset-paged read would bound the memory of a million definitions; see skedd(8).)
    std::vector<std::tuple<std::string, int, std::string, std::string>> latest;
    auto done = read("reading job versions", [&](Conn& c) {
      const Rows q = c.exec(
          "SELECT DISTINCT ON (job) job, version, definition, tree FROM job_versions "
          "ORDER BY job, version DESC");
      for (int i = 0; i < q.size(); ++i) {
        latest.emplace_back(q.str(i, 0), static_cast<int>(q.i64(i, 1)), q.bytes_at(i, 2),
                            q.null(i, 3) ? std::string() : q.bytes_at(i, 3));
      }
    });
    if (!done) return done.error();
    for (const auto& [job, version, definition, tree] : latest) {
      visit(job, version, definition, tree);
    }
    return Ok{};
  }
  Result<std::map<std::string, RunId>> identities() override {
    std::map<std::string, RunId> out;
    auto done = read("reading identities", [&](Conn& c) {
      const Rows q = c.exec("SELECT job, since_run FROM identities");
      for (int i = 0; i < q.size(); ++i) {
        out[q.str(i, 0)] = RunId{static_cast<std::uint64_t>(q.i64(i, 1))};
      }
    });
    if (!done) return done.error();
    return out;
  }
  Result<std::optional<std::string>> meta(const std::string& key) override {
    std::optional<std::string> out;
    auto done = read("reading meta", [&](Conn& c) {
      const Rows q = c.exec("SELECT value FROM meta WHERE key = $1", {pg::text(key)});
      if (q.size() > 0) out = q.str(0, 0);
    });
    if (!done) return done.error();
    return out;
  }
  Result<std::vector<WorkflowRunRecord>> workflow_runs(const WorkflowRunQuery& query) override {
    std::vector<WorkflowRunRecord> out;
    auto done = read("reading workflow runs", [&](Conn& c) {
      const Rows q = c.exec(
          "SELECT id, workflow, scheduled_us, state, started_us, ended_us, owner, message, steps, "
          "version FROM workflow_runs WHERE ($1::text IS NULL OR workflow = $1::text) AND "
          "($2::bigint IS NULL OR id = $2::bigint) AND (NOT $3::boolean OR ended_us IS NULL) "
          "ORDER BY id DESC LIMIT $4",
          {query.workflow ? pg::text(*query.workflow) : pg::null(),
           query.id ? id(*query.id) : pg::null(), pg::text(query.unfinished ? "true" : "false"),
           pg::integer(static_cast<std::int64_t>(query.limit))});
      for (int i = 0; i < q.size(); ++i) out.push_back(read_workflow_run(q, i));
    });
    if (!done) return done.error();
    return out;
  }

 private:
  static WorkflowRunRecord read_workflow_run(const Rows& q, int i) {
    WorkflowRunRecord r;
    r.id = RunId{static_cast<std::uint64_t>(q.i64(i, 0))};
    r.workflow = q.str(i, 1);
    r.scheduled = instant(q.i64(i, 2));
    r.state = workflow_run_state_from_string(q.str(i, 3)).value_or(WorkflowRunState::kFailed);
    r.started = instant(q.i64(i, 4));
    if (auto v = q.opt(i, 5)) r.ended = instant(*v);
    if (auto v = q.opt(i, 6)) r.owner = static_cast<uid_t>(*v);
    r.message = q.bytes_at(i, 7);
    r.steps = decode_workflow_steps(q.str(i, 8));
    r.version = q.str(i, 9);
    return r;
  }

  static void delete_pending(Conn& c, RunId run) {
    c.exec("DELETE FROM pending_fires WHERE run = $1", {id(run)});
  }
  static void delete_run_rows(Conn& c, RunId run) {
    c.exec("DELETE FROM runs WHERE id = $1", {id(run)});
    c.exec("DELETE FROM run_outputs WHERE run = $1", {id(run)});
  }
  static void add_pending(Conn& c, const PendingFire& fire) {
    c.exec(
        "INSERT INTO pending_fires (run, job, scheduled_us, due_us, attempt, resumes) "
        "VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (run) DO UPDATE SET job = excluded.job, "
        "scheduled_us = excluded.scheduled_us, due_us = excluded.due_us, attempt = "
        "excluded.attempt, resumes = excluded.resumes",
        {id(fire.run), pg::text(fire.job), pg::integer(us(fire.scheduled)),
         pg::integer(us(fire.due)), pg::integer(fire.attempt), pg::integer(fire.resumes)});
    if (fire.attempt == 1) move_last_fire(c, fire.job, fire.scheduled);
  }
  // A job's last fire never moves back (GREATEST ignores a NULL).
  static void move_last_fire(Conn& c, const std::string& job, Instant t) {
    c.exec(
        "INSERT INTO job_state (job, last_fire_us) VALUES ($1, $2) ON CONFLICT (job) DO UPDATE "
        "SET last_fire_us = GREATEST(job_state.last_fire_us, excluded.last_fire_us)",
        {pg::text(job), pg::integer(us(t))});
  }
  static void set_next(Conn& c, const std::string& job, std::optional<Instant> next) {
    if (next) {
      c.exec(
          "INSERT INTO job_state (job, next_us) VALUES ($1, $2) "
          "ON CONFLICT (job) DO UPDATE SET next_us = excluded.next_us",
          {pg::text(job), pg::integer(us(*next))});
    } else {
      c.exec("UPDATE job_state SET next_us = NULL WHERE job = $1", {pg::text(job)});
    }
  }
  // Grows the job's latest history entry (job_state.tail_not_run, which a run of the job
  // clears) when it is a not-run record of the same state and reason; else adds one.
  static void append_not_run(Conn& c, const NotRunRecord& nr) {
    const Rows grown = c.exec(
        "UPDATE not_run SET last_us = GREATEST(last_us, $4), count = count + $5 WHERE id = "
        "(SELECT tail_not_run FROM job_state WHERE job = $1) AND state = $2 AND reason = $3",
        {pg::text(nr.job), pg::text(to_string(nr.state)), pg::text(to_string(nr.reason)),
         pg::integer(us(nr.last)), pg::integer(static_cast<std::int64_t>(nr.count))});
    if (grown.changed() > 0) return;
    c.exec(
        "WITH added AS (INSERT INTO not_run (job, state, reason, first_us, last_us, count) "
        "VALUES ($1,$2,$3,$4,$5,$6) RETURNING id) "
        "INSERT INTO job_state (job, tail_not_run) SELECT $1, id FROM added "
        "ON CONFLICT (job) DO UPDATE SET tail_not_run = excluded.tail_not_run",
        {pg::text(nr.job), pg::text(to_string(nr.state)), pg::text(to_string(nr.reason)),
         pg::integer(us(nr.first)), pg::integer(us(nr.last)),
         pg::integer(static_cast<std::int64_t>(nr.count))});
  }

  Result<std::map<std::string, Instant>> instants(const char* sql, const char* what) {
    std::map<std::string, Instant> out;
    auto done = read(what, [&](Conn& c) {
      const Rows q = c.exec(sql);
      for (int i = 0; i < q.size(); ++i) out[q.str(i, 0)] = instant(q.i64(i, 1));
    });
    if (!done) return done.error();
    return out;
  }

  // Runs `body` on the reader connection, once more on a new connection when the first try
  // found it lost (the server restarted since the last read).
  Status read(const char* what, const std::function<void(Conn&)>& body) {
    std::lock_guard lock(read_mu_);
    for (int attempt = 0;; ++attempt) {
      const bool was_connected = reader_conn_.connected();
      try {
        body(reader_conn_);
        return Ok{};
      } catch (const PgError& e) {
        if (attempt == 0 && was_connected && !reader_conn_.connected()) continue;
        if (attempt < 3 && e.retryable()) continue;
        return Error::io(std::string("postgres store: ") + what + ": " + e.what());
      }
    }
  }

  void enqueue(std::function<void(Conn&)> apply) {
    {
      std::lock_guard lock(mu_);
      queue_.push_back(Queued{std::move(apply), nullptr});
      ++back_seq_;
      ++unwritten_;
    }
    cv_.notify_all();
  }

  // How many of the queued entries the writer may take: all, or those before an open group.
  std::size_t takeable() const {
    if (group_depth_ == 0) return queue_.size();
    return static_cast<std::size_t>(group_start_ - front_seq_);
  }

  void write_loop() {
    name_this_thread("skedd-pgstore");
    auto backoff = kFirstBackoff;
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return takeable() > 0 || (stopping_ && queue_.empty()); });
      if (queue_.empty()) return;  // stopping, and everything is written
      std::vector<Queued> batch;
      const std::size_t n = std::min(takeable(), kMaxBatch);
      batch.reserve(n);
      for (std::size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      front_seq_ += n;
      lock.unlock();
      std::size_t writes = 0;
      const auto started = std::chrono::steady_clock::now();
      std::optional<Error> failed;
      try {
        commit(batch, writes);
      } catch (const PgError& e) {
        failed = Error::io("postgres store: commit: " + std::string(e.what()));
      }
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      lock.lock();
      health_.commits.observe(seconds);
      if (!failed) {
        health_.ok = true;
        unwritten_ -= writes;
        backoff = kFirstBackoff;
        lock.unlock();
        for (Queued& q : batch) {
          if (q.done) q.done(Ok{});
        }
        lock.lock();
        continue;
      }
      health_.ok = false;
      health_.error = failed->message;
      // The writes go back to the front, to be tried again; their waiters hear of the failure
      // now (and are not told again).
      std::vector<std::function<void(Status)>> told;
      std::size_t kept = 0;
      for (auto it = batch.rbegin(); it != batch.rend(); ++it) {
        if (it->apply) {
          queue_.push_front(std::move(*it));
          ++kept;
        } else {
          told.push_back(std::move(it->done));
        }
      }
      front_seq_ -= kept;
      // The group mark counts entries: those told are gone, so it moves down with them.
      if (group_depth_ > 0) group_start_ -= (n - kept);
      back_seq_ -= (n - kept);
      const bool giving_up = stopping_ && backoff >= kLongestBackoff;
      lock.unlock();
      for (auto& done : told) done(*failed);
      if (giving_up) {
        lock.lock();
        return;  // closing with a database that stays away: what is queued is lost
      }
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2,
                         std::chrono::duration_cast<std::chrono::milliseconds>(kLongestBackoff));
      lock.lock();
    }
  }

  // One transaction of `batch`'s writes, run again at once on a serialization failure.
  void commit(const std::vector<Queued>& batch, std::size_t& writes) {
    for (int attempt = 0;; ++attempt) {
      writes = 0;
      try {
        writer_conn_.exec("BEGIN");
        for (const Queued& q : batch) {
          if (!q.apply) continue;
          q.apply(writer_conn_);
          ++writes;
        }
        writer_conn_.exec("COMMIT");
        return;
      } catch (const PgError& e) {
        if (writer_conn_.connected()) {
          try {
            writer_conn_.exec("ROLLBACK");
          } catch (const PgError&) {
            writer_conn_.reset();
          }
        }
        if (e.retryable() && attempt < 5) continue;
        throw;
      }
    }
  }

  void migrate(const std::string& schema) {
    Conn& c = writer_conn_;
    // The connection's search path names the schema before it exists: PostgreSQL allows
    // that, and resolves the path again once it is made.
    c.ensure();
    // Nodes making them at once: one wins, the others may see IF NOT EXISTS race and fail
    // with a unique violation or a duplicate schema, table or (its row) type.
    const auto made_by_another = [](const PgError& e) {
      return e.sqlstate() == "23505" || e.sqlstate() == "42P06" || e.sqlstate() == "42P07" ||
             e.sqlstate() == "42710";
    };
    for (const std::string& sql : {"CREATE SCHEMA IF NOT EXISTS " + schema,
                                   std::string("CREATE TABLE IF NOT EXISTS schema_version "
                                               "(version INTEGER NOT NULL)")}) {
      try {
        c.exec(sql);
      } catch (const PgError& e) {
        if (!made_by_another(e)) throw;
      }
    }
    c.exec("BEGIN");
    try {
      // One node migrates at a time; the others wait here, then find it done.
      c.exec("LOCK TABLE schema_version IN EXCLUSIVE MODE");
      const Rows v = c.exec("SELECT version FROM schema_version");
      const int version = v.size() > 0 ? static_cast<int>(v.i64(0, 0)) : 0;
      if (version > kSchemaVersion) {
        throw Error::io("postgres store: schema \"" + schema + "\" has version " +
                        std::to_string(version) + ", newer than this skedd's (" +
                        std::to_string(kSchemaVersion) +
                        "): it was written by a newer skedd; run that, or another schema");
      }
      for (int i = version; i < kSchemaVersion; ++i) c.exec_script(kMigrations[i]);
      if (v.size() == 0) {
        c.exec("INSERT INTO schema_version (version) VALUES ($1)", {pg::integer(kSchemaVersion)});
      } else if (version != kSchemaVersion) {
        c.exec("UPDATE schema_version SET version = $1", {pg::integer(kSchemaVersion)});
      }
      c.exec("COMMIT");
    } catch (...) {
      try {
        c.exec("ROLLBACK");
      } catch (const PgError&) {
        c.reset();
      }
      throw;
    }
  }

  Conn writer_conn_;  // the writer thread's (and open()'s, before the thread starts)
  std::mutex read_mu_;
  Conn reader_conn_;  // under read_mu_

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Queued> queue_;
  // Entries are numbered as they are queued: front_seq_ is the number of queue_.front(),
  // back_seq_ the next one's; group_start_ the first entry of the open group (group_depth_).
  std::uint64_t front_seq_ = 0;
  std::uint64_t back_seq_ = 0;
  std::uint64_t group_start_ = 0;
  int group_depth_ = 0;
  std::uint64_t unwritten_ = 0;
  StoreHealth health_;
  bool stopping_ = false;
  std::thread writer_;
};

}  // namespace

Status check_postgres_url(const std::string& url) {
  if (url.empty()) return Error::invalid_argument("url is empty");
  char* why = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &why);
  if (options == nullptr) {
    std::string message = why == nullptr ? "out of memory" : why;
    if (why != nullptr) PQfreemem(why);
    while (!message.empty() && message.back() == '\n') message.pop_back();
    return Error::invalid_argument("url is not a PostgreSQL connection string: " + message);
  }
  bool password = false;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (std::string(o->keyword) == "password" && o->val != nullptr && o->val[0] != '\0') {
      password = true;
    }
  }
  PQconninfoFree(options);
  if (password) {
    return Error::invalid_argument(
        "url holds a password: give it in the passfile ([store] passfile, 0600), never in "
        "the config");
  }
  return Ok{};
}

Status check_postgres_schema(const std::string& schema) {
  static const std::regex kName("[a-z_][a-z0-9_]{0,62}");
  if (!std::regex_match(schema, kName)) {
    return Error::invalid_argument("schema \"" + schema +
                                   "\" is not a schema name ([a-z_][a-z0-9_]{0,62})");
  }
  return Ok{};
}

Result<std::unique_ptr<Store>> open_postgres_store(const PostgresStoreOptions& options) {
  if (auto ok = check_postgres_url(options.url); !ok) {
    return Error::invalid_argument("postgres store: " + ok.error().message);
  }
  if (auto ok = check_postgres_schema(options.schema); !ok) {
    return Error::invalid_argument("postgres store: " + ok.error().message);
  }
  std::vector<std::pair<std::string, std::string>> conninfo = {
      {"dbname", options.url},
      {"connect_timeout", std::to_string(options.connect_timeout_s)},
      {"application_name", options.application_name},
  };
  if (!options.passfile.empty()) conninfo.emplace_back("passfile", options.passfile);
  auto store = std::make_unique<PostgresStore>(std::move(conninfo), options.schema);
  if (auto opened = store->open(options.schema); !opened) return opened.error();
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace skedd
