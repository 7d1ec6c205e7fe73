#include "ctl/job_flags.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <utility>

#include "skedd/cron/crontab_import.h"
#include "skedd/time/time_zone.h"
#include "skedd/time/timestamp.h"
#include "util/utf8.h"

namespace skedd::ctl {

Result<std::string> at_of(const std::string& at, const std::string& timezone, Instant now) {
  TimeZone zone = TimeZone::local();
  if (!timezone.empty()) {
    auto loaded = TimeZone::load(timezone);
    if (!loaded) return Error::invalid_argument("--timezone: " + loaded.error().message);
    zone = loaded.value();
  }
  std::string text = at;
  // "2026-12-24 18:00" as a person writes it: the T, and the seconds, filled in.
  if (text.size() >= 16 && text[10] == ' ') text[10] = 'T';
  if (text.size() == 16 && text[13] == ':') text += ":00";
  auto t = parse_timestamp(text, zone);
  if (!t) {
    return Error::invalid_argument("--at: \"" + at +
                                   "\" is not a time (2026-12-24T18:00:00, in --timezone or the "
                                   "local zone, or RFC 3339 with an offset)");
  }
  if (t.value() <= now) {
    return Error::invalid_argument("--at: " + format_rfc3339(t.value(), zone) +
                                   " is in the past: a one-shot must be ahead");
  }
  return format_rfc3339(t.value(), zone);
}

std::string with_flag_names(const std::string& message, const std::vector<std::string>& lines,
                            bool merged) {
  std::istringstream in(message);
  std::string out, line;
  while (std::getline(in, line)) {
    if (!out.empty()) out += '\n';
    // "api:LINE:COL: message" (the table's own line 1: the job's name)
    std::size_t a = 0, b = 0;
    if (line.starts_with("api:") && (a = line.find(':', 4)) != std::string::npos &&
        (b = line.find(": ", a + 1)) != std::string::npos) {
      std::string rest = line.substr(b + 2);
      // The daemon says which job first: `job "NAME": KEY: message`.
      if (rest.starts_with("job \"")) {
        if (const std::size_t end = rest.find("\": "); end != std::string::npos) {
          rest = rest.substr(end + 3);
        }
      }
      // "KEY: message" names the flag itself (also in a merged update, whose lines are not
      // the flags').
      const std::size_t colon = rest.find(": ");
      std::string key = colon == std::string::npos ? std::string() : rest.substr(0, colon);
      std::replace(key.begin(), key.end(), '_', '-');
      if (!key.empty() && std::find(lines.begin(), lines.end(), key) != lines.end()) {
        out += "--" + key + ": " + rest.substr(colon + 2);
        continue;
      }
      const std::string number = line.substr(4, a - 4);
      const bool digits =
          !number.empty() && number.find_first_not_of("0123456789") == std::string::npos;
      const std::size_t n = digits && !merged ? std::stoul(number) : 0;
      if (n >= 1 && n <= lines.size()) {
        const std::string& flag = lines[n - 1];
        out +=
            (flag.empty() ? std::string("the job name") : "--" + flag) + ": " + line.substr(b + 2);
        continue;
      }
    }
    out += line;
  }
  return out;
}

Result<std::string> definition_of(JobFlags& f) {
  if (!f.file.empty()) {
    if (!f.name.empty() || !f.command.empty()) {
      return Error::invalid_argument("give either --file or a name and flags, not both");
    }
    std::ifstream in(f.file);
    if (!in) return Error::invalid_argument("cannot read " + f.file);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }
  const int schedules = static_cast<int>(!f.cron.empty()) + static_cast<int>(!f.every.empty()) +
                        static_cast<int>(!f.at.empty());
  if (f.partial) {
    if (f.name.empty()) return Error::invalid_argument("give the job's name (or --file)");
    if (schedules > 1)
      return Error::invalid_argument("give at most one of --cron, --every and --at");
  } else {
    if (f.name.empty() || f.command.empty()) {
      return Error::invalid_argument("give a job name and --command (or --file)");
    }
    if (schedules != 1) return Error::invalid_argument("give one of --cron, --every and --at");
  }
  const std::pair<const char*, const std::string*> values[] = {
      {"cron", &f.cron},
      {"every", &f.every},
      {"at", &f.at},
      {"command", &f.command},
      {"user", &f.user},
      {"group", &f.group},
      {"timezone", &f.timezone},
      {"overlap", &f.overlap},
      {"soft_timeout", &f.soft_timeout},
      {"hard_timeout", &f.hard_timeout},
      {"pool", &f.pool},
  };
  if (!valid_utf8(f.name)) return Error::invalid_argument("the job name is not valid UTF-8");
  std::string t = "[job." + toml_quote(f.name) + "]\n";
  f.line_flags = {""};
  // CLI11's names of the flags (--soft-timeout for soft_timeout).
  const auto flag_of = [](std::string key) {
    std::replace(key.begin(), key.end(), '_', '-');
    return key;
  };
  for (const auto& [key, value] : values) {
    if (value->empty()) continue;
    if (!valid_utf8(*value)) {
      return Error::invalid_argument("--" + flag_of(key) + ": not valid UTF-8");
    }
    t += std::string(key) + " = " + toml_quote(*value) + "\n";
    f.line_flags.push_back(flag_of(key));
  }
  if (f.retries) {
    t += "retries = " + std::to_string(*f.retries) + "\n";
    f.line_flags.push_back("retries");
  }
  if (f.priority) {
    t += "priority = " + std::to_string(*f.priority) + "\n";
    f.line_flags.push_back("priority");
  }
  if (f.partial && f.line_flags.size() == 1) {
    return Error::invalid_argument("give the flags to change (or --file with the whole job)");
  }
  return t;
}

}  // namespace skedd::ctl
