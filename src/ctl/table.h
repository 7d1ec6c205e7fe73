// skedctl's human output: aligned tables, relative times and a progress bar.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace skedd::ctl {

/// Columns padded to their widest cell, two spaces apart. Cells may hold colour escapes and
/// UTF-8; widths count what a terminal shows.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : rows_{std::move(header)} {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  /// Column `column` may be cut (with "…") down to `min` columns to fit a width; columns
  /// marked first are cut first.
  void shrink(std::size_t column, std::size_t min) { shrinkable_.push_back({column, min}); }
  /// `width` 0: no limit. Lines still wider once every shrinkable column is at its minimum
  /// are printed as they are.
  void print(std::ostream& out, std::size_t width = 0) const;

 private:
  std::vector<std::vector<std::string>> rows_;
  std::vector<std::pair<std::size_t, std::size_t>> shrinkable_;
};

/// "in 3m", "2h ago", "now" for an RFC 3339 time; "-" for an empty or unreadable one.
std::string relative(const std::string& rfc3339);
/// "[#######.......]  45%".
std::string progress_bar(double percent, int width);
/// 45 as "45", 12.5 as "12.5".
std::string format_number(double v);
struct Display;
/// The runs of a reply as a table fit to `d` (state in colour on a colour terminal; a failed
/// run's reason on a line under it). `wide`: the scheduled instant, attempt, end and reason
/// as columns too.
void print_runs(std::ostream& out, const nlohmann::json& runs, const Display& d, bool wide = false);

}  // namespace skedd::ctl
