#include "config/crontab_sources.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "exec/run_setup.h"
#include "skedd/cron/crontab.h"

namespace skedd {
namespace {

namespace fs = std::filesystem;

std::optional<std::string> home_of(const std::string& user) {
  auto found = lookup_user(user);
  if (!found) return std::nullopt;
  return found->home;
}

// How a crontab is owned and kept for cron to read it (Debian's cron, database.c).
struct FileRule {
  uid_t owner;  ///< who must own it (root also may, for a spool crontab)
  std::string owner_name;
  bool spool = false;  ///< a user's crontab: mode exactly 0600, no symlink
};

std::string mode_text(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

// Opens `path` and checks what was opened (fstat, so the checks are of the file read): its
// text, or why cron would skip it. A system crontab may be a symlink owned by root to a
// root-owned file, as cron(8) allows; a spool one may not.
Result<std::string> read_checked(const std::string& path, const FileRule& rule) {
  struct stat link {};
  if (::lstat(path.c_str(), &link) != 0) return Error::io("cannot be read");
  if (S_ISLNK(link.st_mode)) {
    if (rule.spool) return Error::io("a symlink (cron reads no symlink in the spool)");
    if (link.st_uid != 0) {
      return Error::io("a symlink owned by uid " + std::to_string(link.st_uid) + ", not by root");
    }
  }
  const int fd =
      ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | (rule.spool ? O_NOFOLLOW : 0));
  if (fd < 0) return Error::io(std::string("cannot be read: ") + std::strerror(errno));
  struct stat st {};
  std::string why;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    why = "not a regular file";
  } else if (st.st_uid != rule.owner && !(rule.spool && st.st_uid == 0)) {
    why = "owned by uid " + std::to_string(st.st_uid) + ", not by " + rule.owner_name +
          (rule.spool ? " or root" : "");
  } else if (rule.spool && (st.st_mode & 07777) != 0600) {
    why = "mode " + mode_text(st.st_mode) + ", 0600 expected (fix with chmod 600)";
  } else if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    why = "writable by group or others (mode " + mode_text(st.st_mode) + "; fix with chmod go-w)";
  } else if (st.st_nlink > 1) {
    why = "has " + std::to_string(st.st_nlink) + " hard links (cron reads a file with one only)";
  }
  std::string text;
  if (why.empty()) {
    char buf[65536];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) why = std::string("cannot be read: ") + std::strerror(errno);
      if (n <= 0) break;
      text.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  if (!why.empty()) return Error::io(why);
  return text;
}

bool cron_d_name(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

std::vector<std::string> files_of(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// The line of a last line without a newline that cron would read (not blank, not a
// comment): Debian's cron ignores the whole file then. 0 when there is none.
int unended_line(const std::string& text) {
  if (text.empty() || text.back() == '\n') return 0;
  const std::size_t start = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
  const std::size_t first = text.find_first_not_of(" \t", start);
  if (first == std::string::npos || text[first] == '#') return 0;
  return static_cast<int>(std::count(text.begin(), text.end(), '\n')) + 1;
}

void read_one(const std::string& path, const FileRule& rule, const CrontabSource& source,
              CrontabJobs& out) {
  auto text = read_checked(path, rule);
  if (!text) {
    out.errors.push_back(path + ": skipped: " + text.error().message);
    return;
  }
  if (const int line = unended_line(text.value()); line != 0) {
    out.errors.push_back(path + ":" + std::to_string(line) +
                         ": skipped: no newline at the end of the file, so Debian's cron "
                         "ignores the whole file (end its last line)");
    return;
  }
  const Crontab tab = read_crontab(text.value(), source);
  std::vector<CrontabMessage> errors = tab.errors;
  std::vector<JobSpec> jobs;
  for (const CrontabEntry& entry : tab.entries) {
    auto spec = crontab_job_spec(entry, home_of);
    if (!spec) {
      errors.push_back({path, entry.line, "user \"" + entry.user + "\" does not exist"});
      continue;
    }
    intern_shared_parts(spec.value());
    jobs.push_back(std::move(spec.value()));
  }
  for (const CrontabMessage& m : tab.warnings) out.warnings.push_back(m.to_string());
  if (errors.empty()) {
    for (JobSpec& job : jobs) out.jobs.push_back(std::move(job));
    return;
  }
  // Debian's cron (user.c, load_user) stops at a line it cannot load and ignores the whole
  // file ("Syntax error, this crontab file will be ignored"), an unknown user included.
  std::sort(errors.begin(), errors.end(),
            [](const CrontabMessage& a, const CrontabMessage& b) { return a.line < b.line; });
  for (const CrontabMessage& m : errors) out.errors.push_back(m.to_string());
  std::string lines;
  for (const JobSpec& job : jobs) {
    lines += (lines.empty() ? "" : ", ") + std::to_string(job.defined_at.line());
  }
  out.errors.push_back(
      path + ":" + std::to_string(errors.front().line) +
      ": the whole file is skipped: Debian's cron ignores a crontab with a "
      "line it cannot load" +
      (jobs.empty() ? std::string() : "; its other job lines (" + lines + ") do not run either"));
}

}  // namespace

CrontabJobs load_crontabs(const std::vector<std::string>& sources, const TimeZone& zone) {
  CrontabJobs out;
  for (const std::string& source : sources) {
    std::error_code ec;
    if (!fs::exists(source, ec)) continue;
    const FileRule root{0, "root"};
    if (!fs::is_directory(source, ec)) {
      read_one(source, root, CrontabSource{source, CrontabFormat::kSystem, "", zone}, out);
      continue;
    }
    const bool spool = fs::path(source).filename() == "crontabs";
    for (const std::string& name : files_of(source)) {
      const std::string path = (fs::path(source) / name).string();
      if (name[0] == '.') continue;  // such as a crontab being installed
      if (!spool) {
        if (!cron_d_name(name)) continue;  // as cron skips backups such as php.dpkg-old
        read_one(path, root, CrontabSource{path, CrontabFormat::kSystem, "", zone}, out);
        continue;
      }
      if (name.starts_with("tmp.")) continue;  // crontab(1)'s file being written, as cron skips
      const auto pw = lookup_user(name);
      if (!pw) {
        out.errors.push_back(path + ": skipped: no user named " + name);
        continue;
      }
      read_one(path, FileRule{pw->uid, name, true},
               CrontabSource{path, CrontabFormat::kUser, name, zone}, out);
    }
  }
  return out;
}

std::string crontab_fingerprint(const std::vector<std::string>& sources) {
  std::string out;
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  auto add = [&out, &now](const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      out += path + " -\n";
      return;
    }
    out += path + " " + std::to_string(st.st_size) + " " + std::to_string(st.st_mtim.tv_sec) + "." +
           std::to_string(st.st_mtim.tv_nsec) + " " + std::to_string(st.st_mode) + " " +
           std::to_string(st.st_uid) + " " + std::to_string(st.st_nlink);
    // A file changed in the last 2 s may change again within the same tick of its time
    // (ext4 keeps it in jiffies), to the same size, unseen. Until its time is older, the
    // fingerprint differs on every look, so the file is read again ("racy git").
    if (now.tv_sec - st.st_mtim.tv_sec < 2) {
      out += " racy@" + std::to_string(now.tv_sec) + "." + std::to_string(now.tv_nsec);
    }
    out += "\n";
  };
  for (const std::string& source : sources) {
    add(source);
    std::error_code ec;
    if (fs::is_directory(source, ec)) {
      for (const std::string& name : files_of(source)) add((fs::path(source) / name).string());
    }
  }
  return out;
}

bool cron_daemon_running() {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string pid = entry.path().filename().string();
    if (pid.empty() || !std::isdigit(static_cast<unsigned char>(pid[0]))) continue;
    std::ifstream in(entry.path() / "comm");
    std::string comm;
    std::getline(in, comm);
    if (comm == "cron" || comm == "crond") return true;
  }
  return false;
}

std::vector<std::string> cron_files_among(const std::vector<std::string>& sources) {
  std::vector<std::string> out;
  for (const std::string& source : sources) {
    std::string path = fs::path(source).lexically_normal().string();
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    if (path == "/etc/crontab" || path == "/etc/cron.d" || path == "/var/spool/cron" ||
        path == "/var/spool/cron/crontabs") {
      out.push_back(source);
    }
  }
  return out;
}

std::string cron_conflict(const std::vector<std::string>& sources, bool cron_running) {
  if (!cron_running) return {};
  const std::vector<std::string> files = cron_files_among(sources);
  if (files.empty()) return {};
  std::string list;
  for (const std::string& f : files) list += (list.empty() ? "" : ", ") + f;
  return "a cron daemon runs too and [cron] sources names its files (" + list +
         "): every line runs twice; stop cron (systemctl disable --now cron) or change [cron] "
         "sources";
}

}  // namespace skedd
