// What /proc says about a process.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>

namespace skedd {

/// The start time of process `pid` (field 22 of /proc/PID/stat, clock ticks since boot), or
/// nullopt when it does not exist. With the pid it identifies one process: a pid is reused,
/// a (pid, start time) pair is not within one boot.
std::optional<std::uint64_t> process_start_time(pid_t pid);

}  // namespace skedd
