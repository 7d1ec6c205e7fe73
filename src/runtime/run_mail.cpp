#include "runtime/run_mail.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace skedd {
namespace {

// A header value on one line.
std::string one_line(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

Error write_error() {
  return Error::io(std::string("writing the mail: ") + std::strerror(errno));
}

// Copies [offset, offset + length) of `from` to the end of `to` (pread and write: the two may
// be on different file systems, where copy_file_range fails).
bool copy_range(int from, std::uint64_t offset, std::uint64_t length, int to) {
  std::string buffer(static_cast<std::size_t>(std::min<std::uint64_t>(length, 16384)), '\0');
  while (length > 0) {
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(length, buffer.size()));
    const ssize_t n = ::pread(from, buffer.data(), want, static_cast<off_t>(offset));
    if (n < 0) return false;
    if (n == 0) return true;  // the log shrank meanwhile
    if (::write(to, buffer.data(), static_cast<std::size_t>(n)) != n) return false;
    offset += static_cast<std::uint64_t>(n);
    length -= static_cast<std::uint64_t>(n);
  }
  return true;
}

bool write_all(int fd, const std::string& text) {
  return ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
}

}  // namespace

Result<std::optional<MailMessage>> compose_mail(const std::string& sendmail, const JobSpec& spec,
                                                const std::string& log_path) {
  const JobOptions& options = *spec.options;
  if (!options.mail_to || options.mail_to->empty()) return std::optional<MailMessage>();
  // The log is the run user's file (in skedd's logs/, which no user can write): read through
  // one descriptor, never followed, at most 2 * kMailPart of it.
  UniqueFd log(::open(log_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  struct stat st {};
  if (!log.valid() || ::fstat(log.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
    return std::optional<MailMessage>();
  }
  if (::access(sendmail.c_str(), X_OK) != 0) {
    return Error::not_found(sendmail + " is not there: the output stays in " + log_path);
  }
  auto user = options.user ? lookup_user(*options.user) : Result<UserInfo>(current_user());
  if (!user) return user.error();
  auto credentials = job_credentials(spec, user.value());
  if (!credentials) return credentials.error();

  // The message goes through an unlinked temporary file: sendmail reads it at its own pace.
  char path[] = "/tmp/skedd-mail-XXXXXX";
  MailMessage message{UniqueFd(::mkstemp(path)), user.value(), credentials.value()};
  if (!message.file.valid()) return Error::io(std::string("mkstemp: ") + std::strerror(errno));
  ::unlink(path);
  const std::string command(options.shell && spec.command.size() == 3 ? spec.command[2]
                                                                      : spec.command.back());
  std::ostringstream headers;
  headers << "From: root (Cron Daemon)\nTo: " << one_line(*options.mail_to) << "\nSubject: Cron <"
          << user->name << "@" << host_name() << "> " << one_line(command)
          << "\nContent-Type: text/plain; charset=UTF-8\nAuto-Submitted: auto-generated\n"
          << "X-Cron-Env: <SKEDD_JOB=" << one_line(spec.name) << ">\n\n";
  const int fd = message.file.get();
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (!write_all(fd, headers.str())) return write_error();
  if (size <= 2 * kMailPart) {
    if (!copy_range(log.get(), 0, size, fd)) return write_error();
  } else {
    const std::string cut = "\n[skedd: " + std::to_string(size - 2 * kMailPart) +
                            " bytes of output left out; the whole output is in " + log_path + "]\n";
    if (!copy_range(log.get(), 0, kMailPart, fd) || !write_all(fd, cut) ||
        !copy_range(log.get(), size - kMailPart, kMailPart, fd)) {
      return write_error();
    }
  }
  if (::lseek(fd, 0, SEEK_SET) != 0) return write_error();
  return std::optional<MailMessage>(std::move(message));
}

Result<pid_t> send_mail(ProcessSpawner& spawner, const std::string& sendmail, const JobSpec& spec,
                        const MailMessage& message) {
  UniqueFd null(::open("/dev/null", O_WRONLY | O_CLOEXEC));
  const UserInfo& user = message.user;
  SpawnRequest request;
  request.path = sendmail;
  request.argv = {sendmail, "-i", "-FCronDaemon", "-oem", *spec.options->mail_to};
  request.env = {"PATH=/usr/bin:/bin:/usr/sbin:/sbin", "HOME=" + user.home, "LOGNAME=" + user.name,
                 "USER=" + user.name};
  request.working_dir = "/";
  request.stdin_fd = message.file.get();
  request.output_fd = null.get();
  request.credentials = message.credentials;
  return spawner.spawn(request);
}

}  // namespace skedd
