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
        "unknown message (expected checkpoint, progress, heartbeat, exit or output) in \"bogus\"");
  CHECK(error_of("progress lots") ==
        "progress wants a percentage from 0 to 100 in \"progress lots\"");
  CHECK(error_of("progress 101") ==
        "progress wants a percentage from 0 to 100 in \"progress 101\"");
  CHECK(error_of("progress -1") == "progress wants a percentage from 0 to 100 in \"progress -1\"");
  CHECK(error_of("exit 256") == "exit wants a code from 0 to 255 in \"exit 256\"");
  CHECK(error_of("exit") == "exit wants a code from 0 to 255 in \"exit\"");
  CHECK(error_of("heartbeat now") ==
        "unknown message (expected checkpoint, progress, heartbeat, exit or output) in \"heartbeat "
        "now\"");
  const std::string huge = "checkpoint " + std::string(skedd::kMaxCheckpoint + 1, 'x');
  CHECK(error_of(huge) ==
        "checkpoint longer than 65536 bytes in \"checkpoint " + std::string(29, 'x') + "...\"");
  // Stored whole, it would reach the next attempt's SKEDD_CHECKPOINT cut at the NUL.
  CHECK(error_of(std::string("checkpoint step\0two", 20)).find("checkpoint holds a NUL byte") == 0);
}

TEST_CASE("run channel output lines give a key and the rest of the line", "[run_channel]") {
  auto out = parse_run_channel_line("output rows_2 1200 rows, 3 files");
  REQUIRE(out.ok());
  CHECK(std::get<skedd::OutputLine>(out.value()).key == "rows_2");
  CHECK(std::get<skedd::OutputLine>(out.value()).value == "1200 rows, 3 files");
  auto bare = parse_run_channel_line("output done\r");
  REQUIRE(bare.ok());
  CHECK(std::get<skedd::OutputLine>(bare.value()).key == "done");
  CHECK(std::get<skedd::OutputLine>(bare.value()).value.empty());

  CHECK(error_of("output") == "output: invalid output key \"\": empty in \"output\"");
  CHECK(error_of("output 2x 1") ==
        "output: invalid output key \"2x\": must start with a letter in \"output 2x 1\"");
  CHECK(error_of("output row-count 1") ==
        "output: invalid output key \"row-count\": character 4 is not a letter, digit or '_' "
        "in \"output row-count 1\"");
  CHECK(error_of("output " + std::string(65, 'k')) ==
        "output: invalid output key \"" + std::string(65, 'k') +
            "\": longer than 64 characters in \"output " + std::string(33, 'k') + "...\"");
  // Handed on in the environment, which cannot hold a NUL.
  CHECK(error_of(std::string("output k a\0b", 12)).find("output value holds a NUL byte") == 0);
}

TEST_CASE("an output budget counts a key once, at its latest value", "[run_channel]") {
  skedd::OutputBudget budget;
  CHECK(budget.admit("a", 10));
  CHECK(budget.bytes() == 11);
  CHECK(budget.admit("a", 4));  // replaces: 1 + 4
  CHECK(budget.bytes() == 5);
  CHECK(budget.admit("b", skedd::kMaxOutputBytes - 5 - 1));
  CHECK(budget.bytes() == skedd::kMaxOutputBytes);
  CHECK_FALSE(budget.admit("c", 0));  // one more byte: refused, nothing counted
  CHECK(budget.bytes() == skedd::kMaxOutputBytes);
  CHECK(budget.admit("a", 3));  // a smaller value of a key fits
  CHECK(budget.bytes() == skedd::kMaxOutputBytes - 1);

  skedd::OutputBudget adopted;
  adopted.restore({{"k", std::string(skedd::kMaxOutputBytes - 1, 'v')}});
  CHECK(adopted.bytes() == skedd::kMaxOutputBytes);
  CHECK_FALSE(adopted.admit("other", 1));
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
