#include "skedd/embed/embedded_scheduler.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>

#include "runtime/engine.h"
#include "runtime/system_timers.h"
#include "skedd/config/config.h"
#include "skedd/exec/process_spawner.h"
#include "skedd/runtime/events.h"
#include "skedd/store/sqlite_store.h"
#include "skedd/time/clock.h"
#include "skedd/util/random.h"
#include "store/state_lock.h"
#include "util/thread_name.h"

namespace skedd {
namespace fs = std::filesystem;

namespace {

// A private directory on a RAM-backed file system, for a scheduler without a state dir.
Result<std::string> make_memory_dir() {
  for (const char* base : {"/dev/shm", "/tmp"}) {
    std::string templ = std::string(base) + "/skedd-memory-XXXXXX";
    if (::mkdtemp(templ.data()) != nullptr) return templ;
  }
  return Error::io("cannot create a private directory in /dev/shm or /tmp");
}

Status no_job(const std::string& job) {
  return Error::not_found("no job named \"" + job + "\"");
}

}  // namespace

struct EmbeddedScheduler::Impl {
  EmbeddedOptions options;
  std::unique_ptr<asio::io_context> own_io;
  asio::io_context* io = nullptr;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::thread thread;

  std::mutex mu;  // guards the lifecycle flags and registration
  bool started = false;
  bool stopped = false;
  HandlerRegistry handlers;
  std::function<void(const RunEvent&)> observer;

  std::string state_dir;
  bool memory = false;
  int lock_fd = -1;
  std::unique_ptr<Store> store;
  SystemClock system_clock;
  std::optional<SystemTimers> system_timers;  ///< unless the options give timers
  SeededRandom random;
  std::optional<PosixSpawner> spawner;
  std::unique_ptr<Engine> engine;  // lives on the io thread

  const Clock& clock() const { return options.clock ? *options.clock : system_clock; }
  TimerService& timers() { return options.timers ? *options.timers : *system_timers; }

  // Runs `f` on the io thread and returns its result; at once when already on it.
  template <typename F>
  auto on_loop(F f) -> decltype(f()) {
    if (io->get_executor().running_in_this_thread()) return f();
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto result = task.get_future();
    asio::post(*io, [&task] { task(); });
    return result.get();
  }

  Status running() {
    std::lock_guard lock(mu);
    if (!started) return Error{ErrorCode::kConflict, "the scheduler is not started"};
    if (stopped) return Error{ErrorCode::kConflict, "the scheduler is stopped"};
    return Ok{};
  }

  Config config() const {
    Config c;
    c.path = "libskedd";
    c.daemon.state_dir = state_dir;
    c.daemon.socket = state_dir + "/run/skedd.sock";  // its directory holds runs' FIFOs
    if (!options.timezone.empty()) {
      if (auto zone = TimeZone::load(options.timezone)) c.daemon.timezone = zone.value();
    }
    c.daemon.max_concurrent_runs = options.max_concurrent_runs;
    c.daemon.kill_grace = options.kill_grace;
    c.daemon.use_cgroups = false;
    c.daemon.handler_threads = options.handler_threads;
    c.daemon.handlers = handlers.names();
    c.pools = options.pools;
    c.store.synchronous = options.full_sync ? Synchronous::kFull : Synchronous::kNormal;
    c.store.keep_runs = options.keep_runs;
    c.store.keep_days = options.keep_days;
    c.store.max_unwritten = options.max_unwritten;
    return c;
  }

  Result<int> put(const std::string& definition, bool replace) {
    if (auto ok = running(); !ok) return ok.error();
    return on_loop([&]() -> Result<int> {
      auto spec = parse_job_definition(definition, "api", engine->config());
      if (!spec) return spec.error();
      return engine->put_api_job(std::move(spec.value()), definition, replace);
    });
  }
};

EmbeddedScheduler::EmbeddedScheduler(EmbeddedOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->own_io = std::make_unique<asio::io_context>();
  impl_->io = impl_->own_io.get();
  impl_->spawner.emplace(*impl_->io);
  if (!impl_->options.timers) impl_->system_timers.emplace(*impl_->io);
}

EmbeddedScheduler::EmbeddedScheduler(boost::asio::io_context& io, EmbeddedOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->io = &io;
  impl_->spawner.emplace(io);
  if (!impl_->options.timers) impl_->system_timers.emplace(io);
}

EmbeddedScheduler::~EmbeddedScheduler() {
  stop();
}

Status EmbeddedScheduler::register_handler(const std::string& name, Handler handler) {
  std::lock_guard lock(impl_->mu);
  if (impl_->started) {
    return Error{ErrorCode::kConflict,
                 "handler \"" + name + "\": register handlers before start()"};
  }
  return impl_->handlers.add(name, std::move(handler));
}

void EmbeddedScheduler::on_run(std::function<void(const RunEvent&)> observer) {
  std::lock_guard lock(impl_->mu);
  if (!impl_->started) impl_->observer = std::move(observer);
}

Status EmbeddedScheduler::start() {
  Impl& d = *impl_;
  {
    std::lock_guard lock(d.mu);
    if (d.started) return Error{ErrorCode::kConflict, "the scheduler is started already"};
  }
  if (d.options.state_dir.empty()) {
    auto dir = make_memory_dir();
    if (!dir) return dir.error();
    d.state_dir = dir.value();
    d.memory = true;
  } else {
    d.state_dir = d.options.state_dir;
    std::error_code ec;
    fs::create_directories(d.state_dir, ec);
    if (ec) return Error::io("cannot create state dir " + d.state_dir + ": " + ec.message());
  }
  if ((d.options.clock == nullptr) != (d.options.timers == nullptr)) {
    return Error::invalid_argument("EmbeddedOptions: give both clock and timers, or neither");
  }
  if (!d.options.timezone.empty()) {
    if (auto zone = TimeZone::load(d.options.timezone); !zone) return zone.error();
  }
  auto lock = lock_state_dir(d.state_dir);
  if (!lock) return lock.error();
  d.lock_fd = lock.value();
  auto store =
      open_sqlite_store(d.state_dir + "/skedd.db", SqliteStoreOptions{d.options.full_sync, 5000});
  if (!store) {
    ::close(std::exchange(d.lock_fd, -1));
    return store.error();
  }
  d.store = std::move(store.value());
  Config config = d.config();
  if (!d.options.definitions.empty()) {
    LoadOptions load;
    load.check_file_safety = false;
    load.read_jobs_dir = false;
    load.handlers = config.daemon.handlers;
    auto defined = parse_config(d.options.definitions, "definitions", load);
    if (!defined) {
      d.store.reset();
      ::close(std::exchange(d.lock_fd, -1));
      return defined.error();
    }
    config.jobs = std::move(defined->jobs);
    config.workflows = std::move(defined->workflows);
    config.step_jobs = std::move(defined->step_jobs);
  }
  // Jobs added before, as last recorded; one whose handler is gone is left out, loudly.
  auto api_jobs = Engine::recorded_api_jobs(*d.store, config, Events(d.options.events));
  if (!api_jobs) return api_jobs.error();
  {
    std::lock_guard lock(d.mu);
    d.started = true;
  }
  d.engine = std::make_unique<Engine>(*d.io, std::move(config), d.clock(), d.timers(), *d.spawner,
                                      *d.store, d.random, &d.handlers, Events(d.options.events));
  if (d.observer) d.engine->set_run_observer(d.observer);
  asio::post(*d.io, [engine = d.engine.get(), jobs = std::move(api_jobs.value())]() mutable {
    engine->start(std::move(jobs));
  });
  if (d.own_io) {
    d.work.emplace(d.io->get_executor());
    d.thread = std::thread([io = d.io] {
      name_this_thread("skedd-loop");
      io->run();
    });
  }
  return Ok{};
}

void EmbeddedScheduler::stop() {
  Impl& d = *impl_;
  {
    std::lock_guard lock(d.mu);
    if (!d.started || !d.engine) return;
    d.stopped = true;
  }
  if (d.io->get_executor().running_in_this_thread()) {
    // From the loop itself (an observer): the engine stops starting runs; the rest is left to
    // the destructor, which must then run on another thread.
    d.engine->shutdown([] {});
    return;
  }
  if (d.engine->on_handler_thread()) {
    // From a handler, which the shutdown would wait for: the same.
    asio::post(*d.io, [engine = d.engine.get()] { engine->shutdown([] {}); });
    return;
  }
  std::promise<void> done;
  auto stopped = done.get_future();
  asio::post(*d.io, [&] { d.engine->shutdown([&done] { done.set_value(); }); });
  stopped.wait();
  d.on_loop([&] {
    d.engine.reset();
    return 0;
  });
  if (d.own_io) {
    d.work.reset();
    d.io->stop();
    if (d.thread.joinable()) d.thread.join();
  }
  if (auto flushed = d.store->flush(); !flushed) {
    Events(d.options.events)
        .emit(Severity::kError, EventKind::kStoreFlushFailed, {{"error", flushed.error().message}});
  }
  d.store.reset();
  ::close(std::exchange(d.lock_fd, -1));
  if (d.memory) {
    std::error_code ec;
    fs::remove_all(d.state_dir, ec);
  }
}

Result<int> EmbeddedScheduler::add(const std::string& definition) {
  return impl_->put(definition, false);
}

Result<int> EmbeddedScheduler::update(const std::string& definition) {
  return impl_->put(definition, true);
}

Status EmbeddedScheduler::remove(const std::string& job) {
  if (auto ok = impl_->running(); !ok) return ok;
  return impl_->on_loop([&] { return impl_->engine->remove_api_job(job); });
}

Status EmbeddedScheduler::pause(const std::string& job) {
  if (auto ok = impl_->running(); !ok) return ok;
  return impl_->on_loop(
      [&]() -> Status { return impl_->engine->set_paused(job, true) ? Ok{} : no_job(job); });
}

Status EmbeddedScheduler::resume(const std::string& job) {
  if (auto ok = impl_->running(); !ok) return ok;
  return impl_->on_loop(
      [&]() -> Status { return impl_->engine->set_paused(job, false) ? Ok{} : no_job(job); });
}

Result<RunId> EmbeddedScheduler::trigger(const std::string& job) {
  if (auto ok = impl_->running(); !ok) return ok.error();
  return impl_->on_loop([&]() -> Result<RunId> {
    const auto triggered = impl_->engine->trigger(job, false);
    if (!triggered) return no_job(job).error();
    if (triggered->outcome == OfferOutcome::kSkipped) {
      return Error{ErrorCode::kConflict,
                   "job \"" + job + "\" is still running; its overlap policy skipped the fire"};
    }
    return triggered->run;
  });
}

Status EmbeddedScheduler::cancel(RunId run) {
  if (auto ok = impl_->running(); !ok) return ok;
  return impl_->on_loop([&]() -> Status {
    if (impl_->engine->cancel(run)) return Ok{};
    return Error{ErrorCode::kNotFound, "run " + std::to_string(run.value) + " is not running"};
  });
}

Status EmbeddedScheduler::send(RunId run, const std::string& line) {
  if (auto ok = impl_->running(); !ok) return ok;
  return impl_->on_loop([&]() -> Status { return impl_->engine->send_input(run, line); });
}

Result<std::optional<Instant>> EmbeddedScheduler::next_fire(const std::string& job) {
  if (auto ok = impl_->running(); !ok) return ok.error();
  return impl_->on_loop([&]() -> Result<std::optional<Instant>> {
    const auto info = impl_->engine->job(job);
    if (!info) return no_job(job).error();
    return info->next;
  });
}

Result<std::vector<std::string>> EmbeddedScheduler::jobs() {
  if (auto ok = impl_->running(); !ok) return ok.error();
  return impl_->on_loop([&]() -> Result<std::vector<std::string>> {
    std::vector<std::string> names;
    for (const Engine::JobInfo& info : impl_->engine->jobs()) names.push_back(info.spec->name);
    return names;
  });
}

Result<std::vector<RunRecord>> EmbeddedScheduler::runs(const RunQuery& query) {
  if (auto ok = impl_->running(); !ok) return ok.error();
  return impl_->store->runs(query);
}

Result<RunId> EmbeddedScheduler::trigger_workflow(const std::string& name) {
  if (auto ok = impl_->running(); !ok) return ok.error();
  return impl_->on_loop([&] { return impl_->engine->trigger_workflow(name, false); });
}

Status EmbeddedScheduler::retry_workflow(RunId run, const std::string& from) {
  if (auto ok = impl_->running(); !ok) return ok;
  return impl_->on_loop([&]() -> Status {
    auto retried = impl_->engine->retry_workflow_run(run, from);
    if (!retried) return retried.error();
    return Ok{};
  });
}

Status EmbeddedScheduler::cancel_workflow(RunId run) {
  if (auto ok = impl_->running(); !ok) return ok;
  return impl_->on_loop([&]() -> Status {
    if (impl_->engine->cancel_workflow_run(run)) return Ok{};
    return Error::not_found("workflow run " + std::to_string(run.value) + " is not going on");
  });
}

Result<std::vector<WorkflowRunRecord>> EmbeddedScheduler::workflow_runs(
    const WorkflowRunQuery& query) {
  if (auto ok = impl_->running(); !ok) return ok.error();
  if (auto flushed = impl_->store->flush(); !flushed) return flushed.error();
  return impl_->store->workflow_runs(query);
}

Status EmbeddedScheduler::flush() {
  if (auto ok = impl_->running(); !ok) return ok;
  return impl_->store->flush();
}

const std::string& EmbeddedScheduler::state_dir() const {
  return impl_->state_dir;
}

}  // namespace skedd
