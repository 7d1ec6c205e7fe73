#include "daemon/daemon.h"

#include <malloc.h>

#include <csignal>
#include <filesystem>
#include <variant>

#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "config/crontab_sources.h"
#include "control/control.h"
#include "control/control_server.h"
#include "daemon/host_spawner.h"
#include "http/event_feed.h"
#include "http/http_server.h"
#include "http/metrics.h"
#include "http/tokens.h"
#include "runtime/after_commit.h"
#include "runtime/engine.h"
#include "runtime/system_timers.h"
#include "skedd/cron/crontab.h"
#include "skedd/exec/process_spawner.h"
#include "skedd/time/clock.h"
#include "skedd/util/random.h"
#include "skedd/version.h"

namespace skedd {
namespace {

// Appends the jobs of the crontabs of [cron] sources to `cfg`, logging what cron would
// refuse (a file or a line) with its reason.
void add_crontab_jobs(Config& cfg) {
  if (cfg.cron.sources.empty()) return;
  CrontabJobs tabs = load_crontabs(cfg.cron.sources, cfg.daemon.timezone);
  for (const std::string& e : tabs.errors) {
    log_event(spdlog::level::warn, "crontab_error", {{"error", e}});
  }
  for (const std::string& w : tabs.warnings) {
    log_event(spdlog::level::info, "crontab_note", {{"note", w}});
  }
  log_event(spdlog::level::info, "crontabs_read",
            {{"sources", cfg.cron.sources}, {"jobs", tabs.jobs.size()}});
  for (JobSpec& job : tabs.jobs) cfg.jobs.push_back(std::move(job));
  cfg.cron.skipped = std::move(tabs.errors);
}

// Whether a reply to `request` waits for the store's commit: requests that record something
// (a job added, updated or removed, a pause), so that what skedctl reports done survives a
// crash right after.
bool reply_waits_for_commit(const control::Request& request) {
  return std::holds_alternative<control::AddRequest>(request) ||
         std::holds_alternative<control::RemoveRequest>(request) ||
         std::holds_alternative<control::PauseRequest>(request);
}

// skedd-runhost: the binary next to this one (installed and built side by side).
std::string run_host_binary() {
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return (ec ? std::filesystem::path("/usr/sbin") : self.parent_path()) / "skedd-runhost";
}

std::unique_ptr<HostSpawner> make_host(asio::io_context& io, rlimit nofile, const Config& c) {
  if (!c.daemon.run_host) return nullptr;
  return std::make_unique<HostSpawner>(
      io, nofile,
      HostSettings{c.daemon.state_dir + "/runhost", run_host_binary(),
                   c.daemon.run_host_idle_exit});
}

std::unique_ptr<PosixSpawner> make_posix(asio::io_context& io, rlimit nofile, const Config& c) {
  if (c.daemon.run_host) return nullptr;
  return std::make_unique<PosixSpawner>(io, nofile);
}

// A path given on the command line, relative to the current directory, made absolute: the run
// host is started with the state dir and refuses a relative one. As given when the current
// directory cannot be read.
std::string from_current_dir(const std::string& path) {
  std::error_code ec;
  const std::filesystem::path absolute = std::filesystem::absolute(path, ec);
  return ec ? path : absolute.lexically_normal().string();
}

// The tokens of [http.tokens], each refusal logged (that user cannot sign in; the rest can).
http::TokenTable read_tokens(const HttpConfig& http) {
  http::LoadedTokens loaded = http::load_tokens(http.tokens);
  for (const std::string& e : loaded.errors) {
    log_event(spdlog::level::err, "http_token_refused",
              {{"error", e}, {"effect", "that user cannot sign in over HTTP"}});
  }
  return std::move(loaded.table);
}

}  // namespace

Result<Config> read_config(const DaemonSettings& settings) {
  auto cfg = load_config(settings.config_path, settings.load);
  if (!cfg) return cfg.error();
  if (!settings.state_dir.empty()) cfg->daemon.state_dir = from_current_dir(settings.state_dir);
  if (!settings.socket.empty()) cfg->daemon.socket = from_current_dir(settings.socket);
  if (settings.no_cgroups) cfg->daemon.use_cgroups = false;
  add_crontab_jobs(cfg.value());
  return cfg;
}

struct Daemon::Loop {
  Loop(Daemon& d, Config config)
      : timers(io),
        host(make_host(io, d.run_nofile_, config)),
        posix(make_posix(io, d.run_nofile_, config)),
        stop_runs(config.daemon.on_shutdown == OnShutdown::kStop),
        host_deadline(config.daemon.run_host_deadline),
        socket(config.daemon.socket),
        limits{static_cast<std::size_t>(config.daemon.max_connections),
               static_cast<std::size_t>(config.daemon.max_connections_per_user),
               config.daemon.client_idle_timeout},
        cron_sources(config.cron.sources),
        cron_seen(crontab_fingerprint(cron_sources)),
        http_config(config.http),
        metrics(http_config.enabled() ? std::make_unique<http::Metrics>(d.log_sink_) : nullptr),
        feed(metrics ? std::make_unique<http::EventFeed>(*metrics, io) : nullptr),
        engine(io, std::move(config), clock, timers,
               host ? static_cast<ProcessSpawner&>(*host) : *posix, d.store_, random, &d.handlers_,
               Events(feed ? static_cast<EventSink*>(feed.get()) : &d.log_sink_)),
        control(
            engine, d.store_, [&d] { return d.reload(); }, d.run_nofile_.rlim_cur),
        server(
            io,
            [this](const control::Request& request, const Peer& peer) {
              return control.handle(request, peer);
            },
            limits, reply_gate(d.store_)) {
    if (!http_config.enabled()) return;
    metrics->seed(d.store_);
    http_service = std::make_unique<http::HttpService>(io, engine, d.store_, control, metrics.get(),
                                                       feed.get(), http_config,
                                                       reply_gate(d.store_), kVersion);
    http_server = std::make_unique<http::HttpServer>(io, http::LoopHandlers::of(*http_service),
                                                     http_config, read_tokens(http_config));
  }

  // Replies of the control socket and the HTTP API: those of requests that record something
  // wait for its commit.
  ReplyGate reply_gate(Store& store) {
    return [this, &store](const control::Request& request, std::function<void()> send) {
      if (!reply_waits_for_commit(request)) return send();
      after_commit(store, replies_gate, [send = std::move(send)](const Status&) { send(); });
    };
  }

  asio::io_context io;
  SystemClock clock;
  SystemTimers timers;
  // Runs are spawned through the run host (run_host = true), else here.
  std::unique_ptr<HostSpawner> host;
  std::unique_ptr<PosixSpawner> posix;
  bool stop_runs;
  Duration host_deadline;
  asio::steady_timer host_renewal{io};
  SeededRandom random;
  std::string socket;
  std::string socket_error;  // the last failure to listen again, logged once
  ControlLimits limits;
  // Crontabs are read again when one changes (cron looks every minute; this, every second).
  std::vector<std::string> cron_sources;
  std::string cron_seen;
  std::chrono::steady_clock::time_point cron_next_look = std::chrono::steady_clock::now();
  asio::steady_timer cron_watch{io};
  asio::signal_set reload_signal{io, SIGHUP};
  asio::signal_set stop_signals{io, SIGTERM, SIGINT};
  asio::signal_set child_signal{io, SIGCHLD};
  CommitGate replies_gate{io};
  HttpConfig http_config;                  // as at the start: a new listen address needs a restart
  std::unique_ptr<http::Metrics> metrics;  // with [http]: counts events before the log
  std::unique_ptr<http::EventFeed> feed;   // with [http]: events to /api/v1/events, then metrics
  Engine engine;
  Control control;
  ControlServer server;
  std::unique_ptr<http::HttpService> http_service;
  std::unique_ptr<http::HttpServer> http_server;
};

Daemon::Daemon(DaemonSettings settings, const HandlerRegistry& handlers, Store& store,
               rlimit run_nofile)
    : settings_(std::move(settings)), handlers_(handlers), store_(store), run_nofile_(run_nofile) {}

Daemon::~Daemon() = default;

Status Daemon::run(Config config) {
  // Jobs added over the control socket, as last recorded.
  auto recorded = Engine::recorded_api_jobs(store_, config, Events(&log_sink_));
  if (!recorded) {
    log_event(spdlog::level::err, "store_read_failed", {{"error", recorded.error().message}});
  }
  std::vector<Engine::ApiJob> api_jobs =
      recorded ? std::move(recorded.value()) : std::vector<Engine::ApiJob>{};
  loop_ = std::make_unique<Loop>(*this, std::move(config));
  Loop& loop = *loop_;
  if (loop.host) {
    if (Status connected = loop.host->connect(); !connected) {
      log_event(spdlog::level::warn, "run_host_unavailable",
                {{"error", connected.error().message},
                 {"effect",
                  "runs are spawned by skedd itself: an exit while skedd is down "
                  "will be unknown"}});
    }
  }
  if (auto listening = loop.server.listen(loop.socket); !listening) {
    loop_.reset();
    return Error::io("control socket: " + listening.error().message);
  }
  log_event(spdlog::level::info, "listening", {{"socket", loop.socket}});
  if (loop.http_server) {
    if (Status serving = loop.http_server->start(); !serving) {
      loop_.reset();
      return Error::io("[http] listen: " + serving.error().message);
    }
    log_event(spdlog::level::info, "http_listening",
              {{"address", loop.http_server->address()},
               {"tokens", loop.http_config.tokens.size()},
               {"read_only", loop.http_config.read_only}});
  }
  watch_stop();
  watch_reload();
  watch_children();
  watch_crontabs();
  loop.engine.start(std::move(api_jobs));
  give_back_freed_memory();
  if (loop.host) {
    loop.host->release_unclaimed();  // ends recorded before a restart, not yet acknowledged
    renew_host_deadline();
  }
  loop.io.run();
  loop_.reset();
  return Ok{};
}

void Daemon::give_back_freed_memory() {
  // Parsing a jobs.d file builds a TOML tree the size of the file and frees it; glibc keeps
  // the freed pages between the loaded jobs. 100,000 jobs hold 48 bytes fewer each with this
  // (bench_runs' memory phase).
  ::malloc_trim(0);
}

Result<std::string> Daemon::reload() {
  auto next = read_config(settings_);
  if (!next) {
    log_event(spdlog::level::err, "reload_refused",
              {{"config", settings_.config_path}, {"errors", next.error().message}});
    return Error::invalid_argument(settings_.config_path +
                                   " is invalid; the running configuration is kept:\n" +
                                   next.error().message);
  }
  if (loop_->http_server) {
    if (next->http.listen != loop_->http_config.listen) {
      log_event(
          spdlog::level::warn, "reload_needs_restart",
          {{"setting", "http.listen"}, {"effect", "skedd listens where it did until a restart"}});
    }
    loop_->http_service->set_config(next->http);
    loop_->http_server->reconfigure(next->http, read_tokens(next->http));
  }
  loop_->cron_sources = next->cron.sources;
  loop_->cron_seen = crontab_fingerprint(loop_->cron_sources);
  const std::size_t configured = next->jobs.size();
  loop_->engine.reload(std::move(next.value()));
  give_back_freed_memory();
  // As `skedctl list` counts: jobs added with `skedctl add` and hooks too.
  const std::size_t loaded = loop_->engine.counts().jobs;
  return "reloaded " + settings_.config_path + ": " + std::to_string(loaded) + " job(s) loaded, " +
         std::to_string(configured) + " of them from the configuration";
}

void Daemon::watch_stop() {
  Loop& loop = *loop_;
  loop.stop_signals.async_wait([&loop](const boost::system::error_code& e, int sig) {
    if (e) return;
    log_event(spdlog::level::info, "signal", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
    loop.reload_signal.cancel();
    loop.cron_watch.cancel();
    loop.server.close();
    if (loop.http_server) loop.http_server->stop();
    loop.host_renewal.cancel();
    loop.engine.shutdown([&loop] {
      if (loop.host) {
        // Runs stopped: the host goes too. Runs left: the host keeps them (no deadline).
        if (loop.stop_runs) loop.host->stop_host();
        loop.host->set_deadline(std::nullopt);
      }
      loop.io.stop();
    });
    // A second stop signal does not wait for runs to end: skedd exits, leaving them running.
    loop.stop_signals.async_wait([&loop](const boost::system::error_code& e2, int) {
      if (e2) return;
      log_event(spdlog::level::warn, "forced_exit",
                {{"effect", "runs still going are left running"}});
      loop.io.stop();
    });
  });
}

void Daemon::renew_host_deadline() {
  Loop& loop = *loop_;
  if (!loop.host || loop.host_deadline <= Duration::zero()) return;
  loop.host->set_deadline(
      std::chrono::duration_cast<std::chrono::milliseconds>(loop.host_deadline));
  loop.host_renewal.expires_after(loop.host_deadline / 3);
  loop.host_renewal.async_wait([this](const boost::system::error_code& e) {
    if (!e) renew_host_deadline();
  });
}

void Daemon::watch_reload() {
  loop_->reload_signal.async_wait([this](const boost::system::error_code& e, int) {
    if (e) return;
    (void)reload();
    watch_reload();
  });
}

void Daemon::watch_children() {
  // skedd is a child subreaper: the orphans of runs become its children, reaped here (runs
  // themselves are reaped by the engine through their pidfds).
  loop_->child_signal.async_wait([this](const boost::system::error_code& e, int) {
    if (e) return;
    loop_->engine.reap_orphans();
    watch_children();
  });
}

void Daemon::watch_crontabs() {
  // Any user's `crontab -e` changes the spool, and a change reloads the whole config: the
  // next change is looked at only after ten times what that reload took (at least the 1 s
  // poll), so that users editing crontabs keep the loop reloading a tenth of the time at most.
  Loop& loop = *loop_;
  loop.cron_watch.expires_after(std::chrono::seconds(1));
  loop.cron_watch.async_wait([this, &loop](const boost::system::error_code& e) {
    if (e) return;
    const auto now = std::chrono::steady_clock::now();
    if (!loop.cron_sources.empty() && now >= loop.cron_next_look &&
        crontab_fingerprint(loop.cron_sources) != loop.cron_seen) {
      log_event(spdlog::level::info, "crontab_changed", {});
      loop.cron_seen = crontab_fingerprint(loop.cron_sources);
      (void)reload();
      loop.cron_next_look = now + 10 * (std::chrono::steady_clock::now() - now);
    }
    watch_socket();
    watch_crontabs();
  });
}

void Daemon::watch_socket() {
  // The socket's directory may be removed under skedd (a tmpfiles clean of /run, an
  // operator's rm): looked at with the crontabs, every second, the socket is made again.
  Loop& loop = *loop_;
  auto again = loop.server.listen_again_if_gone();
  if (!again) {
    if (again.error().message != loop.socket_error) {
      loop.socket_error = again.error().message;
      log_event(spdlog::level::err, "socket_lost",
                {{"socket", loop.socket}, {"error", loop.socket_error}});
    }
    return;
  }
  loop.socket_error.clear();
  if (again.value()) {
    log_event(spdlog::level::warn, "socket_recreated",
              {{"socket", loop.socket},
               {"effect", "its file was gone or replaced: skedd listens on a new one"}});
  }
}

}  // namespace skedd
