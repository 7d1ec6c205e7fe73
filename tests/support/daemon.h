// The real skedd, started by an end-to-end test in a temp dir of its own, and the helpers that
// test needs around it: waiting for JSON log events with a deadline, signalling, checking that
// processes are gone, and cleaning up everything the daemon started even when the test fails.
//
// While a Daemon exists the test process is a child subreaper, so processes orphaned by a run
// (a job's grandchild, or a job that outlives a stopped daemon) become the test's children:
// the test can reap them, which matters where PID 1 reaps nothing and a killed orphan would
// otherwise stay a zombie that kill(pid, 0) still finds, and the destructor can find and kill
// them all.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/temp_dir.h"

namespace skedd::test {

using Json = nlohmann::json;
using std::chrono::milliseconds;

/// The whole content of `path`; empty when it cannot be read.
inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// Polls `done` every `poll` until it returns true (true) or `timeout` has passed (false).
inline bool wait_until(const std::function<bool()>& done, milliseconds timeout,
                       milliseconds poll = milliseconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(poll);
  }
}

/// `t` as RFC 3339 in UTC with milliseconds: 2026-05-01T12:00:03.250Z.
inline std::string rfc3339_utc_ms(std::chrono::system_clock::time_point t) {
  const auto secs = std::chrono::floor<std::chrono::seconds>(t);
  const auto ms = std::chrono::duration_cast<milliseconds>(t - secs).count();
  const std::time_t tt = std::chrono::system_clock::to_time_t(secs);
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(ms));
  return buf;
}

/// Whether a process with this pid exists (zombies included), as kill(pid, 0) sees it.
inline bool pid_exists(pid_t pid) {
  return ::kill(pid, 0) == 0 || errno != ESRCH;
}

/// One skedd process. Its stderr (JSON lines, with --log-format json) goes to DIR/skedd.log and
/// its stdout to DIR/skedd.out. Not copyable; the destructor SIGKILLs the daemon if it still
/// runs, then every process group a run was started in, then every process left that became
/// the test's child, and reaps them all.
class Daemon {
 public:
  /// Starts `SKEDD_BINARY --config CONFIG --state-dir DIR/state --socket DIR/skedd.sock
  /// --log-format json [--no-cgroups] EXTRA...` (--no-cgroups unless `cgroups`: most tests
  /// check what process groups alone do; EXTRA's own --state-dir or --socket replaces ours). Throws
  /// std::runtime_error when it cannot fork. `binary`: another skedd (the next release's, for an
  /// upgrade).
  Daemon(const TempDir& dir, const std::string& config, const std::vector<std::string>& extra = {},
         bool cgroups = false, const std::string& binary = SKEDD_BINARY)
      : log_path_(dir / "skedd.log") {
    std::vector<std::string> argv = {binary, "--config", config, "--log-format", "json"};
    // EXTRA may name its own state dir or socket.
    for (const char* option : {"--state-dir", "--socket"}) {
      if (std::find(extra.begin(), extra.end(), option) != extra.end()) continue;
      argv.push_back(option);
      argv.push_back(std::string(option) == "--socket" ? dir / "skedd.sock" : dir / "state");
    }
    if (!cgroups) argv.push_back("--no-cgroups");
    argv.insert(argv.end(), extra.begin(), extra.end());
    std::vector<char*> args;
    for (std::string& a : argv) args.push_back(a.data());
    args.push_back(nullptr);

    const std::string out_path = dir / "skedd.out";
    const int in_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    const int out_fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const int err_fd =
        ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    if (in_fd < 0 || out_fd < 0 || err_fd < 0) throw std::runtime_error("cannot open daemon files");
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (pid_ == 0) {
      // Only async-signal-safe calls between fork and exec. The daemon dies with the test.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      ::setpgid(0, 0);  // a terminal's ^C goes to the test, whose death then kills the daemon
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGPIPE}) ::signal(sig, SIG_DFL);
      ::dup2(in_fd, 0);
      ::dup2(out_fd, 1);
      ::dup2(err_fd, 2);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ::close(in_fd);
    ::close(out_fd);
    ::close(err_fd);
  }

  ~Daemon() { kill_everything(); }

  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return log_path_; }
  std::string log_text() const { return slurp(log_path_); }

  /// Every line logged so far, parsed; a line that is not JSON is {"event":"text","text":...}.
  const std::vector<Json>& events() {
    read_new_lines();
    return events_;
  }

  /// The events named `name` logged so far that satisfy `match` (when given).
  std::vector<Json> events_named(const std::string& name,
                                 const std::function<bool(const Json&)>& match = {}) {
    std::vector<Json> found;
    for (const Json& e : events()) {
      if (e.value("event", "") == name && (!match || match(e))) found.push_back(e);
    }
    return found;
  }

  /// Waits until `count` events named `name` (and satisfying `match`) have been logged and
  /// returns the first `count`. Throws std::runtime_error, with the whole log, when `timeout`
  /// passes or the daemon exits first.
  std::vector<Json> wait_for(const std::string& name, std::size_t count,
                             const std::function<bool(const Json&)>& match = {},
                             milliseconds timeout = milliseconds(10000)) {
    std::vector<Json> found;
    const bool ok = wait_until(
        [&] {
          found = events_named(name, match);
          if (found.size() >= count) return true;
          reap();
          if (!running()) {
            found = events_named(name, match);  // it may have logged just before exiting
            return true;
          }
          return false;
        },
        timeout);
    if (!ok || found.size() < count) {
      std::ostringstream what;
      what << "waited " << timeout.count() << " ms for " << count << " \"" << name
           << "\" event(s), saw " << found.size();
      if (!running()) what << "; skedd exited with status " << exit_status_.value_or(-1);
      what << "\n--- skedd log " << log_path_ << " ---\n" << log_text();
      throw std::runtime_error(what.str());
    }
    found.resize(count);
    return found;
  }

  /// The first event named `name` that satisfies `match`; see the other overload.
  Json wait_for(const std::string& name, const std::function<bool(const Json&)>& match = {},
                milliseconds timeout = milliseconds(10000)) {
    return wait_for(name, 1, match, timeout).front();
  }

  /// Sends `sig` to the daemon.
  void signal(int sig) const { ::kill(pid_, sig); }

  /// The destructor then kills the daemon only: its runs are left for the next daemon (they
  /// are the test's children now; a later Daemon's cleanup kills them).
  void leave_runs() { leave_runs_ = true; }

  /// Whether the daemon has not yet been seen to exit.
  bool running() {
    reap();
    return !exit_status_.has_value();
  }

  /// Waits up to `timeout` for the daemon to exit; returns its exit status (128 + signal when
  /// killed), or nothing when it still runs.
  std::optional<int> wait_exit(milliseconds timeout) {
    wait_until([&] { return !running(); }, timeout, milliseconds(10));
    return exit_status_;
  }

  /// Reaps every exited child: the daemon (its status is kept) and orphans reparented to the
  /// test.
  void reap() {
    for (;;) {
      int status = 0;
      const pid_t pid = ::waitpid(-1, &status, WNOHANG);
      if (pid <= 0) return;
      if (pid == pid_)
        exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
  }

  /// The CPU time (user + system) the daemon has used so far, in seconds; -1 once it is gone.
  double cpu_seconds() const {
    const std::string stat = slurp("/proc/" + std::to_string(pid_) + "/stat");
    const std::size_t paren = stat.rfind(')');
    if (paren == std::string::npos) return -1;
    std::istringstream fields(stat.substr(paren + 2));
    std::string field;
    double ticks = 0;
    // After the command: state is field 3; utime and stime are fields 14 and 15.
    for (int i = 3; i <= 15 && fields >> field; ++i) {
      if (i >= 14) ticks += std::stod(field);
    }
    return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
  }

  /// Whether `pid` is gone for good (kill(pid, 0) fails with ESRCH), reaping first.
  bool gone(pid_t pid) {
    reap();
    return !pid_exists(pid);
  }

  /// Whether no process (zombies included) is left in process group `pgid`, reaping first.
  bool group_gone(pid_t pgid) {
    reap();
    return ::kill(-pgid, 0) != 0 && errno == ESRCH;
  }

  /// SIGKILLs the daemon, the process group of every run it logged as started, and every
  /// process left that is now the test's child, and reaps them. Safe to call more than once.
  void kill_everything() {
    if (!exit_status_) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      if (::waitpid(pid_, &status, 0) == pid_) {
        exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
    }
    if (leave_runs_) return;
    std::set<pid_t> groups;
    try {
      for (const Json& e : events()) {
        if (e.value("event", "") == "run_started" && e.contains("pid")) {
          groups.insert(e["pid"].get<pid_t>());
        }
      }
    } catch (const std::exception&) {
      // A malformed event must not stop the cleanup.
    }
    for (pid_t pgid : groups) ::kill(-pgid, SIGKILL);
    // Killing a process orphans its children, which then become ours: repeat until none is
    // left.
    wait_until(
        [&] {
          reap();
          const std::vector<pid_t> children = own_children();
          for (pid_t child : children) {
            ::kill(-child, SIGKILL);
            ::kill(child, SIGKILL);
          }
          return children.empty();
        },
        milliseconds(5000), milliseconds(10));
    ::prctl(PR_SET_CHILD_SUBREAPER, 0);
  }

 private:
  // The test process's children, found through /proc (their parent field).
  static std::vector<pid_t> own_children() {
    std::vector<pid_t> children;
    const pid_t self = ::getpid();
    DIR* proc = ::opendir("/proc");
    if (proc == nullptr) return children;
    while (const dirent* entry = ::readdir(proc)) {
      char* end = nullptr;
      const long pid = std::strtol(entry->d_name, &end, 10);
      if (pid <= 0 || *end != '\0') continue;
      const std::string stat = slurp("/proc/" + std::string(entry->d_name) + "/stat");
      const std::size_t paren = stat.rfind(')');
      if (paren == std::string::npos) continue;
      char state = 0;
      long ppid = 0;
      if (std::sscanf(stat.c_str() + paren + 1, " %c %ld", &state, &ppid) != 2) continue;
      if (ppid == self) children.push_back(static_cast<pid_t>(pid));
    }
    ::closedir(proc);
    return children;
  }

  void read_new_lines() {
    std::ifstream in(log_path_, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(offset_));
    std::string chunk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    offset_ += chunk.size();
    partial_ += chunk;
    std::size_t start = 0;
    for (std::size_t nl; (nl = partial_.find('\n', start)) != std::string::npos; start = nl + 1) {
      const std::string line = partial_.substr(start, nl - start);
      Json parsed = Json::parse(line, nullptr, false);
      if (parsed.is_discarded() || !parsed.is_object()) {
        parsed = Json{{"event", "text"}, {"text", line}};
      }
      events_.push_back(std::move(parsed));
    }
    partial_.erase(0, start);
  }

  std::string log_path_;
  pid_t pid_ = -1;
  std::optional<int> exit_status_;
  bool leave_runs_ = false;
  std::size_t offset_ = 0;
  std::string partial_;
  std::vector<Json> events_;
};

}  // namespace skedd::test
