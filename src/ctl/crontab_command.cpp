// skedctl crontab: crontab(1) through the daemon, which owns the spool.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include "ctl/client.h"
#include "ctl/command.h"

namespace skedd::ctl {
namespace {

using nlohmann::json;
using Action = control::CrontabRequest::Action;

struct CrontabOptions {
  std::shared_ptr<const std::string> socket;
  std::string user;
  bool list = false;
  bool remove = false;
  bool edit = false;
  std::string file;
};

// Sends the request; prints a failure the way crontab(1) does and returns its exit code.
int call(const CrontabOptions& o, const control::CrontabRequest& request, json* reply) {
  auto client = Client::connect(find_socket(*o.socket));
  if (!client) {
    std::cerr << "skedctl crontab: " << client.error().message << '\n';
    return kExitFailure;
  }
  auto r = client->call(request);
  if (!r) {
    std::cerr << "skedctl crontab: " << r.error().message << '\n';
    return kExitFailure;
  }
  if (!r->value("ok", false)) {
    const json error = r->value("error", json::object());
    std::cerr << "skedctl crontab: " << error.value("message", "failed") << '\n';
    const std::string code = error.value("code", "");
    if (code == control::kPermissionDenied) return kExitDenied;
    if (code == control::kJobNotFound) return kExitNotFound;
    return kExitFailure;
  }
  *reply = std::move(r.value());
  return kExitOk;
}

std::string read_all(std::istream& in) {
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

int install(const CrontabOptions& o, const std::string& text) {
  json reply;
  const int rc = call(o, control::CrontabRequest{Action::kPut, o.user, text}, &reply);
  if (rc != kExitOk) return rc;
  for (const json& w : reply["warnings"]) std::cerr << "warning: " << w.get<std::string>() << '\n';
  std::cerr << "skedctl crontab: installed the crontab of " << reply["user"].get<std::string>()
            << " (" << reply["jobs"] << " job(s))\n";
  return kExitOk;
}

// Runs the user's editor on `path` ($VISUAL, $EDITOR, else editor, else vi). The path is an
// argument of the shell, never part of its script.
bool run_editor(const std::string& path) {
  const char* visual = std::getenv("VISUAL");
  const char* editor = std::getenv("EDITOR");
  std::string command = visual && *visual ? visual : editor && *editor ? editor : "";
  if (command.empty()) command = ::access("/usr/bin/editor", X_OK) == 0 ? "/usr/bin/editor" : "vi";
  const pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    const std::string script = command + " \"$1\"";
    ::execl("/bin/sh", "sh", "-c", script.c_str(), "sh", path.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int edit(const CrontabOptions& o) {
  json reply;
  std::string current;
  if (const int rc = call(o, control::CrontabRequest{Action::kGet, o.user, ""}, &reply);
      rc == kExitOk) {
    current = reply["text"].get<std::string>();
  } else if (rc != kExitNotFound) {
    return rc;
  }
  const char* tmpdir = std::getenv("TMPDIR");
  std::string path = std::string(tmpdir && *tmpdir ? tmpdir : "/tmp") + "/crontab.XXXXXX";
  const int fd = ::mkstemp(path.data());
  if (fd < 0) {
    std::perror("skedctl crontab: mkstemp");
    return kExitFailure;
  }
  ::close(fd);
  std::ofstream(path) << current;
  for (;;) {
    if (!run_editor(path)) {
      std::cerr << "skedctl crontab: the editor failed; the crontab was not changed (" << path
                << ")\n";
      return kExitFailure;
    }
    std::ifstream in(path);
    const std::string text = read_all(in);
    if (text == current) {
      std::cerr << "skedctl crontab: no changes made to the crontab\n";
      ::unlink(path.c_str());
      return kExitOk;
    }
    const int rc = install(o, text);
    if (rc != kExitFailure) {
      ::unlink(path.c_str());
      return rc;
    }
    std::cerr << "Do you want to retry the same edit? (y/n) " << std::flush;
    std::string answer;
    if (!std::getline(std::cin, answer) || answer.empty() ||
        (answer[0] != 'y' && answer[0] != 'Y')) {
      std::cerr << "skedctl crontab: edits left in " << path << '\n';
      return kExitFailure;
    }
  }
}

int run_crontab(const CrontabOptions& o) {
  const int modes = static_cast<int>(o.list) + static_cast<int>(o.remove) +
                    static_cast<int>(o.edit) + static_cast<int>(!o.file.empty());
  if (modes != 1) {
    std::cerr << "skedctl crontab: give one of -l, -r, -e or a FILE (- for standard input)\n";
    return kExitUsage;
  }
  json reply;
  // No crontab: "no crontab for USER" and 1, as crontab(1) exits.
  const auto as_crontab = [](int rc) { return rc == kExitNotFound ? kExitFailure : rc; };
  if (o.list) {
    const int rc = call(o, control::CrontabRequest{Action::kGet, o.user, ""}, &reply);
    if (rc == kExitOk) std::cout << reply["text"].get<std::string>();
    return as_crontab(rc);
  }
  if (o.remove) {
    return as_crontab(call(o, control::CrontabRequest{Action::kRemove, o.user, ""}, &reply));
  }
  if (o.edit) return edit(o);
  if (o.file == "-") return install(o, read_all(std::cin));
  std::ifstream in(o.file, std::ios::binary);
  if (!in) {
    std::cerr << "skedctl crontab: cannot read " << o.file << '\n';
    return kExitFailure;
  }
  return install(o, read_all(in));
}

class CrontabCommand final : public Command {
 public:
  explicit CrontabCommand(std::shared_ptr<const std::string> socket)
      : Command("crontab",
                "a user's crontab, as crontab(1): -l lists, -e edits, -r removes, FILE installs") {
    o_.socket = std::move(socket);
  }
  void declare(CLI::App& sub) override {
    sub.add_option("-u", o_.user, "the crontab of this user (root only)");
    sub.add_flag("-l", o_.list, "print the crontab");
    sub.add_flag("-r", o_.remove, "remove the crontab");
    sub.add_flag("-e", o_.edit, "edit it in $VISUAL or $EDITOR; installed once skedd accepts it");
    sub.add_option("file", o_.file, "install this file (- for standard input)");
  }
  int run() override { return run_crontab(o_); }

 private:
  CrontabOptions o_;
};

}  // namespace

std::unique_ptr<Command> crontab_command(std::shared_ptr<const std::string> socket) {
  return std::make_unique<CrontabCommand>(std::move(socket));
}

}  // namespace skedd::ctl
