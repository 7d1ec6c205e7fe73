// [workflow.NAME] tables -> WorkflowSpec, checked against the jobs they name.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "config/diagnostics.h"
#include "skedd/core/job_spec.h"
#include "skedd/core/workflow.h"
#include "skedd/time/time_zone.h"

namespace skedd::config {

/// The jobs the steps of `root`'s [workflow.NAME] tables name, each with the first workflow
/// naming it, added to `out`. Read before any job table, so that a job without a schedule of
/// its own is known to be a step (and a step job with one is an error where the job is).
/// What is malformed is skipped here: read_workflow_tables() reports it.
void collect_step_jobs(const toml::table& root, std::map<std::string, std::string>& out);

/// Reads every [workflow.NAME] table of `workflows` (the value of the top-level "workflow"
/// key of `file`) into `out`, checked against `jobs` (every job of the configuration, in
/// file order, step jobs included) and the workflows already in `out`: a cycle, an unknown
/// step, need or job, a job of another user, or two steps whose names give the same
/// SKEDD_IN_ variables are errors naming what is wrong. A workflow with errors is not added.
/// `has_job_table` says whether a [job.NAME] table of that name exists in some file: a step
/// whose job has errors of its own is not reported again as naming an undefined job.
void read_workflow_tables(const toml::table& workflows, const std::string& file,
                          const TimeZone& default_zone, const std::vector<JobSpec>& jobs,
                          const std::function<bool(const std::string&)>& has_job_table,
                          std::vector<WorkflowSpec>& out, Diagnostics& diag);

}  // namespace skedd::config
