#include "embed/handler_runner.h"

#include <future>
#include <optional>
#include <stdexcept>

#include "daemon/event_log.h"
#include "daemon/log_fields.h"

namespace skedd {
namespace {

using nlohmann::json;
using spdlog::level::info;
using spdlog::level::warn;

constexpr std::size_t kMaxHandlerCheckpoint = 64 * 1024;

}  // namespace

bool RunContext::checkpoint(std::string text) {
  if (text.size() > kMaxHandlerCheckpoint) {
    throw std::length_error("checkpoint of " + std::to_string(text.size()) +
                            " bytes; at most 65536 are kept");
  }
  const bool durable = sink_.checkpoint(info_.run, text);
  info_.checkpoint = std::move(text);
  return durable;
}

void RunContext::progress(double percent, const std::string& message) {
  sink_.progress(info_.run, percent, message);
}

Status HandlerRegistry::add(const std::string& name, Handler handler) {
  if (auto valid = validate_job_name(name); !valid) {
    return Error::invalid_argument("handler name: " + valid.error().message);
  }
  if (!handler) return Error::invalid_argument("handler \"" + name + "\": empty function");
  if (!handlers_.emplace(name, std::move(handler)).second) {
    return Error::invalid_argument("handler \"" + name + "\" is registered already");
  }
  return Ok{};
}

const Handler* HandlerRegistry::find(const std::string& name) const {
  const auto it = handlers_.find(name);
  return it == handlers_.end() ? nullptr : &it->second;
}

std::set<std::string> HandlerRegistry::names() const {
  std::set<std::string> out;
  for (const auto& [name, handler] : handlers_) out.insert(name);
  return out;
}

struct HandlerRunner::Run {
  RunId id;
  JobId job;
  std::shared_ptr<const JobSpec> spec;
  Fire fire;
  std::string checkpoint;  ///< handed over at start
  Instant started{};
  std::stop_source stop;
  /// Set by a cancel or the soft timeout: the state the run ends in when it returns.
  std::optional<RunState> stopped_as;
  bool hard_timed_out = false;  ///< recorded as timed_out; its slot is held until it returns
  std::optional<Instant> ended;
  std::unique_ptr<asio::steady_timer> soft, hard;
};

HandlerRunner::HandlerRunner(asio::io_context& io, const Clock& clock, Store& store,
                             const HandlerRegistry* handlers, int threads, OnFinished on_finished)
    : io_(io),
      clock_(clock),
      store_(store),
      handlers_(handlers),
      on_finished_(std::move(on_finished)),
      pool_(static_cast<std::size_t>(threads)) {}

HandlerRunner::~HandlerRunner() {
  for (auto& [id, run] : runs_) run->stop.request_stop();
  pool_.join();
}

RunRecord HandlerRunner::record_of(const Run& run, RunState state) const {
  RunRecord r;
  r.run = run.id;
  r.job = run.spec->name;
  r.scheduled = run.fire.scheduled;
  r.attempt = run.fire.attempt;
  r.state = state;
  r.started = run.started;
  r.lateness = run.started - run.fire.due;
  r.checkpoint = run.checkpoint;
  return r;
}

void HandlerRunner::start(RunId id, JobId job, std::shared_ptr<const JobSpec> spec,
                          const Fire& fire, std::string checkpoint) {
  auto owned = std::make_unique<Run>();
  Run& run = *owned;
  run.id = id;
  run.job = job;
  run.spec = std::move(spec);
  run.fire = fire;
  run.checkpoint = std::move(checkpoint);
  run.started = clock_.wall_now();
  runs_.emplace(id, std::move(owned));

  const Handler* handler = handlers_ != nullptr ? handlers_->find(run.spec->handler) : nullptr;
  json params = json::parse(run.spec->params.empty() ? "{}" : run.spec->params, nullptr, false);
  if (handler == nullptr || params.is_discarded()) {
    // Config validation makes this unreachable but for a handler unregistered since.
    const std::string message = handler == nullptr
                                    ? "handler \"" + run.spec->handler + "\" is not registered"
                                    : "params are not a JSON object";
    on_returned(id, Returned{true, message, run.checkpoint});
    return;
  }
  store_.put_run(record_of(run, RunState::kRunning));
  log_event(info, "run_started",
            {{"job", run.spec->name},
             {"run", id.value},
             {"handler", run.spec->handler},
             {"attempt", fire.attempt},
             {"scheduled", utc(fire.scheduled)},
             {"lateness_ms", millis(run.started - fire.due)}});
  if (run.spec->soft_timeout) {
    run.soft = std::make_unique<asio::steady_timer>(io_, *run.spec->soft_timeout);
    run.soft->async_wait([this, id, alive = std::weak_ptr(alive_)](boost::system::error_code ec) {
      if (!ec && alive.lock()) on_soft_timeout(id);
    });
  }
  if (run.spec->hard_timeout) {
    run.hard = std::make_unique<asio::steady_timer>(io_, *run.spec->hard_timeout);
    run.hard->async_wait([this, id, alive = std::weak_ptr(alive_)](boost::system::error_code ec) {
      if (!ec && alive.lock()) on_hard_timeout(id);
    });
  }
  RunContext::Info info{run.spec->name, id, fire.scheduled, fire.attempt, std::move(params),
                        run.checkpoint};
  asio::post(pool_, [this, id, handler, info = std::move(info), stop = run.stop.get_token(),
                     alive = std::weak_ptr(alive_)]() mutable {
    RunContext context(std::move(info), *this, std::move(stop));
    Returned returned;
    try {
      (*handler)(context);
    } catch (const std::exception& e) {
      returned.threw = true;
      returned.message = e.what();
    } catch (...) {
      returned.threw = true;
      returned.message = "the handler threw an exception not derived from std::exception";
    }
    returned.checkpoint = context.last_checkpoint();
    asio::post(io_, [this, id, alive, returned = std::move(returned)]() mutable {
      if (alive.lock()) on_returned(id, std::move(returned));
    });
  });
}

bool HandlerRunner::checkpoint(RunId run, const std::string& text) {
  // On the handler's thread: the store takes writes from any thread.
  store_.put_checkpoint(run, text);
  std::promise<bool> committed;
  std::future<bool> done = committed.get_future();
  store_.when_committed(
      [&committed](const Status& status) { committed.set_value(static_cast<bool>(status)); });
  return done.get();
}

void HandlerRunner::progress(RunId run, double percent, const std::string& message) {
  store_.put_progress(run, percent, message);
}

void HandlerRunner::cancel(RunId id, RunState as) {
  const auto it = runs_.find(id);
  if (it == runs_.end()) return;
  Run& run = *it->second;
  if (!run.stopped_as) run.stopped_as = as;
  run.stop.request_stop();
  log_event(info, "run_cancelled", {{"job", run.spec->name}, {"run", id.value}});
}

void HandlerRunner::cancel_all(RunState as) {
  for (auto& [id, run] : runs_) {
    if (!run->stopped_as) run->stopped_as = as;
    run->stop.request_stop();
  }
}

void HandlerRunner::stop_all() {
  stopping_ = true;
  for (auto& [id, run] : runs_) run->stop.request_stop();
}

void HandlerRunner::on_soft_timeout(RunId id) {
  const auto it = runs_.find(id);
  if (it == runs_.end()) return;
  Run& run = *it->second;
  log_event(warn, "soft_timeout",
            {{"job", run.spec->name}, {"run", id.value}, {"effect", "cancellation requested"}});
  if (!run.stopped_as) run.stopped_as = RunState::kTimedOut;
  run.stop.request_stop();
}

void HandlerRunner::on_hard_timeout(RunId id) {
  const auto it = runs_.find(id);
  if (it == runs_.end()) return;
  Run& run = *it->second;
  // A thread cannot be killed: the run is over for the history, and its slot stays held until
  // its handler returns.
  run.hard_timed_out = true;
  run.stopped_as = RunState::kTimedOut;
  run.stop.request_stop();
  run.ended = clock_.wall_now();
  RunRecord record = record_of(run, RunState::kTimedOut);
  record.ended = run.ended;
  record.message = "hard timeout: the handler is still running; its slot is held until it returns";
  store_.put_run(record);
  log_event(warn, "hard_timeout",
            {{"job", run.spec->name},
             {"run", id.value},
             {"effect", "recorded timed_out; the handler's thread cannot be killed, its slot is "
                        "held until it returns"}});
}

void HandlerRunner::on_returned(RunId id, Returned returned) {
  const auto it = runs_.find(id);
  if (it == runs_.end()) return;
  std::unique_ptr<Run> owned = std::move(it->second);
  runs_.erase(it);
  Run& run = *owned;
  if (stopping_ && !run.hard_timed_out && !run.stopped_as) {
    // Left recorded as running: the next start resumes it from its last checkpoint.
    log_event(info, "run_left", {{"job", run.spec->name}, {"run", id.value}});
    on_finished_(RunOutcome{id, run.job, run.spec, run.fire, RunState::kInterrupted,
                            std::move(returned.checkpoint), false});
    return;
  }
  const Instant now = clock_.wall_now();
  RunState state = returned.threw ? RunState::kFailed : RunState::kSucceeded;
  if (run.stopped_as) state = *run.stopped_as;
  run.checkpoint = std::move(returned.checkpoint);
  RunRecord record = record_of(run, state);
  record.ended = run.ended.value_or(now);
  record.exit_code = returned.threw ? 1 : 0;
  record.message = returned.message;
  if (run.hard_timed_out) {
    record.message = "hard timeout; the handler returned " +
                     std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        now - *run.ended)
                                        .count()) +
                     " ms later";
  }
  json fields = {{"job", run.spec->name},
                 {"run", id.value},
                 {"state", to_string(state)},
                 {"attempt", run.fire.attempt},
                 {"duration_s", seconds(now - run.started)}};
  if (!record.message.empty()) fields["message"] = record.message;
  log_event(state == RunState::kSucceeded ? info : warn, "run_finished", fields);
  {
    // The run's end and what its owner makes of it (a retry's pending fire) are one write.
    StoreGroup group(store_);
    store_.put_run(record);
    RunOutcome outcome{id, run.job, run.spec, run.fire, state, run.checkpoint, true};
    on_finished_(outcome);
  }
}

}  // namespace skedd
