// The SQLite store's writer: each batch of queued writes as the fewest statements (rows of
// one kind together, many rows per statement), run on the writer thread.
#include <algorithm>

#include "store/sqlite_store_impl.h"
#include "store/workflow_steps.h"

namespace skedd::sqlite_store {

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
  // The job rows, written at once (their not_run rows say nothing of the next fire). A job's
  // row held back is older: it takes this next fire, and gives its last one if later.
  MultiRowStatement::for_each_chunk(ops.size(), [&](std::size_t first, std::size_t n) {
    exec_rows(upsert_taken_, n, [&](SQLite::Statement& q, int base, std::size_t k) {
      const NotRunRecord& nr = ops[first + k]->record;
      Instant last = nr.last;
      if (const auto held = held_rows_.find(nr.job); held != held_rows_.end()) {
        last = std::max(last, held->second.last);
        held->second.next = ops[first + k]->next;
      }
      bind_job_row(q, base, nr.job, last, ops[first + k]->next);
    });
  });
  std::vector<const NotRunRecord*> records;
  records.reserve(ops.size());
  for (const FireNotRunOp* op : ops) records.push_back(&op->record);
  append_not_runs(records);
}

void SqliteStore::append_not_runs(const std::vector<const NotRunRecord*>& records) {
  // Each extends its job's last not_run row (of the same state and reason) or is a new one;
  // new ones of one job in this group are merged before they are written, and all new ones
  // are written together.
  std::vector<NotRunRecord> fresh;
  std::unordered_map<std::string_view, std::size_t> fresh_of_job;
  for (const NotRunRecord* record : records) {
    const NotRunRecord& nr = *record;
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
  } else if (const auto* workflow = std::get_if<WorkflowRunRecord>(&op)) {
    write_workflow_run(*workflow);
  } else if (const auto* output = std::get_if<OutputOp>(&op)) {
    SQLite::Statement& q = statement(
        upsert_output_, "INSERT OR REPLACE INTO run_outputs (run, key, value) VALUES (?,?,?)");
    q.bind(1, static_cast<std::int64_t>(output->run.value));
    q.bindNoCopy(2, output->key);
    q.bindNoCopy(3, output->value.data(), static_cast<int>(output->value.size()));
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
    write_meta(meta->key, meta->value);
  } else if (std::holds_alternative<JobRowsOp>(op)) {
    write_held_rows();
  } else if (const auto* retire = std::get_if<RetireOp>(&op)) {
    retire_identity(retire->job, retire->since_run);
  } else if (const auto* owner = std::get_if<OwnerOp>(&op)) {
    SQLite::Statement q(*writer_db_, "UPDATE runs SET owner = ? WHERE job = ? AND owner IS NULL");
    q.bind(1, static_cast<std::int64_t>(owner->owner));
    q.bind(2, owner->job);
    q.exec();
  } else if (const auto* del = std::get_if<DeleteRunOp>(&op)) {
    write_held_rows();  // the run may be the record of a held row's fire
    delete_run_rows(static_cast<std::int64_t>(del->run.value));
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
    if (version->keep > 0) {
      SQLite::Statement old(*writer_db_, "DELETE FROM job_versions WHERE job = ? AND version <= ?");
      old.bind(1, version->job);
      old.bind(2, version->version - version->keep);
      old.exec();
    }
  } else {
    const auto& prune = std::get<PruneOp>(op);
    write_held_rows();  // as for DeleteRunOp
    for (std::int64_t id : prune.runs) delete_run_rows(id);
    // Workflow runs by the same rules as runs: the newest keep_runs of each workflow, and
    // none that ended before the cutoff (never one that has not ended).
    SQLite::Statement workflows(
        *writer_db_,
        "DELETE FROM workflow_runs WHERE id IN (SELECT id FROM (SELECT id, ended_us, "
        "ROW_NUMBER() OVER (PARTITION BY workflow ORDER BY id DESC) AS n FROM workflow_runs) "
        "WHERE ended_us IS NOT NULL AND ((?1 > 0 AND n > ?1) OR (?2 IS NOT NULL AND "
        "ended_us < ?2)))");
    workflows.bind(1, static_cast<std::int64_t>(prune.keep_runs));
    if (prune.cutoff) workflows.bind(2, us(*prune.cutoff));
    workflows.exec();
    if (prune.cutoff) {
      SQLite::Statement& nr = statement(delete_not_run_, "DELETE FROM not_run WHERE last_us < ?");
      nr.bind(1, us(*prune.cutoff));
      nr.exec();
      tails_.clear();  // a record being extended may be gone
    }
  }
}

void SqliteStore::write_workflow_run(const WorkflowRunRecord& run) {
  const std::string steps = encode_workflow_steps(run.steps);
  SQLite::Statement& q =
      statement(upsert_workflow_run_,
                "INSERT OR REPLACE INTO workflow_runs (id, workflow, scheduled_us, state, "
                "started_us, ended_us, owner, message, steps, version) "
                "VALUES (?,?,?,?,?,?,?,?,?,?)");
  q.bind(1, static_cast<std::int64_t>(run.id.value));
  q.bindNoCopy(2, run.workflow);
  q.bind(3, us(run.scheduled));
  q.bindNoCopy(4, to_string(run.state));
  q.bind(5, us(run.started));
  if (run.ended && is_final(run.state)) q.bind(6, us(*run.ended));
  if (run.owner) q.bind(7, static_cast<std::int64_t>(*run.owner));
  q.bindNoCopy(8, run.message);
  q.bind(9, steps);
  q.bindNoCopy(10, run.version);
  q.exec();
}

void SqliteStore::delete_run_rows(std::int64_t id) {
  SQLite::Statement& run = statement(delete_run_, "DELETE FROM runs WHERE id = ?");
  run.bind(1, id);
  run.exec();
  SQLite::Statement& outputs = statement(delete_outputs_, "DELETE FROM run_outputs WHERE run = ?");
  outputs.bind(1, id);
  outputs.exec();
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

// Whether a run has only the columns of kIntoPlainRuns: no process, checkpoint, log, message,
// progress, pause, output or owner but the daemon (most handler runs).
bool is_plain(const RunRecord& run) {
  return !run.signal && !run.pid && !run.pid_start && !run.progress && run.frozen.count() == 0 &&
         !run.owner && run.checkpoint.empty() && run.log_path.empty() && run.message.empty() &&
         run.progress_message.empty() && run.output_tail.empty();
}

// Binds a plain run's columns (as insert_plain_runs_ names them, the first ones of
// insert_runs_) from parameter `base` + 1 on.
void bind_plain_run(SQLite::Statement& q, int base, const RunRecord& run) {
  // NoCopy: the op outlives the statement's step, and the statement's bindings are cleared
  // before its next use (SQLite would otherwise copy every string of every write).
  q.bind(base + 1, static_cast<std::int64_t>(run.run.value));
  q.bindNoCopy(base + 2, run.job);
  q.bind(base + 3, us(run.scheduled));
  q.bind(base + 4, run.attempt);
  q.bindNoCopy(base + 5, to_string(run.state));
  if (run.exit_code) q.bind(base + 6, *run.exit_code);
  q.bind(base + 7, us(run.started));
  if (run.ended && is_final(run.state)) q.bind(base + 8, us(*run.ended));
  q.bind(base + 9, static_cast<std::int64_t>(run.lateness.count()));
}

// Binds a run's columns (as insert_runs_ names them) from parameter `base` + 1 on.
void bind_run(SQLite::Statement& q, int base, const RunRecord& run) {
  bind_plain_run(q, base, run);
  if (run.signal) q.bind(base + 10, *run.signal);
  if (run.pid) q.bind(base + 11, static_cast<std::int32_t>(*run.pid));
  q.bindNoCopy(base + 12, run.checkpoint);
  q.bindNoCopy(base + 13, run.log_path);
  q.bindNoCopy(base + 14, run.message);
  if (run.pid_start) q.bind(base + 15, static_cast<std::int64_t>(*run.pid_start));
  if (run.progress) q.bind(base + 16, *run.progress);
  q.bindNoCopy(base + 17, run.progress_message);
  q.bind(base + 18, static_cast<std::int64_t>(run.frozen.count()));
  q.bindNoCopy(base + 19, run.output_tail.data(), static_cast<int>(run.output_tail.size()));
  if (run.owner) q.bind(base + 20, static_cast<std::int64_t>(*run.owner));
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
  // The fires folded into them: their not_run rows. Their job rows are held back with the
  // fires' own, which are later and on record from now on.
  std::vector<const NotRunRecord*> folded;
  for (std::size_t k = 0; k < n; ++k) {
    if (fires[k]->folded) folded.push_back(&*fires[k]->folded);
  }
  if (!folded.empty()) append_not_runs(folded);
  for (std::size_t k = 0; k < n; ++k) hold_job_row(*fires[k]);
}

void SqliteStore::merge_row(HeldRows& rows, const std::string& job, const HeldRow& row,
                            bool newer) {
  const auto [it, added] = rows.try_emplace(job, row);
  if (added) return;
  it->second.last = std::max(it->second.last, row.last);
  if (newer) it->second.next = row.next;
}

void SqliteStore::hold_job_row(const FireTakenOp& taken) {
  const PendingFire& fire = taken.fire;
  if (held_rows_.empty()) {
    held_since_ = std::chrono::steady_clock::now();
    held_low_run_ = 0;
  }
  const Instant last = taken.folded ? std::max(fire.scheduled, taken.folded->last) : fire.scheduled;
  merge_row(held_rows_, fire.job, HeldRow{last, taken.next}, true);
  const auto run = static_cast<std::int64_t>(fire.run.value);
  if (held_low_run_ == 0 || run < held_low_run_) held_low_run_ = run;
  ++held_fires_;
}

void SqliteStore::write_held_rows() {
  if (held_rows_.empty()) return;
  // In the order of their key: each upsert then finds its page next to the last one's.
  std::vector<const HeldRows::value_type*> rows;
  rows.reserve(held_rows_.size());
  for (const auto& row : held_rows_) rows.push_back(&row);
  std::sort(rows.begin(), rows.end(),
            [](const auto* a, const auto* b) { return a->first < b->first; });
  MultiRowStatement::for_each_chunk(rows.size(), [&](std::size_t first, std::size_t n) {
    exec_rows(upsert_taken_, n, [&](SQLite::Statement& q, int base, std::size_t k) {
      const auto& [job, row] = *rows[first + k];
      bind_job_row(q, base, job, row.last, row.next);
    });
  });
  // Kept until the commit: a failed one puts them back (settle_held_rows()).
  for (const auto& [job, row] : held_rows_) merge_row(written_rows_, job, row, true);
  if (written_low_run_ == 0 || (held_low_run_ != 0 && held_low_run_ < written_low_run_)) {
    written_low_run_ = held_low_run_;
  }
  held_rows_.clear();
  held_low_run_ = 0;
  held_fires_ = 0;
}

void SqliteStore::end_held_rows(bool closing) {
  if (!held_rows_.empty() && (closing || held_fires_ >= kJobRowsFires ||
                              std::chrono::steady_clock::now() - held_since_ >= kJobRowsAge)) {
    write_held_rows();
  }
  recording_low_run_ = held_rows_.empty() ? 0 : held_low_run_;
  if (recording_low_run_ == recorded_low_run_) return;
  write_meta(kHeldSinceKey, recording_low_run_ == 0
                                ? std::nullopt
                                : std::optional<std::string>(std::to_string(recording_low_run_)));
}

void SqliteStore::settle_held_rows(bool committed) {
  if (committed) {
    recorded_low_run_ = recording_low_run_;
  } else {
    // Held again; the batch, tried again, holds its own rows again as well.
    for (const auto& [job, row] : written_rows_) merge_row(held_rows_, job, row, false);
    if (written_low_run_ != 0 && (held_low_run_ == 0 || written_low_run_ < held_low_run_)) {
      held_low_run_ = written_low_run_;
    }
  }
  written_rows_.clear();
  written_low_run_ = 0;
}

void SqliteStore::apply_runs(const RunRecord* const* runs, std::size_t n) {
  // A chunk of plain runs only (as under a heavy load of handler runs) binds fewer values.
  if (std::all_of(runs, runs + n, [](const RunRecord* run) { return is_plain(*run); })) {
    insert_or_replace(
        insert_plain_runs_, replace_plain_run_, n,
        [&](SQLite::Statement& q, int base, std::size_t k) { bind_plain_run(q, base, *runs[k]); });
  } else {
    insert_or_replace(
        insert_runs_, replace_run_, n,
        [&](SQLite::Statement& q, int base, std::size_t k) { bind_run(q, base, *runs[k]); });
  }
  for (std::size_t k = 0; k < n; ++k) {
    const RunRecord& run = *runs[k];
    // One row a statement: ORed terms for many rows each search their key too, and then
    // gather the keys found in a temporary table (more instructions in all).
    delete_pending(run.run);
    if (!tails_.empty()) tails_.erase(run.job);
  }
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

}  // namespace skedd::sqlite_store
