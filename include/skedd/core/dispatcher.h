#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "skedd/core/job_spec.h"
#include "skedd/core/run.h"
#include "skedd/time/types.h"

namespace skedd {

/// Capacity shared by all jobs: `[daemon] max_concurrent_runs` and the `[pools]` table.
struct DispatchLimits {
  int max_concurrent_runs = 64;      ///< runs that may run at once, over all jobs and pools
  std::map<std::string, int> pools;  ///< pool name -> how many runs of the pool may run at once
  /// How many runs of one share (DispatchPolicy::share: one user's) may run at once; 0: no
  /// bound.
  int per_share = 0;
};

/// The part of a job's definition that decides when its fires may start. Passed with each
/// fire, so a reload takes effect from the next fire on.
struct DispatchPolicy {
  OverlapPolicy overlap = OverlapPolicy::kSkip;
  int priority = 0;  ///< higher starts first when the dispatcher is saturated
  std::string pool;  ///< empty: in no pool
  std::optional<Duration> starting_deadline;  ///< unset: a ready fire may wait forever
  /// The share of run slots the job's runs count against (a user's: [daemon]
  /// max_runs_per_user), bounded by DispatchLimits::per_share; 0: none (root's jobs).
  /// REQUIRES: the same for every fire of a job (a job given another owner is a new job).
  std::uint32_t share = 0;
};

/// What became of an offered fire.
enum class OfferOutcome : std::uint8_t {
  kReady,    ///< in the ready queue; take_startable() returns it when capacity allows
  kPending,  ///< the job's single pending fire, until the job's running runs have ended
  kSkipped,  ///< not run: the caller records it as skipped with NotRunReason::kOverlap
};

/// The answer to Dispatcher::offer().
struct OfferResult {
  OfferOutcome outcome = OfferOutcome::kReady;
  /// overlap = replace only: the job's running runs, which the caller must cancel; the new
  /// fire waits pending until they have all finished. A second replace fire lists the same
  /// runs again, so cancelling a run that is already being cancelled must be harmless.
  std::vector<RunId> to_cancel;
  /// overlap = replace only: older fires of the same job, not yet started, that the new fire
  /// replaced (its previous pending or ready fire). They will never start; the caller records
  /// each as skipped with NotRunReason::kOverlap.
  std::vector<Fire> displaced;
};

/// A ready fire that take_startable() removed without starting it.
struct Dropped {
  Fire fire;
  NotRunReason reason = NotRunReason::kStartingDeadline;
};

/// The dispatch policy of the scheduler: decides which due fires start, in which order, and
/// which are skipped or dropped, given the overlap policy of each job, the global bound and
/// the pool sizes. Pure: no I/O and no clock; the caller passes the time in and starts,
/// cancels and records runs itself. A plain value, owned by the scheduler's event loop.
///
/// Protocol: offer() each fire when it comes due; call take_startable() after each offer()
/// and finished(), start each returned fire and report it with started() (or, if spawning
/// fails, with finished() at once); report each run's end with finished().
class Dispatcher {
 public:
  /// A pool named by a policy but missing from `limits.pools` has size 1 (config validation
  /// rejects undefined pools, so this only guards against a caller's mistake).
  explicit Dispatcher(DispatchLimits limits);

  /// The dispatch policy of a job definition.
  static DispatchPolicy policy_of(const JobSpec& spec);

  /// New limits (a reload). Runs above a lowered bound keep running; no new start until the
  /// count is below it.
  void set_limits(DispatchLimits limits) { limits_ = std::move(limits); }

  /// A fire came due. By `policy.overlap`, while the job is busy (a run running, or a fire of
  /// it already ready):
  ///   allow:   always ready.
  ///   skip:    skipped while the job is busy or has a pending fire, else ready.
  ///   queue:   pending while busy (at most one; when the slot is taken the NEW fire is
  ///            skipped), else ready.
  ///   replace: replaces the job's not-yet-started fires (returned in `displaced`); pending
  ///            with `to_cancel` = the job's running runs while any run, else ready.
  /// The fire's own data (due, attempt, ...) is kept unchanged and returned when it starts.
  OfferResult offer(const Fire& fire, const DispatchPolicy& policy);

  /// Removes and returns, in start order, the ready fires that may start at `now`: while
  /// fewer than max_concurrent_runs run, each fire whose pool has a free slot (a fire whose
  /// pool is full is passed over, so fires behind it still start). Order: higher priority,
  /// then earlier `due`, then earlier offer. Each returned fire counts as running at once.
  /// First, every ready fire with `now - due > starting_deadline` is removed and appended to
  /// `*dropped` (if not null) with NotRunReason::kStartingDeadline.
  std::vector<Fire> take_startable(Instant now, std::vector<Dropped>* dropped);

  /// The caller started a fire of `job` returned by take_startable() as run `run`. Fires of
  /// one job are matched to runs in the order take_startable() returned them.
  /// REQUIRES: a fire of `job` was returned by take_startable() and not yet started or
  /// finished.
  void started(JobId job, RunId run);

  /// Counts a run that an earlier skedd started and this one adopted as running (global bound,
  /// its pool and share, its job's overlap policy) until finished().
  void adopt(JobId job, RunId run, const std::string& pool, std::uint32_t share = 0);

  /// Run `run` of `job` ended (or its spawn failed: then `run` need not have been passed to
  /// started(), and the job's oldest not-yet-started fire is released). Frees its global and
  /// pool slot; when the job then has no run left, its pending fire becomes ready. A run the
  /// dispatcher does not know is ignored.
  void finished(JobId job, RunId run);

  /// Runs counted as running: started, or returned by take_startable() and not yet started.
  int running() const;
  /// Runs of `pool` counted as running; 0 for an unknown pool.
  int running_in_pool(const std::string& pool) const;
  /// Runs of `share` counted as running.
  int running_in_share(std::uint32_t share) const;
  /// Fires in the ready queue (not counting pending fires).
  std::size_t ready_size() const;
  /// Fires in the ready queue by pool ("": in no pool); O(ready fires).
  std::map<std::string, std::size_t> ready_by_pool() const;
  /// True while `job` has a pending fire (overlap = queue or replace).
  bool has_pending(JobId job) const;
  /// Whether a fire of `job` offered now under overlap "skip" would be skipped: a run of it
  /// running or starting, or a fire of it ready or pending.
  bool busy(JobId job) const;
  /// Runs of `job` counted as running (see running()).
  int running_of(JobId job) const;
  /// The fire that waits, ready or pending, to become run `run`; nullptr when none does.
  /// O(waiting fires): for a control request, not the hot path.
  const Fire* waiting(RunId run) const;
  /// Takes the fire that waits, ready or pending, to become run `run` out of the dispatcher
  /// (it will not start); nullopt when none does. O(waiting fires), as waiting().
  std::optional<Fire> withdraw(RunId run);

 private:
  /// A ready queue position: higher priority, then earlier due, then earlier offer.
  struct StartKey {
    int priority = 0;
    Instant due{};
    std::uint64_t seq = 0;  ///< offer order; unique, so keys are unique
    bool operator<(const StartKey& other) const;
  };
  /// A fire waiting to start, with the policy it was offered under.
  struct Queued {
    Fire fire;
    DispatchPolicy policy;
    std::uint64_t seq = 0;
    StartKey key() const { return {policy.priority, fire.due, seq}; }
  };
  // Vectors, not node-based containers: a job seldom has more than one of each, and a reused
  // entry (see spare_) keeps their room, so that a run costs no allocation here.
  struct JobState {
    std::vector<std::pair<RunId, std::string>> running;  ///< started runs and their pools
    std::vector<std::string> starting;  ///< pools of taken fires not yet started, in order
    std::vector<StartKey> ready;        ///< this job's entries in ready_, in start order
    std::optional<Queued> pending;
    std::uint32_t share = 0;  ///< of its runs (see DispatchPolicy::share)
  };
  struct JobIdHash {
    std::size_t operator()(JobId job) const { return std::hash<std::uint32_t>()(job.value); }
  };
  using JobStates = std::unordered_map<JobId, JobState, JobIdHash>;
  using ReadyQueue = std::map<StartKey, Queued>;

  OfferResult offer_skip(JobState& job, Queued fire);
  OfferResult offer_queue(JobState& job, Queued fire);
  OfferResult offer_replace(JobState& job, Queued fire);
  void enqueue(JobState& job, Queued fire);
  Queued remove_ready(JobState& job, StartKey key);
  void drop_expired(Instant now, std::vector<Dropped>* dropped);
  Fire start(JobState& job, StartKey key);
  void release(JobId job, const std::string& pool);
  void settle(JobId job);
  bool pool_full(const std::string& pool) const;
  bool share_full(std::uint32_t share) const;

  static bool busy(const JobState& job);
  static int running_count(const JobState& job);

  DispatchLimits limits_;
  std::uint64_t next_seq_ = 0;
  int running_ = 0;
  std::map<std::string, int> pool_running_;               ///< only pools with running runs
  std::unordered_map<std::uint32_t, int> share_running_;  ///< only shares with running runs
  JobStates jobs_;                                        ///< only jobs with runs or waiting fires
  /// Entries of jobs_ that became idle, and nodes of ready_ that were taken, kept to be
  /// reused (at most kSpareNodes of each): a busy scheduler made and freed both for every run.
  static constexpr std::size_t kSpareNodes = 4096;
  std::vector<JobStates::node_type> spare_;
  std::vector<ReadyQueue::node_type> spare_ready_;
  /// The job's entry of jobs_, made (or a spare one reused) when it has none.
  JobState& state_of(JobId job);
  ReadyQueue ready_;
  /// Ready fires with a starting deadline, by (the last instant they may start, seq).
  std::map<std::pair<Instant, std::uint64_t>, StartKey> expiry_;
};

}  // namespace skedd
