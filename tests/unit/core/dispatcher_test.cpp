#include "skedd/core/dispatcher.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using skedd::Dispatcher;
using skedd::DispatchLimits;
using skedd::DispatchPolicy;
using skedd::Dropped;
using skedd::Fire;
using skedd::JobId;
using skedd::NotRunReason;
using skedd::OfferOutcome;
using skedd::OverlapPolicy;
using skedd::RunId;

namespace {

const skedd::Instant kT0 = std::chrono::sys_days{std::chrono::year{2026} / 1 / 1};

Fire fire(std::uint32_t job, skedd::Duration due_after_t0) {
  Fire f;
  f.job = JobId{job};
  f.scheduled = kT0 + due_after_t0;
  f.due = f.scheduled;
  return f;
}

DispatchPolicy policy(OverlapPolicy overlap, int priority = 0, std::string pool = {}) {
  return {overlap, priority, std::move(pool), std::nullopt};
}

DispatchPolicy allow(int priority = 0, std::string pool = {}) {
  return policy(OverlapPolicy::kAllow, priority, std::move(pool));
}

/// "job@seconds after t0" for each fire, so one CHECK shows both who and which fire.
std::vector<std::string> names(const std::vector<Fire>& fires) {
  std::vector<std::string> out;
  for (const Fire& f : fires) {
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(f.due - kT0).count();
    out.push_back(std::to_string(f.job.value) + "@" + std::to_string(secs));
  }
  return out;
}

using Names = std::vector<std::string>;

std::vector<std::uint64_t> run_ids(const std::vector<RunId>& runs) {
  std::vector<std::uint64_t> out;
  for (RunId r : runs) out.push_back(r.value);
  return out;
}

/// Takes what may start at `now` and reports each as started with run id 100 + job id.
Names take_and_start(Dispatcher& d, skedd::Instant now = kT0) {
  auto fires = d.take_startable(now, nullptr);
  for (const Fire& f : fires) d.started(f.job, RunId{100 + f.job.value});
  return names(fires);
}

}  // namespace

TEST_CASE("ready fires start by priority, then due, then arrival", "[dispatcher]") {
  Dispatcher d(DispatchLimits{10, {}});
  CHECK(d.offer(fire(1, 2s), allow(0)).outcome == OfferOutcome::kReady);
  CHECK(d.offer(fire(2, 1s), allow(0)).outcome == OfferOutcome::kReady);
  CHECK(d.offer(fire(3, 3s), allow(5)).outcome == OfferOutcome::kReady);
  CHECK(d.offer(fire(4, 1s), allow(0)).outcome == OfferOutcome::kReady);  // ties job 2, later
  CHECK(d.offer(fire(5, 0s), allow(-1)).outcome == OfferOutcome::kReady);
  CHECK(d.ready_size() == 5);

  CHECK(take_and_start(d) == Names{"3@3", "2@1", "4@1", "1@2", "5@0"});
  CHECK(d.running() == 5);
  CHECK(d.ready_size() == 0);
}

TEST_CASE("saturation: a third fire waits until a run finishes", "[dispatcher]") {
  Dispatcher d(DispatchLimits{2, {}});
  d.offer(fire(1, 0s), allow());
  d.offer(fire(2, 1s), allow());
  d.offer(fire(3, 2s), allow());

  CHECK(take_and_start(d) == Names{"1@0", "2@1"});
  CHECK(d.running() == 2);
  CHECK(d.ready_size() == 1);
  CHECK(take_and_start(d) == Names{});

  d.finished(JobId{1}, RunId{101});
  CHECK(d.running() == 1);
  CHECK(d.running_of(JobId{1}) == 0);
  CHECK(take_and_start(d) == Names{"3@2"});
  CHECK(d.running() == 2);
  CHECK(d.running_of(JobId{3}) == 1);
  CHECK(d.ready_size() == 0);
}

TEST_CASE("a full pool does not block fires behind it", "[dispatcher]") {
  Dispatcher d(DispatchLimits{4, {{"disk", 1}}});
  d.offer(fire(1, 0s), allow(9, "disk"));
  d.offer(fire(2, 0s), allow(8, "disk"));
  d.offer(fire(3, 0s), allow(0));
  // "net" is missing from the limits: size 1.
  d.offer(fire(4, 0s), allow(0, "net"));
  d.offer(fire(5, 0s), allow(0, "net"));

  CHECK(take_and_start(d) == Names{"1@0", "3@0", "4@0"});
  CHECK(d.running() == 3);
  CHECK(d.running_in_pool("disk") == 1);
  CHECK(d.running_in_pool("net") == 1);
  CHECK(d.running_in_pool("nope") == 0);
  CHECK(d.ready_size() == 2);

  d.finished(JobId{1}, RunId{101});
  CHECK(d.running_in_pool("disk") == 0);
  CHECK(take_and_start(d) == Names{"2@0"});
  CHECK(d.running_in_pool("disk") == 1);

  d.finished(JobId{4}, RunId{104});
  CHECK(take_and_start(d) == Names{"5@0"});
  CHECK(d.running() == 3);
  CHECK(d.running_in_pool("net") == 1);
  CHECK(d.ready_size() == 0);
}

TEST_CASE("overlap skip: skipped while ready or running, ready again once idle", "[dispatcher]") {
  Dispatcher d(DispatchLimits{10, {}});
  const auto skip = policy(OverlapPolicy::kSkip);
  CHECK(d.offer(fire(1, 0s), skip).outcome == OfferOutcome::kReady);
  CHECK(d.offer(fire(1, 1s), skip).outcome == OfferOutcome::kSkipped);  // first still ready
  CHECK(take_and_start(d) == Names{"1@0"});
  CHECK(d.offer(fire(1, 2s), skip).outcome == OfferOutcome::kSkipped);  // running
  CHECK_FALSE(d.has_pending(JobId{1}));
  CHECK(d.ready_size() == 0);

  d.finished(JobId{1}, RunId{101});
  CHECK(d.running_of(JobId{1}) == 0);
  CHECK(d.offer(fire(1, 3s), skip).outcome == OfferOutcome::kReady);
  CHECK(take_and_start(d) == Names{"1@3"});
}

TEST_CASE("a job that became idle starts afresh, its state reused by other jobs", "[dispatcher]") {
  // More jobs than spare states are kept: some entries are reused, the rest made anew.
  Dispatcher d(DispatchLimits{1000, {}});
  const auto queue = policy(OverlapPolicy::kQueue);
  for (int round = 0; round < 3; ++round) {
    for (std::uint32_t job = 0; job < 400; ++job) {
      const auto when = std::chrono::seconds(round * 10);
      REQUIRE(d.offer(fire(job, when), queue).outcome == OfferOutcome::kReady);
      REQUIRE(d.offer(fire(job, when + 1s), queue).outcome == OfferOutcome::kPending);
    }
    REQUIRE(take_and_start(d).size() == 400);
    for (std::uint32_t job = 0; job < 400; ++job) {
      CHECK(d.has_pending(JobId{job}));
      d.finished(JobId{job}, RunId{100 + job});  // its pending fire becomes ready
    }
    REQUIRE(take_and_start(d).size() == 400);
    for (std::uint32_t job = 0; job < 400; ++job) d.finished(JobId{job}, RunId{100 + job});
    CHECK(d.running() == 0);
    CHECK(d.ready_size() == 0);
    for (std::uint32_t job = 0; job < 400; ++job) {
      CHECK_FALSE(d.has_pending(JobId{job}));
      CHECK(d.running_of(JobId{job}) == 0);
    }
  }
}

TEST_CASE("overlap queue: one pending fire, the next one skipped", "[dispatcher]") {
  Dispatcher d(DispatchLimits{10, {}});
  const auto queue = policy(OverlapPolicy::kQueue);
  CHECK(d.offer(fire(1, 0s), queue).outcome == OfferOutcome::kReady);
  CHECK(take_and_start(d) == Names{"1@0"});

  const auto second = d.offer(fire(1, 60s), queue);
  CHECK(second.outcome == OfferOutcome::kPending);
  CHECK(second.to_cancel.empty());
  CHECK(second.displaced.empty());
  CHECK(d.has_pending(JobId{1}));
  CHECK(d.offer(fire(1, 120s), queue).outcome == OfferOutcome::kSkipped);  // the new one
  CHECK(d.ready_size() == 0);
  CHECK(take_and_start(d) == Names{});

  d.finished(JobId{1}, RunId{101});
  CHECK_FALSE(d.has_pending(JobId{1}));
  CHECK(d.ready_size() == 1);
  CHECK(take_and_start(d) == Names{"1@60"});
  CHECK(d.running_of(JobId{1}) == 1);
}

TEST_CASE("overlap queue: a fire behind a ready one waits pending", "[dispatcher]") {
  Dispatcher d(DispatchLimits{1, {}});
  const auto queue = policy(OverlapPolicy::kQueue);
  d.offer(fire(9, 0s), allow());
  CHECK(take_and_start(d) == Names{"9@0"});  // saturates the dispatcher
  CHECK(d.offer(fire(1, 0s), queue).outcome == OfferOutcome::kReady);
  CHECK(d.offer(fire(1, 10s), queue).outcome == OfferOutcome::kPending);

  d.finished(JobId{9}, RunId{109});
  CHECK(take_and_start(d) == Names{"1@0"});  // not both: they must not overlap
  CHECK(d.has_pending(JobId{1}));
  d.finished(JobId{1}, RunId{101});
  CHECK(take_and_start(d) == Names{"1@10"});
}

TEST_CASE("overlap replace: cancels the running run, the newest fire starts after it",
          "[dispatcher]") {
  Dispatcher d(DispatchLimits{10, {}});
  const auto replace = policy(OverlapPolicy::kReplace);
  CHECK(d.offer(fire(1, 0s), replace).outcome == OfferOutcome::kReady);
  CHECK(take_and_start(d) == Names{"1@0"});

  const auto second = d.offer(fire(1, 60s), replace);
  CHECK(second.outcome == OfferOutcome::kPending);
  CHECK(run_ids(second.to_cancel) == std::vector<std::uint64_t>{101});
  CHECK(second.displaced.empty());

  const auto third = d.offer(fire(1, 120s), replace);
  CHECK(third.outcome == OfferOutcome::kPending);
  CHECK(run_ids(third.to_cancel) == std::vector<std::uint64_t>{101});
  CHECK(names(third.displaced) == Names{"1@60"});
  CHECK(d.has_pending(JobId{1}));
  CHECK(take_and_start(d) == Names{});  // still running until the cancel lands

  d.finished(JobId{1}, RunId{101});
  CHECK(take_and_start(d) == Names{"1@120"});
  CHECK_FALSE(d.has_pending(JobId{1}));
}

TEST_CASE("overlap replace: a fire not yet started is displaced, nothing to cancel",
          "[dispatcher]") {
  Dispatcher d(DispatchLimits{1, {}});
  const auto replace = policy(OverlapPolicy::kReplace);
  d.offer(fire(9, 0s), allow());
  CHECK(take_and_start(d) == Names{"9@0"});
  CHECK(d.offer(fire(1, 0s), replace).outcome == OfferOutcome::kReady);

  const auto second = d.offer(fire(1, 60s), replace);
  CHECK(second.outcome == OfferOutcome::kReady);
  CHECK(second.to_cancel.empty());
  CHECK(names(second.displaced) == Names{"1@0"});
  CHECK(d.ready_size() == 1);

  d.finished(JobId{9}, RunId{109});
  CHECK(take_and_start(d) == Names{"1@60"});
}

TEST_CASE("overlap allow: fires of one job run side by side", "[dispatcher]") {
  Dispatcher d(DispatchLimits{10, {}});
  for (int i = 0; i < 3; ++i) {
    const auto r = d.offer(fire(1, i * 1s), allow());
    CHECK(r.outcome == OfferOutcome::kReady);
    CHECK(r.to_cancel.empty());
  }
  const auto fires = d.take_startable(kT0, nullptr);
  CHECK(names(fires) == Names{"1@0", "1@1", "1@2"});
  d.started(JobId{1}, RunId{11});
  d.started(JobId{1}, RunId{12});
  d.started(JobId{1}, RunId{13});
  CHECK(d.running_of(JobId{1}) == 3);
  CHECK(d.running() == 3);

  d.finished(JobId{1}, RunId{12});
  CHECK(d.running_of(JobId{1}) == 2);
  CHECK(d.offer(fire(1, 3s), allow()).outcome == OfferOutcome::kReady);
}

TEST_CASE("starting deadline: a fire that waited too long is dropped with its reason",
          "[dispatcher]") {
  Dispatcher d(DispatchLimits{1, {}});
  d.offer(fire(1, 0s), allow());
  CHECK(take_and_start(d) == Names{"1@0"});
  auto bounded = allow();
  bounded.starting_deadline = 30s;
  d.offer(fire(2, 0s), bounded);
  d.offer(fire(3, 0s), allow());  // no deadline: waits as long as it takes

  std::vector<Dropped> dropped;
  CHECK(d.take_startable(kT0 + 30s, &dropped).empty());
  CHECK(dropped.empty());  // exactly at the deadline: still in time
  CHECK(d.take_startable(kT0 + 30s + 1us, &dropped).empty());
  REQUIRE(dropped.size() == 1);
  CHECK(names({dropped[0].fire}) == Names{"2@0"});
  CHECK(dropped[0].reason == NotRunReason::kStartingDeadline);
  CHECK(d.ready_size() == 1);

  d.finished(JobId{1}, RunId{101});
  dropped.clear();
  CHECK(take_and_start(d, kT0 + 1h) == Names{"3@0"});
}

TEST_CASE("starting deadline: dropping a ready fire promotes the job's pending one",
          "[dispatcher]") {
  Dispatcher d(DispatchLimits{1, {}});
  d.offer(fire(9, 0s), allow());
  CHECK(take_and_start(d) == Names{"9@0"});
  auto queue = policy(OverlapPolicy::kQueue);
  queue.starting_deadline = 10s;
  d.offer(fire(1, 0s), queue);
  CHECK(d.offer(fire(1, 8s), queue).outcome == OfferOutcome::kPending);

  std::vector<Dropped> dropped;
  CHECK(d.take_startable(kT0 + 11s, &dropped).empty());  // still saturated by job 9
  REQUIRE(dropped.size() == 1);
  CHECK(names({dropped[0].fire}) == Names{"1@0"});
  CHECK(dropped[0].reason == NotRunReason::kStartingDeadline);
  CHECK_FALSE(d.has_pending(JobId{1}));
  CHECK(d.ready_size() == 1);

  d.finished(JobId{9}, RunId{109});
  CHECK(take_and_start(d, kT0 + 12s) == Names{"1@8"});
}

TEST_CASE("a high-priority fire overtakes older low-priority ones under saturation",
          "[dispatcher]") {
  Dispatcher d(DispatchLimits{1, {}});
  d.offer(fire(1, 0s), allow());
  CHECK(take_and_start(d) == Names{"1@0"});
  d.offer(fire(2, 0s), allow(0));
  d.offer(fire(3, 1s), allow(0));
  d.offer(fire(4, 5s), allow(10));

  d.finished(JobId{1}, RunId{101});
  CHECK(take_and_start(d) == Names{"4@5"});
  d.finished(JobId{4}, RunId{104});
  CHECK(take_and_start(d) == Names{"2@0"});
  d.finished(JobId{2}, RunId{102});
  CHECK(take_and_start(d) == Names{"3@1"});
}

TEST_CASE("a failed spawn is finished without started and frees its slot", "[dispatcher]") {
  Dispatcher d(DispatchLimits{1, {{"disk", 1}}});
  d.offer(fire(1, 0s), allow(0, "disk"));
  d.offer(fire(2, 0s), allow(0, "disk"));
  const auto fires = d.take_startable(kT0, nullptr);
  CHECK(names(fires) == Names{"1@0"});
  CHECK(d.running_in_pool("disk") == 1);

  d.finished(JobId{1}, RunId{55});  // never started
  CHECK(d.running() == 0);
  CHECK(d.running_in_pool("disk") == 0);
  CHECK(d.running_of(JobId{1}) == 0);
  CHECK(take_and_start(d) == Names{"2@0"});
}

TEST_CASE("policy_of copies the dispatch fields of a job", "[dispatcher]") {
  skedd::JobSpec spec;
  spec.options.edit().overlap = OverlapPolicy::kReplace;
  spec.options.edit().priority = 7;
  spec.options.edit().pool = "disk";
  spec.options.edit().starting_deadline = 2h;
  const DispatchPolicy p = Dispatcher::policy_of(spec);
  CHECK(p.overlap == OverlapPolicy::kReplace);
  CHECK(p.priority == 7);
  CHECK(p.pool == "disk");
  CHECK(p.starting_deadline == std::optional<skedd::Duration>(2h));
}

TEST_CASE("withdraw takes a ready or pending fire out: it never starts", "[dispatcher]") {
  Dispatcher d(DispatchLimits{1, {}});
  Fire ready = fire(1, 0s);
  ready.run = RunId{7};
  Fire waits = fire(2, 1s);
  waits.run = RunId{8};
  d.offer(ready, allow());
  d.offer(waits, allow());
  CHECK(take_and_start(d) == Names{"1@0"});
  // Job 1 runs; a further fire of it waits as its pending one (overlap queue).
  Fire queued = fire(1, 2s);
  queued.run = RunId{9};
  CHECK(d.offer(queued, policy(OverlapPolicy::kQueue)).outcome == OfferOutcome::kPending);

  const auto taken = d.withdraw(RunId{8});
  REQUIRE(taken.has_value());
  CHECK(taken->job.value == 2);
  CHECK(d.ready_size() == 0);
  CHECK_FALSE(d.withdraw(RunId{8}).has_value());
  REQUIRE(d.withdraw(RunId{9}).has_value());
  CHECK_FALSE(d.has_pending(JobId{1}));
  CHECK_FALSE(d.withdraw(RunId{7}).has_value());  // started: not waiting

  d.finished(JobId{1}, RunId{101});
  CHECK(take_and_start(d) == Names{});
  CHECK(d.running() == 0);
}
