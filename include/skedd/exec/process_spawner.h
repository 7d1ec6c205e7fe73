#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "skedd/time/types.h"
#include "skedd/util/result.h"

#include <boost/asio/io_context.hpp>

namespace skedd {

/// Who a process runs as. Resolved by the caller (getpwnam, getgrouplist) so that the child
/// only makes system calls.
struct Credentials {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  ///< supplementary groups
};

/// Everything needed to start one run's process. Descriptors are borrowed: the spawner dups
/// them into the child and never closes them.
struct SpawnRequest {
  /// The executable. A name with a slash is exec'd as it is; a bare name is searched for in
  /// `search_path` by the child, after it has taken `credentials`, so that no directory of
  /// the job's PATH is ever looked at with the daemon's privileges.
  std::string path;
  std::string search_path;        ///< colon-separated directories (a job's PATH); "" is "."
  std::vector<std::string> argv;  ///< argv[0] first
  std::vector<std::string> env;   ///< "NAME=value" entries: the whole environment
  std::string working_dir;        ///< empty: stay in the daemon's directory
  int stdin_fd = -1;              ///< becomes fd 0 (e.g. /dev/null)
  int output_fd = -1;             ///< becomes fd 1 and fd 2 (the run's log, O_APPEND)
  int control_fd = -1;            ///< becomes fd 3 (the run's control channel); -1: none
  int input_fd = -1;              ///< becomes fd 4 (lines sent to the run); -1: none
  int cgroup_procs_fd = -1;       ///< an open cgroup.procs the child moves itself into
  std::optional<mode_t> umask;    ///< unset: 022, cron's (not the daemon's)
  std::optional<int> nice;
  std::optional<std::uint64_t> limit_nofile;
  std::optional<std::uint64_t> limit_memory;  ///< RLIMIT_AS, bytes
  std::optional<Credentials> credentials;     ///< switch user; requires root
};

/// How a watched process ended. Neither set: unknown (an adopted process is not our child, so
/// its status is not ours to take).
struct ProcessExit {
  std::optional<int> exit_code;
  std::optional<int> signal;
  /// When it ended, where that is not now: an exit a run host kept while skedd was down.
  std::optional<Instant> ended;
};

/// The run host a spawner is connected to, and which of its connections this is.
struct HostSession {
  pid_t pid = 0;
  std::uint64_t start = 0;       ///< the host's start time (as start_time() gives it)
  std::uint64_t connection = 0;  ///< 1 for the first skedd it served, and so on
  bool operator==(const HostSession&) const = default;
};

/// The runtime's seam to processes: the whole life of a run's processes, from spawn to the
/// exit, goes through it (the supervisor makes no process system call of its own). The real
/// one forks and watches pidfds; tests use a fake that records spawns and ends them on demand;
/// a run host will be one more.
class ProcessSpawner {
 public:
  virtual ~ProcessSpawner() = default;
  /// Starts the process in a new process group (its pgid is its pid), with default signal
  /// dispositions, an empty signal mask and no descriptors but 0-3 (and 4 with an input). Returns
  /// its pid, or an error naming the step that failed in the child ("chdir /x: No such file or
  /// directory").
  virtual Result<pid_t> spawn(const SpawnRequest& request) = 0;
  using OnSpawned = std::function<void(Result<pid_t>)>;
  /// Starts the process as spawn() does and tells `done` its pid or the error, once, on the
  /// event loop's thread. Where the spawn is another process's work (a run host), it is told
  /// later, with other events handled meanwhile, so that the loop does not wait for it; the
  /// default tells it from inside this call. `request`'s descriptors are borrowed only until
  /// this returns.
  virtual void spawn_async(const SpawnRequest& request, OnSpawned done) { done(spawn(request)); }
  /// Sends `sig` to every process of group `pgid`. False when none is left (with `sig` 0,
  /// that is all it does: asks).
  virtual bool signal_group(pid_t pgid, int sig) = 0;
  using OnExit = std::function<void(const ProcessExit&)>;
  /// Calls `on_exit` once, on the event loop's thread, when process `pid` has exited: a child
  /// spawned here is reaped then and its status given; an `adopted` one (an earlier daemon's)
  /// is only watched, its status unknown. An error when it cannot be watched (out of
  /// descriptors, or gone already): a child is then killed and reaped, so that nothing runs
  /// unseen. `on_exit` is not called after unwatch().
  virtual Status watch_exit(pid_t pid, bool adopted, OnExit on_exit) = 0;
  virtual void unwatch(pid_t pid) = 0;
  /// The start time of process `pid` (clock ticks since boot, /proc/PID/stat): with the pid
  /// it names one process within a boot. nullopt when there is none or it has exited.
  virtual std::optional<std::uint64_t> start_time(pid_t pid) = 0;
  /// The start time of `pid` just returned by spawn(), before its exit can have been told:
  /// unlike start_time(), known when it has ended at once too.
  virtual std::optional<std::uint64_t> spawned_start_time(pid_t pid) { return start_time(pid); }
  /// The process spawned as run `run_id` whose pid was not recorded: a group leader whose
  /// environment says SKEDD_RUN_ID=run_id and that holds the run's control FIFO open.
  virtual std::optional<pid_t> find_run(std::uint64_t run_id, const std::string& control_path) = 0;
  /// For a child subreaper, on SIGCHLD: reaps the exited children nobody watches (the orphans
  /// of runs). A watched child's status is never taken: the look stops at one and goes on once
  /// its watcher has reaped it.
  virtual void reap_orphans() = 0;

  // What only a run host can do (the defaults are a spawner's without one).
  /// The exit of process `pid` (started at `start`) that was kept while no skedd watched it:
  /// its run ended while skedd was down. watch_exit() then tells it at once.
  virtual std::optional<ProcessExit> kept_exit(pid_t pid, std::uint64_t start) {
    (void)pid, (void)start;
    return std::nullopt;
  }
  /// The pid and start time of the process spawned as run `run_id` whose exit was kept while
  /// no skedd watched it: its run's pid was not yet recorded when skedd stopped. kept_exit()
  /// then has its exit.
  virtual std::optional<std::pair<pid_t, std::uint64_t>> kept_run(std::uint64_t run_id) {
    (void)run_id;
    return std::nullopt;
  }
  /// The run host this spawner is connected to and its connection, from the start: a skedd
  /// whose host session follows its predecessor's (the same host, the next connection) knows
  /// that the host got every spawn its predecessor asked for. nullopt: no host.
  virtual std::optional<HostSession> host_session() { return std::nullopt; }
  /// The end of the run of `pid` (started at `start`) is durable: a kept exit may go.
  virtual void release(pid_t pid, std::uint64_t start) { (void)pid, (void)start; }
  /// Hands `line` (no newline) to the input of running process `pid` (its descriptor 4).
  virtual Status send_input(pid_t pid, std::uint64_t start, const std::string& line) {
    (void)pid, (void)start, (void)line;
    return Error::not_found("runs have no input without a run host");
  }
};

/// vfork + exec (fork under AddressSanitizer), with errors from the child reported back
/// through a close-on-exec pipe; exits learnt through pidfds read on an io_context.
class PosixSpawner final : public ProcessSpawner {
 public:
  /// Children keep the caller's RLIMIT_NOFILE. Exits are told on `io`'s thread; `io` must
  /// outlive the spawner.
  explicit PosixSpawner(boost::asio::io_context& io);
  /// Children without `limit_nofile` get `default_nofile` (the limit the daemon started with,
  /// before it raised its own).
  PosixSpawner(boost::asio::io_context& io, rlimit default_nofile);
  ~PosixSpawner() override;
  PosixSpawner(const PosixSpawner&) = delete;
  PosixSpawner& operator=(const PosixSpawner&) = delete;

  Result<pid_t> spawn(const SpawnRequest& request) override;
  bool signal_group(pid_t pgid, int sig) override;
  Status watch_exit(pid_t pid, bool adopted, OnExit on_exit) override;
  void unwatch(pid_t pid) override;
  std::optional<std::uint64_t> start_time(pid_t pid) override;
  std::optional<std::uint64_t> spawned_start_time(pid_t pid) override;
  std::optional<pid_t> find_run(std::uint64_t run_id, const std::string& control_path) override;
  void reap_orphans() override;

 private:
  struct Watch;
  void wait_for(pid_t pid);
  void on_readable(pid_t pid);

  boost::asio::io_context& io_;
  rlimit default_nofile_;
  std::map<pid_t, std::unique_ptr<Watch>> watches_;
  /// reap_orphans() stopped at a watched child's exit: called again once that is reaped.
  bool orphans_waiting_ = false;
};

/// The paths the child tries, in order, for `name`: `name` itself if it contains a slash,
/// else `dir/name` for each directory of the colon-separated `path_list` (an empty entry is
/// "."). Pure string work: nothing is looked up.
std::vector<std::string> exec_candidates(const std::string& name, const std::string& path_list);

}  // namespace skedd
