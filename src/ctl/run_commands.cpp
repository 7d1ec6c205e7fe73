// skedctl's subcommands for use inside a job: checkpoint and progress, written to the run's
// control channel (SKEDD_CONTROL_FD).
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "ctl/command.h"
#include "ctl/table.h"
#include "skedd/core/run_channel.h"

namespace skedd::ctl {
namespace {

// Writes one line to the run's control channel (SKEDD_CONTROL_FD), for use inside a job.
int write_control(const std::string& line) {
  const char* fd_text = std::getenv("SKEDD_CONTROL_FD");
  if (fd_text == nullptr || *fd_text == '\0') {
    std::cerr << "skedctl: SKEDD_CONTROL_FD is not set: run this inside a job run by skedd\n";
    return kExitFailure;
  }
  const int fd = std::atoi(fd_text);
  const std::string out = line + "\n";
  // The channel is non-blocking (a run must never hang on it while skedd is stopped): when
  // it is full, skedd is busy or not reading; tried again for up to a second. A line longer
  // than the pipe's atomic size may go in parts: the rest follows.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  std::size_t written = 0;
  while (written < out.size()) {
    const ssize_t n = ::write(fd, out.data() + written, out.size() - written);
    if (n > 0) {
      written += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    if (n < 0 && errno == EAGAIN) {
      std::cerr << "skedctl: writing to SKEDD_CONTROL_FD: still full after a second (is skedd "
                   "reading?)\n";
    } else {
      std::perror("skedctl: writing to SKEDD_CONTROL_FD");
    }
    return kExitFailure;
  }
  return kExitOk;
}

class CheckpointCommand final : public Command {
 public:
  CheckpointCommand()
      : Command("checkpoint", "inside a job: record a checkpoint (durable before skedd reads on)") {
  }
  void declare(CLI::App& sub) override {
    sub.add_option("text", text_, "the checkpoint, one line")->required();
  }
  int run() override {
    if (text_.find('\n') != std::string::npos) {
      std::cerr << "skedctl: a checkpoint is one line\n";
      return kExitUsage;
    }
    return write_control("checkpoint " + text_);
  }

 private:
  std::string text_;
};

class OutputCommand final : public Command {
 public:
  OutputCommand()
      : Command("output",
                "inside a job: record a result for the steps after it (durable before skedd "
                "reads on)") {}
  void declare(CLI::App& sub) override {
    sub.add_option("key", key_, "[A-Za-z][A-Za-z0-9_]{0,63}")->required();
    sub.add_option("value", words_, "the value, one line (words joined by a space)");
  }
  int run() override {
    if (auto valid = validate_output_key(key_); !valid) {
      std::cerr << "skedctl: " << valid.error().message << '\n';
      return kExitUsage;
    }
    std::string line = "output " + key_;
    for (const std::string& w : words_) line += " " + w;
    if (line.find('\n') != std::string::npos) {
      std::cerr << "skedctl: an output value is one line\n";
      return kExitUsage;
    }
    return write_control(line);
  }

 private:
  std::string key_;
  std::vector<std::string> words_;
};

class ProgressCommand final : public Command {
 public:
  ProgressCommand()
      : Command("progress", "inside a job: report progress, a percent and an optional message") {}
  void declare(CLI::App& sub) override {
    sub.add_option("percent", percent_, "0 to 100")->required()->check(CLI::Range(0.0, 100.0));
    sub.add_option("message", words_, "what it is doing");
  }
  int run() override {
    std::string line = "progress " + format_number(percent_);
    for (const std::string& w : words_) line += " " + w;
    return write_control(line);
  }

 private:
  double percent_ = 0;
  std::vector<std::string> words_;
};

}  // namespace

Commands run_channel_commands() {
  Commands out;
  out.push_back(std::make_unique<CheckpointCommand>());
  out.push_back(std::make_unique<ProgressCommand>());
  out.push_back(std::make_unique<OutputCommand>());
  return out;
}

}  // namespace skedd::ctl
