#include "store/multi_row.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include <algorithm>
#include <cassert>

namespace skedd {

MultiRowStatement::MultiRowStatement(std::string head, std::string row, std::string separator,
                                     std::string tail)
    : head_(std::move(head)),
      row_(std::move(row)),
      separator_(std::move(separator)),
      tail_(std::move(tail)),
      params_per_row_(static_cast<int>(std::count(row_.begin(), row_.end(), '?'))) {}

MultiRowStatement::~MultiRowStatement() = default;

SQLite::Statement& MultiRowStatement::get(SQLite::Database& db, std::size_t rows) {
  assert(rows >= 1 && rows <= kMaxRows);
  auto& slot = by_rows_[rows];
  if (!slot) {
    std::string sql = head_;
    for (std::size_t i = 0; i < rows; ++i) {
      if (i > 0) sql += separator_;
      sql += row_;
    }
    sql += tail_;
    slot = std::make_unique<SQLite::Statement>(db, sql);
  }
  // tryReset(): sqlite3_reset() repeats the error of the statement's last step, which reset()
  // would throw (see SqliteStore::statement).
  (void)slot->tryReset();
  slot->clearBindings();
  return *slot;
}

}  // namespace skedd
