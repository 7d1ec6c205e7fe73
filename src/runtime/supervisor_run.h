// What the supervisor keeps of one run, shared by its files (supervisor.cpp: spawn, exit and
// deadlines; supervisor_channel.cpp: the run's fd 3; supervisor_files.cpp: logs and mail).
#pragma once

#include <array>
#include <memory>
#include <optional>

#include "runtime/started_run.h"
#include "runtime/supervisor.h"

namespace skedd {

// How often a running run's log is checked against log_max_size.
inline constexpr Duration kLogCheckInterval = std::chrono::seconds(1);
// How much of a run's output its record keeps.
inline constexpr std::size_t kOutputTail = 4096;
// How much of a run's control channel is read per wakeup: a run that writes without pause
// gets its turn and then waits for the loop's other work (other runs, the socket, timers).
inline constexpr std::size_t kControlBytesPerWakeup = 64 * 1024;
// A run's progress lines are written to the store and logged at most this often (the
// latest wins; the one left over is written with the next log check, or with the run's end).
inline constexpr Duration kProgressInterval = std::chrono::milliseconds(500);

struct Supervisor::Run : StartedRun {
  pid_t pid = -1;
  /// Its spawn is under way (asked of the spawner, not yet answered): no pid yet.
  bool spawning = false;
  MonoInstant started_mono{};
  RunFiles files;
  std::unique_ptr<asio::posix::stream_descriptor> control;
  std::array<char, 4096> read_buffer{};
  LineSplitter lines;
  bool awaiting_commit = false;  ///< of a checkpoint or output: its next line waits
  OutputBudget outputs;          ///< what its outputs take of kMaxOutputBytes
  std::optional<double> progress;
  std::string progress_message;
  MonoInstant progress_written{};   ///< when progress was last written and logged
  bool progress_unwritten = false;  ///< a later progress line waits for the next write
  bool log_check_running = false;   ///< a log check of it is on the file thread
  bool soft_timeout_sent = false;
  bool hard_timeout_sent = false;
  std::optional<RunState> cancelled_as;  ///< kCancelled (stop, replace) when we ended it
  std::optional<int> reported_exit;      ///< from an `exit <code>` line
  std::optional<MonoInstant> grace_end;  ///< when a cancelled run's group gets SIGKILL
  bool has_cgroup = false;
  std::optional<std::uint64_t> pid_start;
  /// send_input()'s bucket: lines it may take now, as of `input_filled`.
  double input_tokens = 20;
  MonoInstant input_filled{};
  Duration frozen{0};                       ///< time spent frozen, up to frozen_since
  std::optional<MonoInstant> frozen_since;  ///< while frozen
  bool frozen_by_cgroup = false;
  std::optional<uid_t> owner;  ///< the uid it runs as, recorded with it (RunRecord::owner)
  /// Adopted from an earlier skedd: not our child, so its exit status is unknown.
  bool adopted = false;
  // Stall detection (stall_timeout): when it last wrote a control line or output, the log's
  // size as last seen, whether it is stalled now, and whether skedd ended it for that.
  MonoInstant last_activity{};
  std::uint64_t log_size_seen = 0;
  bool stalled = false;
  bool stall_killed = false;
};

/// A run's files and cgroup, made off the loop.
struct PreparedRun {
  RunFiles files;
  std::optional<Result<UniqueFd>> cgroup_procs;  ///< none: cgroups are off
};

template <typename Work, typename Then>
void Supervisor::off_loop(asio::thread_pool& thread, Work work, Then then) {
  // The result goes back through a shared_ptr: asio handlers must be copyable, a Result of a
  // descriptor is not. Dropped when the supervisor has gone meanwhile.
  // The loop counts the work as its own until the result is back (a loop run until it has no
  // work left waits for it).
  ++off_loop_pending_;
  auto loop = asio::prefer(io_.get_executor(), asio::execution::outstanding_work.tracked);
  asio::post(thread, [this, alive = std::weak_ptr<const int>(alive_), loop, work = std::move(work),
                      then = std::move(then)]() mutable {
    auto result = std::make_shared<decltype(work())>(work());
    asio::post(loop, [this, alive, result, then = std::move(then)]() mutable {
      if (!alive.lock()) return;
      --off_loop_pending_;
      then(*result);
    });
  });
}

}  // namespace skedd
