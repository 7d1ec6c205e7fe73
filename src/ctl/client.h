// skedctl's side of the control protocol: finds the socket, sends one request, reads its reply.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "skedd/control/protocol.h"
#include "skedd/util/result.h"

namespace skedd::ctl {

/// The socket: `option` when given, else $SKEDD_SOCKET, else /run/skedd/skedd.sock.
std::string find_socket(const std::string& option);

/// A connection to skedd for one or more requests, closed when destroyed.
class Client {
 public:
  /// Connects; an error names the socket and says what to check.
  static Result<Client> connect(const std::string& socket);
  Client(Client&& other) noexcept;
  Client& operator=(Client&&) = delete;
  Client(const Client&) = delete;
  ~Client();

  /// Sends `request` and returns the reply object ({"ok": true, ...} or {"ok": false,
  /// "error": ...}); an error when the connection failed or the reply is not JSON.
  Result<nlohmann::json> call(const control::Request& request);

 private:
  explicit Client(int fd) : fd_(fd) {}
  int fd_;
  std::string buffer_;
  int next_id_ = 1;
};

}  // namespace skedd::ctl
