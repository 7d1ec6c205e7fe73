// Optional per-run cgroups (v2), so a hard kill also reaches processes that left the run's
// process group. Used only where a writable cgroup v2 hierarchy exists.
#pragma once

#include <string>

#include "skedd/core/run.h"
#include "skedd/util/result.h"
#include "util/unique_fd.h"

namespace skedd {

class Cgroups {
 public:
  /// Disabled: every call is a no-op.
  Cgroups() = default;

  /// Looks for a cgroup2 mount in /proc/self/mountinfo and the daemon's own cgroup in
  /// /proc/self/cgroup, and tries to create `skedd.runs` beneath it. On failure the result is
  /// disabled and `why_not` says why.
  static Cgroups detect(std::string* why_not);

  bool enabled() const { return !base_.empty(); }
  const std::string& base() const { return base_; }

  /// Creates the run's cgroup and returns its cgroup.procs opened for writing (close-on-exec),
  /// for the child to move itself into.
  Result<UniqueFd> create(RunId run) const;
  /// SIGKILLs every process in the run's cgroup (cgroup.kill, or one by one on kernels
  /// before 5.14).
  void kill(RunId run) const;
  /// Freezes (or thaws) every process in the run's cgroup (cgroup.freeze); false when the
  /// kernel refused.
  bool freeze(RunId run, bool frozen) const;
  /// Whether the run's cgroup has no processes left (true when it does not exist).
  bool empty(RunId run) const;
  /// Removes the run's cgroup; false while processes remain in it.
  bool remove(RunId run) const;

 private:
  explicit Cgroups(std::string base) : base_(std::move(base)) {}
  std::string path(RunId run) const;

  std::string base_;  ///< .../skedd.runs, empty when disabled
};

}  // namespace skedd
