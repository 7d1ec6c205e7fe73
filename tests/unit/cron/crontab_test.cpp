// read_crontab() over a corpus of real crontabs (Debian's /etc/crontab, cron.d files as
// Debian packages ship them, cronie's man page example), cron's quoting and '%' rules, and
// bad lines with their whole error text. Pure: no files, no clock.
#include <cstdio>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "cron/crontab_helpers.h"
#include "schedule/schedule_helpers.h"
#include "skedd/cron/crontab.h"
#include "skedd/schedule/schedule.h"
#include "skedd/time/timestamp.h"

namespace {

using skedd::Crontab;
using skedd::CrontabEntry;
using skedd::CrontabFormat;
using skedd::CrontabSource;
using skedd::CrontabVariable;
using skedd::read_crontab;
using skedd::testing::zone;

using skedd::testing::system_file;
using skedd::testing::user_file;

std::vector<std::string> messages(const std::vector<skedd::CrontabMessage>& list) {
  std::vector<std::string> out;
  for (const auto& m : list) out.push_back(m.to_string());
  return out;
}

// Reads `text` and requires that every line loaded.
Crontab read_clean(const std::string& text, const CrontabSource& source) {
  Crontab c = read_crontab(text, source);
  INFO(Catch::Detail::stringify(messages(c.errors)));
  REQUIRE(c.errors.empty());
  return c;
}

// The next `n` fires of an entry after `from` (RFC 3339), shown in the entry's zone.
std::vector<std::string> fires(const CrontabEntry& e, const std::string& from, int n) {
  std::vector<std::string> out;
  skedd::Instant t = skedd::testing::at(from);
  for (int i = 0; i < n; ++i) {
    auto fire = e.schedule.next_after(t, t);
    if (!fire) break;
    out.push_back(skedd::format_rfc3339(fire->at, e.zone));
    t = fire->at;
  }
  return out;
}

// Debian bookworm's /etc/crontab, as the cron package installs it.
constexpr const char* kDebianCrontab =
    "# /etc/crontab: system-wide crontab\n"
    "# Unlike any other crontab you don't have to run the `crontab'\n"
    "# command to install the new version when you edit this file\n"
    "# and files in /etc/cron.d. These files also have username fields,\n"
    "# that none of the other crontabs do.\n"
    "\n"
    "SHELL=/bin/sh\n"
    "# You can also override PATH, but by default, newer versions inherit it from the "
    "environment\n"
    "#PATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin\n"
    "\n"
    "# Example of job definition:\n"
    "# .---------------- minute (0 - 59)\n"
    "# |  .------------- hour (0 - 23)\n"
    "# |  |  .---------- day of month (1 - 31)\n"
    "# |  |  |  .------- month (1 - 12) OR jan,feb,mar,apr ...\n"
    "# |  |  |  |  .---- day of week (0 - 6) (Sunday=0 or 7) OR sun,mon,tue,wed,thu,fri,sat\n"
    "# |  |  |  |  |\n"
    "# *  *  *  *  * user-name command to be executed\n"
    "17 *\t* * *\troot\tcd / && run-parts --report /etc/cron.hourly\n"
    "25 6\t* * *\troot\ttest -x /usr/sbin/anacron || { cd / && run-parts --report "
    "/etc/cron.daily; }\n"
    "47 6\t* * 7\troot\ttest -x /usr/sbin/anacron || { cd / && run-parts --report "
    "/etc/cron.weekly; }\n"
    "52 6\t1 * *\troot\ttest -x /usr/sbin/anacron || { cd / && run-parts --report "
    "/etc/cron.monthly; }\n"
    "#\n";

TEST_CASE("Debian's default /etc/crontab: four root jobs with SHELL set", "[crontab]") {
  const Crontab c = read_clean(kDebianCrontab, system_file("/etc/crontab"));
  REQUIRE(c.entries.size() == 4);
  CHECK(c.warnings.empty());
  const CrontabEntry& daily = c.entries[1];
  CHECK(daily.file == "/etc/crontab");
  CHECK(daily.line == 20);
  CHECK(daily.user == "root");
  CHECK(daily.schedule.text == "25 6 * * *");
  CHECK(daily.command ==
        "test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.daily; }");
  CHECK(daily.input.empty());
  CHECK(daily.env == std::vector<CrontabVariable>{{"SHELL", "/bin/sh"}});
  CHECK(daily.zone.name() == "Europe/Berlin");
  CHECK(c.entries[0].schedule.text == "17 * * * *");
  CHECK(c.entries[2].schedule.text == "47 6 * * 7");
  CHECK(c.entries[3].schedule.text == "52 6 1 * *");
  // Sunday written as 7, in the host's zone.
  CHECK(fires(c.entries[2], "2026-03-01T00:00:00Z", 2) ==
        std::vector<std::string>{"2026-03-01T06:47:00+01:00", "2026-03-08T06:47:00+01:00"});
}

TEST_CASE("the older Debian /etc/crontab with ( cd / && run-parts ) subshells", "[crontab]") {
  const Crontab c = read_clean(
      "SHELL=/bin/sh\n"
      "PATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin\n"
      "\n"
      "# m h dom mon dow user\tcommand\n"
      "17 *\t* * *\troot    cd / && run-parts --report /etc/cron.hourly\n"
      "25 6\t* * *\troot\ttest -x /usr/sbin/anacron || ( cd / && run-parts --report "
      "/etc/cron.daily )\n",
      system_file("/etc/crontab"));
  REQUIRE(c.entries.size() == 2);
  CHECK(c.entries[1].command ==
        "test -x /usr/sbin/anacron || ( cd / && run-parts --report /etc/cron.daily )");
  CHECK(c.entries[1].env ==
        std::vector<CrontabVariable>{
            {"SHELL", "/bin/sh"},
            {"PATH", "/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin"}});
}

TEST_CASE("cron.d files as Debian packages ship them", "[crontab]") {
  SECTION("php: sessionclean every 30 minutes, minutes with a leading zero") {
    const Crontab c = read_clean(
        "# /etc/cron.d/php@PHP_VERSION@: crontab fragment for PHP\n"
        "#  This purges session files in session.save_path older than X,\n"
        "\n"
        "# Look for and purge old sessions every 30 minutes\n"
        "09,39 *     * * *     root   [ -x /usr/lib/php/sessionclean ] && if [ ! -d "
        "/run/systemd/system ]; then /usr/lib/php/sessionclean; fi\n",
        system_file("/etc/cron.d/php"));
    REQUIRE(c.entries.size() == 1);
    CHECK(c.entries[0].schedule.text == "09,39 * * * *");
    CHECK(c.entries[0].command ==
          "[ -x /usr/lib/php/sessionclean ] && if [ ! -d /run/systemd/system ]; then "
          "/usr/lib/php/sessionclean; fi");
    CHECK(c.entries[0].job_name.starts_with("cron:php:"));
    CHECK(fires(c.entries[0], "2026-05-01T10:00:00Z", 3) ==
          std::vector<std::string>{"2026-05-01T12:09:00+02:00", "2026-05-01T12:39:00+02:00",
                                   "2026-05-01T13:09:00+02:00"});
  }
  SECTION("e2scrub_all (e2fsprogs)") {
    const Crontab c = read_clean(
        "30 3 * * 0 root test -e /run/systemd/system || SERVICE_MODE=1 "
        "/usr/lib/x86_64-linux-gnu/e2fsprogs/e2scrub_all_cron\n"
        "10 3 * * * root test -e /run/systemd/system || SERVICE_MODE=1 /sbin/e2scrub_all -A -r\n",
        system_file("/etc/cron.d/e2scrub_all"));
    REQUIRE(c.entries.size() == 2);
    CHECK(c.entries[1].command ==
          "test -e /run/systemd/system || SERVICE_MODE=1 /sbin/e2scrub_all -A -r");
    CHECK(c.entries[0].schedule.text == "30 3 * * 0");
  }
  SECTION("sysstat: its own PATH and a stepped range") {
    const Crontab c = read_clean(
        "# The first element of the path is a directory where the debian-sa1\n"
        "# script is located\n"
        "PATH=/usr/lib/sysstat:/usr/sbin:/usr/sbin:/usr/bin:/sbin:/bin\n"
        "\n"
        "# Activity reports every 10 minutes everyday\n"
        "5-55/10 * * * * root command -v debian-sa1 > /dev/null && debian-sa1 1 1\n"
        "\n"
        "# Additional run at 23:59 to rotate the statistics file\n"
        "59 23 * * * root command -v debian-sa1 > /dev/null && debian-sa1 60 2\n",
        system_file("/etc/cron.d/sysstat"));
    REQUIRE(c.entries.size() == 2);
    CHECK(c.entries[0].env ==
          std::vector<CrontabVariable>{
              {"PATH", "/usr/lib/sysstat:/usr/sbin:/usr/sbin:/usr/bin:/sbin:/bin"}});
    CHECK(fires(c.entries[0], "2026-05-01T10:00:00Z", 3) ==
          std::vector<std::string>{"2026-05-01T12:05:00+02:00", "2026-05-01T12:15:00+02:00",
                                   "2026-05-01T12:25:00+02:00"});
  }
  SECTION("mdadm: \\% in a command is a literal %") {
    const Crontab c = read_clean(
        "57 0 * * 0 root if [ -x /usr/share/mdadm/checkarray ] && [ $(date +\\%d) -le 7 ]; "
        "then /usr/share/mdadm/checkarray --cron --all --idle --quiet; fi\n",
        system_file("/etc/cron.d/mdadm"));
    REQUIRE(c.entries.size() == 1);
    CHECK(c.entries[0].command ==
          "if [ -x /usr/share/mdadm/checkarray ] && [ $(date +%d) -le 7 ]; then "
          "/usr/share/mdadm/checkarray --cron --all --idle --quiet; fi");
    CHECK(c.entries[0].input.empty());
  }
  SECTION("certbot: a backslash before anything but % stays") {
    const Crontab c = read_clean(
        "SHELL=/bin/sh\n"
        "PATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin\n"
        "\n"
        "0 */12 * * * root test -x /usr/bin/certbot -a \\! -d /run/systemd/system && perl -e "
        "'sleep int(rand(43200))' && certbot -q renew\n",
        system_file("/etc/cron.d/certbot"));
    REQUIRE(c.entries.size() == 1);
    CHECK(c.entries[0].command ==
          "test -x /usr/bin/certbot -a \\! -d /run/systemd/system && perl -e 'sleep "
          "int(rand(43200))' && certbot -q renew");
  }
  SECTION("cronie's 0hourly: MAILTO and a leading zero") {
    const Crontab c = read_clean(
        "# Run the hourly jobs\n"
        "SHELL=/bin/bash\n"
        "PATH=/sbin:/bin:/usr/sbin:/usr/bin\n"
        "MAILTO=root\n"
        "01 * * * * root run-parts /etc/cron.hourly\n",
        system_file("/etc/cron.d/0hourly"));
    REQUIRE(c.entries.size() == 1);
    CHECK(c.entries[0].env.size() == 3);
    CHECK(skedd::crontab_shell(c.entries[0]) == "/bin/bash");
  }
}

TEST_CASE("'%' ends the command, the rest is stdin with '%' as newlines", "[crontab]") {
  struct Row {
    const char* line;
    const char* command;
    const char* input;
  };
  // clang-format off
  const Row rows[] = {
    {"0 22 * * 1-5 mail -s \"It's 10pm\" joe%Joe,%%Where are your kids?%",
     "mail -s \"It's 10pm\" joe", "Joe,\n\nWhere are your kids?\n"},
    {"* * * * * cat%one%two", "cat", "one\ntwo\n"},
    {"* * * * * cat%", "cat", ""},
    {"* * * * * cat%%", "cat", "\n"},
    {"* * * * * echo 100\\%", "echo 100%", ""},
    {"* * * * * cat%50\\% off", "cat", "50% off\n"},
    {"* * * * * cat%a\\b", "cat", "a\\b\n"},
    {"* * * * * printf 'a\\tb'", "printf 'a\\tb'", ""},
    {"* * * * * echo a\\\\%b", "echo a\\", "b\n"},
    {"* * * * * echo a\\\\b", "echo a\\b", ""},
    {"* * * * * cat%a\\\\%b", "cat", "a\\%b\n"},
    {"* * * * * cat%end\\", "cat", "end\\\n"},
  };
  // clang-format on
  for (const Row& row : rows) {
    INFO(row.line);
    const Crontab c = read_clean(std::string(row.line) + "\n", user_file("joe"));
    REQUIRE(c.entries.size() == 1);
    CHECK(c.entries[0].command == row.command);
    CHECK(c.entries[0].input == row.input);
  }
}

TEST_CASE("environment lines: cron's quoting, in effect for the lines after them", "[crontab]") {
  struct Row {
    const char* line;
    const char* name;
    const char* value;
  };
  // clang-format off
  const Row rows[] = {
    {"FOO=bar", "FOO", "bar"},
    {"FOO = bar baz  ", "FOO", "bar baz"},
    {"  FOO\t=\tbar", "FOO", "bar"},
    {"FOO=\"  spaced  \"", "FOO", "  spaced"},
    {"FOO=\"'nested'\"", "FOO", "nested"},
    {"FOO='\"x\"'", "FOO", "x"},
    {"FOO='single'  ", "FOO", "single"},
    {"FOO=\"it's\"", "FOO", "it's"},
    {"\"MY VAR\" = x", "MY VAR", "x"},
    {"MAILTO=\"\"", "MAILTO", ""},
    {"FOO=a=b", "FOO", "a=b"},
    {"FOO=\"a\" ", "FOO", "a"},
    {"FOO=a \"b\"", "FOO", "a \"b\""},
    {"PATH=$HOME/bin:$PATH", "PATH", "$HOME/bin:$PATH"},
    {"FOO=bar # not a comment", "FOO", "bar # not a comment"},
  };
  // clang-format on
  for (const Row& row : rows) {
    INFO(row.line);
    const Crontab c = read_clean(std::string(row.line) + "\n* * * * * true\n", user_file("u"));
    REQUIRE(c.entries.size() == 1);
    CHECK(c.entries[0].env == std::vector<CrontabVariable>{{row.name, row.value}});
  }

  const Crontab c = read_clean(
      "@hourly first\n"
      "A=1\n"
      "B=2\n"
      "@hourly second\n"
      "A=3\n"
      "@hourly third\n",
      user_file("u"));
  REQUIRE(c.entries.size() == 3);
  CHECK(c.entries[0].env.empty());
  CHECK(c.entries[1].env == std::vector<CrontabVariable>{{"A", "1"}, {"B", "2"}});
  CHECK(c.entries[2].env == std::vector<CrontabVariable>{{"A", "3"}, {"B", "2"}});
}

TEST_CASE("CRON_TZ sets the zone of the lines after it, empty means the default", "[crontab]") {
  const Crontab c = read_clean(
      "30 2 * * * berlin\n"
      "CRON_TZ=America/New_York\n"
      "30 2 * * * new-york\n"
      "CRON_TZ=\"\"\n"
      "30 2 * * * default-again\n",
      user_file("u"));
  REQUIRE(c.entries.size() == 3);
  CHECK(c.entries[0].zone.name() == "Europe/Berlin");
  CHECK(c.entries[1].zone.name() == "America/New_York");
  CHECK(c.entries[2].zone.name() == "Europe/Berlin");
  // 2026-03-08: New York skips 02:00-03:00; a fixed-time job runs right after the jump.
  CHECK(fires(c.entries[1], "2026-03-07T00:00:00Z", 3) ==
        std::vector<std::string>{"2026-03-07T02:30:00-05:00", "2026-03-08T03:00:00-04:00",
                                 "2026-03-09T02:30:00-04:00"});
}

TEST_CASE("macros, and @reboot which is no time", "[crontab]") {
  const Crontab c = read_clean(
      "@reboot /usr/local/bin/at-boot\n"
      "@yearly y\n@annually a\n@monthly m\n@weekly w\n@daily d\n@midnight n\n@hourly h\n",
      user_file("u"));
  REQUIRE(c.entries.size() == 8);
  CHECK(c.entries[0].schedule.is_reboot());
  CHECK(c.entries[0].schedule.text == "@reboot");
  CHECK(fires(c.entries[0], "2026-01-01T00:00:00Z", 1).empty());
  CHECK(fires(c.entries[1], "2026-01-01T00:00:00Z", 1) ==
        std::vector<std::string>{"2027-01-01T00:00:00+01:00"});
  CHECK(fires(c.entries[4], "2026-01-01T00:00:00Z", 1) ==
        std::vector<std::string>{"2026-01-04T00:00:00+01:00"});  // a Sunday
  CHECK(fires(c.entries[7], "2026-01-01T00:00:00Z", 1) ==
        std::vector<std::string>{"2026-01-01T02:00:00+01:00"});
}

TEST_CASE("system format has a user field, user format runs as the owner", "[crontab]") {
  const std::string line = "0 5 * * * backup /usr/local/bin/backup --all\n";
  const Crontab system = read_clean(line, system_file("/etc/cron.d/backup"));
  REQUIRE(system.entries.size() == 1);
  CHECK(system.entries[0].user == "backup");
  CHECK(system.entries[0].command == "/usr/local/bin/backup --all");

  const Crontab user = read_clean(line, user_file("alice"));
  REQUIRE(user.entries.size() == 1);
  CHECK(user.entries[0].user == "alice");
  CHECK(user.entries[0].command == "backup /usr/local/bin/backup --all");
  CHECK(user.entries[0].job_name.starts_with("cron:alice:"));
}

TEST_CASE("0 0 */2 * 1 is odd days that are Mondays (cronie's day rule)", "[crontab]") {
  const Crontab c = read_clean("0 0 */2 * 1 root check\n0 0 1,15 * 5 root either\n",
                               system_file("/etc/cron.d/days"));
  REQUIRE(c.entries.size() == 2);
  CHECK(fires(c.entries[0], "2026-01-01T00:00:00Z", 5) ==
        std::vector<std::string>{"2026-01-05T00:00:00+01:00", "2026-01-19T00:00:00+01:00",
                                 "2026-02-09T00:00:00+01:00", "2026-02-23T00:00:00+01:00",
                                 "2026-03-09T00:00:00+01:00"});
  // Both day fields restricted: either matches (the 1st, the 15th, and Fridays).
  CHECK(fires(c.entries[1], "2026-01-01T00:00:00Z", 4) ==
        std::vector<std::string>{"2026-01-02T00:00:00+01:00", "2026-01-09T00:00:00+01:00",
                                 "2026-01-15T00:00:00+01:00", "2026-01-16T00:00:00+01:00"});
}

TEST_CASE("bad lines: an error each with file, line and what is wrong, the rest read",
          "[crontab]") {
  const Crontab c = read_crontab(
      "MAILTO=\n"
      "FOO=\"unterminated\n"
      "FOO=\"a\" b\n"
      "61 * * * * root x\n"
      "* * * * root x\n"
      "0 0 L * * root x\n"
      "0 0 * * 5#2 root x\n"
      "5/10 * * * * root x\n"
      "@every 5m root x\n"
      "@fortnightly root x\n"
      "0 5 * * *\n"
      "0 5 * * * root\n"
      "0 5 * *\n"
      "0 * * * * * root x\n"
      "0 0 * jan-foo * root x\n"
      "CRON_TZ=Mars/Olympus\n"
      "0 0 * * * root in-mars\n"
      "CRON_TZ=UTC\n"
      "0 12 * * * root good\n"
      "0 0 30 2 * root never\n"
      "0 0 * * * root no newline",
      system_file("/etc/cron.d/broken"));
  CHECK(messages(c.errors) ==
        std::vector<std::string>{
            "/etc/cron.d/broken:1: \"MAILTO=\" has no value: cron takes an empty value only in "
            "quotes, as in MAILTO=\"\"",
            "/etc/cron.d/broken:2: the value of FOO has no closing \"",
            "/etc/cron.d/broken:3: text after the closing \" of the value of FOO",
            "/etc/cron.d/broken:4: minute field: 61 is out of range 0-59 (column 1 of \"61 * * "
            "* *\")",
            "/etc/cron.d/broken:5: day-of-week field: \"root\" is not a number or a "
            "three-letter name (column 9 of \"* * * * root\")",
            "/etc/cron.d/broken:6: day-of-month field: \"L\" is not a number (column 5 of \"0 "
            "0 L * *\")",
            "/etc/cron.d/broken:8: minute field: \"5/10\" steps from a single value, which "
            "Debian's cron (\"bad minute\") and cronie refuse; write \"5-59/10\" or \"5\" "
            "(column 1 of \"5/10 * * * *\")",
            "/etc/cron.d/broken:9: unknown macro \"@every\" (cron takes @reboot, @yearly, "
            "@annually, @monthly, @weekly, @daily, @midnight and @hourly)",
            "/etc/cron.d/broken:10: unknown macro \"@fortnightly\" (cron takes @reboot, "
            "@yearly, @annually, @monthly, @weekly, @daily, @midnight and @hourly)",
            "/etc/cron.d/broken:11: no user name and command after the time fields \"0 5 * * "
            "*\"",
            "/etc/cron.d/broken:12: no command after the user name \"root\"",
            "/etc/cron.d/broken:13: expected five time fields (minute hour day-of-month month "
            "day-of-week) and a command, got only \"0 5 * *\"",
            "/etc/cron.d/broken:14: the user name starts with '*': cron refuses this as a sixth "
            "time field (crontabs have five)",
            "/etc/cron.d/broken:15: month field: \"foo\" is not a number or a three-letter "
            "name (column 11 of \"0 0 * jan-foo *\")",
            "/etc/cron.d/broken:21: no newline at the end of the file: cron does not run this "
            "last line",
        });
  // What Debian's cron takes although it looks wrong: text after a complete item ("#2"),
  // and a CRON_TZ (a plain variable to Debian's cron) naming no zone.
  CHECK(messages(c.warnings) ==
        std::vector<std::string>{
            "/etc/cron.d/broken:7: day-of-week field \"5#2\": Debian's cron reads \"5\" and "
            "ignores \"#2\", and so does skedd",
            "/etc/cron.d/broken:16: CRON_TZ: unknown time zone \"Mars/Olympus\" (expected an "
            "IANA name such as \"Europe/Berlin\"); the lines below run in the host's zone "
            "(Europe/Berlin)",
            "/etc/cron.d/broken:20: \"0 0 30 2 *\" never fires"});
  REQUIRE(c.entries.size() == 4);
  CHECK(c.entries[0].line == 7);
  CHECK(c.entries[0].schedule.text == "0 0 * * 5#2");
  CHECK(fires(c.entries[0], "2026-01-01T00:00:00Z", 2) ==
        std::vector<std::string>{"2026-01-02T00:00:00+01:00", "2026-01-09T00:00:00+01:00"});
  CHECK(c.entries[1].line == 17);
  CHECK(c.entries[1].zone.name() == "Europe/Berlin");
  CHECK(c.entries[2].line == 19);
  CHECK(c.entries[2].zone.name() == "UTC");
  CHECK(c.entries[2].command == "good");
  CHECK(c.entries[3].line == 20);
}

TEST_CASE("time fields as Debian's cron reads them, lenient where it is", "[crontab]") {
  struct Row {
    const char* fields;
    const char* first_fires;  // from 2026-01-01T00:00:00Z in Europe/Berlin, or "never"
    const char* note;         // the warning, or ""
  };
  // clang-format off
  const Row rows[] = {
    {"1;2 3 * * *", "2026-01-01T03:01:00+01:00 2026-01-02T03:01:00+01:00",
     "minute field \"1;2\": Debian's cron reads \"1\" and ignores \";2\", and so does skedd"},
    {"*x 3 1 1 *", "2026-01-01T03:00:00+01:00 2026-01-01T03:01:00+01:00",
     "minute field \"*x\": Debian's cron reads \"*\" and ignores \"x\", and so does skedd"},
    {"*/20.5 3 1 1 *", "2026-01-01T03:00:00+01:00 2026-01-01T03:20:00+01:00",
     "minute field \"*/20.5\": Debian's cron reads \"*/20\" and ignores \".5\", and so does skedd"},
    {"1.,2 3 1 1 *", "2026-01-01T03:01:00+01:00 2027-01-01T03:01:00+01:00",
     "minute field \"1.,2\": Debian's cron reads \"1\" and ignores \".,2\", and so does skedd"},
    {"0 3 * JAN,Feb mon", "2026-01-05T03:00:00+01:00 2026-01-12T03:00:00+01:00", ""},
    {"0 3 * * 7", "2026-01-04T03:00:00+01:00 2026-01-11T03:00:00+01:00", ""},
    {"0 3 * * 5-7", "2026-01-02T03:00:00+01:00 2026-01-03T03:00:00+01:00", ""},
    {"0 3 * * */3", "2026-01-03T03:00:00+01:00 2026-01-04T03:00:00+01:00", ""},
    {"0 3 * * sun-sat/2", "2026-01-01T03:00:00+01:00 2026-01-03T03:00:00+01:00", ""},
    {"05 003 * * *", "2026-01-01T03:05:00+01:00 2026-01-02T03:05:00+01:00", ""},
    // A range that runs backwards sets nothing: the minute field is empty, so never; in the
    // day of week, fri-sun is no day, and with a '*' day of month (both must match) never...
    {"10-5 * * * *", "never", ""},
    {"0 3 * * fri-sun", "never", ""},
    // ...but with a day of month given, either matches: only the 1st.
    {"0 3 1 * fri-sun", "2026-01-01T03:00:00+01:00 2026-02-01T03:00:00+01:00", ""},
  };
  // clang-format on
  for (const Row& row : rows) {
    INFO(row.fields);
    const Crontab c =
        read_clean(std::string(row.fields) + " root job\n", system_file("/etc/cron.d/d"));
    REQUIRE(c.entries.size() == 1);
    std::string got;
    for (const std::string& f : fires(c.entries[0], "2026-01-01T00:00:00Z", 2)) {
      got += (got.empty() ? "" : " ") + f;
    }
    CHECK((got.empty() ? "never" : got) == row.first_fires);
    // What skedctl import-crontab writes as `cron =` fires at the same times in a jobs.d job.
    if (!got.empty()) {
      auto strict = skedd::parse_cron_schedule(c.entries[0].cron_expression, c.entries[0].zone);
      INFO(c.entries[0].cron_expression);
      REQUIRE(strict);
      CrontabEntry same = c.entries[0];
      same.schedule = strict.value();
      CHECK(fires(same, "2026-01-01T00:00:00Z", 2) ==
            fires(c.entries[0], "2026-01-01T00:00:00Z", 2));
    }
    std::vector<std::string> notes;
    for (const auto& w : c.warnings) {
      if (w.message.find("never fires") == std::string::npos) notes.push_back(w.message);
    }
    CHECK(notes == (*row.note ? std::vector<std::string>{row.note} : std::vector<std::string>{}));
  }

  struct Bad {
    const char* fields;
    const char* error;
  };
  // clang-format off
  const Bad bad[] = {
    {"1L * * * *", "minute field: \"1L\" is not a number (column 1 of \"1L * * * *\")"},
    {"1x,2 * * * *", "minute field: \"1x\" is not a number (column 1 of \"1x,2 * * * *\")"},
    {"? * * * *", "minute field: '?' where a number belongs (column 1 of \"? * * * *\")"},
    {"0 0 15W * *", "day-of-month field: \"15W\" is not a number (column 5 of \"0 0 15W * *\")"},
    {"0 0 * jan1 *", "month field: \"jan1\" is not a number or a three-letter name (column 7 of "
                     "\"0 0 * jan1 *\")"},
    {"0 0 * january *", "month field: \"january\" is not a number or a three-letter name "
                        "(column 7 of \"0 0 * january *\")"},
    {"0 0 0 * *", "day-of-month field: 0 is out of range 1-31 (column 5 of \"0 0 0 * *\")"},
    {"0 0 * * 8", "day-of-week field: 8 is out of range 0-7 (column 9 of \"0 0 * * 8\")"},
    {"*/0 * * * *", "minute field: a step of 0 (column 3 of \"*/0 * * * *\")"},
    {"*/ * * * *", "minute field: a number is missing at the end (column 3 of \"*/ * * * *\")"},
    {"1, * * * *", "minute field: a number is missing at the end (column 3 of \"1, * * * *\")"},
    {"-5 * * * *", "minute field: '-' where a number belongs (column 1 of \"-5 * * * *\")"},
    {"*/mon * * * *", "minute field: \"mon\" is not a number (column 3 of \"*/mon * * * *\")"},
  };
  // clang-format on
  for (const Bad& row : bad) {
    INFO(row.fields);
    const Crontab c =
        read_crontab(std::string(row.fields) + " root job\n", system_file("/etc/cron.d/d"));
    CHECK(c.entries.empty());
    CHECK(messages(c.errors) ==
          std::vector<std::string>{std::string("/etc/cron.d/d:1: ") + row.error});
  }
}

TEST_CASE("a NUL character ends a value or a command, as in cron's C strings", "[crontab]") {
  using namespace std::string_literals;
  const Crontab c =
      read_clean("FOO=a\0b\n@daily echo a\0b\n# a \0 in a comment\n@daily ok\n"s, user_file("bob"));
  CHECK(messages(c.warnings) ==
        std::vector<std::string>{
            "/var/spool/cron/crontabs/bob:1: a NUL character in the line: cron reads the "
            "assignment up to it",
            "/var/spool/cron/crontabs/bob:2: a NUL character in the command: cron runs only what "
            "is before it"});
  REQUIRE(c.entries.size() == 2);
  CHECK(c.entries[0].command == "echo a");
  CHECK(c.entries[0].env == std::vector<CrontabVariable>{{"FOO", "a"}});
  CHECK(c.entries[1].command == "ok");
}

TEST_CASE("user format: a sixth time field is an error, an empty command is taken", "[crontab]") {
  const Crontab c = read_crontab("* * * * * * /bin/x\n@daily\n@daily   \n=x\n", user_file("bob"));
  CHECK(messages(c.errors) ==
        std::vector<std::string>{
            "/var/spool/cron/crontabs/bob:1: the command starts with '*': cron refuses this as "
            "a sixth time field (crontabs have five)"});
  CHECK(messages(c.warnings) ==
        std::vector<std::string>{
            "/var/spool/cron/crontabs/bob:2: an empty command: cron takes the line and its "
            "shell does nothing",
            "/var/spool/cron/crontabs/bob:3: an empty command: cron takes the line and its "
            "shell does nothing",
            "/var/spool/cron/crontabs/bob:4: a variable with an empty name: cron takes the "
            "line, and skedd ignores it"});
  REQUIRE(c.entries.size() == 2);
  CHECK(c.entries[0].command.empty());
}

TEST_CASE("system format: an empty command after the user and a blank, a long command",
          "[crontab]") {
  const Crontab c = read_crontab("17 3 * * * root \n17 3 * * * root " + std::string(999, 'x') +
                                     "\n17 3 * * * root " + std::string(998, 'y') + "\n",
                                 system_file("/etc/cron.d/long"));
  CHECK(messages(c.errors) ==
        std::vector<std::string>{"/etc/cron.d/long:2: a command of 999 characters: Debian's "
                                 "cron takes at most 998"});
  REQUIRE(c.entries.size() == 2);
  CHECK(c.entries[0].command.empty());
  CHECK(c.entries[1].command.size() == 998);
}

TEST_CASE("notes on lines that load: RANDOM_DELAY, LOGNAME", "[crontab]") {
  const Crontab c = read_crontab(
      "RANDOM_DELAY=30\n"
      "@hourly a\n"
      "RANDOM_DELAY=soon\n"
      "@hourly b\n"
      "LOGNAME=someone-else\n"
      "@hourly c\n",
      user_file("u"));
  CHECK(c.errors.empty());
  CHECK(messages(c.warnings) ==
        std::vector<std::string>{
            "/var/spool/cron/crontabs/u:3: RANDOM_DELAY=\"soon\" is not a number of minutes; "
            "cronie ignores it, and so does skedd",
            "/var/spool/cron/crontabs/u:5: LOGNAME cannot be set in a crontab: cron sets it to "
            "the job's user"});
  REQUIRE(c.entries.size() == 3);
  CHECK(c.entries[0].random_delay_minutes == 30);
  CHECK_FALSE(c.entries[1].random_delay_minutes.has_value());
}

TEST_CASE("job names: cron:<file>:<FNV-1a hash>, stable when other lines change", "[crontab]") {
  // Published FNV-1a 64-bit test vectors.
  CHECK(skedd::fnv1a_64("") == 0xcbf29ce484222325ULL);
  CHECK(skedd::fnv1a_64("a") == 0xaf63dc4c8601ec8cULL);
  CHECK(skedd::fnv1a_64("foobar") == 0x85944171f73967e8ULL);
  char expected[32];
  std::snprintf(expected, sizeof expected, "cron:php:%08x",
                static_cast<unsigned>(skedd::fnv1a_64("root\n09,39 * * * *\nsessionclean") >> 32));
  CHECK(skedd::crontab_job_name("/etc/cron.d/php", "root", "09,39 * * * *", "sessionclean") ==
        expected);

  const std::string line = "17 * * * * root cd / && run-parts --report /etc/cron.hourly\n";
  const Crontab alone = read_clean(line, system_file("/etc/crontab"));
  const Crontab edited = read_clean(
      "SHELL=/bin/bash\n@daily root other\n\t17 *  * * *\troot  "
      "cd / && run-parts --report /etc/cron.hourly\n",
      system_file("/etc/crontab"));
  REQUIRE(alone.entries.size() == 1);
  REQUIRE(edited.entries.size() == 2);
  CHECK(alone.entries[0].job_name == edited.entries[1].job_name);
  CHECK(alone.entries[0].job_name ==
        skedd::crontab_job_name("/etc/crontab", "root", "17 * * * *",
                                "cd / && run-parts --report /etc/cron.hourly"));
  // The same line in another file, or for another user, is another job.
  CHECK(read_clean(line, system_file("/etc/cron.d/hourly"))
            .entries[0]
            .job_name.starts_with("cron:hourly:"));
  // Identical lines of one file run twice under cron, so they are two jobs.
  const Crontab twice = read_clean(line + line + line, system_file("/etc/crontab"));
  REQUIRE(twice.entries.size() == 3);
  CHECK(twice.entries[1].job_name == twice.entries[0].job_name + "-2");
  CHECK(twice.entries[2].job_name == twice.entries[0].job_name + "-3");
}

}  // namespace
