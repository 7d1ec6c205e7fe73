// The HTTP listener ([http] listen): Boost.Beast on a thread of its own, so that a stuck
// event loop is seen (/readyz answers 503) rather than hanging every client. It parses and
// bounds each request (header and body sizes, connections, idle time), checks the Host (DNS
// rebinding) and, for requests that change something, the Origin, and finds who is calling
// (a bearer token, HTTP Basic with the token as password, or SO_PEERCRED on a Unix socket);
// then the request is answered on the event loop by HttpService.
#pragma once

#include <memory>
#include <string>

#include "http/http_service.h"
#include "http/tokens.h"
#include "skedd/util/result.h"
#include "util/asio.h"

namespace skedd::http {

/// Bounds of one request.
constexpr std::size_t kMaxHeaderBytes = 8 * 1024;
constexpr std::size_t kMaxBodyBytes = 1024 * 1024;
/// How long /readyz waits for the event loop before it answers 503.
constexpr std::chrono::seconds kReadyTimeout{2};

/// What answers on the event loop (HttpService's, or a test's).
struct LoopHandlers {
  std::function<HttpResponse()> readiness;
  std::function<void(const HttpRequest&, const std::optional<Peer>&, double loop_lag,
                     std::function<void(HttpResponse)> done)>
      handle;
  /// HttpService::readiness() and handle(); `service` must outlive the server.
  static LoopHandlers of(HttpService& service);
};

class HttpServer {
 public:
  /// The handlers are called on `loop`'s thread.
  HttpServer(asio::io_context& loop, LoopHandlers handlers, HttpConfig config, TokenTable tokens);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Binds [http] listen and starts serving on the server's thread. A Unix socket is made
  /// mode 0666 (callers are told apart by SO_PEERCRED) in a directory that must exist.
  Status start();
  /// What it listens on: "127.0.0.1:9470" (the port bound, when 0 was asked) or the path.
  std::string address() const;
  /// A reload's tokens and settings (listen is kept: a new address needs a restart).
  void reconfigure(HttpConfig config, TokenTable tokens);
  /// Closes the listener and every connection and joins the thread. Loop thread.
  void stop();

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace skedd::http
