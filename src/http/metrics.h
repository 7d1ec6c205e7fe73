// skedd's Prometheus metrics: counters and histograms kept from the runtime's events (a sink
// in front of the log's), and gauges read from the engine at each scrape, rendered in the
// Prometheus text exposition format (version 0.0.4).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "control/control.h"
#include "runtime/engine.h"
#include "skedd/runtime/events.h"
#include "skedd/store/store.h"

namespace skedd::http {

/// A histogram with fixed upper bounds (seconds); counts are per bucket, not cumulative.
template <std::size_t N>
struct Histogram {
  std::array<std::uint64_t, N + 1> counts{};  ///< the last: above every bound
  double sum = 0;
  void observe(const std::array<double, N>& bounds, double v);
};

inline constexpr std::array<double, 10> kLatenessBounds = {0.001, 0.005, 0.01, 0.05, 0.1,
                                                           0.5,   1,     5,    10,   60};
inline constexpr std::array<double, 10> kDurationBounds = {1,   5,    15,    60,    300,
                                                           900, 3600, 10800, 43200, 86400};

/// What one job has done since skedd started (or since the job was loaded).
struct JobCounters {
  std::map<std::string, std::uint64_t> runs;  ///< by result (the run's final state)
  std::uint64_t started = 0;                  ///< fires that started a run
  std::map<std::pair<std::string, std::string>, std::uint64_t> not_run;  ///< (state, reason)
  Histogram<kLatenessBounds.size()> lateness;
  Histogram<kDurationBounds.size()> duration;
  std::optional<double> last_success;  ///< Unix seconds
  std::optional<double> last_failure;
  std::optional<double> first_fire;  ///< the scheduled instant of its first fire since the start
  std::map<std::pair<std::string, std::string>, std::uint64_t> hooks;  ///< (hook, outcome)
};

/// What the metrics keep of a workflow since skedd started (its last success and failure
/// seeded from the history).
struct WorkflowCounters {
  std::map<std::string, std::uint64_t> runs;  ///< ended, by state
  std::optional<double> last_success;         ///< Unix seconds
  std::optional<double> last_failure;
};

/// Who scrapes: everything (root, or metrics_public), or the jobs `sees` admits.
using Viewer = JobViewer;

/// What a scrape reads besides the engine and the counters.
struct ScrapeContext {
  std::string version;
  double started_at = 0;  ///< Unix seconds
  double loop_lag = 0;    ///< how long this scrape's request waited for the loop, seconds
  StoreHealth store;
  std::size_t max_jobs = 10000;  ///< jobs with series at most ([http] metrics_max_jobs)
};

class Metrics final : public EventSink {
 public:
  /// Events go on to `next` as they would without metrics.
  explicit Metrics(EventSink& next) : next_(next) {}
  bool wants(EventKind kind, Severity severity) const override;
  void emit(const Event& event) override;

  /// Each job's last success and failure as the history has them (called once at start:
  /// the counters start at 0, the timestamps do not).
  void seed(Store& store);

  /// The whole exposition for `viewer`. Loop thread.
  std::string render(const Engine& engine, const Viewer& viewer, const ScrapeContext& ctx) const;

  /// The counters of a job, if any were kept (tests).
  const JobCounters* job(const std::string& name) const;
  /// The job's success deadline as skedd_job_success_deadline_timestamp_seconds has it
  /// (Unix seconds); nullopt while it is paused or has no next fire.
  std::optional<double> deadline_of(const Engine& engine, const Engine::JobInfo& info) const;

 private:
  static bool counted(EventKind kind);
  JobCounters& of(const nlohmann::json& fields);
  EventSink& next_;
  std::map<std::string, JobCounters> jobs_;
  std::map<std::string, WorkflowCounters> workflows_;
  std::uint64_t resumed_ = 0;
  std::uint64_t adopted_ = 0;
  std::uint64_t clock_jumps_ = 0;
  std::uint64_t store_errors_ = 0;
};

/// How long after a fire a job must have succeeded: `expect_duration` (else the hard timeout,
/// else an hour) plus `expect_grace`.
Duration expected_takes(const JobSpec& spec);

/// When a job that last succeeded at `since` must succeed again by: the first fire of its
/// schedule strictly after `since`, plus expected_takes(). `next` is the job's next fire
/// (every-schedules are anchored on it). nullopt when no such fire exists.
std::optional<Instant> success_deadline(const JobSpec& spec, Instant next, Instant since);

/// `s` as a label value: backslash, double quote and newline escaped.
std::string label_value(const std::string& s);

}  // namespace skedd::http
