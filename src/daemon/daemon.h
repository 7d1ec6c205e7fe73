// The running daemon: the engine on one io_context, the control socket with its reply gate,
// signals, reloads and crontab watching. main() parses options and maps errors to exit codes.
#pragma once

#include <sys/resource.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "daemon/event_log.h"
#include "skedd/config/config.h"
#include "skedd/embed/handler.h"
#include "skedd/store/store.h"
#include "skedd/util/result.h"

namespace skedd {

/// What the command line fixes for the daemon's life; a reload keeps these over the file's.
struct DaemonSettings {
  std::string config_path;
  std::string state_dir;  ///< --state-dir; empty: the file's
  std::string socket;     ///< --socket; empty: the file's
  bool no_cgroups = false;
  LoadOptions load;  ///< how the file is read (the handler names jobs may use)
};

/// Reads the configuration file as `settings` say, with their overrides and the jobs of the
/// crontabs of its [cron] sources (what cron would refuse is logged, not an error).
Result<Config> read_config(const DaemonSettings& settings);

class Daemon {
 public:
  /// `handlers` and `store` must outlive the daemon; runs get `run_nofile` as RLIMIT_NOFILE.
  Daemon(DaemonSettings settings, const HandlerRegistry& handlers, Store& store, rlimit run_nofile);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  /// Runs `config` until SIGTERM or SIGINT: SIGHUP and `skedctl reload` reload, a changed
  /// crontab reloads (bounded, see below), SIGCHLD reaps the orphans of runs. Fails when the
  /// control socket cannot be made.
  Status run(Config config);

 private:
  struct Loop;
  /// SIGHUP and `skedctl reload`: a configuration with errors is refused whole.
  Result<std::string> reload();
  /// Returns the pages a load freed to the system.
  static void give_back_freed_memory();
  void watch_stop();
  void watch_reload();
  void watch_children();
  void watch_crontabs();
  /// Listens again when the control socket's file is gone (called from watch_crontabs).
  void watch_socket();
  /// With [daemon] run_host_deadline: tells the host again, every third of it.
  void renew_host_deadline();

  DaemonSettings settings_;
  const HandlerRegistry& handlers_;
  Store& store_;
  rlimit run_nofile_;
  LogSink log_sink_;
  std::unique_ptr<Loop> loop_;  ///< while run() runs
};

}  // namespace skedd
