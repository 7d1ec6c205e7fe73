#include "store/state_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace skedd {

Result<int> lock_state_dir(const std::string& state_dir) {
  const std::string lock_path = state_dir + "/skedd.lock";
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Error::io("cannot open " + lock_path + ": " + std::strerror(errno));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    std::string holder;
    char buf[32] = {};
    if (::pread(fd, buf, sizeof buf - 1, 0) > 0) holder = buf;
    ::close(fd);
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    return Error{ErrorCode::kConflict, "state dir " + state_dir + " is in use" +
                                           (holder.empty() ? std::string() : " by pid " + holder) +
                                           " (lock " + lock_path + ")"};
  }
  const std::string pid_text = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid_text.data(), pid_text.size(), 0) < 0) {
    // The lock holds all the same; only the message a second process gets loses the pid.
  }
  return fd;
}

}  // namespace skedd
