// skedd-runhost --dir DIR [--ready-fd N] [--idle-exit SECONDS] [--inherit FILE]
// Started by skedd (never by hand); see skedd(8), RUN HOST.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <string>

#include "runhost/run_host.h"
#include "skedd/version.h"

int main(int argc, char** argv) {
  skedd::runhost::RunHostOptions options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--version") {
      std::cout << "skedd-runhost " << skedd::kVersion << " (protocol "
                << skedd::runhost::kRunHostProtocol << ")\n";
      return 0;
    } else if (arg == "--dir" && has_value) {
      options.dir = argv[++i];
    } else if (arg == "--ready-fd" && has_value) {
      options.ready_fd = std::atoi(argv[++i]);
    } else if (arg == "--idle-exit" && has_value) {
      options.idle_exit = std::chrono::seconds(std::atoi(argv[++i]));
    } else if (arg == "--inherit" && has_value) {
      options.inherit = argv[++i];
    } else {
      std::cerr << "usage: skedd-runhost --dir DIR [--ready-fd N] [--idle-exit SECONDS]\n"
                   "(started by skedd; see skedd(8), RUN HOST)\n";
      return 2;
    }
  }
  if (options.dir.empty() || options.dir[0] != '/') {
    std::cerr << "skedd-runhost: --dir must be an absolute path\n";
    return 2;
  }
  ::umask(077);
  // Its own session: skedd's process group and terminal signals do not reach it, and it
  // outlives skedd. A subreaper: the orphans of runs are its to reap.
  ::setsid();
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGHUP, SIG_IGN);
  if (::chdir("/") != 0) return 1;
  // SIGCHLD, SIGTERM and SIGINT are taken by the loop's signal sets.
  boost::asio::io_context io;
  skedd::runhost::RunHost host(io, options);
  if (skedd::Status started = host.start(); !started) {
    std::cerr << "skedd-runhost: " << started.error().message << "\n";
    return 75;
  }
  io.run();
  return 0;
}
