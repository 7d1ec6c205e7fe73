#include "http/http_server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <set>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

namespace skedd::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using unix_socket = asio::local::stream_protocol;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::optional<std::string> base64_decode(std::string_view in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  unsigned bits = 0;
  int nbits = 0;
  for (const char c : in) {
    if (c == '=') break;
    const int v = value(c);
    if (v < 0) return std::nullopt;
    bits = (bits << 6) | static_cast<unsigned>(v);
    nbits += 6;
    if (nbits >= 8) {
      nbits -= 8;
      out += static_cast<char>((bits >> nbits) & 0xff);
    }
  }
  return out;
}

// The host of a Host or Origin authority, lower-cased, without the port.
std::string host_of(std::string authority) {
  authority = lower(std::move(authority));
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    return close == std::string::npos ? authority : authority.substr(0, close + 1);
  }
  const std::size_t colon = authority.rfind(':');
  return colon == std::string::npos ? authority : authority.substr(0, colon);
}

}  // namespace

// What stop() closes.
class SessionBase {
 public:
  virtual ~SessionBase() = default;
  virtual void close() = 0;
};

struct HttpServer::State : std::enable_shared_from_this<HttpServer::State> {
  State(asio::io_context& l, LoopHandlers h, HttpConfig c, TokenTable t)
      : loop(l), handlers(std::move(h)), config(std::move(c)), tokens(std::move(t)) {}

  asio::io_context& loop;
  LoopHandlers handlers;
  asio::io_context io;  // the server's own, run by `thread`
  std::thread thread;
  // Server thread only (reconfigure() posts to it).
  HttpConfig config;
  TokenTable tokens;
  std::set<std::string> hosts;  // accepted Host values, lower-cased, without the port
  std::optional<tcp::acceptor> tcp_acceptor;
  std::optional<unix_socket::acceptor> unix_acceptor;
  std::string bound;
  std::size_t connections = 0;
  std::set<std::shared_ptr<SessionBase>> sessions;  // to close at stop()
  // Read and set on the loop thread: false once stop() began, after which nothing is posted
  // to `io` (destroyed with the server).
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);

  void set_hosts() {
    hosts = {"localhost", "127.0.0.1", "[::1]"};
    if (!config.host.empty()) {
      hosts.insert(lower(config.host.find(':') != std::string::npos ? "[" + config.host + "]"
                                                                    : config.host));
    }
    for (const std::string& h : config.allowed_hosts) hosts.insert(host_of(h));
  }

  template <typename Socket>
  class Session;
  template <typename Acceptor>
  void accept(Acceptor& acceptor);
};

template <typename Socket>
class HttpServer::State::Session
    : public SessionBase,
      public std::enable_shared_from_this<HttpServer::State::Session<Socket>> {
 public:
  Session(std::shared_ptr<State> state, Socket socket, std::optional<Peer> peer)
      : state_(std::move(state)),
        socket_(std::move(socket)),
        timer_(state_->io),
        peer_(std::move(peer)) {}

  /// `busy`: over [http] max_connections, told so and closed.
  void start(bool busy) {
    if (!busy) return read();
    keep_alive_ = false;
    write(error_response(503, "BUSY", "too many HTTP connections ([http] max_connections)"));
  }
  void close() override {
    beast::error_code ignored;
    socket_.shutdown(asio::socket_base::shutdown_both, ignored);
    socket_.close(ignored);
    timer_.cancel();
  }

 private:
  void read() {
    parser_.emplace();
    parser_->header_limit(kMaxHeaderBytes);
    parser_->body_limit(kMaxBodyBytes);
    timer_.expires_after(state_->config.idle_timeout);
    timer_.async_wait([weak = this->weak_from_this()](const beast::error_code& ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->close();
    });
    bhttp::async_read(socket_, buffer_, *parser_,
                      [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                        self->on_read(ec);
                      });
  }

  void on_read(beast::error_code ec) {
    timer_.cancel();
    if (ec == bhttp::error::end_of_stream || ec == asio::error::operation_aborted ||
        ec == asio::error::eof || ec == asio::error::connection_reset) {
      return end();
    }
    if (ec) {
      const int status = ec == bhttp::error::header_limit ? 431
                         : ec == bhttp::error::body_limit ? 413
                                                          : 400;
      keep_alive_ = false;
      return write(error_response(status, "BAD_REQUEST",
                                  "unreadable HTTP request: " + ec.message() +
                                      " (headers at most 8 KiB, a body at most 1 MiB)"));
    }
    const auto& msg = parser_->get();
    keep_alive_ = msg.keep_alive();
    HttpRequest request;
    request.method = std::string(msg.method_string());
    auto target = parse_target(std::string_view(msg.target().data(), msg.target().size()));
    if (!target) {
      return write(error_response(400, "BAD_REQUEST",
                                  "the request target is not a path with a valid query"));
    }
    request.path = std::move(target->first);
    request.query = std::move(target->second);
    request.body = msg.body();
    if (request.query.contains("token") || request.query.contains("access_token")) {
      return write(error_response(400, "BAD_REQUEST",
                                  "a token goes in the Authorization header, never in the URL"));
    }
    // DNS rebinding: a page of another site that resolves its name to 127.0.0.1 sends its
    // own name as Host.
    if (state_->unix_acceptor == std::nullopt) {
      const auto host = msg.find(bhttp::field::host);
      const std::string h =
          host == msg.end() ? "" : host_of(std::string(host->value().data(), host->value().size()));
      if (!state_->hosts.contains(h)) {
        keep_alive_ = false;
        return write(error_response(
            421, "MISDIRECTED_REQUEST",
            "Host \"" + h + "\" is not one skedd answers to ([http] allowed_hosts)"));
      }
    }
    const bool changes = request.method != "GET" && request.method != "HEAD";
    if (changes) {
      const auto origin = msg.find(bhttp::field::origin);
      if (origin != msg.end()) {
        std::string o = lower(std::string(origin->value().data(), origin->value().size()));
        const std::string scheme = "http://";
        const bool ok =
            o.rfind(scheme, 0) == 0 && state_->hosts.contains(host_of(o.substr(scheme.size())));
        if (!ok) {
          return write(error_response(
              403, "CROSS_ORIGIN",
              "a request from origin \"" + o + "\" may not change anything in skedd"));
        }
      }
      const auto site = msg.find("Sec-Fetch-Site");
      if (site != msg.end() &&
          lower(std::string(site->value().data(), site->value().size())) == "cross-site") {
        return write(error_response(403, "CROSS_ORIGIN",
                                    "a cross-site request may not change anything in skedd"));
      }
    }
    std::optional<Peer> caller = peer_;
    if (const auto auth = msg.find(bhttp::field::authorization); auth != msg.end()) {
      const std::string value(auth->value().data(), auth->value().size());
      std::optional<TokenUser> user;
      if (lower(value.substr(0, 7)) == "bearer ") {
        user = state_->tokens.find(std::string_view(value).substr(7));
      } else if (lower(value.substr(0, 6)) == "basic ") {
        if (auto decoded = base64_decode(std::string_view(value).substr(6))) {
          const std::size_t colon = decoded->find(':');
          if (colon != std::string::npos) {
            user = state_->tokens.find(std::string_view(*decoded).substr(colon + 1));
            if (user && user->user != decoded->substr(0, colon)) user.reset();
          }
        }
      }
      if (!user) {
        HttpResponse r = error_response(401, "UNAUTHENTICATED", "the token is not one skedd knows");
        r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"skedd\"");
        return write(std::move(r));
      }
      caller = Peer{user->uid, user->gid, 0};
    }
    if (request.path == "/healthz") {
      return write(HttpResponse{200, "application/json", "{\"ok\":true}\n", {}});
    }
    ask_loop(std::move(request), std::move(caller));
  }

  // Answers on the loop; /readyz answers 503 itself when the loop does not in time.
  void ask_loop(HttpRequest request, std::optional<Peer> caller) {
    const bool ready = request.path == "/readyz";
    auto answered = std::make_shared<std::atomic<bool>>(false);
    if (ready) {
      timer_.expires_after(kReadyTimeout);
      timer_.async_wait([self = this->shared_from_this(), answered](const beast::error_code& ec) {
        if (ec || answered->exchange(true)) return;
        self->write(
            error_response(503, "NOT_READY", "skedd's event loop did not answer within 2 s"));
      });
    }
    const auto posted = std::chrono::steady_clock::now();
    std::weak_ptr<Session> weak = this->shared_from_this();
    std::weak_ptr<bool> alive = state_->alive;
    asio::io_context& io = state_->io;
    const LoopHandlers& service = state_->handlers;
    asio::post(state_->loop, [=, &io, &service, request = std::move(request)]() mutable {
      const double lag =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - posted).count();
      auto reply = [weak, alive, &io, answered](HttpResponse response) {
        if (!alive.lock() || answered->exchange(true)) return;
        asio::post(io, [weak, response = std::move(response)]() mutable {
          if (auto self = weak.lock()) self->write(std::move(response));
        });
      };
      if (ready) return reply(service.readiness());
      service.handle(request, caller, lag, std::move(reply));
    });
  }

  // A response with r's status and headers, and those every response has.
  template <typename Body>
  static std::shared_ptr<bhttp::response<Body>> head_of(const HttpResponse& r) {
    auto res = std::make_shared<bhttp::response<Body>>(static_cast<bhttp::status>(r.status), 11);
    res->set(bhttp::field::server, "skedd");
    res->set(bhttp::field::content_type, r.content_type);
    res->set(bhttp::field::cache_control, "no-store");
    res->set("X-Content-Type-Options", "nosniff");
    for (const auto& [name, value] : r.headers) res->insert(name, value);  // may repeat
    return res;
  }

  void write(HttpResponse r) {
    if (!state_) return;  // ended
    timer_.cancel();
    if (r.stream) return write_stream(std::move(r));
    auto res = head_of<bhttp::string_body>(r);
    res->body() = std::move(r.body);
    res->keep_alive(keep_alive_);
    res->prepare_payload();
    bhttp::async_write(socket_, *res,
                       [self = this->shared_from_this(), res](beast::error_code ec, std::size_t) {
                         if (ec || !self->keep_alive_) return self->end();
                         self->read();
                       });
  }

  // The head, then each chunk as the producer pushes it, then the last chunk and the close.
  // Meanwhile the socket is read (and what comes discarded) to see the client go.
  void write_stream(HttpResponse r) {
    stream_ = std::move(r.stream);
    keep_alive_ = false;
    auto res = head_of<bhttp::empty_body>(r);
    res->keep_alive(false);
    res->chunked(true);
    auto serializer = std::make_shared<bhttp::response_serializer<bhttp::empty_body>>(*res);
    writing_ = true;
    bhttp::async_write_header(
        socket_, *serializer,
        [self = this->shared_from_this(), res, serializer](beast::error_code ec, std::size_t) {
          self->writing_ = false;
          if (ec) return self->end();
          self->watch_close();
          std::weak_ptr<Session> weak = self;
          std::weak_ptr<bool> alive = self->state_->alive;
          asio::io_context& io = self->state_->io;
          // Called on the producer's thread: posted here while the server runs.
          self->stream_->set_wake([weak, alive, &io] {
            if (!alive.lock()) return;
            asio::post(io, [weak] {
              if (auto s = weak.lock()) s->pump();
            });
          });
        });
  }

  void pump() {
    if (!state_ || writing_ || !stream_) return;
    bool finished = false;
    auto bytes = std::make_shared<std::string>(stream_->take(finished));
    if (!bytes->empty()) {
      writing_ = true;
      asio::async_write(
          socket_, bhttp::make_chunk(asio::buffer(*bytes)),
          [self = this->shared_from_this(), bytes](beast::error_code ec, std::size_t) {
            self->writing_ = false;
            if (ec) return self->end();
            self->pump();
          });
      return;
    }
    if (!finished) return;
    writing_ = true;
    asio::async_write(
        socket_, bhttp::make_chunk_last(),
        [self = this->shared_from_this()](beast::error_code, std::size_t) { self->end(); });
  }

  void watch_close() {
    socket_.async_read_some(asio::buffer(discard_),
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                              if (ec) return self->end();
                              self->watch_close();
                            });
  }

  void end() {
    if (!state_) return;
    if (stream_) stream_->close();
    close();
    if (state_->sessions.erase(this->shared_from_this()) > 0) --state_->connections;
    state_.reset();  // ends the cycle: the state owns the io_context this session is on
  }

  std::shared_ptr<State> state_;
  Socket socket_;
  asio::steady_timer timer_;
  std::optional<Peer> peer_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bool keep_alive_ = true;
  std::shared_ptr<ResponseStream> stream_;  // a streamed response's body
  bool writing_ = false;                    // a write of it is under way
  std::array<char, 512> discard_{};         // what a client sends while it is streamed to
};

template <typename Acceptor>
void HttpServer::State::accept(Acceptor& acceptor) {
  acceptor.async_accept([self = shared_from_this(), &acceptor](
                            beast::error_code ec, typename Acceptor::protocol_type::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
    if (!ec) {
      std::optional<Peer> peer;
      if constexpr (std::is_same_v<typename Acceptor::protocol_type, unix_socket>) {
        ucred cred{};
        socklen_t len = sizeof cred;
        if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
          peer = Peer{cred.uid, cred.gid, cred.pid};
        }
      }
      using S = Session<typename Acceptor::protocol_type::socket>;
      auto session = std::make_shared<S>(self, std::move(socket), peer);
      // One over the limit is answered 503 and closed; beyond that, closed unanswered.
      const std::size_t limit = static_cast<std::size_t>(self->config.max_connections);
      if (self->connections <= limit) {
        ++self->connections;
        self->sessions.insert(session);
        session->start(self->connections > limit);
      }
    }
    self->accept(acceptor);
  });
}

LoopHandlers LoopHandlers::of(HttpService& service) {
  return LoopHandlers{[&service] { return service.readiness(); },
                      [&service](const HttpRequest& request, const std::optional<Peer>& caller,
                                 double lag, std::function<void(HttpResponse)> done) {
                        service.handle(request, caller, lag, std::move(done));
                      }};
}

HttpServer::HttpServer(asio::io_context& loop, LoopHandlers handlers, HttpConfig config,
                       TokenTable tokens)
    : state_(std::make_shared<State>(loop, std::move(handlers), std::move(config),
                                     std::move(tokens))) {
  state_->set_hosts();
}

HttpServer::~HttpServer() {
  stop();
}

Status HttpServer::start() {
  State& s = *state_;
  beast::error_code ec;
  if (!s.config.unix_path.empty()) {
    const std::string& path = s.config.unix_path;
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
      if (!S_ISSOCK(st.st_mode)) return Error::io(path + ": exists and is not a socket");
      ::unlink(path.c_str());
    }
    s.unix_acceptor.emplace(s.io);
    s.unix_acceptor->open(unix_socket(), ec);
    if (!ec) s.unix_acceptor->bind(unix_socket::endpoint(path), ec);
    if (!ec) s.unix_acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return Error::io(path + ": " + ec.message());
    ::chmod(path.c_str(), 0666);
    s.bound = path;
    s.accept(*s.unix_acceptor);
  } else {
    const auto address =
        asio::ip::make_address(s.config.host == "localhost" ? "127.0.0.1" : s.config.host, ec);
    if (ec) return Error::invalid_argument(s.config.host + ": " + ec.message());
    const tcp::endpoint endpoint(address, static_cast<unsigned short>(s.config.port));
    s.tcp_acceptor.emplace(s.io);
    s.tcp_acceptor->open(endpoint.protocol(), ec);
    if (!ec) s.tcp_acceptor->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) s.tcp_acceptor->bind(endpoint, ec);
    if (!ec) s.tcp_acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return Error::io(s.config.listen + ": " + ec.message());
    const tcp::endpoint local = s.tcp_acceptor->local_endpoint();
    s.bound = (local.address().is_v6() ? "[" + local.address().to_string() + "]"
                                       : local.address().to_string()) +
              ":" + std::to_string(local.port());
    s.accept(*s.tcp_acceptor);
  }
  s.thread = std::thread([state = state_] {
    ::pthread_setname_np(::pthread_self(), "skedd-http");
    state->io.run();
  });
  return Ok{};
}

std::string HttpServer::address() const {
  return state_->bound;
}

void HttpServer::reconfigure(HttpConfig config, TokenTable tokens) {
  asio::post(state_->io,
             [state = state_, config = std::move(config), tokens = std::move(tokens)]() mutable {
               config.listen = state->config.listen;
               config.unix_path = state->config.unix_path;
               config.host = state->config.host;
               config.port = state->config.port;
               state->config = std::move(config);
               state->tokens = std::move(tokens);
               state->set_hosts();
             });
}

void HttpServer::stop() {
  State& s = *state_;
  if (!s.alive) return;  // stopped already
  *s.alive = false;
  s.alive.reset();
  // Everything closed, every handler ends (aborted) and the thread's run() returns.
  asio::post(s.io, [state = state_] {
    beast::error_code ignored;
    if (state->tcp_acceptor) state->tcp_acceptor->close(ignored);
    if (state->unix_acceptor) state->unix_acceptor->close(ignored);
    for (const auto& session : std::set(state->sessions)) session->close();
  });
  if (s.thread.joinable()) s.thread.join();
  s.sessions.clear();
  if (!s.config.unix_path.empty()) ::unlink(s.config.unix_path.c_str());
}

}  // namespace skedd::http
