#include "http/tokens.h"

#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "exec/run_setup.h"

namespace skedd::http {
namespace {

// What the child reports before the file's bytes: 0, or the errno of the step that failed
// with which step it was.
struct ChildReport {
  int step = 0;  // 0: read; else one of the steps below
  int err = 0;
};
enum Step { kDrop = 1, kOpen, kStat, kNotRegular, kNotOwner, kMode, kTooBig, kRead };

const char* step_text(int step) {
  switch (step) {
    case kDrop:
      return "cannot switch to the user";
    case kOpen:
      return "cannot open it as the user";
    case kStat:
      return "cannot stat it";
    case kNotRegular:
      return "not a regular file";
    case kNotOwner:
      return "not owned by the user";
    case kMode:
      return "readable or writable by group or others (chmod 600 it)";
    case kTooBig:
      return "larger than a token can be";
    default:
      return "cannot read it";
  }
}

[[noreturn]] void child_read(int out, const char* path, uid_t uid, gid_t gid) {
  // Only async-signal-safe calls from here on: the daemon has threads.
  ChildReport report;
  char buf[kMaxTokenBytes + 2];
  ssize_t n = 0;
  if (::setgroups(0, nullptr) != 0 || ::setresgid(gid, gid, gid) != 0 ||
      ::setresuid(uid, uid, uid) != 0) {
    report = {kDrop, errno};
  } else if (const int fd = ::open(path, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
             fd < 0) {
    report = {kOpen, errno};
  } else {
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      report = {kStat, errno};
    } else if (!S_ISREG(st.st_mode)) {
      report = {kNotRegular, 0};
    } else if (st.st_uid != uid) {
      report = {kNotOwner, 0};
    } else if ((st.st_mode & 077) != 0) {
      report = {kMode, 0};
    } else if (st.st_size > static_cast<off_t>(kMaxTokenBytes + 1)) {
      report = {kTooBig, 0};
    } else {
      n = ::read(fd, buf, sizeof buf);
      if (n < 0) report = {kRead, errno};
    }
  }
  (void)!::write(out, &report, sizeof report);
  if (report.step == 0 && n > 0) (void)!::write(out, buf, static_cast<std::size_t>(n));
  ::_exit(0);
}

}  // namespace

std::optional<TokenUser> TokenTable::find(std::string_view token) const {
  std::optional<TokenUser> found;
  for (const auto& [known, user] : entries_) {
    unsigned char diff = known.size() == token.size() ? 0 : 1;
    const std::size_t n = std::min(known.size(), token.size());
    for (std::size_t i = 0; i < n; ++i) {
      diff |= static_cast<unsigned char>(known[i] ^ token[i]);
    }
    if (diff == 0) found = user;
  }
  return found;
}

Result<std::string> token_of(std::string_view content) {
  if (!content.empty() && content.back() == '\n') content.remove_suffix(1);
  if (content.size() < kMinTokenBytes) {
    return Error::invalid_argument("the token is shorter than " + std::to_string(kMinTokenBytes) +
                                   " bytes");
  }
  if (content.size() > kMaxTokenBytes) {
    return Error::invalid_argument("the token is longer than " + std::to_string(kMaxTokenBytes) +
                                   " bytes");
  }
  for (const char c : content) {
    if (c <= ' ' || c > '~') {
      return Error::invalid_argument(
          "the token holds a space, a control character or a non-ASCII byte");
    }
  }
  return std::string(content);
}

Result<std::string> read_token_file(const std::string& path, uid_t uid, gid_t gid) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Error::io(std::string("pipe: ") + std::strerror(errno));
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    return Error::io(std::string("fork: ") + std::strerror(err));
  }
  if (pid == 0) {
    ::close(fds[0]);
    child_read(fds[1], path.c_str(), uid, gid);
  }
  ::close(fds[1]);
  std::string got;
  char buf[1024];
  for (;;) {
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
    if (got.size() > sizeof(ChildReport) + kMaxTokenBytes + 2) break;
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (got.size() < sizeof(ChildReport)) return Error::io("the reading process said nothing");
  ChildReport report;
  std::memcpy(&report, got.data(), sizeof report);
  if (report.step != 0) {
    std::string why = step_text(report.step);
    if (report.err != 0) why += std::string(": ") + std::strerror(report.err);
    return Error::permission_denied(why);
  }
  return got.substr(sizeof report);
}

LoadedTokens load_tokens(const std::map<std::string, std::string>& files) {
  LoadedTokens out;
  std::vector<std::pair<std::string, TokenUser>> read;
  std::map<std::string, std::vector<std::string>> users_of_token;
  for (const auto& [user, path] : files) {
    const std::string where = "http.tokens." + user + ": " + path + ": ";
    const Result<UserInfo> account = lookup_user(user);
    if (!account) {
      out.errors.push_back(where + account.error().message);
      continue;
    }
    Result<std::string> content = read_token_file(path, account->uid, account->gid);
    if (!content) {
      out.errors.push_back(where + content.error().message);
      continue;
    }
    Result<std::string> token = token_of(content.value());
    if (!token) {
      out.errors.push_back(where + token.error().message);
      continue;
    }
    users_of_token[token.value()].push_back(user);
    read.emplace_back(std::move(token.value()), TokenUser{user, account->uid, account->gid});
  }
  // A token given to two users speaks for neither.
  for (auto& [token, user] : read) {
    const std::vector<std::string>& users = users_of_token[token];
    if (users.size() > 1) {
      out.errors.push_back("http.tokens." + user.user + ": " + files.at(user.user) +
                           ": the same token as another user's: neither is accepted");
      continue;
    }
    out.table.add(std::move(token), std::move(user));
  }
  return out;
}

}  // namespace skedd::http
