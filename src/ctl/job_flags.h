// What `skedctl add` and `update` read: a TOML file, or flags that make one. Apart from the
// commands so that it can be fuzzed (fuzz/skedctl_fuzz.cpp) without a socket.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "skedd/time/types.h"
#include "skedd/util/result.h"

namespace skedd::ctl {

struct JobFlags {
  std::string file;
  std::string name;
  std::string cron, every, at, command, user, group, timezone, overlap, soft_timeout, hard_timeout,
      pool;
  std::optional<int> retries, priority;
  /// `update` with flags: only the keys given (the daemon keeps the others), so neither a
  /// command nor a schedule is required.
  bool partial = false;
  /// Set by definition_of(): the flag each line of a flags definition came from ("" for the
  /// table's header), so that the daemon's "api:LINE:COL: ..." errors can name the flag.
  std::vector<std::string> line_flags;
};

/// The definition to send: the file's text, or one [job.NAME] table of the flags, each value
/// a TOML string (so no flag can add a key or a table). An error says which flags are missing
/// or clash, or which flag is not UTF-8 (TOML cannot hold it).
Result<std::string> definition_of(JobFlags& flags);

/// --at as the daemon reads it: RFC 3339 as given, or a civil time ("2026-12-24T18:00:00",
/// "2026-12-24 18:00") in --timezone (else the local zone) turned into RFC 3339 with its
/// offset. Refused when it is not after `now`.
Result<std::string> at_of(const std::string& at, const std::string& timezone, Instant now);

/// The daemon's errors about a flags definition with each "api:LINE:COL: " replaced by the
/// flag that line came from ("--cron: ..."): by the key the message names, else (not
/// `merged` into a recorded definition, whose lines are not the flags') by its line.
std::string with_flag_names(const std::string& message, const std::vector<std::string>& lines,
                            bool merged);

}  // namespace skedd::ctl
