#include "skedd/core/run_channel.h"

#include <charconv>

namespace skedd {
namespace {

constexpr std::size_t kMaxLine = kMaxCheckpoint + 64;

std::string quote_start(std::string_view line) {
  constexpr std::size_t kShown = 40;
  std::string shown(line.substr(0, kShown));
  if (line.size() > kShown) shown += "...";
  return "\"" + shown + "\"";
}

Error bad(std::string_view line, const std::string& what) {
  return Error::invalid_argument(what + " in " + quote_start(line));
}

std::string_view rest_after(std::string_view line, std::size_t keyword_length) {
  std::string_view rest = line.substr(keyword_length);
  if (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  return rest;
}

}  // namespace

Result<RunChannelLine> parse_run_channel_line(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  const std::string_view keyword = line.substr(0, line.find(' '));
  if (keyword == "checkpoint") {
    const std::string_view text = rest_after(line, keyword.size());
    if (text.size() > kMaxCheckpoint) {
      return bad(line, "checkpoint longer than " + std::to_string(kMaxCheckpoint) + " bytes");
    }
    if (text.find('\0') != std::string_view::npos) {
      // It would be stored whole but reach the next attempt cut at the NUL (an environment
      // variable cannot hold one).
      return bad(line, "checkpoint holds a NUL byte");
    }
    return RunChannelLine{CheckpointLine{std::string(text)}};
  }
  if (keyword == "progress") {
    const std::string_view rest = rest_after(line, keyword.size());
    const std::string_view number = rest.substr(0, rest.find(' '));
    double percent = 0;
    const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), percent);
    if (number.empty() || ec != std::errc() || end != number.data() + number.size() ||
        !(percent >= 0 && percent <= 100)) {
      return bad(line, "progress wants a percentage from 0 to 100");
    }
    const std::string_view message =
        number.size() < rest.size() ? rest.substr(number.size() + 1) : std::string_view();
    return RunChannelLine{ProgressLine{percent, std::string(message)}};
  }
  if (keyword == "heartbeat" && line.size() == keyword.size()) {
    return RunChannelLine{HeartbeatLine{}};
  }
  if (keyword == "exit") {
    const std::string_view number = rest_after(line, keyword.size());
    int code = -1;
    const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), code);
    if (number.empty() || ec != std::errc() || end != number.data() + number.size() || code < 0 ||
        code > 255) {
      return bad(line, "exit wants a code from 0 to 255");
    }
    return RunChannelLine{ExitLine{code}};
  }
  if (keyword == "output") {
    const std::string_view rest = rest_after(line, keyword.size());
    const std::string_view key = rest.substr(0, rest.find(' '));
    if (auto valid = validate_output_key(key); !valid) {
      return bad(line, "output: " + valid.error().message);
    }
    const std::string_view value =
        key.size() < rest.size() ? rest.substr(key.size() + 1) : std::string_view();
    if (value.find('\0') != std::string_view::npos) {
      // Handed on as an environment variable, which cannot hold one.
      return bad(line, "output value holds a NUL byte");
    }
    return RunChannelLine{OutputLine{std::string(key), std::string(value)}};
  }
  return bad(line, "unknown message (expected checkpoint, progress, heartbeat, exit or output)");
}

Status validate_output_key(std::string_view key) {
  const auto invalid = [&](const std::string& why) {
    return Error::invalid_argument("invalid output key \"" + std::string(key.substr(0, 80)) +
                                   "\": " + why);
  };
  if (key.empty()) return invalid("empty");
  if (key.size() > 64) return invalid("longer than 64 characters");
  const auto letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  if (!letter(key[0])) return invalid("must start with a letter");
  for (std::size_t i = 1; i < key.size(); ++i) {
    const char c = key[i];
    if (!letter(c) && !(c >= '0' && c <= '9') && c != '_') {
      return invalid("character " + std::to_string(i + 1) + " is not a letter, digit or '_'");
    }
  }
  return Ok{};
}

void OutputBudget::count(const std::string& key, std::size_t size) {
  std::size_t& kept = sizes_[key];  // 0 for a new key
  bytes_ = bytes_ - kept + size;
  kept = size;
}

bool OutputBudget::admit(const std::string& key, std::size_t value_size) {
  const auto it = sizes_.find(key);
  const std::size_t earlier = it == sizes_.end() ? 0 : it->second;
  if (bytes_ - earlier + key.size() + value_size > kMaxOutputBytes) return false;
  count(key, key.size() + value_size);
  return true;
}

void OutputBudget::restore(const std::map<std::string, std::string>& outputs) {
  for (const auto& [key, value] : outputs) count(key, key.size() + value.size());
}

bool LineSplitter::next(std::string& line) {
  const std::size_t newline = buffer_.find('\n', start_);
  if (newline == std::string::npos) {
    if (buffer_.size() - start_ < kMaxLine) {
      // Compact once the consumed prefix dominates, so the buffer does not grow forever.
      if (start_ > 4096 && start_ * 2 > buffer_.size()) {
        buffer_.erase(0, start_);
        start_ = 0;
      }
      return false;
    }
    line.assign(buffer_, start_, kMaxLine);
    start_ += kMaxLine;
    return true;
  }
  line.assign(buffer_, start_, newline - start_);
  start_ = newline + 1;
  if (start_ == buffer_.size()) {
    buffer_.clear();
    start_ = 0;
  }
  return true;
}

}  // namespace skedd
