// skedctl's subcommands that add, replace and remove jobs over skedd's control socket, and
// validate, which checks a configuration file without a daemon.
#include <algorithm>
#include <chrono>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "ctl/ask.h"
#include "ctl/job_flags.h"
#include "ctl/table.h"
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
            replace ? "change a job added over the socket: the flags given (others kept), or "
                      "--file with the whole job (a new version of its definition)"
                    : "add a job over the socket (kept across restarts): flags or a TOML file",
            std::move(socket)),
        replace_(replace) {}
  void declare(CLI::App& sub) override {
    sub.add_option("name", f_.name, "job name");
    sub.add_option("--file", f_.file, "a TOML file with one [job.NAME] table");
    sub.add_option("--cron", f_.cron, "cron expression or macro");
    sub.add_option("--every", f_.every, "fixed interval, such as 90s");
    sub.add_option("--at", f_.at,
                   "one-shot time: 2026-12-24T18:00:00 or \"2026-12-24 18:00\" in --timezone (else "
                   "local), or RFC 3339 with an offset; must be ahead");
    sub.add_option("--command", f_.command, "command line, run by /bin/sh -c");
    sub.add_option("--user", f_.user, "run as (root only, unless your own name)");
    sub.add_option("--group", f_.group, "run with this group (one of yours)");
    sub.add_option("--timezone", f_.timezone, "IANA zone of --cron and --at");
    sub.add_option("--overlap", f_.overlap, "skip, queue, replace or allow");
    sub.add_option("--soft-timeout", f_.soft_timeout, "duration");
    sub.add_option("--hard-timeout", f_.hard_timeout, "duration");
    sub.add_option("--retries", f_.retries, "retries of a failed run");
    sub.add_option("--priority", f_.priority, "priority in the ready queue");
    sub.add_option("--pool", f_.pool, "pool the runs count against");
    declare_json(sub);
  }
  int run() override {
    if (!f_.at.empty()) {
      const Instant now = std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
      auto at = at_of(f_.at, f_.timezone, now);
      if (!at) {
        print_error(c_, control::kInvalidArgument, at.error().message);
        return kExitUsage;
      }
      f_.at = at.value();
    }
    f_.partial = replace_ && f_.file.empty();
    auto definition = definition_of(f_);
    if (!definition) {
      print_error(c_, control::kInvalidArgument, definition.error().message);
      return kExitUsage;
    }
    control::AddRequest request{definition.value(), replace_};
    request.merge = f_.partial;
    json reply, error;
    if (const int rc = ask_quietly(c_, request, &reply, &error); rc != kExitOk) {
      // The daemon's "api:LINE:COL:" of a flags definition, told as the flag it came from.
      std::string message = error.value("message", "request failed");
      if (f_.file.empty()) message = with_flag_names(message, f_.line_flags, f_.partial);
      print_error(c_, error.value("code", "?"), message);
      return rc;
    }
    std::cout << (c_.json ? reply.dump()
                          : std::string(replace_ ? "updated" : "added") + " job " +
                                str(reply, "job") + " (version " + str(reply, "version") + ")")
              << '\n';
    return kExitOk;
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

// A job's recorded definitions (jobs added over the socket), for versions, diff, rollback.
int versions_of(const Common& c, const std::string& job, json* reply) {
  return ask(c, control::VersionsRequest{job}, reply);
}

// The definition of `version` in a versions reply; nullptr when there is none.
const json* version_in(const json& reply, int version) {
  for (const json& v : reply["versions"]) {
    if (v["version"].get<int>() == version) return &v;
  }
  return nullptr;
}

class VersionsCommand final : public SocketCommand {
 public:
  explicit VersionsCommand(std::shared_ptr<const std::string> socket)
      : SocketCommand("versions", "the recorded versions of a job added over the socket",
                      std::move(socket)) {}
  void declare(CLI::App& sub) override {
    sub.add_option("job", job_, "job name")->required();
    declare_json(sub);
  }
  int run() override {
    json r;
    if (const int rc = versions_of(c_, job_, &r); rc != kExitOk) return rc;
    if (c_.json) {
      std::cout << r.dump() << '\n';
      return kExitOk;
    }
    Table t({"VERSION", "", "DEFINITION"});
    for (const json& v : r["versions"]) {
      const std::string text = v["definition"].get<std::string>();
      const std::size_t lines =
          static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
      t.add({v["version"].dump(), v["version"] == r["current"] ? "current" : "",
             v["removed"].get<bool>() ? "(removed)" : std::to_string(lines) + " line(s)"});
    }
    t.print(std::cout);
    return kExitOk;
  }

 private:
  std::string job_;
};

// The lines of `text`.
std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// A unified diff of two small texts (definitions are bounded by max_definition_size): the
// longest common subsequence of their lines, every line shown.
std::string line_diff(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  const std::size_t n = a.size(), m = b.size();
  std::vector<std::vector<int>> lcs(n + 1, std::vector<int>(m + 1, 0));
  for (std::size_t i = n; i-- > 0;) {
    for (std::size_t j = m; j-- > 0;) {
      lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  std::string out;
  std::size_t i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] == b[j]) {
      out += " " + a[i++] + "\n";
      ++j;
    } else if (i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1])) {
      out += "-" + a[i++] + "\n";
    } else {
      out += "+" + b[j++] + "\n";
    }
  }
  return out;
}

class DiffCommand final : public SocketCommand {
 public:
  explicit DiffCommand(std::shared_ptr<const std::string> socket)
      : SocketCommand("diff",
                      "what changed between two versions of a job (default: the one before the "
                      "current one, and the current one)",
                      std::move(socket)) {}
  void declare(CLI::App& sub) override {
    sub.add_option("job", job_, "job name")->required();
    sub.add_option("from", from_, "the older version");
    sub.add_option("to", to_, "the newer version (default: the current one)");
  }
  int run() override {
    json r;
    if (const int rc = versions_of(c_, job_, &r); rc != kExitOk) return rc;
    const int current = r["current"].get<int>();
    const int to = to_ != 0 ? to_ : current;
    const int from = from_ != 0 ? from_ : to - 1;
    const json* a = version_in(r, from);
    const json* b = version_in(r, to);
    if (a == nullptr || b == nullptr) {
      print_error(c_, control::kInvalidArgument,
                  "job " + job_ + " has no version " + std::to_string(a == nullptr ? from : to) +
                      " (skedctl versions " + job_ + " lists them)");
      return kExitNotFound;
    }
    const std::string diff = line_diff(lines_of((*a)["normalized"].get<std::string>()),
                                       lines_of((*b)["normalized"].get<std::string>()));
    std::cout << "--- " << job_ << " version " << from << "\n+++ " << job_ << " version " << to
              << '\n'
              << diff;
    return kExitOk;
  }

 private:
  std::string job_;
  int from_ = 0;
  int to_ = 0;
};

class RollbackCommand final : public SocketCommand {
 public:
  explicit RollbackCommand(std::shared_ptr<const std::string> socket)
      : SocketCommand("rollback",
                      "put back an earlier version of a job added over the socket, as a new "
                      "version (default: the one before the current one)",
                      std::move(socket)) {}
  void declare(CLI::App& sub) override {
    sub.add_option("job", job_, "job name")->required();
    sub.add_option("version", version_, "the version to put back");
    declare_json(sub);
  }
  int run() override {
    json r;
    if (const int rc = versions_of(c_, job_, &r); rc != kExitOk) return rc;
    const int current = r["current"].get<int>();
    const int wanted = version_ != 0 ? version_ : current - 1;
    const json* v = version_in(r, wanted);
    if (v == nullptr || (*v)["removed"].get<bool>()) {
      print_error(c_, control::kInvalidArgument,
                  "job " + job_ + " has no version " + std::to_string(wanted) +
                      " to put back (skedctl versions " + job_ + " lists them)");
      return kExitNotFound;
    }
    return simple(c_, control::AddRequest{(*v)["definition"].get<std::string>(), current != 0},
                  [&](const json& reply) {
                    return "job " + job_ + ": version " + std::to_string(wanted) +
                           " put back as version " + str(reply, "version");
                  });
  }

 private:
  std::string job_;
  int version_ = 0;
};

class ValidateCommand final : public Command {
 public:
  ValidateCommand()
      : Command("validate", "check a configuration file (skedd.toml, or a jobs file); no daemon") {}
  void declare(CLI::App& sub) override {
    sub.add_option("file", file_, "the file")->required();
    sub.add_flag("--json", json_,
                 "print {\"ok\", \"file\", \"summary\"} or {\"ok\": false, \"errors\": [...]}");
  }
  int run() override {
    auto result = validate_config_file(file_, builtin_handler_names());
    if (json_) {
      json out{{"ok", result.ok()}, {"file", file_}};
      if (result) {
        out["summary"] = result.value();
      } else {
        json errors = json::array();
        std::istringstream lines(result.error().message);
        for (std::string line; std::getline(lines, line);) errors.push_back(line);
        out["errors"] = std::move(errors);
        out["error"] = {{"code", "INVALID_ARGUMENT"}, {"message", result.error().message}};
      }
      std::cout << out.dump(-1, ' ', false, json::error_handler_t::replace) << '\n';
      return result ? kExitOk : kExitFailure;
    }
    if (!result) {
      std::cerr << result.error().message << '\n';
      return kExitFailure;
    }
    std::cout << result.value() << '\n';
    return kExitOk;
  }

 private:
  std::string file_;
  bool json_ = false;
};

}  // namespace

Commands job_commands(std::shared_ptr<const std::string> socket) {
  Commands out;
  out.push_back(std::make_unique<AddCommand>(socket, false));
  out.push_back(std::make_unique<AddCommand>(socket, true));
  out.push_back(std::make_unique<RemoveCommand>(socket));
  out.push_back(std::make_unique<ValidateCommand>());
  out.push_back(std::make_unique<VersionsCommand>(socket));
  out.push_back(std::make_unique<DiffCommand>(socket));
  out.push_back(std::make_unique<RollbackCommand>(socket));
  return out;
}

}  // namespace skedd::ctl
