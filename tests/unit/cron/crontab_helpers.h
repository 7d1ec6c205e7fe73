// The crontab sources the crontab reader and importer tests read from: files named like
// Debian's, in Europe/Berlin so that DST is in play.
#pragma once

#include <string>

#include "schedule/schedule_helpers.h"
#include "skedd/cron/crontab.h"

namespace skedd::testing {

/// A system crontab (/etc/crontab or a cron.d file: a user field on each line).
inline CrontabSource system_file(const std::string& path) {
  return {path, CrontabFormat::kSystem, "", zone("Europe/Berlin")};
}

/// A user's crontab in cron's spool (no user field).
inline CrontabSource user_file(const std::string& user) {
  return {"/var/spool/cron/crontabs/" + user, CrontabFormat::kUser, user, zone("Europe/Berlin")};
}

}  // namespace skedd::testing
