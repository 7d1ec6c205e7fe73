// A libpq connection for the PostgreSQL store: statements with parameters, results as
// strings, failures as PgError (with their SQLSTATE). Only src/store/ includes this.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace skedd::pg {

/// A failed statement or connection: `sqlstate` is "" when the server sent none (the
/// connection was lost or never made).
class PgError : public std::runtime_error {
 public:
  PgError(const std::string& what, std::string sqlstate)
      : std::runtime_error(what), sqlstate_(std::move(sqlstate)) {}
  const std::string& sqlstate() const { return sqlstate_; }
  /// A serialization failure or deadlock: the transaction may simply be run again.
  bool retryable() const { return sqlstate_ == "40001" || sqlstate_ == "40P01"; }

 private:
  std::string sqlstate_;
};

/// One parameter: text, bytes (sent as bytea, in binary) or NULL.
struct Param {
  std::optional<std::string> value;
  bool bytes = false;
};
Param text(std::string v);
Param bytes(std::string v);
Param integer(std::int64_t v);
Param real(double v);
Param null();
template <typename T>
Param maybe(const std::optional<T>& v) {
  return v ? integer(static_cast<std::int64_t>(*v)) : null();
}

/// A statement's rows, as text (bytea columns in their hex form: see bytes_at()).
class Rows {
 public:
  explicit Rows(PGresult* r) : r_(r, &PQclear) {}
  int size() const { return PQntuples(r_.get()); }
  bool null(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
  std::string str(int row, int col) const { return PQgetvalue(r_.get(), row, col); }
  std::int64_t i64(int row, int col) const;
  std::optional<std::int64_t> opt(int row, int col) const {
    if (null(row, col)) return std::nullopt;
    return i64(row, col);
  }
  double f64(int row, int col) const;
  /// A bytea column's bytes.
  std::string bytes_at(int row, int col) const;
  /// The number of rows the statement changed.
  std::int64_t changed() const;

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> r_;
};

/// A connection, made again by ensure() after it was lost.
class Conn {
 public:
  /// `conninfo`: the keywords and values given to PQconnectdbParams (dbname may be a URI).
  /// `setup`: statements run on every new connection (the schema's search path).
  Conn(std::vector<std::pair<std::string, std::string>> conninfo, std::string setup)
      : conninfo_(std::move(conninfo)), setup_(std::move(setup)) {}
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  /// Connects when not connected (or the connection went bad). Throws PgError.
  void ensure();
  /// Runs `sql` with `params` ($1, $2, ...). Throws PgError.
  Rows exec(const std::string& sql, const std::vector<Param>& params = {});
  /// Runs `sql`, which may be several statements, without parameters. Throws PgError.
  void exec_script(const std::string& sql);
  /// Drops the connection (the next ensure() makes a new one).
  void reset();
  bool connected() const { return c_ != nullptr && PQstatus(c_) == CONNECTION_OK; }

 private:
  // The rows of a statement's result, or its error thrown.
  Rows check(PGresult* r);

  std::vector<std::pair<std::string, std::string>> conninfo_;
  std::string setup_;
  PGconn* c_ = nullptr;
};

/// `s` quoted as an element of a PostgreSQL array literal ("..." with \ and " escaped).
std::string array_element(const std::string& s);

}  // namespace skedd::pg
