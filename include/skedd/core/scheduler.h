#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "skedd/core/job_spec.h"
#include "skedd/core/run.h"
#include "skedd/core/timer_queue.h"
#include "skedd/time/clock.h"
#include "skedd/util/random.h"

namespace skedd {

/// When each job fires next. Calendar schedules (cron, at) wait on the wall clock; `every`
/// waits on the monotonic clock (suspend included) and retries too. Pure: it reads time only
/// from the injected Clock and never waits; the daemon arms one timer per clock from
/// next_wall_deadline() / next_mono_deadline() and calls pop_due() when either expires.
///
/// Overdue fires of one job (after a suspend or a forward clock step) are folded into a single
/// fire, the latest one, whose `collapsed` counts the others: never a burst.
class Scheduler {
 public:
  /// `host` feeds the stable offset of `jitter_fixed` jobs. Clock and Random must outlive this.
  Scheduler(const Clock& clock, Random& random, std::string host);
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  /// Starts scheduling `spec` under `id` (the spec must outlive its registration). Fires are
  /// strictly after now; `every` counts from `anchor` (its last fire) or, without one, from now.
  /// An @reboot job fires once, now, the first time its id is added. A calendar job's fires
  /// are also strictly after `taken` (a fire of it already taken by pop_due()). Adding an id
  /// again replaces its schedule and keeps its pending retries.
  void add(JobId id, const JobSpec& spec, std::optional<Instant> anchor = std::nullopt,
           std::optional<Instant> taken = std::nullopt);
  /// Marks @reboot job `id` as already run in this boot (by an earlier skedd): add() will not
  /// fire it.
  void mark_reboot_done(JobId id) { reboot_fired_.insert(id.value); }
  /// Stops scheduling `id`, pending retries included. No effect for unknown ids.
  void remove(JobId id);
  /// Makes room for `count` job ids at once (a start adds them one by one).
  void reserve(std::size_t count) { jobs_.reserve(count); }

  /// Puts a further attempt of `fire` on the monotonic queue, due after `delay`.
  void schedule_retry(Fire fire, Duration delay);

  /// Every fire due by now + `lookahead`, of both clocks, ordered by (due, -priority,
  /// sequence). A lookahead lets the caller prepare fires (record them) before they are due.
  std::vector<Fire> pop_due(Duration lookahead = Duration::zero());

  std::optional<Instant> next_wall_deadline() const { return wall_.next_deadline(); }
  std::optional<MonoInstant> next_mono_deadline() const { return mono_.next_deadline(); }

  /// The wall clock was set (TFD_TIMER_CANCEL_ON_SET). A forward step needs nothing: the
  /// fires it passed are folded by pop_due(). A backward step of up to kMaxBackwardStep keeps
  /// each job's next fire, so no fire runs twice; a larger one is taken as a correction of a
  /// wrong clock and every calendar job is rescheduled from the new now (as cron does).
  void clock_changed();
  static constexpr Duration kMaxBackwardStep = std::chrono::hours(3);

  /// The next fire of `id` (its scheduled instant, before jitter), if it has one.
  std::optional<Instant> next_fire(JobId id) const;
  /// Takes the retry of `job`'s fire of instant `scheduled` out (it will not fire); nullopt
  /// when none waits. O(the job's retries waiting).
  std::optional<Fire> withdraw_retry(JobId job, Instant scheduled);
  /// The retry that is to become run `run`; nullptr when none is. O(retries waiting).
  const Fire* retry_of(RunId run) const;

  /// The random delay of one fire: uniform in [0, jitter), or for jitter_fixed a stable
  /// offset from the job name and host.
  Duration jitter_for(const JobSpec& spec);

 private:
  /// A job's place in the queues: what pop_due() makes its fire from. About 32 bytes a job,
  /// plus its queue entry and position (see TimerQueue): what a million jobs cost here.
  struct Scheduled {
    const JobSpec* spec = nullptr;  ///< null: no job has this id
    Instant next{};                 ///< scheduled instant of the queued fire
    Instant due{};                  ///< when the queued fire may start: next plus jitter
    Instant anchor{};               ///< `every`: wall instant of fire k = 0
  };
  /// A job's queued fire is its Scheduled entry; only retries carry a Fire (retry_fires_).
  struct NoPayload {};

  Scheduled* find(JobId id);
  const Scheduled* find(JobId id) const;
  Fire queued_fire(JobId id, const Scheduled& job) const { return Fire{id, job.next, job.due}; }
  void enqueue_next(JobId id, Scheduled& job, Instant after);
  void enqueue_every(JobId id, Scheduled& job, Instant now);
  Fire fold_overdue_calendar(JobId id, Scheduled& job, Instant now, Instant first);
  Fire fold_overdue_every(JobId id, Scheduled& job, Instant now);
  MonoInstant to_mono(Instant wall) const;

  // Job keys are job ids (dense, below 2^32); retry keys have the top bit set.
  static std::uint64_t job_key(JobId id) { return id.value; }
  static constexpr std::uint64_t kJobKeys = std::uint64_t{1} << 32;
  std::uint64_t retry_key() { return (std::uint64_t{1} << 63) | next_retry_++; }

  const Clock& clock_;
  Random& random_;
  std::string host_;
  std::vector<Scheduled> jobs_;  ///< by JobId
  std::set<std::uint32_t> reboot_fired_;
  std::map<std::uint32_t, std::set<std::uint64_t>> retries_;  ///< job -> its retry keys
  std::map<std::uint64_t, Fire> retry_fires_;                 ///< retry key -> its fire
  TimerQueue<Instant, NoPayload> wall_{kJobKeys};
  TimerQueue<MonoInstant, NoPayload> mono_{kJobKeys};
  std::uint64_t next_retry_ = 0;
  // For clock_changed(): the two clocks read together, to measure a wall-clock step.
  Instant last_wall_{};
  MonoInstant last_mono_{};
};

/// The delay before attempt `failed_attempt + 1` of a fire: retry_backoff doubled per failed
/// attempt, capped at retry_backoff_max, then "equal jitter" (half fixed, half random) so that
/// jobs failing together do not retry in lock step.
Duration retry_delay(const JobSpec& spec, int failed_attempt, Random& random);

}  // namespace skedd
