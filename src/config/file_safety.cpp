#include "config/file_safety.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace skedd::config {

Status check_file_safety(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return Error::io(path + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) return Error::permission_denied(path + ": not a regular file");
  if (st.st_uid != 0 && st.st_uid != ::geteuid()) {
    return Error::permission_denied(path + ": refusing a file owned by uid " +
                                    std::to_string(st.st_uid) +
                                    " (must be owned by root or by the user skedd runs as)");
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Error::permission_denied(path + ": refusing a file writable by group or others (mode " +
                                    mode + "; fix with chmod go-w)");
  }
  return Ok{};
}

}  // namespace skedd::config
