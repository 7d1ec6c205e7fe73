#include "store/state_lock.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace skedd {
namespace {

Error io_error(const std::string& what, const std::string& path) {
  return Error::io(what + " " + path + ": " + std::strerror(errno));
}

// chmod for a file skedd made in its own directory; a missing file is fine. Only regular
// files are changed: nothing else belongs there.
Status private_file(const std::string& path, mode_t mode) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0)
    return errno == ENOENT ? Status(Ok{}) : io_error("cannot stat", path);
  if (!S_ISREG(st.st_mode) || (st.st_mode & 07777) == mode) return Ok{};
  if (::chmod(path.c_str(), mode) != 0) return io_error("cannot chmod", path);
  return Ok{};
}

// logs/ at 0711; when it was not, every file in it goes to 0600 first (the logs of an older
// skedd were 0640, readable by the run user's group), so that no log is readable by others
// once the directory can be entered.
Status private_logs(const std::string& dir) {
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) return io_error("cannot stat", dir);
    if (::mkdir(dir.c_str(), 0700) != 0) return io_error("cannot create", dir);
    if (::lstat(dir.c_str(), &st) != 0) return io_error("cannot stat", dir);
  }
  if (!S_ISDIR(st.st_mode)) return Error::io(dir + " is not a directory");
  if ((st.st_mode & 07777) == 0711) return Ok{};
  if (::chmod(dir.c_str(), 0700) != 0) return io_error("cannot chmod", dir);
  DIR* logs = ::opendir(dir.c_str());
  if (logs == nullptr) return io_error("cannot read", dir);
  while (const dirent* entry = ::readdir(logs)) {
    struct stat log {};
    if (::fstatat(::dirfd(logs), entry->d_name, &log, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISREG(log.st_mode) && (log.st_mode & 077) != 0) {
      ::fchmodat(::dirfd(logs), entry->d_name, log.st_mode & 0700, 0);
    }
  }
  ::closedir(logs);
  if (::chmod(dir.c_str(), 0711) != 0) return io_error("cannot chmod", dir);
  return Ok{};
}

}  // namespace

Status prepare_state_dir(const std::string& state_dir) {
  std::error_code ec;
  if (!std::filesystem::exists(state_dir, ec)) {
    // Parents as the administrator would make them; the state dir itself private.
    std::filesystem::create_directories(std::filesystem::path(state_dir).parent_path(), ec);
    if (::mkdir(state_dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return io_error("cannot create state dir", state_dir);
    }
  }
  struct stat st {};
  if (::stat(state_dir.c_str(), &st) != 0) return io_error("cannot stat state dir", state_dir);
  if (!S_ISDIR(st.st_mode)) return Error::io("state dir " + state_dir + " is not a directory");
  if (st.st_uid != ::geteuid()) {
    return Error::permission_denied("state dir " + state_dir + " is owned by uid " +
                                    std::to_string(st.st_uid) + ", not by skedd's uid " +
                                    std::to_string(::geteuid()) +
                                    ": refusing it (another user could read or replace the state)");
  }
  if ((st.st_mode & 07777) != 0700 && ::chmod(state_dir.c_str(), 0700) != 0) {
    return io_error("cannot chmod state dir", state_dir);
  }
  for (const char* name : {"skedd.db", "skedd.db-wal", "skedd.db-shm", "skedd.lock"}) {
    if (auto s = private_file(state_dir + "/" + name, 0600); !s) return s;
  }
  return private_logs(state_dir + "/logs");
}

Result<int> lock_state_dir(const std::string& state_dir) {
  const std::string lock_path = state_dir + "/skedd.lock";
  // 0600: flock works on a read-only descriptor, so a lock others can open is one any user
  // could hold to keep skedd from starting.
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return Error::io("cannot open " + lock_path + ": " + std::strerror(errno));
  }
  ::fchmod(fd, 0600);
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
