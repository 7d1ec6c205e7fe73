// after_commit(): a commit heard of on the store's writer thread reaches the loop only while
// the gate's owner lives, and never touches an io_context that has gone.
#include "runtime/after_commit.h"

#include <optional>
#include <string>

#include <catch2/catch.hpp>

#include "skedd/store/sqlite_store.h"
#include "support/temp_dir.h"

namespace {

std::unique_ptr<skedd::Store> open_store(const std::string& path) {
  auto opened = skedd::open_sqlite_store(path, skedd::SqliteStoreOptions{false, 1000});
  REQUIRE(opened.ok());
  return std::move(opened).value();
}

}  // namespace

TEST_CASE("after_commit calls back on the loop once the writes before it are committed",
          "[runtime]") {
  skedd::test::TempDir dir("skedd-after-commit");
  auto store = open_store(dir / "skedd.db");
  boost::asio::io_context io;
  skedd::CommitGate gate(io);
  std::optional<bool> heard;
  store->put_meta("k", "v");
  skedd::after_commit(*store, gate, [&](const skedd::Status& s) { heard = s.ok(); });
  CHECK_FALSE(heard.has_value());  // never on the caller's stack
  REQUIRE(store->flush().ok());
  io.run();
  CHECK(heard == std::optional<bool>(true));
  CHECK(store->meta("k").value() == std::optional<std::string>("v"));
}

TEST_CASE("a commit heard of after the gate and its io_context are gone is dropped", "[runtime]") {
  // The daemon's store outlives its loop: its last commits come after the loop is destroyed.
  // Before the gate, the writer thread posted to the freed io_context (ASan: use after free).
  skedd::test::TempDir dir("skedd-after-commit");
  auto store = open_store(dir / "skedd.db");
  bool called = false;
  store->begin_group();  // holds the write back until the loop has gone
  store->put_meta("k", "v");
  {
    auto io = std::make_unique<boost::asio::io_context>();
    auto gate = std::make_unique<skedd::CommitGate>(*io);
    skedd::after_commit(*store, *gate, [&](const skedd::Status&) { called = true; });
    gate.reset();
    io.reset();
  }
  store->end_group();
  REQUIRE(store->flush().ok());
  CHECK_FALSE(called);
  CHECK(store->meta("k").value() == std::optional<std::string>("v"));
}

TEST_CASE("a callback posted before its gate went does not run", "[runtime]") {
  skedd::test::TempDir dir("skedd-after-commit");
  auto store = open_store(dir / "skedd.db");
  boost::asio::io_context io;
  bool called = false;
  {
    skedd::CommitGate gate(io);
    store->put_meta("k", "v");
    skedd::after_commit(*store, gate, [&](const skedd::Status&) { called = true; });
    REQUIRE(store->flush().ok());  // posted now, not yet run: the loop is not running
  }
  io.run();
  CHECK_FALSE(called);
}
