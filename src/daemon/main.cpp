// skedd: wiring only. Parses the command line, loads the configuration, sets up logging and
// runs the engine on one io_context until SIGTERM or SIGINT.
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
#include <string>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <boost/asio/steady_timer.hpp>

#include "config/crontab_sources.h"
#include "control/control.h"
#include "control/control_server.h"
#include "daemon/builtin_handlers.h"
#include "daemon/event_log.h"
#include "runtime/after_commit.h"
#include "runtime/engine.h"
#include "skedd/config/config.h"
#include "skedd/exec/process_spawner.h"
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

// Appends the jobs of the crontabs of [cron] sources to `cfg`, logging what cron would
// refuse (a file or a line) with its reason.
void add_crontab_jobs(skedd::Config& cfg) {
  if (cfg.cron.sources.empty()) return;
  skedd::CrontabJobs tabs = skedd::load_crontabs(cfg.cron.sources, cfg.daemon.timezone);
  for (const std::string& e : tabs.errors) {
    skedd::log_event(spdlog::level::warn, "crontab_error", {{"error", e}});
  }
  for (const std::string& w : tabs.warnings) {
    skedd::log_event(spdlog::level::info, "crontab_note", {{"note", w}});
  }
  skedd::log_event(spdlog::level::info, "crontabs_read",
                   {{"sources", cfg.cron.sources}, {"jobs", tabs.jobs.size()}});
  for (skedd::JobSpec& job : tabs.jobs) cfg.jobs.push_back(std::move(job));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"skedd: a timer-driven job scheduler daemon"};
  std::string config_path = "/etc/skedd/skedd.toml";
  std::string state_dir;
  std::string socket_path;
  std::string log_level = "info";
  std::string log_format = "text";
  std::string log_file;
  std::string user_state_dir, user_socket;  // --user: the XDG places
  bool check_only = false;
  bool no_cgroups = false;
  app.add_option("-c,--config", config_path, "main configuration file")->capture_default_str();
  app.add_flag("--check-config", check_only, "validate the configuration and exit");
  app.add_option("--state-dir", state_dir, "state directory (overrides [daemon] state_dir)");
  app.add_option("--socket", socket_path, "control socket path (overrides [daemon] socket)");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
      ->capture_default_str();
  app.add_option("--log-format", log_format, "text or json (one object per line)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app.add_option("--log-file", log_file,
                 "log to this file, rotated at 10 MiB keeping 3 (default: stderr)");
  app.add_flag("--no-cgroups", no_cgroups,
               "do not give runs their own cgroup (overrides [daemon] cgroups)");
  bool user_mode = false;
  auto* config_option = app.get_option("--config");
  app.add_flag("--user", user_mode,
               "a user's own daemon: configuration $XDG_CONFIG_HOME/skedd/skedd.toml (created "
               "when missing), state in $XDG_STATE_HOME/skedd, socket "
               "$XDG_RUNTIME_DIR/skedd.sock, unless the file or options say otherwise");
  app.set_version_flag("-V,--version", std::string("skedd ") + skedd::kVersion);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }

  if (user_mode) {
    auto paths = user_paths(config_option->count() > 0 ? std::optional(config_path) : std::nullopt);
    if (!paths) {
      std::cerr << "skedd --user: " << paths.error().message << '\n';
      return kExitCantCreate;
    }
    config_path = paths->config;
    user_state_dir = paths->state_dir;
    user_socket = paths->socket;
  }
  // The in-process handlers this daemon has (jobs may name them: `handler = "sleep"`).
  skedd::HandlerRegistry handlers;
  skedd::register_builtin_handlers(handlers);
  skedd::LoadOptions load_options;
  load_options.handlers = handlers.names();
  auto cfg = skedd::load_config(config_path, load_options);
  if (!cfg) {
    std::cerr << cfg.error().message << '\n';
    std::cerr << "skedd: configuration " << config_path << " is invalid\n";
    return kExitConfig;
  }
  // In user mode the XDG places replace the system defaults the file did not change.
  if (state_dir.empty() && !user_state_dir.empty() &&
      cfg->daemon.state_dir == skedd::DaemonConfig{}.state_dir) {
    state_dir = user_state_dir;
  }
  if (socket_path.empty() && !user_socket.empty() &&
      cfg->daemon.socket == skedd::DaemonConfig{}.socket) {
    socket_path = user_socket;
  }
  if (!state_dir.empty()) cfg->daemon.state_dir = state_dir;
  if (!socket_path.empty()) cfg->daemon.socket = socket_path;
  if (no_cgroups) cfg->daemon.use_cgroups = false;
  if (check_only) {
    std::cout << config_path << ": OK, " << cfg->jobs.size() << " job(s) in " << cfg->files.size()
              << " file(s)\n";
    return 0;
  }

  // Everything skedd creates from here on (database, logs, FIFOs, its own log file) is
  // private unless made otherwise on purpose (the socket is chmod 0666). Jobs get cron's 022
  // (see PosixSpawner).
  ::umask(077);
  if (!log_file.empty()) {
    // As for the state dir: a missing directory is made, not an error.
    std::error_code made;
    std::filesystem::create_directories(std::filesystem::path(log_file).parent_path(), made);
  }
  try {
    skedd::init_logging(log_format == "json" ? skedd::LogFormat::kJson : skedd::LogFormat::kText,
                        spdlog::level::from_str(log_level),
                        log_file.empty() ? std::nullopt : std::optional<std::string>(log_file));
  } catch (const spdlog::spdlog_ex& e) {
    std::cerr << "skedd: cannot open log file " << log_file << ": " << e.what() << '\n';
    return kExitUsage;
  }
  // Private state before anything is opened (see skedd(8) SECURITY).
  if (auto prepared = skedd::prepare_state_dir(cfg->daemon.state_dir); !prepared) {
    std::cerr << "skedd: " << prepared.error().message << '\n';
    return kExitCantCreate;
  }
  // One daemon per state dir: the lock is held for the life of the process.
  if (auto lock = skedd::lock_state_dir(cfg->daemon.state_dir); !lock) {
    std::cerr << "skedd: " << lock.error().message << '\n';
    return lock.error().code == skedd::ErrorCode::kConflict ? kExitInUse : kExitCantCreate;
  }
  auto store = skedd::open_sqlite_store(
      cfg->daemon.state_dir + "/skedd.db",
      skedd::SqliteStoreOptions{cfg->store.synchronous == skedd::Synchronous::kFull, 5000});
  if (!store) {
    std::cerr << "skedd: " << store.error().message << '\n';
    return kExitStore;
  }
  if (!cfg->cron.sources.empty() && skedd::cron_daemon_running()) {
    skedd::log_event(spdlog::level::warn, "cron_running",
                     {{"effect",
                       "a cron daemon runs too: every crontab job would run twice; "
                       "stop cron or empty [cron] sources"}});
  }
  add_crontab_jobs(cfg.value());
  const rlimit original_nofile = raise_fd_limit();
  // Orphans of runs (children of a run's main process that outlive it) become skedd's children,
  // so skedd reaps them and sees when a run's process group has emptied, even where PID 1
  // does not reap.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  // A job's control channel or a client that went away must not kill the daemon.
  std::signal(SIGPIPE, SIG_IGN);

  skedd::log_event(spdlog::level::info, "starting",
                   {{"version", skedd::kVersion},
                    {"config", config_path},
                    {"state_dir", cfg->daemon.state_dir},
                    {"socket", cfg->daemon.socket},
                    {"jobs", cfg->jobs.size()}});
  try {
    asio::io_context io;
    skedd::SystemClock clock;
    skedd::PosixSpawner spawner(original_nofile);
    skedd::SeededRandom random;
    const std::string socket = cfg->daemon.socket;
    const skedd::Duration client_idle_timeout = cfg->daemon.client_idle_timeout;
    const int max_connections = cfg->daemon.max_connections;
    const int max_connections_per_user = cfg->daemon.max_connections_per_user;
    // Crontabs are read again when one changes (cron looks every minute; this, every second).
    std::vector<std::string> cron_sources = cfg->cron.sources;
    std::string cron_seen = skedd::crontab_fingerprint(cron_sources);
    asio::steady_timer cron_watch(io);
    // Jobs added over the control socket, as last recorded.
    skedd::LogSink log_sink;
    const skedd::Events events(&log_sink);
    auto recorded = skedd::Engine::recorded_api_jobs(*store.value(), cfg.value(), events);
    if (!recorded) {
      skedd::log_event(spdlog::level::err, "store_read_failed",
                       {{"error", recorded.error().message}});
    }
    std::vector<skedd::Engine::ApiJob> api_jobs =
        recorded ? std::move(recorded.value()) : std::vector<skedd::Engine::ApiJob>{};
    skedd::Engine engine(io, std::move(cfg.value()), clock, spawner, *store.value(), random,
                         &handlers, events);
    // SIGHUP and `skedctl reload`: a configuration with errors is refused whole.
    auto reload = [&]() -> skedd::Result<std::string> {
      auto next = skedd::load_config(config_path, load_options);
      if (!next) {
        skedd::log_event(spdlog::level::err, "reload_refused",
                         {{"config", config_path}, {"errors", next.error().message}});
        return skedd::Error::invalid_argument(config_path +
                                              " is invalid; the running "
                                              "configuration is kept:\n" +
                                              next.error().message);
      }
      if (!state_dir.empty()) next->daemon.state_dir = state_dir;
      if (!socket_path.empty()) next->daemon.socket = socket_path;
      if (no_cgroups) next->daemon.use_cgroups = false;
      add_crontab_jobs(next.value());
      cron_sources = next->cron.sources;
      cron_seen = skedd::crontab_fingerprint(cron_sources);
      const std::size_t jobs = next->jobs.size();
      engine.reload(std::move(next.value()));
      return "reloaded " + config_path + ": " + std::to_string(jobs) + " job(s)";
    };
    skedd::Control control(engine, *store.value(), reload, original_nofile.rlim_cur);
    // A reply to a request that records something (a job added, updated or removed, a pause)
    // waits for its commit: what skedctl reports done survives a crash right after.
    const auto replies_alive = std::make_shared<int>(0);
    skedd::ControlServer server(
        io,
        [&control](const skedd::control::Request& request, const skedd::Peer& peer) {
          return control.handle(request, peer);
        },
        skedd::ControlLimits{static_cast<std::size_t>(max_connections),
                             static_cast<std::size_t>(max_connections_per_user),
                             client_idle_timeout},
        [&io, &store, alive = std::weak_ptr<const void>(replies_alive)](
            const skedd::control::Request& request, std::function<void()> send) {
          using namespace skedd::control;
          if (!std::holds_alternative<AddRequest>(request) &&
              !std::holds_alternative<RemoveRequest>(request) &&
              !std::holds_alternative<PauseRequest>(request)) {
            send();
            return;
          }
          skedd::after_commit(*store.value(), io, alive,
                              [send = std::move(send)](const skedd::Status&) { send(); });
        });
    if (auto listening = server.listen(socket); !listening) {
      std::cerr << "skedd: control socket: " << listening.error().message << '\n';
      return kExitCantCreate;
    }
    skedd::log_event(spdlog::level::info, "listening", {{"socket", socket}});
    asio::signal_set reload_signal(io, SIGHUP);
    asio::signal_set stop_signals(io, SIGTERM, SIGINT);
    stop_signals.async_wait([&](const boost::system::error_code& e, int sig) {
      if (e) return;
      skedd::log_event(spdlog::level::info, "signal",
                       {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
      reload_signal.cancel();
      cron_watch.cancel();
      server.close();
      engine.shutdown([&io] { io.stop(); });
      // A second stop signal does not wait for runs to end: skedd exits, leaving them running.
      stop_signals.async_wait([&](const boost::system::error_code& e2, int) {
        if (e2) return;
        skedd::log_event(spdlog::level::warn, "forced_exit",
                         {{"effect", "runs still going are left running"}});
        io.stop();
      });
    });
    std::function<void()> wait_reload = [&] {
      reload_signal.async_wait([&](const boost::system::error_code& e, int) {
        if (e) return;
        (void)reload();
        wait_reload();
      });
    };
    wait_reload();
    // skedd is a child subreaper: the orphans of runs become its children, reaped here (runs
    // themselves are reaped by the engine through their pidfds).
    asio::signal_set child_signal(io, SIGCHLD);
    std::function<void()> wait_child = [&] {
      child_signal.async_wait([&](const boost::system::error_code& e, int) {
        if (e) return;
        engine.reap_orphans();
        wait_child();
      });
    };
    wait_child();
    // Any user's `crontab -e` changes the spool, and a change reloads the whole config: the
    // next change is looked at only after ten times what that reload took (at least the 1 s
    // poll), so that users editing crontabs keep the loop reloading a tenth of the time at most.
    auto cron_next_look = std::chrono::steady_clock::now();
    std::function<void()> watch_crontabs = [&] {
      cron_watch.expires_after(std::chrono::seconds(1));
      cron_watch.async_wait([&](const boost::system::error_code& e) {
        if (e) return;
        const auto now = std::chrono::steady_clock::now();
        if (!cron_sources.empty() && now >= cron_next_look &&
            skedd::crontab_fingerprint(cron_sources) != cron_seen) {
          skedd::log_event(spdlog::level::info, "crontab_changed", {});
          cron_seen = skedd::crontab_fingerprint(cron_sources);
          (void)reload();
          cron_next_look = now + 10 * (std::chrono::steady_clock::now() - now);
        }
        watch_crontabs();
      });
    };
    watch_crontabs();
    engine.start(std::move(api_jobs));
    io.run();
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
