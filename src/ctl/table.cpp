#include "ctl/table.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "skedd/time/timestamp.h"

namespace skedd::ctl {

void Table::print(std::ostream& out) const {
  std::vector<std::size_t> width;
  for (const auto& row : rows_) {
    width.resize(std::max(width.size(), row.size()));
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (const auto& row : rows_) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    out << line << '\n';
  }
}

std::string relative(const std::string& rfc3339) {
  if (rfc3339.empty() || rfc3339 == "-") return "-";
  auto t = parse_rfc3339(rfc3339);
  if (!t) return rfc3339;
  const auto now = std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
  const auto d = std::chrono::duration_cast<std::chrono::seconds>(t.value().time_since_epoch() -
                                                                  now.time_since_epoch());
  const long long s = std::llabs(d.count());
  if (s < 1) return "now";
  std::string amount;
  if (s < 60) {
    amount = std::to_string(s) + "s";
  } else if (s < 3600) {
    amount = std::to_string(s / 60) + "m";
  } else if (s < 86400) {
    amount = std::to_string(s / 3600) + "h" +
             (s % 3600 >= 60 ? std::to_string(s % 3600 / 60) + "m" : "");
  } else {
    amount = std::to_string(s / 86400) + "d" +
             (s % 86400 >= 3600 ? std::to_string(s % 86400 / 3600) + "h" : "");
  }
  return d.count() > 0 ? "in " + amount : amount + " ago";
}

std::string progress_bar(double percent, int width) {
  const double p = std::clamp(percent, 0.0, 100.0);
  const int filled = static_cast<int>(std::lround(p / 100.0 * width));
  char pct[16];
  std::snprintf(pct, sizeof pct, "%5.1f%%", p);
  return "[" + std::string(static_cast<std::size_t>(filled), '#') +
         std::string(static_cast<std::size_t>(width - filled), '.') + "] " + pct;
}

std::string format_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

void print_runs(std::ostream& out, const nlohmann::json& runs) {
  const bool colour = ::isatty(STDOUT_FILENO) != 0;
  auto paint = [colour](const std::string& state) {
    if (!colour) return state;
    const char* code = state == "succeeded"                      ? "32"
                       : state == "running" || state == "paused" ? "36"
                       : state == "scheduled"                    ? "2"
                                                                 : "31";
    return std::string("\x1b[") + code + "m" + state + "\x1b[0m";
  };
  Table t({"RUN", "JOB", "SCHEDULED", "ATTEMPT", "STATE", "EXIT", "STARTED", "ENDED"});
  for (const auto& r : runs) {
    std::string exit = "-";
    if (r.contains("exit_code")) exit = r["exit_code"].dump();
    if (r.contains("signal")) exit = "signal " + r["signal"].dump();
    t.add({r["run"].dump(), r["job"].get<std::string>(), r["scheduled"].get<std::string>(),
           r["attempt"].dump(), paint(r["state"].get<std::string>()), exit,
           relative(r["started"].get<std::string>()),
           r["ended"].is_null() ? "-" : relative(r["ended"].get<std::string>())});
  }
  t.print(out);
}

}  // namespace skedd::ctl
