// A crontab entry as the job skedd runs: shell, here-document for '%' input, environment.
#include <chrono>

#include "skedd/cron/crontab.h"

namespace skedd {
namespace {

constexpr const char* kDefaultShell = "/bin/sh";
constexpr const char* kDefaultPath = "/usr/bin:/bin";  // _PATH_DEFPATH of cron and cronie

const std::string* variable(const CrontabEntry& entry, std::string_view name) {
  for (const CrontabVariable& v : entry.env) {
    if (v.name == name) return &v.value;
  }
  return nullptr;
}

bool has_line(std::string_view text, std::string_view wanted) {
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    if (text.substr(at, end - at) == wanted) return true;
    at = end + 1;
  }
  return false;
}

}  // namespace

std::string crontab_shell(const CrontabEntry& entry) {
  const std::string* shell = variable(entry, "SHELL");
  return shell != nullptr && !shell->empty() ? *shell : kDefaultShell;
}

std::string crontab_shell_script(const CrontabEntry& entry) {
  if (entry.input.empty()) return entry.command;
  // A quoted delimiter turns off expansion in the body, so the shell passes the input on
  // byte for byte; `exec` with only a redirection applies it to the shell itself, so the
  // whole command (a list, a pipeline) reads it, as from cron's pipe.
  std::string delimiter = "SKEDD_STDIN";
  while (has_line(entry.input, delimiter)) delimiter += '_';
  return "exec 0<<'" + delimiter + "'\n" + entry.input + delimiter + "\n" + entry.command;
}

std::map<std::string, std::string> crontab_environment(const CrontabEntry& entry,
                                                       const std::string& home) {
  std::map<std::string, std::string> env{
      {"SHELL", kDefaultShell}, {"PATH", kDefaultPath}, {"HOME", home}};
  for (const CrontabVariable& v : entry.env) env[v.name] = v.value;
  env["LOGNAME"] = entry.user;
  env["USER"] = entry.user;
  return env;
}

Result<JobSpec> crontab_job_spec(const CrontabEntry& entry, const HomeDirectoryLookup& home) {
  const std::optional<std::string> dir = home ? home(entry.user) : std::nullopt;
  if (!dir) {
    return Error::not_found(entry.file + ":" + std::to_string(entry.line) + ": user \"" +
                            entry.user + "\" does not exist");
  }
  JobSpec spec;
  spec.name = entry.job_name;
  spec.schedule = entry.schedule;
  spec.zone = entry.zone;
  const std::string shell = crontab_shell(entry);
  spec.command = {shell, "-c", crontab_shell_script(entry)};
  spec.shell = shell == kDefaultShell;
  spec.user = entry.user;
  spec.env = crontab_environment(entry, *dir);
  spec.overlap = OverlapPolicy::kAllow;
  spec.kill_leftovers = false;
  if (entry.random_delay_minutes && *entry.random_delay_minutes > 0) {
    spec.jitter = std::chrono::minutes(*entry.random_delay_minutes);
    spec.jitter_fixed = true;
  }
  spec.defined_at = {entry.file, entry.line, 1};
  return spec;
}

}  // namespace skedd
