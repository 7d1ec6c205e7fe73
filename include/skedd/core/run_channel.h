#pragma once

#include <string>
#include <string_view>
#include <variant>

#include "skedd/util/result.h"

namespace skedd {

/// The lines a run may write on its control channel (fd 3).
struct CheckpointLine {
  std::string text;  ///< at most kMaxCheckpoint bytes
};
struct ProgressLine {
  double percent = 0;  ///< 0..100
  std::string message;
};
struct HeartbeatLine {};
struct ExitLine {
  int code = 0;  ///< 0..255
};
using RunChannelLine = std::variant<CheckpointLine, ProgressLine, HeartbeatLine, ExitLine>;

/// The largest checkpoint skedd keeps (SKEDD_CHECKPOINT must fit in the environment).
constexpr std::size_t kMaxCheckpoint = 64 * 1024;

/// Parses one line (without its newline): `checkpoint <text>`, `progress <percent> [message]`,
/// `heartbeat`, `exit <code>`. The error says what is wrong, quoting the start of the line.
Result<RunChannelLine> parse_run_channel_line(std::string_view line);

/// Splits complete lines off the front of `buffer` (a line longer than kMaxCheckpoint plus
/// room for its keyword is cut there and reported as its own line).
class LineSplitter {
 public:
  /// Appends received bytes.
  void append(std::string_view bytes) { buffer_.append(bytes); }
  /// The next complete line, without its newline; false when none is complete.
  bool next(std::string& line);

 private:
  std::string buffer_;
  std::size_t start_ = 0;
};

}  // namespace skedd
