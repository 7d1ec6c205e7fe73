#include "skedd/core/scheduler.h"

#include <algorithm>

namespace skedd {
namespace {

// Folding overdue calendar fires steps through them one by one (a cron schedule cannot be
// counted in closed form); past this many the remainder is skipped with one next_after(now).
constexpr std::uint64_t kMaxFoldSteps = 1'000'000;

}  // namespace

Scheduler::Scheduler(const Clock& clock, Random& random, std::string host)
    : clock_(clock),
      random_(random),
      host_(std::move(host)),
      last_wall_(clock.wall_now()),
      last_mono_(clock.mono_now()) {}

void Scheduler::add(JobId id, const JobSpec& spec, std::optional<Instant> anchor,
                    std::optional<Instant> taken) {
  // A changed definition (a reload) replaces the job's next fire; its retries are attempts of
  // fires already taken, and stay due.
  wall_.remove(job_key(id));
  mono_.remove(job_key(id));
  if (id.value >= jobs_.size()) jobs_.resize(id.value + 1);
  const Instant now = clock_.wall_now();
  Scheduled& job = jobs_[id.value];
  job = Scheduled{&spec, {}, {}, anchor.value_or(now)};
  if (spec.schedule->is_reboot()) {
    if (!reboot_fired_.insert(id.value).second) return;
    job.next = now;
    job.due = now;
    mono_.push(job_key(id), clock_.mono_now(), spec.options->priority, {});
  } else if (spec.schedule->is_every()) {
    enqueue_every(id, job, now);
  } else {
    enqueue_next(id, job, taken ? std::max(now, *taken) : now);
  }
}

void Scheduler::remove(JobId id) {
  wall_.remove(job_key(id));
  mono_.remove(job_key(id));
  if (id.value < jobs_.size()) jobs_[id.value] = Scheduled{};
  if (auto it = retries_.find(id.value); it != retries_.end()) {
    for (std::uint64_t key : it->second) {
      mono_.remove(key);
      retry_fires_.erase(key);
    }
    retries_.erase(it);
  }
}

Scheduler::Scheduled* Scheduler::find(JobId id) {
  if (id.value >= jobs_.size() || jobs_[id.value].spec == nullptr) return nullptr;
  return &jobs_[id.value];
}

const Scheduler::Scheduled* Scheduler::find(JobId id) const {
  if (id.value >= jobs_.size() || jobs_[id.value].spec == nullptr) return nullptr;
  return &jobs_[id.value];
}

std::optional<Fire> Scheduler::withdraw_retry(JobId job, Instant scheduled) {
  const auto it = retries_.find(job.value);
  if (it == retries_.end()) return std::nullopt;
  for (const std::uint64_t key : it->second) {
    const auto f = retry_fires_.find(key);
    if (f == retry_fires_.end() || f->second.scheduled != scheduled) continue;
    Fire fire = std::move(f->second);
    retry_fires_.erase(f);
    mono_.remove(key);
    it->second.erase(key);
    if (it->second.empty()) retries_.erase(it);
    return fire;
  }
  return std::nullopt;
}

const Fire* Scheduler::retry_of(RunId run) const {
  for (const auto& [key, fire] : retry_fires_) {
    if (fire.run == run) return &fire;
  }
  return nullptr;
}

void Scheduler::schedule_retry(Fire fire, Duration delay) {
  const Scheduled* job = find(fire.job);
  const int priority = job == nullptr ? 0 : job->spec->options->priority;
  fire.due = clock_.wall_now() + delay;
  const std::uint64_t key = retry_key();
  retries_[fire.job.value].insert(key);
  retry_fires_.emplace(key, fire);
  mono_.push(key, clock_.mono_now() + delay, priority, {});
}

void Scheduler::enqueue_next(JobId id, Scheduled& job, Instant after) {
  const auto next = job.spec->schedule->next_after(after, job.anchor);
  if (!next) return;
  job.next = next->at;
  job.due = next->at + jitter_for(*job.spec);
  wall_.push(job_key(id), job.due, job.spec->options->priority, {});
}

void Scheduler::enqueue_every(JobId id, Scheduled& job, Instant now) {
  const Duration interval = std::get<EverySchedule>(job.spec->schedule->kind).interval;
  const auto k = now < job.anchor ? 0 : (now - job.anchor) / interval + 1;
  job.next = job.anchor + k * interval;
  job.due = job.next + jitter_for(*job.spec);
  mono_.push(job_key(id), to_mono(job.due), job.spec->options->priority, {});
}

MonoInstant Scheduler::to_mono(Instant wall) const {
  return clock_.mono_now() + (wall - clock_.wall_now());
}

Fire Scheduler::fold_overdue_calendar(JobId id, Scheduled& job, Instant now, Instant first) {
  Fire fire{id, first, first};
  std::uint64_t steps = 0;
  for (auto next = job.spec->schedule->next_after(fire.scheduled, job.anchor);
       next && next->at <= now; next = job.spec->schedule->next_after(fire.scheduled, job.anchor)) {
    if (fire.collapsed++ == 0) fire.first_collapsed = fire.scheduled;
    fire.last_collapsed = fire.scheduled;
    fire.scheduled = next->at;
    if (++steps == kMaxFoldSteps) break;
  }
  fire.due = fire.scheduled;
  enqueue_next(id, job, std::max(fire.scheduled, steps == kMaxFoldSteps ? now : fire.scheduled));
  return fire;
}

Fire Scheduler::fold_overdue_every(JobId id, Scheduled& job, Instant now) {
  const Duration interval = std::get<EverySchedule>(job.spec->schedule->kind).interval;
  Fire fire{id, job.next, job.next};
  // `now` is wall time as the monotonic clock sees it: the queued fire's wall instant plus the
  // monotonic time that passed since it was due, so a wall-clock step does not count.
  const auto overdue = (now - job.next) / interval;
  if (overdue > 0) {
    fire.collapsed = static_cast<std::uint64_t>(overdue);
    fire.first_collapsed = job.next;
    fire.last_collapsed = job.next + (overdue - 1) * interval;
    fire.scheduled = job.next + overdue * interval;
    fire.due = fire.scheduled;
  }
  job.next = fire.scheduled + interval;
  job.due = job.next + jitter_for(*job.spec);
  mono_.push(job_key(id), clock_.mono_now() + (job.due - now), job.spec->options->priority, {});
  return fire;
}

std::vector<Fire> Scheduler::pop_due(Duration lookahead) {
  const Instant wall_now = clock_.wall_now();
  const MonoInstant mono_now = clock_.mono_now();
  last_wall_ = wall_now;
  last_mono_ = mono_now;

  struct Due {
    Fire fire;
    int priority;
  };
  std::vector<Due> due;
  for (auto& entry : wall_.pop_due(wall_now + lookahead)) {
    const JobId id{static_cast<std::uint32_t>(entry.key)};
    Scheduled& job = jobs_.at(id.value);
    const Fire queued = queued_fire(id, job);
    Fire fire = fold_overdue_calendar(id, job, wall_now, queued.scheduled);
    if (fire.collapsed == 0) fire.due = queued.due;
    due.push_back({fire, entry.priority});
  }
  for (auto& entry : mono_.pop_due(mono_now + lookahead)) {
    if (entry.key >= kJobKeys) {
      auto taken = retry_fires_.extract(entry.key);
      const Fire fire = taken.mapped();
      if (auto it = retries_.find(fire.job.value); it != retries_.end()) {
        it->second.erase(entry.key);
        if (it->second.empty()) retries_.erase(it);
      }
      due.push_back({fire, entry.priority});
      continue;
    }
    const JobId id{static_cast<std::uint32_t>(entry.key)};
    Scheduled& job = jobs_.at(id.value);
    const Fire queued = queued_fire(id, job);
    Fire fire = queued;
    if (job.spec->schedule->is_every()) {
      // The fire's own wall instant, advanced by how late the monotonic clock says it is.
      const Instant seen_now = queued.due + (mono_now - entry.due);
      fire = fold_overdue_every(id, job, seen_now);
      if (fire.collapsed == 0) fire.due = queued.due;
    }
    due.push_back({fire, entry.priority});
  }
  std::stable_sort(due.begin(), due.end(), [](const Due& a, const Due& b) {
    if (a.fire.due != b.fire.due) return a.fire.due < b.fire.due;
    return a.priority > b.priority;
  });
  std::vector<Fire> fires;
  fires.reserve(due.size());
  for (const Due& d : due) fires.push_back(d.fire);
  return fires;
}

void Scheduler::clock_changed() {
  const Instant wall_now = clock_.wall_now();
  const MonoInstant mono_now = clock_.mono_now();
  const Instant expected = last_wall_ + (mono_now - last_mono_);
  last_wall_ = wall_now;
  last_mono_ = mono_now;
  if (wall_now - expected >= -kMaxBackwardStep) return;
  for (std::uint32_t raw_id = 0; raw_id < jobs_.size(); ++raw_id) {
    const JobId id{raw_id};
    if (!wall_.contains(job_key(id))) continue;
    enqueue_next(id, jobs_[raw_id], wall_now);
  }
}

std::optional<Instant> Scheduler::next_fire(JobId id) const {
  const Scheduled* job = find(id);
  if (job == nullptr) return std::nullopt;
  if (!wall_.contains(job_key(id)) && !mono_.contains(job_key(id))) return std::nullopt;
  return job->next;
}

Duration Scheduler::jitter_for(const JobSpec& spec) {
  const auto range = static_cast<std::uint64_t>(spec.options->jitter.count());
  if (range == 0) return Duration{0};
  if (spec.options->jitter_fixed) return Duration(stable_hash(spec.name + "@" + host_) % range);
  return Duration(random_.below(range));
}

Duration retry_delay(const JobSpec& spec, int failed_attempt, Random& random) {
  Duration base = spec.options->retry_backoff;
  for (int i = 1; i < failed_attempt && base < spec.options->retry_backoff_max; ++i) base *= 2;
  base = std::min(base, spec.options->retry_backoff_max);
  const Duration half = base / 2;
  return half + Duration(random.below(static_cast<std::uint64_t>((base - half).count()) + 1));
}

}  // namespace skedd
