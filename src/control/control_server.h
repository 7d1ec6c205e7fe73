// The control socket: accepts clients on a Unix stream socket, reads one request per line,
// asks the handler and writes its reply. Everything runs on the io_context's thread; no
// client can stall the loop or the other clients (bounded lines, connections and idle time).
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <variant>

#include <nlohmann/json.hpp>

#include "skedd/control/protocol.h"
#include "skedd/time/types.h"
#include "skedd/util/result.h"
#include "util/asio.h"

namespace skedd {

/// Who is on the other end of a connection (SO_PEERCRED).
struct Peer {
  uid_t uid = 0;
  gid_t gid = 0;
  pid_t pid = 0;
};

struct ControlLimits {
  /// More are accepted, told so and closed. Users other than root (and the daemon's own user)
  /// together get all but the last kRootConnections of them, and each at most
  /// max_connections_per_user: no user can lock root out.
  std::size_t max_connections = 256;
  std::size_t max_connections_per_user = 32;
  Duration idle_timeout = std::chrono::seconds(60);
};

/// The reply body (fields merged into {"id", "ok": true}) or a failure.
using ControlReply = std::variant<nlohmann::json, control::Failure>;
using ControlHandler = std::function<ControlReply(const control::Request&, const Peer&)>;
/// Holds a request's reply back until `send` is called (the daemon: until what the request
/// wrote is committed). The reply is written when `send` runs, on the loop's thread.
using ReplyGate = std::function<void(const control::Request&, std::function<void()> send)>;

class ControlServer {
 public:
  /// Connections only root (and the daemon's own user) may use.
  static constexpr std::size_t kRootConnections = 16;
  /// `gate` (optional) holds replies back; without one each is written at once.
  ControlServer(asio::io_context& io, ControlHandler handler, ControlLimits limits = {},
                ReplyGate gate = {});
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  /// Listens on `path`, mode 0666 (authorization is by the peer's uid alone), creating its
  /// directory (0755) if missing; a directory owned by another user than skedd's or root, or
  /// writable by group or others, is refused (kPermissionDenied). A stale socket file is replaced;
  /// one another process still listens on is an error, as is a path that is not a socket.
  Status listen(const std::string& path);
  /// Listens again when the socket file is gone or is not the one listen() bound (its
  /// directory was removed, say): true when it did, false when nothing had to be done, an
  /// error when it cannot listen again (tried again on the next call). Connections stay.
  Result<bool> listen_again_if_gone();
  /// Stops accepting, closes every connection and removes the socket file.
  void close();
  std::size_t connections() const;

 private:
  class Session;
  struct State;
  void accept();
  /// Why a new connection of `uid` is refused; empty when it is not.
  std::string refusal(const State& state, uid_t uid) const;

  asio::io_context& io_;
  ControlHandler handler_;
  ControlLimits limits_;
  ReplyGate gate_;
  std::string path_;
  // The socket file listen() bound, to tell it from one put in its place.
  dev_t bound_dev_ = 0;
  ino_t bound_ino_ = 0;
  std::shared_ptr<State> state_;
};

}  // namespace skedd
