#pragma once

#include <string>

#include "skedd/util/result.h"

namespace skedd::config {

/// cron's rule for files that define what runs (and as whom): a regular file, owned by root
/// or by the current user, and not writable by group or others. The error names the file
/// and the reason.
Status check_file_safety(const std::string& path);

}  // namespace skedd::config
