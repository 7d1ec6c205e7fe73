// The control socket end to end: the real skedd, the real skedctl (or a raw client for bad
// input), in a temp dir with its own socket and state. Jobs fire only when triggered or a
// second or two ahead; nothing depends on the wall-clock minute.
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include "support/command.h"
#include "support/daemon.h"
#include "support/raw_client.h"
#include "support/temp_dir.h"

#include "skedd/store/sqlite_store.h"

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using skedd::test::CommandResult;
using skedd::test::Daemon;
using skedd::test::RawClient;
using skedd::test::skedctl;
using skedd::test::TempDir;

// skedd.toml (UTC, state and socket in `dir`) and jobs.d/test.toml = `jobs`.
std::string write_config(const TempDir& dir, const std::string& jobs) {
  dir.write("jobs.d/test.toml", jobs);
  return dir.write("skedd.toml", "[daemon]\nstate_dir = \"" + dir / "state" + "\"\nsocket = \"" +
                                     dir / "skedd.sock" + "\"\ntimezone = \"UTC\"\n");
}

json skedctl_json(const TempDir& dir, std::vector<std::string> args) {
  args.push_back("--json");
  const CommandResult r = skedctl(dir, args);
  SHOW(r);
  REQUIRE(r.exit_code == 0);
  return json::parse(r.out);
}

// What a run of `job`, triggered and waited for, wrote.
std::string output_of_a_run(const TempDir& dir, const std::string& job) {
  const CommandResult run = skedctl(dir, {"trigger", job, "--wait", "--json"});
  SHOW(run);
  REQUIRE(run.exit_code == 0);
  return skedctl(dir, {"logs", json::parse(run.out)["run"].dump()}).out;
}

std::string at_in(std::chrono::milliseconds lead) {
  const auto t = std::chrono::ceil<std::chrono::seconds>(std::chrono::system_clock::now() + lead);
  return skedd::test::rfc3339_utc_ms(t);
}

}  // namespace

TEST_CASE("skedctl status warns while cron runs on the crontabs [cron] sources names",
          "[control]") {
  // cron's spool, absent on a machine without cron: nothing of it is loaded.
  const std::string spool = "/var/spool/cron/crontabs";
  if (std::filesystem::exists(spool)) std::_Exit(77);
  TempDir dir("skedd-control-test");
  write_config(dir, "");
  const std::string config = dir.write(
      "skedd.toml", "[daemon]\nstate_dir = \"" + dir / "state" + "\"\nsocket = \"" +
                        dir / "skedd.sock" + "\"\n[cron]\nsources = [\"" + spool + "\"]\n");
  Daemon d(dir, config);
  d.wait_for("listening");
  // A process named cron, as cron_daemon_running() looks for (/proc/PID/comm).
  std::filesystem::copy_file("/bin/sleep", dir / "cron");
  ::chmod((dir / "cron").c_str(), 0755);
  const pid_t cron = ::fork();
  REQUIRE(cron >= 0);
  if (cron == 0) {
    ::execl((dir / "cron").c_str(), "cron", "60", static_cast<char*>(nullptr));
    std::_Exit(127);
  }
  struct Reap {
    pid_t pid;
    ~Reap() {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  } reap{cron};
  REQUIRE(skedd::test::wait_until(
      [&] { return !skedctl_json(dir, {"status"})["warnings"].empty(); }, 5000ms));
  const json status = skedctl_json(dir, {"status"});
  CHECK(status["warnings"] ==
        json::array({"a cron daemon runs too and [cron] sources names its files (" + spool +
                     "): every line runs twice; stop cron (systemctl disable --now cron) or "
                     "change [cron] sources"}));
  CHECK(skedctl(dir, {"status"}).out.find("\nwarning: a cron daemon runs too") !=
        std::string::npos);
}

TEST_CASE("skedctl status, list, show, trigger --wait, runs and logs over the socket",
          "[control]") {
  TempDir dir("skedd-control-test");
  const std::string config = write_config(dir, R"([job.hello]
every = "1h"
command = '''
echo hello-out
echo progress 50 half way >&3
exit 3
'''
)");
  Daemon d(dir, config);
  d.wait_for("job_loaded");

  const json status = skedctl_json(dir, {"status"});
  CHECK(status["jobs"] == 1);
  CHECK(status["paused_all"] == false);
  CHECK(status["store"]["ok"] == true);
  CHECK(status["max_concurrent_runs"] == 64);

  const CommandResult waited = skedctl(dir, {"trigger", "hello", "--wait"});
  SHOW(waited);
  CHECK(waited.exit_code == 3);  // the run's own exit code
  CHECK(waited.err.find("triggered hello: run ") == 0);

  const json runs = skedctl_json(dir, {"runs", "hello"});
  REQUIRE(runs["runs"].size() == 1);
  const json& run = runs["runs"][0];
  CHECK(run["state"] == "failed");
  CHECK(run["exit_code"] == 3);
  CHECK(run["progress"] == 50);
  CHECK(run["progress_message"] == "half way");
  const std::string id = run["run"].dump();

  const CommandResult logs = skedctl(dir, {"logs", id});
  SHOW(logs);
  CHECK(logs.exit_code == 0);
  CHECK(logs.out == "hello-out\n");

  const json list = skedctl_json(dir, {"list"});
  REQUIRE(list["jobs"].size() == 1);
  CHECK(list["jobs"][0]["name"] == "hello");
  CHECK(list["jobs"][0]["schedule"] == "every 1h");
  CHECK(list["jobs"][0]["last"]["state"] == "failed");
  CHECK(list["jobs"][0]["paused"] == false);

  const json show = skedctl_json(dir, {"show", "hello"});
  CHECK(show["next"].size() == 5);
  CHECK(show["runs"].size() == 1);
  CHECK(show["job"]["overlap"] == "skip");

  const CommandResult human = skedctl(dir, {"list"});
  CHECK(human.out.find("NAME") == 0);
  CHECK(human.out.find("hello  every 1h") != std::string::npos);

  // Errors: exit codes 3 (not found) and 2 (usage).
  CHECK(skedctl(dir, {"show", "nope"}).exit_code == 3);
  CHECK(skedctl(dir, {"logs", "12345"}).exit_code == 3);
  CHECK(skedctl(dir, {"show"}).exit_code == 2);
  CHECK(skedctl(dir, {"set", "max-concurrent-runs", "2"}).exit_code == 0);
  CHECK(skedctl_json(dir, {"status"})["max_concurrent_runs"] == 2);
}

TEST_CASE("a paused job and the global pause survive a restart, paused fires are recorded",
          "[control]") {
  TempDir dir("skedd-control-test");
  const std::string config = write_config(dir, R"([job.tick]
every = "1s"
command = "true"

[job.other]
every = "1h"
command = "true"
)");
  {
    Daemon d(dir, config);
    d.wait_for("job_loaded");
    CHECK(skedctl(dir, {"pause", "tick"}).exit_code == 0);
    CHECK(skedctl(dir, {"pause", "--all"}).exit_code == 0);
    CHECK(skedctl(dir, {"resume", "--all"}).exit_code == 0);
    CHECK(skedctl(dir, {"pause", "--all"}).exit_code == 0);
    d.wait_for("fire_not_run", [](const json& e) { return e["reason"] == "paused"; });
  }
  Daemon d(dir, config);
  d.wait_for("fire_not_run", 2, [](const json& e) { return e["reason"] == "paused"; });
  const json list = skedctl_json(dir, {"list"});
  CHECK(list["paused_all"] == true);
  CHECK(list["jobs"][1]["name"] == "tick");
  CHECK(list["jobs"][1]["paused"] == true);
  CHECK(list["jobs"][0]["paused"] == false);
  CHECK(d.events_named("run_started").empty());

  // A trigger runs a paused job all the same; lifting the global pause leaves tick paused.
  CHECK(skedctl(dir, {"trigger", "other", "--wait"}).exit_code == 0);
  CHECK(skedctl(dir, {"resume", "--all"}).exit_code == 0);
  CHECK(skedctl_json(dir, {"show", "tick"})["paused"] == true);
  CHECK(skedctl(dir, {"resume", "tick"}).exit_code == 0);
  d.wait_for("run_started", [](const json& e) { return e["job"] == "tick"; });

  auto store = skedd::open_sqlite_store(dir / "state/skedd.db");
  REQUIRE(store.ok());
  auto not_run = store.value()->not_run("tick", 10);
  REQUIRE(not_run.ok());
  REQUIRE_FALSE(not_run->empty());
  CHECK(not_run.value().back().reason == skedd::NotRunReason::kPaused);
}

TEST_CASE("reload over the socket: an invalid file is refused whole and reported", "[control]") {
  TempDir dir("skedd-control-test");
  const std::string config = write_config(dir, "[job.first]\nevery = \"1h\"\ncommand = \"true\"\n");
  Daemon d(dir, config);
  d.wait_for("job_loaded");
  dir.write("jobs.d/test.toml", "[job.second]\nevery = \"soon\"\ncommand = \"true\"\n");
  const CommandResult refused = skedctl(dir, {"reload"});
  SHOW(refused);
  CHECK(refused.exit_code == 1);
  CHECK(refused.err.find("test.toml:2") != std::string::npos);
  CHECK(refused.err.find("the running configuration is kept") != std::string::npos);
  CHECK(skedctl_json(dir, {"list"})["jobs"][0]["name"] == "first");

  dir.write("jobs.d/test.toml", "[job.second]\nevery = \"1h\"\ncommand = \"true\"\n");
  const CommandResult ok = skedctl(dir, {"reload"});
  SHOW(ok);
  CHECK(ok.exit_code == 0);
  const json list = skedctl_json(dir, {"list"});
  REQUIRE(list["jobs"].size() == 1);
  CHECK(list["jobs"][0]["name"] == "second");
}

TEST_CASE("cancel stops a running run, a finished or unknown run is refused", "[control]") {
  TempDir dir("skedd-control-test");
  const std::string config =
      write_config(dir, "[job.sleeper]\nevery = \"1h\"\ncommand = \"sleep 30\"\n");
  Daemon d(dir, config);
  d.wait_for("job_loaded");
  const json triggered = skedctl_json(dir, {"trigger", "sleeper"});
  const std::string id = triggered["run"].dump();
  d.wait_for("run_started");
  const CommandResult cancel = skedctl(dir, {"cancel", id});
  SHOW(cancel);
  CHECK(cancel.exit_code == 0);
  const json finished = d.wait_for("run_finished");
  CHECK(finished["state"] == "cancelled");
  CHECK(skedctl(dir, {"cancel", id}).exit_code == 1);  // CONFLICT: not running
  CHECK(skedctl(dir, {"cancel", "42"}).exit_code == 3);
  // A second trigger while one runs is skipped (overlap = skip) unless forced.
  skedctl_json(dir, {"trigger", "sleeper"});
  d.wait_for("run_started", 2);
  CHECK(skedctl(dir, {"trigger", "sleeper"}).exit_code == 1);
  CHECK(skedctl(dir, {"trigger", "sleeper", "--force"}).exit_code == 0);
  d.wait_for("run_started", 3);
}

TEST_CASE("bad input on the socket gets an error or a close, and a due job starts on time",
          "[control]") {
  TempDir dir("skedd-control-test");
  const std::string config =
      write_config(dir, "[job.due]\nat = \"" + at_in(2500ms) + "\"\ncommand = \"true\"\n");
  Daemon d(dir, config);
  d.wait_for("job_loaded");
  const std::string socket = dir / "skedd.sock";

  RawClient stalled(socket);
  REQUIRE(stalled.send("{\"id\":1,\"op\":\"sta"));  // half a line, then nothing

  RawClient bad(socket);
  auto error_of = [](const std::string& line) {
    const json j = json::parse(line);
    CHECK(j["ok"] == false);
    return j["error"]["code"].get<std::string>() + ": " + j["error"]["message"].get<std::string>();
  };
  REQUIRE(bad.send("{not json\n"));
  CHECK(error_of(bad.line()) == "INVALID_ARGUMENT: the request is not valid JSON");
  REQUIRE(bad.send("[1,2]\n"));
  CHECK(error_of(bad.line()) == "INVALID_ARGUMENT: the request must be a JSON object");
  REQUIRE(bad.send("{\"id\":2,\"op\":\"explode\"}\n"));
  CHECK(error_of(bad.line()) == "INVALID_ARGUMENT: unknown op \"explode\"");
  REQUIRE(bad.send("{\"id\":3,\"op\":\"cancel\",\"run\":\"x\"}\n"));
  CHECK(error_of(bad.line()) ==
        "INVALID_ARGUMENT: op \"cancel\": field \"run\" must be an integer from 0 to "
        "18446744073709551615");
  REQUIRE(bad.send("{\"id\":4,\"op\":\"status\"}\n"));
  CHECK(json::parse(bad.line())["id"] == 4);  // the connection still serves

  RawClient huge(socket);
  const std::string ten_mib(10 * 1024 * 1024, 'x');
  huge.send("{\"id\":5,\"op\":\"" + ten_mib + "\"}\n");  // the daemon may close mid-way
  CHECK(error_of(huge.line()) ==
        "INVALID_ARGUMENT: request larger than 1 MiB; closing the connection");
  CHECK(huge.line().empty());

  // 200 clients at once: each is answered (or told there are too many, and closed).
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 200; ++i) {
    clients.push_back(std::make_unique<RawClient>(socket));
    REQUIRE(clients.back()->send("{\"id\":" + std::to_string(i) + ",\"op\":\"list\"}\n"));
  }
  int answered = 0;
  for (auto& c : clients) {
    const std::string line = c->line();
    if (!line.empty() && json::parse(line)["ok"] == true) ++answered;
  }
  CHECK(answered == 200);

  const json started = d.wait_for("run_started");
  CHECK(started["lateness_ms"].get<double>() < 500);  // a loose bound: not stalled
}

TEST_CASE("another user sees and manages only its own jobs, which run as that user",
          "[control][root]") {
  // CTest's SKIP_RETURN_CODE when not root: see test_user_or_skip().
  const skedd::test::TestUser account = skedd::test::test_user_or_skip();
  const char* user = account.name.c_str();
  const passwd* pw = ::getpwnam(user);
  REQUIRE(pw != nullptr);
  const skedd::test::RunAs as = account.as;
  TempDir dir("skedd-control-test");
  ::chmod(dir.path().c_str(), 0755);  // the user reaches the socket
  const std::string config = write_config(dir, std::string(R"([job.mine]
every = "1h"
user = ")") + user + R"("
command = "id -u"
working_dir = "/"

[job.theirs]
every = "1h"
command = "true"
)");
  // A pool exists, but is not one users may name.
  const std::string main_text = skedd::test::read_whole_file(config);
  dir.write("skedd.toml", main_text + "\n[pools]\nbig = 2\n");
  Daemon d(dir, config);
  d.wait_for("job_loaded", 2);

  const CommandResult list = skedctl(dir, {"list", "--json"}, as);
  SHOW(list);
  REQUIRE(list.exit_code == 0);
  const json jobs = json::parse(list.out)["jobs"];
  REQUIRE(jobs.size() == 1);
  CHECK(jobs[0]["name"] == "mine");

  CHECK(skedctl(dir, {"show", "theirs"}, as).exit_code == 4);
  CHECK(skedctl(dir, {"pause", "theirs"}, as).exit_code == 4);
  CHECK(skedctl(dir, {"trigger", "theirs"}, as).exit_code == 4);
  CHECK(skedctl(dir, {"reload"}, as).exit_code == 4);
  CHECK(skedctl(dir, {"pause", "--all"}, as).exit_code == 4);
  CHECK(skedctl(dir, {"set", "max-concurrent-runs", "1"}, as).exit_code == 4);
  // What the user may not give its own jobs.
  auto add_as_user = [&](std::vector<std::string> extra) {
    std::vector<std::string> args{"add", "added", "--every", "1h", "--command", "id -u"};
    args.insert(args.end(), extra.begin(), extra.end());
    const CommandResult r = skedctl(dir, args, as);
    INFO("stderr: " << r.err);
    return r.exit_code;
  };
  CHECK(add_as_user({"--user", "root"}) == 4);
  CHECK(add_as_user({"--group", "root"}) == 4);
  CHECK(add_as_user({"--priority", "5"}) == 4);
  CHECK(add_as_user({"--pool", "big"}) == 4);
  dir.write("nice.toml", "[job.added]\nevery = \"1h\"\ncommand = \"true\"\nnice = -5\n");
  ::chmod((dir / "nice.toml").c_str(), 0644);
  CHECK(skedctl(dir, {"add", "--file", dir / "nice.toml"}, as).exit_code == 4);
  dir.write("limit.toml",
            "[job.added]\nevery = \"1h\"\ncommand = \"true\"\nlimit_nofile = 100000000\n");
  ::chmod((dir / "limit.toml").c_str(), 0644);
  CHECK(skedctl(dir, {"add", "--file", dir / "limit.toml"}, as).exit_code == 4);
  // Without `user`, the job runs as the user who added it, also after a restart.
  CHECK(add_as_user({}) == 0);
  const CommandResult added_run = skedctl(dir, {"trigger", "added", "--wait", "--json"}, as);
  REQUIRE(added_run.exit_code == 0);
  CHECK(skedctl(dir, {"logs", json::parse(added_run.out)["run"].dump()}, as).out ==
        std::to_string(pw->pw_uid) + "\n");
  CHECK(skedctl(dir, {"remove", "theirs"}, as).exit_code == 4);
  CHECK(skedctl(dir, {"remove", "added"}, as).exit_code == 0);
  CHECK(skedctl(dir, {"pause", "mine"}, as).exit_code == 0);
  CHECK(skedctl(dir, {"resume", "mine"}, as).exit_code == 0);

  const CommandResult run = skedctl(dir, {"trigger", "mine", "--wait", "--json"}, as);
  SHOW(run);
  REQUIRE(run.exit_code == 0);
  const std::string id = json::parse(run.out)["run"].dump();
  const CommandResult logs = skedctl(dir, {"logs", id}, as);
  CHECK(logs.out == std::to_string(pw->pw_uid) + "\n");
  // Root's runs are not the user's to read.
  skedctl_json(dir, {"trigger", "theirs"});
  const json root_runs = skedctl_json(dir, {"runs", "theirs"});
  CHECK(skedctl(dir, {"runs", "--json"}, as).out.find("\"theirs\"") == std::string::npos);
}

TEST_CASE("pausing a running run stops its processes and its timeout clock", "[control]") {
  TempDir dir("skedd-control-test");
  // Without the pause, the hard timeout would kill it at 2 s.
  const std::string config = write_config(dir, R"([job.long]
every = "1h"
hard_timeout = "2s"
command = "echo start; sleep 3.5; echo end"
)");
  Daemon d(dir, config);
  d.wait_for("job_loaded");
  const std::string id = skedctl_json(dir, {"trigger", "long"})["run"].dump();
  const json started = d.wait_for("run_started");
  std::this_thread::sleep_for(500ms);
  const CommandResult paused = skedctl(dir, {"pause", "--run", id});
  SHOW(paused);
  REQUIRE(paused.exit_code == 0);
  const pid_t pid = started["pid"].get<pid_t>();
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string pid_field, comm, state;
  stat >> pid_field >> comm >> state;
  CHECK(state == "T");  // stopped
  CHECK(skedctl_json(dir, {"runs", "long"})["runs"][0]["state"] == "paused");
  CHECK(skedctl(dir, {"pause", "--run", id}).exit_code == 1);  // already paused
  std::this_thread::sleep_for(2500ms);
  CHECK(d.events_named("hard_timeout").empty());
  CHECK(skedctl(dir, {"resume", "--run", id}).exit_code == 0);
  const json finished = d.wait_for("run_finished");
  CHECK(finished["state"] == "succeeded");
  const json run = skedctl_json(dir, {"runs", "long"})["runs"][0];
  CHECK(run["frozen_s"].get<double>() > 2.0);
  CHECK(skedctl(dir, {"resume", "--run", id}).exit_code == 1);  // not paused
}

TEST_CASE("a job added over the API runs, survives a restart, is updated and removed",
          "[control]") {
  TempDir dir("skedd-control-test");
  const std::string config =
      write_config(dir, "[job.file-job]\nevery = \"1h\"\ncommand = \"true\"\n");
  {
    Daemon d(dir, config);
    d.wait_for("job_loaded");
    const CommandResult added = skedctl(
        dir, {"add", "api-job", "--every", "1h", "--command", "echo v1 > \"$DIR/out\"; echo v1"});
    SHOW(added);
    REQUIRE(added.exit_code == 0);
    CHECK(added.out == "added job api-job (version 1)\n");
    CHECK(skedctl(dir, {"add", "api-job", "--every", "1h", "--command", "true"}).exit_code == 1);
    CHECK(skedctl(dir, {"add", "file-job", "--every", "1h", "--command", "true"}).exit_code == 1);
    CHECK(skedctl(dir, {"remove", "file-job"}).exit_code == 1);
    const CommandResult bad = skedctl(dir, {"add", "broken", "--every", "soon", "--command", "x"});
    SHOW(bad);
    CHECK(bad.exit_code == 1);
    // Named as the flag, not as the line of the text skedctl made of the flags.
    CHECK(bad.err.find("skedctl: --every: invalid duration \"soon\"") == 0);
    CHECK(skedctl(dir, {"trigger", "api-job", "--wait"}).exit_code == 0);
  }
  Daemon d(dir, config);
  d.wait_for("job_loaded", 2);
  json show = skedctl_json(dir, {"show", "api-job"});
  CHECK(show["api"] == true);
  CHECK(show["runs"].size() == 1);
  const CommandResult updated =
      skedctl(dir, {"update", "api-job", "--every", "1h", "--command", "echo v2"});
  SHOW(updated);
  CHECK(updated.out == "updated job api-job (version 2)\n");
  CHECK(output_of_a_run(dir, "api-job") == "v2\n");
  CHECK(skedctl(dir, {"remove", "api-job"}).exit_code == 0);
  CHECK(skedctl(dir, {"show", "api-job"}).exit_code == 3);
  CHECK(skedctl(dir, {"remove", "api-job"}).exit_code == 3);
  d.signal(SIGTERM);
  REQUIRE(d.wait_exit(5000ms).has_value());
  Daemon again(dir, config);
  again.wait_for("job_loaded");
  CHECK(skedctl_json(dir, {"list"})["jobs"].size() == 1);
}

TEST_CASE("what skedctl reports added, removed or paused survives a kill -9 right after",
          "[control]") {
  TempDir dir("skedd-control-test");
  const std::string config = write_config(dir, "[job.kept]\nevery = \"1h\"\ncommand = \"true\"\n");
  {
    Daemon d(dir, config);
    d.wait_for("job_loaded");
    REQUIRE(skedctl(dir, {"add", "fresh", "--every", "1h", "--command", "true"}).exit_code == 0);
    d.signal(SIGKILL);  // the reply came after the commit: nothing is lost
    REQUIRE(d.wait_exit(5000ms).has_value());
  }
  {
    Daemon d(dir, config);
    d.wait_for("job_loaded", 2);
    CHECK(skedctl_json(dir, {"show", "fresh"})["api"] == true);
    REQUIRE(skedctl(dir, {"pause", "kept"}).exit_code == 0);
    REQUIRE(skedctl(dir, {"remove", "fresh"}).exit_code == 0);
    d.signal(SIGKILL);
    REQUIRE(d.wait_exit(5000ms).has_value());
  }
  Daemon d(dir, config);
  d.wait_for("job_loaded");
  CHECK(skedctl(dir, {"show", "fresh"}).exit_code == 3);
  CHECK(skedctl_json(dir, {"show", "kept"})["paused"] == true);
}

TEST_CASE("a file job shadows a recorded API job of its name until a reload drops it",
          "[control]") {
  TempDir dir("skedd-control-test");
  std::string config = write_config(dir, "[job.other]\nevery = \"1h\"\ncommand = \"true\"\n");
  {
    Daemon d(dir, config);
    d.wait_for("job_loaded");
    REQUIRE(skedctl(dir, {"add", "twin", "--every", "1h", "--command", "echo api"}).exit_code == 0);
    REQUIRE(skedctl(dir, {"add", "solo", "--every", "1h", "--command", "true"}).exit_code == 0);
    d.signal(SIGTERM);
    REQUIRE(d.wait_exit(5000ms).has_value());
  }
  config = write_config(dir, "[job.twin]\nevery = \"1h\"\ncommand = \"echo file\"\n");
  Daemon d(dir, config);
  CHECK(d.wait_for("api_job_shadowed")["job"] == "twin");
  d.wait_for("job_loaded", 2);
  CHECK(skedctl_json(dir, {"show", "solo"})["api"] == true);
  CHECK(skedctl_json(dir, {"show", "solo"})["api_shadowed"] == false);
  // `show` tells of the file job that is loaded, and of the added job it shadows.
  const json twin = skedctl_json(dir, {"show", "twin"});
  CHECK(twin["api"] == false);
  CHECK(twin["api_shadowed"] == true);
  CHECK(twin["job"]["defined_at"].get<std::string>().find("api") != 0);
  CHECK(skedctl_json(dir, {"list"})["jobs"].size() == 2);
  CHECK(output_of_a_run(dir, "twin") == "file\n");
  // Without the file job, the recorded API job is back.
  config = write_config(dir, "");
  const CommandResult reloaded = skedctl(dir, {"reload"});
  SHOW(reloaded);
  REQUIRE(reloaded.exit_code == 0);
  CHECK(skedctl_json(dir, {"list"})["jobs"].size() == 2);
  CHECK(output_of_a_run(dir, "twin") == "api\n");
  const json back = skedctl_json(dir, {"show", "twin"});
  CHECK(back["api"] == true);
  CHECK(back["api_shadowed"] == false);
}

TEST_CASE("drain stops new starts, waits for running runs, and resume --all ends it", "[control]") {
  TempDir dir("skedd-control-test");
  const std::string config = write_config(dir, R"([job.slow]
every = "1h"
command = "sleep 1"

[job.tick]
every = "1s"
command = "true"
)");
  Daemon d(dir, config);
  d.wait_for("job_loaded", 2);
  skedctl_json(dir, {"trigger", "slow"});
  d.wait_for("run_started", [](const json& e) { return e["job"] == "slow"; });
  const CommandResult drained = skedctl(dir, {"drain"});
  SHOW(drained);
  CHECK(drained.exit_code == 0);
  CHECK(drained.out.find("drained: no run is running") == 0);
  CHECK(d.events_named("run_finished", [](const json& e) { return e["job"] == "slow"; }).size() ==
        1);
  const json status = skedctl_json(dir, {"status"});
  CHECK(status["draining"] == true);
  CHECK(status["paused_all"] == true);
  // While drained, even a trigger waits.
  skedctl_json(dir, {"trigger", "slow"});
  std::this_thread::sleep_for(1500ms);
  CHECK(d.events_named("run_started", [](const json& e) { return e["job"] == "slow"; }).size() ==
        1);
  CHECK(skedctl(dir, {"resume", "--all"}).exit_code == 0);
  d.wait_for("run_started", 2, [](const json& e) { return e["job"] == "slow"; });
  CHECK(skedctl_json(dir, {"status"})["draining"] == false);
}

TEST_CASE("skedctl validate checks a main file or a jobs file without a daemon", "[control]") {
  TempDir dir("skedd-control-test");
  const std::string config = write_config(dir, "[job.ok]\nevery = \"1h\"\ncommand = \"true\"\n");
  CommandResult r = skedctl(dir, {"validate", config});
  SHOW(r);
  CHECK(r.exit_code == 0);
  CHECK(r.out == config + ": OK, 1 job(s) in 2 file(s)\n");
  r = skedctl(dir, {"validate", dir / "jobs.d/test.toml"});
  CHECK(r.out == dir / "jobs.d/test.toml" + ": OK, a jobs file with 1 job(s)\n");
  const std::string bad =
      dir.write("bad.toml", "[job.x]\nevery = \"1h\"\ncommand = \"true\"\nretries = -1\n");
  r = skedctl(dir, {"validate", bad});
  SHOW(r);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find(bad + ":4:") == 0);
}

TEST_CASE(
    "inside a job, skedctl checkpoint and progress reach skedd, logs --follow and wait "
    "outside",
    "[control]") {
  TempDir dir("skedd-control-test");
  const std::string skedctl_path = SKEDCTL_BINARY;
  const std::string config = write_config(dir, R"([job.steps]
every = "1h"
command = '''
)" + skedctl_path + R"( progress 25 first step
echo one
)" + skedctl_path + R"( checkpoint step-1
sleep 0.5
echo two
exit 7
'''
)");
  Daemon d(dir, config);
  d.wait_for("job_loaded");
  const std::string id = skedctl_json(dir, {"trigger", "steps"})["run"].dump();
  const CommandResult follow = skedctl(dir, {"logs", id, "--follow"});
  SHOW(follow);
  CHECK(follow.exit_code == 0);
  CHECK(follow.out == "one\ntwo\n");  // followed until the run ended
  const CommandResult waited = skedctl(dir, {"wait", id});
  CHECK(waited.exit_code == 7);
  CHECK(waited.out == "run " + id + " of steps failed, exit code 7\n");
  const json runs =
      skedctl_json(dir, {"runs", "--state", "failed", "--since",
                         skedd::test::rfc3339_utc_ms(std::chrono::system_clock::now() - 60s)});
  REQUIRE(runs["runs"].size() == 1);
  CHECK(runs["runs"][0]["checkpoint"] == "step-1");
  CHECK(runs["runs"][0]["progress"] == 25);
  CHECK(runs["runs"][0]["progress_message"] == "first step");
  CHECK(skedctl_json(dir, {"runs", "--state", "succeeded"})["runs"].empty());
  CHECK(skedctl(dir, {"runs", "--state", "bogus"}).exit_code == 2);
  // Outside a job there is no control channel.
  CHECK(skedctl(dir, {"checkpoint", "x"}).exit_code == 1);
}

TEST_CASE("a run's outputs: from fd 3 and skedctl output, bounded, shown by wait", "[control]") {
  TempDir dir("skedd-control-test");
  const std::string skedctl_path = SKEDCTL_BINARY;
  const std::string config = write_config(dir, R"([job.results]
every = "1h"
command = '''
echo "output rows 1200" >&3
)" + skedctl_path + R"( output path /srv/dump one.sql
echo "output rows 1300" >&3
big=$(head -c 40000 /dev/zero | tr '\0' a)
)" + skedctl_path + R"( output big1 "$big"
)" + skedctl_path + R"( output big2 "$big"
echo "output 2bad x" >&3
)" + skedctl_path + R"( output bad-key x 2>/dev/null || echo "refused $?"
'''
)");
  Daemon d(dir, config);
  d.wait_for("job_loaded");
  const CommandResult waited = skedctl(dir, {"trigger", "results", "--wait", "--json"});
  SHOW(waited);
  REQUIRE(waited.exit_code == 0);
  const json run = json::parse(waited.out);
  CHECK(run["outputs"] ==
        json{{"big1", std::string(40000, 'a')}, {"path", "/srv/dump one.sql"}, {"rows", "1300"}});
  const std::string id = run["run"].dump();
  // big2 would pass 64 KiB in all: dropped and said why; the bad key is named.
  const auto errors = d.events_named("run_channel_error");
  REQUIRE(errors.size() == 2);
  CHECK(errors[0]["error"] ==
        "output big2 dropped: the run's outputs would pass 65536 bytes in all");
  CHECK(errors[1]["error"] ==
        "output: invalid output key \"2bad\": must start with a letter in \"output 2bad x\"");
  CHECK(d.events_named("output").size() == 4);
  CHECK(skedctl(dir, {"logs", id}).out == "refused 2\n");

  const CommandResult text = skedctl(dir, {"wait", id});
  SHOW(text);
  CHECK(text.out == "run " + id + " of results succeeded, exit code 0\n  output big1 = " +
                        std::string(200, 'a') +
                        "...\n  output path = /srv/dump one.sql\n  output rows = 1300\n");
  // The history lists runs without their outputs; the run itself has them.
  CHECK_FALSE(skedctl_json(dir, {"runs", "results"})["runs"][0].contains("outputs"));
}

TEST_CASE("skedd --user keeps to the XDG places, and skedctl --user finds it", "[control]") {
  TempDir dir("skedd-control-test");
  const std::string home = dir / "home";
  const std::string runtime = dir / "run";
  std::filesystem::create_directories(runtime);
  ::setenv("HOME", home.c_str(), 1);
  ::setenv("XDG_RUNTIME_DIR", runtime.c_str(), 1);
  ::unsetenv("XDG_CONFIG_HOME");
  ::unsetenv("XDG_STATE_HOME");
  ::unsetenv("SKEDD_SOCKET");
  // A first start creates the configuration file.
  const CommandResult check = skedd::test::run_command({SKEDD_BINARY, "--user", "--check-config"});
  SHOW(check);
  CHECK(check.exit_code == 0);
  CHECK(check.out == home + "/.config/skedd/skedd.toml: OK, 0 job(s) in 1 file(s)\n");
  dir.write("home/.config/skedd/jobs.d/mine.toml",
            "[job.mine]\nevery = \"1h\"\ncommand = \"true\"\n");
  ::chmod((dir / "home/.config/skedd/jobs.d/mine.toml").c_str(), 0644);

  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    const int log = ::open((dir / "user.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(log, 2);
    ::execl(SKEDD_BINARY, SKEDD_BINARY, "--user", "--no-cgroups", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  struct Stop {
    pid_t pid;
    ~Stop() {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  } stop{pid};
  CommandResult status;
  REQUIRE(skedd::test::wait_until(
      [&] {
        status = skedd::test::run_command({SKEDCTL_BINARY, "--user", "status", "--json"});
        return status.exit_code == 0;
      },
      5000ms));
  CHECK(json::parse(status.out)["jobs"] == 1);
  CHECK(std::filesystem::exists(home + "/.local/state/skedd/skedd.db"));
  CHECK(std::filesystem::exists(runtime + "/skedd.sock"));
  ::unsetenv("XDG_RUNTIME_DIR");
  CHECK(skedd::test::run_command({SKEDCTL_BINARY, "--user", "status"}).exit_code == 2);
}

TEST_CASE("a client that says nothing is dropped after client_idle_timeout", "[control]") {
  TempDir dir("skedd-control-test");
  dir.write("jobs.d/test.toml", "[job.x]\nevery = \"1h\"\ncommand = \"true\"\n");
  const std::string config =
      dir.write("skedd.toml", "[daemon]\nstate_dir = \"" + dir / "state" + "\"\nsocket = \"" +
                                  dir / "skedd.sock" + "\"\nclient_idle_timeout = \"1s\"\n");
  Daemon d(dir, config);
  d.wait_for("job_loaded");
  RawClient idle(dir / "skedd.sock");
  const auto start = std::chrono::steady_clock::now();
  REQUIRE(idle.send("{\"id\":1,\"op\":\"sta"));  // half a request, then silence
  CHECK(idle.line().empty());                    // closed, well before RawClient's 5 s
  const auto waited = std::chrono::steady_clock::now() - start;
  CHECK(waited >= 900ms);
  CHECK(waited < 4s);
  RawClient busy(dir / "skedd.sock");  // the daemon still serves others
  REQUIRE(busy.send("{\"id\":2,\"op\":\"status\"}\n"));
  CHECK(json::parse(busy.line())["id"] == 2);
}
