// What the benchmarks of the real skedd binary share: a daemon in a directory of its own, its
// JSON log read as events, percentiles.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "skedd/time/timestamp.h"

namespace skedd::bench {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using SysTime = std::chrono::system_clock::time_point;

inline double elapsed_s(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

inline std::string rfc3339(SysTime t) {
  return format_rfc3339_utc(std::chrono::time_point_cast<Duration>(t));
}

inline Instant parse(const std::string& t) {
  return parse_rfc3339(t).value();
}

/// One-shot jobs b0, b1, ... running `command` (a TOML value) at `times`.
inline std::string one_shots(const std::string& program, const std::vector<SysTime>& times) {
  std::string jobs;
  for (std::size_t i = 0; i < times.size(); ++i) {
    jobs += "[job.b" + std::to_string(i) + "]\nat = \"" + rfc3339(times[i]) + "\"\ncommand = [\"" +
            program + "\"]\n";
  }
  return jobs;
}

/// Where a daemon for `dir` keeps its socket and run FIFOs: a tmpfs, as /run/skedd is.
inline fs::path runtime_dir(const fs::path& dir) {
  return "/dev/shm/skedd-bench-" + dir.parent_path().filename().string() + "-" +
         dir.filename().string();
}

struct DaemonRun {
  fs::path dir;
  pid_t pid = -1;
};

/// Writes DIR/skedd.toml ([daemon] in UTC, `max_concurrent_runs`, `daemon_lines`) and
/// DIR/jobs.d/bench.toml (`jobs`), and starts skedd (`skedd`, or $SKEDD_BENCH_BINARY when set:
/// another build measured by the same benchmark, back to back) on them with its state in DIR/state
/// and its JSON log in DIR/skedd.log (appended, so that a restart adds to it).
inline DaemonRun start_daemon(const std::string& skedd, const fs::path& dir,
                              const std::string& jobs, int max_concurrent_runs,
                              const std::string& daemon_lines = "on_shutdown = \"stop\"\n") {
  const char* other = std::getenv("SKEDD_BENCH_BINARY");
  const std::string binary = other != nullptr && *other != '\0' ? other : skedd;
  fs::create_directories(dir / "jobs.d");
  {
    std::ofstream main(dir / "skedd.toml");
    main << "[daemon]\ntimezone = \"UTC\"\nmax_concurrent_runs = " << max_concurrent_runs << "\n"
         << daemon_lines;
    std::ofstream(dir / "jobs.d" / "bench.toml") << jobs;
  }
  ::chmod((dir / "skedd.toml").c_str(), 0644);
  ::chmod((dir / "jobs.d" / "bench.toml").c_str(), 0644);
  DaemonRun run{dir, ::fork()};
  if (run.pid == 0) {
    const std::string log = (dir / "skedd.log").string();
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(fd, 2);
    // As in production: state on the disk, the socket and run FIFOs on a tmpfs.
    const std::string socket = (runtime_dir(dir) / "skedd.sock").string();
    ::execl(binary.c_str(), binary.c_str(), "--config", (dir / "skedd.toml").c_str(), "--state-dir",
            (dir / "state").c_str(), "--socket", socket.c_str(), "--log-format", "json",
            "--no-cgroups", static_cast<char*>(nullptr));
    std::_Exit(127);
  }
  return run;
}

/// Reads the daemon's log as it grows until `done(events so far)` or `limit_s` passes; reads it
/// at least once (a `limit_s` of 0 reads what is there).
inline std::vector<nlohmann::json> wait_events(
    const fs::path& log, const std::function<bool(const std::vector<nlohmann::json>&)>& done,
    double limit_s) {
  const auto start = Clock::now();
  std::vector<nlohmann::json> events;
  std::streamoff offset = 0;
  std::string partial;
  for (;;) {
    std::ifstream in(log);
    in.seekg(offset);
    std::string chunk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    offset += static_cast<std::streamoff>(chunk.size());
    partial += chunk;
    std::size_t pos;
    while ((pos = partial.find('\n')) != std::string::npos) {
      auto e = nlohmann::json::parse(partial.substr(0, pos), nullptr, false);
      partial.erase(0, pos + 1);
      if (!e.is_discarded()) events.push_back(std::move(e));
    }
    if (done(events) || elapsed_s(start) >= limit_s) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return events;
}

/// Waits until the daemon's log holds `n` run_finished events (or `limit_s` passes).
inline std::vector<nlohmann::json> wait_finished(const fs::path& log, std::size_t n,
                                                 double limit_s) {
  return wait_events(
      log,
      [n](const std::vector<nlohmann::json>& events) {
        return static_cast<std::size_t>(std::count_if(events.begin(), events.end(), [](auto& e) {
                 return e.value("event", "") == "run_finished";
               })) >= n;
      },
      limit_s);
}

/// Sends the daemon `sig` and reaps it; `cleanup` removes its runtime dir.
inline void stop(const DaemonRun& run, int sig = SIGTERM, bool cleanup = true) {
  ::kill(run.pid, sig);
  int status = 0;
  ::waitpid(run.pid, &status, 0);
  std::error_code ec;
  if (cleanup) fs::remove_all(runtime_dir(run.dir), ec);
}

/// CPU seconds (user + system) this process's threads have used, summed by thread name.
inline std::map<std::string, double> cpu_by_thread() {
  std::map<std::string, double> out;
  const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  std::error_code ec;
  for (const auto& task : fs::directory_iterator("/proc/self/task", ec)) {
    std::ifstream in(task.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto open = stat.find('(');
    const auto close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    std::istringstream fields(stat.substr(close + 2));
    std::string field;
    double ticks = 0;
    // After the name: state is field 3; utime and stime are fields 14 and 15.
    for (int i = 3; i <= 15 && fields >> field; ++i) {
      if (i >= 14) ticks += std::stod(field);
    }
    out[stat.substr(open + 1, close - open - 1)] += ticks / tick;
  }
  return out;
}

/// What each thread name used between two cpu_by_thread() readings, in microseconds per
/// `per` (runs, say): "name 12.3, other 4.5".
inline std::string cpu_per(const std::map<std::string, double>& before,
                           const std::map<std::string, double>& after, double per) {
  std::string out;
  for (const auto& [name, s] : after) {
    const auto it = before.find(name);
    const double used = s - (it == before.end() ? 0 : it->second);
    if (used <= 0) continue;
    char item[96];
    std::snprintf(item, sizeof item, "%s%s %.1f", out.empty() ? "" : ", ", name.c_str(),
                  used * 1e6 / per);
    out += item;
  }
  return out;
}

/// The machine's CPU time so far as /proc/stat counts it: all of it, and the part stolen by
/// the hypervisor (a virtual CPU not running at all, so every thread on it waits).
struct MachineCpu {
  double total = 0;
  double stolen = 0;
};
inline MachineCpu machine_cpu() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  in >> cpu;  // "cpu": all CPUs; then user nice system idle iowait irq softirq steal ...
  MachineCpu out;
  double v = 0;
  for (int i = 1; i <= 8 && in >> v; ++i) {
    out.total += v;
    if (i == 8) out.stolen = v;
  }
  return out;
}
/// The share of the machine's CPU time stolen between two readings, in percent.
inline double stolen_percent(const MachineCpu& before, const MachineCpu& after) {
  const double total = after.total - before.total;
  return total > 0 ? 100.0 * (after.stolen - before.stolen) / total : 0;
}

/// One client connection to a daemon's control socket.
class Connection {
 public:
  explicit Connection(const std::string& path) : fd_(::socket(AF_UNIX, SOCK_STREAM, 0)) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~Connection() { ::close(fd_); }
  bool connected() const { return connected_; }
  /// Sends one request line and returns the reply line's size (0 on failure); `ok` (when
  /// given) says whether the reply is {"ok":true,...}.
  std::size_t ask(const std::string& line, bool* ok = nullptr) {
    if (::send(fd_, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size())) {
      return 0;
    }
    for (;;) {
      if (const auto nl = in_.find('\n'); nl != std::string::npos) {
        // An error reply is {"error":{...},"id":N,"ok":false}; the jobs here print nothing
        // that could look like one.
        if (ok != nullptr)
          *ok = std::string_view(in_.data(), nl).find("\"ok\":false") == std::string_view::npos;
        in_.erase(0, nl + 1);
        return nl + 1;
      }
      char buf[1 << 16];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return 0;
      in_.append(buf, static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_;
  bool connected_ = false;
  std::string in_;
};

/// A connection to the daemon at `socket` once it answers `status` (nullptr after 120 s).
inline std::unique_ptr<Connection> connect_when_up(const std::string& socket) {
  const auto since = Clock::now();
  while (elapsed_s(since) < 120) {
    auto c = std::make_unique<Connection>(socket);
    if (c->connected() && c->ask("{\"id\":0,\"op\":\"status\"}\n") > 0) return c;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return nullptr;
}

inline double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

}  // namespace skedd::bench
