// Mounts made by a fault test (a full tmpfs, a read-only bind) inside a mount namespace of
// the test process's own, so that nothing it mounts leaks onto the machine: what it mounts
// goes when the process exits, even when it is killed. The daemon it starts inherits the
// namespace. Root only: without root the test process exits 77 (CTest: skipped).
#pragma once

#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

namespace skedd::test {

/// Moves this process into a private mount namespace (unshare -m, all mounts private).
/// Exits 77 when it cannot (not root, or no namespaces here).
inline void private_mounts_or_skip() {
  if (::geteuid() != 0) std::_Exit(77);
  if (::unshare(CLONE_NEWNS) != 0 ||
      ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    std::fprintf(stderr, "skipped: no private mount namespace: %s\n", std::strerror(errno));
    std::_Exit(77);
  }
}

/// Mounts a tmpfs of `size` (as mount(8) takes it: "4m") on `dir`; false with errno set.
inline bool mount_tmpfs(const std::string& dir, const std::string& size) {
  return ::mount("skedd-test", dir.c_str(), "tmpfs", 0, ("size=" + size).c_str()) == 0;
}

/// Binds `dir` onto itself, then makes that bind read-only (or writable again).
inline bool bind_self(const std::string& dir) {
  return ::mount(dir.c_str(), dir.c_str(), nullptr, MS_BIND, nullptr) == 0;
}
inline bool remount_bind(const std::string& dir, bool read_only) {
  const unsigned long flags = MS_REMOUNT | MS_BIND | (read_only ? MS_RDONLY : 0);
  return ::mount(nullptr, dir.c_str(), nullptr, flags, nullptr) == 0;
}

/// Unmounts `path` when it goes: declared after the TempDir it is in, it goes first, so the
/// directory can be removed.
struct Unmount {
  explicit Unmount(std::string p) : path(std::move(p)) {}
  Unmount(const Unmount&) = delete;
  Unmount& operator=(const Unmount&) = delete;
  ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  std::string path;
};

}  // namespace skedd::test
