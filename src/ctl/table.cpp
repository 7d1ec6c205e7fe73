#include "ctl/table.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "ctl/terminal.h"
#include "skedd/time/timestamp.h"

namespace skedd::ctl {

void Table::print(std::ostream& out, std::size_t max_width) const {
  std::vector<std::size_t> width;
  for (const auto& row : rows_) {
    width.resize(std::max(width.size(), row.size()));
    for (std::size_t i = 0; i < row.size(); ++i) {
      width[i] = std::max(width[i], visible_width(row[i]));
    }
  }
  std::size_t total = 0;
  for (const std::size_t w : width) total += w + 2;
  if (total > 0) total -= 2;
  for (const auto& [column, min] : shrinkable_) {
    if (max_width == 0 || total <= max_width || column >= width.size()) continue;
    const std::size_t cut =
        std::min(total - max_width, width[column] - std::min(width[column], min));
    width[column] -= cut;
    total -= cut;
  }
  for (const auto& row : rows_) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      const std::string cell = ellipsize(row[i], width[i]);
      line += cell;
      if (i + 1 < row.size()) line += std::string(width[i] - visible_width(cell) + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
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

namespace {

bool failed_state(const std::string& state) {
  return state != "succeeded" && state != "running" && state != "paused" && state != "scheduled";
}

}  // namespace

void print_runs(std::ostream& out, const nlohmann::json& runs, const Display& d, bool wide) {
  std::vector<std::string> header{"RUN", "JOB", "STATE", "EXIT", "STARTED", "TOOK"};
  if (wide) header.insert(header.end(), {"SCHEDULED", "ATTEMPT", "ENDED", "REASON"});
  // A failed run's reason: a column with --wide, else a line under it, cut to the width.
  std::vector<std::pair<std::size_t, std::string>> reasons;  // (row, reason)
  Table t(header);
  std::size_t row = 0;
  for (const auto& r : runs) {
    std::string exit = "-";
    if (r.contains("exit_code")) exit = r["exit_code"].dump();
    if (r.contains("signal")) exit = "sig " + r["signal"].dump();
    const std::string state = r.value("state", "");
    const std::string ended = r["ended"].is_null() ? "" : r["ended"].get<std::string>();
    const std::string started = r.value("started", "");
    std::vector<std::string> cells{r["run"].dump(),
                                   r.value("job", ""),
                                   paint(d, state),
                                   exit,
                                   state == "scheduled" ? "-" : when(d, started),
                                   ended.empty() ? "-" : took(started, ended)};
    const std::string reason = failed_state(state) ? r.value("message", "") : "";
    if (wide) {
      cells.insert(cells.end(), {when(d, r.value("scheduled", "")), r["attempt"].dump(),
                                 when(d, ended), reason.empty() ? "-" : reason});
    } else if (!reason.empty()) {
      reasons.emplace_back(row, reason);
    }
    t.add(std::move(cells));
    ++row;
  }
  t.shrink(1, 8);  // JOB
  if (reasons.empty()) {
    t.print(out, d.width);
    return;
  }
  std::ostringstream table;
  t.print(table, d.width);
  std::istringstream lines(table.str());
  std::string line;
  std::getline(lines, line);
  out << line << '\n';  // the header
  std::size_t next = 0;
  for (row = 0; std::getline(lines, line); ++row) {
    out << line << '\n';
    if (next < reasons.size() && reasons[next].first == row) {
      const std::string text = "  reason: " + reasons[next++].second;
      out << (d.width > 0 ? ellipsize(text, d.width) : text) << '\n';
    }
  }
}

}  // namespace skedd::ctl
