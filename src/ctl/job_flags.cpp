#include "ctl/job_flags.h"

#include <fstream>
#include <sstream>
#include <utility>

#include "skedd/cron/crontab_import.h"
#include "util/utf8.h"

namespace skedd::ctl {

Result<std::string> definition_of(const JobFlags& f) {
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
  if (f.name.empty() || f.command.empty()) {
    return Error::invalid_argument("give a job name and --command (or --file)");
  }
  if (static_cast<int>(!f.cron.empty()) + static_cast<int>(!f.every.empty()) +
          static_cast<int>(!f.at.empty()) !=
      1) {
    return Error::invalid_argument("give one of --cron, --every and --at");
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
  for (const auto& [key, value] : values) {
    if (value->empty()) continue;
    if (!valid_utf8(*value)) {
      return Error::invalid_argument(std::string("--") + key + ": not valid UTF-8");
    }
    t += std::string(key) + " = " + toml_quote(*value) + "\n";
  }
  if (f.retries) t += "retries = " + std::to_string(*f.retries) + "\n";
  if (f.priority) t += "priority = " + std::to_string(*f.priority) + "\n";
  return t;
}

}  // namespace skedd::ctl
