// What the soak loop (soak.cpp) saw and what the history must say about it: the jobs it
// defined, each kill and restart with its timing, what the jobs stamped themselves, and the
// checker that reads the database afterwards and holds it to skedd's promises (../shared/
// DESIGN.md, "Semantics to get right").
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "skedd/store/store.h"

namespace skedd::soak {

enum class CatchUp { kNone, kOnce, kAll };

/// One job of the loop's mix.
struct PlannedJob {
  std::string name{};
  /// Recurring: the time between fires (the fires are first + k * period). One-shot: zero.
  Duration period{0};
  std::optional<Instant> at{};  ///< a one-shot's instant
  CatchUp catch_up = CatchUp::kNone;
  bool command = true;  ///< false: an in-process handler (no stamps, no run host)
  /// Exits with (the scheduled second + 100) % 5, which the checker recomputes.
  bool exit_by_second = false;
  /// Checkpoints 1, 2, ... and stamps each; a resumed attempt must start from the last one
  /// committed.
  bool checkpoints = false;
};

/// How a cycle ended.
enum class Kill {
  kDaemon,  ///< SIGKILL to skedd alone: its runs and the run host live on (adopted next)
  kRuns,    ///< and SIGKILL to every run's process group: the run host sees them killed
  kReboot,  ///< and everything, run host included, and the state says another boot
};
const char* to_string(Kill k);

struct Cycle {
  Kill kill = Kill::kDaemon;
  Instant started{};     ///< just before skedd was started
  Instant killed{};      ///< just before the SIGKILL
  Instant next_start{};  ///< just before the next skedd was started
  /// By job, the first fire the next skedd scheduled when it loaded the job (its job_loaded
  /// "next"): the fires before it were due while skedd was down, as that skedd saw it (it
  /// loads its jobs a while after it was started). Absent when it was killed before.
  std::map<std::string, Instant> next_first;
  /// Runs the database held as running once skedd was dead (before any run was killed).
  std::vector<RunRecord> running;
};

/// A line a job wrote to DIR/stamps: "start JOB SCHEDULED ATTEMPT RUN CHECKPOINT" when it
/// starts (CHECKPOINT: SKEDD_CHECKPOINT, "none" when empty), "emit RUN N" when it writes
/// checkpoint N.
struct Stamp {
  std::string kind;
  std::string job;
  std::string scheduled;
  int attempt = 0;
  std::uint64_t run = 0;
  std::string checkpoint;
};

/// Parses DIR/stamps; a line that is not a stamp (a run killed mid-write) is counted in `torn`.
std::vector<Stamp> parse_stamps(const std::string& text, int* torn);

struct Counts {
  std::uint64_t fires = 0;       ///< fires accounted for, all jobs
  std::uint64_t runs = 0;        ///< run records
  std::uint64_t down_fires = 0;  ///< fires due while skedd was down, checked per catch_up
  std::uint64_t resumes = 0;     ///< attempts started from an earlier attempt's checkpoint
  std::uint64_t real_exits = 0;  ///< runs in flight at a kill recorded with their real end
  std::uint64_t doubled = 0;     ///< an attempt started twice, or a fire accounted twice
  std::uint64_t lost = 0;        ///< a fire accounted for by nothing, or a run unrecorded
};

struct Verdict {
  Counts counts;
  std::vector<std::string> problems;  ///< empty: the history keeps every promise
};

/// Checks the store of a loop that has ended (its last skedd drained and stopped) against
/// the jobs, the cycles and the stamps. `end`: when the last skedd was asked to drain.
Verdict check_history(Store& store, const std::vector<PlannedJob>& jobs,
                      const std::vector<Cycle>& cycles, const std::vector<Stamp>& stamps,
                      Instant end);

}  // namespace skedd::soak
