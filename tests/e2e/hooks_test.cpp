// Alert hooks end to end: on_failure, on_success, on_missed and on_stall run as jobs of their
// own with the context of what they are about, coalesced, recorded, never recursive.
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <string>

#include <catch2/catch.hpp>

#include "support/command.h"
#include "support/daemon.h"
#include "support/daemon_jobs.h"
#include "support/temp_dir.h"

namespace {

using namespace std::chrono_literals;
using skedd::test::at_line;
using skedd::test::Daemon;
using skedd::test::job;
using skedd::test::Json;
using skedd::test::kill_after_checkpoint;
using skedd::test::of_job;
using skedd::test::slurp;
using skedd::test::TempDir;
using skedd::test::wait_until;
using skedd::test::write_config;

// A hook that writes its SKEDD_* variables to $DIR/<file>.
std::string env_hook(const std::string& key, const std::string& file, const std::string& then) {
  return key + " = 'env | grep ^SKEDD_ | sort > \"$DIR/" + file + ".tmp\"; mv \"$DIR/" + file +
         ".tmp\" \"$DIR/" + file + "\"; " + then + "'\n";
}

bool has_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

}  // namespace

TEST_CASE("hooks: on_failure, on_success, on_missed and on_stall run with their context",
          "[hooks]") {
  TempDir dir;
  const std::string config = write_config(
      dir, "",
      job(dir, "flaky", at_line(), "echo oops\nexit 3\n",
          env_hook("on_failure", "failure", "exit 1")) +
          job(dir, "good", at_line(), "exit 0\n", env_hook("on_success", "success", "exit 0")) +
          job(dir, "busy", R"(every = "1s")", "sleep 2.5\n",
              "overlap = \"skip\"\n" + env_hook("on_missed", "missed", "sleep 3")) +
          job(dir, "quiet", at_line(), "sleep 4\n",
              "stall_timeout = \"1s\"\n" + env_hook("on_stall", "stall", "exit 0")));
  Daemon d(dir, config);
  const Json failed = d.wait_for("run_finished", of_job("flaky"));
  const std::string run = std::to_string(failed["run"].get<std::uint64_t>());
  // The hook is a job of its own, recorded as any run.
  const Json hook_run = d.wait_for("run_finished", of_job("flaky:on_failure"), 10000ms);
  CHECK(hook_run["state"] == "failed");  // it exits 1: no hook of a hook
  REQUIRE(wait_until([&] { return std::filesystem::exists(dir / "failure"); }, 5000ms));
  const std::string failure = slurp(dir / "failure");
  INFO(failure);
  CHECK(has_line(failure, "SKEDD_HOOK=on_failure"));
  CHECK(has_line(failure, "SKEDD_JOB=flaky"));
  CHECK(has_line(failure, "SKEDD_HOOK_RUN_ID=" + run));
  CHECK(has_line(failure, "SKEDD_STATE=failed"));
  CHECK(has_line(failure, "SKEDD_EXIT_CODE=3"));
  CHECK(has_line(failure, "SKEDD_LOG=" + failed["log"].get<std::string>()));
  CHECK(has_line(failure, "SKEDD_SCHEDULED_AT=" + failed["scheduled"].get<std::string>()));
  CHECK(has_line(failure, "SKEDD_RUN_ID=" + std::to_string(hook_run["run"].get<std::uint64_t>())));

  REQUIRE(wait_until([&] { return std::filesystem::exists(dir / "success"); }, 5000ms));
  const std::string success = slurp(dir / "success");
  CHECK(has_line(success, "SKEDD_HOOK=on_success"));
  CHECK(has_line(success, "SKEDD_STATE=succeeded"));
  CHECK(has_line(success, "SKEDD_EXIT_CODE=0"));

  REQUIRE(wait_until([&] { return std::filesystem::exists(dir / "missed"); }, 8000ms));
  const std::string missed = slurp(dir / "missed");
  CHECK(has_line(missed, "SKEDD_HOOK=on_missed"));
  CHECK(has_line(missed, "SKEDD_JOB=busy"));
  CHECK(has_line(missed, "SKEDD_STATE=skipped"));
  CHECK(has_line(missed, "SKEDD_REASON=overlap"));
  // Its hook sleeps 3 s while busy misses a fire every 1.5 s or so: later ones coalesce.
  CHECK_FALSE(d.wait_for("hook_coalesced", of_job("busy"), 10000ms).is_null());

  REQUIRE(wait_until([&] { return std::filesystem::exists(dir / "stall"); }, 8000ms));
  const std::string stall = slurp(dir / "stall");
  CHECK(has_line(stall, "SKEDD_HOOK=on_stall"));
  CHECK(has_line(stall, "SKEDD_JOB=quiet"));
  CHECK(has_line(stall, "SKEDD_STATE=stalled"));

  SHOW_LOG(d);
  // Never recursive: a hook's own failure fires nothing; a hook's job has no hooks.
  CHECK(d.events_named("hook_fired", of_job("flaky:on_failure")).empty());
  CHECK(d.events_named("hook_fired", of_job("flaky")).size() == 1);
  // Listed and recorded as jobs of their own.
  const auto list = skedd::test::skedctl(dir, {"runs", "flaky:on_failure", "--json"});
  CHECK(list.exit_code == 0);
  CHECK(list.out.find("\"failed\"") != std::string::npos);
}

TEST_CASE("hooks: none fires for a run that skedd's restart interrupted", "[hooks]") {
  TempDir dir;
  const std::string config = write_config(
      dir, "",
      job(dir, "cut", at_line(), R"(
echo checkpoint step-1 >&3
if [ -z "$SKEDD_CHECKPOINT" ]; then sleep 300; fi
)",
          "on_failure = 'echo \"$SKEDD_HOOK_RUN_ID $SKEDD_STATE\" >> \"$DIR/failures\"'\n"
          "on_success = 'echo \"$SKEDD_HOOK_RUN_ID $SKEDD_STATE\" >> \"$DIR/successes\"'\n"));
  Json started;
  {
    Daemon first(dir, config);
    started = kill_after_checkpoint(first, dir, "cut");
    const pid_t pgid = started["pid"].get<pid_t>();
    ::kill(-pgid, SIGKILL);
    REQUIRE(wait_until([&] { return first.group_gone(pgid); }, 3000ms));
  }
  skedd::test::pretend_reboot(dir);
  Daemon second(dir, config);
  second.wait_for("run_interrupted", skedd::test::of_run(started));
  // The fire resumes from its checkpoint and succeeds: that success is hooked, the
  // interruption is not.
  const Json resumed = second.wait_for("run_finished", of_job("cut"));
  CHECK(resumed["state"] == "succeeded");
  second.wait_for("run_finished", of_job("cut:on_success"), 10000ms);
  REQUIRE(wait_until([&] { return std::filesystem::exists(dir / "successes"); }, 5000ms));
  CHECK(slurp(dir / "successes") ==
        std::to_string(resumed["run"].get<std::uint64_t>()) + " succeeded\n");
  CHECK_FALSE(std::filesystem::exists(dir / "failures"));
  CHECK(second.events_named("run_started", of_job("cut:on_failure")).empty());
  CHECK(second
            .events_named("hook_fired",
                          [](const Json& e) { return e.value("hook", "") == "on_failure"; })
            .empty());
}
