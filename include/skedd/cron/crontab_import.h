#pragma once

#include <string>
#include <vector>

#include "skedd/cron/crontab.h"

namespace skedd {

/// What `skedctl import-crontab` prints: jobs.d TOML, and notes for the administrator.
struct CrontabImport {
  /// TOML for a jobs.d file: a header, then per imported line a comment naming file:line and
  /// the line, and a [job."..."] table. Loads with load_config().
  std::string toml;
  /// "file:line: error: ..." for each line not imported and "file:line: warning: ..." where
  /// skedd behaves differently from cron, in line order.
  std::vector<std::string> messages;
  int imported = 0;     ///< jobs in `toml`
  bool failed = false;  ///< some line could not be read or written as TOML
};

/// Writes the entries of `crontab` (read from the file `source` names) as jobs.d TOML, each
/// job as crontab_job_spec() would build it, except where the TOML can leave it to the
/// daemon: HOME, LOGNAME and USER (the daemon sets them from `user`, as cron does), the zone
/// when no CRON_TZ is set (the daemon's [daemon] timezone, by default the host's, as cron's).
/// Job names are crontab_job_name() with ':' made '-' ("cron-crontab-1a2b3c4d"), since ':' is
/// not allowed in a file job's name. Lines the reader refused are errors; a line whose
/// schedule never fires, or whose text is not UTF-8 (TOML cannot hold it), is not imported.
/// Warnings cover MAILTO and output mail, RANDOM_DELAY, @reboot and '%' input.
CrontabImport import_crontab(const Crontab& crontab, const CrontabSource& source);

/// `text` as a TOML basic string, quotes included; control characters escaped. The result is
/// a valid JSON string as well (the two share these escapes).
std::string toml_quote(std::string_view text);

}  // namespace skedd
