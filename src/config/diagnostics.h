#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include <toml++/toml.h>

namespace skedd::config {

/// Collects config errors as "file:line:column: message" lines, in the order found.
class Diagnostics {
 public:
  void add(const std::string& file, const toml::source_region& where, const std::string& message) {
    lines_.push_back(file + ":" + std::to_string(where.begin.line) + ":" +
                     std::to_string(where.begin.column) + ": " + message);
  }
  void add(const std::string& file, const std::string& message) {
    lines_.push_back(file + ": " + message);
  }
  bool empty() const { return lines_.empty(); }
  std::size_t size() const { return lines_.size(); }
  std::string joined() const {
    std::string out;
    for (const auto& l : lines_) {
      if (!out.empty()) out += '\n';
      out += l;
    }
    return out;
  }

 private:
  std::vector<std::string> lines_;
};

/// One entry of a TOML table.
struct TableEntry {
  const toml::key& key;
  const toml::node& node;
};

/// The entries of `table` in the order they appear in the file. Iterating a toml::table
/// directly goes in key order, which would load jobs and report errors out of file order.
inline std::vector<TableEntry> in_file_order(const toml::table& table) {
  std::vector<std::pair<const toml::key*, const toml::node*>> entries;
  for (auto&& [key, node] : table) entries.emplace_back(&key, &node);
  const auto before = [](const auto& a, const auto& b) {
    const toml::source_position& pa = a.first->source().begin;
    const toml::source_position& pb = b.first->source().begin;
    return pa.line != pb.line ? pa.line < pb.line : pa.column < pb.column;
  };
  // Often in order already (keys written in name order, one key): no sort, no sort buffer.
  if (!std::is_sorted(entries.begin(), entries.end(), before)) {
    std::stable_sort(entries.begin(), entries.end(), before);
  }
  std::vector<TableEntry> out;
  out.reserve(entries.size());
  for (const auto& [key, node] : entries) out.push_back({*key, *node});
  return out;
}

}  // namespace skedd::config
