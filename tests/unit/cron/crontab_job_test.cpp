// crontab_job_spec() and the shell script that carries '%' input: the job skedd runs for a
// crontab line. The here-document is also run through the real /bin/sh once, to see the
// command read exactly what cron would have written to its stdin.
#include <sys/wait.h>

#include <cstdio>
#include <map>
#include <optional>
#include <string>

#include <catch2/catch.hpp>

#include "schedule/schedule_helpers.h"
#include "skedd/cron/crontab.h"

namespace {

using skedd::CrontabEntry;
using skedd::CrontabFormat;
using skedd::JobSpec;

CrontabEntry entry(const std::string& text, CrontabFormat format = CrontabFormat::kSystem) {
  const skedd::CrontabSource source{"/etc/cron.d/test", format, "alice",
                                    skedd::testing::zone("Europe/Berlin")};
  const skedd::Crontab c = skedd::read_crontab(text, source);
  REQUIRE(c.errors.empty());
  REQUIRE(c.entries.size() == 1);
  return c.entries[0];
}

std::optional<std::string> homes(const std::string& user) {
  static const std::map<std::string, std::string> kHomes = {{"root", "/root"},
                                                            {"alice", "/home/alice"}};
  auto it = kHomes.find(user);
  if (it == kHomes.end()) return std::nullopt;
  return it->second;
}

JobSpec spec_of(const CrontabEntry& e) {
  auto spec = skedd::crontab_job_spec(e, homes);
  INFO((spec ? std::string() : spec.error().message));
  REQUIRE(spec.ok());
  return std::move(spec).value();
}

// What `/bin/sh -c script` prints (popen runs exactly that).
std::string run_shell(const std::string& script) {
  FILE* p = ::popen(script.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[256];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = ::pclose(p);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  return out;
}

TEST_CASE("a crontab line as the job skedd runs: cron's shell, user and environment", "[crontab]") {
  const JobSpec spec =
      spec_of(entry("MAILTO=ops@example.com\n"
                    "25 6 * * * root test -x /usr/sbin/anacron || ( cd / && run-parts --report "
                    "/etc/cron.daily )\n"));
  CHECK(spec.name.starts_with("cron:test:"));
  CHECK(spec.schedule->text == "25 6 * * *");
  CHECK(spec.zone.name() == "Europe/Berlin");
  CHECK(spec.command ==
        std::vector<std::string>{
            "/bin/sh", "-c",
            "test -x /usr/sbin/anacron || ( cd / && run-parts --report /etc/cron.daily )"});
  CHECK(spec.options->shell);
  CHECK(spec.options->user == "root");
  CHECK(spec.options->env == std::map<std::string, std::string>{{"HOME", "/root"},
                                                                {"LOGNAME", "root"},
                                                                {"MAILTO", "ops@example.com"},
                                                                {"PATH", "/usr/bin:/bin"},
                                                                {"SHELL", "/bin/sh"},
                                                                {"USER", "root"}});
  CHECK(spec.options->overlap == skedd::OverlapPolicy::kAllow);
  CHECK_FALSE(spec.options->kill_leftovers);
  CHECK(spec.options->jitter == skedd::Duration::zero());
  CHECK(spec.defined_at.to_string() == "/etc/cron.d/test:2:1");
}

TEST_CASE("crontab variables override SHELL, PATH and HOME but not LOGNAME or USER", "[crontab]") {
  const JobSpec spec = spec_of(
      entry("SHELL=/bin/bash\nPATH=/opt/bin:/usr/bin\nHOME=/srv\nLOGNAME=mallory\nUSER=mallory\n"
            "RANDOM_DELAY=45\n"
            "@daily report --daily\n",
            CrontabFormat::kUser));
  CHECK(spec.command == std::vector<std::string>{"/bin/bash", "-c", "report --daily"});
  CHECK_FALSE(spec.options->shell);
  CHECK(spec.options->user == "alice");
  CHECK(spec.options->env.at("SHELL") == "/bin/bash");
  CHECK(spec.options->env.at("PATH") == "/opt/bin:/usr/bin");
  CHECK(spec.options->env.at("HOME") == "/srv");
  CHECK(spec.options->env.at("LOGNAME") == "alice");
  CHECK(spec.options->env.at("USER") == "alice");
  CHECK(spec.options->jitter == std::chrono::minutes(45));
  CHECK(spec.options->jitter_fixed);
}

TEST_CASE("a user the host does not know: no job, as cron skips the line", "[crontab]") {
  auto spec = skedd::crontab_job_spec(entry("@hourly nobody-here true\n"), homes);
  REQUIRE_FALSE(spec.ok());
  CHECK(spec.error().code == skedd::ErrorCode::kNotFound);
  CHECK(spec.error().message == "/etc/cron.d/test:1: user \"nobody-here\" does not exist");
}

TEST_CASE("'%' input becomes a here-document in front of the command", "[crontab]") {
  const CrontabEntry e = entry(
      "0 22 * * 1-5 root mail -s \"It's 10pm\" joe%Joe,%%Where are "
      "your kids?%\n");
  CHECK(skedd::crontab_shell_script(e) ==
        "exec 0<<'SKEDD_STDIN'\n"
        "Joe,\n\nWhere are your kids?\n"
        "SKEDD_STDIN\n"
        "mail -s \"It's 10pm\" joe");
  CHECK(spec_of(e).command[2] == skedd::crontab_shell_script(e));

  // Input that contains the delimiter as a line gets a longer one.
  const CrontabEntry tricky = entry("@daily root cat%SKEDD_STDIN%x\n");
  CHECK(skedd::crontab_shell_script(tricky) ==
        "exec 0<<'SKEDD_STDIN_'\nSKEDD_STDIN\nx\nSKEDD_STDIN_\ncat");
}

TEST_CASE("the shell hands the here-document to the whole command byte for byte", "[crontab]") {
  struct Row {
    const char* line;
    const char* output;
  };
  // clang-format off
  const Row rows[] = {
    {"@daily root cat%Joe,%%Where are your kids?%", "Joe,\n\nWhere are your kids?\n"},
    {"@daily root cat%$HOME `id` $(id) \\%d\\x'\"", "$HOME `id` $(id) %d\\x'\"\n"},
    {"@daily root cat%SKEDD_STDIN%after", "SKEDD_STDIN\nafter\n"},
    {"@daily root read first; echo \"<$first>\"; cat%one%two", "<one>\ntwo\n"},
    {"@daily root cat -A%\ttab  ", "^Itab  $\n"},
  };
  // clang-format on
  for (const Row& row : rows) {
    INFO(row.line);
    CHECK(run_shell(skedd::crontab_shell_script(entry(std::string(row.line) + "\n"))) ==
          row.output);
  }
}

}  // namespace
