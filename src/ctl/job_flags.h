// What `skedctl add` and `update` read: a TOML file, or flags that make one. Apart from the
// commands so that it can be fuzzed (fuzz/skedctl_fuzz.cpp) without a socket.
#pragma once

#include <optional>
#include <string>

#include "skedd/util/result.h"

namespace skedd::ctl {

struct JobFlags {
  std::string file;
  std::string name;
  std::string cron, every, at, command, user, group, timezone, overlap, soft_timeout, hard_timeout,
      pool;
  std::optional<int> retries, priority;
};

/// The definition to send: the file's text, or one [job.NAME] table of the flags, each value
/// a TOML string (so no flag can add a key or a table). An error says which flags are missing
/// or clash, or which flag is not UTF-8 (TOML cannot hold it).
Result<std::string> definition_of(const JobFlags& flags);

}  // namespace skedd::ctl
