// How a run ended, as the supervisor and the handler runner tell the engine.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "skedd/core/job_spec.h"
#include "skedd/core/run.h"

namespace skedd {

/// How a run ended, for its owner's bookkeeping (dispatcher slot, retries).
struct RunOutcome {
  RunOutcome(RunId r, JobId j, std::shared_ptr<const JobSpec> s, Fire f, RunState st, std::string c,
             bool retry)
      : run(r),
        job(j),
        spec(std::move(s)),
        fire(f),
        state(st),
        checkpoint(std::move(c)),
        retryable(retry) {}
  RunId run;
  JobId job;
  std::shared_ptr<const JobSpec> spec;
  Fire fire;
  RunState state = RunState::kFailed;
  std::string checkpoint;  ///< the last one the run wrote, or the one it was given
  bool retryable = true;   ///< false when the exit status is unknown (an adopted run)
  // What its hooks are told (process runs; a handler run's message).
  std::optional<int> exit_code;
  std::optional<int> signal;
  std::string message;
  std::string log_path;
};

}  // namespace skedd
