// The PostgreSQL server the store tests run against: the one CTest's fixture started
// (scripts/pg-test-server, its dir in $SKEDD_TEST_PG_DIR), each test in a schema of its own,
// dropped when the test ends.
#pragma once

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <string>

#include <catch2/catch.hpp>

#include "skedd/store/postgres_store.h"
#include "store/pg_conn.h"

namespace store_test {

/// The fixture server's URL, or nullopt when this run has none ($SKEDD_TEST_PG_DIR unset).
/// A dir without a url (the fixture failed) fails the test.
inline std::optional<std::string> postgres_url() {
  const char* dir = std::getenv("SKEDD_TEST_PG_DIR");
  if (dir == nullptr || *dir == '\0') return std::nullopt;
  std::ifstream in(std::string(dir) + "/url");
  std::string url;
  std::getline(in, url);
  if (url.empty()) FAIL("no PostgreSQL test server: " << dir << "/url is missing");
  return url;
}

/// A schema of its own on the fixture server, dropped with everything in it at the end.
class PgSchema {
 public:
  explicit PgSchema(std::string url) : url_(std::move(url)) {
    static std::atomic<int> counter{0};
    name_ = "t" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    drop();
  }
  ~PgSchema() {
    try {
      drop();
    } catch (...) {
    }
  }
  PgSchema(const PgSchema&) = delete;
  PgSchema& operator=(const PgSchema&) = delete;

  const std::string& name() const { return name_; }
  const std::string& url() const { return url_; }
  skedd::PostgresStoreOptions options() const {
    skedd::PostgresStoreOptions o;
    o.url = url_;
    o.schema = name_;
    o.application_name = "skedd-test-" + name_;
    return o;
  }
  std::unique_ptr<skedd::Store> open() const {
    auto store = skedd::open_postgres_store(options());
    if (!store) FAIL("cannot open the postgres store: " << store.error().message);
    return std::move(store.value());
  }
  /// Runs `sql` on a connection of the test's own (outside the schema).
  void exec(const std::string& sql) const {
    skedd::pg::Conn c({{"dbname", url_}}, "");
    c.exec(sql);
  }
  /// Ends the store's connections from the server's side (as a server restart does).
  void terminate_connections() const {
    exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '" +
         options().application_name + "'");
  }

 private:
  void drop() const { exec("DROP SCHEMA IF EXISTS " + name_ + " CASCADE"); }
  std::string url_;
  std::string name_;
};

}  // namespace store_test
