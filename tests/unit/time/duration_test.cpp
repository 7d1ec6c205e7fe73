#include <catch2/catch.hpp>

#include "skedd/time/duration.h"
#include "skedd/util/size.h"

using namespace std::chrono_literals;
using skedd::Duration;
using skedd::format_duration;
using skedd::parse_duration;

TEST_CASE("durations parse every unit and combination", "[duration]") {
  struct Row {
    const char* text;
    Duration want;
  };
  const Row rows[] = {
      {"90s", 90s},     {"1h30m", 90min},  {"2d", 48h},           {"500ms", 500ms},
      {"250us", 250us}, {"1w", 168h},      {"1.5h", 90min},       {"0.25s", 250ms},
      {"1m30s", 90s},   {"2h0m5s", 7205s}, {"10s500ms", 10500ms}, {".5s", 500ms},
      {"0s", 0s},
  };
  for (const Row& row : rows) {
    INFO(row.text);
    auto d = parse_duration(row.text);
    REQUIRE(d.ok());
    CHECK(d.value() == row.want);
  }
}

TEST_CASE("duration errors name the text, the problem and the column", "[duration]") {
  struct Row {
    const char* text;
    const char* message;
  };
  const Row rows[] = {
      {"", "invalid duration \"\": empty"},
      {"90", "invalid duration \"90\": missing unit (us, ms, s, m, h, d, w) at column 3"},
      {"90x", "invalid duration \"90x\": unknown unit \"x\" (us, ms, s, m, h, d, w) at column 3"},
      {"h", "invalid duration \"h\": expected a number at column 1"},
      {"-5s", "invalid duration \"-5s\": negative durations at column 1"},
      {"5s 3m", "invalid duration \"5s 3m\": expected a number at column 3"},
      {"99999999999999999999s",
       "invalid duration \"99999999999999999999s\": number too large at column 1"},
  };
  for (const Row& row : rows) {
    auto d = parse_duration(row.text);
    REQUIRE_FALSE(d.ok());
    CHECK(d.error().message == row.message);
  }
}

TEST_CASE("durations format in the largest exact units and round-trip", "[duration]") {
  CHECK(format_duration(0s) == "0s");
  CHECK(format_duration(90s) == "1m30s");
  CHECK(format_duration(5400s) == "1h30m");
  CHECK(format_duration(48h) == "2d");
  CHECK(format_duration(1500ms) == "1s500ms");
  CHECK(format_duration(7us) == "7us");
  for (Duration d : {Duration(1s), Duration(86399s), Duration(1234567891us), Duration(336h)}) {
    auto back = parse_duration(format_duration(d));
    REQUIRE(back.ok());
    CHECK(back.value() == d);
  }
}

TEST_CASE("sizes parse binary units", "[size]") {
  CHECK(skedd::parse_size("4096").value() == 4096u);
  CHECK(skedd::parse_size("512K").value() == 512u * 1024);
  CHECK(skedd::parse_size("10M").value() == 10u * 1024 * 1024);
  CHECK(skedd::parse_size("1GiB").value() == 1024u * 1024 * 1024);
  CHECK(skedd::parse_size("2T").value() == std::uint64_t{2} << 40);
  CHECK(skedd::parse_size("10X").error().message ==
        "invalid size \"10X\": unknown unit \"X\" (K, M, G, T)");
  CHECK(skedd::parse_size("M").error().message == "invalid size \"M\": expected a number");
}

TEST_CASE("fuzz duration-crash-73ffb345: a long fraction of days or weeks does not overflow",
          "[duration]") {
  // 202560560 * 86400000000 overflowed int64 (UBSan): the fraction's digits times the unit.
  auto bad = parse_duration("31h.202560560560d2]");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message ==
        "invalid duration \"31h.202560560560d2]\": unexpected character at column 19");
  CHECK(parse_duration("0.999999999w").value() == Duration(604'799'999'395));
  CHECK(parse_duration("55ms.5555555555555556d").value() ==
        55ms + Duration(47'999'999'952));  // 0.555555555 d: nine digits are kept
}
