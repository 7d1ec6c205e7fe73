// skedctl's human output: aligned tables, relative times and a progress bar.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace skedd::ctl {

/// Columns padded to their widest cell, two spaces apart.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : rows_{std::move(header)} {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void print(std::ostream& out) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

/// "in 3m", "2h ago", "now" for an RFC 3339 time; "-" for an empty or unreadable one.
std::string relative(const std::string& rfc3339);
/// "[#######.......]  45%".
std::string progress_bar(double percent, int width);
/// 45 as "45", 12.5 as "12.5".
std::string format_number(double v);
/// The runs of a reply as a table (state in colour on a terminal).
void print_runs(std::ostream& out, const nlohmann::json& runs);

}  // namespace skedd::ctl
