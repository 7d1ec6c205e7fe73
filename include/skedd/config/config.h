#pragma once

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "skedd/core/job_spec.h"
#include "skedd/core/workflow.h"
#include "skedd/time/time_zone.h"
#include "skedd/time/types.h"
#include "skedd/util/result.h"

namespace skedd {

enum class OnShutdown { kStop, kLeave };
enum class Synchronous { kNormal, kFull };

/// The [daemon] table. Relative paths are resolved against the config file's directory.
struct DaemonConfig {
  std::string state_dir = "/var/lib/skedd";
  std::string socket = "/run/skedd/skedd.sock";
  std::string jobs_dir = "jobs.d";
  TimeZone timezone = TimeZone::local();  ///< default zone for jobs
  int max_concurrent_runs = 64;
  Duration kill_grace = std::chrono::seconds(10);
  OnShutdown on_shutdown = OnShutdown::kLeave;  ///< the next start adopts left runs
  /// Give each run its own cgroup where a writable cgroup v2 hierarchy exists.
  bool use_cgroups = true;
  /// Runs are the children of skedd-runhost, which outlives skedd and keeps their exits.
  bool run_host = true;
  /// skedd-runhost exits after this long with no runs and no skedd connected.
  std::chrono::seconds run_host_idle_exit{60};
  /// Unless 0: the run host kills every run when skedd has not renewed for this long (a
  /// stopped or hung skedd must not leave runs unsupervised). Renewed every third of it.
  Duration run_host_deadline{0};
  /// Caps on the jobs users other than root add over the control socket: the highest
  /// priority they may give, and the pools they may name.
  int user_max_priority = 0;
  /// A control socket client that neither sends nor reads for this long is disconnected.
  Duration client_idle_timeout = std::chrono::seconds(60);
  std::vector<std::string> user_pools;
  /// Threads that run in-process handler runs; 0: one per CPU.
  int handler_threads = 0;

  // Bounds on what users other than root control (root and the daemon's own user are exempt).
  /// Run slots the runs of one user may hold at once; 0: max(1, max_concurrent_runs / 4).
  int max_runs_per_user = 0;
  /// Whether users may add jobs of in-process handlers (which run inside the daemon).
  bool allow_user_handlers = false;
  /// The largest log_max_size a user's job may have (its logs are charged to the user).
  std::uint64_t max_log_size = 64ULL << 20;
  /// Jobs one user may have added over the control socket.
  int max_jobs_per_user = 1000;
  /// The largest definition (TOML text) a user may add over the control socket, in bytes.
  std::uint64_t max_definition_size = 64 << 10;
  /// Control socket connections: in all, and of one user; users together may hold all but
  /// the last 16 (kept for root).
  int max_connections = 256;
  int max_connections_per_user = 32;

  /// max_runs_per_user with its default applied.
  int runs_per_user() const {
    return max_runs_per_user > 0 ? max_runs_per_user : std::max(1, max_concurrent_runs / 4);
  }
  /// The in-process handlers the program registered (not read from the file): a job naming
  /// any other handler is a config error.
  std::set<std::string> handlers;
};

/// Where the history is kept: the SQLite file in the state dir, or a PostgreSQL database.
enum class StoreBackend { kSqlite, kPostgres };

/// The [store] table.
struct StoreConfig {
  StoreBackend backend = StoreBackend::kSqlite;
  /// backend = "postgres": the libpq connection string or URI, without a password.
  std::string url;
  /// The libpq password file (0600, root's), "" for none.
  std::string passfile;
  /// The schema skedd's tables are in.
  std::string schema = "skedd";
  Synchronous synchronous = Synchronous::kNormal;
  int keep_runs = 100;
  int keep_days = 30;
  /// Writes queued and not yet committed from which on no new fires are taken (backpressure).
  int max_unwritten = 20000;
  /// Versions of an API job's definition kept (older ones are deleted as new ones come).
  int keep_versions = 10;
  /// How long a statement waits for a lock another process holds on the database.
  Duration busy_timeout = std::chrono::seconds(5);
};

/// The [cron] table.
struct CronConfig {
  std::vector<std::string> sources;
  /// crontab(1)'s access files for `skedctl crontab`: when `allow` exists, only the users it
  /// lists may have a crontab; otherwise those `deny` lists may not. Root always may.
  std::string allow = "/etc/cron.allow";
  std::string deny = "/etc/cron.deny";
  /// What mails crontab jobs' output (see JobSpec::mail_to); when it is missing, the output
  /// only stays in the run's log.
  std::string sendmail = "/usr/sbin/sendmail";
  /// Not read from the file: what the daemon's last read of `sources` skipped as cron would
  /// (a file, or a line: "FILE[:LINE]: why"), for `skedctl list`.
  std::vector<std::string> skipped;
};

/// The [http] table: the HTTP API, metrics, health checks and status page (off unless
/// `listen` is set).
struct HttpConfig {
  /// "HOST:PORT" (an IPv4 or [IPv6] literal, or localhost; port 0 picks a free one) or an
  /// absolute Unix socket path; empty: no HTTP.
  std::string listen;
  /// Parsed from `listen`: a Unix socket path, or a host and port.
  std::string unix_path;
  std::string host;
  int port = 0;
  /// A listen address other than loopback needs this.
  bool allow_remote = false;
  /// /metrics answers without a token (then with every job's series).
  bool metrics_public = false;
  /// No request changes anything.
  bool read_only = false;
  /// Adding, updating and removing jobs, reload and `set` over HTTP.
  bool allow_definition_writes = false;
  /// Host header values accepted (against DNS rebinding): the listen host, localhost,
  /// 127.0.0.1 and [::1] (with or without the port) and these.
  std::vector<std::string> allowed_hosts;
  /// Jobs with per-job series at most; the series of the others are dropped and counted.
  int metrics_max_jobs = 10000;
  int max_connections = 64;
  /// A connection with no complete request for this long is closed.
  Duration idle_timeout = std::chrono::seconds(30);
  /// Bearer tokens: user name -> the file holding that user's token.
  std::map<std::string, std::string> tokens;
  bool enabled() const { return !listen.empty(); }
};

/// Everything skedd.toml and jobs.d/*.toml say, typed and validated.
struct Config {
  std::string path;  ///< the main file, as given
  DaemonConfig daemon;
  std::map<std::string, int> pools;
  StoreConfig store;
  CronConfig cron;
  HttpConfig http;
  std::vector<JobSpec> jobs;  ///< in file order, files in name order
  /// [workflow.NAME] tables, in file order. Checked at load; this release does not run them yet.
  std::vector<WorkflowSpec> workflows;
  /// The jobs workflows name as steps (they have no schedule of their own), in file order.
  std::vector<JobSpec> step_jobs;
  std::vector<std::string> files;  ///< every file read
};

struct LoadOptions {
  /// Refuse files that are not owned by root or the current user, or that are writable by
  /// group or others (cron's rule; the daemon may run as root).
  bool check_file_safety = true;
  /// The in-process handlers the program has (DaemonConfig::handlers).
  std::set<std::string> handlers;
  /// Read the jobs directory as well; false: the main file's own jobs only.
  bool read_jobs_dir = true;
};

/// Reads `path` and the `*.toml` files of its jobs directory (hidden files skipped), in name
/// order. On failure the Error's message holds every error found, one per line, each as
/// `file:line:column: message` (e.g. `jobs.d/backup.toml:4:15: job "nightly": hard_timeout
/// must be greater than soft_timeout`), files in the order read.
Result<Config> load_config(const std::string& path, const LoadOptions& options = {});

/// As load_config(), for the main file's text already read (`path` names it in messages and
/// relative paths are resolved from its directory; its file safety is not checked).
Result<Config> parse_config(std::string_view text, const std::string& path,
                            const LoadOptions& options = {});

/// Reads job definitions given over the control socket: TOML text holding [job.NAME] tables
/// only, read against `base`'s daemon settings and pools (not its [defaults]). `source` names
/// the text in error messages ("api:NAME:line:column: ...").
Result<std::vector<JobSpec>> parse_job_definitions(const std::string& text,
                                                   const std::string& source, const Config& base);
/// As parse_job_definitions(), for text that must hold exactly one [job.NAME] table (a job
/// added over the socket or the library's API).
Result<JobSpec> parse_job_definition(const std::string& text, const std::string& source,
                                     const Config& base);

/// A definition's TOML in a binary form that the overload below reads back without parsing
/// text (recorded beside the text, so that a million recorded jobs load fast). Empty when
/// `text` is not valid TOML.
std::string definition_tree(const std::string& text);
/// As parse_job_definition(text, source, base), read from `tree` (definition_tree() of
/// `text`); from `text` when `tree` does not read back or its job is not valid, so that the
/// errors name lines and columns as ever.
Result<JobSpec> parse_job_definition(const std::string& text, std::string_view tree,
                                     const std::string& source, const Config& base);

/// Checks a configuration file without running anything: a main file (skedd.toml, with its
/// jobs directory), or a jobs file, one that holds only [job.NAME] tables (read against the
/// default settings). Returns a one-line summary, or every error as load_config() does.
Result<std::string> validate_config_file(const std::string& path,
                                         const std::set<std::string>& handlers = {});

/// The definition text with `user = USER` set in job `job`'s table (reformatted; comments
/// dropped), so that the job runs as that user wherever the text is read again.
/// REQUIRES: `text` parses and defines `job`.
std::string with_job_user(const std::string& text, const std::string& job, const std::string& user);

/// `base`'s [job.NAME] table with the keys of `changes` (one [job.NAME] table of the same
/// name) put over it: `skedctl update NAME --cron ...` changes that key only. A schedule key
/// in `changes` (cron, every, at) replaces whichever one `base` has. Errors name what is
/// wrong with `changes` (not TOML, not one table, another job's name).
Result<std::string> merge_job_definition(const std::string& base, const std::string& changes);
/// `text` as skedd writes TOML (keys in order, one quoting): two definitions that say the
/// same read the same, so that their diff shows what changed. `text` itself when not TOML.
std::string normalized_definition(const std::string& text);
/// The name of the one [job.NAME] table `text` holds (its keys unchecked).
Result<std::string> definition_job_name(const std::string& text);

}  // namespace skedd
