#include "exec/proc.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

namespace skedd {

namespace {

std::optional<std::uint64_t> start_time_of(pid_t pid, bool zombies) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return std::nullopt;
  // The command name (field 2) is in parentheses and may hold spaces or ')': the fields
  // after the last ')' are plain numbers, the state (field 3) first.
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(stat.substr(close + 1));
  std::string field;
  fields >> field;  // the state: a zombie has ended, it only waits to be reaped
  if (!zombies && (field == "Z" || field == "X")) return std::nullopt;
  for (int i = 4; i < 22; ++i) fields >> field;
  std::uint64_t start = 0;
  if (!(fields >> start)) return std::nullopt;
  return start;
}

}  // namespace

std::optional<std::uint64_t> process_start_time(pid_t pid) {
  return start_time_of(pid, false);
}

std::optional<std::uint64_t> child_start_time(pid_t pid) {
  return start_time_of(pid, true);
}

bool holds_file(pid_t pid, const std::string& path) {
  struct stat want {};
  if (::stat(path.c_str(), &want) != 0) return false;
  const std::string fds = "/proc/" + std::to_string(pid) + "/fd";
  DIR* dir = ::opendir(fds.c_str());
  if (dir == nullptr) return false;
  bool found = false;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    struct stat st {};
    if (::fstatat(::dirfd(dir), entry->d_name, &st, 0) == 0 && st.st_dev == want.st_dev &&
        st.st_ino == want.st_ino) {
      found = true;
      break;
    }
  }
  ::closedir(dir);
  return found;
}

std::optional<pid_t> find_run_process(std::uint64_t run_id, const std::string& control_path) {
  const std::string wanted = "SKEDD_RUN_ID=" + std::to_string(run_id);
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return std::nullopt;
  std::optional<pid_t> found;
  while (const dirent* entry = ::readdir(proc)) {
    char* end = nullptr;
    const long pid = std::strtol(entry->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    if (::getpgid(static_cast<pid_t>(pid)) != pid) continue;
    std::ifstream in("/proc/" + std::string(entry->d_name) + "/environ", std::ios::binary);
    const std::string environ((std::istreambuf_iterator<char>(in)), {});
    std::size_t at = 0;
    while (at < environ.size()) {
      const std::size_t next = environ.find('\0', at);
      const std::size_t len = (next == std::string::npos ? environ.size() : next) - at;
      if (environ.compare(at, len, wanted) == 0) {
        if (holds_file(static_cast<pid_t>(pid), control_path)) found = static_cast<pid_t>(pid);
        break;
      }
      if (next == std::string::npos) break;
      at = next + 1;
    }
    if (found) break;
  }
  ::closedir(proc);
  return found;
}

std::string current_boot_id() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return id;
}

}  // namespace skedd
