// skedd: wiring only. Parses the command line, loads the configuration, sets up logging,
// opens the state and runs the Daemon (daemon.h); maps each failure to an exit status.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <set>
#include <string>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "config/crontab_sources.h"
#include "config/file_safety.h"
#include "daemon/builtin_handlers.h"
#include "daemon/daemon.h"
#include "daemon/event_log.h"
#include "skedd/config/config.h"
#include "skedd/exec/process_spawner.h"
#include "skedd/store/postgres_store.h"
#include "skedd/store/sqlite_store.h"
#include "skedd/time/clock.h"
#include "skedd/time/timestamp.h"
#include "skedd/version.h"
#include "store/state_lock.h"

namespace {

constexpr int kExitUsage = 2;
constexpr int kExitConfig = 78;      // EX_CONFIG
constexpr int kExitCantCreate = 73;  // EX_CANTCREAT
constexpr int kExitStore = 74;       // EX_IOERR: the state database is unusable
constexpr int kExitInUse = 75;       // EX_TEMPFAIL: another skedd holds the state dir

// Runs hold a few descriptors each (control channel, log while checking it). Returns the
// limit as it was, which runs get back.
rlimit raise_fd_limit() {
  rlimit lim{RLIM_INFINITY, RLIM_INFINITY};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return lim;
  const rlimit original = lim;
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
  return original;
}

struct UserPaths {
  std::string config;
  std::string state_dir;
  std::string socket;
};

// An XDG base directory: $NAME, else $HOME/`fallback`.
std::string xdg(const char* name, const char* fallback) {
  if (const char* v = std::getenv(name); v != nullptr && *v == '/') return v;
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr ? home : "") + "/" + fallback;
}

// Where a user's own daemon keeps things; its configuration file is created when missing, so
// that a first `skedd --user` starts with no jobs rather than fails.
skedd::Result<UserPaths> user_paths(std::optional<std::string> config) {
  UserPaths p;
  const char* runtime = std::getenv("XDG_RUNTIME_DIR");
  if (runtime == nullptr || *runtime != '/') {
    return skedd::Error::invalid_argument("XDG_RUNTIME_DIR is not set: give --socket");
  }
  p.socket = std::string(runtime) + "/skedd.sock";
  p.state_dir = xdg("XDG_STATE_HOME", ".local/state") + "/skedd";
  p.config = config ? *config : xdg("XDG_CONFIG_HOME", ".config") + "/skedd/skedd.toml";
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!config && !fs::exists(p.config, ec)) {
    fs::create_directories(fs::path(p.config).parent_path() / "jobs.d", ec);
    std::ofstream out(p.config);
    out << "# skedd --user: this user's own scheduler. Jobs go in jobs.d/*.toml (skedd-jobs(5)).\n"
           "[daemon]\n";
    if (!out) return skedd::Error::io("cannot create " + p.config);
    ::chmod(p.config.c_str(), 0644);
  }
  return p;
}

struct Options {
  std::string config_path = "/etc/skedd/skedd.toml";
  std::string state_dir;
  std::string socket_path;
  std::string log_level = "info";
  std::string log_format = "text";
  std::string log_file;
  bool check_only = false;
  bool no_cgroups = false;
  bool user_mode = false;
  bool config_given = false;
};

// Parses the command line into `o`; an exit status when skedd is to exit at once (--help,
// --version, a usage error).
std::optional<int> parse_command_line(int argc, char** argv, Options& o) {
  CLI::App app{"skedd: a timer-driven job scheduler daemon"};
  auto* config_option = app.add_option("-c,--config", o.config_path, "main configuration file")
                            ->capture_default_str();
  app.add_flag("--check-config", o.check_only, "validate the configuration and exit");
  app.add_option("--state-dir", o.state_dir, "state directory (overrides [daemon] state_dir)");
  app.add_option("--socket", o.socket_path, "control socket path (overrides [daemon] socket)");
  app.add_option("--log-level", o.log_level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
      ->capture_default_str();
  app.add_option("--log-format", o.log_format, "text or json (one object per line)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app.add_option("--log-file", o.log_file,
                 "log to this file, rotated at 10 MiB keeping 3 (default: stderr)");
  app.add_flag("--no-cgroups", o.no_cgroups,
               "do not give runs their own cgroup (overrides [daemon] cgroups)");
  app.add_flag("--user", o.user_mode,
               "a user's own daemon: configuration $XDG_CONFIG_HOME/skedd/skedd.toml (created "
               "when missing), state in $XDG_STATE_HOME/skedd, socket "
               "$XDG_RUNTIME_DIR/skedd.sock, unless the file or options say otherwise");
  app.set_version_flag("-V,--version", std::string("skedd ") + skedd::kVersion);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }
  o.config_given = config_option->count() > 0;
  return std::nullopt;
}

// The daemon's settings from the options; in user mode the XDG places replace the system
// defaults that the file does not change.
skedd::Result<skedd::DaemonSettings> settings_of(const Options& o,
                                                 const std::set<std::string>& handler_names) {
  skedd::DaemonSettings settings{o.config_path, o.state_dir, o.socket_path, o.no_cgroups, {}};
  settings.load.handlers = handler_names;
  if (!o.user_mode) return settings;
  auto paths = user_paths(o.config_given ? std::optional(o.config_path) : std::nullopt);
  if (!paths) return paths.error();
  settings.config_path = paths->config;
  const skedd::DaemonConfig defaults;
  auto file = skedd::load_config(settings.config_path, settings.load);
  if (settings.state_dir.empty() && (!file || file->daemon.state_dir == defaults.state_dir)) {
    settings.state_dir = paths->state_dir;
  }
  if (settings.socket.empty() && (!file || file->daemon.socket == defaults.socket)) {
    settings.socket = paths->socket;
  }
  return settings;
}

// What [store] names that only the daemon can check (libpq parses the url; the passfile is
// a secret): a url without a password, a passfile as cron wants a crontab and readable by
// its owner alone.
skedd::Status check_store_config(const skedd::StoreConfig& s) {
  if (s.backend != skedd::StoreBackend::kPostgres) return skedd::Ok{};
  if (auto ok = skedd::check_postgres_url(s.url); !ok) {
    return skedd::Error::invalid_argument("[store] url: " + ok.error().message);
  }
  if (!s.passfile.empty()) {
    if (auto safe = skedd::config::check_file_safety(s.passfile); !safe) {
      return skedd::Error::invalid_argument("[store] passfile: " + safe.error().message);
    }
    struct stat st {};
    if (::stat(s.passfile.c_str(), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
      return skedd::Error::invalid_argument("[store] passfile: " + s.passfile +
                                            ": readable by group or others (chmod 0600 it)");
    }
  }
  return skedd::Ok{};
}

// The store [store] names: the SQLite file in the state dir, or the PostgreSQL database.
skedd::Result<std::unique_ptr<skedd::Store>> open_store(const skedd::Config& cfg) {
  if (cfg.store.backend == skedd::StoreBackend::kPostgres) {
    if (auto ok = check_store_config(cfg.store); !ok) return ok.error();
    skedd::PostgresStoreOptions options;
    options.url = cfg.store.url;
    options.passfile = cfg.store.passfile;
    options.schema = cfg.store.schema;
    return skedd::open_postgres_store(options);
  }
  return skedd::open_sqlite_store(
      cfg.daemon.state_dir + "/skedd.db",
      skedd::SqliteStoreOptions{
          cfg.store.synchronous == skedd::Synchronous::kFull,
          static_cast<int>(
              std::chrono::duration_cast<std::chrono::milliseconds>(cfg.store.busy_timeout)
                  .count())});
}

// Opens the state (private, locked, its database) and runs the daemon on `cfg` until it is
// stopped; returns skedd's exit status.
int run_daemon(skedd::DaemonSettings settings, skedd::Config cfg,
               const skedd::HandlerRegistry& handlers) {
  // Private state before anything is opened (see skedd(8) SECURITY).
  if (auto prepared = skedd::prepare_state_dir(cfg.daemon.state_dir); !prepared) {
    std::cerr << "skedd: " << prepared.error().message << '\n';
    return kExitCantCreate;
  }
  // One daemon per state dir: the lock is held for the life of the process.
  if (auto lock = skedd::lock_state_dir(cfg.daemon.state_dir); !lock) {
    std::cerr << "skedd: " << lock.error().message << '\n';
    return lock.error().code == skedd::ErrorCode::kConflict ? kExitInUse : kExitCantCreate;
  }
  auto store = open_store(cfg);
  if (!store) {
    std::cerr << "skedd: " << store.error().message << '\n';
    return kExitStore;
  }
  if (const std::string conflict = skedd::cron_conflict(
          cfg.cron.sources, !cfg.cron.sources.empty() && skedd::cron_daemon_running());
      !conflict.empty()) {
    skedd::log_event(spdlog::level::warn, "cron_running", {{"effect", conflict}});
  }
  const rlimit original_nofile = raise_fd_limit();
  // Orphans of runs (children of a run's main process that outlive it) become skedd's children,
  // so skedd reaps them and sees when a run's process group has emptied, even where PID 1
  // does not reap.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  // A job's control channel or a client that went away must not kill the daemon.
  std::signal(SIGPIPE, SIG_IGN);
  skedd::log_event(spdlog::level::info, "starting",
                   {{"version", skedd::kVersion},
                    {"config", settings.config_path},
                    {"state_dir", cfg.daemon.state_dir},
                    {"socket", cfg.daemon.socket},
                    {"jobs", cfg.jobs.size()}});
  try {
    skedd::Daemon daemon(std::move(settings), handlers, *store.value(), original_nofile);
    if (auto ran = daemon.run(std::move(cfg)); !ran) {
      std::cerr << "skedd: " << ran.error().message << '\n';
      return kExitCantCreate;
    }
    if (auto flushed = store.value()->flush(); !flushed) {
      skedd::log_event(spdlog::level::err, "store_flush_failed",
                       {{"error", flushed.error().message}});
    }
  } catch (const std::exception& e) {
    skedd::log_event(spdlog::level::critical, "fatal", {{"error", e.what()}});
    return 1;
  }
  skedd::log_event(spdlog::level::info, "stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (auto exit = parse_command_line(argc, argv, options)) return *exit;
  // The in-process handlers this daemon has (jobs may name them: `handler = "sleep"`).
  skedd::HandlerRegistry handlers;
  skedd::register_builtin_handlers(handlers);
  auto settings = settings_of(options, handlers.names());
  if (!settings) {
    std::cerr << "skedd --user: " << settings.error().message << '\n';
    return kExitCantCreate;
  }
  if (options.check_only) {
    auto cfg = skedd::load_config(settings->config_path, settings->load);  // no crontabs
    if (!cfg) {
      std::cerr << cfg.error().message << "\nskedd: configuration " << settings->config_path
                << " is invalid\n";
      return kExitConfig;
    }
    if (auto store = check_store_config(cfg->store); !store) {
      std::cerr << settings->config_path << ": " << store.error().message
                << "\nskedd: configuration " << settings->config_path << " is invalid\n";
      return kExitConfig;
    }
    std::cout << settings->config_path << ": OK, " << cfg->jobs.size() << " job(s) in "
              << cfg->files.size() << " file(s)";
    if (!cfg->workflows.empty()) {
      std::cout << ", " << cfg->workflows.size() << " workflow(s) of " << cfg->step_jobs.size()
                << " step job(s)";
    }
    std::cout << "\n";
    return 0;
  }
  // Everything skedd creates from here on (database, logs, FIFOs, its own log file) is
  // private unless made otherwise on purpose (the socket is chmod 0666). Jobs get cron's 022
  // (see PosixSpawner).
  ::umask(077);
  if (!options.log_file.empty()) {
    // As for the state dir: a missing directory is made, not an error.
    std::error_code made;
    std::filesystem::create_directories(std::filesystem::path(options.log_file).parent_path(),
                                        made);
  }
  try {
    skedd::init_logging(
        options.log_format == "json" ? skedd::LogFormat::kJson : skedd::LogFormat::kText,
        spdlog::level::from_str(options.log_level),
        options.log_file.empty() ? std::nullopt : std::optional<std::string>(options.log_file));
  } catch (const spdlog::spdlog_ex& e) {
    std::cerr << "skedd: cannot open log file " << options.log_file << ": " << e.what() << '\n';
    return kExitUsage;
  }
  auto cfg = skedd::read_config(settings.value());
  if (!cfg) {
    std::cerr << cfg.error().message << "\nskedd: configuration " << settings->config_path
              << " is invalid\n";
    return kExitConfig;
  }
  return run_daemon(std::move(settings.value()), std::move(cfg.value()), handlers);
}
