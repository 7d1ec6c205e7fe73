// The run control channel: each line kind, and every error as its whole text.
#include "skedd/core/run_channel.h"

#include <catch2/catch.hpp>

namespace {

using skedd::parse_run_channel_line;

std::string error_of(std::string_view line) {
  auto r = parse_run_channel_line(line);
  return r ? "ok" : r.error().message;
}

}  // namespace

TEST_CASE("run channel lines parse", "[run_channel]") {
  auto cp = parse_run_channel_line("checkpoint rows=1200 file=a b");
  REQUIRE(cp.ok());
  CHECK(std::get<skedd::CheckpointLine>(cp.value()).text == "rows=1200 file=a b");

  auto empty_cp = parse_run_channel_line("checkpoint");
  REQUIRE(empty_cp.ok());
  CHECK(std::get<skedd::CheckpointLine>(empty_cp.value()).text.empty());

  auto pr = parse_run_channel_line("progress 42.5 copying files");
  REQUIRE(pr.ok());
  CHECK(std::get<skedd::ProgressLine>(pr.value()).percent == 42.5);
  CHECK(std::get<skedd::ProgressLine>(pr.value()).message == "copying files");

  auto bare = parse_run_channel_line("progress 100\r");
  REQUIRE(bare.ok());
  CHECK(std::get<skedd::ProgressLine>(bare.value()).message.empty());

  CHECK(std::holds_alternative<skedd::HeartbeatLine>(parse_run_channel_line("heartbeat").value()));
  CHECK(std::get<skedd::ExitLine>(parse_run_channel_line("exit 3").value()).code == 3);
}

TEST_CASE("run channel errors quote the line", "[run_channel]") {
  CHECK(error_of("bogus") ==
        "unknown message (expected checkpoint, progress, heartbeat or exit) in \"bogus\"");
  CHECK(error_of("progress lots") ==
        "progress wants a percentage from 0 to 100 in \"progress lots\"");
  CHECK(error_of("progress 101") ==
        "progress wants a percentage from 0 to 100 in \"progress 101\"");
  CHECK(error_of("progress -1") == "progress wants a percentage from 0 to 100 in \"progress -1\"");
  CHECK(error_of("exit 256") == "exit wants a code from 0 to 255 in \"exit 256\"");
  CHECK(error_of("exit") == "exit wants a code from 0 to 255 in \"exit\"");
  CHECK(error_of("heartbeat now") ==
        "unknown message (expected checkpoint, progress, heartbeat or exit) in \"heartbeat now\"");
  const std::string huge = "checkpoint " + std::string(skedd::kMaxCheckpoint + 1, 'x');
  CHECK(error_of(huge) ==
        "checkpoint longer than 65536 bytes in \"checkpoint " + std::string(29, 'x') + "...\"");
  // Stored whole, it would reach the next attempt's SKEDD_CHECKPOINT cut at the NUL.
  CHECK(error_of(std::string("checkpoint step\0two", 20)).find("checkpoint holds a NUL byte") == 0);
}

TEST_CASE("the line splitter returns whole lines and cuts runaway ones", "[run_channel]") {
  skedd::LineSplitter s;
  std::string line;
  s.append("heart");
  CHECK_FALSE(s.next(line));
  s.append("beat\nexit 0\npartial");
  REQUIRE(s.next(line));
  CHECK(line == "heartbeat");
  REQUIRE(s.next(line));
  CHECK(line == "exit 0");
  CHECK_FALSE(s.next(line));
  s.append("\n");
  REQUIRE(s.next(line));
  CHECK(line == "partial");

  s.append(std::string(skedd::kMaxCheckpoint + 100, 'y'));
  REQUIRE(s.next(line));
  CHECK(line.size() == skedd::kMaxCheckpoint + 64);
  CHECK_FALSE(s.next(line));
}
