// Process-run benchmarks of the real skedd binary, each against baselines from the same run.
// Two floors recur: the bare loop (posix_spawn and reap the same tiny program, nothing else)
// and the bare loop with a log (it also creates a log file per spawn in the state dir's file
// system, as skedd does for every run).
//
//  throughput: N one-shot jobs all due at the same instant (max_concurrent_runs = C), runs/s
//              from the first due to the last run_finished, against both floors spawning N
//              with concurrency C. Target: >= 0.80 of the bare loop.
//  after a deletion: the same, each of the floor with a log and skedd right after 20,000
//              files were created and deleted in DIR (ext4 without a journal scans recently
//              deleted inodes on every file created for a while after). Target: >= 0.80.
//  lateness:   M one-shots spread evenly over S seconds; lateness = the child's own start time
//              minus its scheduled time, against both floors spawning at the same instants
//              from a timer loop. Targets: p99 within 1.5x the bare loop's, and skedd's own
//              part (its spawn call minus due, from run_started) p99 <= 0.5 ms.
//  sustained:  RATE runs/s for SUSTAIN seconds (one-shots spread evenly), lateness p50/p99
//              per 10 s window, so that a build-up shows. Target: no window's p99 above 5 ms.
//  memory:     F recurring process jobs from a jobs.d file: skedd's PSS 3 s after its socket
//              first answers, minus an empty skedd's, per job (target <= 320 B/job, cron's
//              figure for the same jobs), and the time from exec until the socket answers
//              (the jobs loaded); then the load time for L jobs (target <= 5 s at 1,000,000).
//
// Usage: bench_runs [N=20000] [M=10000] [S=20] [C=64] [DIR=/tmp] [RATE=500] [SUSTAIN=60]
//                   [F=100000] [L=1000000]
// A count of 0 skips its phase. DIR holds the state dirs; its file system type is printed.
// BENCH_DAEMON_LINES: more [daemon] lines, e.g. "run_host = false" to measure runs spawned by
// skedd itself against runs through the run host (the default), or "cgroups = false".
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
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

constexpr int kDeletedFiles = 20000;

// The file system holding `dir` and its mount options, from /proc/self/mounts (the longest
// mount point that contains it).
std::string fs_type(const fs::path& dir) {
  std::error_code ec;
  const std::string path = fs::canonical(dir, ec).string();
  std::ifstream mounts("/proc/self/mounts");
  std::string device, point, type, options, best = "unknown", best_point;
  std::string rest;
  while (mounts >> device >> point >> type >> options && std::getline(mounts, rest)) {
    const bool contains =
        path == point || point == "/" ||
        (path.rfind(point, 0) == 0 && path.size() > point.size() && path[point.size()] == '/');
    if (contains && point.size() >= best_point.size()) {
      best_point = point;
      best = type + " (" + options + ", mounted on " + point + ")";
    }
  }
  return best;
}

// Creates and deletes `count` files in DIR: what an earlier run's removed state leaves.
void delete_files(const fs::path& dir, int count) {
  const fs::path churn = dir / "deleted";
  fs::create_directories(churn);
  for (int i = 0; i < count; ++i) {
    const int fd = ::open((churn / std::to_string(i)).c_str(), O_WRONLY | O_CREAT, 0600);
    if (fd >= 0) ::close(fd);
  }
  fs::remove_all(churn);
}

// One bare spawn of `program` tagged `tag`, stdout to `out`.
pid_t spawn_child(const std::string& program, const std::string& tag, int out) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out, 1);
  char* argv[] = {const_cast<char*>(program.c_str()), const_cast<char*>(tag.c_str()), nullptr};
  pid_t pid = 0;
  const int failed = posix_spawn(&pid, program.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  if (failed != 0) {
    std::fprintf(stderr, "posix_spawn: %s\n", std::strerror(failed));
    std::exit(1);
  }
  return pid;
}

// Where the floors send a child's stdout: /dev/null, or with `logs` a new file logs/TAG.log
// created for that spawn (as skedd creates a run's log, mode 0600, appending).
class Outputs {
 public:
  explicit Outputs(std::optional<fs::path> logs) : logs_(std::move(logs)) {
    if (logs_) fs::create_directories(*logs_);
    null_ = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  }
  ~Outputs() { ::close(null_); }
  Outputs(const Outputs&) = delete;
  Outputs& operator=(const Outputs&) = delete;
  int open(const std::string& tag) const {
    if (!logs_) return null_;
    return ::open((*logs_ / (tag + ".log")).c_str(),
                  O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  }
  void done(int fd) const {
    if (fd != null_) ::close(fd);
  }
  const std::optional<fs::path>& logs() const { return logs_; }

 private:
  std::optional<fs::path> logs_;
  int null_ = -1;
};

// A floor's rate: `n` children of `program`, at most `concurrency` at a time.
double bare_rate(const std::string& program, int n, int concurrency, const Outputs& outputs) {
  const auto start = Clock::now();
  int running = 0;
  for (int started = 0; started < n || running > 0;) {
    if (started < n && running < concurrency) {
      const std::string tag = std::to_string(started);
      const int out = outputs.open(tag);
      spawn_child(program, tag, out);
      outputs.done(out);
      ++started;
      ++running;
      continue;
    }
    int status = 0;
    if (::wait(&status) > 0) --running;
  }
  return n / elapsed_s(start);
}

// A floor's lateness: `program` spawned at each of `due` from one thread, as a bare timer loop
// would (sleep until due, spawn, reap what has ended); the child's start minus its due, in ms.
std::vector<double> bare_lateness(const std::string& program, const std::vector<SysTime>& due,
                                  const fs::path& stamps) {
  const int out = ::open(stamps.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  for (std::size_t i = 0; i < due.size(); ++i) {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(due[i].time_since_epoch());
    const timespec at{static_cast<time_t>(ns.count() / 1'000'000'000),
                      static_cast<long>(ns.count() % 1'000'000'000)};
    while (::clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &at, nullptr) == EINTR) {
    }
    spawn_child(program, std::to_string(i), out);
    int status = 0;
    while (::waitpid(-1, &status, WNOHANG) > 0) {
    }
  }
  int status = 0;
  while (::wait(&status) > 0) {
  }
  ::close(out);
  // Each child appended "start_ns tag" (one write, so lines do not interleave).
  std::vector<double> ms;
  std::ifstream in(stamps);
  long long start_ns = 0;
  std::size_t tag = 0;
  while (in >> start_ns >> tag) {
    if (tag >= due.size()) continue;
    const auto due_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(due[tag].time_since_epoch()).count();
    ms.push_back(static_cast<double>(start_ns - due_ns) / 1e6);
  }
  return ms;
}

// `count` instants spread evenly over `seconds`, the first a few seconds from now (time for
// skedd to load the jobs).
std::vector<SysTime> spread(int count, double seconds) {
  std::vector<SysTime> times;
  const auto start = std::chrono::system_clock::now() + std::chrono::seconds(3) +
                     std::chrono::milliseconds(count / 10);
  for (int i = 0; i < count; ++i) {
    times.push_back(start + std::chrono::microseconds(static_cast<long long>(
                                static_cast<double>(i) * seconds * 1e6 / count)));
  }
  return times;
}

// What a skedd that ran one-shots at `times` saw: per run, when it was scheduled (seconds
// after the first), the child's start minus that (ms), and skedd's own part (ms).
struct Late {
  double at_s;
  double child_ms;
};
struct Lateness {
  std::vector<Late> runs;
  std::vector<double> own_ms;
  double wall_s = 0;  // first due to last end
  int succeeded = 0;
};

Lateness run_skedd(const fs::path& dir, const std::vector<SysTime>& times, int concurrency,
                   const std::string& daemon_lines, double limit_s) {
  DaemonRun daemon =
      start_daemon(SKEDD_BINARY, dir, one_shots(BENCH_CHILD, times), concurrency, daemon_lines);
  const auto events = wait_finished(dir / "skedd.log", times.size(), limit_s);
  stop(daemon);
  Lateness out;
  const auto first_due =
      std::chrono::time_point_cast<skedd::Duration>(*std::min_element(times.begin(), times.end()));
  skedd::Instant last = first_due;
  for (const auto& e : events) {
    if (e["event"] == "run_started") out.own_ms.push_back(e["lateness_ms"].get<double>());
    if (e["event"] != "run_finished") continue;
    if (e["state"] == "succeeded") ++out.succeeded;
    last = std::max(last, parse(e["ended"]));
    if (!e.contains("log")) continue;
    std::ifstream in(e["log"].get<std::string>());
    long long child_ns = 0;
    if (!(in >> child_ns)) continue;
    const skedd::Instant scheduled = parse(e["scheduled"]);
    const double scheduled_us = static_cast<double>(scheduled.time_since_epoch().count());
    out.runs.push_back({std::chrono::duration<double>(scheduled - first_due).count(),
                        (static_cast<double>(child_ns) / 1000.0 - scheduled_us) / 1000.0});
  }
  out.wall_s = std::chrono::duration<double>(last - first_due).count();
  return out;
}

std::vector<double> child_ms(const Lateness& l) {
  std::vector<double> ms;
  for (const Late& r : l.runs) ms.push_back(r.child_ms);
  return ms;
}

void print_lateness(const char* name, const std::vector<double>& ms) {
  std::printf("  %-22s p50 %7.3f ms  p90 %7.3f ms  p99 %8.3f ms  max %8.3f ms  (%zu)\n", name,
              percentile(ms, 50), percentile(ms, 90), percentile(ms, 99), percentile(ms, 100),
              ms.size());
}

// skedd's rate (runs/s, from the due to the last end) with `n` one-shots due at once.
double throughput(const fs::path& dir, int n, int concurrency, const std::string& daemon_lines) {
  const auto due = std::chrono::system_clock::now() + std::chrono::seconds(3) +
                   std::chrono::milliseconds(n / 10);
  const Lateness l = run_skedd(dir, std::vector<SysTime>(static_cast<std::size_t>(n), due),
                               concurrency, daemon_lines, 600);
  const double rate = l.wall_s > 0 ? static_cast<double>(l.runs.size()) / l.wall_s : 0;
  std::printf("  skedd                  %9.0f runs/s  (%zu finished, %d succeeded, %.2f s)\n", rate,
              l.runs.size(), l.succeeded, l.wall_s);
  return rate;
}

// skedd's rate against the two floors'.
void print_ratios(double rate, double bare, double logged, const char* when) {
  std::printf(
      "  ratio                  %9.2f of the bare loop (target >= 0.80), %.2f of the loop "
      "with a log%s\n",
      rate / bare, rate / logged, when);
}

// The PSS of process `pid` in kB (/proc/PID/smaps_rollup).
long pss_kb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps_rollup");
  std::string key;
  long kb = 0;
  while (in >> key) {
    if (key == "Pss:" && in >> kb) return kb;
    in.ignore(1 << 12, '\n');
  }
  return -1;
}

// `count` recurring process jobs, cron-like: one a minute somewhere in the day, each its own.
std::string file_jobs(int count) {
  std::string jobs;
  jobs.reserve(static_cast<std::size_t>(count) * 64);
  for (int i = 0; i < count; ++i) {
    jobs += "[job.f" + std::to_string(i) + "]\ncron = \"" + std::to_string(i % 60) + " " +
            std::to_string(i / 60 % 24) + " * * *\"\ncommand = \"/bin/true f" + std::to_string(i) +
            "\"\n";
  }
  return jobs;
}

// A skedd on `count` file jobs: seconds until its socket answered and its PSS (kB) 3 s later.
std::pair<double, long> file_jobs_daemon(const fs::path& dir, int count) {
  const std::string jobs = file_jobs(count);
  const auto start = Clock::now();
  DaemonRun daemon = start_daemon(SKEDD_BINARY, dir, jobs, 64, "on_shutdown = \"stop\"\n");
  const auto up = connect_when_up((runtime_dir(dir) / "skedd.sock").string());
  const double load_s = elapsed_s(start);
  if (!up) {
    stop(daemon);
    return {-1, -1};
  }
  std::this_thread::sleep_for(std::chrono::seconds(3));
  const long kb = pss_kb(daemon.pid);
  stop(daemon);
  fs::remove_all(dir);
  return {load_s, kb};
}

}  // namespace

int main(int argc, char** argv) {
  auto arg = [&](int i, int fallback) { return argc > i ? std::atoi(argv[i]) : fallback; };
  const int n = arg(1, 20000);
  const int m = arg(2, 10000);
  const int spread_s = arg(3, 20);
  const int concurrency = arg(4, 64);
  const std::string dir = argc > 5 ? argv[5] : "/tmp";
  const int rate = arg(6, 500);
  const int sustain_s = arg(7, 60);
  const int file_count = arg(8, 100000);
  const int load_count = arg(9, 1000000);
  const std::string child = BENCH_CHILD;
  std::string tmpl = dir + "/skedd-bench-XXXXXX";
  const fs::path root = ::mkdtemp(tmpl.data());
  const char* extra = std::getenv("BENCH_DAEMON_LINES");
  const std::string daemon_lines =
      std::string("on_shutdown = \"stop\"\n") + (extra != nullptr ? std::string(extra) + "\n" : "");
  std::printf("state dirs in %s: %s\n", dir.c_str(), fs_type(root).c_str());

  double bare = 0;  // the bare loop's runs/s, the throughput baseline
  if (n > 0) {
    std::printf("throughput: %d runs all due at once, max_concurrent_runs=%d\n", n, concurrency);
    bare = bare_rate(child, n, concurrency, Outputs(std::nullopt));
    const double logged = bare_rate(child, n, concurrency, Outputs(root / "floor-logs"));
    std::printf("  bare loop              %9.0f runs/s\n", bare);
    std::printf("  bare loop with a log   %9.0f runs/s\n", logged);
    const double skedd_rate = throughput(root / "burst", n, concurrency, daemon_lines);
    print_ratios(skedd_rate, bare, logged, "");
  }

  if (m > 0) {
    std::printf("lateness: %d one-shots over %d s (child start - scheduled)\n", m, spread_s);
    const std::vector<double> bare_ms = bare_lateness(child, spread(m, spread_s), root / "stamps");
    print_lateness("bare loop", bare_ms);
    const Lateness l = run_skedd(root / "spread", spread(m, spread_s), concurrency, daemon_lines,
                                 spread_s + 600.0);
    const std::vector<double> ms = child_ms(l);
    print_lateness("skedd", ms);
    std::printf("  p99 ratio              %9.2f of the bare loop's (target <= 1.5)\n",
                percentile(ms, 99) / std::max(percentile(bare_ms, 99), 1e-3));
    std::printf(
        "  skedd's own part (its spawn call - due): p50 %.3f ms  p99 %.3f ms  (target "
        "p99 <= 0.5 ms)\n",
        percentile(l.own_ms, 50), percentile(l.own_ms, 99));
  }

  if (rate > 0 && sustain_s > 0) {
    std::printf("sustained: %d runs/s for %d s, lateness per 10 s window (target p99 <= 5 ms)\n",
                rate, sustain_s);
    const Lateness l = run_skedd(root / "sustained", spread(rate * sustain_s, sustain_s),
                                 concurrency, daemon_lines, sustain_s + 600.0);
    double worst = 0;
    for (int w = 0; w * 10 < sustain_s; ++w) {
      std::vector<double> ms;
      for (const Late& r : l.runs) {
        if (r.at_s >= w * 10 && r.at_s < (w + 1) * 10) ms.push_back(r.child_ms);
      }
      worst = std::max(worst, percentile(ms, 99));
      const std::string name = std::to_string(w * 10) + "-" + std::to_string(w * 10 + 10) + " s";
      print_lateness(name.c_str(), ms);
    }
    std::printf("  worst window p99       %9.3f ms; own part p99 %.3f ms; %zu of %d measured\n",
                worst, percentile(l.own_ms, 99), l.runs.size(), rate * sustain_s);
  }

  // Last of the spawn phases: on ext4 without a journal the deletion slows every file created
  // for minutes after.
  if (n > 0) {
    std::printf("after deleting %d files in %s:\n", kDeletedFiles, dir.c_str());
    delete_files(root, kDeletedFiles);
    const double logged_after = bare_rate(child, n, concurrency, Outputs(root / "floor-logs-2"));
    std::printf("  bare loop with a log   %9.0f runs/s\n", logged_after);
    delete_files(root, kDeletedFiles);
    const double rate_after = throughput(root / "burst-2", n, concurrency, daemon_lines);
    print_ratios(rate_after, bare, logged_after, " after a deletion");
  }

  if (file_count > 0) {
    std::printf("memory: %d recurring process jobs from a jobs.d file\n", file_count);
    const auto [empty_s, empty_kb] = file_jobs_daemon(root / "empty", 0);
    const auto [load_s, kb] = file_jobs_daemon(root / "file-jobs", file_count);
    std::printf("  empty skedd            %9ld kB PSS (up after %.2f s)\n", empty_kb, empty_s);
    std::printf("  with the jobs          %9ld kB PSS (up after %.2f s)\n", kb, load_s);
    std::printf("  per job                %9.0f B  (target <= 320, cron's)\n",
                static_cast<double>(kb - empty_kb) * 1024.0 / file_count);
  }
  if (load_count > 0) {
    const auto [load_s, kb] = file_jobs_daemon(root / "file-jobs-load", load_count);
    std::printf("load: %d file jobs up after %.2f s (target <= 5 s), %ld kB PSS\n", load_count,
                load_s, kb);
  }
  std::error_code ec;
  fs::remove_all(root, ec);
  return 0;
}
