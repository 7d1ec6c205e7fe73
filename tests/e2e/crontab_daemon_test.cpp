// skedd reading crontabs directly ([cron] sources), as cron would: the real daemon on temp
// crontabs, jobs run through `skedctl trigger` so nothing waits for the wall-clock minute.
// cron's ownership rules need root to set up: without it the tests exit 77 (skipped).
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include "support/command.h"
#include "support/daemon.h"
#include "support/temp_dir.h"

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using skedd::test::CommandResult;
using skedd::test::Daemon;
using skedd::test::skedctl;
using skedd::test::TempDir;

// The name of the loaded job whose name starts with `prefix`, or "".
std::string job_named(const TempDir& dir, const std::string& prefix) {
  const CommandResult r = skedctl(dir, {"list", "--json"});
  if (r.exit_code != 0) return {};
  const json list = json::parse(r.out);
  for (const json& j : list["jobs"]) {
    const std::string name = j["name"];
    if (name.rfind(prefix, 0) == 0) return name;
  }
  return {};
}

std::string write_mode(const TempDir& dir, const std::string& rel, const std::string& text,
                       mode_t mode) {
  const std::string path = dir.write(rel, text);
  ::chmod(path.c_str(), mode);
  return path;
}

}  // namespace

TEST_CASE("skedd runs the crontabs of [cron] sources as cron would, and rereads them",
          "[cron][root]") {
  if (::geteuid() != 0) std::_Exit(77);  // files must be owned by root: skipped
  TempDir dir("skedd-crontab-test");
  ::chmod(dir.path().c_str(), 0755);
  write_mode(dir, "cron.d/good",
             "# a comment\nFOO='bar baz'\n@reboot root echo \"reboot $FOO\" > " + dir / "reboot" +
                 "\n17 3 * * * root cat > " + dir / "stdin" + " % line1%line2 \\% kept\n",
             0644);
  write_mode(dir, "cron.d/loose", "17 3 * * * root true\n", 0664);
  write_mode(dir, "cron.d/php.dpkg-old", "17 3 * * * root true\n", 0644);
  write_mode(dir, "cron.d/broken", "61 3 * * * root true\n17 3 * * * root echo ok\n", 0644);
  dir.write("jobs.d/none.toml", "");
  const std::string config = dir.write(
      "skedd.toml", "[daemon]\nstate_dir = \"" + dir / "state" + "\"\nsocket = \"" +
                        dir / "skedd.sock" + "\"\ntimezone = \"UTC\"\n[cron]\nsources = [\"" +
                        dir / "cron.d" + "\"]\n");
  ::chmod(config.c_str(), 0644);
  ::chmod((dir / "jobs.d/none.toml").c_str(), 0644);
  Daemon d(dir, config);
  const json read = d.wait_for("crontabs_read");
  d.wait_for("listening");   // crontabs are read before the control socket is bound
  CHECK(read["jobs"] == 2);  // good's 2 lines; none of broken's, as Debian's cron
  const auto errors = d.events_named("crontab_error");
  std::string all;
  for (const json& e : errors) all += e["error"].get<std::string>() + "\n";
  INFO(all);
  CHECK(all.find(dir / "cron.d/loose: skipped: writable by group or others (mode 0664") !=
        std::string::npos);
  CHECK(all.find(dir / "cron.d/broken:1: minute field: 61 is out of range 0-59") !=
        std::string::npos);
  CHECK(all.find(dir / "cron.d/broken:1: the whole file is skipped: Debian's cron ignores a "
                       "crontab with a line it cannot load; its other job lines (2) do not run "
                       "either") != std::string::npos);
  CHECK(all.find("dpkg-old") == std::string::npos);  // skipped silently, as cron does
  // skedctl list says what was skipped, file and line.
  const CommandResult listed = skedctl(dir, {"list"});
  CHECK(listed.out.find("skipped as cron would") != std::string::npos);
  CHECK(listed.out.find("  " + dir / "cron.d/broken:1: ") != std::string::npos);
  CHECK(listed.out.find("  " + dir / "cron.d/loose: skipped: writable by group or others") !=
        std::string::npos);
  const json listed_json = json::parse(skedctl(dir, {"list", "--json"}).out);
  CHECK(listed_json["skipped"].size() == errors.size());

  // @reboot ran at start, with the file's environment.
  d.wait_for("run_finished",
             [](const json& e) { return e["job"].get<std::string>().rfind("cron:good:", 0) == 0; });
  CHECK(skedd::test::slurp(dir / "reboot") == "reboot bar baz\n");

  // The 03:17 line, triggered now: % makes its standard input.
  std::string name;
  const json list = json::parse(skedctl(dir, {"list", "--json"}).out);
  for (const json& j : list["jobs"]) {
    if (j["schedule"] == "17 3 * * *" && j["name"].get<std::string>().rfind("cron:good:", 0) == 0) {
      name = j["name"];
    }
  }
  REQUIRE_FALSE(name.empty());
  const CommandResult run = skedctl(dir, {"trigger", name, "--wait"});
  SHOW(run);
  CHECK(run.exit_code == 0);
  CHECK(skedd::test::slurp(dir / "stdin") == " line1\nline2 % kept\n");  // as cron: all after the %
  CHECK(skedctl(dir, {"show", name, "--json"}).out.find("\"overlap\":\"allow\"") !=
        std::string::npos);

  // An edit is noticed: a new line becomes a job, with no signal sent.
  write_mode(dir, "cron.d/added", "5 4 * * * root true\n", 0644);
  REQUIRE(skedd::test::wait_until([&] { return !job_named(dir, "cron:added:").empty(); }, 5000ms));
}

TEST_CASE("a user's crontab in the spool runs as that user, with its HOME", "[cron][root]") {
  const skedd::test::TestUser account = skedd::test::test_user_or_skip();
  const char* user = account.name.c_str();
  const passwd* pw = ::getpwnam(user);
  REQUIRE(pw != nullptr);
  TempDir dir("skedd-crontab-test");
  ::chmod(dir.path().c_str(), 0755);
  const std::string tab = write_mode(
      dir, std::string("spool/crontabs/") + user,
      "GREETING=\"hello there\"\n0 5 * * * id -u; echo \"$HOME $GREETING\"; cat % in%put\n"
      "61 5 * * * true\n",
      0600);
  write_mode(dir, "spool/crontabs/nobody-here", "0 5 * * * true\n", 0600);
  // A line of root's whose message quotes the user's spool path is still root's only.
  write_mode(dir, "systab", "17 3 * * * /crontabs/" + std::string(user) + " true\n", 0644);
  REQUIRE(::chown(tab.c_str(), pw->pw_uid, pw->pw_gid) == 0);
  dir.write("jobs.d/none.toml", "");
  ::chmod((dir / "jobs.d/none.toml").c_str(), 0644);
  const std::string config = dir.write(
      "skedd.toml", "[daemon]\nstate_dir = \"" + dir / "state" + "\"\nsocket = \"" +
                        dir / "skedd.sock" + "\"\ntimezone = \"UTC\"\n[cron]\nsources = [\"" +
                        dir / "spool/crontabs" + "\", \"" + dir / "systab" + "\"]\n");
  ::chmod(config.c_str(), 0644);
  Daemon d(dir, config);
  const json read = d.wait_for("crontabs_read");
  d.wait_for("listening");  // crontabs are read before the control socket is bound
  CHECK(read["jobs"] == 0);
  // No user named nobody-here; minute 61 and so the user's whole file; systab's user and so
  // its whole file.
  CHECK(d.events_named("crontab_error").size() == 5);
  // Each sees in `skedctl list` what was skipped of theirs: the user their own file only.
  const json mine = json::parse(skedctl(dir, {"list", "--json"}, account.as).out);
  REQUIRE(mine["skipped"].size() == 2);
  CHECK(mine["skipped"][0].get<std::string>().find(tab + ":3: minute field: 61") == 0);
  CHECK(mine["skipped"][1].get<std::string>().find(tab + ":3: the whole file is skipped") == 0);
  CHECK(json::parse(skedctl(dir, {"list", "--json"}).out)["skipped"].size() == 5);
  // Fixed, the file is read again and its line runs.
  write_mode(dir, std::string("spool/crontabs/") + user,
             "GREETING=\"hello there\"\n0 5 * * * id -u; echo \"$HOME $GREETING\"; cat % in%put\n",
             0600);
  REQUIRE(::chown(tab.c_str(), pw->pw_uid, pw->pw_gid) == 0);
  std::string name;
  REQUIRE(skedd::test::wait_until(
      [&] { return !(name = job_named(dir, std::string("cron:") + user + ":")).empty(); }, 5000ms));
  const CommandResult run = skedctl(dir, {"trigger", name, "--wait", "--json"});
  SHOW(run);
  REQUIRE(run.exit_code == 0);
  const CommandResult logs = skedctl(dir, {"logs", json::parse(run.out)["run"].dump()});
  // Its uid, its HOME, the file's environment and the % input.
  CHECK(logs.out == std::to_string(pw->pw_uid) + "\n" + pw->pw_dir + " hello there\n in\nput\n");
}

TEST_CASE("skedctl crontab installs, lists, edits and removes a user's crontab through skedd",
          "[cron][root]") {
  const skedd::test::TestUser account = skedd::test::test_user_or_skip();
  const char* user = account.name.c_str();
  const passwd* pw = ::getpwnam(user);
  REQUIRE(pw != nullptr);
  const skedd::test::RunAs as = account.as;
  TempDir dir("skedd-crontab-test");
  ::chmod(dir.path().c_str(), 0755);
  dir.write("jobs.d/none.toml", "");
  ::chmod((dir / "jobs.d/none.toml").c_str(), 0644);
  const std::string config = dir.write(
      "skedd.toml", "[daemon]\nstate_dir = \"" + dir / "state" + "\"\nsocket = \"" +
                        dir / "skedd.sock" +
                        "\"\ntimezone = \"UTC\"\nmax_jobs_per_user = 2\n[cron]\nsources = [\"" +
                        dir / "spool/crontabs" + "\"]\nallow = \"" + dir / "cron.allow" +
                        "\"\ndeny = \"" + dir / "cron.deny" + "\"\n");
  ::chmod(config.c_str(), 0644);
  Daemon d(dir, config);
  d.wait_for("crontabs_read");
  d.wait_for("listening");  // crontabs are read before the control socket is bound
  auto as_user = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "crontab");
    return skedctl(dir, std::move(args), as);
  };
  const CommandResult none = as_user({"-l"});  // no crontab yet: 1, as crontab(1)
  CHECK(none.exit_code == 1);
  CHECK(none.err == "skedctl crontab: no crontab for " + account.name + "\n");
  const std::string tab = dir.write("mytab", "# mine\n0 6 * * * echo six\n");
  ::chmod(tab.c_str(), 0644);
  const CommandResult installed = as_user({tab});
  SHOW(installed);
  CHECK(installed.exit_code == 0);
  struct stat st {};
  REQUIRE(::stat((dir / "spool/crontabs/" + user).c_str(), &st) == 0);
  CHECK(st.st_uid == pw->pw_uid);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(as_user({"-l"}).out == "# mine\n0 6 * * * echo six\n");
  REQUIRE(skedd::test::wait_until(
      [&] { return !job_named(dir, "cron:" + account.name + ":").empty(); }, 5000ms));

  // A crontab with an error is refused whole, naming the line; the installed one stays.
  const std::string bad = dir.write("badtab", "0 6 * * * echo six\n0 25 * * * echo never\n");
  ::chmod(bad.c_str(), 0644);
  const CommandResult refused = as_user({bad});
  SHOW(refused);
  CHECK(refused.exit_code == 1);
  CHECK(refused.err.find("crontab:2: hour field") != std::string::npos);
  CHECK(as_user({"-l"}).out == "# mine\n0 6 * * * echo six\n");

  // -e with an editor that appends a line.
  const std::string editor =
      dir.write("editor.sh", "#!/bin/sh\necho '30 7 * * * echo half' >> \"$1\"\n");
  ::chmod(editor.c_str(), 0755);
  ::setenv("EDITOR", editor.c_str(), 1);
  const CommandResult edited = as_user({"-e"});
  ::unsetenv("EDITOR");
  SHOW(edited);
  CHECK(edited.exit_code == 0);
  CHECK(as_user({"-l"}).out == "# mine\n0 6 * * * echo six\n30 7 * * * echo half\n");

  // A user's crontab holds at most max_jobs_per_user jobs (2 here); root's requests are not
  // bounded so.
  const std::string three =
      dir.write("threetab", "0 1 * * * echo one\n0 2 * * * echo two\n0 3 * * * echo three\n");
  ::chmod(three.c_str(), 0644);
  const CommandResult too_many = as_user({three});
  SHOW(too_many);
  CHECK(too_many.exit_code == 4);
  CHECK(too_many.err ==
        "skedctl crontab: the crontab has 3 jobs; at most 2 per user ([daemon] "
        "max_jobs_per_user); nothing was installed\n");
  CHECK(as_user({"-l"}).out == "# mine\n0 6 * * * echo six\n30 7 * * * echo half\n");
  CHECK(skedctl(dir, {"crontab", "-u", user, three}).exit_code == 0);
  CHECK(as_user({"-l"}).out == "0 1 * * * echo one\n0 2 * * * echo two\n0 3 * * * echo three\n");

  // Only root uses -u; cron.deny and cron.allow are honoured.
  CHECK(as_user({"-u", "root", "-l"}).exit_code == 4);
  dir.write("cron.deny", std::string(user) + "\n");
  CHECK(as_user({"-l"}).exit_code == 4);
  dir.write("cron.allow", "root\n");
  ::unlink((dir / "cron.deny").c_str());
  CHECK(as_user({"-l"}).exit_code == 4);
  dir.write("cron.allow", std::string(user) + "\n");
  CHECK(as_user({"-l"}).exit_code == 0);

  CHECK(as_user({"-r"}).exit_code == 0);
  CHECK(as_user({"-l"}).exit_code == 1);
  CHECK(as_user({"-r"}).exit_code == 1);
  REQUIRE(skedd::test::wait_until(
      [&] { return job_named(dir, "cron:" + account.name + ":").empty(); }, 5000ms));
}

TEST_CASE("a crontab job's output is mailed to MAILTO through sendmail, as cron does",
          "[cron][root]") {
  if (::geteuid() != 0) std::_Exit(77);
  TempDir dir("skedd-crontab-test");
  ::chmod(dir.path().c_str(), 0755);
  // A stand-in sendmail: its arguments and the message, one file per mail.
  write_mode(dir, "sendmail.sh",
             "#!/bin/sh\nf=" + dir / "mail.$$" +
                 "\necho \"$*\" > \"$f.tmp\"\ncat >> \"$f.tmp\"\n"
                 "mv \"$f.tmp\" \"$f\"\n",
             0755);
  write_mode(dir, "cron.d/jobs",
             "MAILTO=ops@example.com\n1 1 * * * root echo to-ops\n"
             "2 2 * * * root true\n"
             "MAILTO=\"\"\n3 3 * * * root echo nobody-gets-this\n",
             0644);
  dir.write("jobs.d/none.toml", "");
  ::chmod((dir / "jobs.d/none.toml").c_str(), 0644);
  const std::string config = dir.write(
      "skedd.toml", "[daemon]\nstate_dir = \"" + dir / "state" + "\"\nsocket = \"" +
                        dir / "skedd.sock" + "\"\ntimezone = \"UTC\"\n[cron]\nsources = [\"" +
                        dir / "cron.d" + "\"]\nsendmail = \"" + dir / "sendmail.sh" + "\"\n");
  ::chmod(config.c_str(), 0644);
  Daemon d(dir, config);
  d.wait_for("crontabs_read");
  d.wait_for("listening");  // crontabs are read before the control socket is bound
  const json listed = json::parse(skedctl(dir, {"list", "--json"}).out);
  for (const json& j : listed["jobs"]) {
    REQUIRE(skedctl(dir, {"trigger", j["name"].get<std::string>(), "--wait"}).exit_code == 0);
  }
  std::vector<std::string> mails;
  REQUIRE(skedd::test::wait_until(
      [&] {
        mails.clear();
        for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
          const std::string name = e.path().filename().string();
          if (name.rfind("mail.", 0) == 0 && name.find(".tmp") == std::string::npos) {
            mails.push_back(skedd::test::slurp(e.path().string()));
          }
        }
        return !mails.empty();
      },
      5000ms));
  std::this_thread::sleep_for(500ms);  // a second mail would have come by now
  REQUIRE(mails.size() == 1);          // `true` wrote nothing; MAILTO="" mails nothing
  const std::string& mail = mails[0];
  INFO(mail);
  CHECK(mail.rfind("-i -FCronDaemon -oem ops@example.com\n", 0) == 0);
  CHECK(mail.find("To: ops@example.com\n") != std::string::npos);
  CHECK(mail.find("Subject: Cron <root@") != std::string::npos);
  CHECK(mail.find("\n\nto-ops\n") != std::string::npos);
}
