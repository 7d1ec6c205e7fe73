// [job.NAME] and [defaults] tables -> JobSpec. One handler per key, in a table.
#include "config/job_table.h"

#include "config/toml_values.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <mutex>
#include <optional>
#include <span>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "skedd/cron/crontab_import.h"
#include "skedd/time/duration.h"
#include "skedd/util/size.h"
#include "util/suggest.h"

namespace skedd::config {
namespace {

// A job being read: the spec so far, plus what can only be checked once all keys are in.
struct Pending {
  JobSpec spec;
  struct Located {
    std::string text;
    toml::source_region where;
  };
  std::optional<Located> cron, every, at;
  std::optional<toml::source_region> zone_at, dst_at, hard_timeout_at, pool_at, command_at,
      handler_at;
  std::optional<DstSkipped> dst_skipped;
  std::optional<DstRepeated> dst_repeated;
};

// A command: an argv array, or a string run as {"/bin/sh", "-c", text} (`shell` says which).
Problem want_command(const toml::node& n, Argv& command, bool& shell) {
  command.clear();
  if (auto s = n.value_exact<std::string>()) {
    if (s->empty()) return "must not be empty";
    if (s->find('\0') != std::string::npos) return "must not contain a NUL character";
    command = {"/bin/sh", "-c", *s};
    shell = true;
    return std::nullopt;
  }
  const toml::array* arr = n.as_array();
  if (arr == nullptr)
    return "must be an argv array such as [\"/usr/bin/backup\", \"--all\"] or a shell string";
  std::vector<std::string> args;
  for (const toml::node& el : *arr) {
    auto s = el.value_exact<std::string>();
    if (!s) return "every argv element must be a string";
    if (s->find('\0') != std::string::npos) return "argv elements must not contain a NUL character";
    args.push_back(std::move(*s));
  }
  if (args.empty() || args[0].empty()) return "argv[0] must not be empty";
  command = Argv(args);
  shell = false;
  return std::nullopt;
}

Problem set_command(Pending& p, const toml::node& n) {
  p.command_at = n.source();
  return want_command(n, p.spec.command, p.spec.options.edit().shell);
}

template <HookKind kind>
Problem set_hook(Pending& p, const toml::node& n) {
  JobOptions& options = p.spec.options.edit();
  const auto i = static_cast<std::size_t>(kind);
  return want_command(n, options.hooks[i], options.hook_shell[i]);
}

Problem set_handler(Pending& p, const toml::node& n) {
  p.handler_at = n.source();
  if (Problem problem = want_string(n, p.spec.options.edit().handler)) return problem;
  if (auto valid = validate_job_name(p.spec.options->handler); !valid) {
    return "\"" + p.spec.options->handler +
           "\" is not a handler name ([A-Za-z0-9][A-Za-z0-9_.-]{0,63})";
  }
  return std::nullopt;
}

// A TOML value as compact JSON (no whitespace between tokens, keys in TOML's order, which is
// sorted), so that a small table's text fits in the string itself (15 characters) with no
// allocation per job. Dates and times become strings in their TOML form; a floating-point
// infinity or NaN, which JSON cannot hold, becomes null.
void append_json(std::string& out, const toml::node& node) {
  if (const toml::table* table = node.as_table()) {
    out += '{';
    bool first = true;
    for (auto&& [key, value] : *table) {
      if (!first) out += ',';
      first = false;
      out += toml_quote(key.str());  // a TOML basic string is a JSON string too
      out += ':';
      append_json(out, value);
    }
    out += '}';
  } else if (const toml::array* array = node.as_array()) {
    out += '[';
    for (std::size_t i = 0; i < array->size(); ++i) {
      if (i > 0) out += ',';
      append_json(out, *array->get(i));
    }
    out += ']';
  } else if (const auto* text = node.as_string()) {
    out += toml_quote(text->get());
  } else if (const auto* integer = node.as_integer()) {
    out += std::to_string(integer->get());
  } else if (const auto* number = node.as_floating_point()) {
    const double v = number->get();
    if (!std::isfinite(v)) {
      out += "null";
      return;
    }
    char digits[32];
    const auto end = std::to_chars(digits, digits + sizeof digits, v).ptr;
    out.append(digits, end);
  } else if (const auto* flag = node.as_boolean()) {
    out += flag->get() ? "true" : "false";
  } else {
    std::ostringstream when;  // a date, time or date-time
    node.visit([&when](auto&& v) { when << v; });
    out += toml_quote(when.str());
  }
}

// `params = { ... }`: any TOML table, kept as the text of the same JSON object.
Problem set_params(Pending& p, const toml::node& n) {
  const toml::table* table = n.as_table();
  if (table == nullptr) return "must be a table, such as { region = \"eu\", days = 7 }";
  p.spec.params.clear();
  append_json(p.spec.params, *table);
  return std::nullopt;
}

Problem set_env(Pending& p, const toml::node& n) {
  const toml::table* t = n.as_table();
  if (t == nullptr) return "must be a table such as { RETENTION = \"14\" }";
  for (auto&& [k, v] : in_file_order(*t)) {
    const std::string key(k.str());
    if (key.empty() || key.find('=') != std::string::npos) {
      return "variable name \"" + key + "\" is not valid";
    }
    auto s = v.value_exact<std::string>();
    if (!s) return "value of " + key + " must be a string";
    p.spec.options.edit().env[key] = *s;
  }
  return std::nullopt;
}

Problem set_umask(Pending& p, const toml::node& n) {
  if (auto v = n.value_exact<std::int64_t>()) {
    // TOML has 0o022; a decimal 22 is almost certainly meant as octal text, so refuse it.
    if (*v < 0 || *v > 0777) return "must be between 0o000 and 0o777";
    p.spec.options.edit().umask = static_cast<int>(*v);
    return std::nullopt;
  }
  std::string text;
  if (want_string(n, text) || text.empty() || text.size() > 4 ||
      text.find_first_not_of("01234567") != std::string::npos) {
    return "must be an octal string such as \"022\" or a TOML octal such as 0o022";
  }
  const int mask = std::stoi(text, nullptr, 8);
  if (mask > 0777) return "must be between 000 and 777";
  p.spec.options.edit().umask = mask;
  return std::nullopt;
}

Problem set_located(std::optional<Pending::Located>& slot, const toml::node& n) {
  std::string text;
  if (auto problem = want_string(n, text)) return problem;
  slot = Pending::Located{text, n.source()};
  return std::nullopt;
}

using Setter = Problem (*)(Pending&, const toml::node&);
struct KeyHandler {
  const char* key;
  Setter set;
  bool defaultable;  // may appear in [defaults]
};

// clang-format off
constexpr KeyHandler kHandlers[] = {
  {"cron", [](Pending& p, const toml::node& n) { return set_located(p.cron, n); }, false},
  {"every", [](Pending& p, const toml::node& n) { return set_located(p.every, n); }, false},
  {"at", [](Pending& p, const toml::node& n) { return set_located(p.at, n); }, false},
  {"command", set_command, false},
  {"handler", set_handler, false},
  {"params", set_params, false},
  {"description", [](Pending&, const toml::node& n) -> Problem {
     std::string ignored; return want_string(n, ignored); }, false},
  {"timezone", [](Pending& p, const toml::node& n) -> Problem {
     std::string name;
     if (auto problem = want_string(n, name)) return problem;
     auto zone = TimeZone::load(name);
     if (!zone) return zone.error().message;
     p.spec.zone = zone.value();
     p.zone_at = n.source();
     return std::nullopt; }, true},
  {"user", [](Pending& p, const toml::node& n) -> Problem {
     std::string s; if (auto problem = want_string(n, s)) return problem;
     if (s.empty()) return "must not be empty";
     p.spec.options.edit().user = s; return std::nullopt; }, true},
  {"group", [](Pending& p, const toml::node& n) -> Problem {
     std::string s; if (auto problem = want_string(n, s)) return problem;
     if (s.empty()) return "must not be empty";
     p.spec.options.edit().group = s; return std::nullopt; }, true},
  {"working_dir", [](Pending& p, const toml::node& n) -> Problem {
     std::string s; if (auto problem = want_string(n, s)) return problem;
     if (s.empty() || s[0] != '/') return "must be an absolute path";
     p.spec.options.edit().working_dir = s; return std::nullopt; }, true},
  {"env", set_env, true},
  {"umask", set_umask, true},
  {"nice", [](Pending& p, const toml::node& n) -> Problem {
     int v = 0; if (auto problem = want_int(n, -20, 19, v)) return problem;
     p.spec.options.edit().nice = v; return std::nullopt; }, true},
  {"limit_nofile", [](Pending& p, const toml::node& n) -> Problem {
     int v = 0; if (auto problem = want_int(n, 1, 1 << 30, v)) return problem;
     p.spec.options.edit().limit_nofile = static_cast<std::uint64_t>(v); return std::nullopt; }, true},
  {"limit_memory", [](Pending& p, const toml::node& n) -> Problem {
     std::uint64_t v = 0; if (auto problem = want_size(n, v)) return problem;
     p.spec.options.edit().limit_memory = v; return std::nullopt; }, true},
  {"log_max_size", [](Pending& p, const toml::node& n) -> Problem {
     if (auto problem = want_size(n, p.spec.options.edit().log_max_size)) return problem;
     // Below this a rotation would keep almost nothing of what the run printed.
     if (p.spec.options->log_max_size < 4096) return "must be at least 4K";
     return std::nullopt; }, true},
  {"priority", [](Pending& p, const toml::node& n) {
     return want_int(n, -1000, 1000, p.spec.options.edit().priority); }, true},
  {"pool", [](Pending& p, const toml::node& n) -> Problem {
     p.pool_at = n.source(); return want_string(n, p.spec.options.edit().pool); }, true},
  {"soft_timeout", [](Pending& p, const toml::node& n) {
     return want_optional_duration(n, p.spec.options.edit().soft_timeout); }, true},
  {"hard_timeout", [](Pending& p, const toml::node& n) {
     p.hard_timeout_at = n.source(); return want_optional_duration(n, p.spec.options.edit().hard_timeout); }, true},
  {"soft_signal", [](Pending& p, const toml::node& n) -> Problem {
     std::string s;
     if (want_string(n, s)) return "must be a signal name such as \"TERM\" or \"SIGINT\"";
     auto sig = signal_from_string(s);
     if (!sig) return "unknown signal \"" + s + "\"";
     p.spec.options.edit().soft_signal = *sig; return std::nullopt; }, true},
  {"kill_leftovers", [](Pending& p, const toml::node& n) {
     return want_bool(n, p.spec.options.edit().kill_leftovers); }, true},
  {"retries", [](Pending& p, const toml::node& n) {
     return want_int(n, 0, 1000, p.spec.options.edit().retries); }, true},
  {"retry_backoff", [](Pending& p, const toml::node& n) {
     return want_duration(n, p.spec.options.edit().retry_backoff); }, true},
  {"retry_backoff_max", [](Pending& p, const toml::node& n) {
     return want_duration(n, p.spec.options.edit().retry_backoff_max); }, true},
  {"overlap", [](Pending& p, const toml::node& n) {
     return want_enum(n, overlap_from_string, "skip, queue, replace, allow", p.spec.options.edit().overlap); }, true},
  {"catch_up", [](Pending& p, const toml::node& n) {
     return want_enum(n, catch_up_from_string, "none, once, all", p.spec.options.edit().catch_up); }, true},
  {"max_catch_up", [](Pending& p, const toml::node& n) {
     return want_int(n, 1, 100000, p.spec.options.edit().max_catch_up); }, true},
  {"starting_deadline", [](Pending& p, const toml::node& n) {
     return want_optional_duration(n, p.spec.options.edit().starting_deadline); }, true},
  {"jitter", [](Pending& p, const toml::node& n) { return want_duration(n, p.spec.options.edit().jitter); }, true},
  {"expect_duration", [](Pending& p, const toml::node& n) {
     return want_optional_duration(n, p.spec.options.edit().expect_duration); }, true},
  {"expect_grace", [](Pending& p, const toml::node& n) {
     return want_duration(n, p.spec.options.edit().expect_grace); }, true},
  {"stall_timeout", [](Pending& p, const toml::node& n) {
     config::Problem why = want_optional_duration(n, p.spec.options.edit().stall_timeout);
     if (!why && *p.spec.options->stall_timeout < std::chrono::seconds(1))
       return config::Problem("must be at least 1s (output is looked at once a second)");
     return why; }, true},
  {"on_stall_kill", [](Pending& p, const toml::node& n) {
     return want_bool(n, p.spec.options.edit().on_stall_kill); }, true},
  {"on_failure", set_hook<HookKind::kFailure>, true},
  {"on_success", set_hook<HookKind::kSuccess>, true},
  {"on_missed", set_hook<HookKind::kMissed>, true},
  {"on_stall", set_hook<HookKind::kStall>, true},
  {"hook_timeout", [](Pending& p, const toml::node& n) {
     config::Problem why = want_duration(n, p.spec.options.edit().hook_timeout);
     if (!why && p.spec.options->hook_timeout < std::chrono::seconds(1))
       why = "must be at least 1s";
     return why; }, true},
  {"jitter_fixed", [](Pending& p, const toml::node& n) {
     return want_bool(n, p.spec.options.edit().jitter_fixed); }, true},
  {"on_interrupt", [](Pending& p, const toml::node& n) {
     return want_enum(n, on_interrupt_from_string, "resume, restart, fail", p.spec.options.edit().on_interrupt); }, true},
  {"max_interrupts", [](Pending& p, const toml::node& n) {
     return want_int(n, 0, 1000, p.spec.options.edit().max_interrupts); }, true},
  {"on_unknown_exit", [](Pending& p, const toml::node& n) {
     return want_enum(n, on_unknown_exit_from_string, "fail, rerun", p.spec.options.edit().on_unknown_exit); }, true},
  {"dst_skipped", [](Pending& p, const toml::node& n) -> Problem {
     DstSkipped v{};
     if (auto problem = want_enum(n, dst_skipped_from_string, "run, skip", v)) return problem;
     p.dst_skipped = v; p.dst_at = n.source(); return std::nullopt; }, true},
  {"dst_repeated", [](Pending& p, const toml::node& n) -> Problem {
     DstRepeated v{};
     if (auto problem = want_enum(n, dst_repeated_from_string, "once, twice", v)) return problem;
     p.dst_repeated = v; p.dst_at = n.source(); return std::nullopt; }, true},
};
// clang-format on

const KeyHandler* find_handler(std::string_view key) {
  for (const KeyHandler& h : kHandlers) {
    if (key == h.key) return &h;
  }
  return nullptr;
}

std::string unknown_key_message(std::string_view key) {
  std::string msg = "unknown key \"" + std::string(key) + "\"";
  // Rank by edit distance (at most 2); a key sharing its first four letters with a known one
  // ("retry" for "retries") is a near miss too. Ties go to the smaller edit distance.
  const KeyHandler* best = nullptr;
  std::pair<std::size_t, std::size_t> best_rank{3, 0};
  for (const KeyHandler& h : kHandlers) {
    const std::string_view candidate = h.key;
    // Exact (uncapped): the rank below orders stem matches by it.
    const std::size_t d = edit_distance(key, candidate, key.size() + candidate.size());
    const bool same_stem = key.size() >= 4 && candidate.substr(0, 4) == key.substr(0, 4);
    const std::pair<std::size_t, std::size_t> rank{same_stem ? std::min<std::size_t>(d, 1) : d, d};
    if (rank < best_rank) {
      best_rank = rank;
      best = &h;
    }
  }
  if (best != nullptr) msg += " (did you mean \"" + std::string(best->key) + "\"?)";
  return msg;
}

// Applies every key of `table` to `pending`; reports problems prefixed with `prefix`.
void apply_keys(const toml::table& table, const std::string& file, const std::string& prefix,
                bool is_defaults, Pending& pending, Diagnostics& diag) {
  for (auto&& [key, node] : in_file_order(table)) {
    const KeyHandler* handler = find_handler(key.str());
    if (handler == nullptr) {
      diag.add(file, key.source(), prefix + unknown_key_message(key.str()));
      continue;
    }
    if (is_defaults && !handler->defaultable) {
      diag.add(file, key.source(),
               prefix + "\"" + std::string(key.str()) + "\" cannot have a default; set it per job");
      continue;
    }
    if (Problem problem = handler->set(pending, node)) {
      diag.add(file, node.source(), prefix + std::string(key.str()) + ": " + *problem);
    }
  }
}

// The schedules parsed so far from a file's `cron` values, by text, zone and DST policy.
using CronSchedules = std::unordered_map<std::string, SharedValue<Schedule>>;

// Cross-key checks and the schedule, once every key is in. Returns false on any error.
bool finish_job(Pending& p, const toml::table& table, const std::string& file,
                const std::string& prefix, const JobContext& ctx, CronSchedules& cron_schedules,
                Diagnostics& diag) {
  const std::size_t errors_before = diag.size();
  const int schedules = (p.cron ? 1 : 0) + (p.every ? 1 : 0) + (p.at ? 1 : 0);
  const std::string* workflow = nullptr;  // the workflow whose step it is
  if (ctx.step_jobs != nullptr) {
    if (auto it = ctx.step_jobs->find(p.spec.name); it != ctx.step_jobs->end()) {
      workflow = &it->second;
    }
  }
  if (schedules == 0 && workflow != nullptr) {
    // A step of a workflow: it fires only through it.
  } else if (schedules == 0) {
    diag.add(file, table.source(), prefix + "no schedule: set one of cron, every or at");
  } else if (workflow != nullptr) {
    const Pending::Located& own = p.cron ? *p.cron : p.every ? *p.every : *p.at;
    diag.add(file, own.where,
             prefix +
                 (p.cron    ? "cron"
                  : p.every ? "every"
                            : "at") +
                 ": it is a step of workflow \"" + *workflow +
                 "\", which alone fires it: a step's job has no schedule of its own");
  } else if (schedules > 1) {
    const auto& second = p.at ? p.at : p.every;
    diag.add(file, second->where, prefix + "more than one of cron, every and at is set");
  } else if (p.cron) {
    // Parsed once per text, zone and DST policy in the file: a file of cron-like jobs repeats
    // a few thousand schedules.
    const DstSkipped skipped = p.dst_skipped.value_or(DstSkipped::kRun);
    const DstRepeated repeated = p.dst_repeated.value_or(DstRepeated::kOnce);
    std::string key = p.cron->text;
    key.append(1, '\n').append(p.spec.zone.name()).append(1, '\n');
    key.append(1, static_cast<char>('0' + static_cast<int>(skipped)));
    key.append(1, static_cast<char>('0' + static_cast<int>(repeated)));
    bool parsed = true;
    if (auto it = cron_schedules.find(key); it != cron_schedules.end()) {
      p.spec.schedule = it->second;
    } else if (Result<Schedule> schedule = parse_cron_schedule(p.cron->text, p.spec.zone);
               !schedule) {
      diag.add(file, p.cron->where, prefix + "cron: " + schedule.error().message);
      parsed = false;
    } else {
      p.spec.schedule = std::move(schedule.value());
      if (auto* cron = std::get_if<CronSchedule>(&p.spec.schedule.edit().kind)) {
        cron->spec.set_dst_policy(skipped, repeated);
      }
      cron_schedules.emplace(std::move(key), p.spec.schedule);
    }
    const auto* cron = parsed ? std::get_if<CronSchedule>(&p.spec.schedule->kind) : nullptr;
    if (cron != nullptr) {
      if (cron->spec.never_fires()) {
        diag.add(file, p.cron->where, prefix + "cron: \"" + p.cron->text + "\" never fires");
      }
      if (p.dst_at && cron->spec.follows_wall_time()) {
        diag.add(file, *p.dst_at,
                 prefix + "dst_skipped and dst_repeated apply only to fixed-time schedules; \"" +
                     p.cron->text + "\" has a wildcard in its minute or hour field");
      }
    } else if (parsed && p.dst_at) {
      diag.add(file, *p.dst_at,
               prefix + "dst_skipped and dst_repeated apply only to cron schedules");
    }
  } else {
    Result<Schedule> schedule =
        p.every ? parse_every_schedule(p.every->text) : parse_at_schedule(p.at->text);
    const auto& where = p.every ? p.every->where : p.at->where;
    if (!schedule) {
      diag.add(file, where, prefix + (p.every ? "every: " : "at: ") + schedule.error().message);
    } else {
      p.spec.schedule = std::move(schedule.value());
      if (p.dst_at) {
        diag.add(file, *p.dst_at,
                 prefix + "dst_skipped and dst_repeated apply only to cron schedules");
      }
    }
  }
  if (p.command_at && p.handler_at) {
    diag.add(file, *p.handler_at, prefix + "command and handler are both set; a job has one");
  } else if (!p.command_at && !p.handler_at) {
    diag.add(file, table.source(), prefix + "no command (or handler)");
  } else if (p.handler_at && !ctx.daemon.handlers.contains(p.spec.options->handler)) {
    std::string known;
    for (const std::string& h : ctx.daemon.handlers) known += (known.empty() ? "" : ", ") + h;
    diag.add(file, *p.handler_at,
             prefix + "handler \"" + p.spec.options->handler + "\" is not registered" +
                 (known.empty() ? std::string(" (this program registers none)")
                                : " (registered: " + known + ")"));
  }
  if (!p.handler_at && !p.spec.params.empty()) {
    diag.add(file, table.source(), prefix + "params is set but handler is not");
  }
  if (p.handler_at && p.spec.params.empty()) p.spec.params = "{}";
  if (p.spec.options->soft_timeout && p.spec.options->hard_timeout &&
      *p.spec.options->hard_timeout <= *p.spec.options->soft_timeout) {
    diag.add(file, p.hard_timeout_at.value_or(table.source()),
             prefix + "hard_timeout must be greater than soft_timeout");
  }
  if (!p.spec.options->pool.empty() && p.pool_at && !ctx.pools.contains(p.spec.options->pool)) {
    diag.add(file, *p.pool_at,
             prefix + "pool \"" + p.spec.options->pool + "\" is not defined in [pools]");
  }
  return diag.size() == errors_before;
}

}  // namespace

void check_defaults_table(const toml::table& defaults, const std::string& file,
                          const std::map<std::string, int>& pools, Diagnostics& diag) {
  Pending scratch;
  apply_keys(defaults, file, "defaults: ", true, scratch, diag);
  if (!scratch.spec.options->pool.empty() && scratch.pool_at &&
      !pools.contains(scratch.spec.options->pool)) {
    diag.add(file, *scratch.pool_at,
             "defaults: pool \"" + scratch.spec.options->pool + "\" is not defined in [pools]");
  }
}

namespace {

// Reads the job tables `entries` of `file`.
void read_entries(std::span<const TableEntry> entries, const std::string& file,
                  const JobContext& ctx, std::vector<JobSpec>& out, Diagnostics& diag) {
  out.reserve(entries.size());
  CronSchedules cron_schedules;
  for (auto&& [key, node] : entries) {
    const std::string name(key.str());
    const std::string prefix = "job \"" + name + "\": ";
    if (auto valid = validate_job_name(name); !valid) {
      diag.add(file, key.source(), valid.error().message);
      continue;
    }
    const toml::table* table = node.as_table();
    if (table == nullptr) {
      diag.add(file, node.source(), prefix + "must be a table ([job." + name + "])");
      continue;
    }
    Pending pending;
    pending.spec.name = name;
    pending.spec.zone = ctx.daemon.timezone;
    // A table read back from a definition's tree has no source: its key has the table's.
    const toml::source_region& at =
        table->source().begin.line != 0 ? table->source() : key.source();
    pending.spec.defined_at = {file, static_cast<int>(at.begin.line),
                               static_cast<int>(at.begin.column)};
    if (ctx.defaults != nullptr) {
      // Defaults were checked once on their own; here they only fill in values.
      Diagnostics ignored;
      apply_keys(*ctx.defaults, ctx.defaults_file, "", true, pending, ignored);
      // A default pool or DST policy was checked against [defaults]; a DST default simply
      // does not apply to jobs that follow wall time.
      pending.pool_at.reset();
      pending.dst_at.reset();
      pending.hard_timeout_at.reset();
    }
    apply_keys(*table, file, prefix, false, pending, diag);
    if (finish_job(pending, *table, file, prefix, ctx, cron_schedules, diag)) {
      intern_shared_parts(pending.spec);
      out.push_back(std::move(pending.spec));
    }
  }
}

// Below this many jobs a file is read on the caller's thread alone.
constexpr std::size_t kJobsPerThread = 20'000;

}  // namespace

void read_job_tables(const toml::table& jobs, const std::string& file, const JobContext& ctx,
                     std::vector<JobSpec>& out, Diagnostics& diag) {
  const std::vector<TableEntry> entries = in_file_order(jobs);
  // A large file's jobs are read on a thread per core, each a run of consecutive tables (the
  // tree is only read, and interning locks), then put together in file order, errors too.
  // 1,000,000 jobs: 1.8 s on one thread (bench_runs' load phase).
  const std::size_t cores = std::max(1U, std::thread::hardware_concurrency());
  const std::size_t threads = std::min(cores, entries.size() / kJobsPerThread);
  if (threads <= 1) {
    read_entries(entries, file, ctx, out, diag);
    return;
  }
  std::vector<std::vector<JobSpec>> outs(threads);
  std::vector<Diagnostics> diags(threads);
  const std::size_t per_thread = (entries.size() + threads - 1) / threads;
  {
    std::vector<std::jthread> readers;
    for (std::size_t t = 0; t < threads; ++t) {
      const std::size_t begin = std::min(entries.size(), t * per_thread);
      const std::span<const TableEntry> part =
          std::span(entries).subspan(begin, std::min(per_thread, entries.size() - begin));
      readers.emplace_back([&, part, t] { read_entries(part, file, ctx, outs[t], diags[t]); });
    }
  }
  out.reserve(out.size() + entries.size());
  for (std::size_t t = 0; t < threads; ++t) {
    std::move(outs[t].begin(), outs[t].end(), std::back_inserter(out));
    diag.append(std::move(diags[t]));
  }
}

}  // namespace skedd::config
