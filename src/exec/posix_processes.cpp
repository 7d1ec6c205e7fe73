// PosixSpawner after the spawn: signals, exits through pidfds, orphans.
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "exec/proc.h"
#include "skedd/exec/process_spawner.h"

#include <boost/asio/posix/stream_descriptor.hpp>

namespace skedd {

struct PosixSpawner::Watch {
  /// Readable once the process has exited. No SIGCHLD and no waitpid(-1): the other children
  /// of the process (an embedding program's) are left to their owner.
  boost::asio::posix::stream_descriptor pidfd;
  bool adopted = false;
  OnExit on_exit;
};

namespace {

int open_pidfd(pid_t pid) {
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd >= 0) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  return fd;
}

}  // namespace

PosixSpawner::PosixSpawner(boost::asio::io_context& io)
    : PosixSpawner(io, rlimit{RLIM_INFINITY, RLIM_INFINITY}) {}

PosixSpawner::PosixSpawner(boost::asio::io_context& io, rlimit default_nofile)
    : io_(io), default_nofile_(default_nofile) {}

PosixSpawner::~PosixSpawner() = default;

bool PosixSpawner::signal_group(pid_t pgid, int sig) {
  return pgid > 0 && ::kill(-pgid, sig) == 0;
}

Status PosixSpawner::watch_exit(pid_t pid, bool adopted, OnExit on_exit) {
  const int pidfd = open_pidfd(pid);
  if (pidfd < 0) {
    const std::string error = std::string("cannot watch its process: ") + std::strerror(errno);
    if (!adopted) {
      // It must not run unseen.
      ::kill(-pid, SIGKILL);
      int status = 0;
      ::waitpid(pid, &status, 0);
    }
    return Error::io(error);
  }
  auto watch = std::make_unique<Watch>(
      Watch{boost::asio::posix::stream_descriptor(io_, pidfd), adopted, std::move(on_exit)});
  watches_[pid] = std::move(watch);
  wait_for(pid);
  return Ok{};
}

void PosixSpawner::wait_for(pid_t pid) {
  Watch& watch = *watches_.at(pid);
  watch.pidfd.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                         [this, pid, w = &watch](const boost::system::error_code& ec) {
                           // Aborted: unwatched (the Watch and maybe the spawner gone).
                           if (ec) return;
                           const auto it = watches_.find(pid);
                           if (it != watches_.end() && it->second.get() == w) on_readable(pid);
                         });
}

void PosixSpawner::on_readable(pid_t pid) {
  auto it = watches_.find(pid);
  ProcessExit exit;
  if (!it->second->adopted) {
    int status = 0;
    const pid_t reaped = ::waitpid(pid, &status, WNOHANG);
    if (reaped == 0) return wait_for(pid);  // not exited after all: wait on
    if (reaped == pid && WIFEXITED(status)) exit.exit_code = WEXITSTATUS(status);
    if (reaped == pid && WIFSIGNALED(status)) exit.signal = WTERMSIG(status);
    // reaped < 0: another waiter of the process took its status (unknown, as if adopted).
  }
  OnExit on_exit = std::move(it->second->on_exit);
  watches_.erase(it);
  on_exit(exit);
  if (orphans_waiting_) reap_orphans();
}

void PosixSpawner::unwatch(pid_t pid) {
  watches_.erase(pid);
}

std::optional<std::uint64_t> PosixSpawner::start_time(pid_t pid) {
  return process_start_time(pid);
}

std::optional<std::uint64_t> PosixSpawner::spawned_start_time(pid_t pid) {
  return child_start_time(pid);  // not reaped before its watcher runs on the loop
}

std::optional<pid_t> PosixSpawner::find_run(std::uint64_t run_id, const std::string& control_path) {
  return find_run_process(run_id, control_path);
}

void PosixSpawner::reap_orphans() {
  orphans_waiting_ = false;
  // A subreaper's children are its runs and helpers (each reaped through its pidfd) and the
  // orphans of runs. An exited child is looked at without reaping it (WNOWAIT): one that is
  // watched is left to its watcher, after which this is called again.
  for (;;) {
    siginfo_t info{};
    if (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0) break;
    if (watches_.contains(info.si_pid)) {
      orphans_waiting_ = true;
      break;
    }
    int status = 0;
    ::waitpid(info.si_pid, &status, WNOHANG);
  }
}

}  // namespace skedd
