#include "runtime/handler_runner.h"

#include <algorithm>
#include <atomic>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <stdexcept>

#include "runtime/log_fields.h"
#include "runtime/started_run.h"
#include "skedd/runtime/events.h"
#include "skedd/time/duration.h"
#include "util/thread_name.h"

namespace skedd {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxHandlerCheckpoint = 64 * 1024;
// How many ended runs' nodes the runner keeps for reuse (see HandlerRunner::spare_): a busy
// runner's runs in flight, as the dispatcher's default bound on them.
constexpr std::size_t kSpareRuns = 1024;

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

const nlohmann::json& RunContext::params() const {
  static const nlohmann::json kNone = nlohmann::json::object();
  return info_.params.is_null() ? kNone : info_.params;
}

void RunContext::progress(double percent, const std::string& message) {
  sink_.progress(info_.run, percent, message);
}

void RunContext::output(const std::string& key, const std::string& value) {
  if (auto valid = validate_output_key(key); !valid) {
    throw std::invalid_argument(valid.error().message);
  }
  if (value.find('\0') != std::string::npos) {
    throw std::invalid_argument("output " + key + ": the value holds a NUL byte");
  }
  if (!outputs_.admit(key, value.size())) {
    throw std::length_error("output " + key + ": the run's outputs would pass " +
                            std::to_string(kMaxOutputBytes) + " bytes in all");
  }
  sink_.output(info_.run, key, value);
}

void RunContext::heartbeat() {
  sink_.heartbeat(info_.run);
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

// A run's store access from its handler's thread. A handler run's `running` row is written
// only when it is needed: before its first checkpoint or progress (which update that row), or
// at start for on_interrupt = "fail" jobs, whose restart must see that the run began. A run
// that ends without either is recorded once, at its end; if the program dies first, its
// pending fire (committed before the start) is offered again as the same attempt.
class HandlerRunner::RunSink final : public RunContext::Sink {
 public:
  /// `run` outlives every call but end()'s successors (its fields read here do not change
  /// while its handler runs).
  RunSink(Store& store, const Clock& clock, const StartedRun& run)
      : store_(store), clock_(clock), run_(run) {
    touch();
  }

  void write_running_row() {
    std::lock_guard lock(mu_);
    ensure_row();
  }
  bool checkpoint(RunId run, const std::string& text) override {
    touch();
    {
      std::lock_guard lock(mu_);
      if (over_) return true;  // recorded as ended (hard timeout): nothing more is kept
      ensure_row();
      store_.put_checkpoint(run, text);
    }
    std::promise<bool> committed;
    std::future<bool> done = committed.get_future();
    store_.when_committed(
        [&committed](const Status& status) { committed.set_value(static_cast<bool>(status)); });
    return done.get();
  }
  void progress(RunId run, double percent, const std::string& message) override {
    touch();
    std::lock_guard lock(mu_);
    if (over_) return;
    ensure_row();
    store_.put_progress(run, percent, message);
  }
  void output(RunId run, const std::string& key, const std::string& value) override {
    touch();
    std::lock_guard lock(mu_);
    if (over_) return;
    // The row first, as for a checkpoint: a run that dies now is then recorded interrupted,
    // and its fire's next attempt (another run id) starts without these outputs.
    ensure_row();
    store_.put_output(run, key, value);
  }
  void heartbeat(RunId) override { touch(); }
  /// When the handler last gave a sign of life (its start, a heartbeat, progress or a
  /// checkpoint); any thread.
  MonoInstant last_activity() const { return MonoInstant(Duration(last_activity_.load())); }
  std::optional<std::string> next_input(RunId) override {
    std::lock_guard lock(mu_);
    if (input_.empty()) return std::nullopt;
    std::string line = std::move(input_.front());
    input_.pop_front();
    return line;
  }
  /// A line for the handler's next_input() (the loop's thread); false when kMaxInput wait.
  bool push_input(std::string line) {
    std::lock_guard lock(mu_);
    if (input_.size() >= kMaxInput) return false;
    input_.push_back(std::move(line));
    return true;
  }
  static constexpr std::size_t kMaxInput = 64;

  /// The run's final row (the loop's thread); later checkpoints are ignored.
  void end(RunRecord record) {
    std::lock_guard lock(mu_);
    over_ = true;
    store_.put_run(std::move(record));
  }

 private:
  void ensure_row() {
    if (written_) return;
    written_ = true;
    // Built when needed only: most runs never write this row.
    store_.put_run(run_.record(RunState::kRunning));
  }

  void touch() { last_activity_.store(clock_.mono_now().time_since_epoch().count()); }

  Store& store_;
  const Clock& clock_;
  const StartedRun& run_;
  std::atomic<Duration::rep> last_activity_{0};
  std::mutex mu_;
  bool written_ = false;           // GUARDED_BY(mu_)
  bool over_ = false;              // GUARDED_BY(mu_)
  std::deque<std::string> input_;  // GUARDED_BY(mu_)
};

struct HandlerRunner::Run : StartedRun {
  std::stop_source stop;
  /// Set by a cancel or the soft timeout: the state the run ends in when it returns.
  std::optional<RunState> stopped_as;
  /// Set when the run was recorded ended before its handler returned (hard timeout,
  /// on_stall_kill): its slot is held until it returns. `over_why` names why.
  std::optional<Instant> ended;
  std::string over_why;
  bool stalled = false;  ///< silent for its stall_timeout, and not since
  std::shared_ptr<RunSink> sink;
};

HandlerRunner::HandlerRunner(asio::io_context& io, const Clock& clock, Store& store, Events events,
                             const HandlerRegistry* handlers, int threads, OnFinished on_finished)
    : io_(io),
      clock_(clock),
      store_(store),
      events_(events),
      handlers_(handlers),
      on_finished_(std::move(on_finished)),
      threads_(threads),
      pool_(static_cast<std::size_t>(threads)) {}

HandlerRunner::~HandlerRunner() {
  for (auto& [id, run] : runs_) run->stop.request_stop();
  pool_.join();
}

void HandlerRunner::start(RunId id, JobId job, std::shared_ptr<const JobSpec> spec,
                          const Fire& fire, std::string checkpoint) {
  Runs::node_type node;
  if (spare_.empty()) {
    Runs fresh;
    node = fresh.extract(fresh.emplace(id, std::make_unique<Run>()).first);
  } else {
    node = std::move(spare_.back());  // reset by on_returned()
    spare_.pop_back();
  }
  node.key() = id;
  Run& run = *node.mapped();
  static_cast<StartedRun&>(run) =
      StartedRun{id, job, std::move(spec), fire, std::move(checkpoint), clock_.wall_now()};
  runs_.insert(std::move(node));

  const Handler* handler =
      handlers_ != nullptr ? handlers_->find(run.spec->options->handler) : nullptr;
  // No params (most jobs): no parse, and no allocation of an empty object per run.
  const std::string& text = run.spec->params;
  json params = text.empty() || text == "{}" ? json() : json::parse(text, nullptr, false);
  if (handler == nullptr || params.is_discarded()) {
    // Config validation makes this unreachable but for a handler unregistered since.
    const std::string message =
        handler == nullptr ? "handler \"" + run.spec->options->handler + "\" is not registered"
                           : "params are not a JSON object";
    on_returned(Returned{id, true, message, run.checkpoint});
    return;
  }
  run.sink = std::make_shared<RunSink>(store_, clock_, run);
  if (run.spec->options->on_interrupt == OnInterrupt::kFail) run.sink->write_running_row();
  if (events_.wants(EventKind::kRunStarted, Severity::kInfo)) {
    events_.emit(Severity::kInfo, EventKind::kRunStarted,
                 {{"job", run.spec->name},
                  {"run", id.value},
                  {"handler", run.spec->options->handler},
                  {"attempt", fire.attempt},
                  {"scheduled", utc(fire.scheduled)},
                  {"lateness_ms", millis(run.started - fire.due)}});
  }
  const MonoInstant now = clock_.mono_now();
  const JobOptions& options = *run.spec->options;
  if (options.soft_timeout) push_deadline(id, Deadline::kSoft, now + *options.soft_timeout);
  if (options.hard_timeout) push_deadline(id, Deadline::kHard, now + *options.hard_timeout);
  if (options.stall_timeout) push_deadline(id, Deadline::kStall, now + *options.stall_timeout);
  RunContext::Info info{run.spec->name, id, fire.scheduled, fire.attempt, std::move(params),
                        run.checkpoint};
  if (to_hand_over_.empty()) {
    asio::post(io_, [this, alive = std::weak_ptr(alive_)] {
      if (alive.lock()) hand_over();
    });
  }
  to_hand_over_.push_back(Task{id, handler, std::move(info), run.stop.get_token(), run.sink});
}

void HandlerRunner::hand_over() {
  if (to_hand_over_.empty()) return;
  int idle = 0;
  {
    std::lock_guard lock(mu_);
    // The tasks taken already go once they are half the queue: each is moved once at most.
    if (queued_head_ > 0 && queued_head_ >= queued_.size() / 2) {
      queued_.erase(queued_.begin(), queued_.begin() + static_cast<std::ptrdiff_t>(queued_head_));
      queued_head_ = 0;
    }
    for (Task& task : to_hand_over_) queued_.push_back(std::move(task));
    idle = static_cast<int>(
        std::min(static_cast<std::size_t>(threads_ - draining_), queued_.size() - queued_head_));
    draining_ += idle;
  }
  to_hand_over_.clear();
  for (int i = 0; i < idle; ++i) {
    asio::post(pool_, [this] { drain(); });
  }
}

void HandlerRunner::drain() {
  thread_local const bool named = (name_this_thread("skedd-handler"), true);
  (void)named;
  for (;;) {
    std::optional<Task> task;
    {
      std::lock_guard lock(mu_);
      if (queued_head_ == queued_.size()) {
        --draining_;
        return;
      }
      task.emplace(std::move(queued_[queued_head_]));
      // Emptied: its room is kept for the next tasks (no allocation per task).
      if (++queued_head_ == queued_.size()) {
        queued_.clear();
        queued_head_ = 0;
      }
    }
    RunContext context(std::move(task->info), *task->sink, std::move(task->stop));
    Returned returned{task->id, false, {}, {}};
    try {
      (*task->handler)(context);
    } catch (const std::exception& e) {
      returned.threw = true;
      returned.message = e.what();
    } catch (...) {
      returned.threw = true;
      returned.message = "the handler threw an exception not derived from std::exception";
    }
    returned.checkpoint = context.last_checkpoint();
    task.reset();  // the sink and params go with the thread's work, not the loop's
    bool first = false;
    {
      std::lock_guard lock(mu_);
      first = returned_.empty();
      returned_.push_back(std::move(returned));
    }
    // One wake-up of the loop per batch of returns: later ones join the batch until then.
    if (first) {
      asio::post(io_, [this, alive = std::weak_ptr(alive_)] {
        if (alive.lock()) collect();
      });
    }
  }
}

void HandlerRunner::collect() {
  std::vector<Returned> returned;
  {
    std::lock_guard lock(mu_);
    returned.swap(returned_);
  }
  for (Returned& r : returned) on_returned(std::move(r));
}

void HandlerRunner::record_end(Run& run, RunRecord record) {
  if (run.sink) {
    run.sink->end(std::move(record));
  } else {
    store_.put_run(std::move(record));  // never started
  }
}

Status HandlerRunner::send_input(RunId id, const std::string& line) {
  const auto it = runs_.find(id);
  if (it == runs_.end() || !it->second->sink) return Error::not_found("not running");
  if (!it->second->sink->push_input(line)) {
    return Error::invalid_argument("64 lines wait already: the handler is not reading its input");
  }
  return Ok{};
}

void HandlerRunner::cancel(RunId id, RunState as) {
  const auto it = runs_.find(id);
  if (it == runs_.end()) return;
  Run& run = *it->second;
  if (!run.stopped_as) run.stopped_as = as;
  run.stop.request_stop();
  events_.emit(Severity::kInfo, EventKind::kRunCancelled,
               {{"job", run.spec->name}, {"run", id.value}});
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

void HandlerRunner::on_deadlines() {
  for (const auto& entry : deadlines_.pop_due(clock_.mono_now())) {
    switch (entry.payload.kind) {
      case Deadline::kSoft:
        on_soft_timeout(entry.payload.run);
        break;
      case Deadline::kHard:
        on_hard_timeout(entry.payload.run);
        break;
      case Deadline::kStall:
        on_stall_check(entry.payload.run);
        break;
    }
  }
}

std::optional<RunRecord> HandlerRunner::record_of(RunId id) const {
  const auto it = runs_.find(id);
  if (it == runs_.end()) return std::nullopt;
  RunRecord record = it->second->record(RunState::kRunning);
  record.ended = it->second->ended;
  if (it->second->stopped_as && it->second->ended) record.state = *it->second->stopped_as;
  return record;
}

int HandlerRunner::stalled_runs() const {
  int n = 0;
  for (const auto& [id, run] : runs_) n += run->stalled ? 1 : 0;
  return n;
}

int HandlerRunner::stalled_of(JobId job) const {
  int n = 0;
  for (const auto& [id, run] : runs_) n += run->stalled && run->job == job ? 1 : 0;
  return n;
}

void HandlerRunner::on_soft_timeout(RunId id) {
  const auto it = runs_.find(id);
  if (it == runs_.end()) return;
  Run& run = *it->second;
  events_.emit(Severity::kWarn, EventKind::kSoftTimeout,
               {{"job", run.spec->name}, {"run", id.value}, {"effect", "cancellation requested"}});
  if (!run.stopped_as) run.stopped_as = RunState::kTimedOut;
  run.stop.request_stop();
}

void HandlerRunner::record_over(Run& run, RunState state, std::string why) {
  // A thread cannot be killed: the run is over for the history, and its slot stays held until
  // its handler returns.
  run.stopped_as = state;
  run.stop.request_stop();
  run.ended = clock_.wall_now();
  run.over_why = std::move(why);
  RunRecord record = run.record(state);
  record.ended = run.ended;
  record.message =
      run.over_why + ": the handler is still running; its slot is held until it returns";
  record_end(run, std::move(record));
}

void HandlerRunner::on_stall_check(RunId id) {
  const auto it = runs_.find(id);
  if (it == runs_.end() || it->second->ended || !it->second->sink) return;
  Run& run = *it->second;
  const Duration limit = *run.spec->options->stall_timeout;
  const MonoInstant now = clock_.mono_now();
  const MonoInstant last = run.sink->last_activity();
  if (now - last < limit) {
    if (run.stalled) {
      run.stalled = false;
      events_.emit(Severity::kInfo, EventKind::kRunActiveAgain,
                   {{"job", run.spec->name}, {"run", id.value}});
    }
    push_deadline(id, Deadline::kStall, last + limit);
    return;
  }
  if (run.stalled) {
    // Looked at again once a second (at most once per stall_timeout) to see it come back.
    push_deadline(id, Deadline::kStall, now + std::min<Duration>(limit, std::chrono::seconds(1)));
    return;
  }
  run.stalled = true;
  const bool kill = run.spec->options->on_stall_kill;
  events_.emit(Severity::kWarn, EventKind::kRunStalled,
               {{"job", run.spec->name},
                {"run", id.value},
                {"silent_s", seconds(now - last)},
                {"effect", kill ? "stop requested, recorded stalled (on_stall_kill)"
                                : "marked stalled; it goes on"}});
  if (on_stall_) {
    RunOutcome stalled{id,
                       run.job,
                       run.spec,
                       run.fire,
                       kill ? RunState::kStalled : RunState::kRunning,
                       run.checkpoint,
                       true};
    stalled.message = "silent for " + format_duration(now - last);
    on_stall_(stalled);
  }
  if (kill) {
    record_over(run, RunState::kStalled,
                "stalled: no heartbeat, progress or checkpoint for " + format_duration(limit) +
                    " (on_stall_kill)");
  } else {
    push_deadline(id, Deadline::kStall, now + std::min<Duration>(limit, std::chrono::seconds(1)));
  }
}

void HandlerRunner::on_hard_timeout(RunId id) {
  const auto it = runs_.find(id);
  if (it == runs_.end() || it->second->ended) return;
  Run& run = *it->second;
  record_over(run, RunState::kTimedOut, "hard timeout");
  events_.emit(Severity::kWarn, EventKind::kHardTimeout,
               {{"job", run.spec->name},
                {"run", id.value},
                {"effect",
                 "recorded timed_out; the handler's thread cannot be killed, its slot is "
                 "held until it returns"}});
}

void HandlerRunner::on_returned(Returned returned) {
  const auto it = runs_.find(returned.id);
  if (it == runs_.end()) return;
  Runs::node_type node = runs_.extract(it);
  for (Deadline kind : {Deadline::kSoft, Deadline::kHard, Deadline::kStall}) {
    deadlines_.remove(timeout_key(returned.id, kind));
  }
  end_returned(*node.mapped(), std::move(returned));
  if (spare_.size() < kSpareRuns) {
    *node.mapped() = Run{};  // lets go of its job and sink now
    spare_.push_back(std::move(node));
  }
}

void HandlerRunner::end_returned(Run& run, Returned returned) {
  const RunId id = returned.id;
  // A run with no sink never started (its handler gone): it fails, shutdown or not.
  if (stopping_ && run.sink && !run.ended && !run.stopped_as) {
    // Left recorded as running: the next start resumes it from its last checkpoint.
    run.sink->write_running_row();
    events_.emit(Severity::kInfo, EventKind::kRunLeft,
                 {{"job", run.spec->name}, {"run", id.value}});
    on_finished_(RunOutcome{id, run.job, run.spec, run.fire, RunState::kInterrupted,
                            std::move(returned.checkpoint), false});
    return;
  }
  const Instant now = clock_.wall_now();
  RunState state = returned.threw ? RunState::kFailed : RunState::kSucceeded;
  if (run.stopped_as) state = *run.stopped_as;
  run.checkpoint = std::move(returned.checkpoint);
  RunRecord record = run.record(state);
  record.ended = run.ended.value_or(now);
  record.exit_code = returned.threw ? 1 : 0;
  record.message = returned.message;
  if (run.ended) {
    // over_why up to its first ':' ("hard timeout", "stalled").
    record.message =
        run.over_why.substr(0, run.over_why.find(':')) + "; the handler returned " +
        std::to_string(
            std::chrono::duration_cast<std::chrono::milliseconds>(now - *run.ended).count()) +
        " ms later";
  }
  const auto level = state == RunState::kSucceeded ? Severity::kInfo : Severity::kWarn;
  if (events_.wants(EventKind::kRunFinished, level)) {
    json fields = {{"job", run.spec->name},
                   {"run", id.value},
                   {"state", to_string(state)},
                   {"attempt", run.fire.attempt},
                   {"duration_s", seconds(now - run.started)}};
    if (!record.message.empty()) fields["message"] = record.message;
    events_.emit(level, EventKind::kRunFinished, fields);
  }
  {
    // The run's end and what its owner makes of it (a retry's pending fire) are one write.
    StoreGroup group(store_);
    RunOutcome outcome{id, run.job, run.spec, run.fire, state, run.checkpoint, true};
    outcome.message = record.message;
    record_end(run, std::move(record));
    on_finished_(outcome);
  }
}

}  // namespace skedd
