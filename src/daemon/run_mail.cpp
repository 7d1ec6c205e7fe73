#include "daemon/run_mail.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "exec/run_setup.h"
#include "util/unique_fd.h"

namespace skedd {
namespace {

// A header value on one line.
std::string one_line(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

}  // namespace

Status mail_output(ProcessSpawner& spawner, const std::string& sendmail, const JobSpec& spec,
                   const std::string& log_path) {
  const JobOptions& options = *spec.options;
  if (!options.mail_to || options.mail_to->empty()) return Ok{};
  struct stat st {};
  if (::stat(log_path.c_str(), &st) != 0 || st.st_size == 0) return Ok{};
  if (::access(sendmail.c_str(), X_OK) != 0) {
    return Error::not_found(sendmail + " is not there: the output stays in " + log_path);
  }
  auto user = options.user ? lookup_user(*options.user) : Result<UserInfo>(current_user());
  if (!user) return user.error();
  auto credentials = job_credentials(spec, user.value());
  if (!credentials) return credentials.error();

  // The message goes through an unlinked temporary file: sendmail reads it at its own pace.
  char path[] = "/tmp/skedd-mail-XXXXXX";
  UniqueFd message(::mkstemp(path));
  if (!message.valid()) return Error::io(std::string("mkstemp: ") + std::strerror(errno));
  ::unlink(path);
  const std::string command =
      options.shell && options.command.size() == 3 ? options.command[2] : options.command.back();
  std::ostringstream text;
  text << "From: root (Cron Daemon)\nTo: " << one_line(*options.mail_to) << "\nSubject: Cron <"
       << user->name << "@" << host_name() << "> " << one_line(command)
       << "\nContent-Type: text/plain; charset=UTF-8\nAuto-Submitted: auto-generated\n"
       << "X-Cron-Env: <SKEDD_JOB=" << one_line(spec.name) << ">\n\n"
       << std::ifstream(log_path, std::ios::binary).rdbuf();
  const std::string body = text.str();
  if (::write(message.get(), body.data(), body.size()) != static_cast<ssize_t>(body.size()) ||
      ::lseek(message.get(), 0, SEEK_SET) != 0) {
    return Error::io(std::string("writing the mail: ") + std::strerror(errno));
  }
  UniqueFd null(::open("/dev/null", O_WRONLY | O_CLOEXEC));
  SpawnRequest request;
  request.path = sendmail;
  request.argv = {sendmail, "-i", "-FCronDaemon", "-oem", *options.mail_to};
  request.env = {"PATH=/usr/bin:/bin:/usr/sbin:/sbin", "HOME=" + user->home,
                 "LOGNAME=" + user->name, "USER=" + user->name};
  request.working_dir = "/";
  request.stdin_fd = message.get();
  request.output_fd = null.get();
  request.credentials = credentials.value();
  auto pid = spawner.spawn(request);
  if (!pid) return pid.error();
  return Ok{};
}

}  // namespace skedd
