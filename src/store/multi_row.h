// Statements that write many rows at once, for the store's writer.
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <string>

namespace SQLite {
class Database;
class Statement;
}  // namespace SQLite

namespace skedd {

/// One statement of up to kMaxRows rows (`head`, then `row` n times joined by `separator`, then
/// `tail`), prepared once per row count on first use. A statement's fixed cost (its step, reset
/// and halt, its statement journal) is then paid once for many rows: under a heavy load it
/// was most of what a small write cost.
class MultiRowStatement {
 public:
  static constexpr std::size_t kMaxRows = 32;

  MultiRowStatement(std::string head, std::string row, std::string separator,
                    std::string tail = "");
  ~MultiRowStatement();
  MultiRowStatement(const MultiRowStatement&) = delete;
  MultiRowStatement& operator=(const MultiRowStatement&) = delete;

  /// The statement for `rows` rows, reset and with its bindings cleared: row k (from 0) binds
  /// its i-th parameter (from 1) at k * params_per_row() + i. Throws SQLite::Exception when it
  /// cannot be prepared. REQUIRES: 1 <= rows <= kMaxRows; `db` the same on every call.
  SQLite::Statement& get(SQLite::Database& db, std::size_t rows);
  /// How many `?` one row has.
  int params_per_row() const { return params_per_row_; }
  /// Calls `write(first, n)` for consecutive chunks of `count` items, each of at most
  /// kMaxRows, in order.
  template <typename Write>
  static void for_each_chunk(std::size_t count, Write write) {
    for (std::size_t first = 0; first < count; first += kMaxRows) {
      write(first, count - first < kMaxRows ? count - first : kMaxRows);
    }
  }

 private:
  std::string head_, row_, separator_, tail_;
  int params_per_row_;
  std::array<std::unique_ptr<SQLite::Statement>, kMaxRows + 1> by_rows_;
};

}  // namespace skedd
