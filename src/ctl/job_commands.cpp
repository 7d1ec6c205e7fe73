// skedctl's subcommands that add, replace and remove jobs over skedd's control socket, and
// validate, which checks a configuration file without a daemon.
#include <iostream>
#include <memory>
#include <string>

#include "ctl/ask.h"
#include "ctl/job_flags.h"
#include "daemon/builtin_handlers.h"
#include "skedd/config/config.h"

namespace skedd::ctl {
namespace {

using nlohmann::json;

class AddCommand final : public SocketCommand {
 public:
  AddCommand(std::shared_ptr<const std::string> socket, bool replace)
      : SocketCommand(
            replace ? "update" : "add",
            replace ? "replace a job added over the socket (a new version of its definition)"
                    : "add a job over the socket (kept across restarts): flags or a TOML file",
            std::move(socket)),
        replace_(replace) {}
  void declare(CLI::App& sub) override {
    sub.add_option("name", f_.name, "job name");
    sub.add_option("--file", f_.file, "a TOML file with one [job.NAME] table");
    sub.add_option("--cron", f_.cron, "cron expression or macro");
    sub.add_option("--every", f_.every, "fixed interval, such as 90s");
    sub.add_option("--at", f_.at, "one-shot time, RFC 3339");
    sub.add_option("--command", f_.command, "command line, run by /bin/sh -c");
    sub.add_option("--user", f_.user, "run as (root only, unless your own name)");
    sub.add_option("--group", f_.group, "run with this group (one of yours)");
    sub.add_option("--timezone", f_.timezone, "IANA zone of --cron");
    sub.add_option("--overlap", f_.overlap, "skip, queue, replace or allow");
    sub.add_option("--soft-timeout", f_.soft_timeout, "duration");
    sub.add_option("--hard-timeout", f_.hard_timeout, "duration");
    sub.add_option("--retries", f_.retries, "retries of a failed run");
    sub.add_option("--priority", f_.priority, "priority in the ready queue");
    sub.add_option("--pool", f_.pool, "pool the runs count against");
    declare_json(sub);
  }
  int run() override {
    auto definition = definition_of(f_);
    if (!definition) {
      std::cerr << "skedctl: " << definition.error().message << '\n';
      return kExitUsage;
    }
    return simple(c_, control::AddRequest{definition.value(), replace_}, [&](const json& r) {
      return std::string(replace_ ? "updated" : "added") + " job " + str(r, "job") + " (version " +
             str(r, "version") + ")";
    });
  }

 private:
  JobFlags f_;
  bool replace_;
};

class RemoveCommand final : public SocketCommand {
 public:
  explicit RemoveCommand(std::shared_ptr<const std::string> socket)
      : SocketCommand("remove", "remove a job added over the socket (its running runs finish)",
                      std::move(socket)) {}
  void declare(CLI::App& sub) override {
    sub.add_option("name", name_, "job name")->required();
    declare_json(sub);
  }
  int run() override {
    return simple(c_, control::RemoveRequest{name_},
                  [&](const json&) { return "removed job " + name_; });
  }

 private:
  std::string name_;
};

class ValidateCommand final : public Command {
 public:
  ValidateCommand()
      : Command("validate", "check a configuration file (skedd.toml, or a jobs file); no daemon") {}
  void declare(CLI::App& sub) override { sub.add_option("file", file_, "the file")->required(); }
  int run() override {
    auto result = validate_config_file(file_, builtin_handler_names());
    if (!result) {
      std::cerr << result.error().message << '\n';
      return kExitFailure;
    }
    std::cout << result.value() << '\n';
    return kExitOk;
  }

 private:
  std::string file_;
};

}  // namespace

Commands job_commands(std::shared_ptr<const std::string> socket) {
  Commands out;
  out.push_back(std::make_unique<AddCommand>(socket, false));
  out.push_back(std::make_unique<AddCommand>(socket, true));
  out.push_back(std::make_unique<RemoveCommand>(socket));
  out.push_back(std::make_unique<ValidateCommand>());
  return out;
}

}  // namespace skedd::ctl
