#include "store/pg_conn.h"

#include <charconv>
#include <cstdlib>
#include <cstring>

namespace skedd::pg {
namespace {

// libpq's messages end in a newline, and may hold several lines.
std::string trimmed(const char* message) {
  std::string s = message == nullptr ? "" : message;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (char& c : s) {
    if (c == '\n') c = ' ';
  }
  return s;
}

}  // namespace

Param text(std::string v) {
  return Param{std::move(v), false};
}
Param bytes(std::string v) {
  return Param{std::move(v), true};
}
Param integer(std::int64_t v) {
  return Param{std::to_string(v), false};
}
Param real(double v) {
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return Param{std::string(buf, ec == std::errc() ? end : buf), false};
}
Param null() {
  return Param{std::nullopt, false};
}

std::int64_t Rows::i64(int row, int col) const {
  const char* v = PQgetvalue(r_.get(), row, col);
  std::int64_t out = 0;
  std::from_chars(v, v + std::strlen(v), out);
  return out;
}

double Rows::f64(int row, int col) const {
  return std::strtod(PQgetvalue(r_.get(), row, col), nullptr);
}

std::string Rows::bytes_at(int row, int col) const {
  const char* v = PQgetvalue(r_.get(), row, col);
  const std::size_t n = std::strlen(v);
  // The hex form of a bytea (bytea_output = hex, the default since PostgreSQL 9.0): \x...
  if (n < 2 || v[0] != '\\' || v[1] != 'x') return std::string(v, n);
  auto nibble = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  std::string out;
  out.reserve((n - 2) / 2);
  for (std::size_t i = 2; i + 1 < n; i += 2) {
    out.push_back(static_cast<char>(nibble(v[i]) << 4 | nibble(v[i + 1])));
  }
  return out;
}

std::int64_t Rows::changed() const {
  const char* v = PQcmdTuples(r_.get());
  std::int64_t out = 0;
  std::from_chars(v, v + std::strlen(v), out);
  return out;
}

Conn::~Conn() {
  reset();
}

void Conn::reset() {
  if (c_ != nullptr) PQfinish(c_);
  c_ = nullptr;
}

void Conn::ensure() {
  if (connected()) return;
  reset();
  std::vector<const char*> keys;
  std::vector<const char*> values;
  for (const auto& [k, v] : conninfo_) {
    keys.push_back(k.c_str());
    values.push_back(v.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  c_ = PQconnectdbParams(keys.data(), values.data(), 1);
  if (c_ == nullptr) throw PgError("cannot connect: out of memory", "");
  if (PQstatus(c_) != CONNECTION_OK) {
    const std::string why = trimmed(PQerrorMessage(c_));
    reset();
    throw PgError("cannot connect: " + why, "");
  }
  // The server's notices (a schema that did not exist, a cascade) are not skedd's to print.
  PQsetNoticeProcessor(
      c_, [](void*, const char*) {}, nullptr);
  if (!setup_.empty()) {
    try {
      exec(setup_);
    } catch (...) {
      reset();
      throw;
    }
  }
}

Rows Conn::exec(const std::string& sql, const std::vector<Param>& params) {
  ensure();
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats;
  for (const Param& p : params) {
    values.push_back(p.value ? p.value->data() : nullptr);
    lengths.push_back(p.value ? static_cast<int>(p.value->size()) : 0);
    formats.push_back(p.bytes ? 1 : 0);
  }
  return check(PQexecParams(c_, sql.c_str(), static_cast<int>(params.size()), nullptr,
                            values.data(), lengths.data(), formats.data(), 0));
}

void Conn::exec_script(const std::string& sql) {
  ensure();
  check(PQexec(c_, sql.c_str()));
}

Rows Conn::check(PGresult* r) {
  Rows rows(r);
  const ExecStatusType status = r == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(r);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return rows;
  const char* state = r == nullptr ? nullptr : PQresultErrorField(r, PG_DIAG_SQLSTATE);
  std::string why = trimmed(r == nullptr ? PQerrorMessage(c_) : PQresultErrorMessage(r));
  if (why.empty()) why = trimmed(PQerrorMessage(c_));
  throw PgError(why, state == nullptr ? "" : state);
}

std::string array_element(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

}  // namespace skedd::pg
