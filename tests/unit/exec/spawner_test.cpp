// The real spawner on real programs: descriptors, environment, process group, errors.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <csignal>
#include <fstream>
#include <iterator>

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include "exec/run_files.h"
#include "exec/run_setup.h"
#include "skedd/exec/process_spawner.h"
#include "skedd/time/timestamp.h"
#include "support/temp_dir.h"

namespace {

using skedd::PosixSpawner;
using skedd::SpawnRequest;

int wait_exit(pid_t pid) {
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  return WEXITSTATUS(status);
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_CASE("a spawned process gets the log on 1 and 2, the channel on 3, its own group",
          "[spawner]") {
  skedd::test::TempDir dir("skedd-spawn-test");
  auto files = skedd::create_run_files(dir.path(), dir.path(), "job", skedd::RunId{7}, ::getuid(),
                                       ::getgid());
  REQUIRE(files.ok());
  SpawnRequest r;
  r.path = "/bin/sh";
  r.argv = {"sh", "-c",
            "echo out; echo err >&2; echo checkpoint x >&3; "
            "test $(ps -o pgid= $$) -eq $$ && echo own-group; pwd; echo $GREETING; "
            "ls /proc/self/fd | wc -l"};
  r.env = {"GREETING=hello", "PATH=/usr/bin:/bin"};
  r.working_dir = "/tmp";
  const int dev_null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  r.stdin_fd = dev_null;
  r.output_fd = files->log.get();
  r.control_fd = files->control_child.get();
  boost::asio::io_context io;
  PosixSpawner spawner(io);
  auto pid = spawner.spawn(r);
  REQUIRE(pid.ok());
  ::close(dev_null);
  CHECK(wait_exit(pid.value()) == 0);
  // 0-3, and the one ls opens to read the directory: nothing of the parent's leaked.
  CHECK(slurp(files->log_path) == "out\nerr\nown-group\n/tmp\nhello\n5\n");
  char buf[64] = {};
  const ssize_t n = ::read(files->control_read.get(), buf, sizeof buf);
  CHECK(std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0) == "checkpoint x\n");
}

TEST_CASE("spawn errors name the step that failed", "[spawner]") {
  boost::asio::io_context io;
  PosixSpawner spawner(io);
  SpawnRequest r;
  r.path = "/nonexistent/prog";
  r.argv = {"prog"};
  auto missing = spawner.spawn(r);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message == "exec /nonexistent/prog: No such file or directory");

  r.path = "/bin/true";
  r.working_dir = "/nonexistent-dir";
  auto bad_dir = spawner.spawn(r);
  REQUIRE_FALSE(bad_dir.ok());
  CHECK(bad_dir.error().message == "chdir /nonexistent-dir: No such file or directory");
}

TEST_CASE("the daemon's ignored signals do not reach the job", "[spawner]") {
  auto old = std::signal(SIGPIPE, SIG_IGN);
  boost::asio::io_context io;
  PosixSpawner spawner(io);
  SpawnRequest r;
  r.path = "/bin/sh";
  r.argv = {"sh", "-c", "grep -q '^SigIgn:[[:space:]]*0*$' /proc/self/status"};
  auto pid = spawner.spawn(r);
  std::signal(SIGPIPE, old);
  REQUIRE(pid.ok());
  CHECK(wait_exit(pid.value()) == 0);
}

TEST_CASE("executables are found on the job's PATH by the child", "[spawner]") {
  using V = std::vector<std::string>;
  CHECK(skedd::exec_candidates("sh", "/nonexistent:/bin") == V{"/nonexistent/sh", "/bin/sh"});
  CHECK(skedd::exec_candidates("./x", "/bin") == V{"./x"});
  CHECK(skedd::exec_candidates("x", ":/bin:") == V{"./x", "/bin/x", "./x"});

  boost::asio::io_context io;
  PosixSpawner spawner(io);
  SpawnRequest r;
  r.path = "sh";
  r.search_path = "/nonexistent:/etc:/bin";  // /etc/sh is absent; a directory is skipped too
  r.argv = {"sh", "-c", "exit 7"};
  auto pid = spawner.spawn(r);
  REQUIRE(pid.ok());
  CHECK(wait_exit(pid.value()) == 7);

  r.path = "no-such-cmd-xyz";
  r.search_path = "/bin:/usr/bin";
  CHECK(spawner.spawn(r).error().message ==
        "command \"no-such-cmd-xyz\" not found in PATH=/bin:/usr/bin");
  // A file found but not executable is reported as such, not as missing.
  skedd::test::TempDir dir("skedd-spawn");
  dir.write("bin/tool", "#!/bin/sh\n", 0644);
  r.path = "tool";
  r.search_path = dir / "bin";
  CHECK(spawner.spawn(r).error().message ==
        "exec tool (PATH=" + dir / "bin" + "): Permission denied");
}

TEST_CASE("a run's environment is cron's base, the job's env, then SKEDD_*", "[spawner]") {
  skedd::JobSpec spec;
  spec.name = "backup";
  spec.options.edit().env = {{"PATH", "/opt/bin:/bin"}, {"RETENTION", "14"}};
  skedd::UserInfo user{1000, 1000, "alice", "/home/alice", "/bin/bash"};
  skedd::RunAttempt ctx{skedd::RunId{42}, skedd::parse_rfc3339("2026-03-08T07:30:00Z").value(), 2,
                        "step-3"};
  CHECK(skedd::build_environment(spec, user, ctx) ==
        std::vector<std::string>{"HOME=/home/alice", "LOGNAME=alice", "PATH=/opt/bin:/bin",
                                 "RETENTION=14", "SHELL=/bin/sh", "SKEDD_ATTEMPT=2",
                                 "SKEDD_CHECKPOINT=step-3", "SKEDD_CONTROL_FD=3",
                                 "SKEDD_JOB=backup", "SKEDD_RUN_ID=42",
                                 "SKEDD_SCHEDULED_AT=2026-03-08T07:30:00Z", "USER=alice"});
}

TEST_CASE("a hook run's context comes last, but its SKEDD_RUN_ID stays its own", "[spawner]") {
  skedd::JobSpec spec;
  spec.name = "backup:on_failure";
  spec.options.edit().hook_context = {{"SKEDD_JOB", "backup"},
                                      {"SKEDD_HOOK", "on_failure"},
                                      {"SKEDD_RUN_ID", "7"},
                                      {"SKEDD_CONTROL_FD", "9"},
                                      {"SKEDD_ATTEMPT", "3"}};
  skedd::UserInfo user{1000, 1000, "alice", "/home/alice", "/bin/bash"};
  skedd::RunAttempt ctx{skedd::RunId{42}, skedd::parse_rfc3339("2026-03-08T07:30:00Z").value(), 1,
                        ""};
  CHECK(skedd::build_environment(spec, user, ctx) ==
        std::vector<std::string>{"HOME=/home/alice", "LOGNAME=alice",
                                 "PATH=/usr/local/bin:/usr/bin:/bin", "SHELL=/bin/sh",
                                 "SKEDD_ATTEMPT=3", "SKEDD_CONTROL_FD=3", "SKEDD_HOOK=on_failure",
                                 "SKEDD_JOB=backup", "SKEDD_RUN_ID=42",
                                 "SKEDD_SCHEDULED_AT=2026-03-08T07:30:00Z", "USER=alice"});
}

TEST_CASE("a log over its cap is copied aside and truncated", "[spawner]") {
  skedd::test::TempDir dir("skedd-logcap-test");
  const std::string log = dir.write("run.log", std::string(50, 'a') + std::string(50, 'b'));
  CHECK(skedd::enforce_log_cap(log, 200).value() == false);
  CHECK(skedd::enforce_log_cap(log, 50).value() == true);
  CHECK(slurp(log).empty());
  CHECK(slurp(log + ".1") == std::string(50, 'b'));  // the newest 50 bytes
  CHECK(skedd::read_tail(log + ".1", 3) == "bbb");
}

TEST_CASE("a run's control channel is read at most a capped amount per call", "[spawner]") {
  // A run writing without pause: 1 MiB of lines waiting in the channel.
  int fds[2];
  REQUIRE(::pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0);
  ::fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);
  const std::string line = "heartbeat\n";
  std::size_t written = 0;
  for (;;) {
    const ssize_t n = ::write(fds[1], line.data(), line.size());
    if (n <= 0) break;
    written += static_cast<std::size_t>(n);
  }
  REQUIRE(written > 256 * 1024);
  skedd::LineSplitter lines;
  std::array<char, 4096> buffer{};
  constexpr std::size_t kCap = 64 * 1024;
  std::size_t read = 0;
  int calls = 0;
  while (read < written) {
    const std::size_t n = skedd::read_channel(fds[0], lines, buffer, kCap);
    CHECK(n <= kCap + buffer.size());
    REQUIRE(n > 0);
    read += n;
    ++calls;
  }
  CHECK(calls >= static_cast<int>(written / (kCap + buffer.size())));
  // Uncapped (the run has ended): drained in one call.
  REQUIRE(::write(fds[1], line.data(), line.size()) == static_cast<ssize_t>(line.size()));
  CHECK(skedd::read_channel(fds[0], lines, buffer, 0) == line.size());
  std::string got;
  std::size_t complete = 0;
  while (lines.next(got)) ++complete;
  CHECK(complete == (written + line.size()) / line.size());
  ::close(fds[0]);
  ::close(fds[1]);
}

namespace {

SpawnRequest shell(const std::string& script, int dev_null) {
  SpawnRequest r;
  r.path = "/bin/sh";
  r.argv = {"sh", "-c", script};
  r.env = {"PATH=/usr/bin:/bin"};
  r.stdin_fd = dev_null;
  r.output_fd = dev_null;
  return r;
}

// Spawns each script, failing the test when one cannot be.
std::vector<pid_t> spawn_all(PosixSpawner& spawner, const std::vector<std::string>& scripts) {
  const int dev_null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  std::vector<pid_t> pids;
  for (const std::string& script : scripts) {
    auto pid = spawner.spawn(shell(script, dev_null));
    REQUIRE(pid.ok());
    pids.push_back(pid.value());
  }
  ::close(dev_null);
  return pids;
}

// Runs the loop until `done` or 10 s have passed (a hung child fails the test, not CI).
template <typename Done>
void run_until(boost::asio::io_context& io, Done done) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done() && std::chrono::steady_clock::now() < give_up) {
    io.run_for(std::chrono::milliseconds(20));
    io.restart();
  }
}

}  // namespace

TEST_CASE("the spawner tells a child's exit status once, on the loop, and reaps it", "[spawner]") {
  boost::asio::io_context io;
  PosixSpawner spawner(io);
  const auto pids = spawn_all(spawner, {"exit 3", "kill -TERM $$; sleep 5"});
  std::vector<std::pair<pid_t, skedd::ProcessExit>> seen;
  for (pid_t pid : pids) {
    REQUIRE(
        spawner
            .watch_exit(pid, false,
                        [&seen, pid](const skedd::ProcessExit& e) { seen.emplace_back(pid, e); })
            .ok());
  }
  run_until(io, [&] { return seen.size() == 2; });
  REQUIRE(seen.size() == 2);
  for (const auto& [pid, exit] : seen) {
    if (pid == pids[0]) {
      CHECK(exit.exit_code == 3);
      CHECK_FALSE(exit.signal);
    } else {
      CHECK(exit.signal == SIGTERM);
      CHECK_FALSE(exit.exit_code);
    }
    // Reaped: no status is left for anyone else.
    int status = 0;
    CHECK(::waitpid(pid, &status, WNOHANG) == -1);
    CHECK(errno == ECHILD);
  }
}

TEST_CASE("the spawner signals a run's whole group and says when it has emptied", "[spawner]") {
  boost::asio::io_context io;
  PosixSpawner spawner(io);
  const pid_t pid = spawn_all(spawner, {"sleep 30 & sleep 30; wait"})[0];
  std::optional<skedd::ProcessExit> exit;
  REQUIRE(spawner.watch_exit(pid, false, [&](const skedd::ProcessExit& e) { exit = e; }).ok());
  CHECK(spawner.signal_group(pid, 0));
  CHECK(spawner.start_time(pid).has_value());
  CHECK(spawner.signal_group(pid, SIGKILL));
  run_until(io, [&] { return exit.has_value(); });
  REQUIRE(exit);
  CHECK(exit->signal == SIGKILL);
  CHECK_FALSE(spawner.start_time(pid).has_value());
  // The background sleep was in the group too. It is a child of init now (or of this process,
  // when it is a subreaper): the group empties once it is reaped.
  spawner.reap_orphans();
  run_until(io, [&] {
    spawner.reap_orphans();
    return !spawner.signal_group(pid, 0);
  });
  CHECK_FALSE(spawner.signal_group(pid, 0));
}

TEST_CASE("an unwatched exit is not told, and orphans' reaping leaves watched children alone",
          "[spawner]") {
  boost::asio::io_context io;
  PosixSpawner spawner(io);
  const auto pids = spawn_all(spawner, {"exit 7", "exit 0"});
  const pid_t watched = pids[0];
  const pid_t dropped = pids[1];
  std::optional<skedd::ProcessExit> exit;
  bool dropped_told = false;
  REQUIRE(spawner.watch_exit(watched, false, [&](const skedd::ProcessExit& e) { exit = e; }).ok());
  REQUIRE(
      spawner.watch_exit(dropped, false, [&](const skedd::ProcessExit&) { dropped_told = true; })
          .ok());
  spawner.unwatch(dropped);
  // Both have exited (waited for without reaping); the unwatched one is an orphan now.
  for (pid_t pid : {watched, dropped}) {
    siginfo_t info{};
    REQUIRE(::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT) == 0);
  }
  spawner.reap_orphans();  // must not take the watched child's status
  run_until(io, [&] { return exit.has_value(); });
  REQUIRE(exit);
  CHECK(exit->exit_code == 7);
  CHECK_FALSE(dropped_told);
  // The unwatched child was reaped as an orphan (now, or once the watched one was).
  int status = 0;
  CHECK(::waitpid(dropped, &status, WNOHANG) == -1);
}

TEST_CASE("a run that ended before its spawner looked still has its start time", "[spawner]") {
  // A child that exits at once is a zombie by the time skedd (or the run host) reads its
  // start time: without it, its run was recorded with no way to match the exit kept for it.
  boost::asio::io_context io;
  PosixSpawner spawner(io);
  const pid_t pid = spawn_all(spawner, {"exit 0"})[0];
  siginfo_t info{};
  REQUIRE(::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT) == 0);  // a zombie
  CHECK_FALSE(spawner.start_time(pid).has_value());  // ended: not a process that still runs
  const auto start = spawner.spawned_start_time(pid);
  REQUIRE(start.has_value());
  CHECK(*start > 0);
  CHECK(wait_exit(pid) == 0);
  CHECK_FALSE(spawner.spawned_start_time(pid).has_value());  // reaped: nothing is left
}
