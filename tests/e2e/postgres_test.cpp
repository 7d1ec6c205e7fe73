// The real skedd with its history in PostgreSQL ([store] backend = "postgres"). The tests
// tagged [.postgres] need the fixture's server: ctest runs them as daemon_postgres
// (CMakeLists.txt), which starts one with scripts/pg-test-server.
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <sstream>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "skedd/store/postgres_store.h"
#include "store/pg_test_schema.h"
#include "support/command.h"
#include "support/daemon.h"
#include "support/daemon_jobs.h"
#include "support/temp_dir.h"

namespace {

using skedd::test::Daemon;
using skedd::test::Json;
using skedd::test::TempDir;

std::string store_lines(const store_test::PgSchema& schema) {
  return "[store]\nbackend = \"postgres\"\nurl = \"" + schema.url() + "\"\nschema = \"" +
         schema.name() + "\"\n";
}

}  // namespace

TEST_CASE("skedd on PostgreSQL: kill -9 mid-run, the next skedd adopts the run from the database",
          "[.postgres]") {
  const auto url = store_test::postgres_url();
  if (!url) FAIL("no PostgreSQL test server: run this as ctest's daemon_postgres");
  store_test::PgSchema schema(*url);
  TempDir dir;
  const std::string config = skedd::test::write_config(
      dir, store_lines(schema), skedd::test::job(dir, "slow", skedd::test::at_line(), R"(
echo started >> "$DIR/starts"
echo checkpoint 1 >&3
while [ ! -e "$DIR/go" ]; do sleep 0.05; done
echo checkpoint 2 >&3
)"));
  Daemon first(dir, config);
  const Json started = first.wait_for("run_started", skedd::test::of_job("slow"));
  first.wait_for("checkpoint", skedd::test::of_run(started));
  {
    auto store = schema.open();
    REQUIRE(skedd::test::wait_until(
        [&] {
          auto runs = store->runs({std::string("slow"), skedd::RunState::kRunning, 1});
          return runs.ok() && !runs->empty() && !runs.value()[0].checkpoint.empty();
        },
        std::chrono::milliseconds(3000)));
  }
  first.signal(SIGKILL);
  REQUIRE(first.wait_exit(std::chrono::milliseconds(3000)).has_value());
  first.leave_runs();
  Daemon second(dir, config);
  second.wait_for("run_adopted", skedd::test::of_run(started));
  dir.write("go", "");
  const Json finished = second.wait_for("run_finished", skedd::test::of_run(started));
  CHECK(finished["state"] == "succeeded");
  CHECK(second.events_named("run_started", skedd::test::of_job("slow")).empty());
  CHECK(skedd::test::slurp(dir / "starts") == "started\n");
  second.signal(SIGTERM);
  REQUIRE(second.wait_exit(std::chrono::milliseconds(5000)) == 0);
  // Nothing of the history is in the state dir: it is all in the schema.
  struct stat st {};
  CHECK(::stat((dir / "state/skedd.db").c_str(), &st) != 0);
  auto store = schema.open();
  auto runs = store->runs({std::string("slow")});
  REQUIRE(runs.ok());
  REQUIRE(runs->size() == 1);
  CHECK(runs.value()[0].checkpoint == "2");
  CHECK(runs.value()[0].state == skedd::RunState::kSucceeded);
  CHECK(store->last_fires().value().count("slow") == 1);
}

TEST_CASE("skedd --check-config refuses a PostgreSQL url with a password, naming [store] url",
          "[daemon]") {
  TempDir dir;
  const std::string config = skedd::test::write_config(
      dir,
      "[store]\nbackend = \"postgres\"\nurl = \"postgresql://skedd:hunter2@db.example/skedd\"\n",
      skedd::test::job(dir, "a", "every = \"1h\"", "true\n"));
  const auto r = skedd::test::run_command({SKEDD_BINARY, "--check-config", "--config", config});
  CHECK(r.exit_code == 78);
  CHECK_THAT(r.err, Catch::Contains("[store] url") && Catch::Contains("passfile"));
  CHECK_THAT(r.err, !Catch::Contains("hunter2"));
  // And a postgres backend without a url, a relative passfile, a bad schema: config errors.
  const std::string bad = skedd::test::write_config(
      dir, "[store]\nbackend = \"postgres\"\npassfile = \"pgpass\"\nschema = \"No-Such\"\n",
      skedd::test::job(dir, "a", "every = \"1h\"", "true\n"));
  const auto b = skedd::test::run_command({SKEDD_BINARY, "--check-config", "--config", bad});
  CHECK(b.exit_code == 78);
  CHECK_THAT(b.err, Catch::Contains("needs url") && Catch::Contains("store.passfile") &&
                        Catch::Contains("store.schema"));
}

TEST_CASE("skedd on PostgreSQL: the database restarts, skedd goes on and nothing is lost",
          "[.postgres]") {
  // A server of the test's own (the fixture's is shared with tests running beside this one).
  TempDir dir;
  const std::string server = std::string(SKEDD_SOURCE_DIR) + "/scripts/pg-test-server";
  struct Stopped {
    std::string server, where;
    ~Stopped() { skedd::test::run_command({server, "stop", where}); }
  } stopped{server, dir / "pg"};
  REQUIRE(skedd::test::run_command({server, "start", dir / "pg"}).exit_code == 0);
  const std::string url = skedd::test::slurp(dir / "pg/url");
  store_test::PgSchema schema(url.substr(0, url.find('\n')));
  const std::string config = skedd::test::write_config(
      dir, store_lines(schema),
      skedd::test::job(dir, "tick", "every = \"1s\"", "echo \"$SKEDD_RUN_ID\" >> \"$DIR/stamps\"\n",
                       "catch_up = \"all\""));
  Daemon d(dir, config);
  d.wait_for("run_finished", 2, skedd::test::of_job("tick"));
  REQUIRE(skedd::test::run_command({server, "down", dir / "pg"}).exit_code == 0);
  d.wait_for("store_unwritable", 1, {}, std::chrono::milliseconds(10000));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  REQUIRE(skedd::test::run_command({server, "up", dir / "pg"}).exit_code == 0);
  d.wait_for("store_writable", 1, {}, std::chrono::milliseconds(10000));
  const std::size_t before = d.events_named("run_finished").size();
  d.wait_for("run_finished", before + 1, skedd::test::of_job("tick"));
  d.signal(SIGTERM);
  REQUIRE(d.wait_exit(std::chrono::milliseconds(10000)) == 0);
  // Every run that started (its own stamp) is in the history, ended.
  auto store = schema.open();
  std::istringstream stamps(skedd::test::slurp(dir / "stamps"));
  int checked = 0;
  for (std::string line; std::getline(stamps, line); ++checked) {
    skedd::RunQuery q;
    q.run = skedd::RunId{std::stoull(line)};
    const auto runs = store->runs(q);
    REQUIRE(runs.ok());
    INFO("run " << line);
    REQUIRE(runs->size() == 1);
    CHECK(runs.value()[0].state == skedd::RunState::kSucceeded);
  }
  CHECK(checked >= 3);
}
