// import_crontab(): the TOML it writes, the notes it gives, and the proof that it means the
// same: the TOML loaded by load_config() fires at the same instants over a whole year as the
// crontab read directly (computed with next_after from a fixed start, no waiting), and runs
// the same command as the same user with the same environment.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "cron/crontab_helpers.h"
#include "schedule/schedule_helpers.h"
#include "support/temp_dir.h"

#include "skedd/config/config.h"
#include "skedd/cron/crontab.h"
#include "skedd/cron/crontab_import.h"

namespace {

using skedd::CrontabFormat;
using skedd::CrontabImport;
using skedd::CrontabSource;
using skedd::JobSpec;

using skedd::testing::system_file;

CrontabImport import_text(const std::string& text, const CrontabSource& source) {
  return skedd::import_crontab(skedd::read_crontab(text, source), source);
}

std::string file_name_of(const skedd::CrontabEntry& e) {
  std::string name = e.job_name;
  std::replace(name.begin(), name.end(), ':', '-');
  return name;
}

// Loads `toml` as the one jobs.d file of a config whose default zone is Europe/Berlin.
skedd::Config load_imported(const std::string& toml) {
  skedd::test::TempDir dir("skedd-import-test");
  const std::string main = dir.write("skedd.toml", "[daemon]\ntimezone = \"Europe/Berlin\"\n");
  dir.write("jobs.d/imported.toml", toml);
  auto cfg = skedd::load_config(main);
  INFO(toml);
  INFO((cfg.ok() ? std::string() : cfg.error().message));
  REQUIRE(cfg.ok());
  return std::move(cfg).value();
}

std::vector<skedd::Instant> fires_in_2026(const skedd::Schedule& s) {
  const skedd::Instant start = skedd::testing::at("2026-01-01T00:00:00Z");
  const skedd::Instant end = skedd::testing::at("2027-01-01T00:00:00Z");
  std::vector<skedd::Instant> out;
  for (auto fire = s.next_after(start, start); fire && fire->at < end;
       fire = s.next_after(fire->at, start)) {
    out.push_back(fire->at);
  }
  return out;
}

TEST_CASE("import: a job as TOML, with the source line as a comment", "[crontab]") {
  const std::string text =
      "SHELL=/bin/sh\n"
      "MAILTO=ops@example.com\n"
      "CRON_TZ=America/New_York\n"
      "RANDOM_DELAY=30\n"
      "0 22 * * 1-5 root mail -s \"It's 10pm\" joe%Joe,%%Where are your kids?%\n";
  const CrontabSource source = system_file("/etc/cron.d/mail");
  const auto crontab = skedd::read_crontab(text, source);
  REQUIRE(crontab.entries.size() == 1);
  const CrontabImport imported = skedd::import_crontab(crontab, source);
  CHECK(imported.toml ==
        "# skedd jobs imported from /etc/cron.d/mail (system crontab format) by skedctl "
        "import-crontab.\n"
        "# Stop cron, or remove the crontab, before skedd loads this: else every job runs "
        "twice.\n"
        "\n"
        "# /etc/cron.d/mail:5: 0 22 * * 1-5 root mail -s \"It's 10pm\" joe%Joe,%%Where are "
        "your kids?%\n"
        "[job." +
            file_name_of(crontab.entries[0]) +
            "]\n"
            "cron = \"0 22 * * 1-5\"\n"
            "timezone = \"America/New_York\"\n"
            "command = \"exec 0<<'SKEDD_STDIN'\\nJoe,\\n\\nWhere are your kids?\\nSKEDD_STDIN\\n"
            "mail -s \\\"It's 10pm\\\" joe\"\n"
            "user = \"root\"\n"
            "overlap = \"allow\"\n"
            "kill_leftovers = false\n"
            "jitter = \"30m\"\n"
            "jitter_fixed = true\n"
            "env = { PATH = \"/usr/bin:/bin\", SHELL = \"/bin/sh\", MAILTO = "
            "\"ops@example.com\", CRON_TZ = \"America/New_York\", RANDOM_DELAY = \"30\" }\n");
  CHECK(imported.messages ==
        std::vector<std::string>{
            "/etc/cron.d/mail:5: warning: MAILTO=ops@example.com: a jobs.d job does not mail "
            "its output, it stays in the run's log (skedd reading the crontab itself, [cron] "
            "sources, mails it as cron does)",
            "/etc/cron.d/mail:5: warning: RANDOM_DELAY=30 becomes jitter = \"30m\" with "
            "jitter_fixed = true: a stable delay per job, where cronie draws one random factor "
            "for all jobs at each start",
            "/etc/cron.d/mail:5: warning: '%' input: the command gets it on stdin from a "
            "here-document put in front of it"});
  CHECK(imported.imported == 1);
  CHECK_FALSE(imported.failed);
  const skedd::Config cfg = load_imported(imported.toml);
  REQUIRE(cfg.jobs.size() == 1);
  CHECK(cfg.jobs[0].options->jitter == std::chrono::minutes(30));
}

TEST_CASE("import: errors and notes in line order, failed when a line was not read", "[crontab]") {
  const CrontabImport imported = import_text(
      "@reboot root /usr/local/bin/warm-cache\n"
      "MAILTO=\"\"\n"
      "61 * * * * root broken\n"
      "0 0 30 2 * root never\n"
      "SHELL=/bin/bash\n"
      "LOGNAME=other\n"
      "@hourly root date\n",
      system_file("/etc/crontab"));
  CHECK(imported.messages ==
        std::vector<std::string>{
            "/etc/crontab:1: warning: cron mails a job's output to the crontab's owner; a "
            "jobs.d job does not mail it, the output stays in the run's log (skedd reading the "
            "crontab itself, [cron] sources, mails it as cron does)",
            "/etc/crontab:1: warning: @reboot: skedd runs this once per boot, when it first "
            "starts after the boot (by boot id), not at every start of the daemon",
            "/etc/crontab:3: error: minute field: 61 is out of range 0-59 (column 1 of \"61 * * "
            "* *\")",
            "/etc/crontab:4: warning: \"0 0 30 2 *\" never fires (cron keeps it but does not run "
            "it); not imported",
            "/etc/crontab:6: warning: LOGNAME cannot be set in a crontab: cron sets it to the "
            "job's user"});
  CHECK(imported.imported == 2);
  CHECK(imported.failed);
  const skedd::Config cfg = load_imported(imported.toml);
  REQUIRE(cfg.jobs.size() == 2);
  CHECK(cfg.jobs[0].schedule->is_reboot());
  CHECK(cfg.jobs[1].command[0] == "/bin/bash");
  CHECK(cfg.jobs[1].options->env.count("LOGNAME") == 0);
}

TEST_CASE("import: a line with an empty command is left out with a warning", "[crontab]") {
  // fuzz_import found the empty command written as command = "", which does not load.
  const CrontabImport imported = import_text("MAILTO=\"\"\n*/5 * * * *x/bin/warmup\n@hourly date\n",
                                             skedd::testing::user_file("alice"));
  CHECK(imported.imported == 1);
  CHECK_FALSE(imported.failed);
  CHECK(std::count(imported.messages.begin(), imported.messages.end(),
                   "/var/spool/cron/crontabs/alice:2: warning: the command is empty and does "
                   "nothing; not imported") == 1);
  const skedd::Config cfg = load_imported(imported.toml);
  REQUIRE(cfg.jobs.size() == 1);
  CHECK(cfg.jobs[0].schedule->text == "@hourly");
}

TEST_CASE("import: text TOML cannot hold is refused, the rest is escaped", "[crontab]") {
  CHECK(skedd::toml_quote("a\"b\\c\n\t\x01\x7f") == "\"a\\\"b\\\\c\\n\\t\\u0001\\u007F\"");
  const CrontabImport imported = import_text(
      "@daily root echo caf\xe9\n"
      "@daily root echo \"\x1b[1mbold\" # caf\xc3\xa9\n",
      system_file("/etc/cron.d/odd"));
  CHECK(imported.messages ==
        std::vector<std::string>{
            "/etc/cron.d/odd:1: error: not valid UTF-8, which TOML cannot hold; not imported",
            "/etc/cron.d/odd:2: warning: cron mails a job's output to the crontab's owner; a "
            "jobs.d job does not mail it, the output stays in the run's log (skedd reading the "
            "crontab itself, [cron] sources, mails it as cron does)"});
  CHECK(imported.failed);
  const skedd::Config cfg = load_imported(imported.toml);
  REQUIRE(cfg.jobs.size() == 1);
  CHECK(cfg.jobs[0].command[2] == "echo \"\x1b[1mbold\" # caf\xc3\xa9");
}

TEST_CASE("fuzz crontab-crash-b5f9ec6a: invalid UTF-8 split across variables is refused",
          "[crontab]") {
  // The check ran on the variables' names and values joined: a name ending in \xC6 and the
  // next starting with \xBD made a valid sequence, and the TOML written did not load.
  const CrontabImport imported = import_text(
      "MAILT\xc6=\"\"\n\xbdHOME=/home/alice\n@daily root true\n", system_file("/etc/cron.d/split"));
  CHECK(imported.messages ==
        std::vector<std::string>{
            "/etc/cron.d/split:3: error: not valid UTF-8, which TOML cannot hold; not imported"});
  CHECK(imported.failed);
  CHECK(imported.imported == 0);
}

TEST_CASE("fuzz import: invalid UTF-8 in text cron ignores in a time field is refused",
          "[crontab]") {
  // "*\xff2" is '*' to Debian's cron; the line's comment in the TOML would hold the byte.
  const CrontabImport imported = import_text(
      "0 *\xff"
      "2 * * * /bin/sync\n",
      skedd::testing::user_file("fuzz"));
  CHECK(imported.failed);
  CHECK(imported.imported == 0);
  CHECK(imported.messages.back() ==
        "/var/spool/cron/crontabs/fuzz:1: error: not valid UTF-8, which TOML cannot hold; not "
        "imported");
}

// Schedules of every kind a crontab has, in four zones, two of them through DST changes in
// 2026 (Berlin: 29 Mar and 25 Oct; New York: 8 Mar and 1 Nov; Lord Howe moves 30 minutes).
constexpr const char* kYearCorpus =
    "SHELL=/bin/sh\n"
    "17 * * * * root hourly\n"
    "25 6 * * * root daily\n"
    "47 6 * * 7 root weekly\n"
    "52 6 1 * * root monthly\n"
    "09,39 * * * * root php\n"
    "5-55/10 * * * * root sysstat\n"
    "0 0 */2 * 1 root odd-mondays\n"
    "0 0 1,15 * 5 root first-fifteenth-or-friday\n"
    "30 2 * * * root in-the-gap\n"
    "0 1-3 * * sun root repeated-hour\n"
    "*/15 * * * * root quarter\n"
    "0 9-17 * jan-mar,oct-dec mon-fri root office\n"
    // What Debian's cron reads leniently: every Friday, minute 1, every 20 minutes, the 1st.
    "0 5 * * 5#2 root fridays\n"
    "1;2 7 * * * root minute-one\n"
    "*/20.5 8 * * * root twenty\n"
    "0 3 1 * fri-sun root first-of-month\n"
    "0 3 1-5 * 6-0 root days-one-to-five\n"
    "@daily root d\n@weekly root w\n@monthly root m\n@yearly root y\n@hourly root h\n"
    "@reboot root boot\n"
    "CRON_TZ=America/New_York\n"
    "30 2 * * * root ny-gap\n"
    "0 1 * * * root ny-repeat\n"
    "CRON_TZ=Australia/Lord_Howe\n"
    "30 1,2 * * * root lord-howe\n"
    "CRON_TZ=Asia/Kolkata\n"
    "45 23 28-31 * * root kolkata-month-end\n"
    "CRON_TZ=Mars/Olympus\n"
    "0 6 * * * root mars-is-the-host-zone\n"
    "PATH=/usr/local/bin:/usr/bin:/bin\n"
    "MAILTO=\"\"\n"
    "0 4 * * * alice cd ~ && ./nightly.sh%input%\n";

TEST_CASE("import: the TOML fires at the same instants over a year as the crontab", "[crontab]") {
  const CrontabSource source = system_file("/etc/crontab");
  const skedd::Crontab crontab = skedd::read_crontab(kYearCorpus, source);
  REQUIRE(crontab.errors.empty());
  const CrontabImport imported = skedd::import_crontab(crontab, source);
  REQUIRE_FALSE(imported.failed);
  const skedd::Config cfg = load_imported(imported.toml);
  REQUIRE(cfg.jobs.size() == crontab.entries.size());

  std::size_t total = 0;
  for (std::size_t i = 0; i < crontab.entries.size(); ++i) {
    const skedd::CrontabEntry& e = crontab.entries[i];
    const JobSpec& loaded = cfg.jobs[i];
    INFO("line " << e.line << ": " << e.schedule.text << " in " << e.zone.name());
    CHECK(loaded.name == file_name_of(e));
    CHECK(loaded.zone.name() == e.zone.name());
    const auto direct = fires_in_2026(e.schedule);
    CHECK(fires_in_2026(*loaded.schedule) == direct);
    total += direct.size();

    // Same command, user and policies as the job the daemon would build from the line.
    auto spec = skedd::crontab_job_spec(
        e, [](const std::string& user) { return std::optional<std::string>("/home/" + user); });
    REQUIRE(spec.ok());
    CHECK(loaded.command == spec->command);
    CHECK(loaded.options->shell == spec->options->shell);
    CHECK(loaded.options->user == spec->options->user);
    CHECK(loaded.options->overlap == spec->options->overlap);
    CHECK(loaded.options->kill_leftovers == spec->options->kill_leftovers);
    CHECK(loaded.options->jitter == spec->options->jitter);
    // HOME, LOGNAME and USER come from the user at run time; SHELL=/bin/sh is skedd's
    // default too. Everything else must be in the TOML.
    std::map<std::string, std::string> expected = spec->options->env;
    for (const char* from_user : {"HOME", "LOGNAME", "USER"}) expected.erase(from_user);
    std::map<std::string, std::string> env = loaded.options->env;
    env.try_emplace("SHELL", "/bin/sh");
    CHECK(env == expected);
  }
  // A year of the corpus: 35,040 quarter hours alone; the counts are checked, not trusted.
  CHECK(total > 35040 + 8760 * 2);
}

}  // namespace
