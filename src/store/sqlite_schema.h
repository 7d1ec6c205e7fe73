// The state database's schema, as the migrations that build it (tests build old versions).
#pragma once

#include <iterator>

namespace skedd::sqlite_schema {

// Each entry brings the schema from version i to i + 1. Never edit a released entry: append.
inline constexpr const char* kMigrations[] = {
    R"(CREATE TABLE runs (
         id INTEGER PRIMARY KEY, job TEXT NOT NULL, scheduled_us INTEGER NOT NULL,
         attempt INTEGER NOT NULL, state TEXT NOT NULL, exit_code INTEGER, signal INTEGER,
         pid INTEGER, started_us INTEGER NOT NULL, ended_us INTEGER,
         lateness_us INTEGER NOT NULL, checkpoint TEXT NOT NULL DEFAULT '',
         log_path TEXT NOT NULL DEFAULT '', message TEXT NOT NULL DEFAULT '');
       CREATE INDEX runs_by_job ON runs (job, id);
       CREATE TABLE not_run (
         id INTEGER PRIMARY KEY AUTOINCREMENT, job TEXT NOT NULL, state TEXT NOT NULL,
         reason TEXT NOT NULL, first_us INTEGER NOT NULL, last_us INTEGER NOT NULL,
         count INTEGER NOT NULL);
       CREATE INDEX not_run_by_job ON not_run (job, id);)",
    R"(CREATE TABLE job_state (job TEXT PRIMARY KEY, last_fire_us INTEGER NOT NULL);
       CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);)",
    R"(ALTER TABLE runs ADD COLUMN pid_start INTEGER;)",
    R"(CREATE TABLE pending_fires (
         job TEXT NOT NULL, scheduled_us INTEGER NOT NULL, due_us INTEGER NOT NULL,
         attempt INTEGER NOT NULL, resumes INTEGER NOT NULL, PRIMARY KEY (job, scheduled_us));
       ALTER TABLE runs ADD COLUMN progress REAL;
       ALTER TABLE runs ADD COLUMN progress_message TEXT NOT NULL DEFAULT '';
       ALTER TABLE runs ADD COLUMN frozen_us INTEGER NOT NULL DEFAULT 0;
       ALTER TABLE runs ADD COLUMN output_tail BLOB NOT NULL DEFAULT '';
       CREATE INDEX runs_by_state ON runs (state);
       CREATE TABLE next_fires (job TEXT PRIMARY KEY, next_us INTEGER NOT NULL);
       CREATE TABLE paused (job TEXT PRIMARY KEY);
       CREATE TABLE job_versions (
         job TEXT NOT NULL, version INTEGER NOT NULL, definition TEXT NOT NULL,
         created_us INTEGER NOT NULL, PRIMARY KEY (job, version));)",
    R"(ALTER TABLE pending_fires ADD COLUMN run INTEGER NOT NULL DEFAULT 0;)",
    // Fewer B-trees per fire: a job's last and next fire in one row, the tables keyed by job
    // without a rowid (one B-tree each, not a table and its key's index), and the index by
    // state holding only runs not yet ended (a test of one column: an IN list in a partial
    // index's WHERE costs an ephemeral table per insert).
    R"(CREATE TABLE fire_state (job TEXT PRIMARY KEY, last_fire_us INTEGER, next_us INTEGER)
         WITHOUT ROWID;
       INSERT INTO fire_state (job, last_fire_us) SELECT job, last_fire_us FROM job_state;
       INSERT INTO fire_state (job, next_us) SELECT job, next_us FROM next_fires WHERE true
         ON CONFLICT (job) DO UPDATE SET next_us = excluded.next_us;
       DROP TABLE job_state;
       DROP TABLE next_fires;
       ALTER TABLE fire_state RENAME TO job_state;
       CREATE TABLE pending (
         job TEXT NOT NULL, scheduled_us INTEGER NOT NULL, due_us INTEGER NOT NULL,
         attempt INTEGER NOT NULL, resumes INTEGER NOT NULL, run INTEGER NOT NULL DEFAULT 0,
         PRIMARY KEY (job, scheduled_us)) WITHOUT ROWID;
       INSERT INTO pending SELECT job, scheduled_us, due_us, attempt, resumes, run
         FROM pending_fires;
       DROP TABLE pending_fires;
       ALTER TABLE pending RENAME TO pending_fires;
       DROP INDEX runs_by_state;
       CREATE INDEX runs_active ON runs (state) WHERE ended_us IS NULL;)",
    // A definition's TOML as a tree, read back at start-up without parsing the text (NULL for
    // definitions recorded before: their text is parsed).
    R"(ALTER TABLE job_versions ADD COLUMN tree BLOB;)",
    // Pending fires keyed by their reserved run id: a fire taken is appended to the table's
    // end and found by an integer when it is settled (a key of job name and instant put each
    // in the middle of the B-tree, and it split and merged pages all the time). A fire kept
    // from before run ids were reserved (run 0) gets an id above every id in use; a later
    // skedd reserves ids from the clock's microseconds, further up still.
    R"(CREATE TABLE pending (
         run INTEGER PRIMARY KEY, job TEXT NOT NULL, scheduled_us INTEGER NOT NULL,
         due_us INTEGER NOT NULL, attempt INTEGER NOT NULL, resumes INTEGER NOT NULL);
       INSERT OR REPLACE INTO pending (run, job, scheduled_us, due_us, attempt, resumes)
         SELECT CASE WHEN run > 0 THEN run ELSE
                  MAX(IFNULL((SELECT MAX(id) FROM runs), 0),
                      IFNULL((SELECT MAX(run) FROM pending_fires), 0)) +
                  ROW_NUMBER() OVER (PARTITION BY run > 0 ORDER BY job, scheduled_us) END,
                job, scheduled_us, due_us, attempt, resumes
           FROM pending_fires;
       DROP TABLE pending_fires;
       ALTER TABLE pending RENAME TO pending_fires;)",
    // Ownership recorded, not inferred: each run row names the uid it belongs to (NULL: the
    // daemon's own, as handler runs are; rows from before are given to their job's owner at
    // the next start, see kOwnersAssignedKey). A job name's history is split into identities:
    // a job removed (or added anew) ends the name's identity, and the next one's history
    // starts at run id since_run and not_run id since_not_run (no row: the name's first).
    R"(ALTER TABLE runs ADD COLUMN owner INTEGER;
       CREATE TABLE identities (
         job TEXT PRIMARY KEY, since_run INTEGER NOT NULL, since_not_run INTEGER NOT NULL)
         WITHOUT ROWID;)",
    // A job's pending fires found by its name: retiring a name (every job added over the API
    // or by a reload does) deleted them by scanning the whole table, and with 100,000 jobs'
    // fires pending that took milliseconds per add, on the writer every fire waits for.
    R"(CREATE INDEX pending_by_job ON pending_fires (job, run);)",
    // A run's `output KEY VALUE` results, a row per key: a run that gives many small outputs
    // writes each alone, not its whole set again. Deleted with their run.
    R"(CREATE TABLE run_outputs (
         run INTEGER NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (run, key))
         WITHOUT ROWID;)",
    // Workflow runs, a row each, rewritten whole as their steps move on: `steps` holds a line
    // per step, "NAME<TAB>STATE<TAB>REASON<TAB>RUN" (names and states hold neither).
    R"(CREATE TABLE workflow_runs (
         id INTEGER PRIMARY KEY, workflow TEXT NOT NULL, scheduled_us INTEGER NOT NULL,
         state TEXT NOT NULL, started_us INTEGER NOT NULL, ended_us INTEGER, owner INTEGER,
         message TEXT NOT NULL DEFAULT '', steps TEXT NOT NULL);
       CREATE INDEX workflow_runs_by_workflow ON workflow_runs (workflow, id);)",
    // The version of its definitions a workflow run runs with (WorkflowSpec::version).
    R"(ALTER TABLE workflow_runs ADD COLUMN version TEXT NOT NULL DEFAULT '';)",
};
inline constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

}  // namespace skedd::sqlite_schema
