#include "exec/cgroup.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace skedd {
namespace {

// The mount point of the cgroup2 filesystem, from /proc/self/mountinfo: field 5 is the mount
// point, and the filesystem type follows the " - " separator.
std::string cgroup2_mount() {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    const auto sep = line.find(" - ");
    if (sep == std::string::npos) continue;
    std::istringstream tail(line.substr(sep + 3));
    std::string fstype;
    tail >> fstype;
    if (fstype != "cgroup2") continue;
    std::istringstream head(line.substr(0, sep));
    std::string field, mount_point;
    for (int i = 0; i < 5 && head >> field; ++i) mount_point = field;
    return mount_point;
  }
  return {};
}

// The daemon's own cgroup v2 path ("0::/some/path" in /proc/self/cgroup).
std::string own_cgroup() {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("0::", 0) == 0) return line.substr(3);
  }
  return "/";
}

bool write_file(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return ok;
}

}  // namespace

Cgroups Cgroups::detect(std::string* why_not) {
  const std::string mount = cgroup2_mount();
  if (mount.empty()) {
    *why_not = "no cgroup2 filesystem is mounted";
    return Cgroups();
  }
  std::string own = own_cgroup();
  if (own == "/") own.clear();
  const std::string base = mount + own + "/skedd.runs";
  if (::mkdir(base.c_str(), 0755) != 0 && errno != EEXIST) {
    *why_not = "cannot create " + base + ": " + std::strerror(errno);
    return Cgroups();
  }
  if (::access((base + "/cgroup.procs").c_str(), W_OK) != 0) {
    *why_not = base + "/cgroup.procs is not writable";
    return Cgroups();
  }
  return Cgroups(base);
}

std::string Cgroups::path(RunId run) const {
  return base_ + "/run-" + std::to_string(run.value);
}

Result<UniqueFd> Cgroups::create(RunId run) const {
  const std::string dir = path(run);
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return Error::io("cannot create cgroup " + dir + ": " + std::strerror(errno));
  }
  UniqueFd procs(::open((dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
  if (!procs.valid()) {
    return Error::io("cannot open " + dir + "/cgroup.procs: " + std::strerror(errno));
  }
  return procs;
}

void Cgroups::kill(RunId run) const {
  if (!enabled()) return;
  const std::string dir = path(run);
  if (write_file(dir + "/cgroup.kill", "1")) return;
  // Older kernels: one by one. A process forking meanwhile is caught by the next call.
  std::ifstream in(dir + "/cgroup.procs");
  pid_t pid = 0;
  while (in >> pid) ::kill(pid, SIGKILL);
}

bool Cgroups::freeze(RunId run, bool frozen) const {
  return enabled() && write_file(path(run) + "/cgroup.freeze", frozen ? "1" : "0");
}

bool Cgroups::empty(RunId run) const {
  if (!enabled()) return true;
  std::ifstream in(path(run) + "/cgroup.procs");
  pid_t pid = 0;
  return !(in >> pid);
}

bool Cgroups::remove(RunId run) const {
  if (!enabled()) return true;
  return ::rmdir(path(run).c_str()) == 0 || errno == ENOENT;
}

}  // namespace skedd
