// How a run ended, as the supervisor and the handler runner tell the engine.
#pragma once

#include <memory>
#include <string>

#include "skedd/core/job_spec.h"
#include "skedd/core/run.h"

namespace skedd {

/// How a run ended, for its owner's bookkeeping (dispatcher slot, retries).
struct RunOutcome {
  RunId run;
  JobId job;
  std::shared_ptr<const JobSpec> spec;
  Fire fire;
  RunState state = RunState::kFailed;
  std::string checkpoint;  ///< the last one the run wrote, or the one it was given
  bool retryable = true;   ///< false when the exit status is unknown (an adopted run)
};

}  // namespace skedd
