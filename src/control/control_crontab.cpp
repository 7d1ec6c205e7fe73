// `skedctl crontab`: a user's crontab in the spool, installed by the daemon (users cannot
// write the spool), checked as cron would read it, and allowed as crontab(1) allows it.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "control/control.h"
#include "exec/run_setup.h"
#include "skedd/cron/crontab.h"

namespace skedd {
namespace {

namespace fs = std::filesystem;
using control::Failure;
using nlohmann::json;

// The lines of `path`, or none when it does not exist.
std::optional<std::vector<std::string>> lines_of(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    const auto b = line.find_first_not_of(" \t");
    const auto e = line.find_last_not_of(" \t\r");
    lines.push_back(b == std::string::npos ? "" : line.substr(b, e - b + 1));
  }
  return lines;
}

// crontab(1)'s rule: listed in `allow` when it exists, else not listed in `deny`.
bool allowed(const std::string& user, const CronConfig& cron) {
  if (user == "root") return true;
  auto has = [&user](const std::vector<std::string>& lines) {
    return std::find(lines.begin(), lines.end(), user) != lines.end();
  };
  if (auto allow = lines_of(cron.allow)) return has(*allow);
  if (auto deny = lines_of(cron.deny)) return !has(*deny);
  return true;  // Debian's default: every user may
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Writes `text` as `path`, owned by the user and mode 0600, replacing it in one rename.
Status install(const std::string& path, const std::string& text, uid_t uid, gid_t gid) {
  std::string tmp = fs::path(path).parent_path() / ".skedd-crontab-XXXXXX";
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) return Error::io("cannot write in " + fs::path(path).parent_path().string());
  bool ok = ::fchown(fd, uid, gid) == 0 && ::fchmod(fd, 0600) == 0 &&
            ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  const int error = errno;
  ok = ::close(fd) == 0 && ok;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return Error::io("cannot install " + path + ": " + std::strerror(ok ? errno : error));
  }
  return Ok{};
}

}  // namespace

control::Answer<control::CrontabReply> Control::crontab(const control::CrontabRequest& request,
                                                        const Caller& caller) {
  using Action = control::CrontabRequest::Action;
  const std::string user = request.user.empty() ? caller.user : request.user;
  if (user != caller.user && !caller.admin) {
    return Failure{control::kPermissionDenied, "only root may manage another user's crontab"};
  }
  const CronConfig& cron = engine_.config().cron;
  std::string spool;
  for (const std::string& source : cron.sources) {
    if (fs::path(source).filename() == "crontabs") spool = source;
  }
  if (spool.empty()) {
    return Failure{control::kConflict,
                   "[cron] sources names no crontab spool (a directory named crontabs)"};
  }
  if (!allowed(user, cron)) {
    return Failure{control::kPermissionDenied,
                   user + " may not use crontab (" + cron.allow + " or " + cron.deny + ")"};
  }
  const auto pw = lookup_user(user);
  if (!pw) return Failure{control::kInvalidArgument, "no user named " + user};
  const std::string path = (fs::path(spool) / user).string();
  struct stat st {};
  const bool exists = ::lstat(path.c_str(), &st) == 0;

  if (request.action == Action::kGet) {
    if (!exists) return Failure{control::kJobNotFound, "no crontab for " + user};
    control::CrontabReply reply;
    reply.user = user;
    reply.text = read_file(path);
    return reply;
  }
  if (request.action == Action::kRemove) {
    if (!exists) return Failure{control::kJobNotFound, "no crontab for " + user};
    if (::unlink(path.c_str()) != 0) {
      return Failure{control::kInternal, "cannot remove " + path + ": " + std::strerror(errno)};
    }
    (void)reload_();
    control::CrontabReply reply;
    reply.user = user;
    reply.removed = true;
    return reply;
  }
  std::string text = request.text;
  if (!text.empty() && text.back() != '\n') text += '\n';  // as crontab(1) would save it
  const Crontab tab = read_crontab(
      text, CrontabSource{"crontab", CrontabFormat::kUser, user, engine_.config().daemon.timezone});
  if (!tab.errors.empty()) {
    std::string message = "the crontab has errors; nothing was installed:";
    for (const CrontabMessage& e : tab.errors) message += "\n" + e.to_string();
    return Failure{control::kInvalidArgument, message};
  }
  // Bounded as jobs added over the socket are: each line is a job skedd schedules. Root's
  // own requests (for any user) are not.
  const int max_jobs = engine_.config().daemon.max_jobs_per_user;
  if (!caller.admin && tab.entries.size() > static_cast<std::size_t>(max_jobs)) {
    return Failure{control::kPermissionDenied,
                   "the crontab has " + std::to_string(tab.entries.size()) + " jobs; at most " +
                       std::to_string(max_jobs) +
                       " per user ([daemon] max_jobs_per_user); nothing was installed"};
  }
  std::error_code ec;
  if (!fs::exists(spool, ec)) {
    fs::create_directories(spool, ec);
    ::chmod(spool.c_str(), 0700);  // only skedd reads it; users go through the socket
  }
  if (auto installed = install(path, text, pw->uid, pw->gid); !installed) {
    return Failure{control::kInternal, installed.error().message};
  }
  (void)reload_();
  control::CrontabReply reply;
  reply.user = user;
  reply.installed = true;
  reply.jobs = tab.entries.size();
  for (const CrontabMessage& w : tab.warnings) reply.warnings.push_back(w.to_string());
  return reply;
}

}  // namespace skedd
