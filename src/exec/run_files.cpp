#include "exec/run_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace skedd {
namespace {

constexpr int kPipeSize = 1 << 20;

Error io_error(const std::string& what, const std::string& path) {
  return Error::io(what + " " + path + ": " + std::strerror(errno));
}

// `mode` exactly (whatever the umask) when it makes `dir`; an existing one is left as it is.
Status make_dirs(const std::string& dir, mode_t mode) {
  // The common case, the directory exists, costs one mkdir call.
  if (::mkdir(dir.c_str(), mode) == 0) {
    ::chmod(dir.c_str(), mode);
    return Ok{};
  }
  if (errno == EEXIST) return Ok{};
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Error::io("cannot create " + dir + ": " + ec.message());
  ::chmod(dir.c_str(), mode);
  return Ok{};
}

}  // namespace

std::string run_log_path(const std::string& state_dir, const std::string& job, RunId run) {
  return state_dir + "/logs/" + job + "." + std::to_string(run.value) + ".log";
}

Result<RunFiles> create_run_files(const std::string& state_dir, const std::string& runtime_dir,
                                  const std::string& job, RunId run, uid_t owner, gid_t group) {
  RunFiles files;
  const std::string id = std::to_string(run.value);
  const std::string log_dir = state_dir + "/logs";
  const std::string run_dir = runtime_dir + "/runs";
  // logs/ may be entered, not listed (names of logs are names of jobs); runs/ is skedd's.
  if (auto s = make_dirs(log_dir, 0711); !s) return s.error();
  if (auto s = make_dirs(run_dir, 0700); !s) return s.error();
  files.log_path = run_log_path(state_dir, job, run);
  files.control_path = run_dir + "/" + id + ".ctl";

  files.log.reset(
      ::open(files.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!files.log.valid()) return io_error("cannot open log", files.log_path);
  if (::geteuid() == 0 && owner != 0 && ::fchown(files.log.get(), owner, group) != 0) {
    return io_error("cannot chown log", files.log_path);
  }

  ::unlink(files.control_path.c_str());  // a leftover of a run id reused after a crash
  if (::mkfifo(files.control_path.c_str(), 0600) != 0) {
    return io_error("cannot create control FIFO", files.control_path);
  }
  // skedd's end is read-write too: with a writer of its own the FIFO never reports end of file
  // (which would leave it readable forever) when the run closes fd 3.
  files.control_read.reset(
      ::open(files.control_path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW));
  if (!files.control_read.valid()) return io_error("cannot open", files.control_path);
  files.control_child.reset(
      ::open(files.control_path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW));
  if (!files.control_child.valid()) return io_error("cannot open", files.control_path);
  // Best effort: an unprivileged daemon may be limited by /proc/sys/fs/pipe-max-size.
  ::fcntl(files.control_read.get(), F_SETPIPE_SZ, kPipeSize);
  return files;
}

void remove_control_file(const std::string& control_path) {
  ::unlink(control_path.c_str());
}

Result<bool> enforce_log_cap(const std::string& log_path, std::uint64_t cap) {
  UniqueFd log(::open(log_path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!log.valid()) return io_error("cannot open", log_path);
  struct stat st {};
  if (::fstat(log.get(), &st) != 0) return io_error("cannot stat", log_path);
  if (!S_ISREG(st.st_mode) || static_cast<std::uint64_t>(st.st_size) <= cap) return false;
  const std::string old_path = log_path + ".1";
  // Replaced, not rewritten in place: made anew and owned like the log (the run's user, to
  // whose quota it counts), never a file someone linked there.
  ::unlink(old_path.c_str());
  UniqueFd old(::open(old_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                      st.st_mode & 0600));
  if (!old.valid()) return io_error("cannot open", old_path);
  if (::geteuid() == 0 && ::fchown(old.get(), st.st_uid, st.st_gid) != 0) {
    return io_error("cannot chown", old_path);
  }
  // Output written between the copy and the truncate is lost; that window is a few
  // microseconds and the alternative (stopping the writer) is worse.
  // Only the newest `cap` bytes are kept, so the two files together stay within twice the cap
  // (plus what is written between two checks). Holes stay holes: only the data extents are
  // copied, into a file of the full length.
  const auto size = static_cast<std::uint64_t>(st.st_size);
  const std::uint64_t from = size - std::min<std::uint64_t>(size, cap);
  if (::ftruncate(old.get(), static_cast<off_t>(size - from)) != 0) {
    return io_error("cannot size", old_path);
  }
  auto at = static_cast<off_t>(from);
  while (static_cast<std::uint64_t>(at) < size) {
    const off_t data = ::lseek(log.get(), at, SEEK_DATA);
    if (data < 0) break;  // ENXIO: only a hole is left
    off_t hole = ::lseek(log.get(), data, SEEK_HOLE);
    if (hole < 0 || static_cast<std::uint64_t>(hole) > size) hole = static_cast<off_t>(size);
    loff_t in = data;
    loff_t out = data - static_cast<off_t>(from);
    auto left = static_cast<std::uint64_t>(hole - data);
    while (left > 0) {
      const ssize_t n = ::copy_file_range(log.get(), &in, old.get(), &out, left, 0);
      if (n <= 0) break;
      left -= static_cast<std::uint64_t>(n);
    }
    at = hole;
  }
  if (::ftruncate(log.get(), 0) != 0) return io_error("cannot truncate", log_path);
  return true;
}

std::size_t read_channel(int fd, LineSplitter& lines, std::span<char> buffer, std::size_t cap) {
  std::size_t total = 0;
  while (cap == 0 || total < cap) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n <= 0) break;  // EAGAIN: drained (skedd holds a writer itself, so never 0)
    lines.append(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
    total += static_cast<std::size_t>(n);
  }
  return total;
}

std::string read_tail(const std::string& path, std::size_t max_bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return {};
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return {};
  const auto size = static_cast<std::size_t>(st.st_size);
  const std::size_t n = std::min(size, max_bytes);
  std::string out(n, '\0');
  const ssize_t got = ::pread(fd.get(), out.data(), n, static_cast<off_t>(size - n));
  out.resize(got > 0 ? static_cast<std::size_t>(got) : 0);
  return out;
}

}  // namespace skedd
