// skedd: wiring only. Loads the configuration and, at this stage, reports each job's next
// fire times; running them arrives with the scheduler.
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "skedd/config/config.h"
#include "skedd/time/clock.h"
#include "skedd/time/timestamp.h"
#include "skedd/version.h"

namespace {

constexpr int kExitUsage = 2;
constexpr int kExitConfig = 78;  // EX_CONFIG from sysexits.h, as systemd understands it

void log_next_fires(const skedd::Config& cfg, skedd::Instant now, int count) {
  for (const skedd::JobSpec& job : cfg.jobs) {
    if (job.schedule.is_reboot()) {
      spdlog::info("job {}: @reboot (once per boot)", job.name);
      continue;
    }
    std::string fires;
    skedd::Instant after = now;
    for (int i = 0; i < count; ++i) {
      auto fire = job.schedule.next_after(after, now);
      if (!fire) break;
      if (!fires.empty()) fires += ", ";
      fires += skedd::format_rfc3339(fire->at, job.zone);
      after = fire->at;
    }
    if (fires.empty()) fires = "never (no future fire)";
    spdlog::info("job {}: {} [{}] next: {}", job.name, job.schedule.text, job.zone.name(), fires);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"skedd: a timer-driven job scheduler daemon"};
  std::string config_path = "/etc/skedd/skedd.toml";
  std::string state_dir;
  std::string socket_path;
  std::string log_level = "info";
  bool check_only = false;
  app.add_option("-c,--config", config_path, "main configuration file")->capture_default_str();
  app.add_flag("--check-config", check_only, "validate the configuration and exit");
  app.add_option("--state-dir", state_dir, "state directory (overrides [daemon] state_dir)");
  app.add_option("--socket", socket_path, "control socket path (overrides [daemon] socket)");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
      ->capture_default_str();
  app.set_version_flag("-V,--version", std::string("skedd ") + skedd::kVersion);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }

  auto logger = spdlog::stderr_color_mt("skedd");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(log_level));

  auto cfg = skedd::load_config(config_path);
  if (!cfg) {
    std::cerr << cfg.error().message << '\n';
    std::cerr << "skedd: configuration " << config_path << " is invalid\n";
    return kExitConfig;
  }
  if (!state_dir.empty()) cfg->daemon.state_dir = state_dir;
  if (!socket_path.empty()) cfg->daemon.socket = socket_path;
  if (check_only) {
    std::cout << config_path << ": OK, " << cfg->jobs.size() << " job(s) in " << cfg->files.size()
              << " file(s)\n";
    return 0;
  }

  spdlog::info("skedd {} starting: config {}, state dir {}, socket {}", skedd::kVersion,
               config_path, cfg->daemon.state_dir, cfg->daemon.socket);
  skedd::SystemClock clock;
  log_next_fires(cfg.value(), clock.wall_now(), 3);

  // The scheduler that runs jobs is not wired in yet: wait for a stop signal.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  int sig = 0;
  sigwait(&set, &sig);
  spdlog::info("received {}, exiting", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  return 0;
}
