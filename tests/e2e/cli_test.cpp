// The real skedd and skedctl binaries, run as a user would: exit codes and whole outputs.
// Every `skedctl next` passes --tz and --from, so nothing depends on the host or the clock.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include "support/command.h"
#include "support/temp_dir.h"

#include "skedd/version.h"

namespace {

namespace fs = std::filesystem;

using skedd::test::TempDir;

using Run = skedd::test::CommandResult;

Run run(const std::vector<std::string>& argv) {
  return skedd::test::run_command(argv);
}

Run skedd(std::vector<std::string> args) {
  args.insert(args.begin(), SKEDD_BINARY);
  return run(args);
}

Run skedctl(std::vector<std::string> args) {
  args.insert(args.begin(), SKEDCTL_BINARY);
  return run(args);
}

constexpr int kExitConfig = 78;

TEST_CASE("skedd --check-config accepts a valid configuration", "[cli]") {
  TempDir dir;
  const std::string main = dir.write("skedd.toml", R"([daemon]
timezone = "Europe/Berlin"
state_dir = "state"

[job.hourly]
cron = "@hourly"
command = ["/bin/true"]
)");
  dir.write("jobs.d/backup.toml", R"([job.nightly]
cron = "30 2 * * *"
command = "backup --all"
soft_timeout = "1h"
hard_timeout = "2h"

[job.poll]
every = "90s"
command = ["/usr/bin/poll"]
)");
  const Run r = skedd({"--check-config", "--config", main});
  SHOW(r);
  CHECK(r.exit_code == 0);
  CHECK(r.out == main + ": OK, 3 job(s) in 2 file(s)\n");
  CHECK(r.err.empty());
}

TEST_CASE("skedd --check-config counts workflows, run when triggered only", "[cli]") {
  TempDir dir;
  const std::string main = dir.write("skedd.toml", R"([daemon]
timezone = "UTC"

[workflow.nightly]
cron = "0 2 * * *"
steps.extract = { job = "extract" }
steps.load = { job = "load", needs = ["extract"] }
)");
  dir.write("jobs.d/steps.toml", R"([job.extract]
command = ["/bin/true"]

[job.load]
command = ["/bin/true"]

[job.hourly]
cron = "@hourly"
command = ["/bin/true"]
)");
  const Run r = skedd({"--check-config", "--config", main});
  SHOW(r);
  CHECK(r.exit_code == 0);
  CHECK(r.out == main + ": OK, 1 job(s) in 2 file(s), 1 workflow(s) of 2 step job(s)\n");
}

TEST_CASE("skedd --check-config refuses an invalid configuration with exit 78", "[cli]") {
  TempDir dir;
  const std::string main = dir.write("skedd.toml", "[daemon]\ntimezone = \"UTC\"\n");
  const std::string jobs = dir.write("jobs.d/backup.toml", R"([job.nightly]
cron = "0 3 * * *"
command = "backup"
hard_timeout= "30m"
soft_timeout = "1h"

[job.broken]
cron = "0 3 * *"
command = "true"
)");
  const Run r = skedd({"--check-config", "-c", main});
  SHOW(r);
  CHECK(r.exit_code == kExitConfig);
  CHECK(r.out.empty());
  CHECK(r.err == jobs + ":4:15: job \"nightly\": hard_timeout must be greater than soft_timeout\n" +
                     jobs +
                     ":8:8: job \"broken\": cron: expected 5 fields (minute hour day-of-month "
                     "month day-of-week) or 6 with leading seconds, got 4 in \"0 3 * *\"\n" +
                     "skedd: configuration " + main + " is invalid\n");
}

TEST_CASE("skedd --check-config on a missing file exits 78 naming it", "[cli]") {
  TempDir dir;
  const std::string missing = dir / "absent.toml";
  const Run r = skedd({"--check-config", "--config", missing});
  SHOW(r);
  CHECK(r.exit_code == kExitConfig);
  CHECK(r.err ==
        missing + ": No such file or directory\nskedd: configuration " + missing + " is invalid\n");
}

TEST_CASE("skedd --version prints the version", "[cli]") {
  const Run r = skedd({"--version"});
  SHOW(r);
  CHECK(r.exit_code == 0);
  CHECK(r.out == std::string("skedd ") + skedd::kVersion + "\n");
}

TEST_CASE("skedctl version and --version print the version", "[cli]") {
  for (const char* arg : {"version", "--version"}) {
    const Run r = skedctl({arg});
    SHOW(r);
    CHECK(r.exit_code == 0);
    CHECK(r.out == std::string("skedctl ") + skedd::kVersion + "\n");
  }
}

TEST_CASE("skedctl next shows a fire moved by the spring-forward gap", "[cli]") {
  const Run r = skedctl({"next", "30 2 * * *", "--tz", "America/New_York", "--from",
                         "2026-03-07T12:00:00", "-n", "2"});
  SHOW(r);
  CHECK(r.exit_code == 0);
  CHECK(r.out ==
        "Sun  2026-03-08T03:00:00-04:00  (shifted: 02:30 does not exist on this day)\n"
        "Mon  2026-03-09T02:30:00-04:00\n");
  CHECK(r.err.empty());
}

TEST_CASE("skedctl next --json prints one parseable object", "[cli]") {
  const Run r = skedctl({"next", "30 2 * * *", "--tz", "America/New_York", "--from",
                         "2026-03-07T12:00:00", "-n", "2", "--json"});
  SHOW(r);
  REQUIRE(r.exit_code == 0);
  const nlohmann::json j = nlohmann::json::parse(r.out);
  CHECK(j == nlohmann::json{
                 {"expression", "30 2 * * *"},
                 {"timezone", "America/New_York"},
                 {"from", "2026-03-07T12:00:00-05:00"},
                 {"fires",
                  {{{"time", "2026-03-08T03:00:00-04:00"},
                    {"utc", "2026-03-08T07:00:00Z"},
                    {"utc_offset_seconds", -14400},
                    {"note", "shifted: 02:30 does not exist on this day"}},
                   {{"time", "2026-03-09T02:30:00-04:00"},
                    {"utc", "2026-03-09T06:30:00Z"},
                    {"utc_offset_seconds", -14400}}}},
             });
}

TEST_CASE("skedctl next with an invalid expression exits 1 with the error on stderr", "[cli]") {
  const Run r = skedctl({"next", "61 * * * *", "--tz", "UTC", "--from", "2026-01-01T00:00:00Z"});
  SHOW(r);
  CHECK(r.exit_code == 1);
  CHECK(r.out.empty());
  CHECK(r.err ==
        "skedctl next: minute field: 61 is out of range 0-59 (column 1 of \"61 * * * *\")\n");
}

TEST_CASE("skedctl next usage errors exit 2", "[cli]") {
  SECTION("unknown time zone") {
    const Run r =
        skedctl({"next", "@daily", "--tz", "Mars/Olympus", "--from", "2026-01-01T00:00:00Z"});
    SHOW(r);
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK(r.err ==
          "skedctl next: --tz: unknown time zone \"Mars/Olympus\" (expected an IANA "
          "name such as \"Europe/Berlin\")\n");
  }
  SECTION("bad --from") {
    const Run r = skedctl({"next", "@daily", "--tz", "UTC", "--from", "yesterday"});
    SHOW(r);
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK(r.err.rfind("skedctl next: --from: invalid timestamp \"yesterday\": ", 0) == 0);
  }
  SECTION("unknown option") {
    const Run r = skedctl({"next", "@daily", "--tz", "UTC", "--bogus"});
    SHOW(r);
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK(r.err.find("--bogus") != std::string::npos);
  }
  SECTION("no subcommand") {
    const Run r = skedctl({});
    SHOW(r);
    CHECK(r.exit_code == 2);
  }
}

TEST_CASE("skedctl next for `every` counts intervals from --from", "[cli]") {
  const Run r =
      skedctl({"next", "every", "90s", "--tz", "UTC", "--from", "2026-01-01T00:00:00Z", "-n", "3"});
  SHOW(r);
  CHECK(r.exit_code == 0);
  CHECK(r.out ==
        "Thu  2026-01-01T00:01:30Z\n"
        "Thu  2026-01-01T00:03:00Z\n"
        "Thu  2026-01-01T00:04:30Z\n");
}

TEST_CASE("skedctl next for an RFC 3339 time fires once, shown in --tz", "[cli]") {
  SECTION("in the future") {
    const Run r = skedctl({"next", "2026-12-01T09:00:00+01:00", "--tz", "America/New_York",
                           "--from", "2026-01-01T00:00:00Z"});
    SHOW(r);
    CHECK(r.exit_code == 0);
    CHECK(r.out == "Tue  2026-12-01T03:00:00-05:00\n");
  }
  SECTION("in the past") {
    const Run r = skedctl(
        {"next", "2026-12-01T09:00:00+01:00", "--tz", "UTC", "--from", "2027-01-01T00:00:00Z"});
    SHOW(r);
    CHECK(r.exit_code == 0);
    CHECK(r.out ==
          "never: \"at 2026-12-01T09:00:00+01:00\" has no fire after "
          "2027-01-01T00:00:00Z\n");
  }
}

TEST_CASE("skedctl next for an expression that never fires says so", "[cli]") {
  SECTION("text") {
    const Run r = skedctl(
        {"next", "0 0 30 2 *", "--tz", "Europe/Berlin", "--from", "2026-01-01T00:00:00+01:00"});
    SHOW(r);
    CHECK(r.exit_code == 0);
    CHECK(r.out == "never: \"0 0 30 2 *\" has no fire after 2026-01-01T00:00:00+01:00\n");
  }
  SECTION("json") {
    const Run r =
        skedctl({"next", "0 0 30 2 *", "--tz", "UTC", "--from", "2026-01-01T00:00:00Z", "--json"});
    SHOW(r);
    REQUIRE(r.exit_code == 0);
    const nlohmann::json j = nlohmann::json::parse(r.out);
    CHECK(j == nlohmann::json{{"expression", "0 0 30 2 *"},
                              {"timezone", "UTC"},
                              {"from", "2026-01-01T00:00:00Z"},
                              {"fires", nlohmann::json::array()}});
  }
}

TEST_CASE("the example configuration in etc/ passes skedd --check-config", "[cli]") {
  const fs::path source = fs::path(SKEDD_SOURCE_DIR) / "etc";
  REQUIRE(fs::exists(source / "skedd.toml"));
  // A checkout's file modes depend on the umask; skedd refuses group-writable files.
  TempDir dir;
  const fs::path etc = fs::path(dir / "etc");
  fs::copy(source, etc, fs::copy_options::recursive);
  for (const auto& entry : fs::recursive_directory_iterator(etc)) {
    fs::permissions(entry.path(), fs::perms::group_write | fs::perms::others_write,
                    fs::perm_options::remove);
  }
  const std::string main = (etc / "skedd.toml").string();
  const Run r = skedd({"--check-config", "--config", main});
  SHOW(r);
  CHECK(r.exit_code == 0);
  CHECK(r.out.rfind(main + ": OK, ", 0) == 0);
  CHECK(r.err.empty());
}

}  // namespace

TEST_CASE("skedctl add refuses flags that are not UTF-8 before connecting, naming the flag",
          "[cli]") {
  // Found by fuzz/skedctl_fuzz.cpp's target: the name went through nlohmann::json, which threw
  // on invalid UTF-8, and skedctl died of the uncaught exception.
  const Run name = skedctl({"--socket", "/nonexistent/skedd.sock", "add", "caf\xe9", "--every",
                            "1m", "--command", "true"});
  SHOW(name);
  CHECK(name.exit_code == 2);
  CHECK(name.err == "skedctl: the job name is not valid UTF-8 (INVALID_ARGUMENT)\n");
  const Run command = skedctl({"--socket", "/nonexistent/skedd.sock", "add", "cafe", "--every",
                               "1m", "--command", "echo caf\xe9"});
  SHOW(command);
  CHECK(command.exit_code == 2);
  CHECK(command.err == "skedctl: --command: not valid UTF-8 (INVALID_ARGUMENT)\n");
}
