// `skedctl import-crontab` as a user runs it: the TOML on stdout is import_crontab()'s, the
// notes go to stderr, and the exit code says whether every line was imported (0), some line
// was not or the file could not be read (1), or the command line was wrong (2).
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>

#include "support/command.h"
#include "support/temp_dir.h"

#include "skedd/cron/crontab.h"
#include "skedd/cron/crontab_import.h"

namespace {

struct Output {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs skedctl with `args` (already shell-quoted where needed) through /bin/sh.
Output skedctl_sh(const skedd::test::TempDir& dir, const std::string& args) {
  const std::string command = std::string("'") + SKEDCTL_BINARY + "' " + args + " >'" +
                              (dir / "out") + "' 2>'" + (dir / "err") + "'";
  const int status = std::system(command.c_str());
  REQUIRE(WIFEXITED(status));
  return {WEXITSTATUS(status), skedd::test::read_whole_file(dir / "out"),
          skedd::test::read_whole_file(dir / "err")};
}

std::string expected_stderr(const skedd::CrontabImport& imported) {
  std::string err;
  for (const std::string& m : imported.messages) err += m + "\n";
  return err;
}

constexpr const char* kCrontab =
    "SHELL=/bin/sh\n"
    "MAILTO=root\n"
    "17 * * * * root cd / && run-parts --report /etc/cron.hourly\n"
    "@reboot root /usr/local/bin/warm-cache\n";

TEST_CASE("skedctl import-crontab prints the TOML and the notes", "[crontab]") {
  skedd::test::TempDir dir("skedd-import-cli");
  const std::string file = dir.write("crontab", kCrontab);
  const skedd::CrontabSource source{file, skedd::CrontabFormat::kSystem, "", skedd::TimeZone()};
  const auto expected = skedd::import_crontab(skedd::read_crontab(kCrontab, source), source);
  const Output o = skedctl_sh(dir, "import-crontab '" + file + "'");
  CHECK(o.exit_code == 0);
  CHECK(o.out == expected.toml);
  CHECK(o.err == expected_stderr(expected));

  const Output from_stdin = skedctl_sh(dir, "import-crontab - <'" + file + "'");
  CHECK(from_stdin.exit_code == 0);
  CHECK(from_stdin.out.find("[job.cron---") != std::string::npos);
}

TEST_CASE("skedctl import-crontab --user reads a user crontab", "[crontab]") {
  skedd::test::TempDir dir("skedd-import-cli");
  const std::string file = dir.write("alice", "MAILTO=\"\"\n@daily ~/bin/tidy\n");
  const Output o = skedctl_sh(dir, "import-crontab --user alice '" + file + "'");
  CHECK(o.exit_code == 0);
  CHECK(o.out.find("(user crontab format of alice)") != std::string::npos);
  CHECK(o.out.find("command = \"~/bin/tidy\"\nuser = \"alice\"\n") != std::string::npos);
  CHECK(o.err.empty());
}

TEST_CASE("skedctl import-crontab exit codes: 1 for a line or file it cannot read, 2 for usage",
          "[crontab]") {
  skedd::test::TempDir dir("skedd-import-cli");
  const std::string bad = dir.write("bad", "61 * * * * root x\n@hourly root date\n");
  const Output partly = skedctl_sh(dir, "import-crontab '" + bad + "'");
  CHECK(partly.exit_code == 1);
  CHECK(partly.out.find("cron = \"@hourly\"") != std::string::npos);
  CHECK(partly.err.starts_with(bad + ":1: error: minute field: 61 is out of range 0-59"));

  const Output missing = skedctl_sh(dir, "import-crontab '" + (dir / "none") + "'");
  CHECK(missing.exit_code == 1);
  CHECK(missing.out.empty());
  CHECK(missing.err ==
        "skedctl import-crontab: cannot read " + (dir / "none") + ": No such file or directory\n");

  CHECK(skedctl_sh(dir, "import-crontab").exit_code == 2);
  CHECK(skedctl_sh(dir, "import-crontab --user '' '" + bad + "'").exit_code == 2);
}

}  // namespace
