#include "skedd/core/job_spec.h"

#include <algorithm>
#include <csignal>
#include <mutex>
#include <string>
#include <tuple>
#include <unordered_set>

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
constexpr std::pair<OnUnknownExit, const char*> kOnUnknownExit[] = {
    {OnUnknownExit::kFail, "fail"}, {OnUnknownExit::kRerun, "rerun"}};
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
const char* to_string(HookKind k) {
  switch (k) {
    case HookKind::kFailure:
      return "on_failure";
    case HookKind::kSuccess:
      return "on_success";
    case HookKind::kMissed:
      return "on_missed";
    case HookKind::kStall:
      return "on_stall";
  }
  return "?";
}
const char* to_string(OnUnknownExit o) {
  return name_of(kOnUnknownExit, o);
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
std::optional<OnUnknownExit> on_unknown_exit_from_string(std::string_view s) {
  return lookup(kOnUnknownExit, s);
}
std::optional<DstSkipped> dst_skipped_from_string(std::string_view s) {
  return lookup(kDstSkipped, s);
}
std::optional<DstRepeated> dst_repeated_from_string(std::string_view s) {
  return lookup(kDstRepeated, s);
}

SourceLocation::SourceLocation(std::string_view file, int line, int column)
    : line_(line), column_(column) {
  // Node-based, never erased: the addresses stay valid for the process's life.
  static std::mutex mutex;
  static std::unordered_set<std::string> files;
  std::string name(file);
  std::lock_guard lock(mutex);
  // Looked up before inserting: emplace would allocate a node on every call.
  const auto it = files.find(name);
  file_ = it != files.end() ? &*it : &*files.insert(std::move(name)).first;
}

const std::string& SourceLocation::file() const {
  static const std::string none;
  return file_ != nullptr ? *file_ : none;
}

std::string SourceLocation::to_string() const {
  std::string out = file();
  if (line_ > 0) out += ":" + std::to_string(line_);
  if (column_ > 0) out += ":" + std::to_string(column_);
  return out;
}

Status validate_job_name(std::string_view name) {
  return validate_name("job", name);
}

Status validate_name(std::string_view kind, std::string_view name) {
  const auto bad = [&](const std::string& why) {
    return Error::invalid_argument("invalid " + std::string(kind) + " name \"" + std::string(name) +
                                   "\": " + why);
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

// Schedules fire the same way when their kind, text, DST policy and zone are the same.
// (Compared without building a key: a load interns a million of them.)
bool same_schedule(const Schedule& a, const Schedule& b) {
  if (a.kind.index() != b.kind.index() || a.text != b.text) return false;
  const auto* x = std::get_if<CronSchedule>(&a.kind);
  const auto* y = std::get_if<CronSchedule>(&b.kind);
  return x == nullptr ||
         (x->spec.zone() == y->spec.zone() && x->spec.dst_skipped() == y->spec.dst_skipped() &&
          x->spec.dst_repeated() == y->spec.dst_repeated());
}

}  // namespace

template <typename Args>
void Argv::assign(const Args& args) {
  std::size_t total = 0;
  for (const auto& arg : args) total += std::string_view(arg).size() + 1;
  text_.reserve(total);  // exactly: a loaded job keeps its command as long as it is loaded
  for (const auto& arg : args) text_.append(arg).push_back('\0');
}

Argv::Argv(std::initializer_list<std::string_view> args) {
  assign(args);
}

Argv::Argv(const std::vector<std::string>& args) {
  assign(args);
}

std::size_t Argv::size() const {
  return static_cast<std::size_t>(std::count(text_.begin(), text_.end(), '\0'));
}

std::string_view Argv::operator[](std::size_t i) const {
  std::size_t begin = 0;
  for (; i > 0 && begin < text_.size(); --i) begin = text_.find('\0', begin) + 1;
  if (begin >= text_.size()) return {};
  return std::string_view(text_).substr(begin, text_.find('\0', begin) - begin);
}

std::string_view Argv::back() const {
  if (text_.empty()) return {};
  const std::size_t end = text_.size() - 1;
  const std::size_t nul = end == 0 ? std::string::npos : text_.rfind('\0', end - 1);
  const std::size_t begin = nul == std::string::npos ? 0 : nul + 1;
  return std::string_view(text_).substr(begin, end - begin);
}

void Argv::push_back(std::string_view arg) {
  text_.append(arg).push_back('\0');
}

std::vector<std::string> Argv::to_vector() const {
  std::vector<std::string> out;
  for (std::size_t begin = 0; begin < text_.size();) {
    const std::size_t end = text_.find('\0', begin);
    out.emplace_back(text_, begin, end - begin);
    begin = end + 1;
  }
  return out;
}

bool same_definition(const JobSpec& a, const JobSpec& b) {
  return a.name == b.name && a.command == b.command && a.params == b.params &&
         a.options == b.options &&
         (a.schedule.shares_with(b.schedule) || same_schedule(*a.schedule, *b.schedule)) &&
         a.zone.name() == b.zone.name();
}

namespace {

std::size_t hash_of(const JobOptions& o) {
  std::size_t h = std::hash<std::string>{}(o.handler);
  const auto mix = [&h](std::size_t v) { h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2); };
  mix(std::hash<std::string>{}(o.user.value_or("")));
  mix(std::hash<std::string>{}(o.pool));
  mix(static_cast<std::size_t>(o.priority));
  mix(static_cast<std::size_t>(o.retries));
  mix(static_cast<std::size_t>(o.jitter.count()));
  return h;
}

struct OptionsHash {
  std::size_t operator()(const SharedValue<JobOptions>& o) const { return hash_of(*o); }
};

struct ScheduleHash {
  std::size_t operator()(const SharedValue<Schedule>& s) const {
    return std::hash<std::string>{}(s->text) ^ s->kind.index();
  }
};

struct ScheduleEqual {
  bool operator()(const SharedValue<Schedule>& a, const SharedValue<Schedule>& b) const {
    return a.shares_with(b) || same_schedule(*a, *b);
  }
};

// Makes `value` share the equal one in `set`, or adds it there. An entry only the set still
// holds is dropped at the next sweep, which runs when the set has doubled since the last one.
template <typename Set, typename Value>
void intern_in(Set& set, std::size_t& sweep_at, Value& value) {
  const auto [it, inserted] = set.insert(value);
  if (!inserted) {
    value = *it;
    return;
  }
  if (set.size() < sweep_at) return;
  std::erase_if(set, [](const Value& v) { return v.use_count() == 1; });
  sweep_at = std::max<std::size_t>(1024, 2 * set.size());
}

// The options and the recurring schedules of every interned spec, by value. Owner: this file's
// one table (intern_shared_parts()), for the process. Key: the value itself (hashed and
// compared by content), so nothing can dangle. Invalidation: none is needed (the values are
// immutable); entries only the table still holds are dropped by the sweeps above. Worth it:
// bench_scale's 1,000,000 jobs take 302 bytes each with it, 942 without (2026-12-03).
struct Interned {
  std::mutex mutex;
  std::unordered_set<SharedValue<JobOptions>, OptionsHash> options;
  std::size_t options_sweep_at = 1024;
  std::unordered_set<SharedValue<Schedule>, ScheduleHash, ScheduleEqual> schedules;
  std::size_t schedules_sweep_at = 1024;
};

}  // namespace

void intern_shared_parts(JobSpec& spec) {
  static Interned table;
  std::lock_guard lock(table.mutex);
  intern_in(table.options, table.options_sweep_at, spec.options);
  // A one-shot's instant is its own: sharing it would only add a table entry per job.
  if (!spec.schedule->is_at()) intern_in(table.schedules, table.schedules_sweep_at, spec.schedule);
}

}  // namespace skedd
