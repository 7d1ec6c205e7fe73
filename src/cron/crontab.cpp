// Crontab text -> entries, line by line as Debian's cron and cronie read it, and an entry
// -> the job skedd runs (shell, here-document for '%' input, environment). Pure.
#include "skedd/cron/crontab.h"

#include <chrono>
#include <cstdio>
#include <map>
#include <utility>

#include "cron/crontab_line.h"
#include "util/chars.h"

namespace skedd {
namespace {

std::string base_name(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  const std::size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

// cronie reads RANDOM_DELAY with strtol and ignores a value without leading digits.
std::optional<int> random_delay_minutes(std::string_view value) {
  std::size_t i = 0;
  while (i < value.size() && is_space(value[i])) ++i;
  long minutes = 0;
  std::size_t digits = 0;
  for (; i < value.size() && is_digit(value[i]); ++i, ++digits) {
    if (minutes < 1'000'000) minutes = minutes * 10 + (value[i] - '0');
  }
  if (digits == 0) return std::nullopt;
  return static_cast<int>(minutes);
}

// The state of the file above the current line.
class Reader {
 public:
  explicit Reader(const CrontabSource& source) : source_(source) {}

  void assignment(int line, CrontabVariable var) {
    if (var.name.empty()) {
      // cron puts "=value" in the job's environment, where no program can look it up.
      warn(line, "a variable with an empty name: cron takes the line, and skedd ignores it");
      return;
    }
    if (var.name == "LOGNAME" || var.name == "USER") {
      warn(line, var.name + " cannot be set in a crontab: cron sets it to the job's user");
    }
    if (var.name == "RANDOM_DELAY" && !random_delay_minutes(var.value)) {
      warn(line, "RANDOM_DELAY=\"" + var.value +
                     "\" is not a number of minutes; cronie ignores it, and so does skedd");
    }
    if (var.name == "CRON_TZ") {
      zone_ = std::nullopt;
      if (!var.value.empty()) {
        // Debian's cron has no CRON_TZ (a plain variable there); skedd takes cronie's, but a
        // zone it cannot load leaves the lines in the host's zone, as on Debian, rather
        // than refusing them.
        auto zone = TimeZone::load(var.value);
        if (zone) {
          zone_ = std::move(zone.value());
        } else {
          warn(line, "CRON_TZ: " + zone.error().message + "; the lines below run in the " +
                         "host's zone (" + source_.default_zone.name() + ")");
        }
      }
    }
    for (CrontabVariable& v : env_) {
      if (v.name == var.name) {
        v.value = std::move(var.value);
        return;
      }
    }
    env_.push_back(std::move(var));
  }

  void job(int line, std::string_view text, bool has_newline) {
    auto fields = split_job_line(text, source_.format);
    if (!fields) return error(line, fields.error().message);
    const TimeZone& zone = zone_ ? *zone_ : source_.default_zone;
    Result<Schedule> schedule =
        fields->sets
            ? Schedule{CronSchedule{cron_spec_from_sets(*fields->sets, zone)}, fields->schedule}
            : parse_cron_schedule(fields->schedule, zone);
    if (!schedule) return error(line, schedule.error().message);
    // cron's load_entry: "a file without a \n before the EOF is rude".
    if (!has_newline) {
      return error(line, "no newline at the end of the file: cron does not run this last line");
    }
    for (std::string& note : fields->notes) warn(line, std::move(note));
    CrontabEntry e;
    e.file = source_.path;
    e.line = line;
    e.user = source_.format == CrontabFormat::kSystem ? fields->user : source_.user;
    e.schedule = std::move(schedule.value());
    e.cron_expression = fields->sets ? fields->expression : fields->schedule;
    e.zone = zone;
    e.command_text = fields->command_text;
    // A C string ends at a NUL: cron's strdup() of the command keeps what is before it.
    if (const std::size_t nul = e.command_text.find('\0'); nul != std::string::npos) {
      warn(line, "a NUL character in the command: cron runs only what is before it");
      e.command_text.resize(nul);
    }
    if (e.command_text.empty()) {
      warn(line, "an empty command: cron takes the line and its shell does nothing");
    }
    split_command(e.command_text, e.command, e.input);
    e.env = env_;
    for (const CrontabVariable& v : env_) {
      if (v.name == "RANDOM_DELAY") e.random_delay_minutes = random_delay_minutes(v.value);
    }
    if (const auto* cron = std::get_if<CronSchedule>(&e.schedule.kind);
        cron != nullptr && cron->spec.never_fires()) {
      warn(line, "\"" + e.schedule.text + "\" never fires");
    }
    e.job_name =
        unique_name(crontab_job_name(source_.path, e.user, e.schedule.text, e.command_text));
    crontab_.entries.push_back(std::move(e));
  }

  void error(int line, std::string message) {
    crontab_.errors.push_back({source_.path, line, std::move(message)});
  }
  void warn(int line, std::string message) {
    crontab_.warnings.push_back({source_.path, line, std::move(message)});
  }

  Crontab take() { return std::move(crontab_); }

 private:
  // Identical lines of one file would share a name; the later ones get "-2", "-3", ...
  std::string unique_name(const std::string& name) {
    const int seen = ++names_[name];
    return seen == 1 ? name : name + "-" + std::to_string(seen);
  }

  const CrontabSource& source_;
  std::vector<CrontabVariable> env_;
  std::optional<TimeZone> zone_;  // CRON_TZ, when set to a zone skedd can load
  std::map<std::string, int> names_;
  Crontab crontab_;
};

constexpr const char* kDefaultShell = "/bin/sh";
constexpr const char* kDefaultPath = "/usr/bin:/bin";  // _PATH_DEFPATH of cron and cronie

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

std::string CrontabMessage::to_string() const {
  return file + ":" + std::to_string(line) + ": " + message;
}

std::uint64_t fnv1a_64(std::string_view bytes) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::string crontab_job_name(std::string_view path, std::string_view user,
                             std::string_view schedule, std::string_view command_text) {
  std::string key;
  key.reserve(user.size() + schedule.size() + command_text.size() + 2);
  key.append(user).append(1, '\n').append(schedule).append(1, '\n').append(command_text);
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x", static_cast<unsigned>(fnv1a_64(key) >> 32));
  return "cron:" + base_name(path) + ":" + hex;
}

Crontab read_crontab(std::string_view text, const CrontabSource& source) {
  Reader reader(source);
  int number = 0;
  std::size_t at = 0;
  while (at < text.size()) {
    ++number;
    const std::size_t end = text.find('\n', at);
    const bool has_newline = end != std::string_view::npos;
    std::string_view line = text.substr(at, has_newline ? end - at : text.size() - at);
    at = has_newline ? end + 1 : text.size();
    // cron's skip_comments() eats the blanks in front of every line it reads.
    while (!line.empty() && is_blank(line.front())) line.remove_prefix(1);
    if (line.empty() || line.front() == '#') continue;
    // load_env() reads the line as a C string: a NUL ends what it looks at.
    const std::string_view before_nul = line.substr(0, line.find('\0'));
    AssignmentParse a = parse_assignment(before_nul);
    if (a.kind == AssignmentParse::kAssignment && before_nul.size() < line.size()) {
      reader.warn(number, "a NUL character in the line: cron reads the assignment up to it");
    }
    if (a.kind == AssignmentParse::kAssignment) {
      reader.assignment(number, std::move(a.variable));
    } else if (a.kind == AssignmentParse::kMalformed) {
      reader.error(number, std::move(a.problem));
    } else {
      reader.job(number, line, has_newline);
    }
  }
  return reader.take();
}

std::string crontab_shell(const CrontabEntry& entry) {
  const std::string* shell = crontab_variable(entry, "SHELL");
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
  JobOptions& options = spec.options.edit();
  options.shell = shell == kDefaultShell;
  options.user = entry.user;
  options.env = crontab_environment(entry, *dir);
  options.overlap = OverlapPolicy::kAllow;
  options.kill_leftovers = false;
  // cron mails what a job writes to MAILTO, else to the crontab's user; MAILTO="" stops it.
  options.mail_to = entry.user;
  for (const CrontabVariable& v : entry.env) {
    if (v.name == "MAILTO") options.mail_to = v.value;
  }
  if (entry.random_delay_minutes && *entry.random_delay_minutes > 0) {
    options.jitter = std::chrono::minutes(*entry.random_delay_minutes);
    options.jitter_fixed = true;
  }
  spec.defined_at = {entry.file, entry.line, 1};
  return spec;
}

}  // namespace skedd
