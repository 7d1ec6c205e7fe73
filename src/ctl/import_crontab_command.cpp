// skedctl import-crontab: a crontab file as jobs.d TOML on stdout, computed locally (no
// daemon). The conversion is import_crontab(); this file only reads the file and prints.
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>

#include "ctl/command.h"
#include "skedd/cron/crontab.h"
#include "skedd/cron/crontab_import.h"

namespace skedd::ctl {
namespace {

struct ImportOptions {
  std::string file;
  std::string user;
  bool user_given = false;
};

// The file's text, or an error message. "-" is standard input.
Result<std::string> read_text(const std::string& file) {
  if (file == "-") return std::string(std::istreambuf_iterator<char>(std::cin), {});
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec)) {
    return Error::invalid_argument("cannot read " + file + ": it is a directory");
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) return Error::io("cannot read " + file + ": " + std::strerror(errno));
  std::string text((std::istreambuf_iterator<char>(in)), {});
  if (in.bad()) return Error::io("cannot read " + file + ": " + std::strerror(errno));
  return text;
}

int run_import(const ImportOptions& o) {
  if (o.user_given && o.user.empty()) {
    std::cerr << "skedctl import-crontab: --user: the user name must not be empty\n";
    return kExitUsage;
  }
  auto text = read_text(o.file);
  if (!text) {
    std::cerr << "skedctl import-crontab: " << text.error().message << '\n';
    return kExitFailure;
  }
  const CrontabSource source{o.file, o.user_given ? CrontabFormat::kUser : CrontabFormat::kSystem,
                             o.user, TimeZone::local()};
  const CrontabImport result = import_crontab(read_crontab(text.value(), source), source);
  std::cout << result.toml << std::flush;
  for (const std::string& message : result.messages) std::cerr << message << '\n';
  return result.failed ? kExitFailure : kExitOk;
}

class ImportCrontabCommand final : public Command {
 public:
  ImportCrontabCommand()
      : Command("import-crontab",
                "print a crontab's jobs as jobs.d TOML (system format, or user format with "
                "--user)") {}
  void declare(CLI::App& sub) override {
    sub.add_option("file", o_.file, "the crontab file, or - for standard input")->required();
    sub.add_option_function<std::string>(
        "-u,--user",
        [this](const std::string& user) {
          o_.user = user;
          o_.user_given = true;
        },
        "read a user crontab (no user field) whose lines run as this user");
  }
  int run() override { return run_import(o_); }

 private:
  ImportOptions o_;
};

}  // namespace

std::unique_ptr<Command> import_crontab_command() {
  return std::make_unique<ImportCrontabCommand>();
}

}  // namespace skedd::ctl
