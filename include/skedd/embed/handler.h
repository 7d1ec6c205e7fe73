// In-process handlers: what a job whose action is `handler = "NAME"` runs, on skedd's bounded
// handler thread pool, instead of a process.
#pragma once

#include <functional>
#include <map>
#include <set>
#include <stop_token>
#include <string>

#include <nlohmann/json.hpp>

#include "skedd/core/run.h"
#include "skedd/core/run_channel.h"
#include "skedd/time/types.h"
#include "skedd/util/result.h"

namespace skedd {

/// What one handler run sees and may do. Lives for the duration of the handler call; used on
/// the handler's thread only.
class RunContext {
 public:
  /// Where checkpoints and progress go (skedd's store). Implemented by skedd.
  class Sink {
   public:
    virtual ~Sink() = default;
    /// Records `text` as the run's checkpoint; returns once it is committed (true) or a
    /// commit of it failed (false; it stays queued and is retried).
    virtual bool checkpoint(RunId run, const std::string& text) = 0;
    virtual void progress(RunId run, double percent, const std::string& message) = 0;
    /// Records the run's output `key` (valid, within the run's bound: RunContext checks).
    virtual void output(RunId run, const std::string& key, const std::string& value) = 0;
    /// The run says it is alive (see RunContext::heartbeat()).
    virtual void heartbeat(RunId run) { (void)run; }
    /// The oldest line given to the run (`skedctl send`) not yet taken; nullopt when none.
    virtual std::optional<std::string> next_input(RunId run) {
      (void)run;
      return std::nullopt;
    }
  };

  struct Info {
    std::string job;
    RunId run;
    Instant scheduled{};  ///< the fire's instant, before jitter
    int attempt = 1;      ///< 1 for a fire's first run; retries and resumes count on
    /// The job's `params` table; null when it has none (params() then gives an empty object).
    nlohmann::json params;
    /// The last checkpoint of this fire, handed over on a resume or a retry; empty otherwise.
    std::string checkpoint;
  };

  RunContext(Info info, Sink& sink, std::stop_token stop) noexcept
      : info_(std::move(info)), sink_(sink), stop_(std::move(stop)) {}
  RunContext(const RunContext&) = delete;
  RunContext& operator=(const RunContext&) = delete;

  const std::string& job() const { return info_.job; }
  RunId run() const { return info_.run; }
  Instant scheduled() const { return info_.scheduled; }
  int attempt() const { return info_.attempt; }
  /// The job's `params` table, as JSON.
  const nlohmann::json& params() const;
  /// The checkpoint to continue from (see Info::checkpoint); after checkpoint(), the latest.
  const std::string& last_checkpoint() const { return info_.checkpoint; }

  /// Records a checkpoint (at most 64 KiB; longer throws std::length_error) and returns once
  /// it is durable, so that
  /// the work it describes is never redone after a crash: a run that is interrupted (the
  /// host process killed) is resumed with it, as is a retry. False when the store could not
  /// commit it (it is retried in the background).
  bool checkpoint(std::string text);
  /// Records progress: `percent` in [0, 100] and an optional message. Does not wait.
  void progress(double percent, const std::string& message = {});
  /// Records a result of the run: `key` matching [A-Za-z][A-Za-z0-9_]{0,63} (else
  /// std::invalid_argument), `value` without a NUL byte (else std::invalid_argument); a key
  /// given again replaces its value. At most 64 KiB of keys and values in all per run (more
  /// throws std::length_error, keeping the earlier ones). Shown with the run, and handed to
  /// the workflow steps after it. Does not wait (durable no later than the run's end).
  void output(const std::string& key, const std::string& value);
  /// Says the run is alive, and nothing more: like progress() and checkpoint(), it keeps a
  /// job with a stall_timeout from being marked stalled. Cheap (no store write); does not wait.
  void heartbeat();
  /// The oldest line given to this run with `skedctl send` (at most 64 wait; one line each,
  /// without its newline) and not yet taken; nullopt when none waits. Does not wait: a
  /// handler polls it where it polls stop_requested().
  std::optional<std::string> next_input() { return sink_.next_input(info_.run); }

  /// Cancellation: requested at the soft timeout, by `cancel`, and when the scheduler stops.
  /// A handler should poll it (or register a std::stop_callback) and return soon after.
  const std::stop_token& stop_token() const { return stop_; }
  bool stop_requested() const { return stop_.stop_requested(); }

 private:
  Info info_;
  Sink& sink_;
  std::stop_token stop_;
  OutputBudget outputs_;
};

/// A handler: returning ends the run as succeeded (or timed_out/cancelled when it returns
/// after such a request); throwing ends it as failed, with the exception's what() as message.
using Handler = std::function<void(RunContext&)>;

/// Handlers by name. Filled before the scheduler starts; read-only afterwards.
class HandlerRegistry {
 public:
  /// Fails (kInvalidArgument) for a name that is not a valid job-style name
  /// ([A-Za-z0-9][A-Za-z0-9_.-]{0,63}), an empty function, or a name registered already.
  Status add(const std::string& name, Handler handler);
  /// nullptr when `name` is not registered.
  const Handler* find(const std::string& name) const;
  std::set<std::string> names() const;
  bool empty() const { return handlers_.empty(); }

 private:
  std::map<std::string, Handler> handlers_;
};

}  // namespace skedd
