// Runs of in-process handlers, from start to return: a bounded thread pool, cancellation at
// the soft timeout, accounting at the hard timeout, stall detection (stall_timeout). Decides
// nothing about scheduling; tells its owner how each run ended, as the Supervisor does for
// processes. Its interface runs on the io_context's thread; handlers run on the pool's.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <vector>

#include "runtime/run_outcome.h"
#include "skedd/core/timer_queue.h"
#include "skedd/embed/handler.h"
#include "skedd/runtime/events.h"
#include "skedd/store/store.h"
#include "skedd/time/clock.h"
#include "util/asio.h"

#include <boost/asio/thread_pool.hpp>

namespace skedd {

class HandlerRunner {
 public:
  using OnFinished = std::function<void(const RunOutcome&)>;

  /// `threads` > 0. `handlers` (may be null: none) and `store` must outlive the runner.
  /// `on_finished` is called on the loop's thread once per started run, when its handler has
  /// returned (or at once when it cannot start).
  HandlerRunner(asio::io_context& io, const Clock& clock, Store& store, Events events,
                const HandlerRegistry* handlers, int threads, OnFinished on_finished);
  /// Requests every run to stop and waits for the handlers to return.
  ~HandlerRunner();
  HandlerRunner(const HandlerRunner&) = delete;
  HandlerRunner& operator=(const HandlerRunner&) = delete;

  /// Starts attempt `fire` of handler job `spec` as run `id` on the pool.
  void start(RunId id, JobId job, std::shared_ptr<const JobSpec> spec, const Fire& fire,
             std::string checkpoint);
  /// Requests the run to stop; when its handler returns, the run ends as `as`.
  void cancel(RunId id, RunState as);
  /// Queues `line` for run `id`'s RunContext::next_input(); not_found when it is not running.
  Status send_input(RunId id, const std::string& line);
  /// Requests every run to stop (shutdown). Runs that then return are not recorded as ended:
  /// the next start finds them running with no process and resumes them per on_interrupt.
  void stop_all();
  /// Requests every run to stop; each ends as `as` when its handler returns.
  void cancel_all(RunState as);
  bool has_run(RunId id) const { return runs_.contains(id); }
  /// Running run `id` as its record would say now; nullopt when it is not running.
  std::optional<RunRecord> record_of(RunId id) const;
  /// Runs whose handler has not returned (hard-timed-out ones included).
  std::size_t running() const { return runs_.size(); }
  bool idle() const { return runs_.empty(); }
  /// `stalled` is called on the loop's thread when a run is marked stalled (its state:
  /// kRunning, or kStalled when on_stall_kill ends it).
  void set_on_stall(OnFinished stalled) { on_stall_ = std::move(stalled); }
  /// Running runs that are stalled now (see JobOptions::stall_timeout), and those of `job`.
  int stalled_runs() const;
  int stalled_of(JobId job) const;
  /// Handles the soft and hard timeouts and the stall checks due by now.
  void on_deadlines();
  /// The first timeout to come, for the owner's timer (re-read after start()).
  std::optional<MonoInstant> next_deadline() const { return deadlines_.next_deadline(); }
  /// Whether the calling thread is one of the pool's (any thread may ask).
  bool on_pool_thread() const { return pool_.get_executor().running_in_this_thread(); }

 private:
  struct Run;
  class RunSink;
  /// What a handler's thread hands back when it returns.
  struct Returned {
    RunId id;
    bool threw = false;
    std::string message;
    std::string checkpoint;
  };
  /// A run handed to the pool: what its thread needs to call the handler.
  struct Task {
    RunId id;
    const Handler* handler;
    RunContext::Info info;
    std::stop_token stop;
    std::shared_ptr<RunSink> sink;
  };

  /// Hands the runs started since the last call to the pool (posted once per batch, so that
  /// a burst of starts wakes each pool thread once, not once per run).
  void hand_over();
  /// A pool thread's work: runs queued tasks until none is left.
  void drain();
  /// The loop's side of drain(): the returns gathered since the last call.
  void collect();
  void on_soft_timeout(RunId id);
  void on_hard_timeout(RunId id);
  /// Whether run `id` was silent (no heartbeat, progress or checkpoint) for its stall_timeout;
  /// marks it stalled, or active again, and pushes its next check.
  void on_stall_check(RunId id);
  /// Records `run` ended as `state` before its handler returned (a thread cannot be killed):
  /// its slot stays held until then; `why` begins the message of its final row.
  void record_over(Run& run, RunState state, std::string why);
  /// A run's handler returned: ends the run (end_returned()) and keeps its node for reuse.
  void on_returned(Returned returned);
  void end_returned(Run& run, Returned returned);
  /// Records `run`'s final row, unless a checkpoint on the handler's thread is writing.
  void record_end(Run& run, RunRecord record);

  /// The deadlines of running runs, keyed id*3 + kind: the soft and hard timeouts, and the
  /// next look at whether the run is stalled.
  enum class Deadline { kSoft = 0, kHard = 1, kStall = 2 };
  struct Timeout {
    RunId run;
    Deadline kind = Deadline::kSoft;
  };
  static std::uint64_t timeout_key(RunId run, Deadline kind) {
    return run.value * 3 + static_cast<std::uint64_t>(kind);
  }
  void push_deadline(RunId run, Deadline kind, MonoInstant at) {
    deadlines_.push(timeout_key(run, kind), at, 0, Timeout{run, kind});
  }
  TimerQueue<MonoInstant, Timeout> deadlines_;

  asio::io_context& io_;
  const Clock& clock_;
  Store& store_;
  Events events_;
  const HandlerRegistry* handlers_;
  OnFinished on_finished_;
  OnFinished on_stall_;
  using Runs = std::map<RunId, std::unique_ptr<Run>>;
  Runs runs_;
  /// Nodes of runs_ whose run ended, each with its Run, kept for the next starts: a busy
  /// runner then allocates neither per run.
  std::vector<Runs::node_type> spare_;
  bool stopping_ = false;
  const int threads_;
  std::vector<Task> to_hand_over_;  ///< started on the loop, not yet queued for the pool

  std::mutex mu_;             // guards the three below, shared by the loop and the pool
  std::vector<Task> queued_;  ///< waiting for a pool thread, from queued_head_ on
  std::size_t queued_head_ = 0;
  int draining_ = 0;                ///< pool threads in drain()
  std::vector<Returned> returned_;  ///< handlers returned, not yet collected by the loop

  /// Expires with the runner, so that returns posted later are dropped.
  std::shared_ptr<const int> alive_ = std::make_shared<const int>(0);
  mutable asio::thread_pool pool_;  // mutable: asking for its executor is not a change
};

}  // namespace skedd
