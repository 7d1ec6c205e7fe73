#include "config/crontab_sources.h"

#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
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

// cron's checks on a file: why it is skipped, or empty.
std::string unsafe(const std::string& path, uid_t owner, const std::string& owner_name) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return "cannot be read";
  if (!S_ISREG(st.st_mode)) return "not a regular file";
  if (st.st_uid != owner) {
    return "owned by uid " + std::to_string(st.st_uid) + ", not by " + owner_name;
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return std::string("writable by group or others (mode ") + mode + "; fix with chmod go-w)";
  }
  return {};
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

void read_one(const std::string& path, const CrontabSource& source, CrontabJobs& out) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  const Crontab tab = read_crontab(text.str(), source);
  for (const CrontabMessage& m : tab.errors) out.errors.push_back(m.to_string());
  for (const CrontabMessage& m : tab.warnings) out.warnings.push_back(m.to_string());
  for (const CrontabEntry& entry : tab.entries) {
    auto spec = crontab_job_spec(entry, home_of);
    if (!spec) {
      out.errors.push_back(path + ":" + std::to_string(entry.line) + ": " + spec.error().message);
      continue;
    }
    intern_shared_parts(spec.value());
    out.jobs.push_back(std::move(spec.value()));
  }
}

}  // namespace

CrontabJobs load_crontabs(const std::vector<std::string>& sources, const TimeZone& zone) {
  CrontabJobs out;
  for (const std::string& source : sources) {
    std::error_code ec;
    if (!fs::exists(source, ec)) continue;
    if (!fs::is_directory(source, ec)) {
      if (auto why = unsafe(source, 0, "root"); !why.empty()) {
        out.errors.push_back(source + ": skipped: " + why);
      } else {
        read_one(source, CrontabSource{source, CrontabFormat::kSystem, "", zone}, out);
      }
      continue;
    }
    const bool spool = fs::path(source).filename() == "crontabs";
    for (const std::string& name : files_of(source)) {
      const std::string path = (fs::path(source) / name).string();
      if (name[0] == '.') continue;  // such as a crontab being installed
      if (!spool) {
        if (!cron_d_name(name)) continue;  // as cron skips backups such as php.dpkg-old
        if (auto why = unsafe(path, 0, "root"); !why.empty()) {
          out.errors.push_back(path + ": skipped: " + why);
          continue;
        }
        read_one(path, CrontabSource{path, CrontabFormat::kSystem, "", zone}, out);
        continue;
      }
      const auto pw = lookup_user(name);
      if (!pw) {
        out.errors.push_back(path + ": skipped: no user named " + name);
        continue;
      }
      if (auto why = unsafe(path, pw->uid, name); !why.empty()) {
        out.errors.push_back(path + ": skipped: " + why);
        continue;
      }
      read_one(path, CrontabSource{path, CrontabFormat::kUser, name, zone}, out);
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
           std::to_string(st.st_uid);
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

}  // namespace skedd
