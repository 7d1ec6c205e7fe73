#pragma once

#include <memory>
#include <string>

#include "skedd/core/job_spec.h"
#include "skedd/core/run.h"
#include "skedd/store/store.h"

namespace skedd {

/// What every run starts with, a process's (Supervisor) or a handler's (HandlerRunner).
struct StartedRun {
  RunId id;
  JobId job;
  std::shared_ptr<const JobSpec> spec;
  Fire fire;
  std::string checkpoint;  ///< handed over at start, then the last one
  Instant started{};

  /// Its history record in `state`, as far as these fields tell it.
  RunRecord record(RunState state) const {
    RunRecord r;
    r.run = id;
    r.job = spec->name;
    r.scheduled = fire.scheduled;
    r.attempt = fire.attempt;
    r.state = state;
    r.started = started;
    r.lateness = started - fire.due;
    r.checkpoint = checkpoint;
    return r;
  }
};

}  // namespace skedd
