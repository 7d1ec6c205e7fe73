// What /proc says about a process.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace skedd {

/// The start time of process `pid` (field 22 of /proc/PID/stat, clock ticks since boot), or
/// nullopt when it does not exist or has ended (a zombie). With the pid it identifies one process:
/// a pid is reused, a (pid, start time) pair is not within one boot.
std::optional<std::uint64_t> process_start_time(pid_t pid);
/// The start time of `pid`, a child of this process not yet reaped: a zombie's too. A child
/// that ends at once is a zombie before its spawner has looked; it is still the same process.
std::optional<std::uint64_t> child_start_time(pid_t pid);
/// This boot's id (/proc/sys/kernel/random/boot_id), or "" when unreadable.
std::string current_boot_id();

/// Whether process `pid` has a descriptor open on the file at `path` (same device and inode,
/// as /proc/PID/fd shows them).
bool holds_file(pid_t pid, const std::string& path);

/// The process that skedd spawned as run `run_id`, found among the leaders of process groups
/// (a run is spawned as one) whose environment says SKEDD_RUN_ID=run_id and that hold the
/// run's control FIFO `control_path` open: any user can put the variable in an environment,
/// but only a process skedd gave the FIFO (which lives in a directory of skedd's alone) holds
/// it. nullopt when there is none. Scans /proc: for the rare run whose pid was not recorded.
std::optional<pid_t> find_run_process(std::uint64_t run_id, const std::string& control_path);

}  // namespace skedd
