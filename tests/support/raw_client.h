// A raw connection to a control socket, for what skedctl would never send.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include <catch2/catch.hpp>

namespace skedd::test {

/// One connection; replies wait 5 s at most.
class RawClient {
 public:
  explicit RawClient(const std::string& path) : fd_(::socket(AF_UNIX, SOCK_STREAM, 0)) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~RawClient() { ::close(fd_); }
  // Sends all of `data`; false once the daemon has closed the connection.
  bool send(const std::string& data) {
    for (std::size_t sent = 0; sent < data.size();) {
      const ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<std::size_t>(n);
    }
    return true;
  }
  // The next reply line; empty when the connection closed (or 5 s passed) first.
  std::string line() {
    for (;;) {
      if (const auto nl = in_.find('\n'); nl != std::string::npos) {
        std::string out = in_.substr(0, nl);
        in_.erase(0, nl + 1);
        return out;
      }
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return {};
      in_.append(buf, static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_;
  std::string in_;
};

}  // namespace skedd::test
