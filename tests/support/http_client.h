// A blocking HTTP/1.1 client for the end-to-end tests of skedd's HTTP API: one request per
// connection (Connection: close), over TCP to 127.0.0.1 or over a Unix socket.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace skedd::test {

struct HttpReply {
  int status = 0;                              ///< 0: no reply
  std::map<std::string, std::string> headers;  ///< names lower-cased
  std::string body;
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
};

/// A connected socket to `address` ("127.0.0.1:PORT" or a Unix socket path), or -1.
inline int http_connect(const std::string& address) {
  int fd = -1;
  if (!address.empty() && address.front() == '/') {
    fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, address.c_str(), sizeof addr.sun_path - 1);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd);
      return -1;
    }
  } else {
    const std::size_t colon = address.rfind(':');
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(std::stoi(address.substr(colon + 1))));
    ::inet_pton(AF_INET, address.substr(0, colon).c_str(), &addr.sin_addr);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd);
      return -1;
    }
  }
  return fd;
}

/// Decodes what has come of a chunked body: appends the chunks complete in `raw` (from
/// `at` on) to `out` and advances `at`; true once the last chunk has come.
inline bool dechunk(const std::string& raw, std::size_t& at, std::string& out) {
  for (;;) {
    const std::size_t eol = raw.find("\r\n", at);
    if (eol == std::string::npos) return false;
    const std::size_t size = std::stoul(raw.substr(at, eol - at), nullptr, 16);
    if (size == 0) return true;
    if (raw.size() < eol + 2 + size + 2) return false;
    out.append(raw, eol + 2, size);
    at = eol + 2 + size + 2;
  }
}

/// The head of a reply (status, headers) from `in`; its end, or npos.
inline std::size_t parse_head(const std::string& in, HttpReply& reply) {
  const std::size_t head_end = in.find("\r\n\r\n");
  if (in.rfind("HTTP/1.1 ", 0) != 0 || head_end == std::string::npos) return std::string::npos;
  reply.status = std::stoi(in.substr(9, 3));
  std::size_t at = in.find("\r\n") + 2;
  while (at < head_end) {
    const std::size_t eol = in.find("\r\n", at);
    const std::string line = in.substr(at, eol - at);
    const std::size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      reply.headers.emplace(name, line.substr(line.find_first_not_of(' ', colon + 1)));  // first
    }
    at = eol + 2;
  }
  return head_end + 4;
}

inline std::string request_text(const std::string& address, const std::string& method,
                                const std::string& target, const std::vector<std::string>& headers,
                                const std::string& body, const std::string& host) {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: " +
                    (host.empty() ? (address.front() == '/' ? "localhost" : address) : host) +
                    "\r\nConnection: close\r\n";
  for (const std::string& h : headers) req += h + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT") {
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  return req + "\r\n" + body;
}

inline void send_all(int fd, const std::string& req) {
  for (std::size_t sent = 0; sent < req.size();) {
    const ssize_t n = ::send(fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
}

/// `address`: "127.0.0.1:PORT" or a Unix socket path. `headers`: "Name: value" lines. A
/// chunked body is decoded.
inline HttpReply http_request(const std::string& address, const std::string& method,
                              const std::string& target,
                              const std::vector<std::string>& headers = {},
                              const std::string& body = "", const std::string& host = "") {
  const int fd = http_connect(address);
  if (fd < 0) return {};
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  send_all(fd, request_text(address, method, target, headers, body, host));
  std::string in;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    in.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  HttpReply reply;
  std::size_t at = parse_head(in, reply);
  if (at == std::string::npos) return HttpReply{};
  if (reply.headers["transfer-encoding"] == "chunked") {
    dechunk(in, at, reply.body);
  } else {
    reply.body = in.substr(at);
  }
  return reply;
}

/// A request whose response is read as it comes (events, a followed log): its head, then its
/// chunked body, for as long as the test reads.
class HttpStream {
 public:
  HttpStream(const std::string& address, const std::string& target,
             const std::vector<std::string>& headers)
      : fd_(http_connect(address)) {
    if (fd_ >= 0) send_all(fd_, request_text(address, "GET", target, headers, "", ""));
  }
  ~HttpStream() {
    if (fd_ >= 0) ::close(fd_);
  }
  HttpStream(const HttpStream&) = delete;
  HttpStream& operator=(const HttpStream&) = delete;

  /// Reads until `done(body so far)`, the server ends the response, or `timeout` passes;
  /// whether `done` said so.
  bool read_until(const std::function<bool(const std::string&)>& done,
                  std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (head_ != std::string::npos && done(reply_.body)) return true;
      if (ended_ || fd_ < 0) return false;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        ended_ = true;
        continue;
      }
      raw_.append(buf, static_cast<std::size_t>(n));
      if (head_ == std::string::npos) {
        head_ = parse_head(raw_, reply_);
        at_ = head_;
      }
      if (head_ != std::string::npos && dechunk(raw_, at_, reply_.body)) last_chunk_ = true;
    }
  }
  /// The server ended the response (its last chunk, or the connection closed).
  bool ended() const { return last_chunk_ || ended_; }
  const HttpReply& reply() const { return reply_; }

 private:
  int fd_;
  std::string raw_;
  std::size_t head_ = std::string::npos;
  std::size_t at_ = 0;
  HttpReply reply_;
  bool ended_ = false;
  bool last_chunk_ = false;
};

}  // namespace skedd::test
