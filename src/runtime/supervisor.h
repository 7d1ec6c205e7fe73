// Runs' processes from spawn to reaping: files, control channel, timeouts, leftovers, cgroups.
// Decides nothing about scheduling; tells its owner how each run ended. Runs on the
// io_context's thread.
#pragma once

#include <sys/types.h>

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "exec/cgroup.h"
#include "exec/run_files.h"
#include "exec/run_setup.h"
#include "runtime/after_commit.h"
#include "runtime/run_outcome.h"
#include "skedd/core/job_spec.h"
#include "skedd/core/run.h"
#include "skedd/core/run_channel.h"
#include "skedd/core/timer_queue.h"
#include "skedd/exec/process_spawner.h"
#include "skedd/runtime/events.h"
#include "skedd/store/store.h"
#include "skedd/time/clock.h"
#include "util/asio.h"

#include <boost/asio/thread_pool.hpp>

namespace skedd {

struct SupervisorOptions {
  std::string state_dir;    ///< logs go to STATE/logs
  std::string runtime_dir;  ///< control FIFOs go to RUNTIME/runs
  Duration kill_grace = std::chrono::seconds(10);
  bool use_cgroups = true;
  std::string sendmail = "/usr/sbin/sendmail";  ///< for JobSpec::mail_to
};

struct PreparedRun;

class Supervisor {
 public:
  using OnFinished = std::function<void(const RunOutcome&)>;

  /// Throws std::system_error when /dev/null cannot be opened (start-up only). `on_finished`
  /// is called once per started run, when its main process has been reaped (or at once when
  /// it could not be spawned). Every run, its checkpoints and its end go to `store`.
  Supervisor(asio::io_context& io, const Clock& clock, ProcessSpawner& spawner, Store& store,
             Events events, SupervisorOptions options, OnFinished on_finished);
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  /// `started` is called when a run has started, which is always after start() returned (its
  /// files are made off the loop, its spawn answered later): its deadlines are new, the
  /// caller's timer must look again.
  void set_on_late_start(std::function<void()> started) { on_late_start_ = std::move(started); }
  /// `stalled` is called when a run is marked stalled (its state: kRunning, or kStalled when
  /// on_stall_kill ends it).
  void set_on_stall(OnFinished stalled) { on_stall_ = std::move(stalled); }
  /// Spawns attempt `fire` of `spec` as run `id`, handing it `checkpoint`. The run is already
  /// recorded (kScheduled, see Engine::pump); it is recorded again with its pid.
  void start(RunId id, JobId job, std::shared_ptr<const JobSpec> spec, const Fire& fire,
             std::string checkpoint);
  /// Takes over run `record` that an earlier skedd started and whose process still runs: its
  /// control channel is reopened by path, its exit watched through a pidfd (it is not our
  /// child, so its exit status is what it wrote as `exit <code>`, else unknown), its timeouts
  /// count from its recorded start. False when the process cannot be watched.
  bool adopt(const RunRecord& record, JobId job, std::shared_ptr<const JobSpec> spec);
  /// Sends the run's group its soft signal and SIGKILL after kill_grace; it ends as `as`.
  void cancel(RunId id, RunState as);
  /// Cancels every running run.
  void cancel_all();
  /// Stops a running run's processes (its cgroup frozen, else SIGSTOP to its group) until
  /// thaw(); its timeouts stand still meanwhile (frozen time does not count). False when `id`
  /// is not a running run or is frozen already.
  bool freeze(RunId id);
  /// Continues a frozen run; its timeouts count on from where they stood. False when `id`
  /// is not a frozen run.
  bool thaw(RunId id);
  /// Whether `id` is a frozen run.
  bool frozen(RunId id) const;
  /// For a child subreaper (the daemon), on SIGCHLD: reaps the exited children that are
  /// neither runs nor their helpers (the orphans of runs), so that their groups empty. Runs
  /// themselves are reaped through their pidfds, without SIGCHLD.
  void reap_orphans();
  /// Handles the supervision deadlines due by now (timeouts, grace kills, log checks).
  void on_deadlines();
  std::optional<MonoInstant> next_deadline() const { return deadlines_.next_deadline(); }

  /// The uid a run of `spec` runs as (its `user`, else the daemon's), which its record names
  /// as its owner; nullopt when its user does not exist (a run that cannot start is root's).
  std::optional<uid_t> owner_of(const JobSpec& spec) const;
  /// The path of run `id`'s control FIFO.
  std::string control_path(RunId id) const;
  /// The log path of run `id` of job `job` (it exists once a spawn was attempted).
  std::string log_path(const std::string& job, RunId id) const;
  /// Runs whose main process runs.
  std::size_t running() const { return run_by_pid_.size(); }
  /// Whether work of the supervisor's threads (run files, rotations, mails) is under way or its
  /// result not yet taken by the loop: a test that runs the loop until idle waits for it.
  bool off_loop_pending() const { return off_loop_pending_ != 0; }
  /// Running runs that are stalled now (see JobOptions::stall_timeout).
  int stalled_runs() const;
  /// Those of `job`; O(running runs).
  int stalled_of(JobId job) const;
  /// Whether `id` is a run this supervisor started or adopted and has not finished (a run
  /// whose main process has exited is finished, even while leftovers of its group are swept).
  bool has_run(RunId id) const;
  /// Hands `line` to the input of running run `id` through the spawner (a run host's): at
  /// most kInputLinesPerSecond a second (a burst of that many), else refused. not_found when it
  /// is not running.
  Status send_input(RunId id, const std::string& line);
  static constexpr int kInputLinesPerSecond = 20;
  /// True when no run and no leftover group is being watched.
  bool idle() const { return runs_.empty(); }
  void set_kill_grace(Duration grace) { options_.kill_grace = grace; }

 private:
  struct Run;
  enum class Deadline : std::uint8_t { kSoft, kHard, kGraceKill, kLogCheck, kSweep };
  static std::uint64_t deadline_key(RunId run, Deadline what) {
    return run.value * 8 + static_cast<std::uint64_t>(what);
  }
  /// The one supervisor-wide deadline: leftover groups and cgroups to look at again.
  static constexpr std::uint64_t kSweepKey = 0;
  struct Event {
    RunId run;
    Deadline what;
  };

  /// Makes the run's files and cgroup and asks the spawner for its process; spawned() is told
  /// the outcome (at once, or later: `run` may be gone when this returns).
  void spawn(Run& run);
  /// The spawn of run `id` answered: it runs from now on, or failed to start.
  void spawned(RunId id, Result<pid_t> pid);
  RunRecord record_of(const Run& run, RunState state) const;
  void watch_control(Run& run);
  /// Reads what the run's control channel holds into its line buffer.
  void read_control(Run& run);
  /// Handles buffered lines; after a checkpoint or an output it stops until the store has
  /// committed it, unless `to_end` (the run has ended: its final record follows anyway).
  void handle_lines(Run& run, bool to_end);
  void handle_control_line(Run& run, const std::string& line, bool to_end);
  /// Holds the run's next line until what it wrote last is committed.
  void read_on_when_committed(Run& run);
  /// The run's main process has exited (its status unknown when adopted).
  void on_exit(RunId id, const ProcessExit& exit);
  /// Has the spawner tell on_exit() of the run's exit; the run is running from then on.
  Status watch_exit(Run& run, bool adopted);
  /// Has a helper child (sendmail) reaped once it exits.
  Status watch_helper(pid_t pid);
  /// Drops leftover groups that have emptied and removes cgroups that can be; again after
  /// kSweepInterval while any remain.
  void sweep();
  void arm_sweep();
  /// `at`: when it ended, where that was before now (an exit kept while skedd was down).
  void ended(Run& run, const ProcessExit& exit);
  void finish(Run& run, RunState state, std::optional<int> exit_code, std::optional<int> signal,
              const std::string& message, std::optional<Instant> at = std::nullopt);
  void release_cgroup(const Run& run);
  /// Runs `work` on `thread` (files_ or run_files_), then `then(result)` on the loop's
  /// thread (unless the supervisor is gone by then).
  template <typename Work, typename Then>
  void off_loop(asio::thread_pool& thread, Work work, Then then);
  /// The second half of spawn(), on the loop once the run's files (and cgroup) are made.
  void spawn_prepared(RunId id, const UserInfo& user, const std::optional<Credentials>& credentials,
                      PreparedRun& prepared);
  /// Writes and logs the run's latest progress when a line of it waits (coalescing).
  void write_progress(Run& run);
  /// Keeps the run's log under its log_max_size, on the file thread.
  void check_log(Run& run);
  /// The run wrote something (a control line, output): not stalled (any more).
  void note_activity(Run& run);
  /// Once a second, after the log check has read the log's size: stalled when silent for its
  /// stall_timeout (frozen time does not count).
  void check_stall(Run& run);
  /// Mails the run's output (JobSpec::mail_to) without reading its log on the loop.
  void mail(const Run& run);
  void push_deadline(const Run& run, Deadline what, MonoInstant at);
  /// Arms the soft and hard timeouts not yet sent, counting frozen time out.
  void push_timeouts(const Run& run);
  void remove_deadline(const Run& run, Deadline what);
  void on_deadline(const Event& event);
  void signal_group(Run& run, int sig);

  asio::io_context& io_;
  const Clock& clock_;
  ProcessSpawner& spawner_;
  std::function<void()> on_late_start_;
  Store& store_;
  Events events_;
  SupervisorOptions options_;
  OnFinished on_finished_;
  OnFinished on_stall_;
  UserInfo self_;  ///< the daemon's own account, for jobs without `user`
  Cgroups cgroups_;
  int dev_null_ = -1;
  std::map<RunId, std::unique_ptr<Run>> runs_;
  std::map<pid_t, RunId> run_by_pid_;
  /// Process groups whose main process has exited but whose leftovers got the soft signal;
  /// SIGKILLed after kill_grace unless they empty first.
  std::map<std::uint64_t, pid_t> leftover_groups_;
  std::set<std::uint64_t> cgroups_to_remove_;  ///< runs whose cgroup still had processes
  /// Helper children (sendmail) watched until reaped.
  std::set<pid_t> helpers_;
  TimerQueue<MonoInstant, Event> deadlines_;
  /// Expires with the supervisor, so that file work posted back later is dropped.
  std::shared_ptr<const int> alive_ = std::make_shared<const int>(0);
  /// Closed with the supervisor, so that commit notices heard later are dropped.
  CommitGate commit_gate_{io_};
  /// Work posted by off_loop() whose result the loop has not taken yet.
  std::size_t off_loop_pending_ = 0;
  /// Blocking file work kept off the loop (log rotations, composing mails); joined by the
  /// destructor.
  asio::thread_pool files_{1};
  /// Where runs' files and cgroups are made, apart from files_ so that a rotation or a mail
  /// never holds up a start; joined by the destructor. On ext4 after many deletions, creating
  /// a file takes 0.3 ms, which the loop would wait for at each start (bench_runs: half of the
  /// loop's time in 20,000 starts).
  asio::thread_pool run_files_{1};
};

}  // namespace skedd
