// Which crontab files cron would read, as Debian's cron checks them (root only: the files
// must be owned by root or their user, which only root can arrange; else skipped, 77).
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include <catch2/catch.hpp>

#include "config/crontab_sources.h"
#include "support/temp_dir.h"

namespace {

using skedd::test::TempDir;

constexpr uid_t kNobody = 65534;  // Debian's nobody, which has a passwd entry

std::string put(const TempDir& dir, const std::string& rel, const std::string& text, mode_t mode,
                uid_t owner = 0) {
  const std::string path = dir.write(rel, text);
  REQUIRE(::chmod(path.c_str(), mode) == 0);
  REQUIRE(::chown(path.c_str(), owner, owner) == 0);
  return path;
}

// The errors of reading `source`, joined a line each.
std::string errors_of(const skedd::CrontabJobs& read) {
  std::string all;
  for (const std::string& e : read.errors) all += e + "\n";
  return all;
}

}  // namespace

TEST_CASE("cron.d: a root symlink to a root file loads, hard links and others' files do not",
          "[config]") {
  if (::geteuid() != 0) std::_Exit(77);
  TempDir dir("skedd-crontab-sources");
  const std::string target = put(dir, "opt/app-cron", "17 3 * * * root true\n", 0644);
  const std::string others = put(dir, "opt/theirs", "17 3 * * * root true\n", 0644, kNobody);
  std::filesystem::create_directory(dir / "cron.d");
  std::filesystem::create_symlink(target, dir / "cron.d/app");
  std::filesystem::create_symlink(others, dir / "cron.d/theirs");
  const std::string linked = put(dir, "cron.d/a", "18 3 * * * root true\n", 0644);
  std::filesystem::create_hard_link(linked, dir / "cron.d/b");
  const auto read = skedd::load_crontabs({dir / "cron.d"}, skedd::TimeZone());
  INFO(errors_of(read));
  REQUIRE(read.jobs.size() == 1);  // app, through its link
  CHECK(read.jobs[0].defined_at.file() == dir / "cron.d/app");
  const std::string all = errors_of(read);
  CHECK(all.find(dir / "cron.d/theirs: skipped: owned by uid 65534, not by root\n") !=
        std::string::npos);
  CHECK(all.find(dir / "cron.d/a: skipped: has 2 hard links") != std::string::npos);
  CHECK(all.find(dir / "cron.d/b: skipped: has 2 hard links") != std::string::npos);
}

TEST_CASE("spool: its user's or root's, mode 0600 exactly, no symlink, tmp.* passed over",
          "[config]") {
  if (::geteuid() != 0) std::_Exit(77);
  TempDir dir("skedd-crontab-sources");
  const std::string spool = dir / "crontabs";
  put(dir, "crontabs/nobody", "0 5 * * * true\n", 0600, 0);  // root's is fine
  const auto by_root = skedd::load_crontabs({spool}, skedd::TimeZone());
  INFO(errors_of(by_root));
  CHECK(by_root.jobs.size() == 1);
  put(dir, "crontabs/nobody", "0 5 * * * true\n", 0644, kNobody);
  put(dir, "crontabs/tmp.Xy12ab", "0 5 * * * true\n", 0600);
  const auto loose = skedd::load_crontabs({spool}, skedd::TimeZone());
  CHECK(loose.jobs.empty());
  CHECK(errors_of(loose) ==
        spool + "/nobody: skipped: mode 0644, 0600 expected (fix with chmod 600)\n");
  std::filesystem::remove(spool + "/nobody");
  std::filesystem::create_symlink(dir / "elsewhere", spool + "/nobody");
  put(dir, "elsewhere", "0 5 * * * true\n", 0600, kNobody);
  const auto linked = skedd::load_crontabs({spool}, skedd::TimeZone());
  CHECK(linked.jobs.empty());
  CHECK(errors_of(linked) ==
        spool + "/nobody: skipped: a symlink (cron reads no symlink in the spool)\n");
}

TEST_CASE("a crontab whose last line has no newline is ignored whole, as Debian's cron does",
          "[config]") {
  if (::geteuid() != 0) std::_Exit(77);
  TempDir dir("skedd-crontab-sources");
  put(dir, "cron.d/unended", "17 3 * * * root a\n18 3 * * * root b", 0644);
  put(dir, "cron.d/assigned", "17 3 * * * root a\nFOO=bar", 0644);
  put(dir, "cron.d/commented", "17 3 * * * root a\n# the end", 0644);
  const auto read = skedd::load_crontabs({dir / "cron.d"}, skedd::TimeZone());
  REQUIRE(read.jobs.size() == 1);  // a comment needs no newline
  CHECK(read.jobs[0].defined_at.file() == dir / "cron.d/commented");
  CHECK(errors_of(read) ==
        dir / "cron.d/assigned:2: skipped: no newline at the end of the file, so Debian's cron "
              "ignores the whole file (end its last line)\n" +
            dir /
                "cron.d/unended:2: skipped: no newline at the end of the file, so Debian's "
                "cron ignores the whole file (end its last line)\n");
}

TEST_CASE("a crontab with a line cron cannot load is ignored whole, as Debian's cron does",
          "[config]") {
  if (::geteuid() != 0) std::_Exit(77);
  TempDir dir("skedd-crontab-sources");
  put(dir, "cron.d/bad-minute", "17 3 * * * root a\n61 3 * * * root b\n19 3 * * * root c\n", 0644);
  put(dir, "cron.d/no-user", "17 3 * * * no-such-user-here a\n", 0644);
  // What Debian's cron takes loads, with a warning: "5#2" is every Friday.
  put(dir, "cron.d/lenient", "0 4 * * 5#2 root d\n", 0644);
  const auto read = skedd::load_crontabs({dir / "cron.d"}, skedd::TimeZone());
  REQUIRE(read.jobs.size() == 1);
  CHECK(read.jobs[0].defined_at.file() == dir / "cron.d/lenient");
  CHECK(read.warnings.size() == 1);
  CHECK(errors_of(read) ==
        dir / "cron.d/bad-minute:2: minute field: 61 is out of range 0-59 (column 1 of \"61 3 * "
              "* *\")\n" +
            dir /
                "cron.d/bad-minute:2: the whole file is skipped: Debian's cron ignores a "
                "crontab with a line it cannot load; its other job lines (1, 3) do not run "
                "either\n" +
            dir / "cron.d/no-user:1: user \"no-such-user-here\" does not exist\n" +
            dir /
                "cron.d/no-user:1: the whole file is skipped: Debian's cron ignores a crontab with "
                "a line it cannot load\n");
}

TEST_CASE("cron running is a conflict only where sources name cron's own files", "[config]") {
  using skedd::cron_conflict;
  CHECK(cron_conflict({"/etc/cron.d", "/srv/tabs"}, false).empty());
  CHECK(cron_conflict({"/srv/tabs", "/etc/skedd/crontabs"}, true).empty());
  CHECK(skedd::cron_files_among({"/etc//crontab", "/etc/cron.d/", "/var/spool/cron/crontabs",
                                 "/var/spool/cron", "/etc/cron.daily"}) ==
        std::vector<std::string>{"/etc//crontab", "/etc/cron.d/", "/var/spool/cron/crontabs",
                                 "/var/spool/cron"});
  CHECK(cron_conflict({"/srv/tabs", "/etc/crontab"}, true) ==
        "a cron daemon runs too and [cron] sources names its files (/etc/crontab): every line "
        "runs twice; stop cron (systemctl disable --now cron) or change [cron] sources");
}
