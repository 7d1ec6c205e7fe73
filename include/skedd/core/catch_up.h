#pragma once

#include <cstdint>
#include <vector>

#include "skedd/core/job_spec.h"
#include "skedd/time/types.h"

namespace skedd {

/// What to do about the fires a job missed while skedd was not running.
struct CatchUpPlan {
  std::vector<Instant> run;  ///< fires to run now, oldest first
  std::uint64_t missed = 0;  ///< fires that will not run
  Instant first_missed{};
  Instant last_missed{};
};

/// Splits the fires of `spec` strictly after `since` and at or before `now` per its catch_up:
/// none: every one missed; once: the latest runs, the rest missed; all: the latest
/// max_catch_up run, the rest missed. `every` counts from `since` (its last fire). A fire to
/// run still obeys starting_deadline when the dispatcher sees it. Pure; the enumeration stops
/// after kMaxCatchUpScan fires (the rest are not counted).
CatchUpPlan plan_catch_up(const JobSpec& spec, Instant since, Instant now);

constexpr std::uint64_t kMaxCatchUpScan = 1'000'000;

}  // namespace skedd
