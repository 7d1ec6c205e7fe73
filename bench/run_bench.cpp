// Process-run benchmarks of the real skedd binary, each against a baseline from the same run:
//
//  throughput: N one-shot jobs all due at the same instant (max_concurrent_runs = C), runs/s
//              from the first run_started to the last run_finished, against a bare
//              posix_spawn + waitpid loop of the same program with the same concurrency.
//              Target: >= 80% of the bare rate.
//  lateness:   M one-shots spread evenly over S seconds; lateness = the child's own start time
//              minus its scheduled time. Target: p99 <= 2 ms.
//
// Usage: bench_runs [N=20000] [M=10000] [S=20] [C=64] [DIR=/tmp]  (DIR holds the state dirs)
// BENCH_DAEMON_LINES: more [daemon] lines, e.g. "run_host = false" to measure runs spawned by
// skedd itself against runs through the run host (the default).
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_support.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using namespace skedd::bench;

// Spawns `n` children of `program`, at most `concurrency` at a time, stdout to /dev/null.
double bare_rate(const std::string& program, int n, int concurrency) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  char* argv[] = {const_cast<char*>(program.c_str()), nullptr};
  const auto start = Clock::now();
  int running = 0;
  for (int started = 0; started < n || running > 0;) {
    if (started < n && running < concurrency) {
      pid_t pid = 0;
      if (posix_spawn(&pid, program.c_str(), &actions, nullptr, argv, environ) != 0) {
        std::perror("posix_spawn");
        std::exit(1);
      }
      ++started;
      ++running;
      continue;
    }
    int status = 0;
    if (::wait(&status) > 0) --running;
  }
  posix_spawn_file_actions_destroy(&actions);
  return n / elapsed_s(start);
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 20000;
  const int m = argc > 2 ? std::atoi(argv[2]) : 10000;
  const int spread_s = argc > 3 ? std::atoi(argv[3]) : 20;
  const int concurrency = argc > 4 ? std::atoi(argv[4]) : 64;
  const std::string skedd = SKEDD_BINARY;
  const std::string child = BENCH_CHILD;
  std::string tmpl = std::string(argc > 5 ? argv[5] : "/tmp") + "/skedd-bench-XXXXXX";
  const fs::path root = ::mkdtemp(tmpl.data());
  const char* extra = std::getenv("BENCH_DAEMON_LINES");
  const std::string daemon_lines =
      std::string("on_shutdown = \"stop\"\n") + (extra != nullptr ? std::string(extra) + "\n" : "");

  // Throughput.
  const double bare = bare_rate(child, n, concurrency);
  const auto due = std::chrono::system_clock::now() + std::chrono::seconds(3) +
                   std::chrono::milliseconds(n / 10);  // leaves time to load the config
  DaemonRun burst =
      start_daemon(skedd, root / "burst",
                   one_shots(child, std::vector<SysTime>(static_cast<std::size_t>(n), due)),
                   concurrency, daemon_lines);
  auto events = wait_finished(root / "burst" / "skedd.log", static_cast<std::size_t>(n), 600);
  stop(burst);
  skedd::Instant first{skedd::Instant::max()}, last{skedd::Instant::min()};
  int finished = 0, succeeded = 0;
  for (const auto& e : events) {
    if (e["event"] == "run_started") first = std::min(first, parse(e["scheduled"]));
    if (e["event"] == "run_finished") {
      ++finished;
      if (e["state"] == "succeeded") ++succeeded;
      last = std::max(last, parse(e["ended"]));
    }
  }
  const double span = std::chrono::duration<double>(last - first).count();
  const double rate = finished / span;
  std::printf("throughput: %d runs all due at once, max_concurrent_runs=%d\n", n, concurrency);
  std::printf("  bare posix_spawn loop  %9.0f runs/s\n", bare);
  std::printf("  skedd                  %9.0f runs/s  (%d finished, %d succeeded, %.2f s)\n", rate,
              finished, succeeded, span);
  std::printf("  ratio                  %9.2f        (target >= 0.80)\n", rate / bare);

  // Lateness.
  std::vector<SysTime> times;
  const auto start = std::chrono::system_clock::now() + std::chrono::seconds(3) +
                     std::chrono::milliseconds(m / 10);
  for (int i = 0; i < m; ++i) {
    times.push_back(
        start + std::chrono::microseconds(static_cast<long long>(i) * spread_s * 1'000'000 / m));
  }
  DaemonRun spread =
      start_daemon(skedd, root / "spread", one_shots(child, times), concurrency, daemon_lines);
  events =
      wait_finished(root / "spread" / "skedd.log", static_cast<std::size_t>(m), spread_s + 600.0);
  stop(spread);
  std::vector<double> lateness_ms, own_ms;
  for (const auto& e : events) {
    if (e["event"] == "run_started") own_ms.push_back(e["lateness_ms"].get<double>());
    if (e["event"] != "run_finished" || !e.contains("log")) continue;
    std::ifstream in(e["log"].get<std::string>());
    long long child_ns = 0;
    if (!(in >> child_ns)) continue;
    const auto scheduled = parse(e["scheduled"]).time_since_epoch().count();  // us
    lateness_ms.push_back(static_cast<double>(child_ns / 1000 - scheduled) / 1000.0);
  }
  std::printf("lateness: %d one-shots over %d s (child start - scheduled), %zu measured\n", m,
              spread_s, lateness_ms.size());
  std::printf("  p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  max %.3f ms  (target p99 <= 2 ms)\n",
              percentile(lateness_ms, 50), percentile(lateness_ms, 90), percentile(lateness_ms, 99),
              percentile(lateness_ms, 100));
  std::printf("  of which skedd's own (its spawn call - due): p50 %.3f ms  p99 %.3f ms\n",
              percentile(own_ms, 50), percentile(own_ms, 99));
  std::error_code ec;
  fs::remove_all(root, ec);
  return 0;
}
