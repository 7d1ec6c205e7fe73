#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace skedd::ctl {

/// Exit codes of skedctl (documented in skedctl(1)).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitNotFound = 3;  ///< no such job or run
inline constexpr int kExitDenied = 4;    ///< PERMISSION_DENIED
inline constexpr int kExitSelf = 125;    ///< wait / trigger --wait: skedctl itself failed

/// One skedctl subcommand (ninja's kTools[]): `setup` declares its options on `sub` and
/// returns the function that runs it once parsing succeeded.
struct Command {
  const char* name;
  const char* help;
  std::function<std::function<int()>(CLI::App& sub)> setup;
};

Command next_command();
/// The subcommands that talk to skedd (and checkpoint/progress, for jobs); `socket` is the
/// global --socket option, read when they run.
std::vector<Command> daemon_commands(std::shared_ptr<const std::string> socket);
Command import_crontab_command();
/// crontab(1) through skedd; `socket` as for daemon_commands().
Command crontab_command(std::shared_ptr<const std::string> socket);

}  // namespace skedd::ctl
