// Runs a program on a pseudo-terminal of a given size, as a person at a terminal would, and
// captures what it shows (standard output and error together, as a terminal gets them).
#pragma once

#include <poll.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "support/command.h"

namespace skedd::test {

/// Runs `argv` with its standard streams on a terminal of `columns` x `rows`, with `env`
/// set on top of the test's environment ("" unsets), for at most 20 s. `out` is all it wrote
/// (with the terminal's CR LF line ends turned back to LF).
inline CommandResult run_in_pty(const std::vector<std::string>& argv, unsigned short columns,
                                unsigned short rows,
                                const std::map<std::string, std::string>& env = {}) {
  winsize size{};
  size.ws_col = columns;
  size.ws_row = rows;
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int master = -1;
  const pid_t pid = ::forkpty(&master, nullptr, nullptr, &size);
  REQUIRE(pid >= 0);
  if (pid == 0) {
    for (const auto& [name, value] : env) {
      if (value.empty()) {
        ::unsetenv(name.c_str());
      } else {
        ::setenv(name.c_str(), value.c_str(), 1);
      }
    }
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  std::string out;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (;;) {
    pollfd p{master, POLLIN, 0};
    if (::poll(&p, 1, 100) > 0) {
      char buf[4096];
      const ssize_t n = ::read(master, buf, sizeof buf);
      if (n <= 0) break;  // EIO: the program and its children have closed the terminal
      out.append(buf, static_cast<std::size_t>(n));
    }
    if (std::chrono::steady_clock::now() > until) {
      ::kill(pid, SIGKILL);
      break;
    }
  }
  ::close(master);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out[i] == '\r' && i + 1 < out.size() && out[i + 1] == '\n') continue;
    r.out += out[i];
  }
  return r;
}

}  // namespace skedd::test
