// What only the PostgreSQL store does (the contract it shares is in store_contract_test.cpp):
// its configuration checks, its schema and migrations, reconnecting, bytes in text. The
// tests tagged [.postgres] need the fixture's server: ctest runs them as
// store_contract_postgres (CMakeLists.txt), which starts one with scripts/pg-test-server.
#include <chrono>
#include <cstdio>
#include <future>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "skedd/store/postgres_store.h"
#include "store/pg_test_schema.h"
#include "store/store_test_helpers.h"

namespace {

using skedd::RunState;

// The fixture's server: a [.postgres] test run without one fails (it is never vacuous).
std::string pg_server_url() {
  const auto url = store_test::postgres_url();
  if (!url) FAIL("no PostgreSQL test server: run this as ctest's store_contract_postgres");
  return *url;
}

}  // namespace

TEST_CASE("postgres store: a url with a password or a bad schema name is refused", "[store]") {
  CHECK(skedd::check_postgres_url("postgresql://skedd@db.example/skedd").ok());
  CHECK(skedd::check_postgres_url("host=/run/postgresql dbname=skedd").ok());
  const auto with_password = skedd::check_postgres_url("postgresql://skedd:hunter2@db/skedd");
  REQUIRE_FALSE(with_password.ok());
  CHECK_THAT(with_password.error().message, Catch::Contains("passfile"));
  CHECK_THAT(with_password.error().message, !Catch::Contains("hunter2"));
  CHECK_FALSE(skedd::check_postgres_url("host=db password=hunter2").ok());
  const auto garbled = skedd::check_postgres_url("host=db dbname");
  REQUIRE_FALSE(garbled.ok());
  CHECK_THAT(garbled.error().message, Catch::Contains("not a PostgreSQL connection string"));
  CHECK_FALSE(skedd::check_postgres_url("").ok());

  CHECK(skedd::check_postgres_schema("skedd").ok());
  CHECK(skedd::check_postgres_schema("node_2").ok());
  for (const char* bad : {"", "Skedd", "a; DROP TABLE runs", "2x", "a-b"}) {
    CHECK_FALSE(skedd::check_postgres_schema(bad).ok());
  }
  // open_postgres_store() checks before it connects.
  skedd::PostgresStoreOptions o;
  o.url = "postgresql://skedd:hunter2@127.0.0.1:1/skedd";
  const auto store = skedd::open_postgres_store(o);
  REQUIRE_FALSE(store.ok());
  CHECK_THAT(store.error().message, Catch::Contains("password"));
}

TEST_CASE("postgres store: reopened, the history is there; a newer schema is refused",
          "[.postgres]") {
  store_test::PgSchema schema(pg_server_url());
  {
    auto store = schema.open();
    store_test::write_runs_with_every_field(*store);
    store->put_checkpoint(skedd::RunId{1}, "step-4");
    store->put_meta("boot_id", "b1");
    REQUIRE(store->flush().ok());
  }
  {
    auto store = schema.open();  // the migrations find the schema up to date
    const auto runs = store->runs({std::string("backup")});
    REQUIRE(runs.ok());
    REQUIRE(runs->size() == 1);
    CHECK(runs.value()[0].checkpoint == "step-4");
    CHECK(store->meta("boot_id").value() == std::optional<std::string>("b1"));
  }
  schema.exec("UPDATE " + schema.name() + ".schema_version SET version = 999");
  const auto newer = skedd::open_postgres_store(schema.options());
  REQUIRE_FALSE(newer.ok());
  CHECK_THAT(newer.error().message, Catch::Contains("version 999") && Catch::Contains("newer"));
}

TEST_CASE("postgres store: nodes opening one new schema at once make it once", "[.postgres]") {
  store_test::PgSchema schema(pg_server_url());
  std::vector<std::future<bool>> opened;
  for (int i = 0; i < 4; ++i) {
    opened.push_back(std::async(std::launch::async, [&] {
      auto store = skedd::open_postgres_store(schema.options());
      if (!store) std::fprintf(stderr, "open: %s\n", store.error().message.c_str());
      return store.ok();
    }));
  }
  for (auto& f : opened) CHECK(f.get());
  auto store = schema.open();
  store->put_meta("k", "v");
  REQUIRE(store->flush().ok());
  CHECK(store->meta("k").value() == std::optional<std::string>("v"));
}

TEST_CASE("postgres store: writes made while its connections are lost are committed after",
          "[.postgres]") {
  store_test::PgSchema schema(pg_server_url());
  auto store = schema.open();
  store->put_run(store_test::run(1, "a", RunState::kRunning));
  REQUIRE(store->flush().ok());
  schema.terminate_connections();  // as a server restart ends them
  store->put_run(store_test::run(2, "a", RunState::kSucceeded));
  store->put_checkpoint(skedd::RunId{1}, "after");
  // The first commit may meet the dead connection (and is told so); the writes are kept and
  // retried on a new one.
  bool committed = false;
  for (int i = 0; i < 100 && !committed; ++i) {
    committed = store->flush().ok();
    if (!committed) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  REQUIRE(committed);
  CHECK(store->health().ok);
  CHECK(store->health().unwritten == 0);
  const auto runs = store->runs({std::string("a")});  // the reader reconnects too
  REQUIRE(runs.ok());
  REQUIRE(runs->size() == 2);
  CHECK(runs.value()[1].checkpoint == "after");
}

TEST_CASE("postgres store: bytes a run controls are kept as they are", "[.postgres]") {
  store_test::PgSchema schema(pg_server_url());
  auto store = schema.open();
  const std::string odd = std::string("a\0b", 3) + "\xff\xfe" + "'; DROP TABLE runs; --";
  skedd::RunRecord r = store_test::run(1, "a", RunState::kFailed);
  r.checkpoint = odd;
  r.message = odd;
  r.progress_message = odd;
  r.output_tail = odd;
  store->put_run(r);
  store->put_output(skedd::RunId{1}, "k", odd);
  REQUIRE(store->flush().ok());
  skedd::RunQuery q(std::string("a"));
  q.outputs = true;
  const auto runs = store->runs(q);
  REQUIRE(runs.ok());
  REQUIRE(runs->size() == 1);
  const skedd::RunRecord& back = runs.value()[0];
  CHECK(back.checkpoint == odd);
  CHECK(back.message == odd);
  CHECK(back.progress_message == odd);
  CHECK(back.output_tail == odd);
  CHECK(back.outputs.at("k") == odd);
}
