// HandlerRunner on its own: a run whose handler cannot be called ends at once, even during a
// shutdown (which leaves returning runs recorded as running).
#include <optional>

#include <catch2/catch.hpp>

#include "fakes/fake_clock.h"
#include "runtime/handler_runner.h"
#include "skedd/config/config.h"
#include "skedd/store/sqlite_store.h"
#include "support/temp_dir.h"

TEST_CASE("a run whose handler is gone fails at once, during a shutdown too", "[embed]") {
  skedd::test::TempDir dir("skedd-handler-runner-test");
  auto store = skedd::open_sqlite_store(dir / "skedd.db");
  REQUIRE(store.ok());
  skedd::Config base;
  base.daemon.handlers = {"gone"};
  auto spec =
      skedd::parse_job_definition("[job.j]\nevery = \"1m\"\nhandler = \"gone\"\n", "api", base);
  REQUIRE(spec.ok());
  const auto shared = std::make_shared<const skedd::JobSpec>(std::move(spec.value()));
  asio::io_context io;
  skedd::test::FakeClock clock(skedd::Instant(std::chrono::seconds(1'800'000'000)));
  const skedd::HandlerRegistry none;  // registered since: none
  std::optional<skedd::RunOutcome> outcome;
  skedd::HandlerRunner runner(io, clock, *store.value(), skedd::Events{}, &none, 1,
                              [&](const skedd::RunOutcome& o) { outcome = o; });
  const bool stopping = GENERATE(false, true);
  if (stopping) runner.stop_all();
  skedd::Fire fire;
  fire.job = skedd::JobId{0};
  runner.start(skedd::RunId{7}, skedd::JobId{0}, shared, fire, "");
  REQUIRE(outcome.has_value());
  CHECK(outcome->state == skedd::RunState::kFailed);
  CHECK(runner.idle());
  REQUIRE(store.value()->flush().ok());
  const auto runs = store.value()->runs(skedd::RunQuery{"j"});
  REQUIRE(runs.ok());
  REQUIRE(runs->size() == 1);
  CHECK(runs.value()[0].run.value == 7);
  CHECK(runs.value()[0].state == skedd::RunState::kFailed);
  CHECK(runs.value()[0].message == "handler \"gone\" is not registered");
}
