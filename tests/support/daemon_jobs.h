// What the daemon tests share: matchers of logged events, jobs written as TOML, and the
// configuration of a test's daemon.
#pragma once

#include <chrono>
#include <csignal>
#include <functional>
#include <string>

#include <catch2/catch.hpp>

#include "skedd/store/sqlite_store.h"
#include "support/daemon.h"
#include "support/temp_dir.h"

namespace skedd::test {

using std::chrono::milliseconds;

using Match = std::function<bool(const Json&)>;

inline Match of_job(const std::string& job) {
  return [job](const Json& e) { return e.value("job", "") == job; };
}

inline Match of_run(const Json& run_started) {
  const Json run = run_started.at("run");
  return [run](const Json& e) { return e.contains("run") && e["run"] == run; };
}

inline std::string run_id(const Json& event) {
  return std::to_string(event.at("run").get<std::uint64_t>());
}

// A [job.NAME] table running `script` through /bin/sh -c, with DIR = the test's directory in
// its environment. `schedule` and `extra` are whole TOML lines.
inline std::string job(const TempDir& dir, const std::string& name, const std::string& schedule,
                       const std::string& script, const std::string& extra = "") {
  return "[job." + name + "]\n" + schedule + "\ncommand = '''\n" + script +
         "'''\nenv = { DIR = \"" + dir.path() + "\" }\n" + extra + "\n";
}

// `at = "..."`: the first whole second at least `lead` from now, plus `fraction`.
inline std::string at_line(milliseconds lead = milliseconds(1000),
                           milliseconds fraction = milliseconds(500), std::string* text = nullptr) {
  const auto at =
      std::chrono::ceil<std::chrono::seconds>(std::chrono::system_clock::now() + lead) + fraction;
  const std::string formatted = skedd::test::rfc3339_utc_ms(at);
  if (text != nullptr) *text = formatted;
  return "at = \"" + formatted + "\"";
}

// Writes DIR/skedd.toml ([daemon] in UTC plus `daemon_lines`) and DIR/jobs.d/test.toml (`jobs`),
// both mode 0644; returns the main file's path.
inline std::string write_config(const TempDir& dir, const std::string& daemon_lines,
                                const std::string& jobs) {
  dir.write("jobs.d/test.toml", jobs);
  return dir.write("skedd.toml", "[daemon]\nstate_dir = \"" + dir / "state" + "\"\nsocket = \"" +
                                     dir / "skedd.sock" + "\"\ntimezone = \"UTC\"\n" +
                                     daemon_lines);
}

// Makes the state of a stopped skedd in `dir` say that it ran in another boot, as after a
// reboot: its runs were interrupted (on_interrupt), whatever the run host kept of them.
inline void pretend_reboot(const TempDir& dir) {
  auto store = open_sqlite_store(dir / "state/skedd.db");
  if (!store) throw std::runtime_error("cannot open the state: " + store.error().message);
  store.value()->put_meta("boot_id", "a-boot-before-this-one");
  if (auto flushed = store.value()->flush(); !flushed) {
    throw std::runtime_error("cannot write the state: " + flushed.error().message);
  }
}

// Waits for `job`'s first run to write a checkpoint and for the run to be in the history
// (the writer commits asynchronously), then kill -9s skedd; returns run_started.
inline Json kill_after_checkpoint(Daemon& d, const TempDir& dir, const std::string& job) {
  const Json started = d.wait_for("run_started", of_job(job));
  d.wait_for("checkpoint", of_run(started));
  REQUIRE(wait_until(
      [&] {
        auto store = open_sqlite_store(dir / "state/skedd.db");
        if (!store) return false;
        auto runs = store.value()->runs({job, RunState::kRunning, 1});
        return runs.ok() && !runs->empty() && !runs.value()[0].checkpoint.empty();
      },
      milliseconds(3000)));
  d.signal(SIGKILL);
  REQUIRE(d.wait_exit(milliseconds(3000)).has_value());
  return started;
}

// Shows the daemon's whole log when an assertion fails.
#define SHOW_LOG(d) INFO("--- skedd log ---\n" << (d).log_text())

}  // namespace skedd::test
