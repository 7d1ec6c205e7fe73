#pragma once

#include <map>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "config/diagnostics.h"
#include "skedd/config/config.h"

namespace skedd::config {

/// What job tables are read against: daemon defaults and the [defaults] table.
struct JobContext {
  const DaemonConfig& daemon;
  const std::map<std::string, int>& pools;
  const toml::table* defaults = nullptr;  ///< the [defaults] table, if any
  std::string defaults_file;
  /// The jobs workflows name as steps, each with the first workflow naming it: such a job has
  /// no schedule of its own (and another job must have one). Null: none.
  const std::map<std::string, std::string>* step_jobs = nullptr;
};

/// Reads every [job.NAME] table of `jobs` (the value of the top-level "job" key of `file`)
/// into `out`; every problem goes to `diag`, and a job with errors is not added.
void read_job_tables(const toml::table& jobs, const std::string& file, const JobContext& context,
                     std::vector<JobSpec>& out, Diagnostics& diag);

/// Checks the keys of a [defaults] table without building a job.
void check_defaults_table(const toml::table& defaults, const std::string& file,
                          const std::map<std::string, int>& pools, Diagnostics& diag);

}  // namespace skedd::config
