// Reading the crontabs of [cron] sources as cron would: which files, whose, and whether they
// are safe to run.
#pragma once

#include <string>
#include <vector>

#include "skedd/core/job_spec.h"
#include "skedd/time/time_zone.h"

namespace skedd {

/// The jobs of every crontab of `sources`, and what could not be loaded.
struct CrontabJobs {
  std::vector<JobSpec> jobs;
  /// Skipped files ("FILE: reason") and lines ("FILE:LINE: message"), in the order read.
  std::vector<std::string> errors;
  /// Lines that load but behave in a way worth a note.
  std::vector<std::string> warnings;
};

/// Reads the crontabs of `sources`, each a file or a directory:
///  - a file is read in the system format (/etc/crontab: a user field on each line);
///  - a directory whose name is `crontabs` is a user spool (/var/spool/cron/crontabs): each
///    file is named after its user, must be owned by that user, and is read in the user
///    format;
///  - any other directory is read as /etc/cron.d: each file in the system format, skipping
///    names that are not only letters, digits, '-' and '_' (as Debian's cron skips
///    *.dpkg-old and the like).
/// As Debian's cron checks them: a system crontab must be a regular file (or a symlink owned
/// by root to one) owned by root and not writable by group or others; a spool crontab a
/// regular file (no symlink) owned by its user or root, mode exactly 0600; either with one
/// hard link only. A file that is not is skipped with the reason; so is a file whose last
/// line lacks its newline (cron ignores all of it). Spool files named tmp.* (crontab(1)
/// writing one) are passed over silently. Lines cron could not read are skipped; the rest
/// load. A missing source is not an error (cron's directories may be absent).
CrontabJobs load_crontabs(const std::vector<std::string>& sources, const TimeZone& zone);

/// A text that changes when a crontab of `sources` is added, removed or modified (paths,
/// sizes and modification times), for noticing edits. While a file's time is less than 2 s
/// old it differs on every call (an edit within the same tick of that time would not show).
std::string crontab_fingerprint(const std::vector<std::string>& sources);

/// Whether a cron daemon (a process named cron or crond) runs on this host: with [cron]
/// sources set, every job would then run twice.
bool cron_daemon_running();

/// Of `sources`, those that are cron's own files (/etc/crontab, /etc/cron.d, the spool
/// /var/spool/cron/crontabs, or /var/spool/cron above it), which a running cron reads too.
std::vector<std::string> cron_files_among(const std::vector<std::string>& sources);

/// The warning skedd gives (at start, in `skedctl status`) when `cron_running` and `sources`
/// name cron's files: every line would run twice. Empty when there is nothing to say.
std::string cron_conflict(const std::vector<std::string>& sources, bool cron_running);

}  // namespace skedd
