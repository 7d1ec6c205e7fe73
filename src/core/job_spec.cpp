#include "skedd/core/job_spec.h"

#include <tuple>

#include <csignal>
#include <string>

namespace skedd {
namespace {

template <typename E, std::size_t N>
std::optional<E> lookup(const std::pair<E, const char*> (&table)[N], std::string_view s) {
  for (const auto& [value, name] : table) {
    if (s == name) return value;
  }
  return std::nullopt;
}

template <typename E, std::size_t N>
const char* name_of(const std::pair<E, const char*> (&table)[N], E value) {
  for (const auto& [v, name] : table) {
    if (v == value) return name;
  }
  return "?";
}

constexpr std::pair<OverlapPolicy, const char*> kOverlap[] = {{OverlapPolicy::kSkip, "skip"},
                                                              {OverlapPolicy::kQueue, "queue"},
                                                              {OverlapPolicy::kReplace, "replace"},
                                                              {OverlapPolicy::kAllow, "allow"}};
constexpr std::pair<CatchUp, const char*> kCatchUp[] = {
    {CatchUp::kNone, "none"}, {CatchUp::kOnce, "once"}, {CatchUp::kAll, "all"}};
constexpr std::pair<OnInterrupt, const char*> kOnInterrupt[] = {{OnInterrupt::kResume, "resume"},
                                                                {OnInterrupt::kRestart, "restart"},
                                                                {OnInterrupt::kFail, "fail"}};
constexpr std::pair<DstSkipped, const char*> kDstSkipped[] = {{DstSkipped::kRun, "run"},
                                                              {DstSkipped::kSkip, "skip"}};
constexpr std::pair<DstRepeated, const char*> kDstRepeated[] = {{DstRepeated::kOnce, "once"},
                                                                {DstRepeated::kTwice, "twice"}};
constexpr std::pair<int, const char*> kSignals[] = {
    {SIGHUP, "HUP"},   {SIGINT, "INT"},   {SIGQUIT, "QUIT"},  {SIGKILL, "KILL"}, {SIGUSR1, "USR1"},
    {SIGUSR2, "USR2"}, {SIGTERM, "TERM"}, {SIGALRM, "ALRM"},  {SIGSTOP, "STOP"}, {SIGCONT, "CONT"},
    {SIGPIPE, "PIPE"}, {SIGABRT, "ABRT"}, {SIGWINCH, "WINCH"}};

}  // namespace

const char* to_string(OverlapPolicy p) {
  return name_of(kOverlap, p);
}
const char* to_string(CatchUp c) {
  return name_of(kCatchUp, c);
}
const char* to_string(OnInterrupt o) {
  return name_of(kOnInterrupt, o);
}
const char* to_string(DstSkipped d) {
  return name_of(kDstSkipped, d);
}
const char* to_string(DstRepeated d) {
  return name_of(kDstRepeated, d);
}
std::optional<OverlapPolicy> overlap_from_string(std::string_view s) {
  return lookup(kOverlap, s);
}
std::optional<CatchUp> catch_up_from_string(std::string_view s) {
  return lookup(kCatchUp, s);
}
std::optional<OnInterrupt> on_interrupt_from_string(std::string_view s) {
  return lookup(kOnInterrupt, s);
}
std::optional<DstSkipped> dst_skipped_from_string(std::string_view s) {
  return lookup(kDstSkipped, s);
}
std::optional<DstRepeated> dst_repeated_from_string(std::string_view s) {
  return lookup(kDstRepeated, s);
}

std::string SourceLocation::to_string() const {
  std::string out = file;
  if (line > 0) out += ":" + std::to_string(line);
  if (column > 0) out += ":" + std::to_string(column);
  return out;
}

Status validate_job_name(std::string_view name) {
  const auto bad = [&](const std::string& why) {
    return Error::invalid_argument("invalid job name \"" + std::string(name) + "\": " + why);
  };
  if (name.empty()) return bad("empty");
  if (name.size() > 64) return bad("longer than 64 characters");
  const auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(name[0])) return bad("must start with a letter or digit");
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (!alnum(c) && c != '_' && c != '.' && c != '-') {
      return bad("character " + std::to_string(i + 1) +
                 " is not a letter, digit, '_', '.' or '-' (names become file names)");
    }
  }
  return Ok{};
}

std::optional<int> signal_from_string(std::string_view s) {
  if (s.substr(0, 3) == "SIG") s.remove_prefix(3);
  if (!s.empty() && s.size() <= 2 && s.find_first_not_of("0123456789") == std::string_view::npos) {
    const int n = s.size() == 1 ? s[0] - '0' : (s[0] - '0') * 10 + (s[1] - '0');
    if (n >= 1 && n < 65) return n;
    return std::nullopt;
  }
  return lookup(kSignals, s);
}

std::string signal_name(int sig) {
  for (const auto& [n, name] : kSignals) {
    if (n == sig) return std::string("SIG") + name;
  }
  return "signal " + std::to_string(sig);
}

namespace {

std::string schedule_identity(const Schedule& s) {
  std::string id = s.text;
  if (const auto* cron = std::get_if<CronSchedule>(&s.kind)) {
    id += "|" + std::string(to_string(cron->spec.dst_skipped())) + "|" +
          to_string(cron->spec.dst_repeated());
  }
  return id;
}

}  // namespace

bool same_definition(const JobSpec& a, const JobSpec& b) {
  const auto fields = [](const JobSpec& j) {
    return std::tie(j.name, j.command, j.shell, j.handler, j.params, j.user, j.group, j.working_dir,
                    j.env, j.umask, j.nice, j.limit_nofile, j.limit_memory, j.priority, j.pool,
                    j.soft_timeout, j.hard_timeout, j.soft_signal, j.kill_leftovers, j.retries,
                    j.retry_backoff, j.retry_backoff_max, j.overlap, j.catch_up, j.max_catch_up,
                    j.starting_deadline, j.jitter, j.jitter_fixed, j.on_interrupt, j.max_interrupts,
                    j.log_max_size, j.mail_to);
  };
  return fields(a) == fields(b) && schedule_identity(a.schedule) == schedule_identity(b.schedule) &&
         a.zone.name() == b.zone.name();
}

}  // namespace skedd
