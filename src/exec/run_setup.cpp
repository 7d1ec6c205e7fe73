#include "exec/run_setup.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

#include "skedd/time/timestamp.h"

namespace skedd {
namespace {

UserInfo from_passwd(const passwd& pw) {
  return UserInfo{pw.pw_uid, pw.pw_gid, pw.pw_name, pw.pw_dir,
                  pw.pw_shell != nullptr && pw.pw_shell[0] != '\0' ? pw.pw_shell : "/bin/sh"};
}

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

Result<gid_t> lookup_group(const std::string& name) {
  std::vector<char> buf(16384);
  group gr{};
  group* found = nullptr;
  const int rc = all_digits(name) ? ::getgrgid_r(static_cast<gid_t>(std::stoul(name)), &gr,
                                                 buf.data(), buf.size(), &found)
                                  : ::getgrnam_r(name.c_str(), &gr, buf.data(), buf.size(), &found);
  if (found == nullptr) {
    return Error::not_found("group \"" + name + "\" does not exist" +
                            (rc != 0 ? std::string(": ") + std::strerror(rc) : ""));
  }
  return gr.gr_gid;
}

}  // namespace

Result<UserInfo> lookup_user(const std::string& name) {
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  const int rc = all_digits(name) ? ::getpwuid_r(static_cast<uid_t>(std::stoul(name)), &pw,
                                                 buf.data(), buf.size(), &found)
                                  : ::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found);
  if (found == nullptr) {
    return Error::not_found("user \"" + name + "\" does not exist" +
                            (rc != 0 ? std::string(": ") + std::strerror(rc) : ""));
  }
  return from_passwd(pw);
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

UserInfo current_user() {
  const uid_t uid = ::geteuid();
  auto user = lookup_user(std::to_string(uid));
  if (user) return user.value();
  return UserInfo{uid, ::getegid(), std::to_string(uid), "/", "/bin/sh"};
}

std::string default_path(uid_t uid) {
  return uid == 0 ? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
                  : "/usr/local/bin:/usr/bin:/bin";
}

std::vector<std::string> build_environment(const JobSpec& spec, const UserInfo& user,
                                           const RunAttempt& context) {
  std::map<std::string, std::string> env{
      {"HOME", user.home},  {"LOGNAME", user.name},           {"USER", user.name},
      {"SHELL", "/bin/sh"}, {"PATH", default_path(user.uid)},
  };
  for (const auto& [name, value] : spec.options->env) env[name] = value;
  env["SKEDD_JOB"] = spec.name;
  env["SKEDD_RUN_ID"] = std::to_string(context.run.value);
  env["SKEDD_SCHEDULED_AT"] = format_rfc3339_utc(context.scheduled);
  env["SKEDD_ATTEMPT"] = std::to_string(context.attempt);
  if (!context.checkpoint.empty()) env["SKEDD_CHECKPOINT"] = context.checkpoint;
  env["SKEDD_CONTROL_FD"] = "3";
  // A hook run is told about the run or fire it is for. SKEDD_RUN_ID stays its own: skedd
  // finds its processes by it.
  for (const auto& [name, value] : spec.options->hook_context) {
    if (name != "SKEDD_RUN_ID" && name != "SKEDD_CONTROL_FD") env[name] = value;
  }
  std::vector<std::string> out;
  out.reserve(env.size());
  for (const auto& [name, value] : env) out.push_back(name + "=" + value);
  return out;
}

Result<std::optional<Credentials>> job_credentials(const JobSpec& spec, const UserInfo& user) {
  const JobOptions& options = *spec.options;
  if (!options.user && !options.group) return std::optional<Credentials>();
  const uid_t self = ::geteuid();
  if (self != 0) {
    if (user.uid != self) {
      return Error::permission_denied("cannot run as user \"" + user.name +
                                      "\": skedd is not running as root");
    }
    if (options.group) {
      return Error::permission_denied("cannot set group \"" + *options.group +
                                      "\": skedd is not running as root");
    }
    return std::optional<Credentials>();
  }
  Credentials c;
  c.uid = user.uid;
  c.gid = user.gid;
  if (options.group) {
    auto gid = lookup_group(*options.group);
    if (!gid) return gid.error();
    c.gid = gid.value();
  }
  int count = 64;
  c.groups.resize(static_cast<std::size_t>(count));
  while (::getgrouplist(user.name.c_str(), c.gid, c.groups.data(), &count) < 0) {
    c.groups.resize(static_cast<std::size_t>(count));
  }
  c.groups.resize(static_cast<std::size_t>(count));
  return std::optional<Credentials>(std::move(c));
}

}  // namespace skedd
