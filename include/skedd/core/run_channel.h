#pragma once

#include <map>
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
/// A result the run hands on (to the workflow steps after it, and to whoever reads its run).
struct OutputLine {
  std::string key;    ///< see validate_output_key()
  std::string value;  ///< the rest of the line (may be empty), no NUL byte
};
using RunChannelLine =
    std::variant<CheckpointLine, ProgressLine, HeartbeatLine, ExitLine, OutputLine>;

/// The largest checkpoint skedd keeps (SKEDD_CHECKPOINT must fit in the environment).
constexpr std::size_t kMaxCheckpoint = 64 * 1024;
/// A run's outputs in all: the bytes of their keys and values (a key given again counts once,
/// with its latest value).
constexpr std::size_t kMaxOutputBytes = 64 * 1024;

/// Checks an output key against [A-Za-z][A-Za-z0-9_]{0,63}; the message says what is wrong.
Status validate_output_key(std::string_view key);

/// Parses one line (without its newline): `checkpoint <text>`, `progress <percent> [message]`,
/// `heartbeat`, `exit <code>`, `output <key> [value]`. The error says what is wrong, quoting
/// the start of the line.
Result<RunChannelLine> parse_run_channel_line(std::string_view line);

/// What one run's outputs take of kMaxOutputBytes. The owner of the run's outputs keeps it
/// beside them (the supervisor's or the handler runner's record of a live run).
class OutputBudget {
 public:
  /// Counts `key` with a value of `value_size` bytes, in place of the key's earlier value.
  /// False, counting nothing, when that would pass kMaxOutputBytes.
  bool admit(const std::string& key, std::size_t value_size);
  /// Counts what a run had recorded before (an adopted run's outputs).
  void restore(const std::map<std::string, std::string>& outputs);
  std::size_t bytes() const { return bytes_; }

 private:
  /// Counts `key` at `size` bytes (key and value) in place of its earlier size.
  void count(const std::string& key, std::size_t size);
  std::map<std::string, std::size_t> sizes_;  ///< key -> key and value bytes
  std::size_t bytes_ = 0;
};

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
