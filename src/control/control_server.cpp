#include "control/control_server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

namespace skedd {
namespace {

using boost::system::error_code;
using stream = asio::local::stream_protocol;

// Whether a process accepts connections on the socket at `path`.
bool someone_listens(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  const bool listening = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return listening;
}

}  // namespace

struct ControlServer::State {
  explicit State(asio::io_context& io) : acceptor(io), retry(io) {}
  stream::acceptor acceptor;
  asio::steady_timer retry;
  std::set<std::shared_ptr<Session>> sessions;
  std::map<uid_t, std::size_t> sessions_of;  ///< open sessions by peer uid (none: no entry)
  bool closed = false;
};

class ControlServer::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(stream::socket socket, std::weak_ptr<State> state, const ControlHandler& handler,
          const ControlLimits& limits, const ReplyGate& gate, Peer peer)
      : socket_(std::move(socket)),
        idle_(socket_.get_executor()),
        state_(std::move(state)),
        handler_(handler),
        limits_(limits),
        gate_(gate),
        peer_(peer) {}

  void start() {
    arm_idle();
    read();
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    error_code ignored;
    idle_.cancel();
    socket_.shutdown(stream::socket::shutdown_both, ignored);
    socket_.close(ignored);
    if (auto state = state_.lock()) {
      state->sessions.erase(shared_from_this());
      if (auto it = state->sessions_of.find(peer_.uid); it != state->sessions_of.end()) {
        if (--it->second == 0) state->sessions_of.erase(it);
      }
    }
  }

 private:
  void arm_idle() {
    idle_.expires_after(limits_.idle_timeout);
    idle_.async_wait([self = shared_from_this()](const error_code& ec) {
      if (!ec) self->close();  // a client that neither asks nor reads its replies
    });
  }

  void read() {
    asio::async_read_until(
        socket_, asio::dynamic_buffer(in_, control::kMaxRequestBytes + 1), '\n',
        [self = shared_from_this()](const error_code& ec, std::size_t n) { self->on_read(ec, n); });
  }

  void on_read(const error_code& ec, std::size_t n) {
    if (closed_) return;
    if (ec == asio::error::not_found) {
      // The buffer is full and holds no newline: the line is over the limit.
      write(control::encode_failure(nullptr, {control::kInvalidArgument,
                                              "request larger than 1 MiB; closing the connection"}),
            true);
      return;
    }
    if (ec) {
      close();
      return;
    }
    std::string line = in_.substr(0, n - 1);
    in_.erase(0, n);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) {
      read();
      return;
    }
    control::Decoded decoded = control::decode_request(line);
    std::string reply = answer(decoded);
    const auto* request = std::get_if<control::Request>(&decoded.request);
    if (!gate_ || request == nullptr) {
      write(std::move(reply), false);
      return;
    }
    // The next request is read only once this reply is written: one at a time, in order.
    gate_(*request, [self = shared_from_this(), reply = std::move(reply)]() mutable {
      if (!self->closed_) self->write(std::move(reply), false);
    });
  }

  std::string answer(const control::Decoded& decoded) {
    if (const auto* failure = std::get_if<control::Failure>(&decoded.request)) {
      return control::encode_failure(decoded.id, *failure);
    }
    try {
      ControlReply reply = handler_(std::get<control::Request>(decoded.request), peer_);
      if (auto* failure = std::get_if<control::Failure>(&reply)) {
        return control::encode_failure(decoded.id, *failure);
      }
      return control::encode_ok(decoded.id, std::move(std::get<nlohmann::json>(reply)));
    } catch (const std::exception& e) {
      return control::encode_failure(decoded.id, {control::kInternal, e.what()});
    }
  }

  void write(std::string reply, bool close_after) {
    out_ = std::move(reply) + "\n";
    arm_idle();
    asio::async_write(socket_, asio::buffer(out_),
                      [self = shared_from_this(), close_after](const error_code& ec, std::size_t) {
                        if (self->closed_) return;
                        if (ec || close_after) {
                          self->close();
                          return;
                        }
                        self->arm_idle();
                        self->read();
                      });
  }

  stream::socket socket_;
  asio::steady_timer idle_;
  std::weak_ptr<State> state_;
  const ControlHandler& handler_;
  const ControlLimits& limits_;
  const ReplyGate& gate_;
  Peer peer_;
  std::string in_;
  std::string out_;
  bool closed_ = false;
};

ControlServer::ControlServer(asio::io_context& io, ControlHandler handler, ControlLimits limits,
                             ReplyGate gate)
    : io_(io),
      handler_(std::move(handler)),
      limits_(limits),
      gate_(std::move(gate)),
      state_(std::make_shared<State>(io)) {}

ControlServer::~ControlServer() {
  close();
}

Status ControlServer::listen(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(path).parent_path();
  std::error_code fs_error;
  if (!dir.empty() && !fs::exists(dir, fs_error)) {
    fs::create_directories(dir, fs_error);
    if (fs_error) return Error::io("cannot create " + dir.string() + ": " + fs_error.message());
    ::chmod(dir.c_str(), 0755);
  }
  // The socket and the runs' control FIFOs (runs/) live here: a directory another user can
  // write to could have them replaced.
  struct stat dir_st {};
  const std::string dir_path = dir.empty() ? "." : dir.string();
  if (::stat(dir_path.c_str(), &dir_st) != 0) return Error::io("cannot stat " + dir_path);
  if (dir_st.st_uid != ::geteuid() && dir_st.st_uid != 0) {
    return Error::permission_denied("socket directory " + dir_path + " is owned by uid " +
                                    std::to_string(dir_st.st_uid) + ", not by skedd's");
  }
  if ((dir_st.st_mode & 022) != 0) {
    return Error::permission_denied("socket directory " + dir_path +
                                    " is writable by group or others");
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return Error::io(path + " exists and is not a socket");
    if (someone_listens(path)) {
      return Error::io("another process listens on " + path + " (another skedd?)");
    }
    ::unlink(path.c_str());  // left by a skedd that did not exit cleanly
  }
  error_code ec;
  state_->acceptor.open(stream(), ec);
  if (!ec) state_->acceptor.bind(stream::endpoint(path), ec);
  if (!ec) state_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Error::io("cannot listen on " + path + ": " + ec.message());
  // Anyone may connect; every request is authorized by the peer's uid.
  ::chmod(path.c_str(), 0666);
  path_ = path;
  if (::lstat(path.c_str(), &st) == 0) {
    bound_dev_ = st.st_dev;
    bound_ino_ = st.st_ino;
  }
  accept();
  return Ok{};
}

Result<bool> ControlServer::listen_again_if_gone() {
  if (path_.empty() || state_->closed) return false;
  struct stat st {};
  if (::lstat(path_.c_str(), &st) == 0 && st.st_dev == bound_dev_ && st.st_ino == bound_ino_) {
    return false;
  }
  error_code ignored;
  state_->acceptor.close(ignored);  // its pending accept ends with operation_aborted
  state_->retry.cancel();
  const std::string path = path_;
  if (Status listening = listen(path); !listening) return listening.error();
  return true;
}

std::string ControlServer::refusal(const State& state, uid_t uid) const {
  const std::size_t total = state.sessions.size();
  if (total >= limits_.max_connections) {
    return "too many connections (" + std::to_string(limits_.max_connections) + ")";
  }
  // Root (and the daemon's own user) is answered whatever other users hold.
  if (uid == 0 || uid == ::geteuid()) return {};
  if (total + kRootConnections >= limits_.max_connections) {
    return "too many connections of users other than root (" +
           std::to_string(limits_.max_connections - kRootConnections) + ")";
  }
  const auto it = state.sessions_of.find(uid);
  if (it != state.sessions_of.end() && it->second >= limits_.max_connections_per_user) {
    return "too many connections of uid " + std::to_string(uid) + " (" +
           std::to_string(limits_.max_connections_per_user) + ")";
  }
  return {};
}

void ControlServer::accept() {
  std::weak_ptr<State> weak = state_;
  state_->acceptor.async_accept([this, weak](const error_code& ec, stream::socket socket) {
    const auto state = weak.lock();
    if (!state || state->closed || ec == asio::error::operation_aborted) return;
    if (ec) {
      // Out of descriptors, say: try again shortly rather than spin.
      state->retry.expires_after(std::chrono::milliseconds(100));
      state->retry.async_wait([this, weak](const error_code& e) {
        if (!e && weak.lock()) accept();
      });
      return;
    }
    {
      ucred cred{};
      socklen_t len = sizeof cred;
      const bool known =
          ::getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0;
      if (!known) {
        error_code ignored;
        socket.close(ignored);
      } else if (const std::string why = refusal(*state, cred.uid); !why.empty()) {
        // Told why, without waiting for a client that may not read: the socket buffer
        // takes one line.
        socket.non_blocking(true);
        const std::string refusal =
            control::encode_failure(nullptr, {control::kConflict, why + "; try again"}) + "\n";
        error_code ignored;
        socket.write_some(asio::buffer(refusal), ignored);
        socket.close(ignored);
      } else {
        auto session = std::make_shared<Session>(std::move(socket), weak, handler_, limits_, gate_,
                                                 Peer{cred.uid, cred.gid, cred.pid});
        state->sessions.insert(session);
        ++state->sessions_of[cred.uid];
        session->start();
      }
    }
    accept();
  });
}

void ControlServer::close() {
  if (state_->closed) return;
  state_->closed = true;
  error_code ignored;
  state_->acceptor.close(ignored);
  state_->retry.cancel();
  // Session::close() erases itself from the set.
  const auto sessions = state_->sessions;
  for (const auto& session : sessions) session->close();
  if (!path_.empty()) ::unlink(path_.c_str());
}

std::size_t ControlServer::connections() const {
  return state_->sessions.size();
}

}  // namespace skedd
