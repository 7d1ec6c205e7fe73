#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace skedd::ctl {

/// Exit codes of skedctl (documented in skedctl(1)).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

/// One skedctl subcommand (ninja's kTools[]): `setup` declares its options on `sub` and
/// returns the function that runs it once parsing succeeded.
struct Command {
  const char* name;
  const char* help;
  std::function<std::function<int()>(CLI::App& sub)> setup;
};

Command next_command();
Command import_crontab_command();

}  // namespace skedd::ctl
