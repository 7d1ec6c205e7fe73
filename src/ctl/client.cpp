#include "ctl/client.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>

namespace skedd::ctl {

std::string find_socket(const std::string& option) {
  if (!option.empty()) return option;
  if (const char* env = std::getenv("SKEDD_SOCKET"); env != nullptr && *env != '\0') return env;
  return "/run/skedd/skedd.sock";
}

Result<Client> Client::connect(const std::string& socket) {
  sockaddr_un addr{};
  if (socket.size() >= sizeof addr.sun_path) {
    return Error::invalid_argument("socket path too long: " + socket);
  }
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error::io(std::string("socket: ") + std::strerror(errno));
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, socket.c_str(), socket.size());
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    const int e = errno;
    ::close(fd);
    return Error::io("cannot connect to " + socket + ": " + std::strerror(e) +
                     " (is skedd running? --socket or $SKEDD_SOCKET name another socket)");
  }
  return Client(fd);
}

Client::Client(Client&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      buffer_(std::move(other.buffer_)),
      next_id_(other.next_id_) {}

Client::~Client() {
  if (fd_ >= 0) ::close(fd_);
}

Result<nlohmann::json> Client::call(const control::Request& request) {
  const int id = next_id_++;
  const std::string line = control::encode_request(id, request) + "\n";
  std::optional<Error> send_error;
  for (std::size_t sent = 0; sent < line.size();) {
    const ssize_t n = ::send(fd_, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      // The daemon may have refused the connection (too many of them) with a line and closed
      // it: that line says why, better than the broken pipe.
      send_error = Error::io(std::string("sending to skedd: ") + std::strerror(errno));
      break;
    }
    sent += static_cast<std::size_t>(n);
  }
  for (;;) {
    if (const auto nl = buffer_.find('\n'); nl != std::string::npos) {
      std::string reply = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      auto j = nlohmann::json::parse(reply, nullptr, false);
      if (j.is_discarded() || !j.is_object()) {
        return Error::io("skedd sent a reply that is not a JSON object: " + reply);
      }
      return j;
    }
    char chunk[65536];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 && send_error) return *send_error;
    if (n < 0) return Error::io(std::string("reading from skedd: ") + std::strerror(errno));
    if (n == 0) return Error::io("skedd closed the connection before replying");
    buffer_.append(chunk, static_cast<std::size_t>(n));
  }
}

}  // namespace skedd::ctl
