// The HTTP server's own rules, with handlers of the test's on an event loop of the test's:
// each request bound (headers, body, connections, idle time), the Host allowlist, who a token
// says is calling, and /readyz when the loop does not answer.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <catch2/catch.hpp>

#include "http/http_server.h"
#include "support/http_client.h"

namespace {

using skedd::http::HttpRequest;
using skedd::http::HttpResponse;
using skedd::test::http_request;

skedd::HttpConfig loopback(int max_connections = 64,
                           std::chrono::milliseconds idle = std::chrono::seconds(30)) {
  skedd::HttpConfig c;
  c.listen = "127.0.0.1:0";
  c.host = "127.0.0.1";
  c.port = 0;
  c.max_connections = max_connections;
  c.idle_timeout = idle;
  return c;
}

// Answers every request with who called (the uid, or "nobody") and the body's size.
skedd::http::LoopHandlers echo() {
  return {[] {
            return HttpResponse{200, "application/json", "{\"ready\":true}", {}};
          },
          [](const HttpRequest& r, const std::optional<skedd::Peer>& caller, double,
             std::function<void(HttpResponse)> done) {
            done(HttpResponse{200,
                              "text/plain",
                              (caller ? std::to_string(caller->uid) : std::string("nobody")) + " " +
                                  r.method + " " + r.path + " " + std::to_string(r.body.size()),
                              {}});
          }};
}

// An event loop on a thread of its own for the test's length.
struct Loop {
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{io.get_executor()};
  std::thread thread{[this] { io.run(); }};
  ~Loop() {
    work.reset();
    io.stop();
    thread.join();
  }
};

// A connection that sends nothing; whether the server has closed it after `wait`.
bool closed_after(const std::string& address, std::chrono::milliseconds wait) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port =
      htons(static_cast<std::uint16_t>(std::stoi(address.substr(address.rfind(':') + 1))));
  ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  timeval tv{0, static_cast<suseconds_t>(wait.count() * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char c;
  const ssize_t n = ::recv(fd, &c, 1, 0);
  ::close(fd);
  return n == 0;
}

}  // namespace

TEST_CASE("the HTTP server bounds each request: headers, body, connections and idle time",
          "[http]") {
  Loop loop;
  skedd::http::HttpServer server(loop.io, echo(), loopback(2, std::chrono::milliseconds(300)), {});
  REQUIRE(server.start().ok());
  const std::string a = server.address();
  CHECK(http_request(a, "GET", "/x").body == "nobody GET /x 0");
  CHECK(http_request(a, "POST", "/x", {}, std::string(1000, 'b')).body == "nobody POST /x 1000");
  const auto big_header = http_request(a, "GET", "/x", {"X-Big: " + std::string(9000, 'h')});
  CHECK(big_header.status == 431);
  const auto big_body = http_request(a, "POST", "/x", {}, std::string(1024 * 1024 + 1, 'b'));
  CHECK(big_body.status == 413);
  // An idle connection is closed after idle_timeout (300 ms here), not kept.
  CHECK(closed_after(a, std::chrono::milliseconds(2000)));
  // Two connections held open: a third is told 503 and closed.
  {
    const int fds[2] = {::socket(AF_INET, SOCK_STREAM, 0), ::socket(AF_INET, SOCK_STREAM, 0)};
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(std::stoi(a.substr(a.rfind(':') + 1))));
    ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    for (const int fd : fds)
      REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // accepted
    const auto busy = http_request(a, "GET", "/x");
    CHECK(busy.status == 503);
    CHECK(busy.json()["error"]["code"] == "BUSY");
    for (const int fd : fds) ::close(fd);
  }
  server.stop();
}

TEST_CASE("the HTTP server checks the Host, and finds the caller by token", "[http]") {
  Loop loop;
  skedd::http::TokenTable tokens;
  tokens.add("tok-0123456789abcdef", {"alice", 1234, 1234});
  skedd::HttpConfig config = loopback();
  config.allowed_hosts = {"skedd.example:9470"};
  skedd::http::HttpServer server(loop.io, echo(), config, tokens);
  REQUIRE(server.start().ok());
  const std::string a = server.address();
  CHECK(http_request(a, "GET", "/x", {"Authorization: Bearer tok-0123456789abcdef"}).body ==
        "1234 GET /x 0");
  CHECK(http_request(a, "GET", "/x", {"Authorization: bearer tok-0123456789abcdef"}).body ==
        "1234 GET /x 0");  // the scheme is case-insensitive
  CHECK(http_request(a, "GET", "/x", {"Authorization: Bearer tok-0123456789abcdeX"}).status == 401);
  // Basic: alice's user name and token ("alice:tok-0123456789abcdef").
  CHECK(http_request(a, "GET", "/x", {"Authorization: Basic YWxpY2U6dG9rLTAxMjM0NTY3ODlhYmNkZWY="})
            .body == "1234 GET /x 0");
  CHECK(http_request(a, "GET", "/x", {}, "", "skedd.example").status == 200);  // allowlisted
  CHECK(http_request(a, "GET", "/x", {}, "", "localhost:1").status == 200);
  const auto other = http_request(a, "GET", "/x", {}, "", "attacker.example");
  CHECK(other.status == 421);
  CHECK(http_request(a, "GET", "/a%zz").status == 400);
  CHECK(http_request(a, "GET", "/healthz").body == "{\"ok\":true}\n");  // answered off the loop
  server.stop();
}

TEST_CASE("/readyz answers 503 when the event loop does not answer within 2 s", "[http]") {
  boost::asio::io_context stuck;  // never run: a loop that hangs
  skedd::http::HttpServer server(stuck, echo(), loopback(), {});
  REQUIRE(server.start().ok());
  const auto began = std::chrono::steady_clock::now();
  const auto ready = http_request(server.address(), "GET", "/readyz");
  CHECK(ready.status == 503);
  CHECK(ready.json()["error"]["message"] == "skedd's event loop did not answer within 2 s");
  CHECK(std::chrono::steady_clock::now() - began < std::chrono::seconds(5));
  CHECK(http_request(server.address(), "GET", "/healthz").status == 200);
  server.stop();
}

TEST_CASE("the HTTP server writes a streamed body as chunks, and sees its client go", "[http]") {
  Loop loop;
  auto stream = std::make_shared<skedd::http::ResponseStream>(1 << 16);
  skedd::http::LoopHandlers handlers{[] {
                                       return HttpResponse{200, "application/json", "{}", {}};
                                     },
                                     [stream](const HttpRequest&, const std::optional<skedd::Peer>&,
                                              double, std::function<void(HttpResponse)> done) {
                                       HttpResponse r;
                                       r.content_type = "text/plain";
                                       r.stream = stream;
                                       stream->push("first\n");
                                       done(std::move(r));
                                     }};
  skedd::http::HttpServer server(loop.io, handlers, loopback(), {});
  REQUIRE(server.start().ok());
  {
    skedd::test::HttpStream client(server.address(), "/s", {});
    REQUIRE(client.read_until([](const std::string& b) { return b == "first\n"; },
                              std::chrono::seconds(5)));
    CHECK(client.reply().headers.at("transfer-encoding") == "chunked");
    boost::asio::post(loop.io, [stream] { stream->push("second\n"); });
    REQUIRE(client.read_until([](const std::string& b) { return b == "first\nsecond\n"; },
                              std::chrono::seconds(5)));
    CHECK_FALSE(client.ended());
    boost::asio::post(loop.io, [stream] { stream->finish("last\n"); });
    client.read_until([](const std::string&) { return false; }, std::chrono::seconds(5));
    CHECK(client.ended());
    CHECK(client.reply().body == "first\nsecond\nlast\n");
  }
  // A client that goes away while nothing is written: the producer sees it.
  auto left = std::make_shared<skedd::http::ResponseStream>(1 << 16);
  skedd::http::HttpServer second(loop.io,
                                 {[] {
                                    return HttpResponse{200, "application/json", "{}", {}};
                                  },
                                  [left](const HttpRequest&, const std::optional<skedd::Peer>&,
                                         double, std::function<void(HttpResponse)> done) {
                                    HttpResponse r;
                                    r.stream = left;
                                    left->push("hello\n");
                                    done(std::move(r));
                                  }},
                                 loopback(), {});
  REQUIRE(second.start().ok());
  {
    skedd::test::HttpStream client(second.address(), "/s", {});
    REQUIRE(client.read_until([](const std::string& b) { return b == "hello\n"; },
                              std::chrono::seconds(5)));
    CHECK_FALSE(left->gone());
  }
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!left->gone() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(left->gone());
  second.stop();
  server.stop();
}
