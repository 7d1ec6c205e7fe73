#pragma once

#include <algorithm>
#include <iterator>
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
  /// Adds `other`'s lines after these.
  void append(Diagnostics&& other) {
    lines_.insert(lines_.end(), std::make_move_iterator(other.lines_.begin()),
                  std::make_move_iterator(other.lines_.end()));
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
  struct Entry {
    toml::source_index line;
    toml::source_index column;
    const toml::key* key;
    const toml::node* node;
  };
  // The positions are copied out so that a sort of a million jobs' keys reads one array.
  std::vector<Entry> entries;
  entries.reserve(table.size());
  for (auto&& [key, node] : table) {
    entries.push_back({key.source().begin.line, key.source().begin.column, &key, &node});
  }
  const auto before = [](const Entry& a, const Entry& b) {
    return a.line != b.line ? a.line < b.line : a.column < b.column;
  };
  // Often in order already (keys written in name order, one key): no sort, no sort buffer.
  if (!std::is_sorted(entries.begin(), entries.end(), before)) {
    std::stable_sort(entries.begin(), entries.end(), before);
  }
  std::vector<TableEntry> out;
  out.reserve(entries.size());
  for (const Entry& e : entries) out.push_back({*e.key, *e.node});
  return out;
}

}  // namespace skedd::config
