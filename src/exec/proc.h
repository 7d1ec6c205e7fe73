// What /proc says about a process.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>

namespace skedd {

/// The start time of process `pid` (field 22 of /proc/PID/stat, clock ticks since boot), or
/// nullopt when it does not exist or has ended (a zombie). With the pid it identifies one process:
/// a pid is reused, a (pid, start time) pair is not within one boot.
std::optional<std::uint64_t> process_start_time(pid_t pid);

/// The process that skedd spawned as run `run_id`, found by its environment
/// (SKEDD_RUN_ID=run_id) among the leaders of process groups (a run is spawned as one);
/// nullopt when there is none. Scans /proc: for the rare run whose pid was not recorded.
std::optional<pid_t> find_run_process(std::uint64_t run_id);

}  // namespace skedd
