// Real unprivileged accounts for the root-only tests, and copies of the binaries those
// accounts can reach.
//
// Each test process makes its own account, skedd-t-PID, with a home under a 0755 temp dir
// (a checkout in /root is 0700: nothing under it can be reached by another user), and removes
// it at exit. Accounts left by an earlier process that was killed (its PID no longer runs)
// are swept before a new one is made. Only root can make accounts: when not root, the test
// process exits 77, which CTest reports as skipped.
#pragma once

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace skedd::test {

/// Who to run a command as (root tests only).
struct RunAs {
  uid_t uid;
  gid_t gid;
};

namespace account_detail {

constexpr const char* kPrefix = "skedd-t-";

// Runs a system tool (useradd, userdel) quietly; its exit status.
inline int run_tool(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    const int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

// useradd and userdel take a lock on /etc/passwd and fail while another process holds it
// (tests run in parallel): tried again for a few seconds.
inline bool run_locked_tool(const std::vector<std::string>& argv) {
  for (int i = 0; i < 50; ++i) {
    if (run_tool(argv) == 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

inline std::string home_of(pid_t pid) {
  return "/tmp/" + std::string(kPrefix) + std::to_string(pid) + ".home";
}

inline void remove_account(const std::string& name, const std::string& home) {
  run_locked_tool({"/usr/sbin/userdel", "-f", name});
  std::error_code ec;
  std::filesystem::remove_all(home, ec);
}

// Accounts of test processes that are gone.
inline void sweep() {
  std::vector<std::pair<std::string, pid_t>> stale;
  ::setpwent();
  while (const passwd* pw = ::getpwent()) {
    const std::string name = pw->pw_name;
    if (name == "skedd-ctl-test") {  // the one shared account of older test helpers
      stale.emplace_back(name, 0);
      continue;
    }
    if (name.rfind(kPrefix, 0) != 0) continue;
    const long pid =
        std::strtol(name.c_str() + std::char_traits<char>::length(kPrefix), nullptr, 10);
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) {
      stale.emplace_back(name, static_cast<pid_t>(pid));
    }
  }
  ::endpwent();
  for (const auto& [name, pid] : stale) {
    remove_account(name, pid == 0 ? "/home/" + name : home_of(pid));
  }
}

}  // namespace account_detail

/// This test process's account: made on first use, removed at exit.
struct TestAccount {
  std::string name;
  std::string home;  ///< 0700, owned by the account, in a directory every user can reach
  uid_t uid = 0;
  gid_t gid = 0;
  RunAs as() const { return RunAs{uid, gid}; }
};

/// The account, made on the first call of this process (skips the test, exit 77, when not
/// root or when useradd fails).
inline const TestAccount& test_account_or_skip() {
  static TestAccount account;
  static std::once_flag made;
  std::call_once(made, [] {
    if (::geteuid() != 0) std::_Exit(77);
    account_detail::sweep();
    const pid_t self = ::getpid();
    account.name = account_detail::kPrefix + std::to_string(self);
    account.home = account_detail::home_of(self);
    std::error_code ec;
    std::filesystem::remove_all(account.home, ec);
    if (!account_detail::run_locked_tool(
            {"/usr/sbin/useradd", "-M", "-N", "-s", "/bin/sh", "-d", account.home, account.name})) {
      std::fprintf(stderr, "skipped: useradd %s failed\n", account.name.c_str());
      std::_Exit(77);
    }
    const passwd* pw = ::getpwnam(account.name.c_str());
    if (pw == nullptr) std::_Exit(77);
    account.uid = pw->pw_uid;
    account.gid = pw->pw_gid;
    ::mkdir(account.home.c_str(), 0700);
    if (::chown(account.home.c_str(), account.uid, account.gid) != 0) std::_Exit(77);
    std::atexit([] { account_detail::remove_account(account.name, account.home); });
  });
  return account;
}

/// A path of `binary` that every user can execute: the binary itself when each directory
/// above it can be searched by others, else a copy (a hard link when possible) in a 0755 temp
/// dir of this process, removed at exit.
inline std::string reachable_binary(const std::string& binary) {
  static std::mutex mu;
  static std::map<std::string, std::string> copies;  // GUARDED_BY(mu)
  static std::string dir;                            // GUARDED_BY(mu)
  const std::lock_guard<std::mutex> lock(mu);
  bool reachable = true;
  for (std::filesystem::path p = std::filesystem::path(binary).parent_path();
       !p.empty() && p != p.root_path(); p = p.parent_path()) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0 || (st.st_mode & S_IXOTH) == 0) reachable = false;
  }
  if (reachable) return binary;
  if (auto it = copies.find(binary); it != copies.end()) return it->second;
  if (dir.empty()) {
    dir = "/tmp/skedd-bin-" + std::to_string(::getpid());
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    std::filesystem::create_directories(dir, ec);
    ::chmod(dir.c_str(), 0755);
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(dir, ignored);
    });
  }
  const std::string copy = dir + "/" + std::filesystem::path(binary).filename().string();
  if (::link(binary.c_str(), copy.c_str()) != 0) {
    std::error_code ec;
    std::filesystem::copy_file(binary, copy, std::filesystem::copy_options::overwrite_existing, ec);
  }
  ::chmod(copy.c_str(), 0755);
  copies[binary] = copy;
  return copy;
}

}  // namespace skedd::test
