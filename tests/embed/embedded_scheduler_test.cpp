// libskedd's public API, in process: handlers, timeouts, retries, persistence across a stop
// and start over the same state dir. (Resume after the host is killed: examples_test.)
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include <SQLiteCpp/SQLiteCpp.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <catch2/catch.hpp>

#include "fakes/fake_clock.h"
#include "skedd/embed/embedded_scheduler.h"
#include "skedd/store/sqlite_store.h"
#include "skedd/time/timestamp.h"
#include "support/temp_dir.h"

namespace {

using namespace std::chrono_literals;
using skedd::EmbeddedOptions;
using skedd::EmbeddedScheduler;
using skedd::RunContext;
using skedd::RunEvent;
using skedd::RunState;

// Collects run events; waits for one that matches.
class Events {
 public:
  void operator()(const RunEvent& e) {
    std::lock_guard lock(mu_);
    events_.push_back(e);
    changed_.notify_all();
  }
  // The first event (in order) of `job` in `state`, waiting up to 10 s.
  RunEvent wait(const std::string& job, RunState state, int nth = 1) {
    std::unique_lock lock(mu_);
    const RunEvent* found = nullptr;
    changed_.wait_for(lock, 10s, [&] {
      int seen = 0;
      for (const RunEvent& e : events_) {
        if (e.job == job && e.state == state && ++seen == nth) {
          found = &e;
          return true;
        }
      }
      return false;
    });
    INFO("job " << job << " state " << skedd::to_string(state) << " #" << nth);
    REQUIRE(found != nullptr);
    return *found;
  }
  std::size_t count(const std::string& job) {
    std::lock_guard lock(mu_);
    return static_cast<std::size_t>(std::count_if(events_.begin(), events_.end(),
                                                  [&](const RunEvent& e) { return e.job == job; }));
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<RunEvent> events_;
};

// A one-shot far in the future: the tests fire it by trigger().
std::string job(const std::string& name, const std::string& handler, const std::string& more = {}) {
  return "[job." + name + "]\nat = \"2099-01-01T00:00:00Z\"\nhandler = \"" + handler + "\"\n" +
         more;
}

EmbeddedOptions in(const skedd::test::TempDir& dir) {
  EmbeddedOptions options;
  options.state_dir = dir / "state";
  options.handler_threads = 2;
  options.timezone = "UTC";
  return options;
}

// A scheduler's time: a FakeClock, moved only by the test, on the scheduler's loop (a thread
// of the test's own io_context), so that no test waits for real time to pass.
class FakeTime {
 public:
  FakeTime() : thread_([this] { io.run(); }) {}
  ~FakeTime() {
    work_.reset();
    thread_.join();
  }
  EmbeddedOptions options(const skedd::test::TempDir& dir) {
    EmbeddedOptions o = in(dir);
    o.clock = &clock;
    o.timers = &clock;
    return o;
  }
  // Moves time on by `step` at a time until `done` (checked on the test's thread between
  // steps), for at most `limit` of fake time. False when `done` never came.
  template <typename Done>
  bool advance_until(Done done, skedd::Duration step = 10ms, skedd::Duration limit = 1h) {
    for (skedd::Duration passed{0}; passed <= limit; passed += step) {
      if (done()) return true;
      advance(step);
    }
    return done();
  }
  // Before each step, what the scheduler wrote is committed and its commit handled, so that a
  // step of fake time is not outrun by the real time a commit takes.
  void advance(skedd::Duration d) {
    if (scheduler != nullptr) {
      (void)scheduler->flush();
      std::promise<void> handled;
      boost::asio::post(io, [&] { handled.set_value(); });
      handled.get_future().wait();
    }
    std::promise<void> moved;
    boost::asio::post(io, [&] {
      clock.advance(d);
      moved.set_value();
    });
    moved.get_future().wait();
  }

  skedd::test::FakeClock clock{skedd::parse_rfc3339("2026-03-08T07:30:00Z").value()};
  boost::asio::io_context io;
  EmbeddedScheduler* scheduler = nullptr;  ///< set: advance() flushes it first

 private:
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ =
      boost::asio::make_work_guard(io);
  std::thread thread_;
};

// Returns once `run` has been asked to stop (no polling).
void wait_for_stop(RunContext& run) {
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock lock(mu);
  cv.wait(lock, run.stop_token(), [] { return false; });
}

skedd::RunRecord run_record(EmbeddedScheduler& s, skedd::RunId run) {
  skedd::RunQuery query;
  query.run = run;
  REQUIRE(s.flush());
  auto runs = s.runs(query);
  REQUIRE(runs);
  REQUIRE(runs->size() == 1);
  return runs->front();
}

// The state of `run` as recorded, or kScheduled when it has no row yet.
RunState run_record_or_none(EmbeddedScheduler& s, skedd::RunId run) {
  skedd::RunQuery query;
  query.run = run;
  REQUIRE(s.flush());
  auto runs = s.runs(query);
  REQUIRE(runs);
  return runs->empty() ? RunState::kScheduled : runs->front().state;
}

TEST_CASE("libskedd: handler registration errors", "[embed]") {
  skedd::test::TempDir dir("skedd-embed");
  EmbeddedScheduler s(in(dir));
  CHECK(s.register_handler("report", [](RunContext&) {}));
  CHECK(s.register_handler("report", [](RunContext&) {}).error().message ==
        "handler \"report\" is registered already");
  CHECK(s.register_handler("bad name", [](RunContext&) {}).error().code ==
        skedd::ErrorCode::kInvalidArgument);
  CHECK(s.register_handler("empty", nullptr).error().message ==
        "handler \"empty\": empty function");
  CHECK(s.add(job("a", "report")).error().code == skedd::ErrorCode::kConflict);  // not started
  REQUIRE(s.start());
  CHECK(s.register_handler("late", [](RunContext&) {}).error().code == skedd::ErrorCode::kConflict);
  // A job naming a handler that is not registered is a config error, with where and what.
  const auto added = s.add(job("a", "reprot"));
  REQUIRE_FALSE(added);
  CHECK(added.error().message ==
        "api:3:11: job \"a\": handler \"reprot\" is not registered (registered: report)");
  CHECK(s.add(job("a", "report")).value() == 1);
  CHECK(s.add(job("a", "report")).error().code == skedd::ErrorCode::kConflict);
  CHECK(s.update(job("a", "report", "priority = 3\n")).value() == 2);
  CHECK(s.trigger("nope").error().code == skedd::ErrorCode::kNotFound);
  CHECK(s.pause("nope").error().code == skedd::ErrorCode::kNotFound);
}

TEST_CASE("libskedd: a handler gets its params and context, a throw fails the run", "[embed]") {
  skedd::test::TempDir dir("skedd-embed");
  Events events;
  std::mutex mu;
  nlohmann::json seen_params;
  std::string seen_job;
  int seen_attempt = 0;
  EmbeddedScheduler s(in(dir));
  REQUIRE(s.register_handler("report", [&](RunContext& run) {
    std::lock_guard lock(mu);
    seen_params = run.params();
    seen_job = run.job();
    seen_attempt = run.attempt();
  }));
  REQUIRE(
      s.register_handler("boom", [](RunContext&) { throw std::runtime_error("disk on fire"); }));
  s.on_run(std::ref(events));
  REQUIRE(s.start());
  REQUIRE(s.add(job("r", "report", "params = { region = \"eu\", days = 7 }\n")));
  REQUIRE(s.add(job("b", "boom")));
  const auto run = s.trigger("r");
  REQUIRE(run);
  CHECK(events.wait("r", RunState::kSucceeded).run == run.value());
  {
    std::lock_guard lock(mu);
    CHECK(seen_params == nlohmann::json{{"region", "eu"}, {"days", 7}});
    CHECK(seen_job == "r");
    CHECK(seen_attempt == 1);
  }
  CHECK(run_record(s, run.value()).state == RunState::kSucceeded);
  // A job without params sees an empty object (none is parsed for it).
  REQUIRE(s.add(job("plain", "report")));
  const auto plain = s.trigger("plain");
  REQUIRE(plain);
  events.wait("plain", RunState::kSucceeded);
  {
    std::lock_guard lock(mu);
    CHECK(seen_params.is_object());
    CHECK(seen_params.empty());
    CHECK(seen_job == "plain");
  }
  const auto failed = s.trigger("b");
  REQUIRE(failed);
  events.wait("b", RunState::kFailed);
  const skedd::RunRecord record = run_record(s, failed.value());
  CHECK(record.state == RunState::kFailed);
  CHECK(record.message == "disk on fire");
}

TEST_CASE("libskedd: the soft timeout requests cancellation, the run is timed_out", "[embed]") {
  skedd::test::TempDir dir("skedd-embed");
  FakeTime time;
  Events events;
  std::atomic<bool> saw_stop{false};
  EmbeddedScheduler s(time.io, time.options(dir));
  REQUIRE(s.register_handler("patient", [&](RunContext& run) {
    wait_for_stop(run);
    saw_stop = true;
  }));
  s.on_run(std::ref(events));
  REQUIRE(s.start());
  REQUIRE(s.add(job("p", "patient", "soft_timeout = \"200ms\"\n")));
  const auto run = s.trigger("p");
  REQUIRE(run);
  events.wait("p", RunState::kRunning);
  time.advance(199ms);
  CHECK_FALSE(saw_stop);
  REQUIRE(time.advance_until([&] { return events.count("p") == 2; }, 1ms));
  events.wait("p", RunState::kTimedOut);
  CHECK(saw_stop);
  CHECK(run_record(s, run.value()).state == RunState::kTimedOut);

  SECTION("cancel signals the stop token too") {
    REQUIRE(s.update(job("p", "patient")));
    const auto second = s.trigger("p");
    REQUIRE(second);
    events.wait("p", RunState::kRunning, 2);
    REQUIRE(s.cancel(second.value()));
    events.wait("p", RunState::kCancelled);
    CHECK(run_record(s, second.value()).state == RunState::kCancelled);
  }
}

TEST_CASE("libskedd: a handler takes the lines sent to its run with next_input()", "[embed]") {
  skedd::test::TempDir dir("skedd-embed");
  FakeTime time;
  Events events;
  std::mutex mu;
  std::vector<std::string> got;
  EmbeddedScheduler s(time.io, time.options(dir));
  REQUIRE(s.register_handler("listener", [&](RunContext& run) {
    for (;;) {
      if (auto line = run.next_input()) {
        std::lock_guard lock(mu);
        got.push_back(*line);
        if (*line == "stop") return;
      } else if (run.stop_requested()) {
        return;
      } else {
        std::this_thread::yield();
      }
    }
  }));
  s.on_run(std::ref(events));
  REQUIRE(s.start());
  REQUIRE(s.add(job("l", "listener")));
  const auto run = s.trigger("l");
  REQUIRE(run);
  events.wait("l", RunState::kRunning);
  REQUIRE(s.send(run.value(), "batch=10"));
  REQUIRE(s.send(run.value(), "stop"));
  events.wait("l", RunState::kSucceeded);
  {
    std::lock_guard lock(mu);
    CHECK(got == std::vector<std::string>{"batch=10", "stop"});
  }
  CHECK(s.send(run.value(), "late").error().code == skedd::ErrorCode::kNotFound);
}

TEST_CASE("libskedd: at the hard timeout the run is recorded timed_out and its slot held",
          "[embed]") {
  skedd::test::TempDir dir("skedd-embed");
  Events events;
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  FakeTime time;
  EmbeddedScheduler s(time.io, time.options(dir));
  REQUIRE(s.register_handler("stubborn", [&](RunContext&) {
    // Ignores its stop token until the test lets it go.
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return release; });
  }));
  s.on_run(std::ref(events));
  REQUIRE(s.start());
  REQUIRE(s.add(job("h", "stubborn", "soft_timeout = \"100ms\"\nhard_timeout = \"300ms\"\n")));
  const auto run = s.trigger("h");
  REQUIRE(run);
  // Recorded timed_out with its end while the handler still runs (until then, a handler run
  // that neither checkpoints nor reports progress has no row).
  events.wait("h", RunState::kRunning);
  skedd::RunRecord record;
  const auto timed_out = [&] {
    skedd::RunQuery query;
    query.run = run.value();
    REQUIRE(s.flush());
    const auto runs = s.runs(query);
    REQUIRE(runs);
    if (runs->empty() || runs->front().state != RunState::kTimedOut) return false;
    record = runs->front();
    return true;
  };
  time.advance(299ms);
  CHECK_FALSE(timed_out());
  REQUIRE(time.advance_until(timed_out, 1ms));
  CHECK(record.state == RunState::kTimedOut);
  CHECK(record.ended == time.clock.wall_now());
  CHECK(record.ended.has_value());
  CHECK(record.message ==
        "hard timeout: the handler is still running; its slot is held until it returns");
  // Its slot is held: overlap = "skip" skips the next fire.
  CHECK(s.trigger("h").error().code == skedd::ErrorCode::kConflict);
  CHECK(events.count("h") == 1);  // started; not ended
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  events.wait("h", RunState::kTimedOut);
  const skedd::RunRecord after = run_record(s, run.value());
  CHECK(after.state == RunState::kTimedOut);
  CHECK(after.ended == record.ended);
  CHECK(after.message.starts_with("hard timeout; the handler returned "));
  // The slot is free again; the next run (on the ended run's reused node) keeps nothing of it.
  const auto next = s.trigger("h");
  REQUIRE(next);
  events.wait("h", RunState::kSucceeded);
  const skedd::RunRecord fresh = run_record(s, next.value());
  CHECK(fresh.state == RunState::kSucceeded);
  CHECK(fresh.message.empty());
  CHECK(fresh.lateness < std::chrono::seconds(1));
}

TEST_CASE("libskedd: a retry gets the failed attempt's last checkpoint", "[embed]") {
  skedd::test::TempDir dir("skedd-embed");
  Events events;
  std::mutex mu;
  std::vector<std::string> given;
  FakeTime time;
  EmbeddedScheduler s(time.io, time.options(dir));
  time.scheduler = &s;
  REQUIRE(s.register_handler("flaky", [&](RunContext& run) {
    {
      std::lock_guard lock(mu);
      given.push_back(run.last_checkpoint());
    }
    if (run.attempt() == 1) {
      if (!run.checkpoint("page 7")) throw std::runtime_error("not durable");
      throw std::runtime_error("lost the connection");
    }
  }));
  s.on_run(std::ref(events));
  REQUIRE(s.start());
  REQUIRE(s.add(job("f", "flaky", "retries = 2\nretry_backoff = \"100ms\"\n")));
  REQUIRE(s.trigger("f"));
  events.wait("f", RunState::kFailed);
  // Equal jitter: the second attempt comes 50 to 100 ms after the first failed.
  CHECK_FALSE(time.advance_until([&] { return events.count("f") >= 3; }, 5ms, 45ms));
  REQUIRE(time.advance_until([&] { return events.count("f") >= 3; }, 5ms, 100ms));
  const RunEvent second = events.wait("f", RunState::kSucceeded);
  CHECK(second.attempt == 2);
  std::lock_guard lock(mu);
  CHECK(given == std::vector<std::string>{"", "page 7"});
}

TEST_CASE("libskedd: a handler's outputs are recorded with its run, checked and bounded",
          "[embed]") {
  skedd::test::TempDir dir("skedd-embed");
  Events events;
  std::mutex mu;
  std::vector<std::string> refused;
  FakeTime time;
  EmbeddedScheduler s(time.io, time.options(dir));
  time.scheduler = &s;
  REQUIRE(s.register_handler("extract", [&](RunContext& run) {
    run.output("rows", "1200");
    run.output("path", "/srv/dump one.sql");
    run.output("rows", "1300");  // replaces
    const auto refuse = [&](const std::function<void()>& attempt) {
      try {
        attempt();
      } catch (const std::exception& e) {
        std::lock_guard lock(mu);
        refused.push_back(e.what());
      }
    };
    refuse([&] { run.output("row-count", "1"); });
    refuse([&] { run.output("nul", std::string("a\0b", 3)); });
    refuse([&] { run.output("big", std::string(skedd::kMaxOutputBytes, 'x')); });
  }));
  s.on_run(std::ref(events));
  REQUIRE(s.start());
  REQUIRE(s.add(job("e", "extract")));
  const auto run = s.trigger("e");
  REQUIRE(run);
  events.wait("e", RunState::kSucceeded);
  skedd::RunQuery query;
  query.run = run.value();
  query.outputs = true;
  REQUIRE(s.flush());
  const auto runs = s.runs(query);
  REQUIRE(runs);
  REQUIRE(runs->size() == 1);
  CHECK(runs->front().outputs ==
        std::map<std::string, std::string>{{"path", "/srv/dump one.sql"}, {"rows", "1300"}});
  std::lock_guard lock(mu);
  CHECK(refused ==
        std::vector<std::string>{
            "invalid output key \"row-count\": character 4 is not a letter, digit or '_'",
            "output nul: the value holds a NUL byte",
            "output big: the run's outputs would pass 65536 bytes in all"});
}

TEST_CASE("libskedd: jobs and an unfinished handler run survive a stop and start", "[embed]") {
  skedd::test::TempDir dir("skedd-embed");
  std::mutex mu;
  std::condition_variable changed;
  std::vector<std::pair<int, std::string>> calls;  // (attempt, checkpoint given)
  // Its first attempt checkpoints three steps and waits to be stopped; a later one finishes.
  const auto counter = [&](RunContext& run) {
    {
      std::lock_guard lock(mu);
      calls.emplace_back(run.attempt(), run.last_checkpoint());
    }
    if (run.attempt() > 1) return;
    for (int i = 1; i <= 3; ++i) {
      if (!run.checkpoint(std::to_string(i))) throw std::runtime_error("not durable");
    }
    {
      std::lock_guard lock(mu);
      calls.emplace_back(0, "3");
    }
    changed.notify_all();
    wait_for_stop(run);
  };
  skedd::RunId first;
  {
    Events events;
    EmbeddedScheduler s(in(dir));
    REQUIRE(s.register_handler("counter", counter));
    s.on_run(std::ref(events));
    REQUIRE(s.start());
    REQUIRE(s.add(job("c", "counter")));
    first = s.trigger("c").value();
    {
      std::unique_lock lock(mu);
      REQUIRE(changed.wait_for(lock, 10s, [&] { return calls.size() == 2; }));
    }
    s.stop();  // asks the handler to stop; the run stays recorded as running
  }
  Events events;
  EmbeddedScheduler s(in(dir));
  REQUIRE(s.register_handler("counter", counter));
  s.on_run(std::ref(events));
  REQUIRE(s.start());
  CHECK(s.jobs().value() == std::vector<std::string>{"c"});
  const RunEvent resumed = events.wait("c", RunState::kSucceeded);
  CHECK(resumed.attempt == 2);
  CHECK(run_record(s, first).state == RunState::kInterrupted);
  std::lock_guard lock(mu);
  REQUIRE(calls.size() == 3);
  CHECK(calls[0] == std::pair<int, std::string>{1, ""});
  CHECK(calls[2] == std::pair<int, std::string>{2, "3"});  // from its last checkpoint
}

TEST_CASE("libskedd: in memory, and on the caller's io_context", "[embed]") {
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  std::thread loop([&] { io.run(); });
  std::string dir;
  {
    EmbeddedOptions options;
    options.timezone = "UTC";
    Events events;
    EmbeddedScheduler s(io, options);
    REQUIRE(s.register_handler("noop", [](RunContext&) {}));
    s.on_run(std::ref(events));
    REQUIRE(s.start());
    dir = s.state_dir();
    CHECK(std::filesystem::exists(dir));
    REQUIRE(s.add(job("n", "noop")));
    REQUIRE(s.trigger("n"));
    events.wait("n", RunState::kSucceeded);
    auto next = s.next_fire("n");
    REQUIRE(next);
    CHECK(next.value().has_value());
  }
  CHECK_FALSE(std::filesystem::exists(dir));  // the private state dir went with it
  work.reset();
  loop.join();
}

TEST_CASE("libskedd: a second scheduler on the same state dir is refused", "[embed]") {
  skedd::test::TempDir dir("skedd-embed");
  EmbeddedScheduler first(in(dir));
  REQUIRE(first.start());
  EmbeddedScheduler second(in(dir));
  const auto started = second.start();
  REQUIRE_FALSE(started);
  CHECK(started.error().code == skedd::ErrorCode::kConflict);
  CHECK(started.error().message == "state dir " + dir / "state" + " is in use by pid " +
                                       std::to_string(::getpid()) + " (lock " + dir / "state" +
                                       "/skedd.lock)");
}

TEST_CASE("libskedd: stop() from a handler stops starting runs, the destructor finishes",
          "[embed]") {
  skedd::test::TempDir dir("skedd-embed");
  Events events;
  std::atomic<EmbeddedScheduler*> self{nullptr};
  std::promise<void> stopped;
  {
    EmbeddedScheduler s(in(dir));
    self = &s;
    REQUIRE(s.register_handler("quit", [&](RunContext&) {
      self.load()->stop();
      stopped.set_value();
    }));
    s.on_run(std::ref(events));
    REQUIRE(s.start());
    REQUIRE(s.add(job("q", "quit")));
    REQUIRE(s.trigger("q"));
    REQUIRE(stopped.get_future().wait_for(10s) == std::future_status::ready);
    // Once stopping, the scheduler refuses further calls instead of hanging.
    CHECK_FALSE(s.jobs());
  }  // the destructor completes the stop without deadlocking
  CHECK(events.count("q") >= 1);
}

}  // namespace

TEST_CASE("libskedd: handlers run side by side up to handler_threads, the rest wait their turn",
          "[embed]") {
  skedd::test::TempDir dir("skedd-embed");
  Events events;
  std::mutex mu;
  std::condition_variable changed;
  int inside = 0, peak = 0;
  bool release = false;
  EmbeddedScheduler s(in(dir));  // 2 handler threads
  REQUIRE(s.register_handler("hold", [&](RunContext&) {
    std::unique_lock lock(mu);
    peak = std::max(peak, ++inside);
    changed.notify_all();
    changed.wait_for(lock, 10s, [&] { return release; });
    --inside;
  }));
  s.on_run(std::ref(events));
  REQUIRE(s.start());
  for (const char* name : {"a", "b", "c"}) REQUIRE(s.add(job(name, "hold")));
  for (const char* name : {"a", "b", "c"}) REQUIRE(s.trigger(name));
  {
    std::unique_lock lock(mu);
    REQUIRE(changed.wait_for(lock, 10s, [&] { return inside == 2; }));
  }
  // All three are started for the scheduler; the third waits for a thread.
  for (const char* name : {"a", "b", "c"}) events.wait(name, RunState::kRunning);
  {
    std::lock_guard lock(mu);
    CHECK(inside == 2);
    release = true;
  }
  changed.notify_all();
  for (const char* name : {"a", "b", "c"}) {
    CHECK(events.wait(name, RunState::kSucceeded).state == RunState::kSucceeded);
  }
  std::lock_guard lock(mu);
  CHECK(peak == 2);
}

TEST_CASE("libskedd: no fires are taken while the store is behind, those passed over are folded",
          "[embed]") {
  skedd::test::TempDir dir("skedd-embed");
  Events events;
  FakeTime time;
  EmbeddedOptions options = time.options(dir);
  options.max_unwritten = 1;  // any write not yet committed holds new fires back
  const std::string db = options.state_dir + "/skedd.db";
  skedd::Instant locked_at{};
  {
    EmbeddedScheduler s(time.io, options);
    REQUIRE(s.register_handler("noop", [](RunContext&) {}));
    // Flushed between steps, but while the lock is held: the store is to fall behind then only.
    time.scheduler = &s;
    s.on_run(std::ref(events));
    REQUIRE(s.start());
    REQUIRE(s.add("[job.tick]\nevery = \"1s\"\nhandler = \"noop\"\n"));
    REQUIRE(time.advance_until([&] { return events.count("tick") >= 2; }));
    events.wait("tick", RunState::kSucceeded);
    {
      // Another connection holds the write lock: commits wait (up to the 5 s busy timeout of
      // real time), and the first write queued meanwhile holds fires back.
      SQLite::Database other(db, SQLite::OPEN_READWRITE, 5000);
      other.exec("BEGIN EXCLUSIVE");
      locked_at = time.clock.wall_now();
      const std::size_t before = events.count("tick");
      time.scheduler = nullptr;
      time.advance_until([] { return false; }, 10ms, 3500ms);
      time.scheduler = &s;
      // At most the one fire taken before the store fell behind, waiting for its commit.
      CHECK(events.count("tick") == before);
      other.exec("COMMIT");
    }
    const std::size_t after = events.count("tick");
    // Fires are taken again once the store has caught up.
    REQUIRE(time.advance_until([&] { return events.count("tick") >= after + 4; }));
    s.stop();
  }
  auto store = skedd::open_sqlite_store(db);
  REQUIRE(store.ok());
  const auto not_run = store.value()->not_run("tick", 100);
  REQUIRE(not_run.ok());
  bool overloaded = false;
  for (const skedd::NotRunRecord& r : not_run.value()) {
    INFO(skedd::to_string(r.reason) << " x" << r.count);
    if (r.reason == skedd::NotRunReason::kOverloaded) {
      overloaded = true;
      CHECK(r.state == RunState::kMissed);
      CHECK(r.first >= locked_at);
      CHECK(r.count >= 1);
    }
  }
  CHECK(overloaded);
}

namespace {

// Keeps the scheduler's events (its thread) for the test's thread to look at.
class StallEvents final : public skedd::EventSink {
 public:
  bool wants(skedd::EventKind, skedd::Severity) const override { return true; }
  void emit(const skedd::Event& event) override {
    std::lock_guard lock(mu_);
    kinds_.push_back(event.kind);
    if (event.kind == skedd::EventKind::kRunStalled) stalled_ = event.fields;
  }
  std::size_t count(skedd::EventKind kind) {
    std::lock_guard lock(mu_);
    return static_cast<std::size_t>(std::count(kinds_.begin(), kinds_.end(), kind));
  }
  nlohmann::json last_stalled() {
    std::lock_guard lock(mu_);
    return stalled_;
  }

 private:
  std::mutex mu_;
  std::vector<skedd::EventKind> kinds_;
  nlohmann::json stalled_;
};

// A handler that does what the test tells it, one step at a time: "heartbeat", "progress",
// "checkpoint", or "return"; each step() returns once the handler has done it.
class Puppet {
 public:
  void operator()(RunContext& run) {
    for (;;) {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return !order_.empty(); });
      const std::string what = order_;
      lock.unlock();
      if (what == "heartbeat") run.heartbeat();
      if (what == "progress") run.progress(50, "half");
      if (what == "checkpoint") run.checkpoint("at 7");
      lock.lock();
      order_.clear();
      cv_.notify_all();
      if (what == "return") return;
    }
  }
  void step(const std::string& what) {
    std::unique_lock lock(mu_);
    order_ = what;
    cv_.notify_all();
    cv_.wait(lock, [&] { return order_.empty(); });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::string order_;
};

}  // namespace

TEST_CASE("libskedd: a handler silent for its stall_timeout is stalled, until it beats again",
          "[embed]") {
  using skedd::EventKind;
  skedd::test::TempDir dir("skedd-embed");
  Events runs;
  StallEvents events;
  Puppet puppet;
  FakeTime time;
  EmbeddedOptions options = time.options(dir);
  options.events = &events;
  EmbeddedScheduler s(time.io, options);
  REQUIRE(s.register_handler("puppet", std::ref(puppet)));
  s.on_run(std::ref(runs));
  REQUIRE(s.start());
  time.scheduler = &s;
  REQUIRE(s.add(job("p", "puppet", "stall_timeout = \"1s\"\n")));
  const auto run = s.trigger("p");
  REQUIRE(run);
  runs.wait("p", RunState::kRunning);
  // Each sign of life moves the stall a stall_timeout on from itself.
  for (const char* sign : {"heartbeat", "progress", "checkpoint"}) {
    time.advance(900ms);
    puppet.step(sign);
  }
  time.advance(900ms);
  CHECK(events.count(EventKind::kRunStalled) == 0);
  time.advance(200ms);  // 1.1 s since the checkpoint
  REQUIRE(events.count(EventKind::kRunStalled) == 1);
  CHECK(events.last_stalled().at("effect") == "marked stalled; it goes on");
  CHECK(events.last_stalled().at("silent_s").get<double>() >= 1.0);
  time.advance(5s);  // marked once, however long it stays silent
  CHECK(events.count(EventKind::kRunStalled) == 1);
  CHECK(events.count(EventKind::kRunActiveAgain) == 0);
  puppet.step("heartbeat");
  time.advance(1s);
  CHECK(events.count(EventKind::kRunActiveAgain) == 1);
  puppet.step("return");
  CHECK(runs.wait("p", RunState::kSucceeded).run == run.value());
}

TEST_CASE("libskedd: with on_stall_kill a silent handler is recorded stalled, its slot held",
          "[embed]") {
  skedd::test::TempDir dir("skedd-embed");
  Events runs;
  StallEvents events;
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<bool> asked_to_stop{false};
  FakeTime time;
  EmbeddedOptions options = time.options(dir);
  options.events = &events;
  EmbeddedScheduler s(time.io, options);
  REQUIRE(s.register_handler("stuck", [&](RunContext& run) {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return release; });
    asked_to_stop = run.stop_requested();
  }));
  s.on_run(std::ref(runs));
  REQUIRE(s.start());
  time.scheduler = &s;
  REQUIRE(s.add(job("k", "stuck", "stall_timeout = \"2s\"\non_stall_kill = true\n")));
  const auto run = s.trigger("k");
  REQUIRE(run);
  runs.wait("k", RunState::kRunning);
  time.advance(1900ms);
  CHECK(run_record_or_none(s, run.value()) != RunState::kStalled);
  time.advance(100ms);
  REQUIRE(events.count(skedd::EventKind::kRunStalled) == 1);
  CHECK(events.last_stalled().at("effect") == "stop requested, recorded stalled (on_stall_kill)");
  const skedd::RunRecord record = run_record(s, run.value());
  CHECK(record.state == RunState::kStalled);
  CHECK(record.ended == time.clock.wall_now());
  CHECK(record.message ==
        "stalled: no heartbeat, progress or checkpoint for 2s (on_stall_kill): the handler is "
        "still running; its slot is held until it returns");
  CHECK(s.trigger("k").error().code == skedd::ErrorCode::kConflict);  // overlap = "skip"
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  runs.wait("k", RunState::kStalled);
  CHECK(asked_to_stop);
  const skedd::RunRecord after = run_record(s, run.value());
  CHECK(after.state == RunState::kStalled);
  CHECK(after.ended == record.ended);
  CHECK(after.message.starts_with("stalled; the handler returned "));
  CHECK(s.trigger("k"));  // its slot is free again
}
