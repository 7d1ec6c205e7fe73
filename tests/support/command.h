// Runs a program as a user would (optionally as another uid), capturing its exit code and
// whole outputs.
#pragma once

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "support/temp_dir.h"

#include "support/temp_dir.h"
#include "support/test_account.h"

// Shows a command's exit code and both streams when an assertion about it fails.
#define SHOW(r) INFO("exit " << (r).exit_code << "\nstdout:\n" << (r).out << "stderr:\n" << (r).err)

namespace skedd::test {

struct CommandResult {
  int exit_code = -1;  ///< the exit status, or 128 + signal
  std::string out;
  std::string err;
};

/// The account the root-only tests act as (see test_account.h: one per test process, with
/// its home directory, where its runs start as cron's do). Exits the test process with 77,
/// which CTest reports as skipped, when not root or when the account cannot be made.
struct TestUser {
  std::string name;
  std::string home;
  RunAs as;
};
inline TestUser test_user_or_skip() {
  const TestAccount& account = test_account_or_skip();
  return TestUser{account.name, account.home, account.as()};
}

inline std::string read_whole_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// Runs `argv` (argv[0] is the binary's path) with stdin from /dev/null, capturing stdout and
/// stderr through files, so neither pipe can fill up and block the child.
inline CommandResult run_command(const std::vector<std::string>& argv,
                                 std::optional<RunAs> as = std::nullopt) {
  TempDir io("skedd-command");
  if (as) REQUIRE(::chown(io.path().c_str(), as->uid, as->gid) == 0);
  const std::string out_path = io / "stdout";
  const std::string err_path = io / "stderr";
  const int in_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const int out_fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  const int err_fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  REQUIRE(in_fd >= 0);
  REQUIRE(out_fd >= 0);
  REQUIRE(err_fd >= 0);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    ::dup2(in_fd, 0);
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    if (as && (::setgroups(0, nullptr) != 0 || ::setgid(as->gid) != 0 || ::setuid(as->uid) != 0)) {
      ::_exit(126);
    }
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(in_fd);
  ::close(out_fd);
  ::close(err_fd);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    REQUIRE(errno == EINTR);
  }
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_whole_file(out_path);
  r.err = read_whole_file(err_path);
  return r;
}

/// Runs skedctl against the daemon whose socket is DIR/skedd.sock (`dir` a TempDir's path).
inline CommandResult skedctl_in(const std::string& dir, std::vector<std::string> args,
                                std::optional<RunAs> as = std::nullopt) {
  // Another user must be able to reach the binary (a checkout in /root is 0700).
  const std::string binary = as ? reachable_binary(SKEDCTL_BINARY) : std::string(SKEDCTL_BINARY);
  args.insert(args.begin(), {binary, "--socket", dir + "/skedd.sock"});
  return run_command(args, as);
}

/// skedctl against the daemon of the test directory `dir` (its socket DIR/skedd.sock).
inline CommandResult skedctl(const TempDir& dir, std::vector<std::string> args,
                             std::optional<RunAs> as = std::nullopt) {
  return skedctl_in(dir.path(), std::move(args), as);
}

}  // namespace skedd::test
