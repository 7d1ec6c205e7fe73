// Crontab entries -> jobs.d TOML, written by hand (the core has no toml++), checked in the
// tests by loading the output with load_config().
#include "skedd/cron/crontab_import.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <set>
#include <utility>

#include "cron/crontab_line.h"
#include "skedd/time/duration.h"
#include "util/utf8.h"

namespace skedd {
namespace {

bool bare_key(std::string_view key) {
  return !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

std::string toml_key(std::string_view key) {
  return bare_key(key) ? std::string(key) : toml_quote(key);
}

// A TOML comment may hold no control character but tab.
std::string comment_text(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7F) c = '?';
  }
  return out;
}

// "cron:<file>:<hash>" -> "cron-<file>-<hash>", the file part cut to fit 64 characters and
// its characters outside [A-Za-z0-9_.-] made '_'.
std::string file_job_name(const std::string& cron_name) {
  const std::size_t first = cron_name.find(':');
  const std::size_t last = cron_name.rfind(':');
  std::string file = cron_name.substr(first + 1, last - first - 1);
  const std::string hash = cron_name.substr(last + 1);
  for (char& c : file) {
    if (!bare_key(std::string_view(&c, 1)) && c != '.') c = '_';
  }
  const std::size_t room = 64 - (5 + 1 + hash.size());
  if (file.size() > room) file.resize(room);
  return "cron-" + file + "-" + hash;
}

// Whether everything of `entry` that goes into the TOML is UTF-8, each piece on its own: two
// invalid pieces can join into a valid sequence (found by fuzz/crontab_fuzz.cpp).
bool all_utf8(const CrontabEntry& entry) {
  if (!valid_utf8(entry.user) || !valid_utf8(entry.command_text) ||
      !valid_utf8(entry.schedule.text)) {
    return false;
  }
  return std::all_of(entry.env.begin(), entry.env.end(), [](const CrontabVariable& v) {
    return valid_utf8(v.name) && valid_utf8(v.value);
  });
}

class Importer {
 public:
  explicit Importer(const CrontabSource& source) : source_(source) {}

  void entry(const CrontabEntry& e) {
    if (!all_utf8(e)) {
      return error(e.line, "not valid UTF-8, which TOML cannot hold; not imported");
    }
    if (const auto* cron = std::get_if<CronSchedule>(&e.schedule.kind);
        cron != nullptr && cron->spec.never_fires()) {
      return warn(e.line, "\"" + e.schedule.text +
                              "\" never fires (cron keeps it but does not run it); not imported");
    }
    if (crontab_shell_script(e).empty()) {
      return warn(e.line, "the command is empty and does nothing; not imported");
    }
    notes(e);
    write_job(e);
  }

  void error(int line, const std::string& message) {
    result_.failed = true;
    add(line, "error: " + message);
  }
  void warn(int line, const std::string& message) { add(line, "warning: " + message); }

  CrontabImport finish() {
    std::stable_sort(messages_.begin(), messages_.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& [line, text] : messages_) result_.messages.push_back(std::move(text));
    return std::move(result_);
  }

 private:
  void add(int line, const std::string& message) {
    messages_.emplace_back(line, source_.path + ":" + std::to_string(line) + ": " + message);
  }

  // Where skedd will not do what cron did, said once per cause.
  void notes(const CrontabEntry& e) {
    const std::string* mailto = crontab_variable(e, "MAILTO");
    if (mailto == nullptr && !warned_owner_mail_) {
      warned_owner_mail_ = true;
      warn(e.line,
           "cron mails a job's output to the crontab's owner; a jobs.d job does not mail it, "
           "the output stays in the run's log (skedd reading the crontab itself, [cron] "
           "sources, mails it as cron does)");
    } else if (mailto != nullptr && !mailto->empty() && mailtos_.insert(*mailto).second) {
      warn(e.line,
           "MAILTO=" + *mailto +
               ": a jobs.d job does not mail its output, it stays in the run's log (skedd reading "
               "the crontab itself, [cron] sources, mails it as cron does)");
    }
    const std::string* delay = crontab_variable(e, "RANDOM_DELAY");
    if (e.random_delay_minutes && *e.random_delay_minutes > 0 && delays_.insert(*delay).second) {
      warn(e.line, "RANDOM_DELAY=" + *delay + " becomes jitter = \"" + jitter(e) +
                       "\" with jitter_fixed = true: a stable delay per job, where cronie "
                       "draws one random factor for all jobs at each start");
    }
    if (e.schedule.is_reboot()) {
      warn(e.line,
           "@reboot: skedd runs this once per boot, when it first starts after the "
           "boot (by boot id), not at every start of the daemon");
    }
    if (!e.input.empty()) {
      warn(e.line,
           "'%' input: the command gets it on stdin from a here-document put in "
           "front of it");
    }
  }

  static std::string jitter(const CrontabEntry& e) {
    return format_duration(std::chrono::minutes(*e.random_delay_minutes));
  }

  void write_job(const CrontabEntry& e) {
    std::string& out = result_.toml;
    const std::string line = e.schedule.text +
                             (source_.format == CrontabFormat::kSystem ? " " + e.user : "") + " " +
                             e.command_text;
    out += "\n# " + source_.path + ":" + std::to_string(e.line) + ": " + comment_text(line) + "\n";
    out += "[job." + toml_key(file_job_name(e.job_name)) + "]\n";
    out += "cron = " + toml_quote(e.cron_expression) + "\n";
    // A CRON_TZ skedd could not load left the line in the host's zone (a warning said so).
    if (const std::string* tz = crontab_variable(e, "CRON_TZ");
        tz != nullptr && !tz->empty() && e.zone.name() == *tz) {
      out += "timezone = " + toml_quote(*tz) + "\n";
    }
    const std::string shell = crontab_shell(e);
    const std::string script = crontab_shell_script(e);
    if (shell == "/bin/sh") {
      out += "command = " + toml_quote(script) + "\n";
    } else {
      out += "command = [" + toml_quote(shell) + ", \"-c\", " + toml_quote(script) + "]\n";
    }
    out += "user = " + toml_quote(e.user) + "\n";
    out += "overlap = \"allow\"\nkill_leftovers = false\n";
    if (e.random_delay_minutes && *e.random_delay_minutes > 0) {
      out += "jitter = \"" + jitter(e) + "\"\njitter_fixed = true\n";
    }
    out += "env = { ";
    bool first = true;
    const auto put = [&](std::string_view name, std::string_view value) {
      out += (first ? "" : ", ") + toml_key(name) + " = " + toml_quote(value);
      first = false;
    };
    // cron's PATH differs from the one skedd gives runs by default; HOME, LOGNAME and USER
    // the daemon sets from the user as cron does (and a crontab cannot change the last two).
    if (crontab_variable(e, "PATH") == nullptr) put("PATH", "/usr/bin:/bin");
    for (const CrontabVariable& v : e.env) {
      if (v.name != "LOGNAME" && v.name != "USER") put(v.name, v.value);
    }
    out += first ? "}\n" : " }\n";
    ++result_.imported;
  }

  const CrontabSource& source_;
  CrontabImport result_;
  std::vector<std::pair<int, std::string>> messages_;
  bool warned_owner_mail_ = false;
  std::set<std::string> mailtos_, delays_;
};

}  // namespace

std::string toml_quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04X", static_cast<unsigned>(c));
          out += escaped;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

CrontabImport import_crontab(const Crontab& crontab, const CrontabSource& source) {
  Importer importer(source);
  for (const CrontabMessage& e : crontab.errors) importer.error(e.line, e.message);
  for (const CrontabMessage& w : crontab.warnings) {
    // The importer says itself what it does with a schedule that never fires.
    if (w.message.ends_with("\" never fires")) continue;
    importer.warn(w.line, w.message);
  }
  for (const CrontabEntry& e : crontab.entries) importer.entry(e);
  CrontabImport result = importer.finish();
  const char* format = source.format == CrontabFormat::kSystem ? "system" : "user";
  std::string header =
      "# skedd jobs imported from " + comment_text(source.path) + " (" + format + " crontab format";
  if (source.format == CrontabFormat::kUser) header += " of " + comment_text(source.user);
  header +=
      ") by skedctl import-crontab.\n"
      "# Stop cron, or remove the crontab, before skedd loads this: else every job runs "
      "twice.\n";
  result.toml = header + result.toml;
  return result;
}

}  // namespace skedd
