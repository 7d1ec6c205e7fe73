#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "skedd/util/result.h"

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
  int cgroup_procs_fd = -1;       ///< an open cgroup.procs the child moves itself into
  std::optional<mode_t> umask;    ///< unset: 022, cron's (not the daemon's)
  std::optional<int> nice;
  std::optional<std::uint64_t> limit_nofile;
  std::optional<std::uint64_t> limit_memory;  ///< RLIMIT_AS, bytes
  std::optional<Credentials> credentials;     ///< switch user; requires root
};

/// Starts processes. The real one forks; tests use a recording fake.
class ProcessSpawner {
 public:
  virtual ~ProcessSpawner() = default;
  /// Starts the process in a new process group (its pgid is its pid), with default signal
  /// dispositions, an empty signal mask and no descriptors but 0-3. Returns its pid, or an
  /// error naming the step that failed in the child ("chdir /x: No such file or directory").
  virtual Result<pid_t> spawn(const SpawnRequest& request) = 0;
};

/// vfork + exec (fork under AddressSanitizer), with errors from the child reported back
/// through a close-on-exec pipe.
class PosixSpawner final : public ProcessSpawner {
 public:
  /// Children keep the caller's RLIMIT_NOFILE.
  PosixSpawner();
  /// Children without `limit_nofile` get `default_nofile` (the limit the daemon started with,
  /// before it raised its own).
  explicit PosixSpawner(rlimit default_nofile);
  Result<pid_t> spawn(const SpawnRequest& request) override;

 private:
  rlimit default_nofile_;
};

/// The paths the child tries, in order, for `name`: `name` itself if it contains a slash,
/// else `dir/name` for each directory of the colon-separated `path_list` (an empty entry is
/// "."). Pure string work: nothing is looked up.
std::vector<std::string> exec_candidates(const std::string& name, const std::string& path_list);

}  // namespace skedd
