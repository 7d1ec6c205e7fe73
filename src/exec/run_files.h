// The files of one run under the state dir: its log and its control channel.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <span>
#include <string>

#include "skedd/core/run.h"
#include "skedd/core/run_channel.h"
#include "skedd/util/result.h"
#include "util/unique_fd.h"

namespace skedd {

/// The control channel is a FIFO that the child gets open read-write: it always holds a reader
/// of its own, so its writes never raise SIGPIPE even when skedd is gone, and skedd (or the
/// next skedd) reattaches by opening the path. The child's end is non-blocking and the pipe
/// holds 1 MiB, so a job whose daemon is down neither blocks nor fails until that much is
/// unread.
struct RunFiles {
  std::string log_path;      ///< STATE/logs/JOB.RUN.log
  std::string control_path;  ///< RUNTIME/runs/RUN.ctl
  UniqueFd log;              ///< write end for the child, O_APPEND
  UniqueFd control_child;    ///< the FIFO, O_RDWR | O_NONBLOCK, for the child's fd 3
  UniqueFd control_read;     ///< the FIFO, O_RDWR | O_NONBLOCK, for skedd to read
};

/// Creates the run's log under `state_dir` (appending, owned by `owner` when skedd is root)
/// and its control FIFO under `runtime_dir` (the socket's directory: /run/skedd, a tmpfs, in
/// production, where creating a FIFO costs far less than on a disk). Logs are flat, one
/// directory for all jobs, so a job's first run creates no directory. Every descriptor is
/// close-on-exec. The error names the path.
Result<RunFiles> create_run_files(const std::string& state_dir, const std::string& runtime_dir,
                                  const std::string& job, RunId run, uid_t owner, gid_t group);

/// Reads what the non-blocking descriptor `fd` (a run's control channel) holds into `lines`,
/// through `buffer`, until it is drained or at least `cap` bytes were read (0: no cap), and
/// returns how many bytes were read: at most `cap` plus one buffer's size, so that a run that
/// writes without pause cannot keep its reader in one call.
std::size_t read_channel(int fd, LineSplitter& lines, std::span<char> buffer, std::size_t cap);

/// STATE/logs/JOB.RUN.log: where create_run_files puts the run's log.
std::string run_log_path(const std::string& state_dir, const std::string& job, RunId run);

/// Removes the control FIFO of a finished run; errors are ignored (it may be gone).
void remove_control_file(const std::string& control_path);

/// Keeps a log under `cap` bytes without touching the writer: when it is larger, its newest
/// `cap` bytes are copied to PATH.1 (replacing an older one) and the log truncated; the writer
/// appends, so it carries on at the new end. Returns whether it rotated.
Result<bool> enforce_log_cap(const std::string& log_path, std::uint64_t cap);

/// The last `max_bytes` of a file (for run summaries); empty when unreadable.
std::string read_tail(const std::string& path, std::size_t max_bytes);

}  // namespace skedd
