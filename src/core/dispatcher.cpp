#include "skedd/core/dispatcher.h"

#include <algorithm>
#include <cassert>
#include <iterator>

// Invariants:
// - every entry of ready_ is in its job's JobState::ready, and in expiry_ iff its policy has a
//   starting deadline;
// - running_, pool_running_ and share_running_ count JobState::running plus
//   JobState::starting over all jobs (a job's runs all count against its JobState::share);
// - a job has a pending fire only while it is busy (see busy()): settle() promotes it as soon
//   as the job is not, so a pending fire never waits for nothing;
// - jobs_ holds only jobs with something in them: settle() erases idle entries, so the map
//   stays the size of the active set, not of every job ever seen;
// - a job's JobState::ready is sorted by StartKey, as ready_ is.

namespace skedd {
namespace {

// Removes the first element of a small vector (one that holds a job's fires or runs).
template <typename T>
void pop_front(std::vector<T>& v) {
  v.erase(v.begin());
}

// The last instant a fire may start; saturates instead of overflowing for huge deadlines.
Instant last_start(Instant due, Duration deadline) {
  if (deadline > Instant::max() - due) return Instant::max();
  return due + deadline;
}

}  // namespace

bool Dispatcher::StartKey::operator<(const StartKey& other) const {
  if (priority != other.priority) return priority > other.priority;
  if (due != other.due) return due < other.due;
  return seq < other.seq;
}

Dispatcher::Dispatcher(DispatchLimits limits) : limits_(std::move(limits)) {}

DispatchPolicy Dispatcher::policy_of(const JobSpec& spec) {
  return {spec.options->overlap, spec.options->priority, spec.options->pool,
          spec.options->starting_deadline, 0};
}

OfferResult Dispatcher::offer(const Fire& fire, const DispatchPolicy& policy) {
  JobState& job = state_of(fire.job);
  Queued queued{fire, policy, next_seq_++};
  OfferResult result;
  switch (policy.overlap) {
    case OverlapPolicy::kSkip:
      result = offer_skip(job, std::move(queued));
      break;
    case OverlapPolicy::kQueue:
      result = offer_queue(job, std::move(queued));
      break;
    case OverlapPolicy::kReplace:
      result = offer_replace(job, std::move(queued));
      break;
    case OverlapPolicy::kAllow:
      enqueue(job, std::move(queued));
      break;
  }
  return result;
}

OfferResult Dispatcher::offer_skip(JobState& job, Queued fire) {
  if (busy(job) || job.pending) return {OfferOutcome::kSkipped, {}, {}};
  enqueue(job, std::move(fire));
  return {OfferOutcome::kReady, {}, {}};
}

// A ready fire counts as busy too: otherwise two fires of a queue job could both be ready and
// start side by side when capacity frees up.
OfferResult Dispatcher::offer_queue(JobState& job, Queued fire) {
  if (job.pending) return {OfferOutcome::kSkipped, {}, {}};
  if (busy(job)) {
    job.pending = std::move(fire);
    return {OfferOutcome::kPending, {}, {}};
  }
  enqueue(job, std::move(fire));
  return {OfferOutcome::kReady, {}, {}};
}

// The newest fire wins: older fires that have not started are displaced, running runs are
// cancelled, and the new fire starts once they are gone.
OfferResult Dispatcher::offer_replace(JobState& job, Queued fire) {
  OfferResult result;
  if (job.pending) {
    result.displaced.push_back(job.pending->fire);
    job.pending.reset();
  }
  while (!job.ready.empty()) result.displaced.push_back(remove_ready(job, job.ready.front()).fire);
  if (running_count(job) == 0) {
    enqueue(job, std::move(fire));
    return result;
  }
  // Fires taken but not yet started have no RunId to cancel; the caller starts them at once,
  // and the new fire waits for them like for any running run.
  for (const auto& [run, pool] : job.running) result.to_cancel.push_back(run);
  std::sort(result.to_cancel.begin(), result.to_cancel.end());
  job.pending = std::move(fire);
  result.outcome = OfferOutcome::kPending;
  return result;
}

void Dispatcher::enqueue(JobState& job, Queued fire) {
  const StartKey key = fire.key();
  if (fire.policy.starting_deadline) {
    expiry_.emplace(std::pair{last_start(fire.fire.due, *fire.policy.starting_deadline), key.seq},
                    key);
  }
  job.ready.insert(std::upper_bound(job.ready.begin(), job.ready.end(), key), key);
  if (spare_ready_.empty()) {
    ready_.emplace(key, std::move(fire));
    return;
  }
  ReadyQueue::node_type node = std::move(spare_ready_.back());
  spare_ready_.pop_back();
  node.key() = key;
  node.mapped() = std::move(fire);
  ready_.insert(std::move(node));
}

// `key` by value: callers pass references into ready_ or JobState::ready, which this erases.
Dispatcher::Queued Dispatcher::remove_ready(JobState& job, StartKey key) {
  auto node = ready_.extract(key);
  assert(!node.empty());
  Queued fire = std::move(node.mapped());
  if (spare_ready_.size() < kSpareNodes) spare_ready_.push_back(std::move(node));
  const auto mine = std::lower_bound(job.ready.begin(), job.ready.end(), key);
  assert(mine != job.ready.end() && !(key < *mine));
  job.ready.erase(mine);
  if (fire.policy.starting_deadline) {
    expiry_.erase({last_start(fire.fire.due, *fire.policy.starting_deadline), key.seq});
  }
  return fire;
}

std::vector<Fire> Dispatcher::take_startable(Instant now, std::vector<Dropped>* dropped) {
  drop_expired(now, dropped);
  std::vector<Fire> out;
  // Passing over fires of full pools makes this linear in the worst case; the queue only
  // grows that long when most waiting fires share a few small pools.
  for (auto it = ready_.begin(); it != ready_.end() && running_ < limits_.max_concurrent_runs;) {
    const auto next = std::next(it);
    if (!pool_full(it->second.policy.pool) && !share_full(it->second.policy.share)) {
      out.push_back(start(jobs_.at(it->second.fire.job), it->first));
    }
    it = next;  // start() erased `it` only; `next` stays valid
  }
  return out;
}

void Dispatcher::drop_expired(Instant now, std::vector<Dropped>* dropped) {
  // settle() may promote a pending fire that is itself past its deadline; it lands in
  // expiry_ and this loop drops it too.
  while (!expiry_.empty() && expiry_.begin()->first.first < now) {
    const StartKey key = expiry_.begin()->second;
    const JobId job = ready_.at(key).fire.job;
    Queued fire = remove_ready(jobs_.at(job), key);
    if (dropped) dropped->push_back({fire.fire, NotRunReason::kStartingDeadline});
    settle(job);
  }
}

Fire Dispatcher::start(JobState& job, StartKey key) {
  Queued fire = remove_ready(job, key);
  ++running_;
  if (!fire.policy.pool.empty()) ++pool_running_[fire.policy.pool];
  job.share = fire.policy.share;
  if (job.share != 0) ++share_running_[job.share];
  job.starting.push_back(std::move(fire.policy.pool));
  return fire.fire;
}

void Dispatcher::started(JobId job, RunId run) {
  auto it = jobs_.find(job);
  assert(it != jobs_.end() && !it->second.starting.empty());
  if (it == jobs_.end() || it->second.starting.empty()) return;
  JobState& state = it->second;
  state.running.emplace_back(run, std::move(state.starting.front()));
  pop_front(state.starting);
}

void Dispatcher::adopt(JobId job, RunId run, const std::string& pool, std::uint32_t share) {
  JobState& state = state_of(job);
  state.running.emplace_back(run, pool);
  state.share = share;
  ++running_;
  if (!pool.empty()) ++pool_running_[pool];
  if (share != 0) ++share_running_[share];
}

void Dispatcher::finished(JobId job, RunId run) {
  auto it = jobs_.find(job);
  if (it == jobs_.end()) return;
  JobState& state = it->second;
  std::string pool;
  if (auto r = std::find_if(state.running.begin(), state.running.end(),
                            [&](const auto& entry) { return entry.first == run; });
      r != state.running.end()) {
    pool = std::move(r->second);
    state.running.erase(r);
  } else if (!state.starting.empty()) {
    pool = std::move(state.starting.front());
    pop_front(state.starting);
  } else {
    return;
  }
  release(job, pool);
}

void Dispatcher::release(JobId job, const std::string& pool) {
  --running_;
  if (!pool.empty() && --pool_running_[pool] == 0) pool_running_.erase(pool);
  if (const std::uint32_t share = jobs_.at(job).share; share != 0) {
    if (--share_running_[share] == 0) share_running_.erase(share);
  }
  settle(job);
}

void Dispatcher::settle(JobId job) {
  auto it = jobs_.find(job);
  if (it == jobs_.end()) return;
  JobState& state = it->second;
  if (state.pending && !busy(state)) {
    Queued fire = std::move(*state.pending);
    state.pending.reset();
    enqueue(state, std::move(fire));  // keeps its offer seq: it arrived before later fires
  }
  if (busy(state) || state.pending) return;
  // Kept for the next job that becomes active (its containers are empty, their room kept).
  if (spare_.size() < kSpareNodes) {
    spare_.push_back(jobs_.extract(it));
  } else {
    jobs_.erase(it);
  }
}

Dispatcher::JobState& Dispatcher::state_of(JobId job) {
  const auto it = jobs_.find(job);
  if (it != jobs_.end()) return it->second;
  if (spare_.empty()) return jobs_.emplace(job, JobState{}).first->second;
  auto node = std::move(spare_.back());
  spare_.pop_back();
  node.key() = job;  // an idle entry: empty, as a new one
  node.mapped().share = 0;
  return jobs_.insert(std::move(node)).position->second;
}

// A pool missing from the limits counts as size 1; config validation rejects such pools, so
// this only keeps a caller's mistake from starting an unbounded number of runs.
bool Dispatcher::pool_full(const std::string& pool) const {
  if (pool.empty()) return false;
  const auto size = limits_.pools.find(pool);
  return running_in_pool(pool) >= (size == limits_.pools.end() ? 1 : size->second);
}

bool Dispatcher::share_full(std::uint32_t share) const {
  return share != 0 && limits_.per_share > 0 && running_in_share(share) >= limits_.per_share;
}

int Dispatcher::running_in_share(std::uint32_t share) const {
  const auto it = share_running_.find(share);
  return it == share_running_.end() ? 0 : it->second;
}

bool Dispatcher::busy(const JobState& job) {
  return running_count(job) > 0 || !job.ready.empty();
}

int Dispatcher::running_count(const JobState& job) {
  return static_cast<int>(job.running.size() + job.starting.size());
}

int Dispatcher::running() const {
  return running_;
}

int Dispatcher::running_in_pool(const std::string& pool) const {
  const auto it = pool_running_.find(pool);
  return it == pool_running_.end() ? 0 : it->second;
}

std::size_t Dispatcher::ready_size() const {
  return ready_.size();
}

std::map<std::string, std::size_t> Dispatcher::ready_by_pool() const {
  std::map<std::string, std::size_t> by_pool;
  for (const auto& [key, queued] : ready_) ++by_pool[queued.policy.pool];
  return by_pool;
}

bool Dispatcher::busy(JobId job) const {
  const auto it = jobs_.find(job);
  return it != jobs_.end() && (busy(it->second) || it->second.pending.has_value());
}

const Fire* Dispatcher::waiting(RunId run) const {
  for (const auto& [key, queued] : ready_) {
    if (queued.fire.run == run) return &queued.fire;
  }
  for (const auto& [job, state] : jobs_) {
    if (state.pending && state.pending->fire.run == run) return &state.pending->fire;
  }
  return nullptr;
}

std::optional<Fire> Dispatcher::withdraw(RunId run) {
  for (const auto& [key, queued] : ready_) {
    if (queued.fire.run != run) continue;
    const JobId job = queued.fire.job;
    const StartKey at = key;  // remove_ready() frees the node `key` is in
    Fire fire = remove_ready(state_of(job), at).fire;
    settle(job);
    return fire;
  }
  for (auto& [job, state] : jobs_) {
    if (!state.pending || state.pending->fire.run != run) continue;
    const JobId id = job;  // settle() may give the entry `job` is in to spare_
    Fire fire = std::move(state.pending->fire);
    state.pending.reset();
    settle(id);
    return fire;
  }
  return std::nullopt;
}

bool Dispatcher::has_pending(JobId job) const {
  const auto it = jobs_.find(job);
  return it != jobs_.end() && it->second.pending.has_value();
}

int Dispatcher::running_of(JobId job) const {
  const auto it = jobs_.find(job);
  return it == jobs_.end() ? 0 : running_count(it->second);
}

}  // namespace skedd
