#include "skedd/exec/process_spawner.h"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace skedd {
namespace {

// What the child reports when a step fails: the step and errno. Written with one write(2)
// to the close-on-exec pipe, so the parent reads either this or EOF (exec succeeded).
struct ChildFailure {
  int step;
  int error;
};

enum Step : int {
  kSetpgid,
  kCgroup,
  kDup,
  kChdir,
  kNice,
  kLimitNofile,
  kLimitMemory,
  kSetgroups,
  kSetgid,
  kSetuid,
  kExec,
};

const char* step_name(int step) {
  switch (step) {
    case kSetpgid:
      return "setpgid";
    case kCgroup:
      return "joining the run's cgroup";
    case kDup:
      return "setting up descriptors";
    case kChdir:
      return "chdir";
    case kNice:
      return "setpriority";
    case kLimitNofile:
      return "setrlimit NOFILE";
    case kLimitMemory:
      return "setrlimit AS";
    case kSetgroups:
      return "setgroups";
    case kSetgid:
      return "setgid";
    case kSetuid:
      return "setuid";
    case kExec:
      return "exec";
  }
  return "spawn";
}

[[noreturn]] void fail(int pipe_fd, int step) {
  const ChildFailure failure{step, errno};
  // Nothing to do if this write fails: the parent then sees EOF and the exit status 127.
  [[maybe_unused]] const auto n = ::write(pipe_fd, &failure, sizeof failure);
  ::_exit(127);
}

// Moves `from` to `to`. When from == to, dup2 is a no-op that leaves FD_CLOEXEC set, so the
// flag is cleared by hand.
bool move_fd(int from, int to) {
  if (from == to) return ::fcntl(to, F_SETFD, 0) == 0;
  return ::dup2(from, to) == to;
}

// Whether execve's error says "not here, try the next directory" (as execvp reads it).
bool try_next(int error) {
  return error == ENOENT || error == ENOTDIR || error == EACCES || error == ESTALE ||
         error == ENODEV || error == ETIMEDOUT || error == ELOOP || error == ENAMETOOLONG;
}

// Runs in the child between vfork and exec: system calls only, no allocation, no locks.
[[noreturn]] void child(const SpawnRequest& r, char* const* argv, char* const* envp,
                        char* const* candidates, const rlimit& default_nofile, int pipe_fd) {
  // The report pipe must not sit where 0-4 are about to go.
  if (pipe_fd <= 4) {
    const int moved = ::fcntl(pipe_fd, F_DUPFD_CLOEXEC, 5);
    if (moved < 0) ::_exit(127);
    pipe_fd = moved;
  }
  if (::setpgid(0, 0) != 0) fail(pipe_fd, kSetpgid);
  if (r.cgroup_procs_fd >= 0 && ::write(r.cgroup_procs_fd, "0", 1) != 1) fail(pipe_fd, kCgroup);

  // Descriptors 0-4 may collide with the sources; park the sources above 4 first.
  int in = r.stdin_fd, out = r.output_fd, ctl = r.control_fd, input = r.input_fd;
  auto park = [pipe_fd](int& fd) {
    if (fd >= 0 && fd <= 4) {
      fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 5);
      if (fd < 0) fail(pipe_fd, kDup);
    }
  };
  park(in);
  park(out);
  park(ctl);
  park(input);
  if (in >= 0 && !move_fd(in, 0)) fail(pipe_fd, kDup);
  if (out >= 0 && (!move_fd(out, 1) || !move_fd(out, 2))) fail(pipe_fd, kDup);
  if (ctl >= 0 && !move_fd(ctl, 3)) fail(pipe_fd, kDup);
  if (input >= 0 && !move_fd(input, 4)) fail(pipe_fd, kDup);

  // The daemon's own umask (077) keeps its state private; a job gets cron's unless it says.
  ::umask(r.umask.value_or(022));
  if (r.nice && ::setpriority(PRIO_PROCESS, 0, *r.nice) != 0) fail(pipe_fd, kNice);
  if (r.limit_nofile) {
    const rlimit lim{*r.limit_nofile, *r.limit_nofile};
    if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) fail(pipe_fd, kLimitNofile);
  } else if (default_nofile.rlim_cur != RLIM_INFINITY) {
    if (::setrlimit(RLIMIT_NOFILE, &default_nofile) != 0) fail(pipe_fd, kLimitNofile);
  }
  if (r.limit_memory) {
    const rlimit lim{*r.limit_memory, *r.limit_memory};
    if (::setrlimit(RLIMIT_AS, &lim) != 0) fail(pipe_fd, kLimitMemory);
  }
  if (r.credentials) {
    const Credentials& c = *r.credentials;
    if (::setgroups(c.groups.size(), c.groups.data()) != 0) fail(pipe_fd, kSetgroups);
    if (::setgid(c.gid) != 0) fail(pipe_fd, kSetgid);
    if (::setuid(c.uid) != 0) fail(pipe_fd, kSetuid);
  }
  // As the job's user, so that a directory it may not enter is refused as it would be to it.
  if (!r.working_dir.empty() && ::chdir(r.working_dir.c_str()) != 0) fail(pipe_fd, kChdir);

  // Dispositions the daemon set (SIGPIPE ignored, handlers) must not reach the job; handlers
  // are reset by exec anyway, ignored signals are not.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);

  // Everything above 3 (4 with an input) but the report pipe (close-on-exec) goes: the
  // daemon's descriptors are close-on-exec already, this also covers ones a library opened
  // without the flag.
  const int first_closed = input >= 0 ? 5 : 4;
  if (pipe_fd > first_closed) {
    ::close_range(static_cast<unsigned>(first_closed), static_cast<unsigned>(pipe_fd) - 1, 0);
  }
  ::close_range(static_cast<unsigned>(pipe_fd) + 1, ~0U, 0);

  // The PATH search happens here, as the job's user: root never looks into a directory the
  // user named, and a name found is exec'd at once (no cache, nothing to go stale).
  int first_denied = 0;
  for (char* const* candidate = candidates; *candidate != nullptr; ++candidate) {
    ::execve(*candidate, argv, envp);
    if (!try_next(errno)) break;
    if (errno == EACCES && first_denied == 0) first_denied = EACCES;
  }
  if (first_denied != 0 && try_next(errno)) errno = first_denied;
  fail(pipe_fd, kExec);
}

std::vector<char*> c_strings(const std::vector<std::string>& v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (const std::string& s : v) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

}  // namespace

Result<pid_t> PosixSpawner::spawn(const SpawnRequest& request) {
  std::vector<char*> argv = c_strings(request.argv);
  std::vector<char*> envp = c_strings(request.env);
  const std::vector<std::string> paths = exec_candidates(request.path, request.search_path);
  std::vector<char*> candidates = c_strings(paths);
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) {
    return Error::io(std::string("pipe: ") + std::strerror(errno));
  }

  // Signals stay blocked while the child shares our memory, so no handler of ours runs in it.
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
#if defined(__SANITIZE_ADDRESS__)
  const pid_t pid = ::fork();  // AddressSanitizer cannot follow a vfork child
#else
  const pid_t pid = ::vfork();
#endif
  if (pid == 0)
    child(request, argv.data(), envp.data(), candidates.data(), default_nofile_, report[1]);
  const int fork_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ::close(report[1]);
  if (pid < 0) {
    ::close(report[0]);
    return Error::io(std::string("fork: ") + std::strerror(fork_errno));
  }
  // The child has set its own group; doing it here too closes the window where a signal to
  // the group could miss it (EACCES once it has exec'd is fine).
  ::setpgid(pid, pid);

  ChildFailure failure{};
  ssize_t n;
  do {
    n = ::read(report[0], &failure, sizeof failure);
  } while (n < 0 && errno == EINTR);
  ::close(report[0]);
  if (n == static_cast<ssize_t>(sizeof failure)) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    std::string what = step_name(failure.step);
    if (failure.step == kChdir) what += " " + request.working_dir;
    if (failure.step == kExec && request.path.find('/') == std::string::npos) {
      if (failure.error == ENOENT || failure.error == ENOTDIR) {
        return Error::not_found("command \"" + request.path +
                                "\" not found in PATH=" + request.search_path);
      }
      what += " " + request.path + " (PATH=" + request.search_path + ")";
    } else if (failure.step == kExec) {
      what += " " + request.path;
    }
    return Error::io(what + ": " + std::strerror(failure.error));
  }
  return pid;
}

std::vector<std::string> exec_candidates(const std::string& name, const std::string& path_list) {
  if (name.find('/') != std::string::npos) return {name};
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= path_list.size()) {
    std::size_t end = path_list.find(':', start);
    if (end == std::string::npos) end = path_list.size();
    const std::string dir = end == start ? "." : path_list.substr(start, end - start);
    out.push_back(dir + "/" + name);
    start = end + 1;
  }
  return out;
}

}  // namespace skedd
